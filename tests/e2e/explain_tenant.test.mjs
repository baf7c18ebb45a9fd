// `ccproxy explain --key / --tenant`: the dry run applies what the server
// applies for a tenant's key — the key's and the tenant's model globs, the
// tenant's router in place of router's stages, the route cut down to the
// tenant's providers — and says the 401 or 403 the server would answer.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MOCK_KEY } from './lib/proxy.mjs';

const BIN = process.env.CCPROXY_BIN;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccp-explain-tenant-'));
const state = path.join(dir, 'state.db');
const cfg = path.join(dir, 'ccproxy.yaml');
fs.writeFileSync(cfg, `
auth:
  mode: keys
state:
  path: ${state}
tenants:
  eng:
    models: ["mock-*", "claude-*"]
    router:
      default: backup/eng-model
      background: mock/eng-haiku
  walled:
    providers: [nowhere]
  second:
    providers: [backup]
providers:
  - name: mock
    format: anthropic
    base_url: http://127.0.0.1:9
    api_key: ${MOCK_KEY}
  - name: backup
    format: anthropic
    base_url: http://127.0.0.1:9
    api_key: ${MOCK_KEY}
router:
  default: [mock/mock-model, backup/mock-model]
`);
const request = (model) => {
  const f = path.join(dir, `${model}.json`);
  fs.writeFileSync(f, JSON.stringify({ model, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }));
  return f;
};
function ccproxy(args) {
  return spawnSync(BIN, args, { env: { PATH: process.env.PATH, HOME: dir }, encoding: 'utf8', timeout: 15000 });
}
const explain = (...args) => ccproxy(['explain', '--config', cfg, ...args]);
const mkKey = (name, ...extra) => JSON.parse(ccproxy(['keys', 'create', '--name', name, ...extra, '--state', state, '--json']).stdout);
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('explain_with_a_tenant_shows_the_route_its_router_overrides', () => {
  const r = explain('--tenant', 'eng', request('claude-x'));
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^tenant: +eng \(models: mock-\* claude-\*; providers: any\)$/m);
  assert.match(r.stdout, /^chosen by: tenants\.eng\.router\.default$/m);
  assert.match(r.stdout, /^target: +backup\/eng-model \(anthropic\)$/m);
  assert.doesNotMatch(r.stdout, /^fallback:/m);
  assert.equal(JSON.parse(r.stdout.trim().split('\n').at(-1)).model, 'eng-model');
  // Without the tenant, router's own default.
  const plain = explain(request('claude-x'));
  assert.match(plain.stdout, /^chosen by: router\.default$/m);
  assert.match(plain.stdout, /^target: +mock\/mock-model \(anthropic\)$/m);
});

test('explain_with_a_key_applies_its_tenants_providers_and_never_prints_the_secret', () => {
  const k = mkKey('s1', '--tenant', 'second');
  for (const which of [k.key, 's1', k.id]) {
    const r = explain('--key', which, request('claude-x'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^key: +s1 \\(${k.id}\\), tenant 'second'$`, 'm'));
    assert.match(r.stdout, /^tenant: +second \(models: any; providers: backup\)$/m);
    assert.match(r.stdout, /^target: +backup\/mock-model \(anthropic\)$/m);
    assert.doesNotMatch(r.stdout, /mock\/mock-model/);
    assert.ok(!r.stdout.includes(k.key) && !r.stderr.includes(k.key), 'the secret never appears');
  }
  const none = explain('--key', 'ccp-not-a-key', request('claude-x'));
  assert.equal(none.status, 1);
  assert.match(none.stderr, /no proxy key with this secret/);
});

test('explain_says_403_when_the_tenant_may_not_use_the_target_or_the_model', () => {
  const r = explain('--tenant', 'walled', request('claude-x'));
  assert.equal(r.status, 1);
  assert.match(r.stdout, /^target: +mock\/mock-model/m);
  assert.match(r.stdout, /^refused: +the server would answer 403 permission_error: tenant 'walled' may not use provider 'mock', the one this request is routed to$/m);
  assert.doesNotMatch(r.stdout, /outbound request/);
  const model = explain('--tenant', 'eng', request('gpt-4o'));
  assert.equal(model.status, 1);
  assert.match(model.stdout, /^refused: +the server would answer 403 permission_error: tenant 'eng' may not use model 'gpt-4o'$/m);
  const k = mkKey('narrow', '--models', 'claude-haiku-*');
  const own = explain('--key', 'narrow', request('claude-x'));
  assert.equal(own.status, 1);
  assert.match(own.stdout, /this proxy key may not use model 'claude-x'/);
  ccproxy(['keys', 'revoke', k.id, '--state', state]);
  const revoked = explain('--key', 'narrow', request('claude-haiku-4'));
  assert.equal(revoked.status, 1);
  assert.match(revoked.stdout, /^refused: +the server would answer 401 authentication_error: this proxy key has been revoked$/m);
});

test('explain_refuses_an_unknown_tenant_and_both_flags_at_once', () => {
  const r = explain('--tenant', 'nope', request('claude-x'));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /has no tenant 'nope' \(it has: eng, walled, second\)/);
  const both = explain('--tenant', 'eng', '--key', 'x', request('claude-x'));
  assert.equal(both.status, 2);
  assert.match(both.stderr, /give --key or --tenant, not both/);
});
