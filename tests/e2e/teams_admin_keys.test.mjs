// The /admin/keys endpoints: `ccproxy keys` for a running proxy whose state
// store the operator cannot reach. With auth.mode keys and auth.admin_key, a
// key made through POST /admin/keys works at once through the official SDK
// (state.poll_ms is at its maximum, a minute: "at once" is the proxy
// reloading its own change, not its poll); list and show never hold a
// secret or a hash; revoke and rotate take effect at once; every endpoint
// asks for the admin key; bad fields get a 400 naming the field;
// `ccproxy keys ... --url` does the same through them; the audit chain has
// the rows and verifies; with state.redis a key made through instance A's
// endpoint is admitted by instance B.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Anthropic from '@anthropic-ai/sdk';
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020.js';
import { startProxy, mockConfig } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';
import { startRedisServer } from './lib/redis_server.mjs';

const BIN = process.env.CCPROXY_BIN;
const ADMIN = 'adm-keysadmin-0123456789abcdef';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-admin-keys-'));
const state = path.join(dir, 'state.db');
const req = { model: 'mock-model', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] };
const sha256 = (s) => crypto.createHash('sha256').update(s).digest('hex');
const cleanups = [];
let mock, p, schemas, ajv;
const SPEC = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../docs/openapi.yaml');

// The answer matches docs/openapi.yaml's schema of that name.
function documented(name, body) {
  const validate = ajv.compile(schemas[name]);
  assert.ok(validate(body), `${name}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body)}`);
}

const keysCfg = (file, extra = '') => mockConfig(mock.url, `
auth:
  mode: keys
  admin_key: \${ADMIN_KEY}
state:
  path: ${file}
  poll_ms: 60000
${extra}`);

before(async () => {
  schemas = (await SwaggerParser.dereference(SPEC)).components.schemas;
  ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
  mock = await startMock({ kind: 'json', fixture: 'text.json' });
  p = await startProxy(keysCfg(state), { env: { ADMIN_KEY: ADMIN } });
  cleanups.push(() => mock.close(), () => p.stop());
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
  fs.rmSync(dir, { recursive: true, force: true });
});

