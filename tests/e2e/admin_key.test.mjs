// auth.admin_key: with it set, every admin endpoint (/metrics, /admin/*, the
// data behind /ui) answers 401 authentication_error unless the request holds
// the key (Authorization: Bearer or x-api-key), on the main listener and on
// server.admin_listen alike; the key never reaches a log; `ccproxy status`,
// `reload` and `tail` send it. Without it, auth.mode keys warns at start-up
// that the admin endpoints are open.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startProxy, mockConfig } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';

const BIN = process.env.CCPROXY_BIN;
const KEY = 'adm-0123456789abcdef-secret';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-adminkey-'));
const keyFile = path.join(dir, 'admin.key');
fs.writeFileSync(keyFile, `${KEY}\n`, { mode: 0o600 });

// Every admin row of src/http/app.c, with a request it answers 200 to.
const ADMIN_ROWS = [
  ['GET', '/metrics'],
  ['GET', '/admin/events'],
  ['GET', '/admin/requests'],
  ['GET', '/admin/stats'],
  ['GET', '/admin/capture'],
  ['GET', '/admin/status'],
  ['POST', '/admin/reload'],
  // Proxy keys are off in these configs: with the admin key, 404 "off".
  ['GET', '/admin/keys'],
  ['POST', '/admin/keys'],
  ['POST', '/admin/keys/some-key/revoke'],
];

