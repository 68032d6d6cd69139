import { execFile } from 'child_process';
import * as path from 'path';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const BOUNDARY_RULE = '@typescript-eslint/no-restricted-imports';

/**
 * Lints snippets as if they were files at the given paths, with the repository's eslint.config.mjs (type-aware rules
 * off: the boundary rule reads import strings only). In a child process: ESLint loads its config with import(),
 * which Jest's module system does not run.
 */
function lint(snippets: Record<string, string>): Promise<Record<string, string[]>> {
  const script = `
    const { ESLint } = require('eslint');
    const tseslint = require('typescript-eslint');
    let input = '';
    process.stdin.on('data', (c) => (input += c)).on('end', async () => {
      const eslint = new ESLint({ cwd: process.cwd(), overrideConfig: [tseslint.configs.disableTypeChecked] });
      const out = {};
      for (const [filePath, code] of Object.entries(JSON.parse(input))) {
        const [result] = await eslint.lintText(code, { filePath });
        out[filePath] = result.messages.filter((m) => m.ruleId === ${JSON.stringify(BOUNDARY_RULE)} || m.fatal).map((m) => m.message);
      }
      process.stdout.write(JSON.stringify(out));
    });`;
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, ['-e', script], { cwd: REPO_ROOT, timeout: 60_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`linting the snippets failed: ${stderr || err.message}`)) : resolve(JSON.parse(stdout) as Record<string, string[]>),
    );
    child.stdin?.end(JSON.stringify(snippets));
  });
}

const importing = (from: string) => `import { x } from '${from}';\nexport const y = x;\n`;

describe('the module boundaries (eslint.config.mjs)', () => {
  let found: Record<string, string[]>;

  beforeAll(async () => {
    found = await lint({
      'apps/gateway/src/main.ts': importing('../../invoker/src/x'),
      'apps/gateway/src/proxy/deep.ts': importing('../../../invoker/src/x'),
      'apps/gateway/src/proxy/reexport.ts': "export { x } from '../../../function-registry/src/testing/start-registry';\n",
      'apps/gateway/src/proxy/types-only.ts': "import type { X } from '../../../builder/src/x';\nexport type Y = X;\n",
      'apps/cli/src/by-base-url.ts': importing('apps/gateway/src/configure'),
      'apps/cli/src/commands/through-the-root.ts': importing('../../../../apps/deployer/src/main'),
      'libs/messaging/src/x.ts': importing('../../../apps/gateway/src/configure'),
      'libs/testing/src/x.ts': importing('apps/invoker/src/main'),
      // Allowed: an app's own folders, even when named like another app, and the libs through their alias.
      'apps/gateway/src/proxy/own-folder.ts': importing('../invoker/invoker-client'),
      'apps/deployer/src/triggers/own-file.ts': importing('./invoker.client'),
      'apps/gateway/src/own-app.ts': importing('../../gateway/src/configure'),
      'apps/invoker/src/uses-a-lib.ts': importing('@platform/contracts'),
      'libs/messaging/src/uses-a-lib.ts': importing('../../contracts/src'),
    });
  }, 60_000);

  it("refuses an app's import of another app by a relative path, from any folder depth", () => {
    expect(found['apps/gateway/src/main.ts']).toEqual([expect.stringContaining('apps/gateway must not import apps/invoker')]);
    expect(found['apps/gateway/src/proxy/deep.ts']).toEqual([expect.stringContaining('apps/gateway must not import apps/invoker')]);
  });

  it('refuses re-exports and type-only imports of another app too', () => {
    expect(found['apps/gateway/src/proxy/reexport.ts']).toEqual([expect.stringContaining('apps/gateway must not import apps/function-registry')]);
    expect(found['apps/gateway/src/proxy/types-only.ts']).toEqual([expect.stringContaining('apps/gateway must not import apps/builder')]);
  });

  it('refuses the baseUrl form (apps/...) and a path that climbs to the repository root', () => {
    expect(found['apps/cli/src/by-base-url.ts']).toEqual([expect.stringContaining('apps/cli must not import apps/gateway')]);
    expect(found['apps/cli/src/commands/through-the-root.ts']).toEqual([expect.stringContaining('apps/cli must not import apps/deployer')]);
  });

  it('refuses a lib importing an app', () => {
    expect(found['libs/messaging/src/x.ts']).toEqual([expect.stringContaining('libs/messaging must not import an app')]);
    expect(found['libs/testing/src/x.ts']).toEqual([expect.stringContaining('libs/testing must not import an app')]);
  });

  it("allows an app's own folders (also one named like another app) and the libs", () => {
    for (const file of [
      'apps/gateway/src/proxy/own-folder.ts',
      'apps/deployer/src/triggers/own-file.ts',
      'apps/gateway/src/own-app.ts',
      'apps/invoker/src/uses-a-lib.ts',
      'libs/messaging/src/uses-a-lib.ts',
    ]) {
      expect([file, found[file]]).toEqual([file, []]);
    }
  });
});
