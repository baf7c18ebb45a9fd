// A tenant's limits and budget shared by several ccproxy instances through
// a real Redis: two instances, two keys of one tenant, and the tenant's
// rpm, tpm (reconciled), budget and concurrency hold across both; the key's and the tenant's
// limits are taken together or not at all; the tenant's spend starts from
// the state file; with Redis killed, tenant limits fail closed or open as
// configured.
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
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-redis-tenant-'));
const state = path.join(dir, 'state.db');
const cleanups = [];
const DB = 3;
let redis, mock, a, b, open;

function cli(args) {
  return spawnSync(BIN, [...args, '--state', state], { env: { PATH: process.env.PATH, HOME: dir }, encoding: 'utf8' });
}
const mkKey = (name, tenant, extra = []) => JSON.parse(cli(['keys', 'create', '--name', name, '--tenant', tenant, ...extra, '--json']).stdout);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function eventually(fn, what) {
  for (let i = 0; ; i++) {
    try { return await fn(); } catch (e) { if (i >= 400) throw new Error(`${what}: ${e.message}`); }
    await sleep(25);
  }
}

// Each answer reports 1000 tokens, 1 USD at the configured price.
const ev = (type, data) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
const SSE = ev('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'mock-model', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 990, output_tokens: 1 } } })
  + ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } })
  + ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hello' } })
  + ev('content_block_stop', { index: 0 })
  + ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 10 } })
  + ev('message_stop', {});

const TENANTS = `
tenants:
  team:
    rpm: 3
  atom:
    rpm: 2
  spend:
    budget: 1.5usd/day
  seeded:
    budget: 1.5usd/day
  conc:
    concurrency: 1
  outage:
    rpm: 100
  tok:
    tpm: 1500
pricing:
  mock:
    "mock-*": {input: 1000, output: 1000}
`;
const config = (redisLine, mode = 'fail_closed') => mockConfig(mock.url, `
auth:
  mode: keys
state:
  path: ${state}
  poll_ms: 20
  flush_ms: 5
${redisLine ? `  redis: ${redisLine}\n  redis_failure: ${mode}` : ''}
${TENANTS}`);

const keys = {};
before(async () => {
  redis = await startRedisServer(dir);
  mock = await startMock((entry) => (JSON.stringify(entry.body?.messages ?? '').includes('hold')
    ? { kind: 'slow' }
    : { kind: 'raw', status: 200, headers: { 'content-type': 'text/event-stream' }, body: SSE }));
  keys.team1 = mkKey('team1', 'team', ['--rpm', '10']);
  keys.team2 = mkKey('team2', 'team');
  keys.atom1 = mkKey('atom1', 'atom', ['--rpm', '1']);
  keys.atom2 = mkKey('atom2', 'atom');
  keys.spend1 = mkKey('spend1', 'spend');
  keys.spend2 = mkKey('spend2', 'spend');
  keys.seeded = mkKey('seeded', 'seeded');
  keys.conc1 = mkKey('conc1', 'conc');
  keys.conc2 = mkKey('conc2', 'conc');
  keys.outage = mkKey('outage', 'outage');
  keys.tok1 = mkKey('tok1', 'tok');
  keys.tok2 = mkKey('tok2', 'tok');
  a = await startProxy(config(redis.url(DB)));
  b = await startProxy(config(redis.url(DB)));
  open = await startProxy(config(redis.url(DB), 'fail_open'));
  cleanups.push(() => mock.close(), () => a.stop(), () => b.stop(), () => open.stop());
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
  await redis.kill();
  fs.rmSync(dir, { recursive: true, force: true });
});

const req = { model: 'mock-model', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }], stream: true };
const client = (p, key) => new Anthropic({ baseURL: p.url, apiKey: key.key, maxRetries: 0 });
// A streamed request read to its end: 200, or the refusal's status.
const send = (p, key) => client(p, key).messages.create(req).then(async (s) => { for await (const _ of s); return 200; }, (e) => e.status ?? e);
const refusal = (p, key) => client(p, key).messages.create(req).then(() => assert.fail('admitted'), (e) => e);

test('two_keys_of_one_tenant_on_two_instances_admit_exactly_the_tenants_rpm', async () => {
  // team1's own limit (10) is looser: the headers give the tenant's.
  const first = await client(a, keys.team1).messages.create(req).withResponse();
  for await (const _ of first.data);
  assert.equal(first.response.headers.get('anthropic-ratelimit-requests-limit'), '3');
  assert.equal(first.response.headers.get('anthropic-ratelimit-requests-remaining'), '2');
  const results = [200];
  for (let i = 1; i < 8; i++) results.push(await send(i % 2 ? b : a, i % 2 ? keys.team2 : keys.team1));
  assert.equal(results.filter((s) => s === 200).length, 3, results.join(','));
  assert.equal(results.filter((s) => s === 429).length, 5, results.join(','));
  const err = await refusal(b, keys.team2);
  assert.equal(err.status, 429);
  assert.equal(err.error.error.type, 'rate_limit_error');
  assert.match(err.error.error.message, /tenant 'team' is over its rate limit of 3 requests per minute/);
  assert.equal(err.headers.get('anthropic-ratelimit-requests-limit'), '3');
  assert.equal(err.headers.get('anthropic-ratelimit-requests-remaining'), '0');
  assert.ok(Number(err.headers.get('retry-after')) >= 1);
});

