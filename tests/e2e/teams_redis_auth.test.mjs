// state.redis with a password (redis://:PASSWORD@host): a Redis that
// requires one (--requirepass) counts the shared limits of the request path
// (AUTH before every script on each worker's connection) and takes the
// state thread's usage; a wrong password fails closed like an unreachable
// Redis; the password never appears in the log or an answer (the harness's
// secret scan knows it as a secret).
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
const PASSWORD = 'rds-pw-5f0c1e77a9d24b3c';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-redis-auth-'));
const cleanups = [];
let redis, mock;
before(async () => {
  redis = await startRedisServer(dir, { password: PASSWORD });
  mock = await startMock({ kind: 'sse', fixture: 'text.sse' });
  cleanups.push(() => redis.kill(), () => mock.close());
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
  fs.rmSync(dir, { recursive: true, force: true });
});

function cli(args, state) {
  return spawnSync(BIN, [...args, '--state', state], { env: { PATH: process.env.PATH, HOME: dir }, encoding: 'utf8' });
}
const req = { model: 'mock-model', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] };
const config = (state, url) => mockConfig(mock.url, `
auth:
  mode: keys
state:
  path: ${state}
  poll_ms: 20
  flush_ms: 5
  redis: ${url}
`);

test('with_the_password_the_shared_rpm_limit_is_counted_in_redis', async () => {
  const state = path.join(dir, 'ok', 'state.db');
  const made = cli(['keys', 'create', '--name', 'dev', '--rpm', '2', '--json'], state);
  assert.equal(made.status, 0, made.stderr);
  const k = JSON.parse(made.stdout);
  const p = await startProxy(config(state, redis.url(2)));
  try {
    const client = new Anthropic({ baseURL: p.url, apiKey: k.key, maxRetries: 0 });
    await client.messages.create(req);
    await client.messages.create(req);
    await assert.rejects(client.messages.create(req), (e) => e.status === 429 && e.error?.error?.type === 'rate_limit_error');
    // The bucket is Redis's (database 2, reached only after AUTH).
    assert.ok(redis.cli(2, 'KEYS', 'ccp:*').includes(k.id), redis.cli(2, 'KEYS', 'ccp:*'));
  } finally {
    const log = await p.stop();
    assert.ok(!log.includes(PASSWORD), 'the Redis password must never be logged');
  }
});

test('a_wrong_password_fails_closed_and_is_not_shown', async () => {
  const state = path.join(dir, 'bad', 'state.db');
  const made = cli(['keys', 'create', '--name', 'dev', '--rpm', '5', '--json'], state);
  assert.equal(made.status, 0, made.stderr);
  const k = JSON.parse(made.stdout);
  const wrong = 'rds-wrong-0d9e8c7b6a5f4e3d';
  const p = await startProxy(config(state, `redis://:${wrong}@127.0.0.1:${redis.port}/0`));
  try {
    const client = new Anthropic({ baseURL: p.url, apiKey: k.key, maxRetries: 0 });
    const err = await client.messages.create(req).then(() => null, (e) => e);
    assert.ok(err, 'a request must not pass without the shared limits');
    assert.equal(err.status, 529);
    assert.equal(err.error?.error?.type, 'overloaded_error');
    assert.ok(!JSON.stringify(err.error).includes(wrong));
  } finally {
    const log = await p.stop();
    assert.match(log, /state\.redis 127\.0\.0\.1:\d+ unreachable/);
    assert.ok(!log.includes(wrong), 'the Redis password must never be logged');
  }
});
