// The /ui dashboard in a real browser: Debian's headless chromium driven
// through the DevTools protocol (puppeteer-core; nothing is downloaded).
// Requests sent through the proxy must appear in the page's live list with
// their route and status, a failing provider must show on the health panel,
// the detail must show the captured exchange, and screenshots at 1280 and
// 390 px go to tests/e2e/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';
import { startProxy } from './lib/proxy.mjs';
import { startOpenAIMock } from './lib/mock_openai.mjs';

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const ARTIFACTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'artifacts');
let mock, proxy, admin, browser, page, dir;

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-ui-'));
  // "down/..." requests get a 500: that provider fails.
  mock = await startOpenAIMock((req) => (req.body.model === 'down-model'
    ? { status: 500, body: { error: { message: 'the model server crashed', type: 'server_error' } } }
    : { kind: 'sse', fixture: 'text.sse' }));
  proxy = await startProxy(`
server: {admin_listen: '127.0.0.1:0'}
debug:
  capture: {dir: ${dir}}
providers:
  - name: oa
    format: openai-chat
    base_url: ${mock.url}/v1
    api_key: oa-key-456789
    models: [gpt-test]
  - name: down
    format: openai-chat
    base_url: ${mock.url}/v1
    api_key: down-key-456789
    models: [down-model]
    retry: {attempts: 1}
    breaker: {failures: 1, cooldown_ms: 600000}
router:
  default: oa/gpt-test
`);
  admin = `http://127.0.0.1:${/ccproxy admin listening on http:\/\/[^:]+:(\d+)/.exec(proxy.log())[1]}`;
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.errors = errors;
});
after(async () => {
  await browser?.close();
  await proxy.stop();
  await mock.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const send = (model, user = 'ui') => fetch(`${proxy.url}/v1/messages`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ model, max_tokens: 50, stream: true, metadata: { user_id: user }, messages: [{ role: 'user', content: 'hi' }] }),
}).then(async (r) => { await r.arrayBuffer(); return r; });

test('ui_is_served_embedded_with_a_strict_policy', async () => {
  const r = await fetch(`${admin}/ui`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /text\/html/);
  assert.match(r.headers.get('content-security-policy'), /default-src 'none'/);
  const html = await r.text();
  assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href="(?!data:)|https?:\/\/(?!www\.w3\.org)/, 'nothing fetched from elsewhere');
});

test('ui_lists_requests_live_with_route_and_status', async () => {
  await page.goto(`${admin}/ui`, { waitUntil: 'load' });
  await page.waitForSelector('#conn.live', { timeout: 5000 });
  const ok = await send('claude-x');
  const id = ok.headers.get('request-id');
  // Within 2 s of the answer, the row is there with its route and status.
  const row = await page.waitForSelector(`tr[data-id="${id}"]`, { timeout: 2000 });
  assert.equal(await row.evaluate((e) => e.dataset.status), '200');
  assert.equal(await row.evaluate((e) => e.dataset.route), 'oa/gpt-test');
  const failed = await send('down/down-model');
  assert.equal(failed.status, 500);
  const bad = await page.waitForSelector(`tr[data-id="${failed.headers.get('request-id')}"]`, { timeout: 2000 });
  assert.equal(await bad.evaluate((e) => e.dataset.status), '500');
  assert.equal(await bad.evaluate((e) => e.dataset.route), 'down/down-model');
  assert.deepEqual(page.errors, []);
});

test('ui_health_panel_shows_the_failing_provider', async () => {
  // The panel refreshes every second: the breaker opened by the failure shows.
  await page.waitForFunction(() => {
    const li = document.querySelector('li[data-provider="down"]');
    return li && /breaker open|failing/.test(li.dataset.state);
  }, { timeout: 5000 });
  const good = await page.$eval('li[data-provider="oa"]', (e) => e.dataset.state);
  assert.equal(good, 'healthy');
  for (let i = 0; i < 3; i++) await send('claude-x');
  // The charts have drawn this minute's requests.
  await page.evaluate(() => loadStats());
  const bars = await page.$$eval('#c-requests rect', (r) => r.length);
  assert.equal(bars, 60);
  await page.screenshot({ path: path.join(ARTIFACTS, 'ui-1280.png'), fullPage: true });
});

