#!/usr/bin/env node
/**
 * Builds the platform image (the one the Dockerfile describes) without Docker or any daemon, and pushes it to an
 * OCI registry: the builder's own OCI code (deterministic tar+gzip layers, the distribution API client) puts
 * dist/, the production node_modules, the runtime shims and the entrypoint on top of a base image read from a
 * registry. Run it through scripts/build-image after `npm run build`; `--help` says how.
 */
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const tarStream = require('tar-stream');

const ROOT = path.resolve(__dirname, '..');
const APP_DIR = 'app';
const USER = '10001:10001';
const PORTS = [8080, 8081, 8082, 8083, 8084, 8085];
const DEFAULT_BASE = 'base/node:20-bookworm-slim';

const USAGE = `usage: scripts/build-image --registry <host[:port]> [options]

Builds the platform image from dist/ (run \`npm run build\` first), the production dependencies of
package-lock.json found in node_modules/, libs/runtimes and deploy/docker/entrypoint.sh, on top of a
base image, and pushes it to <registry>/<image>. No Docker daemon is involved.

  --registry <host[:port]>  where to push (required); HKS_OCI_REGISTRY if unset
  --image <name:tag>        repository and tag (default hks/platform:<package.json version>)
  --base <reference>        base image (default <registry>/${DEFAULT_BASE}); Node.js 20 on Debian: its
                            PATH and node are used. Read with the same credentials when on <registry>.
  --init <path>             run the entrypoint under this init (e.g. /usr/bin/tini, if the base has it)
  --node-modules <dir>      package this node_modules directory as it is (e.g. from \`npm ci --omit=dev\`)
                            instead of the production packages of package-lock.json taken from node_modules/
  --insecure                plain HTTP (HKS_OCI_INSECURE=true; loopback registries are plain HTTP anyway)
  --list-modules            print the node_modules package directories the image would contain, and exit

Credentials: HKS_OCI_USERNAME and HKS_OCI_PASSWORD (basic auth), as the builder uses them.
Prints the pushed image by digest on the last line.`;

class UsageError extends Error {}

function parseArgs(argv) {
  const o = { init: undefined, nodeModules: undefined, insecure: undefined, listModules: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${arg} needs a value`);
      return v;
    };
    if (arg === '--registry') o.registry = value();
    else if (arg === '--image') o.image = value();
    else if (arg === '--base') o.base = value();
    else if (arg === '--init') o.init = value();
    else if (arg === '--node-modules') o.nodeModules = path.resolve(value());
    else if (arg === '--insecure') o.insecure = true;
    else if (arg === '--list-modules') o.listModules = true;
    else if (arg === '--help' || arg === '-h') o.help = true;
    else throw new UsageError(`unknown argument "${arg}"`);
  }
  return o;
}

/** The package directories (relative to the repository) that production needs: package-lock.json's non-dev ones. */
function productionPackages(root = ROOT) {
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
  if (!lock.packages) throw new Error('package-lock.json has no "packages" (lockfile version 2 or later is needed)');
  return Object.entries(lock.packages)
    .filter(([dir, pkg]) => dir.startsWith('node_modules/') && !pkg.dev && !pkg.link)
    .map(([dir]) => dir)
    .filter((dir) => fs.existsSync(path.join(root, dir, 'package.json')))
    .sort();
}

/**
 * A directory's files as tar entries under `prefix`; `skip(relative)` leaves a subtree out (nested node_modules,
 * whose packages are entries of their own). Symlinks are kept as links.
 */
function collect(dir, prefix, skip = () => false) {
  const out = [];
  const walk = (abs, rel) => {
    for (const name of fs.readdirSync(abs).sort()) {
      const childAbs = path.join(abs, name);
      const childRel = rel ? `${rel}/${name}` : name;
      if (skip(childRel)) continue;
      const st = fs.lstatSync(childAbs);
      const at = `${prefix}/${childRel}`;
      if (st.isSymbolicLink()) out.push({ path: at, type: 'symlink', linkname: fs.readlinkSync(childAbs) });
      else if (st.isDirectory()) {
        out.push({ path: at, type: 'directory' });
        walk(childAbs, childRel);
      } else if (st.isFile()) out.push({ path: at, type: 'file', mode: st.mode & 0o777, data: fs.readFileSync(childAbs) });
    }
  };
  walk(dir, '');
  return out;
}

/** Every parent directory of the entries that is not an entry itself, so each layer stands on its own. */
function withParents(entries) {
  const have = new Set(entries.filter((e) => e.type === 'directory').map((e) => e.path));
  const parents = [];
  for (const e of entries) {
    const parts = e.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!have.has(dir)) {
        have.add(dir);
        parents.push({ path: dir, type: 'directory' });
      }
    }
  }
  return [...parents, ...entries];
}

function nodeModulesEntries(o) {
  if (o.nodeModules) return collect(o.nodeModules, `${APP_DIR}/node_modules`);
  const real = fs.realpathSync(path.join(ROOT, 'node_modules'));
  const entries = [];
  for (const dir of productionPackages()) {
    const rel = dir.slice('node_modules/'.length);
    entries.push({ path: `${APP_DIR}/${dir}`, type: 'directory' });
    entries.push(...collect(path.join(real, rel), `${APP_DIR}/${dir}`, (r) => r === 'node_modules' || r.startsWith('node_modules/')));
  }
  return entries;
}

/**
 * The entrypoint layer: /usr/local/bin/hks-platform and the data directory, owned by the image's user (the
 * deterministic tar of the builder writes everything as root, right for code, wrong for a directory it writes).
 */
async function entrypointLayer(runtimes) {
  const pack = tarStream.pack();
  const chunks = [];
  const done = new Promise((resolve, reject) => {
    pack.on('data', (c) => chunks.push(c));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
  });
  const epoch = new Date(0);
  const [uid, gid] = USER.split(':').map(Number);
  const root = { mtime: epoch, uid: 0, gid: 0, uname: '', gname: '' };
  for (const dir of ['usr/', 'usr/local/', 'usr/local/bin/', 'var/', 'var/lib/']) pack.entry({ ...root, name: dir, type: 'directory', mode: 0o755 });
  const script = fs.readFileSync(path.join(ROOT, 'deploy', 'docker', 'entrypoint.sh'));
  pack.entry({ ...root, name: 'usr/local/bin/hks-platform', type: 'file', mode: 0o755, size: script.length }, script);
  pack.entry({ mtime: epoch, uid, gid, uname: '', gname: '', name: 'var/lib/hks/', type: 'directory', mode: 0o755 });
  pack.finalize();
  const tarBytes = await done;
  const blob = await runtimes.deterministicGzip(tarBytes);
  return { mediaType: runtimes.MediaTypes.OciLayerGzip, digest: runtimes.sha256Digest(blob), size: blob.length, blob, diffId: runtimes.sha256Digest(tarBytes) };
}

function gitRevision() {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

function loadBuilt() {
  const runtimesEntry = path.join(ROOT, 'dist', 'libs', 'runtimes', 'src', 'index.js');
  const imageEntry = path.join(ROOT, 'dist', 'apps', 'builder', 'src', 'oci', 'image.js');
  for (const f of [runtimesEntry, imageEntry, path.join(ROOT, 'dist', 'apps', 'gateway', 'src', 'main.js')]) {
    if (!fs.existsSync(f)) throw new UsageError(`${path.relative(ROOT, f)} is missing: run \`npm run build\` first`);
  }
  return { runtimes: require(runtimesEntry), image: require(imageEntry) };
}

