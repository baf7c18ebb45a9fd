// Proxy keys, per-key limits, usage and audit (auth.mode: keys), through the
// official SDK: the shapes and headers of 401/403/429, tokens per minute
// reconciled after a streamed answer, the keys CLI round trip and a running
// proxy picking up its changes, the open-relay refusal, and the audit chain
// catching a tampered row.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { startProxy, mockConfig, MOCK_KEY } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';

const BIN = process.env.CCPROXY_BIN;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-teams-'));
const state = path.join(dir, 'state', 'state.db');
const cleanups = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  fs.rmSync(dir, { recursive: true, force: true });
});

// Runs `ccproxy ARGS --state FILE`; returns { status, stdout, stderr }.
function cli(args, file = state) {
  const r = spawnSync(BIN, [...args, '--state', file], {
    env: { PATH: process.env.PATH, ASAN_OPTIONS: 'detect_leaks=1', HOME: dir }, encoding: 'utf8',
  });
  return r;
}
function makeKey(name, extra = []) {
  const r = cli(['keys', 'create', '--name', name, '--json', ...extra]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

// An SSE answer whose usage says `input` tokens in and `output` out.
function sseWithUsage(input, output) {
  const ev = (type, data) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  return ev('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'mock-model', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: input, output_tokens: 1 } } })
    + ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } })
    + ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hello' } })
    + ev('content_block_stop', { index: 0 })
    + ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: output } })
    + ev('message_stop', {});
}

let mock, proxy;
let output = 5; // output tokens the mock reports
before(async () => {
  mock = await startMock((entry) => {
    if (entry.body?.messages?.[0]?.content === 'hold') return { kind: 'slow' };
    return { kind: 'raw', status: 200, headers: { 'content-type': 'text/event-stream' }, body: sseWithUsage(10, output) };
  });
  proxy = await startProxy(mockConfig(mock.url, `
auth:
  mode: keys
state:
  path: ${state}
  poll_ms: 20
  flush_ms: 5
`));
  cleanups.push(() => mock.close(), () => proxy.stop());
});

const req = { model: 'mock-model', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] };
const sdk = (apiKey, extra = {}) => new Anthropic({ baseURL: proxy.url, apiKey, maxRetries: 0, ...extra });

// Retries fn until it stops throwing: a running proxy sees a change of the
// state file within state.poll_ms (here 20 ms); no fixed sleep.
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
  assert.equal(err.error?.type, 'error');
  assert.equal(err.error?.error?.type, type);
  if (messageRe) assert.match(err.error.error.message, messageRe);
  return err;
}

test('keys_cli_round_trip_create_list_show_rotate_revoke', () => {
  const file = path.join(dir, 'cli', 'other.db');
  const made = JSON.parse(cli(['keys', 'create', '--name', 'ci', '--tenant', 'eng', '--rpm', '60', '--tpm', '1000', '--concurrency', '2', '--budget', '50usd/month', '--models', 'claude-*,mock-*', '--expires', '30d', '--json'], file).stdout);
  assert.match(made.key, /^ccp-[A-Za-z0-9_-]{43}$/);
  assert.match(made.id, /^key_[0-9a-f]{16}$/);
  assert.equal(made.tenant, 'eng');
  assert.deepEqual(made.budget, { usd: 50, period: 'month' });
  assert.equal(made.models, 'claude-*,mock-*');
  // The secret is stored only as its hash.
  assert.ok(!fs.readFileSync(file).includes(made.key.slice(4)), 'the key itself must not be in the file');
  const plain = cli(['keys', 'create', '--name', 'plain'], file);
  assert.equal(plain.status, 0);
  assert.match(plain.stdout, /^ccp-/);
  assert.match(plain.stderr, /shown only now/);
  const dup = cli(['keys', 'create', '--name', 'ci'], file);
  assert.equal(dup.status, 2);
  assert.match(dup.stderr, /exists already/);
  const list = JSON.parse(cli(['keys', 'list', '--json'], file).stdout);
  assert.deepEqual(list.map((k) => k.name), ['ci', 'plain']);
  assert.ok(list.every((k) => !('key' in k)));
  const shown = JSON.parse(cli(['keys', 'show', made.id, '--json'], file).stdout);
  assert.equal(shown.name, 'ci');
  assert.equal(shown.rpm, 60);
  assert.match(cli(['keys', 'list'], file).stdout, /ci +eng +active/);
  const rotated = JSON.parse(cli(['keys', 'rotate', 'ci', '--json'], file).stdout);
  assert.equal(rotated.id, made.id);
  assert.notEqual(rotated.key, made.key);
  assert.equal(cli(['keys', 'revoke', 'ci'], file).status, 0);
  assert.equal(JSON.parse(cli(['keys', 'show', 'ci', '--json'], file).stdout).status, 'revoked');
  const missing = cli(['keys', 'show', 'nobody'], file);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /no key has the id or name 'nobody'/);
  const bad = cli(['keys', 'create', '--name', 'x', '--budget', 'lots'], file);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--budget must be/);
});