test('ui_is_keyboard_usable_and_shows_the_capture', async () => {
  // Tab to the first row, open it with Enter: the detail dialog shows the
  // captured exchange; Escape closes it.
  await page.focus('#rows tr');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#detail[open]');
  await page.waitForFunction(() => /upstream_head|Provider answer/.test(document.querySelector('#detail-body').textContent), { timeout: 5000 });
  const text = await page.$eval('#detail-body', (e) => e.textContent);
  assert.match(text, /route/);
  assert.doesNotMatch(text, /oa-key-456789/);
  await page.screenshot({ path: path.join(ARTIFACTS, 'ui-detail-1280.png') });
  await page.keyboard.press('Escape');
  await page.waitForSelector('#detail:not([open])');
  // Every button and the table's header cells have names.
  const unnamed = await page.$$eval('button, svg[role=img]', (els) => els.filter((e) => !(e.textContent.trim() || e.getAttribute('aria-label'))).length);
  assert.equal(unnamed, 0);
});

test('ui_is_readable_at_390_px', async () => {
  await page.setViewport({ width: 390, height: 844, isMobile: true });
  await page.reload({ waitUntil: 'load' });
  await page.waitForSelector('#rows tr');
  // Nothing wider than the screen: no sideways scrolling of the page.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
  await page.screenshot({ path: path.join(ARTIFACTS, 'ui-390.png'), fullPage: true });
});

test('ui_asks_for_the_admin_key_and_sends_it', async () => {
  const KEY = 'ui-admin-key-0123456789';
  const p = await startProxy(`
auth:
  admin_key: ${KEY}
providers:
  - name: oa
    format: openai-chat
    base_url: ${mock.url}/v1
    api_key: oa-key-456789
    models: [gpt-test]
router:
  default: oa/gpt-test
`);
  const pg = await browser.newPage();
  const errors = [];
  pg.on('pageerror', (e) => errors.push(String(e)));
  try {
    await pg.goto(`${p.url}/ui`, { waitUntil: 'load' });
    // The admin fetches got 401: a labelled password field has the focus.
    await pg.waitForSelector('#auth:not([hidden])', { timeout: 5000 });
    assert.equal(await pg.$eval('label[for="admin-key"]', (e) => e.textContent), 'Admin key');
    assert.equal(await pg.$eval('#admin-key', (e) => e.type), 'password');
    assert.equal(await pg.evaluate(() => document.activeElement.id), 'admin-key');
    // A wrong key is refused and asked again; the right one, typed and
    // sent with Enter, brings the live list.
    await pg.keyboard.type('not-the-key-0123456789');
    await pg.keyboard.press('Enter');
    await pg.waitForFunction(() => !document.querySelector('#auth').hidden && /refused/.test(document.querySelector('#auth-msg').textContent), { timeout: 5000 });
    await pg.focus('#admin-key');
    await pg.keyboard.type(KEY);
    await pg.keyboard.press('Enter');
    await pg.waitForSelector('#conn.live', { timeout: 5000 });
    assert.equal(await pg.$eval('#auth', (e) => e.hidden), true);
    const r = await fetch(`${p.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-x', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    await r.arrayBuffer();
    await pg.waitForSelector(`tr[data-id="${r.headers.get('request-id')}"]`, { timeout: 2000 });
    // Kept for the tab: a reload does not ask again.
    assert.equal(await pg.evaluate(() => sessionStorage.getItem('ccproxy-admin-key')), KEY);
    await pg.reload({ waitUntil: 'load' });
    await pg.waitForSelector('#conn.live', { timeout: 5000 });
    assert.equal(await pg.$eval('#auth', (e) => e.hidden), true);
    await pg.screenshot({ path: path.join(ARTIFACTS, 'ui-admin-key.png') });
    assert.deepEqual(errors, []);
  } finally {
    await pg.close();
    const log = await p.stop();
    assert.ok(!log.includes(KEY));
  }
});
