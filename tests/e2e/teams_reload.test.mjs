// Proxy keys across a hot reload: a reload that would leave the proxy less
// protected than its file says (auth.mode: keys turned on, or an exposed
// listener without keys) is refused and the config in force keeps serving;
// with keys on, an accepted reload is audited (config.reload), tenants and
// pricing follow it, and state.path / state.redis are reported as needing a
// restart.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { startProxy, mockConfig } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';

const BIN = process.env.CCPROXY_BIN;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-teams-reload-'));
const cleanups = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  fs.rmSync(dir, { recursive: true, force: true });
});

function cli(args, file) {
  return spawnSync(BIN, [...args, '--state', file], {
    env: { PATH: process.env.PATH, ASAN_OPTIONS: 'detect_leaks=1', HOME: dir }, encoding: 'utf8',
  });
}

async function reload(proxy) {
  const res = await fetch(`${proxy.url}/admin/reload`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  return { status: res.status, body: await res.json() };
}

async function eventually(fn) {
  for (let i = 0; ; i++) {
    try { return await fn(); } catch (e) {
      if (i > 200) throw e;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

const req = { model: 'mock-model', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] };

test('a_reload_that_turns_proxy_keys_on_is_refused_and_the_proxy_keeps_serving', async () => {
  const mock = await startMock({ kind: 'sse', fixture: 'text.sse' });
  const proxy = await startProxy(mockConfig(mock.url));
  cleanups.push(() => mock.close(), () => proxy.stop());
  const file = path.join(dir, 'on', 'state.db');
  fs.writeFileSync(proxy.cfgPath, mockConfig(mock.url, `
auth:
  mode: keys
state:
  path: ${file}
`));
  const r = await reload(proxy);
  assert.equal(r.status, 422, JSON.stringify(r.body));
  assert.equal(r.body.reloaded, false);
  assert.match(JSON.stringify(r.body.errors), /auth\.mode: keys needs a restart/);
  // Still the old config: no key needed.
  const client = new Anthropic({ baseURL: proxy.url, apiKey: 'anything', maxRetries: 0 });
  const m = await client.messages.create(req);
  assert.equal(m.type, 'message');
  assert.match(proxy.log(), /teams: auth\.mode: keys needs a restart/);
});

test('an_accepted_reload_with_keys_on_is_audited_and_state_path_needs_a_restart', async () => {
  const file = path.join(dir, 'keys', 'state.db');
  const other = path.join(dir, 'keys2', 'state.db');
  const made = cli(['keys', 'create', '--name', 'dev', '--tenant', 'eng', '--json'], file);
  assert.equal(made.status, 0, made.stderr);
  const key = JSON.parse(made.stdout).key;
  const mock = await startMock({ kind: 'sse', fixture: 'text.sse' });
  const base = (extra) => mockConfig(mock.url, `
auth:
  mode: keys
state:
  path: ${extra.path}
  poll_ms: 20
  flush_ms: 5
tenants:
  eng:
    models: [${extra.models}]
`);
  const proxy = await startProxy(base({ path: file, models: '"mock-*"' }));
  cleanups.push(() => mock.close(), () => proxy.stop());
  const client = new Anthropic({ baseURL: proxy.url, apiKey: key, maxRetries: 0 });
  assert.equal((await client.messages.create(req)).type, 'message');

  // The tenant loses the model: the reload applies at once.
  fs.writeFileSync(proxy.cfgPath, base({ path: file, models: '"other-*"' }));
  let r = await reload(proxy);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.needs_restart, null);
  await assert.rejects(client.messages.create(req), (e) => e.status === 403 && e.error?.error?.type === 'permission_error');

  // A new state file waits for a restart: the old one keeps the keys.
  fs.writeFileSync(proxy.cfgPath, base({ path: other, models: '"mock-*"' }));
  r = await reload(proxy);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.match(r.body.needs_restart, /state\.path/);
  assert.equal((await client.messages.create(req)).type, 'message');

  // Both reloads are in the audit chain, after the load, and it verifies.
  const lines = await eventually(() => {
    const out = cli(['audit', 'export'], file);
    assert.equal(out.status, 0, out.stderr);
    const rows = out.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(rows.filter((l) => l.kind === 'config.reload').length, 2);
    return rows;
  });
  const kinds = lines.map((l) => l.kind).filter((k) => k.startsWith('config.'));
  assert.deepEqual(kinds, ['config.load', 'config.reload', 'config.reload']);
  const reloadRow = lines.find((l) => l.kind === 'config.reload');
  assert.equal(reloadRow.data.action, 'reload');
  assert.equal(reloadRow.data.source, proxy.cfgPath);
  assert.match(reloadRow.data.hash, /^sha256:[0-9a-f]{64}$/);
  const v = cli(['audit', 'verify'], file);
  assert.equal(v.status, 0, v.stderr);
});
