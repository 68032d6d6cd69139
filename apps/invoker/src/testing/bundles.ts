import { createHash, randomUUID } from 'crypto';
import { mkdirSync, writeFileSync } from 'fs';
import * as path from 'path';
import * as ts from 'typescript';
import type { EffectiveConfig, FunctionRuntimeSpec, RuntimeFamily } from '@platform/contracts';
import { FunctionConfigDto } from '@platform/contracts';
import { deterministicTar, effectiveConfigOf, templateOf } from '@platform/runtimes';

/** A program (a shebang script, an ELF binary) is executable in the bundle, as the custom runtime's build makes it. */
function isProgram(data: Buffer): boolean {
  return data.subarray(0, 2).toString('latin1') === '#!' || data.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
}

/** Test helper: a bundle tar (files at the top, .hks/manifest.json) stored where the invoker finds it. */
export async function writeBundle(dataDir: string, family: RuntimeFamily, entrypoint: string, files: Record<string, string | Buffer>): Promise<string> {
  const all: Record<string, string | Buffer> = { ...files, '.hks/manifest.json': JSON.stringify({ family, runtime: family, template: family, entrypoint }) };
  const bytes = await deterministicTar(
    Object.entries(all).map(([name, content]) => {
      const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
      return { path: name, type: 'file' as const, data, mode: isProgram(data) ? 0o755 : 0o644 };
    }),
  );
  const hex = createHash('sha256').update(bytes).digest('hex');
  const dir = path.join(dataDir, 'artifacts', 'sha256');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${hex}.tar`), bytes);
  return `sha256:${hex}`;
}

/** TypeScript compiled the way the build does it (CommonJS), for a `export default` handler. */
export function compileTs(source: string): string {
  return ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText;
}

export interface TestFunction {
  spec: FunctionRuntimeSpec;
  deploymentId: string;
}

/** A runtime spec as the deployer sends it, for a bundle written with writeBundle. */
export function runtimeSpec(o: {
  label: string;
  family: RuntimeFamily;
  entrypoint: string;
  bundleDigest: string;
  config?: FunctionConfigDto;
  functionId?: string;
}): TestFunction {
  const config: EffectiveConfig = effectiveConfigOf(o.config ?? {}, o.family);
  return {
    deploymentId: randomUUID(),
    spec: {
      functionId: o.functionId ?? randomUUID(),
      label: o.label,
      version: 1,
      runtime: o.family,
      family: o.family,
      template: templateOf(o.family).name,
      entrypoint: o.entrypoint,
      bundleDigest: o.bundleDigest,
      image: null,
      config,
    },
  };
}