// One admin call; {status, body}.
async function admin(base, method, p2, body, key = ADMIN) {
  const headers = key ? { authorization: `Bearer ${key}` } : {};
  if (method === 'POST') headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${p2}`, {
    method, headers, body: method === 'POST' ? JSON.stringify(body ?? {}) : undefined,
  });
  return { status: res.status, body: await res.json() };
}
const statusOf = (base, apiKey) => new Anthropic({ baseURL: base, apiKey, maxRetries: 0 })
  .messages.create(req).then(() => 200, (e) => e.status ?? e);

function cli(args, env = {}) {
  return spawnSync(BIN, args, {
    env: { PATH: process.env.PATH, ASAN_OPTIONS: 'detect_leaks=1', HOME: dir, ...env },
    encoding: 'utf8',
  });
}

function assertNoSecrets(text, secrets) {
  for (const s of secrets) {
    assert.ok(!text.includes(s), 'a secret in a listing');
    assert.ok(!text.includes(sha256(s)), 'a hash in a listing');
  }
  assert.ok(!/"(key|hash)"\s*:/.test(text), `a key or hash field: ${text}`);
}

let alice;

test('a_key_made_through_post_admin_keys_works_at_once_through_the_sdk', async () => {
  const r = await admin(p.url, 'POST', '/admin/keys',
    { name: 'alice', tenant: 'team-a', rpm: 100, budget: '50usd/month', models: ['mock-*'], expires: '30d' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  alice = r.body;
  documented('ProxyKeyWithSecret', alice);
  assert.match(alice.key, /^ccp-/);
  assert.match(alice.id, /^key_[0-9a-f]{16}$/);
  assert.equal(alice.name, 'alice');
  assert.equal(alice.tenant, 'team-a');
  assert.equal(alice.rpm, 100);
  assert.deepEqual(alice.budget, { usd: 50, period: 'month' });
  assert.equal(alice.models, 'mock-*');
  assert.equal(alice.status, 'active');
  assert.match(alice.expires, /^\d{4}-\d\d-\d\dT/);
  assert.equal(alice.hash, undefined);
  // No polling: the proxy reloaded its own change before answering.
  assert.equal(await statusOf(p.url, alice.key), 200);
  assert.ok(!p.log().includes(alice.key), 'the new key in the log');
});

test('list_and_show_never_hold_a_secret_or_a_hash', async () => {
  const list = await admin(p.url, 'GET', '/admin/keys');
  assert.equal(list.status, 200);
  assert.ok(Array.isArray(list.body.data));
  for (const k of list.body.data) documented('ProxyKey', k);
  assert.ok(list.body.data.some((k) => k.id === alice.id && k.status === 'active'));
  assertNoSecrets(JSON.stringify(list.body), [alice.key]);
  for (const which of [alice.id, 'alice']) {
    const show = await admin(p.url, 'GET', `/admin/keys/${which}`);
    assert.equal(show.status, 200);
    assert.equal(show.body.id, alice.id);
    documented('ProxyKey', show.body);
    assertNoSecrets(JSON.stringify(show.body), [alice.key]);
  }
  const none = await admin(p.url, 'GET', '/admin/keys/nobody');
  assert.equal(none.status, 404);
  assert.equal(none.body.type, 'error');
  assert.equal(none.body.error.type, 'not_found_error');
  assert.match(none.body.error.message, /nobody/);
});

test('rotate_refuses_the_old_secret_and_admits_the_new_at_once', async () => {
  const r = await admin(p.url, 'POST', '/admin/keys/alice/rotate');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.id, alice.id);
  documented('ProxyKeyWithSecret', r.body);
  assert.match(r.body.key, /^ccp-/);
  assert.notEqual(r.body.key, alice.key);
  assert.equal(await statusOf(p.url, alice.key), 401);
  assert.equal(await statusOf(p.url, r.body.key), 200);
  const list = await admin(p.url, 'GET', '/admin/keys');
  assertNoSecrets(JSON.stringify(list.body), [alice.key, r.body.key]);
  alice = r.body;
});

test('revoke_is_refused_at_once_with_anthropics_401', async () => {
  const r = await admin(p.url, 'POST', `/admin/keys/${alice.id}/revoke`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.status, 'revoked');
  documented('ProxyKey', r.body);
  assert.equal(r.body.key, undefined);
  const err = await new Anthropic({ baseURL: p.url, apiKey: alice.key, maxRetries: 0 })
    .messages.create(req).catch((e) => e);
  assert.equal(err.status, 401);
  assert.equal(err.error.error.type, 'authentication_error');
  assert.match(err.error.error.message, /revoked/);
});

test('every_keys_endpoint_needs_the_admin_key', async () => {
  const rows = [['GET', '/admin/keys'], ['POST', '/admin/keys'], ['GET', '/admin/keys/alice'],
    ['POST', '/admin/keys/alice/revoke'], ['POST', '/admin/keys/alice/rotate']];
  for (const [m, u] of rows) {
    for (const key of [null, 'wrong-admin-key-0123456789', alice.key]) {
      const r = await admin(p.url, m, u, { name: 'mallory' }, key);
      assert.equal(r.status, 401, `${m} ${u}`);
      assert.equal(r.body.type, 'error');
      assert.equal(r.body.error.type, 'authentication_error');
    }
  }
  const list = await admin(p.url, 'GET', '/admin/keys');
  assert.ok(!list.body.data.some((k) => k.name === 'mallory'));
});

test('bad_fields_get_a_400_naming_the_field', async () => {
  const cases = [
    [{}, /name: is required/],
    [{ name: '' }, /name: must not be empty/],
    [{ name: 7 }, /name: must be a string/],
    [{ name: 'x', rpm: -1 }, /rpm: must be a whole number/],
    [{ name: 'x', tpm: 1.5 }, /tpm: must be a whole number/],
    [{ name: 'x', concurrency: '3' }, /concurrency: must be a whole number/],
    [{ name: 'x', budget: 'lots' }, /budget: must be an amount per day or month/],
    [{ name: 'x', expires: 'soon' }, /expires: must be a duration/],
    [{ name: 'x', models: [1] }, /models: each element/],
    [{ name: 'x', tenant: ['a'] }, /tenant: must be a string/],
    [{ name: 'x', colour: 'red' }, /colour: unknown field/],
  ];
  for (const [body, msg] of cases) {
    const r = await admin(p.url, 'POST', '/admin/keys', body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.deepEqual(Object.keys(r.body), ['type', 'error']);
    assert.equal(r.body.error.type, 'invalid_request_error');
    assert.match(r.body.error.message, msg);
  }
  const dup = await admin(p.url, 'POST', '/admin/keys', { name: 'alice' });
  assert.equal(dup.status, 400);
  assert.match(dup.body.error.message, /alice/);
  const notJson = await fetch(`${p.url}/admin/keys`, {
    method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: '[1]',
  });
  assert.equal(notJson.status, 400);
  const action = await admin(p.url, 'POST', '/admin/keys/alice/explode');
  assert.equal(action.status, 404);
  const badPath = await admin(p.url, 'GET', '/admin/keys/%zz');
  assert.equal(badPath.status, 400);
});

test('cli_keys_with_url_creates_lists_rotates_and_revokes_through_the_endpoints', async () => {
  const env = { CCPROXY_ADMIN_KEY: ADMIN };
  const made = cli(['keys', 'create', '--name', 'bob', '--rpm', '5', '--budget', '5usd/day', '--url', p.url, '--json'], env);
  assert.equal(made.status, 0, made.stderr);
  const bob = JSON.parse(made.stdout);
  assert.equal(bob.rpm, 5);
  assert.deepEqual(bob.budget, { usd: 5, period: 'day' });
  assert.equal(await statusOf(p.url, bob.key), 200);
  // Table and JSON listings, as the state file's.
  const table = cli(['keys', 'list', '--url', p.url], env);
  assert.equal(table.status, 0, table.stderr);
  assert.match(table.stdout, /^ID\s+NAME\s+TENANT\s+STATUS\s+PREFIX\s+LIMITS/);
  assert.match(table.stdout, /bob\s+-\s+active\s+\S+\s+rpm=5 tpm=0 conc=0 budget=5\.00usd\/day/);
  const local = cli(['keys', 'list', '--state', state]);
  assert.equal(local.status, 0, local.stderr);
  assert.equal(table.stdout, local.stdout.replace(/(bob|alice)(\s+\S+\s+)active/g, '$1$2active'));
  const listed = JSON.parse(cli(['keys', 'list', '--url', p.url, '--json'], env).stdout);
  assert.ok(Array.isArray(listed) && listed.some((k) => k.id === bob.id));
  assertNoSecrets(JSON.stringify(listed), [bob.key]);
  const shown = cli(['keys', 'show', 'bob', '--url', p.url], env);
  assert.equal(shown.status, 0, shown.stderr);
  assert.match(shown.stdout, /^id:\s+key_/);
  assert.match(shown.stdout, /budget:\s+5\.00 USD per day/);
  // Rotate prints the new secret alone on stdout.
  const rot = cli(['keys', 'rotate', 'bob', '--url', p.url], env);
  assert.equal(rot.status, 0, rot.stderr);
  const fresh = rot.stdout.trim();
  assert.match(fresh, /^ccp-/);
  assert.match(rot.stderr, /shown only now/);
  assert.equal(await statusOf(p.url, bob.key), 401);
  assert.equal(await statusOf(p.url, fresh), 200);
  const rev = cli(['keys', 'revoke', 'bob', '--url', p.url], env);
  assert.equal(rev.status, 0, rev.stderr);
  assert.match(rev.stderr, /revoked key bob/);
  assert.equal(await statusOf(p.url, fresh), 401);
  // Without the admin key: the proxy's 401, and what to do.
  const noKey = cli(['keys', 'list', '--url', p.url]);
  assert.equal(noKey.status, 1);
  assert.match(noKey.stderr, /401/);
  assert.match(noKey.stderr, /CCPROXY_ADMIN_KEY/);
  const missing = cli(['keys', 'revoke', 'nobody', '--url', p.url], env);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /404/);
  const push = cli(['keys', 'push', '--url', p.url], env);
  assert.equal(push.status, 2);
});

test('the_audit_chain_has_the_endpoints_rows_and_verifies', async () => {
  const v = cli(['audit', 'verify', '--state', state]);
  assert.equal(v.status, 0, v.stderr);
  const rows = cli(['audit', 'export', '--state', state]).stdout.trim().split('\n').map((l) => JSON.parse(l));
  const kinds = rows.filter((r) => r.kind.startsWith('key.')).map((r) => `${r.kind} ${r.data.name}`);
  assert.deepEqual(kinds, ['key.create alice', 'key.rotate alice', 'key.revoke alice',
    'key.create bob', 'key.rotate bob', 'key.revoke bob']);
  const text = JSON.stringify(rows);
  assert.ok(!text.includes(alice.key), 'a secret in the audit');
});

test('an_id_or_name_in_the_path_is_percent_decoded_and_the_cli_encodes_it', async () => {
  const r = await admin(p.url, 'POST', '/admin/keys', { name: 'team a/b%' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const show = await admin(p.url, 'GET', '/admin/keys/team%20a%2fb%25');
  assert.equal(show.status, 200, JSON.stringify(show.body));
  assert.equal(show.body.id, r.body.id);
  for (const bad of ['%2', '%g1', '%00x', '%+1']) {
    const b = await admin(p.url, 'GET', `/admin/keys/${bad}`);
    assert.equal(b.status, 400, bad);
    assert.equal(b.body.error.type, 'invalid_request_error');
  }
  const c = cli(['keys', 'show', 'team a/b%', '--url', p.url, '--json'], { CCPROXY_ADMIN_KEY: ADMIN });
  assert.equal(c.status, 0, c.stderr);
  assert.equal(JSON.parse(c.stdout).id, r.body.id);
  const rev = cli(['keys', 'revoke', 'team a/b%', '--url', p.url], { CCPROXY_ADMIN_KEY: ADMIN });
  assert.equal(rev.status, 0, rev.stderr);
  assert.equal(await statusOf(p.url, r.body.key), 401);
});

test('concurrent_creates_all_land_work_at_once_and_keep_the_audit_chain_intact', async () => {
  const names = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
  const made = await Promise.all(names.map((name) => admin(p.url, 'POST', '/admin/keys', { name })));
  for (const r of made) assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(new Set(made.map((r) => r.body.id)).size, names.length);
  for (const r of made) assert.equal(await statusOf(p.url, r.body.key), 200);
  const v = cli(['audit', 'verify', '--state', state]);
  assert.equal(v.status, 0, v.stderr);
});

test('without_proxy_keys_the_endpoints_say_they_are_off', async () => {
  const open = await startProxy(mockConfig(mock.url, `
auth:
  admin_key: \${ADMIN_KEY}
`), { env: { ADMIN_KEY: ADMIN } });
  try {
    for (const [m, u] of [['GET', '/admin/keys'], ['POST', '/admin/keys'], ['GET', '/admin/keys/x'], ['POST', '/admin/keys/x/revoke']]) {
      const r = await admin(open.url, m, u, { name: 'x' });
      assert.equal(r.status, 404, `${m} ${u}`);
      assert.equal(r.body.error.type, 'not_found_error');
      assert.match(r.body.error.message, /proxy keys are off/);
    }
  } finally {
    await open.stop();
  }
});

test('with_state_redis_a_key_made_through_instance_a_is_admitted_by_instance_b', async () => {
  const redis = await startRedisServer(dir);
  try {
    const extra = `  redis: ${redis.url(5)}\n`;
    const fast = (file) => mockConfig(mock.url, `
auth:
  mode: keys
  admin_key: \${ADMIN_KEY}
state:
  path: ${file}
  poll_ms: 20
${extra}`);
    const a = await startProxy(keysCfg(path.join(dir, 'ra.db'), extra), { env: { ADMIN_KEY: ADMIN } });
    const b = await startProxy(fast(path.join(dir, 'rb.db')), { env: { ADMIN_KEY: ADMIN } });
    try {
      const r = await admin(a.url, 'POST', '/admin/keys', { name: 'carol' });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(await statusOf(a.url, r.body.key), 200); // A: at once
      let last;
      for (let i = 0; i < 400 && last !== 200; i++) {
        last = await statusOf(b.url, r.body.key);
        if (last !== 200) await new Promise((res) => setTimeout(res, 25));
      }
      assert.equal(last, 200, `instance b: ${b.log()}`);
      // Redis holds it (the record, never the secret).
      assert.ok(!redis.cli(5, 'KEYS', '*').includes(r.body.key));
      const rev = await admin(b.url, 'POST', '/admin/keys/carol/revoke');
      assert.equal(rev.status, 200, JSON.stringify(rev.body));
      assert.equal(await statusOf(b.url, r.body.key), 401); // B: at once
      // Redis gone: a change is refused with 503 (made in one file only,
      // the next follow of Redis would undo it); a read answers from the
      // state file's copy.
      await redis.kill();
      const down = await admin(a.url, 'POST', '/admin/keys', { name: 'dave' });
      assert.equal(down.status, 503, JSON.stringify(down.body));
      assert.equal(down.body.error.type, 'api_error');
      assert.match(down.body.error.message, /state\.redis .*unreachable/);
      const listed = await admin(a.url, 'GET', '/admin/keys');
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      assert.deepEqual(listed.body.data.map((k) => k.name), ['carol']);
    } finally {
      await a.stop();
      await b.stop();
    }
  } finally {
    await redis.kill();
  }
});

test('cli_keys_with_running_finds_the_started_proxy_and_sends_the_configs_admin_key', async () => {
  const home = fs.mkdtempSync(path.join(dir, 'svc-'));
  const keyFile = path.join(home, 'admin.key');
  fs.writeFileSync(keyFile, `${ADMIN}\n`, { mode: 0o600 });
  const cfg = path.join(home, 'ccproxy.yaml');
  fs.writeFileSync(cfg, mockConfig(mock.url, `server:
  port: 0
  admin_listen: '127.0.0.1:0'
auth:
  mode: keys
  admin_key: \${file:${keyFile}}
state:
  path: ${path.join(home, 'svc.db')}
  poll_ms: 60000
`));
  const env = { XDG_STATE_HOME: path.join(home, 'state'), HOME: home };
  let r = cli(['start', '--config', cfg, '--json'], env);
  assert.equal(r.status, 0, r.stderr);
  const url = JSON.parse(r.stdout).url;
  try {
    r = cli(['keys', 'create', '--name', 'dave', '--running', '--config', cfg, '--json'], env);
    assert.equal(r.status, 0, r.stderr);
    const dave = JSON.parse(r.stdout);
    assert.equal(await statusOf(url, dave.key), 200);
    r = cli(['keys', 'list', '--running', '--config', cfg], env);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /dave\s+-\s+active/);
    assert.ok(!r.stdout.includes(dave.key) && !r.stderr.includes(ADMIN));
  } finally {
    cli(['stop', '--config', cfg], env);
  }
  r = cli(['keys', 'list', '--running', '--config', cfg], env);
  assert.equal(r.status, 3);
  assert.match(r.stderr, /no proxy runs/);
});
