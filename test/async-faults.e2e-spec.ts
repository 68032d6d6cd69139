import { createPublicKey } from 'crypto';
import { readFileSync } from 'fs';
import * as path from 'path';
import { Client } from 'pg';
import { AMQP_URL, createTestDatabase, TcpProxy } from '@platform/testing';
import type { CallbackKeyView, InvocationPage, InvocationView } from '@platform/contracts';
import { HttpAnswer, RunningPlatform, startPlatform } from './support/platform';
import { CallbackReceiver, isFinal, platformClient, signatureVerifies, sleep, startSecondDeployer } from './support/invocations';

/** Figures worth quoting, printed as they are (not as a jest console block). */
const report = (text: string) => process.stdout.write(`${text}\n`);

/** Killed in turn (one process per service; supervision restarts each), then the broker and Postgres cut. */
const KILLS = ['invoker', 'deployer', 'gateway', 'event-store'];
const CUT_MS = 3000;
/** A steady stream, bounded: one request every INTERVAL_MS, at most MAX_INVOCATIONS. */
const INTERVAL_MS = 80;
const MAX_INVOCATIONS = 600;
/** A request without a 202 is sent again with its idempotency key, this often at most, this far apart. */
const SENDS = 40;
const RESEND_MS = 500;
/** After the faults: how long every accepted invocation may take to end (a killed deployer's leases run 15 s). */
const SETTLE_MS = 90_000;
/** ... and how long they should take: a lease that runs out (15 s) and a few retries. */
const SETTLED_WITHIN_MS = 30_000;

/**
 * Asynchronous invocations under faults: every invocation that got a 202 must end in exactly one final status
 * (succeeded: the function is healthy), none lost and none left queued or running, with the function's run recorded
 * (a SUCCESS event under its id) and its callback delivered. At-least-once: an attempt whose process was killed may
 * have run the function already, so a few run twice; they are counted and must each show such an attempt.
 */
