import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import * as tar from 'tar-stream';
import { ValidationError } from '@platform/contracts';
import { parseImageReference, RegistryClient, resolveImage, ResolvedImage } from '@platform/runtimes';
import { AuthRegistry, pushTestImage, startAuthRegistry, startOciRegistry, TestOciRegistry } from '@platform/testing';
import { InvokerSettingsValues } from '../settings';
import { WorkDirs } from '../workers/work-dirs';
import { ImageStore } from './image-store';

jest.setTimeout(60_000);

function layerTar(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c) => void chunks.push(c as Buffer));
  const done = new Promise<Buffer>((resolve) => pack.on('end', () => resolve(Buffer.concat(chunks))));
  for (const [name, data] of Object.entries(files)) pack.entry({ name, size: Buffer.byteLength(data), mode: 0o644 }, data);
  pack.finalize();
  return done;
}

const KiB = 1024;

describe('image store: user images pulled like the builder reads them, and removed when nothing runs them', () => {
  let registry: TestOciRegistry;
  let front: AuthRegistry;
  let work: string;
  const images: Record<'a' | 'b' | 'c', ResolvedImage> = {} as never;
  let n = 0;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'hks-image-store-'));
    registry = await startOciRegistry();
    // A registry that wants a login, under a name that is not loopback (as compose's registry:5000 is not).
    front = await startAuthRegistry(registry.host, { scheme: 'bearer', username: 'puller', password: 'pw' });
    const client = new RegistryClient(front.host, { insecure: true, username: 'puller', password: 'pw' });
    for (const name of ['a', 'b', 'c'] as const) {
      // Each image unpacks to 4 KiB of its own.
      const layer = await layerTar({ [`${name}.txt`]: name.repeat(4 * KiB) });
      const pushed = await pushTestImage(registry, `team/${name}`, 'v1', [layer], { Cmd: ['/bin/true'] });
      images[name] = await resolveImage(client, parseImageReference(pushed.reference.replace(registry.host, front.host)));
    }
  });

  afterAll(async () => {
    await front?.stop();
    await registry?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  /** An ImageStore as an invoker has it (its own instance), on a shared work dir. */
  const store = (settings: Partial<InvokerSettingsValues> = {}, root = path.join(work, 'shared')) =>
    new ImageStore(
      { root, instance: path.join(root, 'run', `${process.pid}-${(n++).toString(16).padStart(6, '0')}`) } as WorkDirs,
      {
        HKS_OCI_REGISTRY: front.host,
        HKS_OCI_INSECURE: true,
        HKS_OCI_USERNAME: 'puller',
        HKS_OCI_PASSWORD: 'pw',
        HKS_OCI_MAX_BLOB_BYTES: 2 * 1024 ** 3,
        HKS_OCI_MAX_UNPACKED_BYTES: 8 * 1024 ** 3,
        INVOKER_IMAGES_MAX_BYTES: 32 * 1024 ** 3,
        ...settings,
      } as InvokerSettingsValues,
    );
  const trees = (root = path.join(work, 'shared')) => (existsSync(path.join(root, 'images', 'rootfs')) ? readdirSync(path.join(root, 'images', 'rootfs')) : []);
  const blobs = (root = path.join(work, 'shared')) =>
    existsSync(path.join(root, 'images', 'blobs', 'sha256')) ? readdirSync(path.join(root, 'images', 'blobs', 'sha256')) : [];
  const hexOf = (i: ResolvedImage) => i.manifestDigest.slice('sha256:'.length);

  it('pulls from HKS_OCI_REGISTRY over plain HTTP (HKS_OCI_INSECURE) with its bearer-token login', async () => {
    const root = path.join(work, 'pull');
    const dir = await store({}, root).acquire(images.a);
    expect(readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('a'.repeat(4 * KiB));
    expect(front.requests.some((r) => r.path.startsWith('/token') && r.authorization?.startsWith('Basic '))).toBe(true);
    // Without the settings: HTTPS (the name is not loopback) and no login, as the invoker pulled before.
    const anonymous = store({ HKS_OCI_INSECURE: undefined, HKS_OCI_USERNAME: undefined, HKS_OCI_PASSWORD: undefined }, path.join(work, 'anon'));
    await expect(anonymous.acquire(images.b)).rejects.toThrow(/cannot pull image .* is unreachable/);
  });

  it('refuses an image over HKS_OCI_MAX_BLOB_BYTES or HKS_OCI_MAX_UNPACKED_BYTES with a 4xx naming the setting', async () => {
    const small = store({ HKS_OCI_MAX_BLOB_BYTES: 16 }, path.join(work, 'small-blob'));
    await expect(small.acquire(images.a)).rejects.toThrow(ValidationError);
    await expect(small.acquire(images.a)).rejects.toThrow(/larger than HKS_OCI_MAX_BLOB_BYTES \(16 bytes\)/);
    const unpacked = store({ HKS_OCI_MAX_UNPACKED_BYTES: 1024 }, path.join(work, 'small-tree'));
    await expect(unpacked.acquire(images.a)).rejects.toThrow(/unpacks to more than HKS_OCI_MAX_UNPACKED_BYTES \(1024 bytes\)/);
    expect(trees(path.join(work, 'small-tree'))).toEqual([]);
    // Nor the layers it downloaded: a failed unpack leaves nothing on disk.
    expect(blobs(path.join(work, 'small-tree'))).toEqual([]);
  });

  it("removes an image's tree and layers when the last deployment holding it lets go", async () => {
    const s = store();
    await s.acquire(images.a);
    await s.acquire(images.a);
    expect(trees()).toContain(hexOf(images.a));
    await s.release(images.a.manifestDigest);
    expect(trees()).toContain(hexOf(images.a)); // one deployment still runs it
    await s.release(images.a.manifestDigest);
    expect(trees()).not.toContain(hexOf(images.a));
    expect(trees().filter((t) => !t.startsWith('.'))).toEqual([]);
    expect(blobs()).toEqual([]);
  });

  it('keeps a tree another invoker still holds, and keeps the total under INVOKER_IMAGES_MAX_BYTES, least recently used first', async () => {
    const cap = { INVOKER_IMAGES_MAX_BYTES: 10 * KiB }; // two 4 KiB images fit, three do not
    const other = store(cap);
    await other.acquire(images.a);
    const mine = store(cap);
    await mine.acquire(images.a);
    await mine.release(images.a.manifestDigest);
    expect(trees()).toContain(hexOf(images.a)); // the other invoker runs it

    // The other invoker stops: a tree nobody holds is left behind (a crash leaves the same), the oldest one.
    await other.onApplicationShutdown();
    await mine.acquire(images.b);
    expect(trees()).toEqual(expect.arrayContaining([hexOf(images.a), hexOf(images.b)]));
    // A third image: past the cap, the unused tree (a) goes, the held one (b) stays.
    await mine.acquire(images.c);
    expect(
      trees()
        .filter((t) => !t.endsWith('.json') && !t.startsWith('.'))
        .sort(),
    ).toEqual([hexOf(images.b), hexOf(images.c)].sort());

    // Both held, and a fourth would not fit: refused, naming the setting, and nothing of it is left.
    const third = store({ INVOKER_IMAGES_MAX_BYTES: 6 * KiB });
    await expect(third.acquire(images.a)).rejects.toThrow(/more than INVOKER_IMAGES_MAX_BYTES \(6144 bytes\)/);
    expect(trees()).not.toContain(hexOf(images.a));
    expect(trees()).toEqual(expect.arrayContaining([hexOf(images.b), hexOf(images.c)]));
    await mine.release(images.b.manifestDigest);
    await mine.release(images.c.manifestDigest);
    expect(trees().filter((t) => !t.startsWith('.'))).toEqual([]);
  });
});
