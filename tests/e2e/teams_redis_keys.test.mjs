// Proxy keys kept in Redis (state.redis): two instances with DIFFERENT
// state files and one real Redis (Debian's redis-server on a free port).
// A key made with `ccproxy keys create` against Redis, from a third state
// file, is admitted by both; revoked, both refuse it with Anthropic's 401;
// rotated, both refuse the old secret and admit the new; an instance
// restarted while Redis is down still admits the keys it had, from the
// copy in its own state file. Keys made in a file before Redis held any
// are carried over by the first change. Every wait polls with a bound, no
// timing threshold.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { startProxy, mockConfig } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';
import { startRedisServer } from './lib/redis_server.mjs';

const BIN = process.env.CCPROXY_BIN;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-redis-keys-'));
const stateA = path.join(dir, 'a.db');
const stateB = path.join(dir, 'b.db');
const stateCli = path.join(dir, 'admin.db'); // an admin's laptop: neither instance's file
const cleanups = [];
let redis = null; // lib/redis_server.mjs's handle
let redisUrl = '';

// `ccproxy keys ...` on state (and, unless noRedis, against the Redis).
function keys(args, { state = stateCli, noRedis = false } = {}) {
  const extra = noRedis ? [] : ['--redis', redisUrl];
  const r = spawnSync(BIN, ['keys', ...args, '--state', state, ...extra],
    { env: { PATH: process.env.PATH, HOME: dir }, encoding: 'utf8' });
  assert.equal(r.status, 0, `ccproxy keys ${args.join(' ')}: ${r.stderr}`);
  return r;
}
// redis-cli against the test's Redis and db; its output lines.
const redisCli = (...args) => redis.cli(4, ...args).split('\n');
const sha256 = (s) => crypto.createHash('sha256').update(s).digest('hex');
const made = (args, opts) => JSON.parse(keys([...args, '--json'], opts).stdout);

const req = { model: 'mock-model', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] };
const cfg = (state, mockUrl, failure = 'fail_closed') => mockConfig(mockUrl, `
auth:
  mode: keys
state:
  path: ${state}
  poll_ms: 20
  redis: ${redisUrl}
  redis_failure: ${failure}
`);
let mock, a, b;

before(async () => {
  redis = await startRedisServer(dir);
  redisUrl = redis.url(4);
  mock = await startMock({ kind: 'json', fixture: 'text.json' });
  a = await startProxy(cfg(stateA, mock.url));
  b = await startProxy(cfg(stateB, mock.url));
  cleanups.push(() => mock.close(), () => a.stop(), () => b.stop());
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
  await redis.kill();
  fs.rmSync(dir, { recursive: true, force: true });
});

const statusOf = (p, apiKey) => new Anthropic({ baseURL: p.url, apiKey, maxRetries: 0 })
  .messages.create(req).then(() => 200, (e) => e.status ?? e);

// Polls until instance p answers apiKey with status (bounded, not timed).
async function until(p, apiKey, status, what) {
  let last;
  for (let i = 0; i < 400; i++) {
    last = await statusOf(p, apiKey);
    if (last === status) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`${what}: ${p.url} still answers ${last}, not ${status}\n${p.log()}`);
}

async function refusedWith401(p, apiKey, message) {
  const err = await new Anthropic({ baseURL: p.url, apiKey, maxRetries: 0 }).messages.create(req).catch((e) => e);
  assert.equal(err.status, 401);
  assert.equal(err.error.type, 'error');
  assert.equal(err.error.error.type, 'authentication_error');
  assert.match(err.error.error.message, message);
}

let early, alice, bob, oldAlice;