describe('asynchronous invocations through kill -9 of each service and cuts of the broker and Postgres', () => {
  let p: RunningPlatform;
  let db: { name: string; url: string; drop: () => Promise<void> };
  let receiver: CallbackReceiver;
  const proxies: Record<'RabbitMQ' | 'Postgres', TcpProxy & { url: string }> = {} as never;
  let fnId: string;
  let defaultsId: string;
  const { call, deploy, finalView } = platformClient(() => p);

  beforeAll(async () => {
    receiver = await CallbackReceiver.start();
    db = await createTestDatabase('hks_async_faults');
    proxies.Postgres = await TcpProxy.forUrl(db.url).start();
    proxies.RabbitMQ = await TcpProxy.forUrl(AMQP_URL).start();
    p = await startPlatform({
      HKS_PROCESSES: 'each',
      DATABASE_URL: proxies.Postgres.url,
      AMQP_URL: proxies.RabbitMQ.url,
      RPC_TIMEOUT_MS: '5000',
      INVOKER_PENDING_EVENT_AFTER_MS: '60000',
    });
    // Retried often and for long enough to outlast a dead invoker or a cut dependency (a few seconds each).
    [fnId, defaultsId] = await Promise.all([
      deploy({
        label: 'async-faults-fn',
        runtime: 'node',
        // 300 ms a run, so that some attempts are under way whenever a process is killed.
        handler: 'module.exports.handle = async (d) => { await new Promise((r) => setTimeout(r, 300)); return { n: d && d.n }; };\n',
        config: { retry: { attempts: 20, initialDelayMs: 200, maxDelayMs: 2000 } },
      }),
      // The same with the default retry policy (3 attempts, 1 s doubling, full jitter), as most users leave it.
      deploy({ label: 'async-faults-defaults', runtime: 'node', handler: 'module.exports.handle = async () => ({ ok: true });\n' }),
    ]);
  }, 240_000);

  afterAll(async () => {
    // stop() throws when answers differed from the OpenAPI document: clean up all the same.
    try {
      await p?.stop();
    } finally {
      await Promise.all(Object.values(proxies).map((x) => x.stop()));
      await db?.drop().catch(() => undefined);
      await receiver?.close();
    }
  }, 60_000);

  interface Stream {
    /** Invocation id -> the request's n, the phase it was first sent in, and how many sends it took. */
    accepted: Map<string, { n: number; phase: string; sends: number }>;
    /** Every answer, by status (a request sent again counts each time). */
    statuses: Record<string, number>;
    /** The answers other than 202, by the phase the request was first sent in. */
    refusedDuring: Record<string, Record<string, number>>;
    /** The first answer of each kind (status, phase) other than 202, as the client saw it. */
    odd: string[];
    /** Requests (each with its own idempotency key), and those never accepted after SENDS tries. */
    sent: number;
    givenUp: number;
    /** Sends that got no answer (connection refused or dropped: a killed gateway). */
    unanswered: number;
  }

  /**
   * Sends an async invocation (with a callback and an idempotency key of its own) every INTERVAL_MS while `faults`
   * runs, naming each request after the phase `faults` says it is in. A request that gets no 202 (503, no answer) is
   * sent again with the same key, as a careful client does, up to SENDS times, RESEND_MS apart; resolves once every
   * request is accepted or given up.
   */
  async function streamThrough(faults: (setPhase: (p: string) => void) => Promise<void>, nFrom: number): Promise<Stream> {
    const s: Stream = { accepted: new Map(), statuses: {}, refusedDuring: {}, odd: [], sent: 0, givenUp: 0, unanswered: 0 };
    let phase = 'steady';
    let running = true;
    let aborted = false;
    const refused = (during: string, what: string) => {
      const d = (s.refusedDuring[during] ??= {});
      d[what] = (d[what] ?? 0) + 1;
    };
    const one = async (n: number, sentDuring: string) => {
      for (let sends = 1; sends <= SENDS; sends++) {
        try {
          const res = await fetch(`${p.gatewayUrl}/api/v1/functions/invoke/${fnId}`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              authorization: `Bearer ${p.adminKey}`,
              prefer: 'respond-async',
              'x-callback-url': receiver.url('/faults'),
              'idempotency-key': `faults-${n}`,
            },
            body: JSON.stringify({ data: { n } }),
            signal: AbortSignal.timeout(15_000),
          });
          const text = await res.text();
          s.statuses[res.status] = (s.statuses[res.status] ?? 0) + 1;
          if (res.status === 202) {
            s.accepted.set((JSON.parse(text) as { invocationId: string }).invocationId, { n, phase: sentDuring, sends });
            return;
          }
          refused(sentDuring, String(res.status));
          // The first refusal of each kind in each phase, to say why.
          const kind = `${res.status} during ${sentDuring}`;
          if (s.odd.length < 12 && !s.odd.some((o) => o.startsWith(`${kind}:`))) s.odd.push(`${kind}: ${text.slice(0, 160)}`);
        } catch {
          s.unanswered++;
          refused(sentDuring, 'no answer');
        }
        await sleep(RESEND_MS);
        if (aborted) return;
      }
      s.givenUp++;
    };
    const requests: Promise<void>[] = [];
    const load = (async () => {
      while (running && s.sent < MAX_INVOCATIONS) {
        requests.push(one(nFrom + ++s.sent, phase));
        await sleep(INTERVAL_MS);
      }
    })();
    await sleep(1500);
    try {
      await faults((next) => (phase = next));
    } catch (err) {
      // Stop sending (and sending again) before failing, or the requests outlive the test.
      running = false;
      aborted = true;
      throw err;
    }
    phase = 'steady';
    await sleep(1000);
    running = false;
    await load;
    await Promise.all(requests);
    return s;
  }

  /** Every invocation of the function, read through the list (newest first, paged). */
  async function listAll(): Promise<Map<string, InvocationView>> {
    const views = new Map<string, InvocationView>();
    let before: string | null = null;
    do {
      const page: HttpAnswer<InvocationPage> = await call<InvocationPage>(
        'GET',
        `/api/v1/invocations?functionId=${fnId}&limit=500${before ? `&before=${encodeURIComponent(before)}` : ''}`,
      );
      if (page.status !== 200) throw new Error(`GET /api/v1/invocations answered ${page.status}: ${page.text.slice(0, 300)}`);
      for (const v of page.body.items) views.set(v.id, v);
      before = page.body.next;
    } while (before);
    return views;
  }

  /** SUCCESS events per invocation id in the event store: how many times the function ran each to the end. */
  async function runsOf(ids: string[], timeoutMs = 30_000): Promise<Map<string, number>> {
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      const count = async () => {
        const r = await pg.query<{ invocation_id: string; n: number }>(
          `SELECT invocation_id::text, count(*)::int AS n FROM events.events WHERE invocation_id = ANY($1::uuid[]) AND status = 'SUCCESS' GROUP BY invocation_id`,
          [ids],
        );
        return new Map(r.rows.map((row) => [row.invocation_id, row.n]));
      };
      const deadline = Date.now() + timeoutMs;
      let runs = await count();
      while (ids.some((id) => !runs.has(id)) && Date.now() < deadline) {
        await sleep(1000);
        runs = await count();
      }
      return runs;
    } finally {
      await pg.end();
    }
  }

  /** Waits for every accepted invocation to end, then reports and checks what the suite promises of each. */
  /** The last lines of a service's log, for a failure message. */
  const logTail = (service: string) => {
    try {
      return readFileSync(path.join(p.logDir, `${service}.log`), 'utf8')
        .split('\n')
        .slice(-25)
        .join('\n')
        .slice(-5000);
    } catch (err) {
      return `(no log: ${(err as Error).message})`;
    }
  };

  /** Exits of each service so far. */
  const exitCounts = () => Object.fromEntries(Object.entries(p.exits()).map(([k, v]) => [k, v.length]));

  /**
   * Waits for every accepted invocation to end, reports, and answers what breaks each promise of the suite ([] for a
   * promise kept). `killed`: the services this test killed, each once, since `exitsBefore`: any other exit is a crash.
   */
  async function settleAndCheck(s: Stream, faults: string[], exitsBefore: Record<string, number>, killed: string[]): Promise<Record<string, string[]>> {
    const ids = [...s.accepted.keys()];
    let views = await listAll();
    const open = () => ids.filter((id) => !isFinal(views.get(id)?.status));
    const settleBy = Date.now() + SETTLE_MS;
    while (open().length && Date.now() < settleBy) {
      await sleep(1000);
      views = await listAll().catch(() => views);
    }
    const settledAfterMs = SETTLE_MS - (settleBy - Date.now());
    const runs = await runsOf(ids);
    // Callbacks: at least one delivered per invocation (they are retried with backoff up to 16 s).
    const deliveredBy = Date.now() + 40_000;
    const delivered = (id: string) => receiver.of(id).filter((c) => c.answered === 204);
    const undelivered = () => ids.filter((id) => delivered(id).length === 0);
    while (undelivered().length && Date.now() < deliveredBy) await sleep(500);
    // Every replica, and every restart, signs with the one key the platform publishes.
    const key = createPublicKey((await call<CallbackKeyView>('GET', '/api/v1/invocations/callback-key')).body.publicKeyPem);
    const badlySigned = ids.filter((id) => delivered(id).some((c) => !signatureVerifies(c, key)));

    const tally = (list: string[], of: (id: string) => string) =>
      list.reduce<Record<string, number>>((acc, id) => ({ ...acc, [of(id)]: (acc[of(id)] ?? 0) + 1 }), {});
    const lost = ids.filter((id) => !views.has(id));
    const notSucceeded = ids.filter((id) => views.get(id)?.status !== 'succeeded');
    const notRun = ids.filter((id) => !runs.has(id));
    const ranTwice = ids.filter((id) => (runs.get(id) ?? 0) > 1);
    const calledBackTwice = ids.filter((id) => delivered(id).length > 1);
    const attempts: Record<string, number> = {};
    for (const id of ids) for (const a of views.get(id)?.attempts ?? []) attempts[a.outcome ?? 'running'] = (attempts[a.outcome ?? 'running'] ?? 0) + 1;
    // Committed, but the 202 never reached the client (the deployer or the gateway was killed before it did): they run all the same.
    const firstN = Math.min(...[...s.accepted.values()].map((a) => a.n));
    const unseen = [...views.keys()].filter((id) => !s.accepted.has(id) && (JSON.parse(views.get(id)!.result?.body ?? '{"n":0}') as { n: number }).n >= firstN);
    const describe = (list: string[]) =>
      list
        .slice(0, 10)
        .map((id) => {
          const a = s.accepted.get(id);
          const v = views.get(id);
          return `${id} (n=${a?.n}, accepted during ${a?.phase}, ${v?.status ?? 'not listed'}, attempts ${JSON.stringify(v?.attempts.map((x) => x.outcome) ?? [])})`;
        })
        .join('; ');
    const loadEnded = Date.now() - settledAfterMs;
    const slowest = ids
      .map((id) => views.get(id))
      .filter((v): v is InvocationView => !!v?.finishedAt)
      .sort((a, b) => Date.parse(b.finishedAt!) - Date.parse(a.finishedAt!))
      .slice(0, 3)
      .map(
        (v) =>
          `${v.id} (accepted during ${s.accepted.get(v.id)?.phase} ${Date.parse(v.acceptedAt) - loadEnded} ms from the end of the load, ended at ${
            Date.parse(v.finishedAt!) - loadEnded
          } ms; attempts ${v.attempts.map((x) => `${x.outcome} ${Date.parse(x.startedAt) - loadEnded}..${x.endedAt ? Date.parse(x.endedAt) - loadEnded : '?'}`).join(', ')})`,
      )
      .join('; ');
    report(
      [
        `faults: ${faults.join('; ')}`,
        `async invocations: ${s.sent} requests, ${s.accepted.size} accepted (${[...s.accepted.values()].filter((a) => a.sends > 1).length} of them sent again with their key), ${s.givenUp} given up; answers ${JSON.stringify(s.statuses)}, no answer (network) ${s.unanswered}${s.odd.length ? `; first refusals: ${s.odd.join(' | ')}` : ''}`,
        `answers other than 202 by the phase they were sent in: ${JSON.stringify(s.refusedDuring)}`,
        `service exits ${JSON.stringify(exitCounts())}`,
        `accepted ${ids.length}: by final status ${JSON.stringify(tally(ids, (id) => views.get(id)?.status ?? 'missing'))} ${settledAfterMs} ms after the load; attempts by outcome ${JSON.stringify(attempts)}`,
        `listed but the client never got their 202 (lost with a killed process): ${unseen.length}, by status ${JSON.stringify(tally(unseen, (id) => views.get(id)!.status))}`,
        `ran (SUCCESS events) more than once: ${ranTwice.length}${ranTwice.length ? `: ${describe(ranTwice)}` : ''}`,
        `slowest to end: ${slowest}`,
        `callbacks: not delivered ${undelivered().length}, delivered more than once ${calledBackTwice.length}, not verifying ${badlySigned.length}`,
      ].join('\n'),
    );

    // Every promise checked at once (one diff shows all that failed); each entry lists what breaks it, [] when none.
    const byKey = new Map<string, string[]>();
    for (const v of views.values()) if (v.idempotencyKey) byKey.set(v.idempotencyKey, [...(byKey.get(v.idempotencyKey) ?? []), v.id]);
    // At-least-once: a second run is acceptable only where an attempt was cut off by a killed process (interrupted),
    // or the invoker died after running it and before answering (unavailable).
    const unexplained = ranTwice.filter((id) => !views.get(id)?.attempts.some((a) => a.outcome === 'interrupted' || a.outcome === 'unavailable'));
    // One attempt succeeded, the last one: an attempt that ends the invocation is recorded once.
    const attemptsOff = ids.filter((id) => {
      const outcomes = views.get(id)?.attempts.map((a) => a.outcome) ?? [];
      return outcomes.filter((o) => o === 'succeeded').length !== 1 || outcomes[outcomes.length - 1] !== 'succeeded';
    });
    // Each succeeded invocation answered what its own request asked (no mix-up of stored requests).
    const mixedUp = ids.filter((id) => {
      const v = views.get(id);
      return v?.status === 'succeeded' && v.result && (JSON.parse(v.result.body) as { n: number }).n !== s.accepted.get(id)?.n;
    });
    // No service may exit but those killed, once each (a crash is restarted by supervision, and hidden by it).
    const crashes = Object.entries(exitCounts())
      .map(([name, n]) => [name, n - (exitsBefore[name] ?? 0) - (killed.includes(name) ? 1 : 0)] as const)
      .filter(([, n]) => n > 0)
      .map(([name, n]) => `${name} exited ${n} time(s) more than it was killed: see its log in ${p.logDir}`);
    const list = (ids: string[]) => (ids.length ? [`${ids.length}: ${describe(ids)}`] : []);
    return {
      'fewer than 80 accepted': ids.length > 80 ? [] : [`${ids.length}`],
      // A client that sends again with its idempotency key gets its invocation accepted once, whatever was down.
      'requests never accepted': s.givenUp ? [`${s.givenUp}`] : [],
      'one idempotency key, several invocations': [...byKey.entries()].filter(([, l]) => l.length > 1).map(([key, l]) => `${key}: ${l.join(', ')}`),
      lost: list(lost),
      'left open (queued or running)': list(open()),
      'ended other than succeeded': list(notSucceeded),
      'no SUCCESS event (the function never ran to the end)': list(notRun),
      'ran more than once without an interrupted or unavailable attempt to explain it': list(unexplained),
      'not exactly one succeeded attempt, the last': list(attemptsOff),
      'result of another request': list(mixedUp),
      'callback not delivered': list(undelivered()),
      'callback signature does not verify': list(badlySigned),
      crashes,
      // Back to normal soon after the last fault: within a lease (15 s) and a few retries, not a safety net's minute.
      'not ended within 30 s of the end of the load': settledAfterMs <= SETTLED_WITHIN_MS ? [] : [`${settledAfterMs} ms; slowest: ${slowest}`],
    };
  }

  let sentSoFar = 0;

  it('ends every accepted invocation once, succeeded, with its run recorded and its callback delivered', async () => {
    const duringInvokerRestart: Promise<string | undefined>[] = [];
    /** An async invocation of the defaults function after `ms`: its id once accepted (undefined when refused). */
    const acceptDefaults = async (ms: number) => {
      await sleep(ms);
      const r = await call<{ invocationId: string }>('POST', `/api/v1/functions/invoke/${defaultsId}`, { data: {} }, { prefer: 'respond-async' });
      return r.status === 202 ? r.body.invocationId : undefined;
    };
    const faults: string[] = [];
    const exitsBefore = exitCounts();
    const s = await streamThrough(async (phase) => {
      for (const service of KILLS) {
        phase(`kill -9 ${service}`);
        // Invocations of the function with the default retry policy, accepted as the invoker goes down.
        if (service === 'invoker') for (let i = 0; i < 10; i++) duringInvokerRestart.push(acceptDefaults(i * 300));
        const exit = await p.kill(service);
        faults.push(`kill -9 ${service}: ${exit?.signal}`);
        await p.waitReady(service, 60_000).catch((err: Error) => {
          throw new Error(`${service} did not come back within 60 s of its kill -9 (${err.message}); the end of its log:\n${logTail(service)}`);
        });
        await sleep(1500);
      }
      for (const [name, proxy] of Object.entries(proxies)) {
        phase(`cut ${name}`);
        proxy.cut();
        await sleep(CUT_MS);
        proxy.restore();
        faults.push(`cut ${name} for ${CUT_MS} ms`);
        await sleep(2000);
      }
    }, sentSoFar);
    sentSoFar += s.sent;
    const problems = await settleAndCheck(s, faults, exitsBefore, KILLS);
    // With the default policy (3 attempts): an attempt the invoker could not take while it restarted is the platform's
    // doing (unavailable) and does not use up one of them, so every such invocation of a healthy function succeeds.
    const restartIds = (await Promise.all(duringInvokerRestart)).filter((id): id is string => !!id);
    const ends = await Promise.all(restartIds.map((id) => finalView(id, 60_000)));
    report(
      `default retry policy, accepted as the invoker was killed: ${restartIds.length}, ended ${JSON.stringify(
        ends.reduce<Record<string, number>>((acc, v) => ({ ...acc, [v.status]: (acc[v.status] ?? 0) + 1 }), {}),
      )}; attempts ${JSON.stringify(ends.map((v) => v.attempts.map((a) => a.outcome)))}`,
    );
    problems['default retry policy: fewer than 5 accepted as the invoker was killed'] = restartIds.length >= 5 ? [] : [`${restartIds.length}`];
    problems['default retry policy: accepted as the invoker was killed, and not succeeded'] = ends
      .filter((v) => v.status !== 'succeeded')
      .map((v) => `${v.id} ${v.status} ${JSON.stringify(v.attempts.map((a) => a.outcome))}`);
    expect(problems).toEqual(Object.fromEntries(Object.keys(problems).map((k) => [k, []])));
  }, 240_000);

  it('shares the work between two deployers, and the other one takes over when one is killed -9', async () => {
    // A second deployer beside the supervised one, started the way tools/platform.js starts it (same settings).
    const second = await startSecondDeployer(p);
    const replica = second.process;
    try {
      const faults: string[] = [];
      const exitsBefore = exitCounts();
      const s = await streamThrough(async (phase) => {
        phase('two deployers');
        await sleep(4000);
        phase('kill -9 of the second deployer');
        replica.kill('SIGKILL');
        await second.exited;
        faults.push('a second deployer for 5.5 s, then kill -9 of it');
        await sleep(3000);
      }, sentSoFar);
      sentSoFar += s.sent;
      const problems = await settleAndCheck(s, faults, exitsBefore, []);
      expect(problems).toEqual(Object.fromEntries(Object.keys(problems).map((k) => [k, []])));
    } catch (err) {
      throw new Error(`${(err as Error).message}\nthe second deployer's output (its end):\n${second.output()}`);
    } finally {
      replica.kill('SIGKILL');
    }
  }, 180_000);
});
