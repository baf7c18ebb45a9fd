// auth.mode keys beyond POST /v1/messages: refused requests in the audit
// record (metadata and the reason, so attempts with a revoked key show),
// count_tokens and models asking for a valid key with the same 401 shape,
// and a tenant's own router (tenants.NAME.router) routing its keys.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { startProxy } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';

const BIN = process.env.CCPROXY_BIN;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-teams-more-'));
const state = path.join(dir, 'state.db');
const cleanups = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  fs.rmSync(dir, { recursive: true, force: true });
});

function cli(args) {
  return spawnSync(BIN, [...args, '--state', state], {
    env: { PATH: process.env.PATH, ASAN_OPTIONS: 'detect_leaks=1', HOME: dir }, encoding: 'utf8',
  });
}
function makeKey(name, extra = []) {
  const r = cli(['keys', 'create', '--name', name, '--json', ...extra]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}
async function eventually(fn) {
  for (let i = 0; ; i++) {
    try { return await fn(); } catch (e) {
      if (i > 200) throw e;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}
async function expectApiError(promise, status, type, messageRe) {
  const err = await promise.then(() => null, (e) => e);
  assert.ok(err, `expected a ${status}`);
  assert.equal(err.status, status, String(err));
  assert.equal(err.error?.error?.type, type);
  if (messageRe) assert.match(err.error.error.message, messageRe);
  return err;
}

let mock, proxy, plain, eng;
before(async () => {
  mock = await startMock({ kind: 'json', fixture: 'text.json' });
  plain = makeKey('plain', ['--rpm', '1']);
  eng = makeKey('eng-key', ['--tenant', 'eng']);
  proxy = await startProxy(`
auth:
  mode: keys
state:
  path: ${state}
  poll_ms: 20
  flush_ms: 5
tenants:
  eng:
    router:
      default: backup/eng-model
      background: mock/eng-haiku
providers:
  - name: mock
    format: anthropic
    base_url: ${mock.url}
    api_key: test-key-123
  - name: backup
    format: anthropic
    base_url: ${mock.url}
    api_key: test-key-456
router:
  default: mock/mock-model
`);
  cleanups.push(() => mock.close(), () => proxy.stop());
});

const req = { model: 'mock-model', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] };
const sdk = (apiKey) => new Anthropic({ baseURL: proxy.url, apiKey, maxRetries: 0 });

test('count_tokens_and_models_require_a_valid_key_with_the_same_401', async () => {
  for (const [method, p, body] of [['POST', '/v1/messages/count_tokens', JSON.stringify({ model: 'mock-model', messages: req.messages })], ['GET', '/v1/models', undefined]]) {
    const raw = await fetch(`${proxy.url}${p}`, { method, headers: { 'content-type': 'application/json' }, body });
    assert.equal(raw.status, 401, p);
    const b = await raw.json();
    assert.deepEqual(Object.keys(b), ['type', 'error']);
    assert.equal(b.error.type, 'authentication_error');
    assert.match(b.error.message, /x-api-key .*Authorization: Bearer/);
  }
  await expectApiError(sdk('ccp-not-a-real-key').messages.countTokens({ model: 'mock-model', messages: req.messages }), 401, 'authentication_error', /invalid proxy key/);
  await expectApiError(sdk('ccp-not-a-real-key').models.list(), 401, 'authentication_error', /invalid proxy key/);
  const counted = await sdk(plain.key).messages.countTokens({ model: 'mock-model', messages: req.messages });
  assert.ok(counted.input_tokens > 0);
  const models = await sdk(plain.key).models.list();
  assert.ok(Array.isArray(models.data));
});

test('a_tenant_key_routes_to_its_tenants_router_and_others_to_the_global_one', async () => {
  const mine = await sdk(eng.key).messages.create(req).withResponse();
  assert.match(mine.response.headers.get('x-ccproxy-route'), /target=backup\/eng-model/);
  assert.equal(mock.requests.at(-1).headers['x-api-key'], 'test-key-456');
  assert.equal(mock.requests.at(-1).body.model, 'eng-model');
  const bg = await sdk(eng.key).messages.create({ ...req, model: 'claude-haiku-4-5' }).withResponse();
  assert.match(bg.response.headers.get('x-ccproxy-route'), /stage=background.*target=mock\/eng-haiku/);
  const other = await sdk(plain.key).messages.create(req).withResponse();
  assert.match(other.response.headers.get('x-ccproxy-route'), /target=mock\/mock-model/);
  assert.equal(mock.requests.at(-1).headers['x-api-key'], 'test-key-123');
});

test('refused_requests_are_in_the_audit_with_their_reason_and_the_chain_holds', async () => {
  const gone = makeKey('gone');
  await eventually(() => sdk(gone.key).messages.create(req));
  assert.equal(cli(['keys', 'revoke', gone.id]).status, 0);
  await eventually(() => expectApiError(sdk(gone.key).messages.create(req), 401, 'authentication_error', /revoked/));
  await expectApiError(sdk('ccp-not-a-real-key').messages.create(req), 401, 'authentication_error');
  // plain has 1 request a minute and used it in the test above.
  await expectApiError(sdk(plain.key).messages.create(req), 429, 'rate_limit_error');
  await expectApiError(sdk(gone.key).models.list(), 401, 'authentication_error', /revoked/);
  const rows = await eventually(() => {
    const r = cli(['audit', 'verify']);
    assert.equal(r.status, 0, r.stderr);
    const lines = cli(['audit', 'export']).stdout.trim().split('\n').map((l) => JSON.parse(l));
    const refused = lines.filter((l) => l.kind === 'request.refused').map((l) => l.data);
    assert.ok(refused.some((d) => d.endpoint === '/v1/models' && d.key_id === gone.id), JSON.stringify(refused));
    return refused;
  });
  const revoked = rows.filter((d) => d.key_id === gone.id && d.endpoint === '/v1/messages');
  assert.ok(revoked.length >= 1);
  assert.equal(revoked[0].status, 401);
  assert.match(revoked[0].reason, /revoked/);
  assert.equal(revoked[0].model, 'mock-model');
  assert.match(revoked[0].request_id, /^req_/);
  const unknown = rows.find((d) => d.key_id === null && /invalid proxy key/.test(d.reason));
  assert.ok(unknown, 'an unknown key is audited without a key id');
  const limited = rows.find((d) => d.key_id === plain.id && d.status === 429);
  assert.ok(limited);
  assert.match(limited.reason, /rate limit/);
  assert.ok(!JSON.stringify(rows).includes('ccp-not-a-real-key'), 'no secret in the audit');
  assert.ok(!JSON.stringify(rows).includes(gone.key), 'no secret in the audit');
  // Refusals are not usage.
  const usage = JSON.parse(cli(['usage', '--json']).stdout);
  assert.ok(usage.every((u) => u.requests > 0));
});
