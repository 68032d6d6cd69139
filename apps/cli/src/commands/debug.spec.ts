import type { DebugSessionView } from '@platform/contracts';
import { attachInstructions, inspectorTargets } from './debug';

const view: DebugSessionView = {
  sessionId: '0123456789abcdef0123456789abcdef',
  functionId: '6f1c2b9e-0000-4000-8000-000000000001',
  label: 'hello-world',
  version: 3,
  runtime: 'node',
  websocketPath: '/api/v1/functions/6f1c2b9e-0000-4000-8000-000000000001/debug/0123456789abcdef0123456789abcdef/ws',
  idleTimeoutMs: 600_000,
  timeoutDisabled: true,
  openedAt: '2026-12-04T19:00:00.000Z',
};

describe('hks function debug --attach', () => {
  it('lists the session as the one inspector target of the local port, as node does at /json/list', () => {
    const [target] = inspectorTargets(view, 9230) as Array<Record<string, string>>;
    expect(target.webSocketDebuggerUrl).toBe(`ws://127.0.0.1:9230/${view.sessionId}`);
    expect(target.devtoolsFrontendUrl).toBe(`devtools://devtools/bundled/js_app.html?experiments=true&v8only=true&ws=127.0.0.1:9230/${view.sessionId}`);
    expect(target.type).toBe('node');
  });

  it('prints how to attach (chrome://inspect, the devtools URL, node inspect) and the header that reaches the debug worker', () => {
    const text = attachInstructions(view, 9229, 'http://127.0.0.1:8080/api/v1/functions/invoke/hello-world');
    expect(text).toContain('chrome://inspect');
    expect(text).toContain(`devtools://devtools/bundled/js_app.html?experiments=true&v8only=true&ws=127.0.0.1:9229/${view.sessionId}`);
    expect(text).toContain('node inspect 127.0.0.1:9229');
    expect(text).toContain(`x-debug-session: ${view.sessionId}`);
    expect(text).toContain('600 s');
  });
});
