// Usage counters and the audit record shared through a real Redis
// (state.redis): two ccproxy instances, each with its own state file (a
// copy made after the key), serve requests through the official SDK,
// streaming and not; `ccproxy usage --json` then shows exactly those
// requests with their token sums, the audit stream holds each request id
// once in one hash chain that `ccproxy audit verify` accepts, and an
// edited, deleted or inserted stream entry makes verify fail naming it.
// With Redis killed mid-run, the rows wait in the state files' outbox,
// across a restart of the proxies too, and arrive exactly once when Redis
// is back.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { startProxy, mockConfig } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';

const BIN = process.env.CCPROXY_BIN;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-redis-state-'));
const stateA = path.join(dir, 'a.db');
const stateB = path.join(dir, 'b.db');
const cleanups = [];
let redis = null;
let redisPort = 0;
const DB = 3;

async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

// redis-server on redisPort with an append-only file synced at every
// write, so that a Redis killed and started again still has what it took.
async function startRedis() {
  const proc = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', dir,
    '--save', '', '--appendonly', 'yes', '--appendfsync', 'always'], { stdio: ['ignore', 'pipe', 'pipe'] });
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
const rcli = (...args) => spawnSync('redis-cli', ['-p', String(redisPort), '-n', String(DB), ...args], { encoding: 'utf8' });

const cfgPath = path.join(dir, 'cli.yaml');
function cli(args, state = stateA) {
  return spawnSync(BIN, [...args, '--state', state], { env: { PATH: process.env.PATH, HOME: dir }, encoding: 'utf8' });
}
// The CLI as an operator runs it against the shared Redis.
const shared = (args) => spawnSync(BIN, [...args, '-c', cfgPath], { env: { PATH: process.env.PATH, HOME: dir }, encoding: 'utf8' });

// The mock's n-th answer (from 1) reports n*100 input, n output, n*3
// cache-read and n*5 cache-write tokens: the sums tell a lost or a doubled
// request apart.
const usageOf = (n) => ({ input_tokens: n * 100, output_tokens: n, cache_read_input_tokens: n * 3, cache_creation_input_tokens: n * 5 });
function answer(entry, n) {
  const u = usageOf(n);
  if (!entry.body?.stream) {
    return { kind: 'raw', status: 200, headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: `msg_${n}`, type: 'message', role: 'assistant', model: 'mock-model',
        content: [{ type: 'text', text: 'hi' }], stop_reason: 'end_turn', stop_sequence: null, usage: u }) };
  }
  const ev = (type, data) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  return { kind: 'raw', status: 200, headers: { 'content-type': 'text/event-stream' },
    body: ev('message_start', { message: { id: `msg_${n}`, type: 'message', role: 'assistant', model: 'mock-model', content: [], stop_reason: null, stop_sequence: null, usage: { ...u, output_tokens: 1 } } })
      + ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } })
      + ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'hi' } })
      + ev('content_block_stop', { index: 0 })
      + ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: u.output_tokens } })
      + ev('message_stop', {}) };
}

let mock, key, cfgFor;
before(async () => {
  redisPort = await freePort();
  redis = await startRedis();
  mock = await startMock(answer);
  key = JSON.parse(cli(['keys', 'create', '--name', 'team', '--tenant', 'acme', '--json']).stdout);
  fs.copyFileSync(stateA, stateB); // the keys made once, the file copied to the second host
  cfgFor = (state) => mockConfig(mock.url, `
auth:
  mode: keys
state:
  path: ${state}
  poll_ms: 50
  flush_ms: 20
  redis: redis://127.0.0.1:${redisPort}/${DB}
`);
  fs.writeFileSync(cfgPath, cfgFor(stateA));
  cleanups.push(() => mock.close());
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
  await stopRedis();
  fs.rmSync(dir, { recursive: true, force: true });
});

const req = { model: 'mock-model', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] };
const client = (p) => new Anthropic({ baseURL: p.url, apiKey: key.key, maxRetries: 0 });

// Sends one request (streaming when stream) and returns its request id.
async function send(p, stream) {
  if (!stream) {
    const { response } = await client(p).messages.create(req).withResponse();
    return response.headers.get('request-id');
  }
  const { data, response } = await client(p).messages.create({ ...req, stream: true }).withResponse();
  for await (const _ of data); // eslint-disable-line no-unused-vars
  return response.headers.get('request-id');
}

