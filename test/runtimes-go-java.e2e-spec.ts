import type { BuildView, EventPage, FunctionView, PlatformEvent } from '@platform/contracts';
import { api, RunningPlatform, startPlatform } from './support/platform';

const GO_HANDLER = `package function

import (
	"context"
	"fmt"

	"hexabase.io/hks"
)

func Handle(ctx context.Context, req hks.Request) (hks.Response, error) {
	var name string
	if _, err := req.Get("name", &name); err != nil {
		return hks.Response{}, err
	}
	hks.Logger(ctx).Printf("greeting %s", name)
	fmt.Println("printed with fmt")
	if name == "nobody" {
		return hks.Response{}, fmt.Errorf("cannot greet %s", name)
	}
	secret, err := hks.GetSecret(ctx, "GREETING_WORD")
	if err != nil {
		return hks.Response{}, err
	}
	return hks.JSON(200, map[string]any{"greeting": secret + " " + name, "invocationId": hks.InvocationID(ctx), "left": hks.RemainingTime(ctx).Milliseconds() > 0})
}
`;

const GO_HTTP_HANDLER = `package function

import (
	"encoding/json"
	"net/http"
)

func Handle(w http.ResponseWriter, r *http.Request) {
	var in map[string]string
	_ = json.NewDecoder(r.Body).Decode(&in)
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(201)
	_, _ = w.Write([]byte(r.Method + " hi " + in["name"]))
}
`;

const JAVA_HANDLER = `import hks.*;
import java.util.Map;

public class Handler implements hks.Handler {
  public Response handle(Request req, Context ctx) {
    Object name = req.get("name");
    ctx.getLogger().log("greeting " + name);
    System.out.println("printed with System.out");
    if ("nobody".equals(name)) throw new IllegalArgumentException("cannot greet " + name);
    return Response.json(Map.of("greeting", ctx.getSecret("GREETING_WORD") + " " + name, "invocationId", ctx.getInvocationId(), "left", ctx.getRemainingTimeInMillis() > 0));
  }
}
`;

/**
 * Go and Java functions through the public API, the six services as processes: create, build (the SDK, the
 * toolchains from Debian), deploy, invoke, logs and events; a compile error is a failed build naming the compiler's
 * file and line.
 */
