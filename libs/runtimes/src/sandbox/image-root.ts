import { spawnSync } from 'child_process';
import { realpathSync } from 'fs';
import * as path from 'path';

/**
 * Where the host's runtime (the adapter's Node) appears in a sandbox whose / is an image's rootfs: the image's own
 * files stay as they are, the host's /usr, its lib folders and the runtime's prefix are bound read-only below this.
 */
export const SANDBOX_HOST_DIR = '/hks/host';

/** How a host executable is started from SANDBOX_HOST_DIR without the image's libc: its dynamic loader, run directly. */
export interface HostProgram {
  /** Host paths bound read-only at SANDBOX_HOST_DIR + path. */
  binds: string[];
  /** The command prefix inside the sandbox: [loader, --library-path, dirs, program]. */
  argv: string[];
}

const cache = new Map<string, HostProgram>();

/**
 * The loader and library folders of a dynamically linked host program, read from `ldd` once: inside an image the
 * loader is run by its path under SANDBOX_HOST_DIR with `--library-path`, so the program finds the host's
 * libraries while the processes it starts (the function) see only the image. A static program needs neither.
 */
export function hostProgram(program: string): HostProgram {
  const real = realpathSync(program);
  const known = cache.get(real);
  if (known) return known;
  const out = spawnSync('ldd', [real], { encoding: 'utf8', timeout: 5000 });
  const text = `${out.stdout ?? ''}${out.stderr ?? ''}`;
  const inside = (p: string) => path.posix.join(SANDBOX_HOST_DIR, p);
  let found: HostProgram;
  if (out.status !== 0 || /not a dynamic executable|statically linked/.test(text)) {
    found = { binds: [path.dirname(real)], argv: [inside(real)] };
  } else {
    const libs = new Set<string>();
    let loader: string | undefined;
    for (const line of text.split('\n')) {
      const arrow = /=>\s+(\/\S+)/.exec(line);
      if (arrow) libs.add(path.dirname(realpathSync(arrow[1])));
      const bare = /^\s*(\/\S+)\s+\(0x/.exec(line);
      if (bare && !arrow) loader = realpathSync(bare[1]);
    }
    if (!loader) throw new Error(`cannot tell the dynamic loader of ${real} from ldd: ${text.trim()}`);
    const dirs = [...libs];
    found = {
      binds: [...new Set([path.dirname(real), path.dirname(loader), ...dirs])],
      argv: [inside(loader), '--library-path', dirs.map(inside).join(':'), inside(real)],
    };
  }
  cache.set(real, found);
  return found;
}

/**
 * The mounts of a sandbox whose / is an image's rootfs (read-only): a tmpfs at /hks holding the runtimes' folders
 * and the host's folders the adapter needs; /proc, /dev and /tmp of its own. The image's /etc is its own too.
 */
export function imageRootMounts(rootfs: string, runtimesDir: string, runtimesMount: string, program: HostProgram): string[] {
  return [
    '--ro-bind',
    rootfs,
    '/',
    '--tmpfs',
    '/hks',
    ...program.binds.flatMap((b) => ['--ro-bind', b, path.posix.join(SANDBOX_HOST_DIR, b)]),
    '--ro-bind',
    runtimesDir,
    runtimesMount,
    '--remount-ro',
    '/hks',
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--tmpfs',
    '/tmp',
  ];
}
