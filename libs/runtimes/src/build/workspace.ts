import { existsSync, promises as fs } from 'fs';
import * as path from 'path';
import { ENTRYPOINT_PATTERN, filePathProblem, splitEntrypoint } from '@platform/contracts';
import type { RuntimeFamily, TemplateName } from '@platform/contracts';
import { entryModule, entrypointProblem, templateOf } from '../catalog';
import { BuildFailure } from './errors';

/** The contract's runtime families and templates, under the names the build has used. */
export type BuildFamily = RuntimeFamily;
export type BuildTemplate = TemplateName;

/** What a build starts from: the template, the user's files and the entry point. */
export interface BuildSource {
  template: BuildTemplate;
  runtime: string;
  family: BuildFamily;
  /** The exact version the registry resolved `runtime` to, when it did: the build uses that interpreter. */
  runtimeVersion?: string;
  /** "<module>.<function>", or "<module>.*" to auto-detect the function. */
  entrypoint: string;
  /** Relative path -> UTF-8 text, or "base64:..." for binary content. */
  files: Record<string, string>;
}

/** `.hks/manifest.json` in every bundle: how to run what is in it. */
export interface BundleManifest {
  family: BuildFamily;
  runtime: string;
  template: BuildTemplate;
  entrypoint: string;
}

export const MANIFEST_PATH = '.hks/manifest.json';

export function decodeFileContent(content: string): Buffer {
  return content.startsWith('base64:') ? Buffer.from(content.slice('base64:'.length), 'base64') : Buffer.from(content, 'utf8');
}

/** Writes the user's files into an empty workspace directory. */
export async function writeSourceFiles(dir: string, files: Record<string, string>): Promise<number> {
  const paths = Object.keys(files).sort();
  for (const p of paths) {
    const problem = filePathProblem(p);
    if (problem) throw new BuildFailure(`invalid file path: ${problem}`);
  }
  for (const p of paths) {
    const target = path.join(dir, ...p.split('/'));
    try {
      await fs.mkdir(path.dirname(target), { recursive: true });
      await fs.writeFile(target, decodeFileContent(files[p]), { mode: 0o644 });
    } catch (err) {
      // e.g. both "lib" and "lib/util.js" were sent: one path cannot be a file and a folder.
      throw new BuildFailure(`cannot write "${p}": ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  return paths.length;
}

export function parseEntrypoint(entrypoint: string): { module: string; fn: string } {
  if (!ENTRYPOINT_PATTERN.test(entrypoint)) {
    throw new BuildFailure(`entry point "${entrypoint}" must look like <module>.<function>, e.g. "handler.handle" or "handler.*"`);
  }
  return splitEntrypoint(entrypoint);
}

/**
 * Fails the build, naming what is missing, when no file provides the entry point's module: among the user's files
 * (`built` false), or once built (TypeScript's .js).
 */
export function checkEntrypointModule(dir: string, source: Pick<BuildSource, 'template' | 'family' | 'entrypoint'>, built = false): string {
  const problem = entrypointProblem(source.family, source.entrypoint);
  if (problem) throw new BuildFailure(`entry point "${source.entrypoint}": ${problem}`);
  const module = entryModule(source.family, source.entrypoint);
  // An image function needs no file: the image is its code.
  if (module === undefined) return source.entrypoint;
  const template = templateOf(source.family, source.template);
  const candidates = built && template.builtModuleFiles ? template.builtModuleFiles(module) : template.moduleFiles(module);
  const found = candidates.find((c) => existsSync(path.join(dir, ...c.split('/'))));
  if (!found) {
    throw new BuildFailure(`entry point "${source.entrypoint}" names module "${module}", but there is no ${candidates.join(' or ')} among the files`);
  }
  return found;
}

export async function writeManifest(dir: string, source: BuildSource): Promise<BundleManifest> {
  const manifest: BundleManifest = {
    family: source.family,
    runtime: source.runtime,
    template: source.template,
    entrypoint: source.entrypoint,
  };
  await fs.mkdir(path.join(dir, '.hks'), { recursive: true });
  await fs.writeFile(path.join(dir, MANIFEST_PATH), JSON.stringify(manifest, null, 2) + '\n', { mode: 0o644 });
  return manifest;
}
