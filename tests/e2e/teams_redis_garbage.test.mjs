// Keys of ours in Redis (state.redis) changed by hand into something else,
// and a Redis that loses its counts while requests are in flight: ccproxy
// refuses to half-write, and says which key is wrong; nothing it counts
// drifts. A real redis-server (Debian's) on a free port; every wait polls
// with a bound, no timing threshold.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { startProxy, mockConfig } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';
import { startRedisServer } from './lib/redis_server.mjs';

const BIN = process.env.CCPROXY_BIN;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-redis-garbage-'));
const cleanups = [];
let redis = null;

let mock;
before(async () => {
  redis = await startRedisServer(dir);
  mock = await startMock((entry) => (JSON.stringify(entry.body?.messages ?? '').includes('hold')
    ? { kind: 'slow' }
    : { kind: 'json', fixture: 'text.json' }));
  cleanups.push(() => mock.close());
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
  await redis.kill();
  fs.rmSync(dir, { recursive: true, force: true });
});

// `ccproxy keys ARGS --json` on its own state file against Redis db.
function keys(db, args, state = 'admin.db') {
  return spawnSync(BIN, ['keys', ...args, '--json', '--state', path.join(dir, state), '--redis', redis.url(db)],
    { env: { PATH: process.env.PATH, HOME: dir }, encoding: 'utf8' });
}

test('a_key_list_of_the_wrong_type_fails_a_create_before_it_writes_anything', async () => {
  redis.cli(6, 'SET', 'ccp:keys', 'set-by-hand');
  const r = keys(6, ['create', '--name', 'carol']);
  assert.notEqual(r.status, 0, 'a create into a mangled key list must fail');
  assert.match(r.stderr, /ccp:keys/);
  // Nothing half-written: the name is still free ...
  assert.equal(redis.cli(6, 'HGET', 'ccp:keys:name', 'carol'), '');
  assert.equal(redis.cli(6, 'KEYS', 'ccp:key:*'), '');
  // ... so once the list is mended, the same name is made.
  redis.cli(6, 'DEL', 'ccp:keys');
  const ok = keys(6, ['create', '--name', 'carol']);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout).name, 'carol');
});

test('a_version_counter_at_its_end_fails_a_revoke_before_it_writes_anything', async () => {
  const made = keys(7, ['create', '--name', 'dave']);
  assert.equal(made.status, 0, made.stderr);
  const id = JSON.parse(made.stdout).id;
  redis.cli(7, 'SET', 'ccp:keys:version', '9223372036854775807');
  const r = keys(7, ['revoke', 'dave']);
  assert.notEqual(r.status, 0, 'a revoke that cannot move the counter must fail');
  // Not revoked behind the instances' backs (they follow the counter).
  assert.equal(redis.cli(7, 'HGET', `ccp:key:${id}`, 'revoked'), '0');
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const req = { model: 'mock-model', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }], stream: true };
const holdReq = { ...req, messages: [{ role: 'user', content: 'hold' }] };

