import { existsSync, promises as fs } from 'fs';
import * as path from 'path';
import { firstMatchingLine, runCommand } from '../../src/build/command';
import { BuildFailure, BuildLogSink } from '../../src/build/errors';

/** Builder settings of the Java runtime (tools.java). */
export interface JavaBuildOptions {
  /** The JDK's bin folder (HKS_JDK_BIN, default /usr/bin): javac and java. */
  jdkBin?: string;
  timeoutMs?: number;
}

/** Where javac puts the classes, in the bundle; lib/ holds the jars the function depends on. */
export const JAVA_CLASSES_DIR = 'classes';
export const JAVA_LIB_DIR = 'lib';
const SKIPPED = new Set([JAVA_CLASSES_DIR, JAVA_LIB_DIR, '.hks', 'target', 'build', '.git']);

async function javaSources(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(path.join(dir, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      if (!(rel === '' && SKIPPED.has(entry.name))) out.push(...(await javaSources(dir, p)));
    } else if (entry.name.endsWith('.java')) out.push(p);
  }
  return out.sort();
}

/** What javac said, as one line: the first "File.java:line: error: ...", with a hint for a package it lacks. */
export function javacFailure(output: string): string {
  const line = firstMatchingLine(output, [/\.java:\d+: error: /, /^error: /, /\S/]) ?? 'see the build log';
  const missing = /package (\S+) does not exist/.exec(line);
  return `javac failed: ${line}${missing ? ` (put the jar that provides ${missing[1]} in lib/)` : ''}`;
}

/**
 * Builds a Java function: every .java file (outside lib/, classes/, target/) compiled by javac into classes/, against
 * the shim (package hks) and the jars in lib/; then the entry point's class is checked without running any of it
 * (loaded, not initialised). Maven is not run: no Maven repository is reachable from the builder here.
 */
export async function buildJava(
  dir: string,
  entrypoint: string,
  shimJar: string,
  log: BuildLogSink,
  step: (title: string) => void,
  o: JavaBuildOptions = {},
): Promise<void> {
  const bin = o.jdkBin ?? '/usr/bin';
  if (!existsSync(path.join(bin, 'javac')))
    throw new BuildFailure(`the builder has no JDK (${path.join(bin, 'javac')} is missing): install default-jdk-headless, or set HKS_JDK_BIN`);
  for (const f of ['pom.xml', 'build.gradle', 'build.gradle.kts']) {
    if (existsSync(path.join(dir, f))) log(`${f}: not run (no Maven or Gradle repository is reachable from this builder); dependencies come from lib/*.jar\n`);
  }
  const sources = await javaSources(dir);
  if (!sources.length) throw new BuildFailure("there are no .java files among the function's files");
  const jars = existsSync(path.join(dir, JAVA_LIB_DIR)) ? (await fs.readdir(path.join(dir, JAVA_LIB_DIR))).filter((f) => f.endsWith('.jar')).sort() : [];
  log(jars.length ? `dependencies: ${jars.map((j) => `lib/${j}`).join(', ')}\n` : 'no lib/*.jar: the JDK and the SDK only\n');
  const classpath = [shimJar, ...jars.map((j) => path.join(dir, JAVA_LIB_DIR, j))].join(path.delimiter);
  await fs.rm(path.join(dir, JAVA_CLASSES_DIR), { recursive: true, force: true });
  await fs.mkdir(path.join(dir, '.hks'), { recursive: true });
  const argfile = path.join(dir, '.hks', 'javac-sources.txt');
  await fs.writeFile(argfile, sources.map((s) => `"${s}"`).join('\n') + '\n');
  step(`compiling ${sources.length} file(s) (javac)`);
  const env = { PATH: process.env.PATH, LANG: 'C.UTF-8' };
  let r = await runCommand(
    path.join(bin, 'javac'),
    ['--release', '17', '-encoding', 'UTF-8', '-g', '-parameters', '-Xmaxerrs', '20', '-d', JAVA_CLASSES_DIR, '-cp', classpath, `@.hks/javac-sources.txt`],
    { cwd: dir, env, log, timeoutMs: o.timeoutMs },
  );
  await fs.rm(argfile, { force: true });
  if (r.code !== 0) throw new BuildFailure(javacFailure(r.output));
  step('checking the handler');
  r = await runCommand(path.join(bin, 'java'), ['-Xshare:auto', '-XX:TieredStopAtLevel=1', '-cp', shimJar, 'hks.Shim', '--check'], {
    cwd: dir,
    env: { ...env, HKS_CODE_DIR: dir, HKS_ENTRYPOINT: entrypoint },
    log,
    timeoutMs: o.timeoutMs,
    display: `hks.Shim --check ${entrypoint}`,
  });
  if (r.code !== 0) throw new BuildFailure(firstMatchingLine(r.output, [/\S/]) ?? `${entrypoint} is not a handler the runtime can call`);
  log(`${entrypoint}: a handler the runtime can call\n`);
}
