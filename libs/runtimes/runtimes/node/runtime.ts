import { readFileSync } from 'fs';
import * as path from 'path';
import { checkJavaScriptSyntax, npmInstall, NpmOptions } from '../../src/build/node';
import { compileTypeScriptInThread } from '../../src/build/typescript';
import type { RuntimeDescriptor } from '../../src/descriptor';
import { injectNodeSdk } from './sdk-inject';

/** The compiler's version from its package.json: loading TypeScript itself (megabytes) waits for a TypeScript build. */
let tsVersion: string | undefined;
function typescriptVersion(): string {
  tsVersion ??= (JSON.parse(readFileSync(require.resolve('typescript/package.json'), 'utf8')) as { version: string }).version;
  return tsVersion;
}

const JS = ['.js', '.cjs', '.mjs'];
const TS = ['.ts', ...JS];
const filesOf = (exts: string[]) => (module: string) => [...exts.map((e) => `${module}${e}`), ...exts.map((e) => `${module}/index${e}`)];

/** Node.js: plain JavaScript or TypeScript, dependencies from package.json through npm. */
export const node: RuntimeDescriptor = {
  name: 'node',
  title: 'Node.js',
  names: /^(?:node|nodejs)(?<version>\d+(?:\.\d+){0,2})?(?:\.x)?$/i,
  aliases: ['node', 'nodejs', 'nodejs20', 'node20.x'],
  versions: {
    // The invoker's setting first, then the Node running the platform, then what PATH has.
    candidates: (env) => [env.INVOKER_NODE_BIN, process.execPath, 'node', 'nodejs'].filter((c): c is string => !!c),
    args: ['-p', 'process.versions.node + "\\n" + process.execPath'],
    parse: (out) => {
      const m = /^(\d+\.\d+\.\d+)\s*\n(\/.*)$/m.exec(out.trim());
      return m ? { version: m[1], executable: m[2].trim() } : undefined;
    },
    minimum: '18.0.0',
  },
  templates: [
    { name: 'node', handlerFile: 'handler.js', moduleFiles: filesOf(JS) },
    { name: 'javascript', handlerFile: 'handler.js', moduleFiles: filesOf(JS) },
    { name: 'typescript', handlerFile: 'handler.ts', moduleFiles: filesOf(TS), builtModuleFiles: filesOf(JS) },
  ],
  async build({ dir, source, step, log, tools, interpreter }) {
    const npm = tools.node as NpmOptions | undefined;
    if (source.template !== 'typescript') {
      // A syntax error fails the build (and the version serving stays), rather than every call of the new one.
      step('checking JavaScript syntax');
      await checkJavaScriptSyntax(dir, log, { node: interpreter?.realPath, timeoutMs: npm?.timeoutMs });
    }
    step('installing dependencies (npm)');
    if (!(await npmInstall(dir, log, npm))) log('no package.json; nothing to install\n');
    // After npm: the SDK is the platform's, whatever a package.json named "hexabase" would be.
    injectNodeSdk(dir);
    if (source.template === 'typescript') {
      step('compiling TypeScript');
      await compileTypeScriptInThread(dir, log);
    }
  },
  buildInputs: (source, tools) => ({
    compiler: source.template === 'typescript' ? `typescript ${typescriptVersion()}` : null,
    npmRegistry: (tools.node as NpmOptions | undefined)?.registry ?? null,
  }),
  worker: {
    command: (interpreter, dir, mode) => [interpreter, path.posix.join(dir, 'shim', 'index.js'), `--${mode}`],
    ships: ['shim', 'sdk'],
  },
  image: { baseSetting: 'HKS_BASE_IMAGE_NODE', baseExample: 'node:20', commandSetting: 'HKS_IMAGE_NODE_COMMAND', defaultCommand: '/usr/bin/node' },
  coldStart: { prewarm: true },
  concurrency: 'event-loop',
  sdk: { dir: 'sdk/hexabase', how: "require('hexabase') or import { getSecret } from 'hexabase' (the build puts it in node_modules/hexabase)" },
};
