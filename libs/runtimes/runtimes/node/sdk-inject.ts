import { cpSync, mkdirSync } from 'fs';
import * as path from 'path';
import { runtimeDir } from '../../src/runtimes-dir';

/**
 * Puts the SDK in the bundle as node_modules/hexabase, so `require('hexabase')`, `import ... from 'hexabase'` (ES
 * modules too, which NODE_PATH does not reach) and TypeScript's type check all find it, in a worker as in an image.
 */
export function injectNodeSdk(dir: string): void {
  const target = path.join(dir, 'node_modules', 'hexabase');
  mkdirSync(path.dirname(target), { recursive: true });
  cpSync(path.join(runtimeDir('node'), 'sdk', 'hexabase'), target, { recursive: true, force: true });
}