async function readBase(runtimes, client, ref) {
  const where = runtimes.formatReference(ref);
  let manifest = await client.getManifest(ref.repository, ref.digest ?? ref.tag);
  let parsed = JSON.parse(manifest.body.toString('utf8'));
  if (manifest.mediaType === runtimes.MediaTypes.OciIndex || manifest.mediaType === runtimes.MediaTypes.DockerManifestList) {
    const arch = runtimes.hostArchitecture();
    const entry = (parsed.manifests ?? []).find((m) => m.platform?.os === 'linux' && m.platform?.architecture === arch);
    if (!entry) throw new Error(`base image ${where} has no linux/${arch} variant`);
    manifest = await client.getManifest(ref.repository, entry.digest);
    parsed = JSON.parse(manifest.body.toString('utf8'));
  }
  if (!parsed.config?.digest || !Array.isArray(parsed.layers)) throw new Error(`base image ${where} has an unsupported manifest (${manifest.mediaType})`);
  const config = JSON.parse((await client.getBlob(ref.repository, parsed.config.digest)).toString('utf8'));
  return { ref, client, layers: parsed.layers, config, digest: manifest.digest };
}

function imageConfig(image, base, added, o, version) {
  const baseConfig = base.config.config ?? {};
  const entrypoint = o.init ? [o.init, '--', '/usr/local/bin/hks-platform'] : ['/usr/local/bin/hks-platform'];
  const revision = gitRevision();
  const config = {
    ...base.config,
    architecture: base.config.architecture ?? 'amd64',
    os: base.config.os ?? 'linux',
    created: image.EPOCH_ISO,
    config: {
      ...baseConfig,
      Env: image.mergeEnv(baseConfig.Env ?? [], { NODE_ENV: 'production', HOST: '0.0.0.0', HKS_DATA_DIR: '/var/lib/hks', HKS_APP_ROOT: '/app', HOME: '/tmp' }),
      Entrypoint: entrypoint,
      Cmd: ['help'],
      User: USER,
      WorkingDir: '/app',
      ExposedPorts: Object.fromEntries(PORTS.map((p) => [`${p}/tcp`, {}])),
      Volumes: { '/var/lib/hks': {} },
      Labels: {
        ...(baseConfig.Labels ?? {}),
        'org.opencontainers.image.title': 'hks platform',
        'org.opencontainers.image.version': version,
        ...(revision ? { 'org.opencontainers.image.revision': revision } : {}),
        'dev.hks.base': base.digest,
      },
    },
    rootfs: { type: 'layers', diff_ids: [...(base.config.rootfs?.diff_ids ?? []), ...added.map((a) => a.layer.diffId)] },
    history: [...(base.config.history ?? []), ...added.map((a) => ({ created: image.EPOCH_ISO, created_by: a.createdBy }))],
  };
  return Buffer.from(JSON.stringify(config), 'utf8');
}