const usageRows = () => {
  const r = shared(['usage', '--json']);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
};
const totals = (rows) => rows.reduce((t, r) => ({
  requests: t.requests + r.requests,
  input_tokens: t.input_tokens + r.input_tokens,
  output_tokens: t.output_tokens + r.output_tokens,
  cache_read_tokens: t.cache_read_tokens + r.cache_read_tokens,
  cache_write_tokens: t.cache_write_tokens + r.cache_write_tokens,
}), { requests: 0, input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0 });
const expected = (ns) => ({
  requests: ns.length,
  input_tokens: ns.reduce((s, n) => s + n * 100, 0),
  output_tokens: ns.reduce((s, n) => s + n, 0),
  cache_read_tokens: ns.reduce((s, n) => s + n * 3, 0),
  cache_write_tokens: ns.reduce((s, n) => s + n * 5, 0),
});
async function waitRequests(want) {
  for (let i = 0; ; i++) {
    if (totals(usageRows()).requests >= want) return;
    assert.ok(i < 400, `usage in Redis did not reach ${want} requests: ${JSON.stringify(totals(usageRows()))}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const streamEntries = () => shared(['audit', 'export']).stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
function assertOncePerRequest(ids) {
  const entries = streamEntries().filter((e) => e.kind === 'request');
  const seen = entries.map((e) => e.data.request_id);
  assert.equal(seen.length, ids.length, `stream request entries: ${seen.length}, requests: ${ids.length}`);
  assert.deepEqual([...seen].sort(), [...ids].sort());
}

test('two_instances_usage_in_redis_counts_every_request_once_with_its_tokens', async () => {
  const a = await startProxy(cfgFor(stateA));
  const b = await startProxy(cfgFor(stateB));
  // All at once: both state threads push while the other moves the
  // stream's head, so the compare-and-set retries are exercised.
  const N = 24;
  const ids = await Promise.all(Array.from({ length: N }, (_, i) => send(i % 2 ? b : a, i % 4 >= 2)));
  await waitRequests(N);
  // An admin action on a state file a proxy feeds Redis from reaches the
  // stream too (through that file's outbox).
  assert.equal(cli(['keys', 'create', '--name', 'later']).status, 0);
  // Stopping pushes what is left; nothing may arrive twice after.
  await a.stop();
  await b.stop();
  const rows = usageRows();
  const ns = Array.from({ length: N }, (_, i) => i + 1);
  assert.deepEqual(totals(rows), expected(ns));
  assert.ok(rows.every((r) => r.key === 'team' && r.key_id === key.id && r.tenant === 'acme'
    && r.provider === 'mock' && r.model === 'mock-model'), JSON.stringify(rows));
  // The table form reads the same totals.
  const table = shared(['usage']);
  assert.equal(table.status, 0, table.stderr);
  assert.match(table.stdout, new RegExp(`total: ${N} requests`));
  // Without state.redis, usage reads one instance's file: its share only.
  const local = JSON.parse(cli(['usage', '--json']).stdout);
  assert.equal(totals(local).requests, N / 2);
  assertOncePerRequest(ids);
  const v = shared(['audit', 'verify']);
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, /audit stream intact: \d+ entries/);
  // Both instances' config.load rows are in the one chain too, and the
  // key made while they ran (the first key was made before any proxy fed
  // Redis from the file: it is in the file only).
  assert.equal(streamEntries().filter((e) => e.kind === 'config.load').length, 2);
  assert.deepEqual(streamEntries().filter((e) => e.kind === 'key.create').map((e) => e.data.name), ['later']);
});

test('redis_killed_mid_run_then_back_every_admitted_request_arrives_exactly_once', async () => {
  const before = totals(usageRows()).requests;
  const base = mock.requests.length;
  const ids = streamEntries().filter((e) => e.kind === 'request').map((e) => e.data.request_id);
  let a = await startProxy(cfgFor(stateA));
  let b = await startProxy(cfgFor(stateB));
  for (let i = 0; i < 4; i++) ids.push(await send(i % 2 ? b : a, i % 2 === 0));
  // Killed and back while the proxies run: they push what waited.
  await stopRedis();
  for (let i = 0; i < 4; i++) ids.push(await send(i % 2 ? b : a, i % 3 === 0));
  redis = await startRedis();
  await waitRequests(before + 8);
  await stopRedis();
  for (let i = 0; i < 6; i++) ids.push(await send(i % 2 ? b : a, i % 3 === 0));
  // The proxies stop with rows still waiting: the outbox is in the state
  // file, so the next start pushes them.
  await a.stop();
  await b.stop();
  const waiting = (state) => Number(spawnSync('sqlite3', [state, 'SELECT COUNT(*) FROM redis_outbox'], { encoding: 'utf8' }).stdout.trim());
  assert.ok(waiting(stateA) + waiting(stateB) >= 6, `outbox rows: ${waiting(stateA)} + ${waiting(stateB)}`);
  redis = await startRedis();
  a = await startProxy(cfgFor(stateA));
  b = await startProxy(cfgFor(stateB));
  for (let i = 0; i < 2; i++) ids.push(await send(i % 2 ? b : a, false));
  await waitRequests(before + 16);
  await a.stop();
  await b.stop();
  assert.equal(waiting(stateA) + waiting(stateB), 0);
  const ns = Array.from({ length: mock.requests.length }, (_, i) => i + 1);
  assert.equal(mock.requests.length - base, 16);
  assert.deepEqual(totals(usageRows()), expected(ns));
  assertOncePerRequest(ids);
  const v = shared(['audit', 'verify']);
  assert.equal(v.status, 0, v.stderr);
});

// Redis cannot edit a stream entry in place: an attacker with access to
// Redis rebuilds the stream with one entry changed (same ids), deletes an
// entry, or appends a forged one. Verify names each.
test('an_edited_deleted_or_inserted_audit_stream_entry_fails_verify_naming_it', async () => {
  const entries = streamEntries();
  const target = entries.find((e) => e.kind === 'request');
  const rebuild = `
local all = redis.call('XRANGE', KEYS[1], '-', '+')
redis.call('DEL', KEYS[1])
for _, e in ipairs(all) do
  local f = e[2]
  if e[1] == ARGV[1] then
    for j = 1, #f, 2 do
      if f[j] == 'data' then f[j + 1] = string.gsub(f[j + 1], ARGV[2], ARGV[3]) end
    end
  end
  redis.call('XADD', KEYS[1], e[1], unpack(f))
end
return #all`;
  // A copy of the intact stream, put back after each tampering.
  assert.equal(rcli('COPY', 'ccp:audit', 'ccp:audit:intact').stdout.trim(), '1');
  const restore = () => assert.equal(rcli('COPY', 'ccp:audit:intact', 'ccp:audit', 'REPLACE').stdout.trim(), '1');
  const edit = (from, to) => assert.equal(Number(rcli('EVAL', rebuild, '1', 'ccp:audit', target.stream_id, from, to).stdout.trim()), entries.length);
  edit('"status":200', '"status":299');
  let v = shared(['audit', 'verify']);
  assert.equal(v.status, 1);
  assert.match(v.stderr, new RegExp(`audit entry ${target.seq} \\(${target.stream_id}\\) was edited`));
  restore();
  assert.equal(shared(['audit', 'verify']).status, 0);

  // Deleted: a middle entry, then the chain names the missing one.
  const victim = entries[3];
  assert.equal(rcli('XDEL', 'ccp:audit', victim.stream_id).stdout.trim(), '1');
  v = shared(['audit', 'verify']);
  assert.equal(v.status, 1);
  assert.match(v.stderr, new RegExp(`audit entry ${victim.seq} is missing`));
  restore();
  v = shared(['audit', 'verify']);
  assert.equal(v.status, 0, v.stderr);

  // Inserted: a forged entry at the end, first with a wrong hash, then
  // with a right one (SHA-256 is no secret): the head, which the forger
  // did not move, still tells.
  const last = entries[entries.length - 1];
  const forge = (hash) => rcli('XADD', 'ccp:audit', '*', 'seq', String(last.seq + 1), 'time_ms', '1', 'kind', 'request',
    'data', '{}', 'prev', last.hash, 'hash', hash).stdout.trim();
  const id = forge('f'.repeat(64));
  v = shared(['audit', 'verify']);
  assert.equal(v.status, 1);
  assert.match(v.stderr, new RegExp(`audit entry ${last.seq + 1} \\(${id}\\) was edited`));
  restore();
  forge(crypto.createHash('sha256').update(`${last.hash}${last.seq + 1}\n1\nrequest\n{}`).digest('hex'));
  v = shared(['audit', 'verify']);
  assert.equal(v.status, 1);
  assert.match(v.stderr, new RegExp(`audit entry ${last.seq + 1} is not the chain's head \\(the head is ${last.seq}`));
  restore();
  assert.equal(shared(['audit', 'verify']).status, 0);
});