// A request in flight while Redis lost its data (restarted without
// persistence, flushed): its end gives back a hold Redis no longer counts,
// and that must not leave the key a request more than its limit.
test('a_redis_emptied_under_a_request_in_flight_leaves_the_concurrency_limit_whole', async () => {
  const state = path.join(dir, 'conc.db');
  const mk = spawnSync(BIN, ['keys', 'create', '--name', 'one-at-a-time', '--concurrency', '1', '--json', '--state', state],
    { env: { PATH: process.env.PATH, HOME: dir }, encoding: 'utf8' });
  assert.equal(mk.status, 0, mk.stderr);
  const { key, id } = JSON.parse(mk.stdout);
  const p = await startProxy(mockConfig(mock.url, `
auth:
  mode: keys
state:
  path: ${state}
  poll_ms: 20
  redis: ${redis.url(8)}
`));
  cleanups.push(() => p.stop());
  const client = new Anthropic({ baseURL: p.url, apiKey: key, maxRetries: 0 });
  // Opens a held stream; its abort controller and iterator.
  const hold = async () => {
    const ac = new AbortController();
    const s = await client.messages.create(holdReq, { signal: ac.signal });
    const it = s[Symbol.asyncIterator]();
    await it.next();
    return { ac, it };
  };
  const end = async (h) => { h.ac.abort(); await h.it.next().catch(() => {}); };
  const first = await hold();
  redis.cli(8, 'FLUSHDB');
  await end(first);
  // The release has reached Redis once a plain request goes through after it.
  for (let i = 0; i < 400; i++) {
    const st = await client.messages.create(req).then(async (s) => { for await (const _ of s); return 200; }, (e) => e.status);
    if (st === 200) break;
    await sleep(25);
  }
  const second = await hold();
  const third = await client.messages.create(req).then(async (s) => { for await (const _ of s); return 200; }, (e) => e);
  await end(second);
  assert.notEqual(third, 200, 'a second request in flight was admitted past concurrency 1');
  assert.equal(third.status, 429);
  assert.match(third.error.error.message, /1 requests in flight, its concurrency limit/);
  // A hold whose end never came (its instance died) lapses on its own: one
  // past its hour does not count, one within it does.
  const plain = () => client.messages.create(req).then(async (s) => { for await (const _ of s); return 200; }, (e) => e.status);
  redis.cli(8, 'ZADD', `ccp:inflight:${id}`, '1', 'a-dead-instances-hold');
  // (second's release may reach Redis over another worker's connection.)
  let st;
  for (let i = 0; i < 400 && (st = await plain()) !== 200; i++) await sleep(25);
  assert.equal(st, 200);
  redis.cli(8, 'ZADD', `ccp:inflight:${id}`, String(Date.now() + 3600000), 'a-live-hold');
  assert.equal(await plain(), 429);
});