test('missing_unknown_revoked_and_expired_keys_get_401_authentication_error', async () => {
  const raw = await fetch(`${proxy.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(req) });
  assert.equal(raw.status, 401);
  const body = await raw.json();
  assert.deepEqual(Object.keys(body), ['type', 'error']);
  assert.equal(body.error.type, 'authentication_error');
  assert.match(body.error.message, /x-api-key .*Authorization: Bearer/);
  await expectApiError(sdk('ccp-not-a-real-key').messages.create(req), 401, 'authentication_error', /invalid proxy key/);
  const k = makeKey('to-revoke');
  await eventually(() => sdk(k.key).messages.create(req));
  assert.equal(cli(['keys', 'revoke', k.id]).status, 0);
  await eventually(() => expectApiError(sdk(k.key).messages.create(req), 401, 'authentication_error', /revoked/));
  const e = makeKey('to-expire', ['--expires', '30d']);
  await eventually(() => sdk(e.key).messages.create(req));
  execFileSync('sqlite3', [state, `UPDATE keys SET expires = 1 WHERE id = '${e.id}'`]);
  await eventually(() => expectApiError(sdk(e.key).messages.create(req), 401, 'authentication_error', /expired/));
});

test('a_key_sent_as_bearer_works_and_never_reaches_the_provider', async () => {
  const k = makeKey('bearer');
  const client = sdk(null, { authToken: k.key });
  const msg = await eventually(() => client.messages.create(req));
  assert.equal(msg.type, 'message');
  const seen = mock.requests.at(-1);
  assert.equal(seen.headers['x-api-key'], MOCK_KEY);
  assert.equal(seen.headers.authorization, undefined);
  for (const [name, value] of Object.entries(seen.headers))
    assert.ok(!String(value).includes(k.key), `the proxy key leaked to the provider in ${name}`);
});

test('a_model_outside_the_keys_globs_gets_403_permission_error', async () => {
  const k = makeKey('globbed', ['--models', 'claude-*,mock-mod?l']);
  await eventually(() => sdk(k.key).messages.create(req));
  await expectApiError(sdk(k.key).messages.create({ ...req, model: 'gpt-4o' }), 403, 'permission_error', /may not use model 'gpt-4o'/);
});

test('over_its_requests_per_minute_a_key_gets_429_with_retry_after_and_ratelimit_headers', async () => {
  const k = makeKey('rpm2', ['--rpm', '2']);
  const client = sdk(k.key);
  const first = await eventually(() => client.messages.create(req).withResponse());
  assert.equal(first.response.headers.get('anthropic-ratelimit-requests-limit'), '2');
  assert.equal(first.response.headers.get('anthropic-ratelimit-requests-remaining'), '1');
  assert.match(first.response.headers.get('anthropic-ratelimit-requests-reset'), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  await client.messages.create(req);
  const err = await expectApiError(client.messages.create(req), 429, 'rate_limit_error', /2 requests per minute/);
  const retry = Number(err.headers.get('retry-after'));
  assert.ok(retry >= 1 && retry <= 60, `retry-after ${retry}`);
  assert.equal(err.headers.get('anthropic-ratelimit-requests-limit'), '2');
  assert.equal(err.headers.get('anthropic-ratelimit-requests-remaining'), '0');
});

test('tokens_per_minute_are_reconciled_with_the_usage_of_a_streamed_answer', async () => {
  const k = makeKey('tpm', ['--tpm', '1000']);
  const client = sdk(k.key);
  output = 5000; // far above the estimate of a short prompt
  try {
    const stream = await eventually(() => client.messages.stream(req).finalMessage());
    assert.equal(stream.usage.output_tokens, 5000);
  } finally {
    output = 5;
  }
  const err = await expectApiError(client.messages.create(req), 429, 'rate_limit_error', /1000 tokens per minute/);
  assert.equal(err.headers.get('anthropic-ratelimit-tokens-limit'), '1000');
  assert.equal(err.headers.get('anthropic-ratelimit-tokens-remaining'), '0');
  // Overdrawn by about 4000 tokens at 1000 a minute: minutes, not seconds.
  assert.ok(Number(err.headers.get('retry-after')) > 60, err.headers.get('retry-after'));
});

test('a_key_at_its_concurrency_limit_gets_429_until_a_request_ends', async () => {
  const k = makeKey('conc1', ['--concurrency', '1']);
  const client = sdk(k.key);
  await eventually(() => client.messages.create(req));
  const ac = new AbortController();
  const held = await client.messages.create({ ...req, stream: true, messages: [{ role: 'user', content: 'hold' }] }, { signal: ac.signal });
  const it = held[Symbol.asyncIterator]();
  await it.next(); // the stream is open: the slot is taken
  await expectApiError(client.messages.create(req), 429, 'rate_limit_error', /concurrency limit/);
  ac.abort();
  await it.next().catch(() => {});
  await eventually(() => client.messages.create(req));
});

test('a_running_proxy_picks_up_a_key_made_after_it_started', async () => {
  const k = makeKey('late');
  const msg = await eventually(() => sdk(k.key).messages.create(req));
  assert.equal(msg.type, 'message');
  assert.match(proxy.log(), /proxy keys reloaded/);
  assert.ok(!proxy.log().includes(k.key), 'a key must never be logged');
});

test('auth_mode_none_refuses_a_non_loopback_address_unless_allowed', async () => {
  await assert.rejects(startProxy(mockConfig(mock.url), { args: ['--host', '0.0.0.0'] }),
    /refusing to listen on 0\.0\.0\.0 with auth\.mode none.*auth\.allow_unauthenticated: true/s);
  const allowed = await startProxy(mockConfig(mock.url, 'auth:\n  allow_unauthenticated: true\n'), { args: ['--host', '0.0.0.0'] });
  await allowed.stop();
  const keyed = await startProxy(mockConfig(mock.url, `auth:\n  mode: keys\nstate:\n  path: ${state}\n`), { args: ['--host', '0.0.0.0'] });
  assert.doesNotMatch(keyed.log(), /OPEN RELAY/);
  await keyed.stop();
});

// A second proxy with a pricing table and a state file of its own (its
// audit chain is tampered with at the end).
async function pricedProxy(file) {
  const p = await startProxy(mockConfig(mock.url, `
auth:
  mode: keys
state:
  path: ${file}
  poll_ms: 20
  flush_ms: 5
pricing:
  mock:
    "mock-*": {input: 1000, output: 1000, cache_read: 100, cache_write: 1250}
`));
  cleanups.push(() => p.stop());
  return p;
}

test('a_budget_exhausted_mid_day_gets_429_until_the_next_day_and_usage_shows_the_spend', async () => {
  const file = path.join(dir, 'priced', 'state.db');
  const k = JSON.parse(cli(['keys', 'create', '--name', 'budgeted', '--budget', '0.02usd/day', '--json'], file).stdout);
  const other = JSON.parse(cli(['keys', 'create', '--name', 'other', '--tenant', 'ops', '--json'], file).stdout);
  const p = await pricedProxy(file);
  const client = new Anthropic({ baseURL: p.url, apiKey: k.key, maxRetries: 0 });
  // 10 input + 5 output tokens at $1000 per million: $0.015 a request.
  await client.messages.create(req);
  await client.messages.create(req); // $0.015 spent < $0.02: admitted
  const err = await expectApiError(client.messages.create(req), 429, 'rate_limit_error', /spent its budget of 0\.02 USD for this day/);
  const retry = Number(err.headers.get('retry-after'));
  assert.ok(retry > 0 && retry <= 86400, `retry-after ${retry}`);
  await new Anthropic({ baseURL: p.url, apiKey: other.key, maxRetries: 0 }).messages.stream(req).finalMessage();
  // The rows are written by the state thread: poll until they are in.
  const rows = await eventually(() => {
    const r = JSON.parse(cli(['usage', '--json'], file).stdout);
    assert.equal(r.reduce((n, x) => n + x.requests, 0), 3);
    return r;
  });
  const mine = rows.find((r) => r.key === 'budgeted');
  assert.equal(mine.requests, 2);
  assert.equal(mine.input_tokens, 20);
  assert.equal(mine.output_tokens, 10);
  assert.equal(mine.provider, 'mock');
  assert.equal(mine.model, 'mock-model');
  assert.ok(Math.abs(mine.spend_usd - 0.03) < 1e-9, String(mine.spend_usd));
  assert.equal(mine.unpriced_requests, 0);
  const ops = JSON.parse(cli(['usage', '--tenant', 'ops', '--json'], file).stdout);
  assert.deepEqual(ops.map((r) => [r.key, r.tenant, r.requests]), [['other', 'ops', 1]]);
  assert.deepEqual(JSON.parse(cli(['usage', '--key', k.id, '--json'], file).stdout).map((r) => r.requests), [2]);
  const table = cli(['usage', '--since', '7d'], file).stdout;
  assert.match(table, /budgeted .* 2 .*\$0\.0300/);
  assert.match(table, /total: 3 requests, \$0\.0450/);
});

test('audit_verify_passes_then_catches_a_tampered_row_and_export_writes_json_lines', async () => {
  const file = path.join(dir, 'audit', 'state.db');
  const k = JSON.parse(cli(['keys', 'create', '--name', 'audited', '--json'], file).stdout);
  const p = await pricedProxy(file);
  const client = new Anthropic({ baseURL: p.url, apiKey: k.key, maxRetries: 0 });
  for (let i = 0; i < 3; i++) await client.messages.create(req);
  // The rows are written by the state thread: poll until they are in.
  await eventually(() => {
    const r = cli(['audit', 'verify'], file);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /intact: 5 rows/); // the key made, the config loaded, 3 requests
  });
  const lines = cli(['audit', 'export'], file).stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.kind), ['key.create', 'config.load', 'request', 'request', 'request']);
  assert.equal(lines[0].data.name, 'audited');
  assert.match(lines[1].data.source, /ccproxy\.yaml$/);
  assert.match(lines[1].data.hash, /^sha256:[0-9a-f]{64}$/);
  const r = lines[2].data;
  assert.equal(r.status, 200);
  assert.equal(r.key_id, k.id);
  assert.equal(r.provider, 'mock');
  assert.equal(r.model, 'mock-model');
  assert.equal(r.input_tokens, 10);
  assert.ok(Math.abs(r.spend_usd - 0.015) < 1e-9);
  assert.match(r.request_id, /^req_/);
  assert.ok(!JSON.stringify(lines).includes('"hi"'), 'no prompt text in the audit record');
  assert.ok(!JSON.stringify(lines).includes('Hello'), 'no answer text in the audit record');
  assert.equal(cli(['audit', 'export', '--since', '4'], file).stdout.trim().split('\n').length, 1);
  await p.stop();
  cleanups.splice(cleanups.length - 1, 1);
  execFileSync('sqlite3', [file, "UPDATE audit SET data = replace(data, '\"status\":200', '\"status\":500') WHERE seq = 4"]);
  const bad = cli(['audit', 'verify'], file);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /audit row 4 was edited/);
  execFileSync('sqlite3', [file, "UPDATE audit SET data = replace(data, '\"status\":500', '\"status\":200') WHERE seq = 4"]);
  assert.equal(cli(['audit', 'verify'], file).status, 0);
  execFileSync('sqlite3', [file, 'DELETE FROM audit WHERE seq = 2']);
  const gone = cli(['audit', 'verify'], file);
  assert.equal(gone.status, 1);
  assert.match(gone.stderr, /audit row 2 is missing/);
});

test('tenants_restrict_models_and_providers_and_share_their_limits', async () => {
  const file = path.join(dir, 'tenants', 'state.db');
  const mk = (name, tenant) => JSON.parse(cli(['keys', 'create', '--name', name, '--tenant', tenant, '--json'], file).stdout).key;
  const a = mk('a', 'limited');
  const b = mk('b', 'limited');
  const walled = mk('w', 'walled');
  const second = mk('s', 'second');
  const p = await startProxy(`
auth:
  mode: keys
state:
  path: ${file}
  poll_ms: 20
  flush_ms: 5
tenants:
  limited:
    models: ["mock-*"]
    rpm: 3
  walled:
    providers: [nowhere]
  second:
    providers: [backup]
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
  default: [mock/mock-model, backup/mock-model]
`);
  cleanups.push(() => p.stop());
  const c = (key) => new Anthropic({ baseURL: p.url, apiKey: key, maxRetries: 0 });
  await expectApiError(c(a).messages.create({ ...req, model: 'gpt-4o' }), 403, 'permission_error', /tenant 'limited' may not use model 'gpt-4o'/);
  // Three requests a minute for the tenant, whichever of its keys sends them.
  const first = await c(a).messages.create(req).withResponse();
  assert.equal(first.response.headers.get('anthropic-ratelimit-requests-limit'), '3');
  assert.equal(first.response.headers.get('anthropic-ratelimit-requests-remaining'), '2');
  await c(b).messages.create(req);
  await c(a).messages.create(req);
  const err = await expectApiError(c(b).messages.create(req), 429, 'rate_limit_error', /tenant 'limited' is over its rate limit of 3 requests per minute/);
  assert.equal(err.headers.get('anthropic-ratelimit-requests-remaining'), '0');
  assert.ok(Number(err.headers.get('retry-after')) >= 1);
  // Routes are cut down to the tenant's providers.
  await expectApiError(c(walled).messages.create(req), 403, 'permission_error', /tenant 'walled' may not use provider 'mock'/);
  const served = await c(second).messages.create(req).withResponse();
  assert.match(served.response.headers.get('x-ccproxy-route'), /target=backup\/mock-model/);
  assert.equal(mock.requests.at(-1).headers['x-api-key'], 'test-key-456');
  const usage = await eventually(() => {
    const r = JSON.parse(cli(['usage', '--tenant', 'limited', '--json'], file).stdout);
    assert.equal(r.reduce((n, x) => n + x.requests, 0), 3);
    return r;
  });
  assert.deepEqual(usage.map((r) => r.key).sort(), ['a', 'b']);
});