test('a_key_made_in_a_state_file_before_redis_held_keys_is_carried_over_to_every_instance', async () => {
  // Made the old way, in instance a's file alone: a admits it, b does not.
  early = made(['create', '--name', 'early'], { state: stateA, noRedis: true });
  await until(a, early.key, 200, 'a file-only key on its own instance');
  assert.equal(await statusOf(b, early.key), 401);
  // The first change against Redis, from a's file, takes the file's keys along.
  const r = keys(['create', '--name', 'first', '--json'], { state: stateA });
  assert.match(r.stderr, /copied the state file's 1 keys to state\.redis/);
  const first = JSON.parse(r.stdout);
  await until(b, early.key, 200, 'the carried-over key on the other instance');
  await until(b, first.key, 200, 'the first Redis key on the other instance');
  await until(a, first.key, 200, 'the first Redis key on the instance whose file made it');
});

test('a_key_made_through_the_cli_against_redis_is_admitted_by_both_instances', async () => {
  alice = made(['create', '--name', 'alice', '--rpm', '100']);
  assert.match(alice.key, /^ccp-/);
  await until(a, alice.key, 200, 'a new key on a');
  await until(b, alice.key, 200, 'a new key on b');
  // Both files now hold a copy of it (and list shows Redis's keys from anywhere).
  const listed = made(['list'], { state: stateB });
  assert.deepEqual(listed.map((k) => k.name).sort(), ['alice', 'early', 'first']);
  assert.equal(listed.find((k) => k.name === 'alice').rpm, 100);
  const copy = made(['list'], { state: stateA, noRedis: true });
  assert.ok(copy.some((k) => k.id === alice.id && k.status === 'active'));
  // A name taken in Redis is refused even from a file that lacks it.
  const dup = spawnSync(BIN, ['keys', 'create', '--name', 'alice', '--state', path.join(dir, 'x.db'), '--redis', redisUrl],
    { env: { PATH: process.env.PATH, HOME: dir }, encoding: 'utf8' });
  assert.equal(dup.status, 2);
  assert.match(dup.stderr, /a key named 'alice' exists already in state\.redis/);
});

test('a_key_revoked_against_redis_is_refused_by_both_with_anthropics_401', async () => {
  bob = made(['create', '--name', 'bob']);
  await until(a, bob.key, 200, 'bob on a');
  await until(b, bob.key, 200, 'bob on b');
  keys(['revoke', 'bob']);
  await until(a, bob.key, 401, 'a revoked key on a');
  await until(b, bob.key, 401, 'a revoked key on b');
  await refusedWith401(a, bob.key, /revoked/);
  await refusedWith401(b, bob.key, /revoked/);
  assert.equal(made(['show', bob.id], { state: stateA, noRedis: true }).status, 'revoked');
});

test('a_key_rotated_against_redis_is_old_refused_new_admitted_on_both', async () => {
  const rotated = made(['rotate', 'alice']);
  assert.equal(rotated.id, alice.id);
  assert.notEqual(rotated.key, alice.key);
  for (const p of [a, b]) {
    await until(p, rotated.key, 200, 'the rotated secret');
    await until(p, alice.key, 401, 'the old secret');
    await refusedWith401(p, alice.key, /invalid proxy key/);
  }
  // In Redis: the record has the new secret's hash (never a secret), the
  // hash index names the key by the new hash only, the counter moved.
  const rec = redisCli('HGETALL', `ccp:key:${alice.id}`);
  assert.equal(rec[rec.indexOf('hash') + 1], sha256(rotated.key));
  assert.ok(!rec.some((v) => v.includes(rotated.key.slice(12)) || v.includes(alice.key.slice(12))));
  const index = redisCli('HGETALL', 'ccp:keys:hash');
  assert.equal(index[index.indexOf(sha256(rotated.key)) + 1], alice.id);
  assert.equal(index.indexOf(sha256(alice.key)), -1);
  assert.ok(Number(redisCli('GET', 'ccp:keys:version')[0]) >= 5);
  oldAlice = alice;
  alice = rotated;
});

test('an_instance_restarted_while_redis_is_down_still_admits_the_keys_it_had', async () => {
  await b.stop();
  await redis.kill();
  // fail_open: alice's rpm is counted in Redis, which fail_closed would
  // answer with 529 while Redis is down; the keys themselves come from b's file.
  b = await startProxy(cfg(stateB, mock.url, 'fail_open'));
  // (the cleanup pushed in before() stops whichever b is current)
  assert.match(b.log(), /proxy keys not followed in state\.redis .*unreachable/);
  assert.equal(await statusOf(b, alice.key), 200); // the rotated secret, from b's copy
  assert.equal(await statusOf(b, early.key), 200);
  await refusedWith401(b, oldAlice.key, /invalid proxy key/);
  await refusedWith401(b, bob.key, /revoked/);
  // Reading works from the copy too (with a warning); a change needs Redis.
  const listed = keys(['list', '--json'], { state: stateB });
  assert.match(listed.stderr, /warning: state\.redis 127\.0\.0\.1:\d+ unreachable.*showing the state file's copy/);
  assert.ok(JSON.parse(listed.stdout).some((k) => k.id === alice.id && k.prefix === alice.prefix));
  const refused = spawnSync(BIN, ['keys', 'revoke', 'alice', '--state', stateB, '--redis', redisUrl],
    { env: { PATH: process.env.PATH, HOME: dir }, encoding: 'utf8' });
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /state\.redis 127\.0\.0\.1:\d+ unreachable/);
});

test('a_redis_restarted_empty_keeps_instances_serving_and_keys_push_restores_the_keys', async () => {
  await redis.start(); // no persistence: it comes back empty
  for (let i = 0; !/state\.redis holds no proxy keys any more/.test(a.log()); i++) {
    assert.ok(i < 400, `a never noticed the empty Redis:\n${a.log()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.equal(await statusOf(a, alice.key), 200); // what a last loaded
  const pushed = keys(['push'], { state: stateA });
  assert.match(pushed.stderr, /copied 4 keys to state\.redis/);
  assert.deepEqual(made(['list']).map((k) => k.name).sort(), ['alice', 'bob', 'early', 'first']);
  // Followed again by both: a revocation reaches each.
  keys(['revoke', 'alice']);
  await until(a, alice.key, 401, 'a key revoked after the push, on a');
  await until(b, alice.key, 401, 'a key revoked after the push, on b');
});

// A Redis that requires a password (redis://:PASSWORD@host): the CLI and
// the instance send AUTH on their blocking connections; a wrong password
// is refused as unreachable; the password is in no output.
test('keys_in_a_password_protected_redis_reach_the_instance_and_the_password_is_never_shown', async () => {
  const PASSWORD = 'rds-keys-pw-8e41c0d2b7a6';
  const locked = await startRedisServer(dir, { password: PASSWORD });
  cleanups.push(() => locked.kill());
  const url = `redis://:${PASSWORD}@127.0.0.1:${locked.port}/1`;
  const state = path.join(dir, 'locked.db');
  const p = await startProxy(cfg(state, mock.url).replace(redisUrl, url));
  cleanups.push(() => p.stop());
  const run = (args, u = url) => spawnSync(BIN, ['keys', ...args, '--state', path.join(dir, 'locked-admin.db'), '--redis', u],
    { env: { PATH: process.env.PATH, HOME: dir }, encoding: 'utf8' });
  const r = run(['create', '--name', 'carol', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const carol = JSON.parse(r.stdout);
  await until(p, carol.key, 200, 'a key made in a password-protected Redis');
  assert.equal(locked.cli(1, 'HGET', `ccp:key:${carol.id}`, 'name'), 'carol');
  const wrong = 'rds-keys-wrong-31f9a0b4';
  const bad = run(['list'], `redis://:${wrong}@127.0.0.1:${locked.port}/1`);
  assert.match(bad.stderr, /state\.redis/);
  for (const out of [r.stdout, r.stderr, bad.stdout, bad.stderr, p.log()]) {
    assert.ok(!out.includes(PASSWORD) && !out.includes(wrong), 'a Redis password must never be shown');
  }
});

// Redis flushed and refilled between two of an instance's polls: had the
// version counter restarted from 1, the refill could land on the very
// version the instance last read, and it would serve the old keys for ever.
// The counter starts from Redis's clock instead, so the instance sees a
// version it has never seen and reloads.
test('a_redis_flushed_and_refilled_between_two_polls_is_still_followed', async () => {
  const url = redis.url(5);
  const state = path.join(dir, 'epoch.db');
  // A slow poll, so the flush and the refill both fall between two reads.
  const p = await startProxy(cfg(state, mock.url).replace(redisUrl, url).replace('poll_ms: 20', 'poll_ms: 3000'));
  cleanups.push(() => p.stop());
  const run = (args, st) => {
    const r = spawnSync(BIN, ['keys', ...args, '--json', '--state', path.join(dir, st), '--redis', url],
      { env: { PATH: process.env.PATH, HOME: dir }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  const before = run(['create', '--name', 'before'], 'epoch-admin1.db');
  await until(p, before.key, 200, 'the first key');
  const v1 = Number(redis.cli(5, 'GET', 'ccp:keys:version'));
  assert.ok(v1 > 1e15, `the counter starts from Redis's clock in microseconds, not from 1 (${v1})`);
  // Flushed, then one key made from another admin's (empty) file: as many
  // changes as before, so a counter from 1 would read the same again.
  redis.cli(5, 'FLUSHDB');
  const after = run(['create', '--name', 'after'], 'epoch-admin2.db');
  assert.notEqual(Number(redis.cli(5, 'GET', 'ccp:keys:version')), v1);
  await until(p, after.key, 200, 'a key made after the flush');
  await refusedWith401(p, before.key, /invalid proxy key|revoked/);
});
