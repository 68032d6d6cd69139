// What a user writes against hks with a client generated from the gateway's OpenAPI document:
//   npx openapi-typescript http://127.0.0.1:8080/api/v1/functions/swagger-ui-json -o hks-api.d.ts
// test/openapi.e2e-spec.ts generates hks-api.d.ts beside a copy of this file, type-checks it with --strict, and
// runs it against a started platform (HKS_GATEWAY_URL, HKS_API_KEY). It is not part of the repository's build.
import assert from 'node:assert/strict';
import createClient from 'openapi-fetch';
import type { paths } from './hks-api';

const hks = createClient<paths>({
  baseUrl: process.env.HKS_GATEWAY_URL ?? 'http://127.0.0.1:8080',
  headers: { authorization: `Bearer ${process.env.HKS_API_KEY}` },
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The answer's data, or an error with what the platform said. */
function ok<T>(answer: { data?: T; error?: { statusCode: number; message: string }; response: Response }, what: string): T {
  if (answer.error) throw new Error(`${what}: ${answer.error.statusCode} ${answer.error.message}`);
  if (answer.data === undefined) throw new Error(`${what}: ${answer.response.status} without a body`);
  return answer.data;
}

async function main(): Promise<void> {
  const label = `typed-client-${Date.now().toString(36)}`;
  const created = ok(
    await hks.POST('/api/v1/functions', {
      body: {
        label,
        description: 'made with a generated client',
        template: 'typescript',
        runtime: 'node',
        handler: 'export default (data: { name: string }) => ({ greeting: `hello ${data.name}` });',
      },
    }),
    'create',
  );
  assert.equal(created.status, 'CREATED');
  assert.equal(created.label, label);
  const description: string | null = created.description;
  assert.equal(description, 'made with a generated client');
  const id = created.id;

  const build = await hks.POST('/api/v1/functions/build/{id}', { params: { path: { id } } });
  assert.equal(build.response.status, 202);

  let fn = ok(await hks.GET('/api/v1/functions/{id}', { params: { path: { id } } }), 'get');
  for (const deadline = Date.now() + 90_000; fn.status !== 'BUILT'; await sleep(250)) {
    fn = ok(await hks.GET('/api/v1/functions/{id}', { params: { path: { id } } }), 'get');
    const reason: string | null = fn.statusReason;
    if (fn.status === 'FAILED') throw new Error(`the build failed: ${reason}`);
    if (Date.now() > deadline) throw new Error(`still ${fn.status} after 90 s`);
  }
  const digest: string | null | undefined = fn.build?.bundleDigest;
  assert.match(digest ?? '', /^sha256:[0-9a-f]{64}$/);

  const deployment = ok(await hks.POST('/api/v1/functions/deploy/{id}', { params: { path: { id } } }), 'deploy');
  assert.equal(deployment.status, 'READY');
  const url: string | null = deployment.url;
  assert.ok(url, 'a deployed function has a URL');

  const invoked = await hks.POST('/api/v1/functions/invoke/{id}', { params: { path: { id } }, body: { data: { name: 'Alice' } } });
  // A function may answer any status with any body (the document's `default`), so an error is not always the
  // platform's ErrorBody: say what came back.
  if (invoked.error !== undefined) throw new Error(`invoke answered ${invoked.response.status}: ${JSON.stringify(invoked.error)}`);
  assert.deepEqual(invoked.data, { greeting: 'hello Alice' });

  // The invoker records the SUCCESS event once the answer is out: it may take a moment to be queryable.
  for (const deadline = Date.now() + 20_000; ; await sleep(250)) {
    const events = ok(
      await hks.GET('/api/v3/events', { params: { query: { functionId: id, type: 'FUNCTION_INVOCATION', status: 'SUCCESS', order: 'desc' } } }),
      'events',
    );
    const [event] = events.items;
    if (event) {
      assert.equal(event.status, 'SUCCESS');
      const functionId: string | null = event.functionId;
      const took: number | null = event.processingTimeMs;
      assert.equal(functionId, id);
      assert.ok(took !== null && took >= 0, 'the event says how long the invocation took');
      process.stdout.write(
        `${JSON.stringify({ id, label, built: fn.status, digest, deployment: deployment.status, url, event: { id: event.id, status: event.status, processingTimeMs: took } })}\n`,
      );
      return;
    }
    if (Date.now() > deadline) throw new Error(`no SUCCESS event for ${id} after 20 s (${events.total} events)`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