// atom1's own rpm is 1, its tenant's 2: atom1's refused second request
// must not take the tenant's second, which atom2 then gets; the third
// of the tenant is refused by the tenant.
test('a_key_refused_by_its_own_limit_takes_nothing_from_its_tenant', async () => {
  assert.equal(await send(a, keys.atom1), 200);
  const own = await refusal(b, keys.atom1);
  assert.equal(own.status, 429);
  assert.match(own.error.error.message, /this proxy key is over its rate limit of 1 requests per minute/);
  assert.equal(own.headers.get('anthropic-ratelimit-requests-limit'), '1');
  assert.equal(await send(b, keys.atom2), 200);
  const tenant = await refusal(a, keys.atom2);
  assert.match(tenant.error.error.message, /tenant 'atom' is over its rate limit of 2 requests per minute/);
  assert.equal(tenant.headers.get('anthropic-ratelimit-requests-limit'), '2');
});

// Each answer uses 1000 tokens of the tenant's 1500 a minute: the second
// request (the other key, the other instance) is admitted on what the
// first left, and the third is refused once the second's use is
// reconciled in Redis after its answer.
test('a_tenants_tokens_per_minute_are_one_bucket_reconciled_in_redis', async () => {
  const level = () => Number(redis.cli(DB, 'HGET', 'ccp:tenant:tpm:tok', 'level'));
  assert.equal(await send(a, keys.tok1), 200);
  await eventually(() => assert.ok(level() <= 600, `level ${level()}`), 'reconciled after the first');
  assert.equal(await send(b, keys.tok2), 200);
  await eventually(() => assert.ok(level() <= -400, `level ${level()}`), 'reconciled after the second');
  const err = await refusal(a, keys.tok1);
  assert.equal(err.status, 429);
  assert.match(err.error.error.message, /tenant 'tok' is over its rate limit of 1500 tokens per minute/);
  assert.ok(Number(err.headers.get('retry-after')) >= 1);
  assert.equal(await send(b, keys.tok2), 429);
});

test('a_tenant_budget_spent_through_one_instance_refuses_its_other_key_on_another', async () => {
  const day = new Date().toISOString().slice(0, 10);
  const spent = () => Number(redis.cli(DB, 'GET', `ccp:tenant:spend:spend:${day}`));
  assert.equal(await send(a, keys.spend1), 200);
  await eventually(() => assert.equal(spent(), 1), 'the spend reaches Redis after the answer');
  assert.equal(await send(a, keys.spend1), 200); // 1 < 1.5: admitted, then 2 spent
  await eventually(() => assert.equal(spent(), 2), 'the spend reaches Redis after the answer');
  const err = await refusal(b, keys.spend2);
  assert.equal(err.status, 429);
  assert.equal(err.error.error.type, 'rate_limit_error');
  assert.match(err.error.error.message, /tenant 'spend' has spent its budget of 1\.50 USD for this day/);
  assert.ok(Number(err.headers.get('retry-after')) >= 1);
  // The key's own count is untouched by the tenant's (it has no budget).
  assert.equal(redis.cli(DB, 'EXISTS', `ccp:spend:${keys.spend1.id}:${day}`), '0');
});

// The tenant spent 2 USD through an instance without Redis (the state
// file counts it); an instance with Redis, which has no count yet,
// starts from the file's and refuses.
test('a_tenants_spend_in_redis_starts_from_the_state_file', async () => {
  const local = await startProxy(config(null));
  cleanups.push(() => local.stop());
  assert.equal(await send(local, keys.seeded), 200);
  assert.equal(await send(local, keys.seeded), 200);
  await eventually(() => {
    const rows = JSON.parse(cli(['usage', '--tenant', 'seeded', '--json']).stdout);
    assert.equal(rows.reduce((n, r) => n + r.requests, 0), 2);
  }, 'usage rows');
  const fresh = await startProxy(config(redis.url(DB)));
  cleanups.push(() => fresh.stop());
  const err = await refusal(fresh, keys.seeded);
  assert.equal(err.status, 429);
  assert.match(err.error.error.message, /tenant 'seeded' has spent its budget of 1\.50 USD/);
  const day = new Date().toISOString().slice(0, 10);
  assert.equal(Number(redis.cli(DB, 'GET', `ccp:tenant:spend:seeded:${day}`)), 2);
});

test('a_tenants_concurrency_holds_across_instances_until_its_request_ends', async () => {
  const ac = new AbortController();
  const held = await client(a, keys.conc1).messages.create({ ...req, messages: [{ role: 'user', content: 'hold' }] }, { signal: ac.signal });
  const it = held[Symbol.asyncIterator]();
  await it.next(); // the stream is open: the tenant's slot is taken
  const err = await refusal(b, keys.conc2);
  assert.equal(err.status, 429);
  assert.match(err.error.error.message, /tenant 'conc' has 1 requests in flight, its concurrency limit/);
  assert.equal(redis.cli(DB, 'ZCARD', 'ccp:tenant:inflight:conc'), '1');
  ac.abort();
  await it.next().catch(() => {});
  await eventually(async () => assert.equal(await send(b, keys.conc2), 200), 'the slot comes back');
  await eventually(() => assert.equal(redis.cli(DB, 'ZCARD', 'ccp:tenant:inflight:conc'), '0'), 'released');
});

test('with_redis_killed_tenant_limits_fail_closed_or_open_as_configured', async () => {
  assert.equal(await send(a, keys.outage), 200);
  await redis.kill();
  const closed = await refusal(a, keys.outage);
  assert.equal(closed.status, 529);
  assert.equal(closed.error.error.type, 'overloaded_error');
  assert.match(closed.error.error.message, /state\.redis.*fail_closed/);
  await eventually(async () => assert.equal(await send(open, keys.outage), 200), 'fail_open admits');
  await redis.start();
  await eventually(async () => assert.equal(await send(a, keys.outage), 200), 'recovery after Redis came back');
});
