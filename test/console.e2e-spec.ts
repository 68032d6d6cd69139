import { mkdirSync } from 'fs';
import * as path from 'path';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import { api, RunningPlatform, startPlatform } from './support/platform';
import { until } from './support/invocations';

/** Debian's chromium (scripts/setup installs it); playwright-core brings no browser of its own. */
const CHROMIUM = process.env.HKS_CHROMIUM ?? '/usr/bin/chromium';
/** Screenshots of every page, to look at by eye; kept out of the repository. */
const SHOTS = process.env.HKS_CONSOLE_SHOTS ?? '/tmp/console-shots';

const handler = (v: number) =>
  [
    'module.exports = (data) => {',
    `  console.log('console test v${v} greets', data && data.name);`,
    `  return { hello: (data && data.name) || 'world', v: ${v} };`,
    '};',
    '',
  ].join('\n');

/**
 * The web console at /console/, driven in headless chromium through playwright-core against the six services as
 * processes: sign in with the key, create a function, build and deploy it watching the log, invoke it and see the
 * invocation arrive live, edit and redeploy, watch the stats, roll back and split traffic; errors of the API show
 * next to the field that caused them.
 */
describe('web console', () => {
  let p: RunningPlatform;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const problems: string[] = [];
  let functionId: string;

  const shot = async (name: string, on: Page = page) => {
    await on.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  };
  const fnUrl = (tab: string) => `${p.gatewayUrl}/console/functions/${functionId}/${tab}`;
  /** Replaces the text of the CodeMirror editor `id` by selecting all and pasting (typing would auto-indent and close brackets). */
  async function typeCode(on: Page, id: string, code: string): Promise<void> {
    const selector = `[data-testid="${id}-editor"] .cm-content`;
    await on.locator(selector).click();
    await on.keyboard.press('Control+A');
    await on.evaluate(
      `(() => { const data = new DataTransfer(); data.setData('text/plain', ${JSON.stringify(code)});
        document.querySelector(${JSON.stringify(selector)}).dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true })); })()`,
    );
    await until(async () => ((await on.locator(selector).textContent())?.includes(code.split('\n')[0]) ? true : undefined), 'the pasted code', 10_000);
  }
  /** Signs in on a page that shows the login screen (a new tab has no key: it is kept per tab). */
  async function signIn(on: Page): Promise<void> {
    await on.getByLabel('API key').fill(p.adminKey);
    await on.getByLabel('API key').press('Enter');
  }
  function watch(on: Page): void {
    on.on('console', (m) => {
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`console error: ${m.text()}`);
    });
    on.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  }
  const newPage = async () => {
    const pg = await context.newPage();
    watch(pg);
    return pg;
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    p = await startPlatform();
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    // A laptop screen.
    context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    context.setDefaultTimeout(60_000);
    page = await newPage();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await p?.stop();
  }, 60_000);

  it('serves the built console with a strict Content-Security-Policy, an SPA fallback and no key, while the API still needs one', async () => {
    const index = await fetch(`${p.gatewayUrl}/console/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await index.text();
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const js = await fetch(p.gatewayUrl + script!);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toContain('immutable');
    // A route of the app is index.html; a missing asset is not.
    const route = await fetch(`${p.gatewayUrl}/console/functions/abc/stats`);
    expect(route.status).toBe(200);
    expect(await route.text()).toContain(script);
    // The code editor's <style> elements may carry this page's nonce, and nothing else inline.
    const nonce = /<meta name="hks-style-nonce" content="([^"]+)"/.exec(html)?.[1];
    expect(index.headers.get('content-security-policy')).toContain(`style-src 'self' 'nonce-${nonce}'`);
    expect(route.headers.get('content-security-policy')).not.toContain(`nonce-${nonce}`);
    expect((await fetch(`${p.gatewayUrl}/console/assets/missing-0000.js`)).status).toBe(404);
    expect((await fetch(`${p.gatewayUrl}/console`, { redirect: 'manual' })).headers.get('location')).toBe('/console/');
    expect((await fetch(`${p.gatewayUrl}/console/`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${p.gatewayUrl}/console/..%2f..%2fpackage.json`)).status).toBe(404);
    // The files are public; the API they call is not.
    expect((await api(p.gatewayUrl, 'GET', '/api/v1/functions')).status).toBe(401);
  });

  it('signs in with the key, refusing a wrong one where it was typed', async () => {
    await page.goto(`${p.gatewayUrl}/console/`);
    await shot('01-login');
    await page.getByLabel('API key').fill('hks_wrong-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toContain('401: The API key is not valid');
    await page.getByLabel('API key').fill(p.adminKey);
    // Keyboard only: Enter submits the form.
    await page.getByLabel('API key').press('Enter');
    await page.getByRole('heading', { name: 'Functions' }).waitFor();
    expect(await page.evaluate("sessionStorage.getItem('hks.apiKey')")).toBe(p.adminKey);
  }, 60_000);

  it('shows the API error of a bad label where the function is created, then creates it', async () => {
    await page.getByRole('link', { name: 'New function' }).first().click();
    await page.getByLabel('Label').fill('Bad Label');
    await page.getByRole('button', { name: 'Create function' }).click();
    // Next to the field it names, as the API said it.
    await expect(page.locator('#label-error').textContent()).resolves.toMatch(/^label must start with a lowercase letter/);
    expect(await page.getByLabel('Label').getAttribute('aria-invalid')).toBe('true');
    await shot('02-new-function-error');

    await page.getByLabel('Label').fill('hello-console');
    await page.getByLabel('Runtime').selectOption('node');
    await typeCode(page, 'new-code', handler(1));
    await page.getByRole('button', { name: 'Create function' }).click();
    await page.getByRole('button', { name: 'Build and deploy v1' }).waitFor();
    functionId = /\/console\/functions\/([^/]+)\/build$/.exec(new URL(page.url()).pathname)![1];
    const created = await api<{ label: string; handler: string }>(p.gatewayUrl, 'GET', `/api/v1/functions/${functionId}`, undefined, {
      'x-api-key': p.adminKey,
    });
    expect(created.body).toMatchObject({ label: 'hello-console', handler: handler(1) });
  }, 60_000);

  /** Builds and deploys from the build page, recording what the page shows as it goes: the build's status and its log. */
  async function buildAndDeploy(version: number): Promise<Array<{ status: string; log: string }>> {
    await page.goto(fnUrl('build'));
    await page.getByRole('button', { name: `Build and deploy v${version}` }).click();
    const seen: Array<{ status: string; log: string }> = [];
    const log = page.getByTestId('build-log');
    const heading = page.getByRole('heading', { name: /Build of v/ });
    await until(
      async () => {
        const text = (await log.count()) ? await log.textContent() : null;
        const status = /QUEUED|RUNNING|SUCCEEDED|FAILED/.exec((await heading.count()) ? ((await heading.textContent()) ?? '') : '')?.[0];
        const last = seen[seen.length - 1];
        if (text !== null && status && (last?.log !== text || last.status !== status)) seen.push({ status, log: text });
        const deployed = page.getByTestId('deployment');
        return (await deployed.count()) && /READY/.test((await deployed.textContent()) ?? '') ? true : undefined;
      },
      `v${version} to be built and deployed from the console`,
      110_000,
    );
    return seen;
  }

  it('builds and deploys, showing the build while it runs and its log as the builder writes it', async () => {
    const seen = await buildAndDeploy(1);
    process.stdout.write(`console build log readings: ${seen.map((s) => `${s.status}/${s.log.split('\n').length} lines`).join(', ')}\n`);
    const final = seen[seen.length - 1];
    expect(final.status).toBe('SUCCEEDED');
    expect(final.log.split('\n').filter((l) => l.trim()).length).toBeGreaterThan(1);
    // The page showed the build while it ran, then the log grew to its end: every earlier reading is a beginning of the final one.
    expect(seen.some((s) => s.status === 'QUEUED' || s.status === 'RUNNING')).toBe(true);
    expect(seen.length).toBeGreaterThan(1);
    for (const s of seen.slice(0, -1)) if (s.log !== '(no output yet)') expect(final.log.startsWith(s.log)).toBe(true);
    expect(await page.getByRole('heading', { name: /Build of v1/ }).textContent()).toContain('SUCCEEDED');
    await shot('03-build-deploy');
  }, 120_000);

  it('invokes the function and sees the response, headers, duration and cold start, and the invocation arrives live with its logs', async () => {
    const live = await newPage();
    await live.goto(fnUrl('live'));
    await signIn(live);
    await until(async () => ((await live.getByTestId('stream-state').textContent()) === 'live' ? true : undefined), 'the event stream to open', 30_000);

    await page.goto(fnUrl('invoke'));
    await typeCode(page, 'payload', '{"data": {"name": "Alice"}}');
    await page.getByRole('button', { name: 'Invoke' }).click();
    await page.getByTestId('invoke-status').waitFor();
    expect(await page.getByTestId('invoke-status').textContent()).toBe('200');
    expect(JSON.parse((await page.getByTestId('invoke-body').textContent())!)).toEqual({ hello: 'Alice', v: 1 });
    expect(await page.getByTestId('invoke-cold').textContent()).toMatch(/^(true|false)$/);
    expect(await page.getByTestId('invoke-duration').textContent()).toMatch(/ms round trip/);
    expect(await page.getByRole('row', { name: /x-invocation-id/ }).count()).toBe(1);
    await shot('04-invoke');

    const arrived = live.locator('tr[data-type="invocation.succeeded"]');
    await arrived.first().waitFor({ timeout: 30_000 });
    await arrived.first().getByRole('button').click();
    await expect(live.getByTestId('event-logs').first().textContent()).resolves.toContain('console test v1 greets Alice');
    await shot('05-live-invocations', live);
    await live.close();
  }, 90_000);

  it('shows the API error of a bad config field next to that field, and saves nothing', async () => {
    await page.goto(fnUrl('code'));
    await page.getByLabel('Memory (MB)').fill('1');
    await page.getByRole('button', { name: 'Save' }).click();
    const fieldError = page.locator('#memoryMb-error');
    await expect(fieldError.textContent()).resolves.toMatch(/^400: .*memoryMb/);
    expect(await page.getByLabel('Memory (MB)').getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#save-error').textContent()).toMatch(/memoryMb/);
    await shot('06-config-error-from-the-api');
    // Checked in the form before the API: a number that is not one.
    await page.getByLabel('Timeout (ms)', { exact: true }).fill('soon');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect(page.locator('#timeoutMs-error').textContent()).resolves.toContain('whole number');
    await shot('06-config-error-in-the-form');
    const after = await api<{ version: number }>(p.gatewayUrl, 'GET', `/api/v1/functions/${functionId}`, undefined, { 'x-api-key': p.adminKey });
    expect(after.body.version).toBe(1);
  }, 60_000);

  it('edits the code and redeploys: the new version answers', async () => {
    await page.goto(fnUrl('code'));
    await typeCode(page, 'code', handler(2));
    await page.getByRole('button', { name: 'Save' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Saved' }).textContent()).resolves.toContain('Saved as version 2');
    await shot('07-code-config');
    await buildAndDeploy(2);
    await page.goto(fnUrl('invoke'));
    await page.getByRole('button', { name: 'Invoke' }).click();
    await until(async () => ((await page.getByTestId('invoke-body').count()) ? true : undefined), 'the answer', 30_000);
    expect(JSON.parse((await page.getByTestId('invoke-body').textContent())!)).toEqual({ hello: 'Alice', v: 2 });
  }, 150_000);

  it('draws the stats over the chosen period and updates them as invocations come in', async () => {
    await page.goto(fnUrl('stats'));
    const count = async () => Number(await page.getByTestId('stat-invocations').textContent());
    await until(
      async () => ((await page.getByTestId('stat-invocations').count()) && (await count()) >= 2 ? true : undefined),
      'the two invocations in the stats',
      60_000,
    );
    const before = await count();
    const chart = page.locator('figure.chart svg').first();
    const drawn = async () => Number(await chart.getAttribute('data-total'));
    expect(await drawn()).toBe(before);
    for (let i = 0; i < 3; i++) {
      const r = await api(p.gatewayUrl, 'POST', `/api/v1/functions/invoke/${functionId}`, { data: { name: `n${i}` } }, { 'x-api-key': p.adminKey });
      expect(r.status).toBe(200);
    }
    // The page refreshes itself every 5 s.
    await until(async () => ((await count()) >= before + 3 ? true : undefined), 'the stats to count the new invocations', 60_000);
    // The chart of invocations per bucket draws them too.
    await until(async () => ((await drawn()) === before + 3 ? true : undefined), 'the chart to draw the new invocations', 30_000);
    expect(Number(await chart.getAttribute('data-points'))).toBeGreaterThan(0);
    await page.getByLabel('Period').selectOption('1h');
    await until(async () => ((await count()) >= before + 3 ? true : undefined), 'the stats of the last hour', 30_000);
    await shot('08-stats');

    // The list shows the same figures at a glance.
    await page.getByRole('link', { name: 'Functions', exact: true }).click();
    const row = page.locator('tr[data-label="hello-console"]');
    await expect(row.getByTestId('invocations').textContent()).resolves.toBe(String(before + 3));
    expect(await row.textContent()).toContain('READY');
    await shot('09-function-list');

    // Keyboard only: Tab reaches the function's link (the skip link, the header, the buttons come first), Enter opens it.
    let focused = '';
    for (let i = 0; i < 20 && focused !== 'hello-console'; i++) {
      await page.keyboard.press('Tab');
      focused = String(await page.evaluate('document.activeElement && document.activeElement.textContent'));
    }
    expect(focused).toBe('hello-console');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'hello-console' }).waitFor();
    expect(await page.getByRole('link', { name: 'Code & config' }).getAttribute('aria-current')).toBe('page');
  }, 120_000);

  it('lists the versions, rolls back to v1 and splits the traffic', async () => {
    await page.goto(fnUrl('versions'));
    await page.getByRole('button', { name: 'Roll back to v1' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Rolled back' }).textContent()).resolves.toContain('version 1 is READY');
    await page.getByLabel('v1 (%)').fill('60');
    await page.getByLabel('v2 (%)').fill('30');
    await page.getByRole('button', { name: 'Apply split' }).click();
    await expect(page.locator('#split-error').textContent()).resolves.toContain('add up to 90');
    await page.getByLabel('v2 (%)').fill('40');
    await page.getByRole('button', { name: 'Apply split' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Traffic' }).textContent()).resolves.toContain('v1 60 %');
    const traffic = await api<{ splits: unknown[] }>(p.gatewayUrl, 'GET', `/api/v1/functions/${functionId}/traffic`, undefined, { 'x-api-key': p.adminKey });
    expect(traffic.body.splits).toEqual(
      expect.arrayContaining([
        { version: 1, percent: 60 },
        { version: 2, percent: 40 },
      ]),
    );
    await shot('10-versions-traffic');
  }, 120_000);

  it('shows every event live on the events page, and broke no Content-Security-Policy rule on the way', async () => {
    await page.getByRole('link', { name: 'Live events' }).click();
    await until(async () => ((await page.getByTestId('stream-state').textContent()) === 'live' ? true : undefined), 'the event stream to open', 30_000);
    await api(p.gatewayUrl, 'POST', `/api/v1/functions/invoke/${functionId}`, { data: { name: 'Bob' } }, { 'x-api-key': p.adminKey });
    await page.locator('tr.live[data-type="invocation.succeeded"]').first().waitFor({ timeout: 30_000 });
    await shot('11-live-events');
    expect(problems).toEqual([]);
  }, 60_000);
});
