import { existsSync, readdirSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkPythonSyntax, pipInstall, PipOptions } from '../../src/build/python';
import type { RuntimeDescriptor } from '../../src/descriptor';

/** pyenv's interpreters (PYENV_ROOT, ~/.pyenv by default), newest first: pyenv's shims on PATH only run its global one. */
function pyenvInterpreters(env: NodeJS.ProcessEnv): string[] {
  const root = env.PYENV_ROOT || path.join(env.HOME || os.homedir(), '.pyenv');
  try {
    return readdirSync(path.join(root, 'versions'))
      .sort()
      .reverse()
      .map((v) => path.join(root, 'versions', v, 'bin', 'python3'));
  } catch {
    return [];
  }
}

/** Python 3: a module of handler functions, dependencies from requirements.txt through pip into .deps/. */
export const python: RuntimeDescriptor = {
  name: 'python',
  title: 'Python',
  names: /^python(?<version>3(?:\.\d+){0,2})?$/i,
  aliases: ['python', 'python3', 'python3.11', 'python3.9'],
  versions: {
    candidates: (env) => [
      env.INVOKER_PYTHON_BIN || '/usr/bin/python3',
      '/usr/local/bin/python3',
      // The distribution's other versions (python3.12 beside python3.11); not looked up on PATH, where pyenv's shims
      // answer for every name (slowly, and only for its global version: its versions are listed below).
      ...['/usr/bin', '/usr/local/bin'].flatMap((dir) => Array.from({ length: 10 }, (_, i) => `${dir}/python3.${i + 6}`)),
      ...pyenvInterpreters(env),
    ],
    // -S: without site (its import is most of an interpreter's start).
    args: ['-I', '-S', '-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3]); print(sys.executable)'],
    parse: (out) => {
      const m = /^(\d+\.\d+\.\d+)\S*\s*\n(\/.*)$/m.exec(out.trim());
      return m ? { version: m[1], executable: m[2].trim() } : undefined;
    },
    minimum: '3.8.0',
  },
  templates: [{ name: 'python', handlerFile: 'handler.py', moduleFiles: pythonModuleFiles }],
  async build({ dir, step, log, tools, interpreter }) {
    // The interpreter the function runs on checks its syntax and installs its wheels (they are per version).
    const pip = { ...(tools.python as PipOptions | undefined), ...(interpreter ? { python: interpreter.realPath } : {}) };
    step('checking Python syntax');
    await checkPythonSyntax(dir, log, pip);
    step('installing dependencies (pip)');
    if (!(await pipInstall(dir, log, pip))) log('nothing to install\n');
  },
  // Which wheels a build could install: a new wheel in the wheelhouse must not hit the cache.
  buildInputs: (_source, tools) => {
    const pip = (tools.python ?? {}) as PipOptions;
    const wheels = pip.wheelhouse && existsSync(pip.wheelhouse) ? readdirSync(pip.wheelhouse).sort() : [];
    return { interpreter: pip.python ?? null, indexUrl: pip.indexUrl ?? null, wheelhouse: pip.wheelhouse ?? null, wheels };
  },
  worker: {
    // -I: no user site or PYTHON* variables; -B: no bytecode written (the code is read-only).
    command: (interpreter, dir, mode) => [interpreter, '-I', '-B', path.posix.join(dir, 'shim', 'main.py'), `--${mode}`],
    env: { PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' },
    ships: ['shim', 'sdk'],
  },
  image: { baseSetting: 'HKS_BASE_IMAGE_PYTHON', baseExample: 'python:3.11', commandSetting: 'HKS_IMAGE_PYTHON_COMMAND', defaultCommand: '/usr/bin/python3' },
  coldStart: { prewarm: true },
  concurrency: 'one-or-event-loop',
  sdk: { dir: 'sdk', how: 'from hexabase import get_secret (the shim puts the SDK on sys.path)' },
};

function pythonModuleFiles(module: string): string[] {
  const asPath = module.replace(/\./g, '/');
  return [...new Set([`${module}.py`, `${asPath}.py`, `${asPath}/__init__.py`])];
}