async function main(argv) {
  const o = parseArgs(argv);
  if (o.help) {
    console.log(USAGE);
    return;
  }
  if (o.listModules) {
    for (const dir of productionPackages()) console.log(dir);
    return;
  }
  o.registry = o.registry ?? process.env.HKS_OCI_REGISTRY;
  if (!o.registry) throw new UsageError('--registry is required (or set HKS_OCI_REGISTRY)');
  const { runtimes, image } = loadBuilt();
  const version = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;
  const target = runtimes.parseImageReference(`${o.registry}/${o.image ?? `hks/platform:${version}`}`);
  if (target.digest || !target.tag) throw new UsageError('--image must be <name>:<tag>');
  const insecureEnv = process.env.HKS_OCI_INSECURE;
  const options = {
    insecure: o.insecure ?? (insecureEnv === undefined || insecureEnv === '' ? undefined : insecureEnv === 'true' || insecureEnv === '1'),
    username: process.env.HKS_OCI_USERNAME || undefined,
    password: process.env.HKS_OCI_PASSWORD || undefined,
  };
  const client = new runtimes.RegistryClient(target.registry, options);
  const baseRef = runtimes.parseImageReference(o.base ?? `${o.registry}/${DEFAULT_BASE}`);
  const baseClient = baseRef.registry === target.registry ? client : new runtimes.RegistryClient(baseRef.registry, {});
  const log = (line) => console.log(line);

  log(`reading base image ${runtimes.formatReference(baseRef)}`);
  const base = await readBase(runtimes, baseClient, baseRef);

  const layerOf = async (entries, createdBy) => {
    const layer = await image.layerFromEntries(withParents(entries));
    log(`layer ${createdBy}: ${entries.length} entries, ${layer.size} bytes (${layer.digest})`);
    return { layer, createdBy };
  };
  const lockfiles = ['package.json', 'package-lock.json'].map((f) => ({ path: `${APP_DIR}/${f}`, type: 'file', data: fs.readFileSync(path.join(ROOT, f)) }));
  const added = [
    await layerOf([...nodeModulesEntries(o), ...lockfiles], 'hks build-image: production node_modules at /app/node_modules'),
    await layerOf(
      collect(
        path.join(ROOT, 'libs', 'runtimes'),
        `${APP_DIR}/libs/runtimes`,
        (r) => /(^|\/)(__pycache__|node_modules)$/.test(r) || /\.(spec|int-spec)\.ts$/.test(r),
      ),
      'hks build-image: runtime shims and SDKs at /app/libs/runtimes',
    ),
    await layerOf(
      collect(path.join(ROOT, 'dist'), `${APP_DIR}/dist`, (r) => r.endsWith('.tsbuildinfo')),
      'hks build-image: dist/ at /app/dist',
    ),
    { layer: await entrypointLayer(runtimes), createdBy: 'hks build-image: deploy/docker/entrypoint.sh at /usr/local/bin/hks-platform, /var/lib/hks' },
  ];
  log(`layer ${added[3].createdBy}: ${added[3].layer.size} bytes (${added[3].layer.digest})`);

  const config = imageConfig(image, base, added, o, version);
  const manifest = image.buildImageManifest(config, [...base.layers, ...added.map((a) => a.layer)], {
    'org.opencontainers.image.base.name': runtimes.formatReference(baseRef),
    'org.opencontainers.image.base.digest': base.digest,
  });

  const sameRegistry = baseRef.registry === target.registry;
  for (const layer of base.layers) {
    const how = await client.pushBlob(
      target.repository,
      layer.digest,
      () => baseClient.getBlob(baseRef.repository, layer.digest),
      sameRegistry ? baseRef.repository : undefined,
    );
    log(`base layer ${layer.digest}: ${how}`);
  }
  for (const { layer, createdBy } of added)
    log(`${createdBy.replace('hks build-image: ', '')}: ${await client.pushBlob(target.repository, layer.digest, layer.blob)}`);
  log(`config ${runtimes.sha256Digest(config)}: ${await client.pushBlob(target.repository, runtimes.sha256Digest(config), config)}`);
  const digest = await client.putManifest(target.repository, target.tag, manifest, runtimes.MediaTypes.OciManifest);
  log(`pushed ${target.registry}/${target.repository}:${target.tag}`);
  log(`${target.registry}/${target.repository}@${digest}`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(`build-image: ${err.message}`);
    if (err instanceof UsageError) console.error(`\n${USAGE}`);
    process.exit(err instanceof UsageError ? 64 : 1);
  });
}

module.exports = { productionPackages, parseArgs };
