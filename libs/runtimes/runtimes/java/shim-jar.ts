import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';

/** The shim's Java sources (the hks package), relative to the runtime's folder. */
export const JAVA_SHIM_SOURCES = path.join('shim', 'src', 'hks');
/** The compiled shim inside the runtime's folder once shipped (sandboxes, images). */
export const JAVA_SHIM_JAR = path.join('shim', 'hks-shim.jar');

/**
 * Compiles the shim (javac, then jar) into a jar named by its sources' digest, once per source version: the shim is
 * plain source in the repository, as the other runtimes' are. Returns the jar's path. Throws when the JDK is missing.
 */
export function javaShimJar(runtimeDir: string, o: { jdkBin?: string; cacheDir?: string } = {}): string {
  const srcDir = path.join(runtimeDir, JAVA_SHIM_SOURCES);
  const files = readdirSync(srcDir)
    .filter((f) => f.endsWith('.java'))
    .sort();
  const hash = createHash('sha256');
  for (const f of files)
    hash
      .update(f)
      .update('\0')
      .update(readFileSync(path.join(srcDir, f)))
      .update('\0');
  const digest = hash.digest('hex').slice(0, 16);
  const cache = o.cacheDir ?? path.join(os.tmpdir(), 'hks-java-shim');
  const jar = path.join(cache, `hks-shim-${digest}.jar`);
  if (existsSync(jar)) return jar;
  const bin = o.jdkBin ?? '/usr/bin';
  const work = path.join(cache, `build-${digest}-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(path.join(work, 'classes'), { recursive: true });
  try {
    const javac = spawnSync(
      path.join(bin, 'javac'),
      ['--release', '17', '-encoding', 'UTF-8', '-nowarn', '-d', path.join(work, 'classes'), ...files.map((f) => path.join(srcDir, f))],
      {
        encoding: 'utf8',
      },
    );
    if (javac.error) throw new Error(`the Java shim cannot be compiled: ${javac.error.message} (install default-jdk-headless)`);
    if (javac.status !== 0) throw new Error(`the Java shim does not compile: ${javac.stderr}`);
    const tmp = path.join(work, 'hks-shim.jar');
    const jarTool = spawnSync(path.join(bin, 'jar'), ['--create', '--file', tmp, '--date', '2000-01-01T00:00:02Z', '-C', path.join(work, 'classes'), 'hks'], {
      encoding: 'utf8',
    });
    if (jarTool.status !== 0) throw new Error(`the Java shim jar cannot be written: ${jarTool.stderr || jarTool.error?.message}`);
    renameSync(tmp, jar);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return jar;
}

/** Writes the shim's jar into a shipped copy of the runtime's folder (`dest` is <copy>/java). */
export function shipJavaShim(runtimeDir: string, dest: string): void {
  writeFileSync(path.join(dest, JAVA_SHIM_JAR), readFileSync(javaShimJar(runtimeDir)));
}
