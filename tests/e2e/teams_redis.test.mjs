// Several ccproxy instances sharing one key's limits through a real Redis
// (Debian's redis-server, started here on a free port with its own temp
// dir): across two instances exactly the limit is admitted; with Redis
// killed, fail_closed refuses (529) and fail_open admits, with a log line
// and a metric; when Redis returns, the shared limit works again.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { startProxy, mockConfig } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';

const BIN = process.env.CCPROXY_BIN;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-redis-'));
const state = path.join(dir, 'state.db');
const cleanups = [];
let redis = null;
let redisPort = 0;

async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

// Starts redis-server on redisPort and waits until it accepts connections.
async function startRedis() {
  const proc = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', dir,
    '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${out}`)), 10000);
    const check = () => {
      if (/Ready to accept connections/.test(out)) { clearTimeout(timer); resolve(); } else setTimeout(check, 20);
    };
    check();
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`redis-server exited ${code}:\n${out}`)); });
  });
  return proc;
}
async function stopRedis() {
  if (!redis) return;
  const exited = new Promise((r) => redis.on('exit', r));
  redis.kill('SIGKILL');
  await exited;
  redis = null;
}

function cli(args) {
  return spawnSync(BIN, [...args, '--state', state], { env: { PATH: process.env.PATH, HOME: dir }, encoding: 'utf8' });
}

const req = { model: 'mock-model', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] };
let mock, a, b, open, key;

before(async () => {
  redisPort = await freePort();
  redis = await startRedis();
  mock = await startMock({ kind: 'json', fixture: 'text.json' });
  key = JSON.parse(cli(['keys', 'create', '--name', 'shared', '--rpm', '3', '--json']).stdout);
  const cfg = (mode) => mockConfig(mock.url, `
auth:
  mode: keys
state:
  path: ${state}
  redis: redis://127.0.0.1:${redisPort}/2
  redis_failure: ${mode}
server:
  metrics: true
`);
  a = await startProxy(cfg('fail_closed'));
  b = await startProxy(cfg('fail_closed'));
  open = await startProxy(cfg('fail_open'));
  cleanups.push(() => mock.close(), () => a.stop(), () => b.stop(), () => open.stop());
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
  await stopRedis();
  fs.rmSync(dir, { recursive: true, force: true });
});

const client = (p, apiKey = key.key) => new Anthropic({ baseURL: p.url, apiKey, maxRetries: 0 });
const statusOf = (promise) => promise.then(() => 200, (e) => e.status ?? e);

test('two_instances_sharing_one_keys_rpm_admit_exactly_the_limit_across_both', async () => {
  const results = [];
  for (let i = 0; i < 8; i++) results.push(await statusOf(client(i % 2 ? b : a).messages.create(req)));
  assert.equal(results.filter((s) => s === 200).length, 3, results.join(','));
  assert.equal(results.filter((s) => s === 429).length, 5, results.join(','));
  const err = await client(a).messages.create(req).catch((e) => e);
  assert.equal(err.status, 429);
  assert.equal(err.error.error.type, 'rate_limit_error');
  assert.match(err.error.error.message, /3 requests per minute/);
  assert.equal(err.headers.get('anthropic-ratelimit-requests-limit'), '3');
  assert.equal(err.headers.get('anthropic-ratelimit-requests-remaining'), '0');
  assert.ok(Number(err.headers.get('retry-after')) >= 1);
  // Every admitted request is in usage and audit once (both instances
  // write the one state file).
  for (let i = 0; ; i++) {
    const rows = JSON.parse(cli(['usage', '--json']).stdout);
    if (rows.reduce((n, r) => n + r.requests, 0) === 3) break;
    assert.ok(i < 200, 'usage rows did not arrive');
    await new Promise((r) => setTimeout(r, 25));
  }
  const audit = cli(['audit', 'export']).stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(audit.filter((r) => r.kind === 'request').length, 3);
  assert.equal(cli(['audit', 'verify']).status, 0);
});

