// The ccproxy command itself: check, version, help, and refusing to serve
// an invalid config — with places, fixes, and never a secret.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = process.env.CCPROXY_BIN;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BAD = path.join(ROOT, 'tests/fixtures/config/bad.yaml');

function ccproxy(args, env = {}) {
  assert.ok(BIN, 'CCPROXY_BIN must name the built binary');
  return spawnSync(BIN, args, { env: { PATH: process.env.PATH, HOME: '/nonexistent', ASAN_OPTIONS: 'detect_leaks=1', ...env }, encoding: 'utf8', timeout: 15000 });
}

test('check_reports_every_problem_with_file_line_column_and_fix', () => {
  const r = ccproxy(['check', '--config', BAD]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /bad\.yaml:3:3: error: unknown key 'prot' in server: did you mean 'port'\?/);
  assert.match(r.stderr, /bad\.yaml:7:14: error: .*CCP_E2E_UNSET_KEY is not set; export it/);
  assert.match(r.stderr, /bad\.yaml:14:12: error: .*lists no model 'deepseek-v9'.*deepseek-chat, deepseek-reasoner/);
  assert.match(r.stderr, /3 problems/);
  assert.ok(!r.stderr.includes('sk-do-not-print-me'));
});

test('serve_refuses_an_invalid_config', () => {
  const r = ccproxy(['serve', '--config', BAD, '--port', '0']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /did you mean 'port'/);
});

test('check_accepts_the_embedded_default_with_no_key_set', () => {
  const r = ccproxy(['check']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /<embedded default>: ok, 0 providers/);
  const r2 = ccproxy(['check'], { DEEPSEEK_API_KEY: 'sk-secret-value' });
  assert.equal(r2.status, 0, r2.stderr);
  assert.match(r2.stdout, /1 provider, default route deepseek\/deepseek-chat/);
  assert.ok(!r2.stdout.includes('sk-secret-value'));
});

test('version_and_help', () => {
  const v = ccproxy(['version']);
  assert.equal(v.status, 0);
  assert.match(v.stdout, /^ccproxy \d+\.\d+\.\d+ \(libuv .*json-c/);
  for (const cmd of ['serve', 'check', 'version']) {
    const h = ccproxy([cmd, '--help']);
    assert.equal(h.status, 0);
    assert.match(h.stdout, new RegExp(`usage: ccproxy ${cmd}`));
  }
  const bad = ccproxy(['bogus']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown command 'bogus'/);
  const port = ccproxy(['serve', '--port', 'x']);
  assert.equal(port.status, 2);
  assert.match(port.stderr, /--port must be 0..65535/);
});

test('a_taken_port_is_a_clear_error', async () => {
  const net = await import('node:net');
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  // Without SO_REUSEPORT on the other socket, ccproxy cannot share it.
  const r = ccproxy(['serve', '--port', String(port)], {});
  srv.close();
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: Address already in use`));
});