describe('Go and Java functions end to end', () => {
  let p: RunningPlatform;
  const call = <T = Record<string, unknown>>(method: string, url: string, body?: unknown) =>
    api<T>(p.gatewayUrl, method, url, body, { authorization: `Bearer ${p.adminKey}` });

  async function waitForStatus(id: string, wanted: string[], timeoutMs = 240_000): Promise<FunctionView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await call<FunctionView>('GET', `/api/v1/functions/${id}`);
      if (wanted.includes(r.body?.status)) return r.body;
      if (Date.now() > deadline) throw new Error(`function ${id} still ${r.body?.status} (wanted ${wanted.join('/')})`);
      await new Promise((res) => setTimeout(res, 250));
    }
  }

  async function eventsOf(functionId: string, query: string, atLeast = 1, timeoutMs = 20_000): Promise<EventPage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await call<EventPage>('GET', `/api/v3/events?functionId=${functionId}${query}`);
      if (r.status === 200 && r.body.items.length >= atLeast) return r.body;
      if (Date.now() > deadline) throw new Error(`only ${r.body?.items?.length} events for ${functionId}${query}: ${r.text}`);
      await new Promise((res) => setTimeout(res, 250));
    }
  }

  async function createBuildDeploy(body: Record<string, unknown>): Promise<{ id: string; build: BuildView }> {
    const created = await call<FunctionView>('POST', '/api/v1/functions', body);
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect((await call('POST', `/api/v1/functions/build/${id}`)).status).toBe(202);
    const built = await waitForStatus(id, ['BUILT', 'FAILED']);
    if (built.status !== 'BUILT') throw new Error(`the build of ${String(body.label)} failed: ${built.statusReason}`);
    const builds = await call<BuildView[]>('GET', `/api/v1/functions/${id}/builds`);
    const build = await call<BuildView>('GET', `/api/v1/functions/${id}/builds/${builds.body[0].id}`);
    expect([200, 202]).toContain((await call('POST', `/api/v1/functions/deploy/${id}`)).status);
    await waitForStatus(id, ['READY']);
    return { id, build: build.body };
  }

  async function failedBuild(body: Record<string, unknown>): Promise<{ view: FunctionView; log: string }> {
    const created = await call<FunctionView>('POST', '/api/v1/functions', body);
    expect(created.status).toBe(201);
    const id = created.body.id;
    await call('POST', `/api/v1/functions/build/${id}`);
    const view = await waitForStatus(id, ['FAILED', 'BUILT']);
    const builds = await call<BuildView[]>('GET', `/api/v1/functions/${id}/builds`);
    const build = await call<BuildView>('GET', `/api/v1/functions/${id}/builds/${builds.body[0].id}`);
    expect((await call('POST', `/api/v1/functions/deploy/${id}`)).status).toBe(409);
    return { view, log: build.body.log ?? '' };
  }

  /** Invokes with the data, checks the answer and the SUCCESS event with the handler's logs tagged with its invocation id. */
  async function invokeAndCheck(id: string, printed: string): Promise<void> {
    const r = await call('POST', `/api/v1/functions/invoke/${id}`, { data: { name: 'Alice' } });
    expect(r.status).toBe(200);
    const invocationId = r.headers.get('x-invocation-id');
    expect(r.body).toEqual({ greeting: 'hello Alice', invocationId, left: true });
    const page = await eventsOf(id, `&invocationId=${invocationId}`);
    const event = page.items[0] as PlatformEvent;
    expect(event).toMatchObject({ type: 'FUNCTION_INVOCATION', status: 'SUCCESS', functionId: id, invocationId, payload: { name: 'Alice' } });
    // An HTTP response (hks.JSON, Response.json) is recorded as one.
    const response = event.response as { statusCode: number; body: string };
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ greeting: 'hello Alice' });
    const logs = String((event.metadata as Record<string, unknown>)?.logs ?? '');
    expect(logs).toContain(`[${invocationId}] INFO greeting Alice`);
    expect(logs).toContain(printed);

    const failed = await call('POST', `/api/v1/functions/invoke/${id}`, { data: { name: 'nobody' } });
    expect(failed.status).toBe(500);
    expect(failed.body.message).toContain('cannot greet nobody');
    const failures = await eventsOf(id, '&status=FAILURE');
    expect(failures.items[0].error).toContain('cannot greet nobody');
    // The worker survives a failed invocation.
    expect((await call('POST', `/api/v1/functions/invoke/${id}`, { data: { name: 'Bob' } })).body).toMatchObject({ greeting: 'hello Bob' });
  }

  beforeAll(async () => {
    p = await startPlatform({ INVOKER_PENDING_EVENT_AFTER_MS: '60000' });
    expect((await call('PUT', '/api/v1/secrets/greeting', { values: { value: 'hello' } })).status).toBeLessThan(300);
  }, 180_000);

  afterAll(async () => {
    await p?.stop();
  }, 60_000);

  it('builds a Go handler into a binary and runs it: answer, logs, events, a failure, the secret', async () => {
    const { id, build } = await createBuildDeploy({
      label: 'go-greeter',
      runtime: 'go',
      handler: GO_HANDLER,
      config: { secrets: [{ env: 'GREETING_WORD', secret: 'greeting' }] },
    });
    expect(build.log).toContain('go build');
    expect(build.bundleDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    await invokeAndCheck(id, 'printed with fmt');
  }, 300_000);

  it('runs a Go net/http handler', async () => {
    const { id } = await createBuildDeploy({ label: 'go-http', runtime: 'go', handler: GO_HTTP_HANDLER });
    const r = await call('POST', `/api/v1/functions/invoke/${id}`, { data: { name: 'Carol' } });
    expect(r.status).toBe(201);
    expect(r.text).toBe('POST hi Carol');
    expect(r.headers.get('content-type')).toContain('text/plain');
  }, 300_000);

  it("fails a Go build that does not compile with the compiler's file:line", async () => {
    const { view, log } = await failedBuild({ label: 'go-broken', runtime: 'go', handler: GO_HANDLER.replace('return hks.JSON(', 'return hks.JSONN(') });
    expect(view.status).toBe('FAILED');
    expect(view.statusReason).toMatch(/^build failed: go build failed: \.\/handler\.go:24:\d+: undefined: hks\.JSONN/);
    expect(log).toMatch(/\.\/handler\.go:24:\d+: undefined: hks\.JSONN/);
  }, 300_000);

  it('builds a Java handler class and runs it in a prewarmed JVM: answer, logs, events, a failure, the secret', async () => {
    const { id, build } = await createBuildDeploy({
      label: 'java-greeter',
      runtime: 'java',
      handler: JAVA_HANDLER,
      config: { secrets: [{ env: 'GREETING_WORD', secret: 'greeting' }] },
    });
    expect(build.log).toContain('javac');
    await invokeAndCheck(id, 'printed with System.out');
  }, 300_000);

  it("fails a Java build that does not compile with javac's file:line", async () => {
    const { view, log } = await failedBuild({ label: 'java-broken', runtime: 'java', handler: JAVA_HANDLER.replace('Response.json(', 'Response.jsn(') });
    expect(view.status).toBe('FAILED');
    expect(view.statusReason).toBe('build failed: javac failed: Handler.java:10: error: cannot find symbol');
    expect(log).toContain('Handler.java:10: error: cannot find symbol');
  }, 300_000);
});
