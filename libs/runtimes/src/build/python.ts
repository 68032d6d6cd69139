import { existsSync, promises as fs, readdirSync } from 'fs';
import * as path from 'path';
import { buildStepEnv, firstMatchingLine, runCommand } from './command';
import { BuildFailure, BuildLogSink } from './errors';

export interface PipOptions {
  /** The interpreter that runs pip and the syntax check (HKS_PYTHON, /usr/bin/python3). */
  python?: string;
  /** A directory of wheels to install from (HKS_PIP_WHEELHOUSE). */
  wheelhouse?: string;
  /** A package index to install from instead of --no-index (HKS_PIP_INDEX_URL). */
  indexUrl?: string;
  timeoutMs?: number;
}

/** Where dependencies go inside the bundle; the runtime puts it on sys.path. */
export const PYTHON_DEPS_DIR = '.deps';
const DEFAULT_PYTHON = '/usr/bin/python3';

/** The requirement lines that name something (comments and blank lines do not). */
export function requirementLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.replace(/(^|\s)#.*$/, '').trim())
    .filter(Boolean);
}

function pythonEnv(): NodeJS.ProcessEnv {
  // No user site-packages, no bytecode files (they embed timestamps and would break bundle digests).
  return buildStepEnv({ PYTHONNOUSERSITE: '1', PYTHONDONTWRITEBYTECODE: '1', PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1' });
}

/** Installs requirements.txt into .deps/ from the configured wheelhouse or index. */
export async function pipInstall(dir: string, log: BuildLogSink, o: PipOptions = {}): Promise<boolean> {
  const reqPath = path.join(dir, 'requirements.txt');
  if (!existsSync(reqPath)) return false;
  const wanted = requirementLines(await fs.readFile(reqPath, 'utf8'));
  if (!wanted.length) {
    log('requirements.txt names no packages; nothing to install\n');
    return false;
  }
  const source: string[] = [];
  if (o.indexUrl) source.push('--index-url', o.indexUrl);
  else source.push('--no-index');
  if (o.wheelhouse) source.push('--find-links', o.wheelhouse);
  if (!o.indexUrl && !o.wheelhouse) {
    throw new BuildFailure(
      `requirements.txt lists ${wanted.join(', ')} but the builder has no Python package source: set HKS_PIP_WHEELHOUSE (a directory of wheels) or HKS_PIP_INDEX_URL`,
    );
  }
  const args = ['-m', 'pip', 'install', '--target', PYTHON_DEPS_DIR, '--no-compile', '--progress-bar', 'off', ...source, '-r', 'requirements.txt'];
  const result = await runCommand(o.python ?? DEFAULT_PYTHON, args, { cwd: dir, log, env: pythonEnv(), timeoutMs: o.timeoutMs });
  if (result.code !== 0) throw new BuildFailure(pipFailure(result.output, o));
  return true;
}

export function pipFailure(output: string, o: PipOptions = {}): string {
  const where = o.indexUrl ? o.indexUrl : o.wheelhouse ? `the wheelhouse ${o.wheelhouse}` : 'the package source';
  const missing = /No matching distribution found for (\S+)/.exec(output);
  if (missing) return `pip install failed: no distribution of "${missing[1]}" found in ${where}`;
  const line = firstMatchingLine(output, [/^ERROR: /, /Error/]);
  return `pip install failed: ${line?.replace(/^ERROR:\s*/, '') ?? 'pip exited with an error (see the build log)'}`;
}

const SKIP_DIRS = new Set([PYTHON_DEPS_DIR, '.hks', '.git', 'node_modules', '__pycache__']);

function listPython(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const item of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const relPath = rel ? `${rel}/${item.name}` : item.name;
    if (item.isDirectory()) {
      if (!SKIP_DIRS.has(item.name)) out.push(...listPython(dir, relPath));
    } else if (item.name.endsWith('.py')) {
      out.push(relPath);
    }
  }
  return out.sort();
}

/*
 * The check py_compile does, without writing .pyc files into the bundle: compile() every file and
 * print each syntax error as file:line:col with the offending line.
 */
const CHECK_SCRIPT = `
import sys
failed = False
for name in sys.argv[1:]:
    with open(name, 'rb') as f:
        source = f.read()
    try:
        compile(source, name, 'exec', dont_inherit=True)
    except SyntaxError as e:
        failed = True
        print(f"{e.filename}:{e.lineno}:{e.offset or 0}: {type(e).__name__}: {e.msg}")
        if e.text:
            print("    " + e.text.rstrip())
    except ValueError as e:
        failed = True
        print(f"{name}: ValueError: {e}")
sys.exit(1 if failed else 0)
`;

/** Fails the build on the first Python syntax error, naming the file and line. */
export async function checkPythonSyntax(dir: string, log: BuildLogSink, o: PipOptions = {}): Promise<number> {
  const files = listPython(dir);
  if (!files.length) return 0;
  const result = await runCommand(o.python ?? DEFAULT_PYTHON, ['-I', '-B', '-c', CHECK_SCRIPT, ...files], {
    cwd: dir,
    log,
    env: pythonEnv(),
    display: `${o.python ?? DEFAULT_PYTHON} (syntax check of ${files.length} file(s))`,
    timeoutMs: o.timeoutMs,
  });
  if (result.code !== 0) {
    const line = firstMatchingLine(result.output, [/^\S.*:\d+:\d+: \w*Error: /, /Error/]);
    throw new BuildFailure(line ?? `python could not compile the sources (exit ${result.code})`);
  }
  return files.length;
}