// A Redis that takes the connection but answers nothing (stopped, hung):
// a key change through /admin/keys is as refused as with Redis gone, 503
// (worth a retry), not a 500; and goes through once Redis answers again.
test('admin_keys_change_while_redis_holds_its_answers_is_503_then_goes_through', async () => {
  const state = path.join(dir, 'paused.db');
  const p = await startProxy(mockConfig(mock.url, `
auth:
  mode: keys
state:
  path: ${state}
  poll_ms: 20
  redis: ${redis.url(0)} # db 0: no SELECT, so the connection opens and the first read waits
`));
  cleanups.push(() => p.stop());
  const post = (body) => fetch(`${p.url}/admin/keys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    .then(async (r) => ({ status: r.status, body: await r.json() }));
  redis.pause();
  let down;
  try {
    down = await post({ name: 'erin' });
  } finally {
    redis.resume();
  }
  assert.equal(down.status, 503, JSON.stringify(down.body));
  assert.equal(down.body.type, 'error');
  let up;
  for (let i = 0; i < 400 && (up = await post({ name: 'erin' })).status !== 201; i++) await sleep(25);
  assert.equal(up.status, 201, JSON.stringify(up.body));
});

// A Redis that stops answering for longer than the 1 s deadline, then goes
// on: the admissions sent meanwhile were answered 529, but Redis runs them
// when it resumes. Each is cancelled on the next connection (its lease
// removed, and a tombstone refuses it if it runs later still), so the key's
// slot is free at once, not an hour later.
test('an_admission_answered_529_while_redis_was_stopped_holds_no_slot_once_it_resumes', async () => {
  const state = path.join(dir, 'stopped.db');
  const mk = spawnSync(BIN, ['keys', 'create', '--name', 'single', '--concurrency', '1', '--json', '--state', state],
    { env: { PATH: process.env.PATH, HOME: dir }, encoding: 'utf8' });
  assert.equal(mk.status, 0, mk.stderr);
  const { key, id } = JSON.parse(mk.stdout);
  const p = await startProxy(mockConfig(mock.url, `
auth:
  mode: keys
state:
  path: ${state}
  poll_ms: 20
  redis: ${redis.url(10)}
`));
  cleanups.push(() => p.stop());
  const client = new Anthropic({ baseURL: p.url, apiKey: key, maxRetries: 0 });
  const plain = () => client.messages.create(req).then(async (s) => { for await (const _ of s); return 200; }, (e) => e.status);
  assert.equal(await plain(), 200);
  redis.pause();
  let during;
  try {
    during = await plain();
  } finally {
    redis.resume();
  }
  assert.equal(during, 529);
  let st;
  for (let i = 0; i < 400 && (st = await plain()) !== 200; i++) await sleep(25);
  assert.equal(st, 200, `the key's one slot is still held: ${redis.cli(10, 'ZRANGE', `ccp:inflight:${id}`, '0', '-1')}`);
  assert.equal(redis.cli(10, 'ZCARD', `ccp:inflight:${id}`), '0');
});

// A request that ends while Redis is down (then back with its data, from
// its dump): its release is sent again once Redis answers, so its hold
// does not keep the key's one slot for the lease's hour.
test('a_release_made_while_redis_is_down_reaches_it_once_it_is_back', async () => {
  const state = path.join(dir, 'down.db');
  const mk = spawnSync(BIN, ['keys', 'create', '--name', 'solo', '--concurrency', '1', '--json', '--state', state],
    { env: { PATH: process.env.PATH, HOME: dir }, encoding: 'utf8' });
  assert.equal(mk.status, 0, mk.stderr);
  const { key, id } = JSON.parse(mk.stdout);
  const p = await startProxy(mockConfig(mock.url, `
auth:
  mode: keys
state:
  path: ${state}
  poll_ms: 20
  redis: ${redis.url(11)}
`));
  cleanups.push(() => p.stop());
  const client = new Anthropic({ baseURL: p.url, apiKey: key, maxRetries: 0 });
  const plain = () => client.messages.create(req).then(async (s) => { for await (const _ of s); return 200; }, (e) => e.status);
  const ac = new AbortController();
  const held = await client.messages.create(holdReq, { signal: ac.signal });
  const it = held[Symbol.asyncIterator]();
  await it.next();
  assert.equal(redis.cli(11, 'ZCARD', `ccp:inflight:${id}`), '1');
  redis.cli(11, 'SAVE'); // the hold is in the dump Redis comes back with
  await redis.kill();
  // A request while Redis is down fails (closed), so the worker has tried
  // to connect within the second: the release finds no connection.
  assert.equal(await plain(), 529);
  ac.abort();
  await it.next().catch(() => {});
  await sleep(100); // the end reaches the proxy (nothing to wait on: Redis is down)
  await redis.start();
  assert.equal(redis.cli(11, 'ZCARD', `ccp:inflight:${id}`), '1');
  let st;
  for (let i = 0; i < 400 && (st = await plain()) !== 200; i++) await sleep(25);
  assert.equal(st, 200, `the key's one slot is still held: ${redis.cli(11, 'ZRANGE', `ccp:inflight:${id}`, '0', '-1')}`);
});

// A key's rpm bucket written by hand with a level that is no number
// ("nan": Lua's tonumber takes it) counts as a fresh bucket: the limit
// still holds, where a NaN level let every request through.
test('an_rpm_bucket_holding_nan_still_limits_the_key', async () => {
  const state = path.join(dir, 'nan.db');
  const mk = spawnSync(BIN, ['keys', 'create', '--name', 'once', '--rpm', '1', '--json', '--state', state],
    { env: { PATH: process.env.PATH, HOME: dir }, encoding: 'utf8' });
  assert.equal(mk.status, 0, mk.stderr);
  const { key, id } = JSON.parse(mk.stdout);
  const p = await startProxy(mockConfig(mock.url, `
auth:
  mode: keys
state:
  path: ${state}
  poll_ms: 20
  redis: ${redis.url(12)}
`));
  cleanups.push(() => p.stop());
  const client = new Anthropic({ baseURL: p.url, apiKey: key, maxRetries: 0 });
  const plain = () => client.messages.create(req).then(async (s) => { for await (const _ of s); return 200; }, (e) => e.status);
  redis.cli(12, 'HSET', `ccp:rpm:${id}`, 'level', 'nan', 'at', 'nan');
  const got = [await plain(), await plain(), await plain()];
  assert.deepEqual(got, [200, 429, 429]);
});
