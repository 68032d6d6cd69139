import { readlinkSync, realpathSync } from 'fs';
import * as path from 'path';
import type { RuntimeDescriptor } from '../../src/descriptor';
import { runtimeDir } from '../../src/runtimes-dir';
import { buildJava, JAVA_CLASSES_DIR, JavaBuildOptions } from './build';
import { JAVA_SHIM_JAR, javaShimJar, shipJavaShim } from './shim-jar';

/**
 * The JVM's options: class data sharing for the JDK's classes, the client compiler only (a function's code is
 * short-lived and small: C2 costs CPU at start for little), the serial collector with a small initial heap (the
 * memory limit is set after the prewarmed JVM started, so it cannot size itself from it), no perf data file; and the
 * environment map opened so a prewarmed JVM can take its function's variables on LOAD.
 */
export const JVM_OPTIONS = [
  '-Xshare:auto',
  '-XX:TieredStopAtLevel=1',
  '-XX:+UseSerialGC',
  '-Xms8m',
  '-Xss512k',
  '-XX:-UsePerfData',
  '-Djava.io.tmpdir=/tmp',
  '--add-opens',
  'java.base/java.util=ALL-UNNAMED',
];

/** `Handler.handle` / `com.example.Handler.*` -> the class's source files a build may find it in. */
function javaSourceFiles(module: string): string[] {
  const asPath = module.replace(/\./g, '/');
  const dot = asPath.lastIndexOf('/');
  const capitalised = `${asPath.slice(0, dot + 1)}${asPath.charAt(dot + 1).toUpperCase()}${asPath.slice(dot + 2)}`;
  return [...new Set([asPath, capitalised].flatMap((p) => [`${p}.java`, `src/main/java/${p}.java`, `src/${p}.java`]))];
}

function javaClassFiles(module: string): string[] {
  return javaSourceFiles(module)
    .filter((f) => !f.startsWith('src/'))
    .map((f) => `${JAVA_CLASSES_DIR}/${f.replace(/\.java$/, '.class')}`);
}

/**
 * Java: a handler class (hks.Handler, hks.RequestHandler like AWS Lambda's, java.util.function.Function, or a named
 * method) compiled by javac at build time, dependencies from lib/*.jar. A prewarmed generic JVM loads it on LOAD.
 */
export const java: RuntimeDescriptor = {
  name: 'java',
  title: 'Java',
  names: /^(?:java|jdk|openjdk)(?<version>\d+(?:\.\d+){0,2})?$/i,
  aliases: ['java', 'java17', 'java11', 'java21'],
  versions: {
    candidates: (env) => [env.HKS_JAVA, '/usr/lib/jvm/default-java/bin/java', '/usr/bin/java', 'java'].filter((c): c is string => !!c),
    args: ['-XshowSettings:properties', '-version'],
    parse: (out) => {
      const version = /^\s*java\.version = (\d+(?:\.\d+)*)/m.exec(out)?.[1];
      const home = /^\s*java\.home = (\/\S+)/m.exec(out)?.[1];
      if (!version) return undefined;
      const parts = version.split('.');
      while (parts.length < 3) parts.push('0');
      return { version: parts.join('.'), executable: home ? path.join(home, 'bin', 'java') : undefined };
    },
    minimum: '17.0.0',
  },
  templates: [{ name: 'java', handlerFile: 'Handler.java', moduleFiles: javaSourceFiles, builtModuleFiles: javaClassFiles }],
  async build({ dir, source, step, log, tools, interpreter }) {
    const o = { ...(tools.java as JavaBuildOptions | undefined), ...(interpreter ? { jdkBin: path.dirname(interpreter.realPath) } : {}) };
    await buildJava(dir, source.entrypoint, javaShimJar(runtimeDir('java'), { jdkBin: o.jdkBin }), log, step, o);
  },
  buildInputs: (_source, tools) => ({ jdkBin: ((tools.java ?? {}) as JavaBuildOptions).jdkBin ?? null, shim: path.basename(javaShimJar(runtimeDir('java'))) }),
  worker: {
    // System.inheritedChannel() is fd 0: the invoker's socket (fd 3) goes there; the http mode has none to move.
    command: (interpreter, dir, mode) => {
      const jvm = [interpreter, ...JVM_OPTIONS, '-cp', path.posix.join(dir, JAVA_SHIM_JAR), 'hks.Shim', `--${mode}`];
      return mode === 'worker' ? ['/bin/sh', '-c', 'exec "$@" 0<&3 3<&-', 'java', ...jvm] : jvm;
    },
    ships: ['shim'],
    prepare: (dest) => shipJavaShim(runtimeDir('java'), dest),
    // The JDK's configuration (jvm.cfg, java.security) is a symbolic link into /etc (Debian: /etc/java-17-openjdk).
    hostPaths: (interpreter) => jdkConfDirs(interpreter),
  },
  image: {
    baseSetting: 'HKS_BASE_IMAGE_JAVA',
    baseExample: 'eclipse-temurin:17-jre',
    commandSetting: 'HKS_IMAGE_JAVA_COMMAND',
    defaultCommand: '/opt/java/openjdk/bin/java',
  },
  coldStart: { prewarm: true },
  concurrency: 'one',
  sdk: {
    dir: 'shim',
    how: 'import hks.*; ctx.getSecret(name) or hks.Hexabase.getSecret(name) (javac compiles against the shim, the JVM has it on its class path)',
  },
};

/** Folders outside the JDK that its configuration links to, for the sandbox to bind read-only. */
export function jdkConfDirs(interpreter: string): string[] {
  const home = path.dirname(path.dirname(realpathSync(interpreter)));
  const dirs = new Set<string>();
  for (const link of [path.join(home, 'lib', 'jvm.cfg'), path.join(home, 'conf', 'security', 'java.security'), path.join(home, 'conf', 'logging.properties')]) {
    try {
      const target = path.resolve(path.dirname(link), readlinkSync(link));
      if (!target.startsWith(home + path.sep)) dirs.add(target.split(path.sep).slice(0, 3).join(path.sep));
    } catch {
      // Not a link: the file is in the JDK itself.
    }
  }
  return [...dirs].filter((d) => d !== '/usr' && !d.startsWith('/usr/'));
}