let mock;
before(async () => { mock = await startMock({ kind: 'json', fixture: 'text.json' }); });
after(async () => {
  await mock.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

// Calls one row; returns the status (the body read, or the feed aborted).
async function call(base, [method, p], headers = {}) {
  const ctl = new AbortController();
  const res = await fetch(`${base}${p}`, {
    method,
    signal: ctl.signal,
    headers: method === 'POST' ? { 'content-type': 'application/json', ...headers } : headers,
    body: method === 'POST' ? '{}' : undefined,
  });
  if (res.status === 401) {
    const body = await res.json();
    assert.deepEqual(Object.keys(body), ['type', 'error']);
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'authentication_error');
    assert.match(body.error.message, /admin key/);
    assert.ok(!JSON.stringify(body).includes(KEY));
  } else if (p === '/admin/events') ctl.abort();
  else await res.arrayBuffer();
  return res.status;
}

// 401 without a key and with a wrong one, anything but 401 with the key in
// either header (capture, off here, answers 404: it got past the key).
async function assertGuarded(base) {
  for (const row of ADMIN_ROWS) {
    const what = row.join(' ');
    assert.equal(await call(base, row), 401, `${what} without a key`);
    assert.equal(await call(base, row, { authorization: 'Bearer wrong-key-0123456789' }), 401, `${what} wrong key`);
    assert.equal(await call(base, row, { 'x-api-key': `${KEY}x` }), 401, `${what} longer key`);
    assert.equal(await call(base, row, { authorization: KEY }), 401, `${what} without Bearer`);
    const want = row[1] === '/admin/capture' || row[1].startsWith('/admin/keys') ? 404 : 200;
    assert.equal(await call(base, row, { authorization: `Bearer ${KEY}` }), want, `${what} Bearer`);
    assert.equal(await call(base, row, { 'x-api-key': KEY }), want, `${what} x-api-key`);
  }
}

test('admin_rows_need_the_admin_key_on_the_main_listener', async () => {
  const p = await startProxy(mockConfig(mock.url, `
server: {log_level: debug}
auth:
  admin_key: \${file:${keyFile}}
`));
  try {
    await assertGuarded(p.url);
    // The key is asked for before anything else is said about the request:
    // a POST without it and without JSON gets 401, not 415.
    const plain = await fetch(`${p.url}/admin/reload`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
    assert.equal(plain.status, 401);
    assert.equal((await plain.json()).error.type, 'authentication_error');
    const keyed = await fetch(`${p.url}/admin/reload`, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-api-key': KEY }, body: 'x' });
    assert.equal(keyed.status, 415);
    await keyed.arrayBuffer();
    // Client rows do not ask for it; /ui is a static shell (its data does).
    for (const u of ['/health', '/status', '/v1/models', '/ui']) {
      assert.equal((await fetch(`${p.url}${u}`)).status, 200, u);
    }
    const res = await fetch(`${p.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ model: 'mock-model', max_tokens: 5, messages: [{ role: 'user', content: `say ${KEY}` }] }),
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  } finally {
    const log = await p.stop();
    assert.ok(!log.includes(KEY), 'the admin key must never be logged');
  }
});

test('admin_rows_need_the_admin_key_on_the_admin_listener', async () => {
  const p = await startProxy(mockConfig(mock.url, `
server: {admin_listen: '127.0.0.1:0'}
auth:
  admin_key: \${ADMIN_KEY}
`), { env: { ADMIN_KEY: KEY } });
  try {
    const admin = `http://127.0.0.1:${/ccproxy admin listening on http:\/\/[^:]+:(\d+)/.exec(p.log())[1]}`;
    await assertGuarded(admin);
    // Not on the main listener at all.
    assert.equal((await fetch(`${p.url}/admin/stats`, { headers: { authorization: `Bearer ${KEY}` } })).status, 404);
  } finally {
    const log = await p.stop();
    assert.ok(!log.includes(KEY));
  }
});

test('keys_mode_without_an_admin_key_warns_that_the_admin_endpoints_are_open', async () => {
  const state = path.join(dir, 'state.db');
  const open = await startProxy(mockConfig(mock.url, `auth:\n  mode: keys\nstate:\n  path: ${state}\n`));
  const status = await (await fetch(`${open.url}/status`)).json();
  await open.stop();
  assert.match(open.log(), /ADMIN OPEN/);
  assert.equal(status.warnings.length, 1);
  assert.match(status.warnings[0], /auth\.admin_key/);
  for (const extra of [`  admin_key: \${file:${keyFile}}\n`, '']) {
    const server = extra ? '' : "server: {admin_listen: '127.0.0.1:0'}\n";
    const p = await startProxy(mockConfig(mock.url, `${server}auth:\n  mode: keys\n${extra}state:\n  path: ${state}\n`));
    const log = await p.stop();
    assert.doesNotMatch(log, /ADMIN OPEN/);
  }
});

test('a_short_admin_key_is_refused_without_quoting_it', () => {
  const cfg = path.join(dir, 'short.yaml');
  fs.writeFileSync(cfg, mockConfig(mock.url, 'auth:\n  admin_key: abc1234\n'));
  const r = spawnSync(BIN, ['check', '--config', cfg], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr + r.stdout, /admin_key/);
  assert.ok(!(r.stderr + r.stdout).includes('abc1234'));
});

test('status_reload_and_tail_send_the_admin_key', async () => {
  const home = fs.mkdtempSync(path.join(dir, 'svc-'));
  const cfg = path.join(home, 'ccproxy.yaml');
  fs.writeFileSync(cfg, `server:\n  port: 0\n  admin_listen: '127.0.0.1:0'\nauth:\n  admin_key: \${file:${keyFile}}\n${mockConfig(mock.url)}`);
  const env = { PATH: process.env.PATH, HOME: home, XDG_STATE_HOME: path.join(home, 'state'), ASAN_OPTIONS: 'detect_leaks=1' };
  const run = (args, extra = {}) => spawnSync(BIN, args, { env: { ...env, ...extra }, encoding: 'utf8', timeout: 60000 });
  let r = run(['start', '--config', cfg, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const st = JSON.parse(r.stdout);
  try {
    r = run(['status', '--config', cfg], { NO_COLOR: '1' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /running/);
    r = run(['reload', '--config', cfg]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /reloaded/);
    // A wrong key in the environment wins over the config's, and is refused.
    r = run(['reload', '--config', cfg], { CCPROXY_ADMIN_KEY: 'wrong-key-0123456789' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /refused the admin key/);
    assert.ok(!r.stderr.includes(KEY));

    const admin = JSON.parse(run(['status', '--config', cfg, '--json']).stdout).admin_url
      ?? `http://${/admin listening on http:\/\/([^\s]+)/.exec(fs.readFileSync(st.log, 'utf8'))[1]}`;
    // tail: refused without the key, follows with CCPROXY_ADMIN_KEY.
    r = run(['tail', '--url', admin, '--count', '1']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /401/);
    const t = spawn(BIN, ['tail', '--url', admin, '--count', '1'], { env: { ...env, CCPROXY_ADMIN_KEY: KEY } });
    let out = '', err = '';
    t.stdout.on('data', (d) => { out += d; });
    const following = new Promise((res) => t.stderr.on('data', (d) => { err += d; if (/following/.test(err)) res(); }));
    const done = new Promise((res) => t.on('close', res));
    await following;
    const res = await fetch(`${st.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mock-model', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
    });
    await res.arrayBuffer();
    assert.equal(await done, 0, err);
    assert.match(out, / 200 /);
  } finally {
    r = run(['stop', '--config', cfg]);
    assert.equal(r.status, 0, r.stderr);
    const log = fs.readFileSync(st.log, 'utf8');
    assert.ok(!log.includes(KEY), 'the admin key must never be logged');
    assert.ok(!/Sanitizer|runtime error/.test(log), log);
  }
});