test('redis_killed_mid_run_fails_closed_or_open_as_configured_then_recovers', async () => {
  const other = JSON.parse(cli(['keys', 'create', '--name', 'other', '--rpm', '100', '--json']).stdout);
  for (let i = 0; ; i++) { // the proxies pick the key up within poll_ms
    if (await statusOf(client(a, other.key).messages.create(req)) === 200) break;
    assert.ok(i < 200);
    await new Promise((r) => setTimeout(r, 25));
  }
  await stopRedis();
  const closed = await client(a, other.key).messages.create(req).catch((e) => e);
  assert.equal(closed.status, 529);
  assert.equal(closed.error.error.type, 'overloaded_error');
  assert.match(closed.error.error.message, /state\.redis.*fail_closed/);
  for (let i = 0; ; i++) { // the open instance sees the failure on its own connection
    if (await statusOf(client(open, other.key).messages.create(req)) === 200) break;
    assert.ok(i < 200);
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.match(a.log(), /error .*state\.redis 127\.0\.0\.1:\d+ unreachable/);
  const metrics = await (await fetch(`${a.url}/metrics`)).text();
  assert.match(metrics, /^ccproxy_redis_failures_total [1-9]\d*$/m);
  redis = await startRedis();
  // Reconnects (at most once a second) and admits again.
  for (let i = 0; ; i++) {
    if (await statusOf(client(a, other.key).messages.create(req)) === 200) break;
    assert.ok(i < 400, 'no recovery after Redis came back');
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.match(a.log(), /state\.redis 127\.0\.0\.1:\d+ (connected|reachable again)/);
});

// A key's tokens per minute are one bucket in Redis for every instance:
// each answer uses 1000 tokens of a 1500 tpm key, so the second request
// (on the other instance) is admitted and the third, on either, is not.
// Between requests the test waits for the end-of-request reconciliation
// to reach Redis (it is sent after the answer).
test('two_instances_share_one_keys_tokens_per_minute_reconciled_in_redis', async () => {
  const ev = (type, data) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const sse = ev('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'mock-model', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 990, output_tokens: 1 } } })
    + ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } })
    + ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hello' } })
    + ev('content_block_stop', { index: 0 })
    + ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 10 } })
    + ev('message_stop', {});
  const m = await startMock({ kind: 'raw', status: 200, headers: { 'content-type': 'text/event-stream' }, body: sse });
  const k = JSON.parse(cli(['keys', 'create', '--name', 'tokens', '--tpm', '1500', '--json']).stdout);
  const cfg = mockConfig(m.url, `
auth:
  mode: keys
state:
  path: ${state}
  poll_ms: 20
  redis: redis://127.0.0.1:${redisPort}/2
`);
  const p1 = await startProxy(cfg);
  const p2 = await startProxy(cfg);
  cleanups.push(() => m.close(), () => p1.stop(), () => p2.stop());
  const level = () => Number(spawnSync('redis-cli', ['-p', String(redisPort), '-n', '2', 'HGET', `ccp:tpm:${k.id}`, 'level'], { encoding: 'utf8' }).stdout.trim());
  const waitLevel = async (max) => {
    for (let i = 0; level() > max; i++) {
      assert.ok(i < 400, `tpm bucket still at ${level()}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const stream = (p) => statusOf(client(p, k.key).messages.create({ ...req, stream: true }).then(async (s) => { for await (const _ of s); }));
  assert.equal(await stream(p1), 200);
  await waitLevel(600); // 1500 - 1000 used (+ a little refill)
  assert.equal(await stream(p2), 200);
  await waitLevel(-400);
  const refused = await client(p1, k.key).messages.create(req).catch((e) => e);
  assert.equal(refused.status, 429);
  assert.match(refused.error.error.message, /1500 tokens per minute/);
  assert.equal(await stream(p2), 429);
});

// A key's budget is one count in Redis for every instance: each answer
// costs 1 USD (1000 tokens at 1000 USD per million) of a 2.5 USD/day
// budget, so across both instances exactly three are admitted.
test('two_instances_share_one_keys_budget_in_redis', async () => {
  const ev = (type, data) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const sse = ev('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'mock-model', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 990, output_tokens: 1 } } })
    + ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 10 } })
    + ev('message_stop', {});
  const m = await startMock({ kind: 'raw', status: 200, headers: { 'content-type': 'text/event-stream' }, body: sse });
  const k = JSON.parse(cli(['keys', 'create', '--name', 'budget', '--budget', '2.5usd/day', '--json']).stdout);
  const cfg = mockConfig(m.url, `
auth:
  mode: keys
state:
  path: ${state}
  redis: redis://127.0.0.1:${redisPort}/2
pricing:
  mock:
    "mock-*": {input: 1000, output: 1000}
`);
  const p1 = await startProxy(cfg);
  const p2 = await startProxy(cfg);
  cleanups.push(() => m.close(), () => p1.stop(), () => p2.stop());
  const day = new Date().toISOString().slice(0, 10);
  const spent = () => Number(spawnSync('redis-cli', ['-p', String(redisPort), '-n', '2', 'GET', `ccp:spend:${k.id}:${day}`], { encoding: 'utf8' }).stdout.trim());
  const stream = (p) => statusOf(client(p, k.key).messages.create({ ...req, stream: true }).then(async (s) => { for await (const _ of s); }));
  const results = [];
  for (let i = 0; i < 5; i++) {
    results.push(await stream(i % 2 ? p2 : p1));
    const want = results.filter((s) => s === 200).length;
    for (let j = 0; Math.abs(spent() - want) > 1e-6; j++) { // the spend reaches Redis after the answer
      assert.ok(j < 400, `spend ${spent()} != ${want}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  assert.deepEqual(results, [200, 200, 200, 429, 429]);
  const err = await client(p2, k.key).messages.create(req).catch((e) => e);
  assert.equal(err.status, 429);
  assert.match(err.error.error.message, /spent its budget of 2\.50 USD for this day/);
});
