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
import { startRedisServer } from './lib/redis_server.mjs';

const BIN = process.env.CCPROXY_BIN;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-redis-garbage-'));
const cleanups = [];
let redis = null;

before(async () => {
  redis = await startRedisServer(dir);
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
