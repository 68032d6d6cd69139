import { interpreterFor, runtimeDescriptor } from '../catalog';
import type { BuildTools } from '../descriptor';
import { BuildLogSink } from './errors';
import { BuildSource, BundleManifest, checkEntrypointModule, writeManifest, writeSourceFiles } from './workspace';

export interface PreparedWorkspace {
  manifest: BundleManifest;
  /** The file that provides the entry point's module once built (e.g. handler.js for handler.ts). */
  entryFile: string;
}

/**
 * Turns a function's source into a runnable workspace, the same way for the builder and for
 * `hks function test`: injects the files, runs the runtime's build steps (its descriptor's `build`), checks the
 * entry point, writes .hks/manifest.json. Throws BuildFailure (one clear line) when the source cannot build.
 */
export async function prepareWorkspace(dir: string, source: BuildSource, log: BuildLogSink, tools: BuildTools = {}): Promise<PreparedWorkspace> {
  const step = (title: string) => log(`\n==> ${title}\n`);
  const runtime = runtimeDescriptor(source.family);
  const interpreter = interpreterFor(source.family, source.runtimeVersion, source.runtime);
  step(`template ${source.template} (${source.runtime}${interpreter ? `: ${runtime.title} ${interpreter.version}` : ''}), entry point ${source.entrypoint}`);
  const count = await writeSourceFiles(dir, source.files);
  log(`wrote ${count} file(s)\n`);
  checkEntrypointModule(dir, source);
  await runtime.build({ dir, source, log, step, tools, interpreter });
  // After building, the runtime loads what the build made: the entry point must resolve to a module it can load.
  const entryFile = checkEntrypointModule(dir, source, true);
  const manifest = await writeManifest(dir, source);
  step(`ready: ${entryFile} provides ${source.entrypoint}`);
  return { manifest, entryFile };
}
