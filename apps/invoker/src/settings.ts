import { CommonSettings, SettingsOf, SettingsSchema } from '@platform/config';
import { DEFAULT_EGRESS_DENY, OciRegistrySettings } from '@platform/runtimes';

export const InvokerSettings = {
  INVOKER_PORT: { kind: 'int', default: 8081, description: 'HTTP port of the invoker (invocations, deployments, health)' },
  BUILDER_URL: {
    kind: 'url',
    default: 'http://127.0.0.1:8083',
    description: 'Base URL of the builder, where bundles not in the local artifact store are fetched',
  },
  INVOKER_RESYNC_INTERVAL_MS: {
    kind: 'int',
    default: 30_000,
    min: 1_000,
    description:
      'How often the invoker re-reads every active deployment from the deployer and reconciles its own (besides at each reconnect to RabbitMQ): ' +
      'what a deployment event lost in a broker outage would have changed is set right within this time',
  },
  INVOKER_PREWARM: {
    kind: 'int',
    default: 1,
    min: 0,
    description:
      'Fewest generic workers kept started per runtime (node, python, go, java), each waiting in its sandbox for a function; the pool grows ' +
      'with recent cold starts up to INVOKER_PREWARM_MAX; 0 with INVOKER_PREWARM_MAX 0 disables it',
  },
  INVOKER_PREWARM_MAX: {
    kind: 'int',
    default: 8,
    min: 0,
    description:
      'Most generic workers kept started per runtime: the pool is sized by the cold starts of that runtime in the last ' +
      'INVOKER_PREWARM_WINDOW_MS, from INVOKER_PREWARM to this; prewarmed workers count against INVOKER_MAX_WORKERS and are the first stopped for a function',
  },
  INVOKER_PREWARM_WINDOW_MS: {
    kind: 'int',
    default: 60_000,
    min: 1_000,
    description: 'How far back the cold starts that size the prewarm pool are counted; the pool shrinks back once a burst is this old',
  },
  INVOKER_MAX_WORKERS: {
    kind: 'int',
    default: 64,
    min: 1,
    description:
      'Most workers (all functions and prewarmed ones together) this invoker runs at once; when reached, the least recently used ' +
      'idle worker is stopped for a function that needs one, and requests wait only when every worker is busy',
  },
  INVOKER_DEBUG_IDLE_MS: {
    kind: 'int',
    default: 600_000,
    min: 1_000,
    description: 'A debug session (hks function debug --attach) ends by itself after this long with no debugger connected and no invocation on it',
  },
  INVOKER_DEBUG_MAX_MS: {
    kind: 'int',
    default: 3_600_000,
    min: 1_000,
    description:
      'A debug session ends this long after it opened whatever it is doing (a debugger connected, an invocation held at a breakpoint): ' +
      'its worker has no time limit, so this is what bounds it',
  },
  INVOKER_SANDBOX_UID: { kind: 'int', default: 65534, description: 'Unprivileged uid the sandboxed workers run as (when the invoker runs as root)' },
  INVOKER_SANDBOX_GID: { kind: 'int', default: 65534, description: 'Unprivileged gid the sandboxed workers run as (when the invoker runs as root)' },
  INVOKER_CGROUPS: {
    kind: 'enum',
    default: 'required',
    values: ['required', 'optional'],
    description: 'Memory and process limits need a writable cgroup hierarchy; "optional" runs without them (with a warning) where none is delegated',
  },
  INVOKER_NODE_BIN: { kind: 'string', description: 'Node.js binary the node workers run (default: the one running the invoker)' },
  INVOKER_PYTHON_BIN: { kind: 'string', default: '/usr/bin/python3', description: 'Python 3 binary the python workers run' },
  INVOKER_WORK_DIR: { kind: 'string', description: 'Where bundles are unpacked and workers get their code (default: $HKS_DATA_DIR/invoker)' },
  INVOKER_EGRESS_DENY: {
    kind: 'string',
    default: DEFAULT_EGRESS_DENY.join(','),
    description:
      "What functions with network egress may not reach, besides the host's loopback (never reachable): comma-separated IPv4 " +
      'addresses or CIDRs, "host" for every address of this machine (its services listening on 0.0.0.0); "none" for nothing',
  },
  INVOKER_SLIRP4NETNS: {
    kind: 'string',
    default: '/usr/bin/slirp4netns',
    description: 'The slirp4netns binary that gives functions with network egress their network',
  },
  INVOKER_LOAD_TIMEOUT_MS: { kind: 'int', default: 30_000, description: 'How long a worker may take to load a function (its module-level code)' },
  INVOKER_EVENT_JOURNAL: {
    kind: 'enum',
    default: 'write',
    values: ['write', 'fsync', 'off'],
    description:
      'Invocation events are written to a local write-ahead log ($HKS_DATA_DIR/wal, group commit) before the answer goes out, and ' +
      'replayed at start when the broker did not get them. "write": in the page cache before the answer (survives kill -9 of ' +
      'the invoker) and on disk within INVOKER_EVENT_JOURNAL_SYNC_MS (a power cut can lose that window); "fsync": on disk before ' +
      'the answer (O_DSYNC); "off": the answer does not wait (events can be lost when the invoker dies)',
  },
  INVOKER_EVENT_JOURNAL_SYNC_MS: {
    kind: 'int',
    default: 200,
    min: 1,
    description: 'With INVOKER_EVENT_JOURNAL=write: at most this long between a journal write and its fdatasync',
  },
  INVOKER_PENDING_EVENT_AFTER_MS: {
    kind: 'int',
    default: 500,
    min: 0,
    description:
      'An invocation records one event, its result (SUCCESS or FAILURE, with the request and the response); one still running after ' +
      'this many ms also records a PENDING event (timestamped with its start) so live views see it begin; 0 records the PENDING event of every invocation',
  },
  // Image functions are pulled from HKS_OCI_REGISTRY with the builder's transport and credentials, within its limits.
  ...OciRegistrySettings,
  INVOKER_IMAGES_MAX_BYTES: {
    kind: 'int',
    default: 32 * 1024 * 1024 * 1024,
    min: 1,
    description:
      'Most bytes of unpacked images (image functions) kept in the work dir: a tree is removed when the last deployment using it stops; ' +
      'past this, trees no live invoker uses go first, least recently used first, and an image that does not fit beside those in use fails its deployment',
  },
  INVOKER_SHUTDOWN_GRACE_MS: {
    kind: 'int',
    default: 20_000,
    description:
      'On SIGTERM, how long the invoker drains: new invocations get 503, running ones may finish until ~3 s before this, the rest are ' +
      "cut (503) and every event handed to the broker; keep it below the orchestrator's grace period (Kubernetes: 30 s)",
  },
} as const satisfies SettingsSchema;

export type InvokerSettingsValues = SettingsOf<typeof InvokerSettings & typeof CommonSettings>;
