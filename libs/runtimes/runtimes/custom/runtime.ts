import { promises as fs } from 'fs';
import * as path from 'path';
import { BuildFailure } from '../../src/build/errors';
import type { RuntimeDescriptor } from '../../src/descriptor';
import { node } from '../node/runtime';

/** The program of a custom function's entry point: its first word ("bootstrap", "bin/server --fast" -> "bin/server"). */
export function customProgram(entrypoint: string): string {
  return entrypoint.trim().split(/\s+/)[0] ?? '';
}

const ELF = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

/**
 * Custom: any executable that serves HTTP on $PORT (OpenFaaS of-watchdog's http mode, Knative's container
 * contract). The worker is an adapter (adapter/index.js, on the platform's Node) that starts the program at LOAD and
 * forwards each invocation to it over HTTP inside the sandbox.
 */
export const custom: RuntimeDescriptor = {
  name: 'custom',
  title: 'Custom (an executable serving HTTP on $PORT)',
  names: /^(?:custom|provided)(?:\.al2023|\.al2)?$/i,
  aliases: ['custom', 'provided', 'provided.al2023'],
  // The adapter runs on Node: the version is that of the Node it runs on, the program's own is the user's.
  versions: node.versions,
  templates: [{ name: 'custom', handlerFile: 'bootstrap', moduleFiles: (program) => [program] }],
  entrypoint: {
    default: 'bootstrap',
    describe: 'the program to run and its arguments ("bootstrap", "bin/server --port-from-env")',
    problem: (e) => (customProgram(e) && !customProgram(e).startsWith('/') ? undefined : 'name a program among the files, e.g. "bootstrap"'),
    module: customProgram,
  },
  async build({ dir, source, step, log }) {
    step('checking the program');
    const program = customProgram(source.entrypoint);
    const file = path.join(dir, ...program.split('/'));
    const head = Buffer.alloc(256);
    const handle = await fs.open(file, 'r');
    try {
      await handle.read(head, 0, head.length, 0);
    } finally {
      await handle.close();
    }
    if (head.subarray(0, 2).toString('latin1') === '#!') {
      const line = head.toString('latin1').split('\n')[0].slice(2).trim();
      const interpreter = line.split(/\s+/)[0];
      const found = await fs.stat(interpreter).then(
        (s) => s.isFile(),
        () => false,
      );
      if (!found) throw new BuildFailure(`${program} starts with "#!${line}", but ${interpreter} is not installed on this platform`);
      log(`${program}: a script run by ${line}\n`);
    } else if (head.subarray(0, 4).equals(ELF)) {
      log(`${program}: an ELF executable\n`);
    } else {
      throw new BuildFailure(`${program} is neither an executable (ELF) nor a script starting with #!`);
    }
    // The files arrive without modes: the program is made executable.
    await fs.chmod(file, 0o755);
  },
  // Nothing but the files goes into the bundle.
  buildInputs: () => null,
  worker: {
    command: (interpreter, dir) => [interpreter, path.posix.join(dir, 'adapter', 'index.js')],
    ships: ['adapter'],
  },
  image: {
    baseSetting: 'HKS_BASE_IMAGE_CUSTOM',
    baseExample: 'debian:bookworm-slim',
    commandSetting: 'HKS_IMAGE_CUSTOM_COMMAND',
    defaultCommand: '',
    // Knative runs the program itself: nothing of the platform in between.
    entrypoint: (entrypoint, functionDir) => {
      const [program, ...args] = entrypoint.trim().split(/\s+/);
      return [path.posix.join(functionDir, program), ...args];
    },
  },
  coldStart: { prewarm: true },
  concurrency: 'one',
};
