import { BuildFailure, BuildLogSink } from './errors';
import { npmInstall, NpmOptions } from './node';
import { checkPythonSyntax, pipInstall, PipOptions } from './python';
import { compileTypeScriptInThread } from './typescript';
import { BuildSource, BundleManifest, checkEntrypointModule, writeManifest, writeSourceFiles } from './workspace';

export interface BuildToolOptions {
  npm?: NpmOptions;
  pip?: PipOptions;
}

export interface PreparedWorkspace {
  manifest: BundleManifest;
  /** The file that provides the entry point's module once built (e.g. handler.js for handler.ts). */
  entryFile: string;
}

/**
 * Turns a function's source into a runnable workspace, the same way for the builder and for
 * `hks function test`: injects the files, installs dependencies, compiles, checks the entry point,
 * writes .hks/manifest.json. Throws BuildFailure (one clear line) when the source cannot build.
 */
export async function prepareWorkspace(dir: string, source: BuildSource, log: BuildLogSink, o: BuildToolOptions = {}): Promise<PreparedWorkspace> {
  const step = (title: string) => log(`\n==> ${title}\n`);
  step(`template ${source.template} (${source.runtime}), entry point ${source.entrypoint}`);
  const count = await writeSourceFiles(dir, source.files);
  log(`wrote ${count} file(s)\n`);
  checkEntrypointModule(dir, source);

  switch (source.template) {
    case 'node':
    case 'javascript':
      step('installing dependencies (npm)');
      if (!(await npmInstall(dir, log, o.npm))) log('no package.json; nothing to install\n');
      break;
    case 'typescript':
      step('installing dependencies (npm)');
      if (!(await npmInstall(dir, log, o.npm))) log('no package.json; nothing to install\n');
      step('compiling TypeScript');
      await compileTypeScriptInThread(dir, log);
      break;
    case 'python':
      step('checking Python syntax');
      await checkPythonSyntax(dir, log, o.pip);
      step('installing dependencies (pip)');
      if (!(await pipInstall(dir, log, o.pip))) log('nothing to install\n');
      break;
    default:
      throw new BuildFailure(`unknown template "${String(source.template)}"; use typescript, node, javascript or python`);
  }

  // After compiling, the runtime loads JavaScript: the entry point must resolve to a module it can load.
  const entryFile = checkEntrypointModule(dir, { ...source, template: source.template === 'typescript' ? 'javascript' : source.template });
  const manifest = await writeManifest(dir, source);
  step(`ready: ${entryFile} provides ${source.entrypoint}`);
  return { manifest, entryFile };
}
