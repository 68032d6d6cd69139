// Three levels, one command: unit specs beside the code, integration specs against the real
// Postgres/RabbitMQ/Redis/registry, and the end-to-end suite that starts the six services as processes.
const fs = require('fs');
const swcrc = JSON.parse(fs.readFileSync(`${__dirname}/.swcrc`, 'utf8'));
delete swcrc.$schema;

const shared = {
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: {
    '^.+\\.(t|j)sx?$': ['@swc/jest', { ...swcrc, swcrc: false }],
  },
  // @kubernetes/client-node 1.x and swagger-parser's ref parser ship ESM; let swc turn them (and their ESM deps) into CommonJS.
  transformIgnorePatterns: ['/node_modules/(?!(@kubernetes/client-node|openid-client|oauth4webapi|jose|@apidevtools/json-schema-ref-parser)/)'],
  moduleNameMapper: {
    // A lib's light entry point beside its index (@platform/runtimes/names), then the index.
    '^@platform/([a-z-]+)/([a-z-]+)$': '<rootDir>/libs/$1/src/$2',
    '^@platform/(.*)$': '<rootDir>/libs/$1/src',
  },
  modulePathIgnorePatterns: ['<rootDir>/dist/'],
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/dist/'],
};

module.exports = {
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs,tools,bench}/**/*.spec.ts'] },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['<rootDir>/{apps,libs}/**/*.int-spec.ts'],
      setupFilesAfterEnv: ['<rootDir>/tools/jest/timeout-integration.js'],
    },
    // End-to-end steps build and deploy through the whole platform (their 60 s: tools/jest/timeout-e2e.js).
    { ...shared, displayName: 'e2e', testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'], setupFilesAfterEnv: ['<rootDir>/tools/jest/timeout-e2e.js'] },
    // Offline checks of the cluster packaging (Kubernetes manifests, Dockerfile, docker-compose.yml).
    { ...shared, displayName: 'deploy', testMatch: ['<rootDir>/deploy/**/*.spec.ts'] },
  ],
};
