// The ccproxy command itself: check, version, help, and refusing to serve
// an invalid config — with places, fixes, and never a secret.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
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

// `make install DESTDIR=... ` lays out the program, its man page, the docs
// and the examples under PREFIX. It installs the build the tests run (the
// directory of CCPROXY_BIN), already configured and built, so nothing is
// rebuilt here.
test('make_install_lays_out_binary_man_page_docs_and_examples_under_destdir', (t) => {
  const build = path.dirname(BIN);
  if (!fs.existsSync(path.join(build, 'CMakeCache.txt'))) return t.skip('CCPROXY_BIN is not in a cmake build directory');
  const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-install-'));
  try {
    const env = { ...process.env };
    for (const k of ['MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES']) delete env[k];
    const r = spawnSync('make', ['-C', ROOT, 'install', `BUILD=${build}`, `DESTDIR=${dest}`, 'PREFIX=/opt/ccp'], { env, encoding: 'utf8', timeout: 300000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const at = (p) => path.join(dest, 'opt/ccp', p);
    const bin = at('bin/ccproxy');
    assert.ok(fs.statSync(bin).mode & 0o111, 'bin/ccproxy is executable');
    const v = spawnSync(bin, ['version'], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stderr);
    assert.match(v.stdout, /^ccproxy \d+\.\d+\.\d+ /);
    const man = fs.readFileSync(at('share/man/man1/ccproxy.1'), 'utf8');
    assert.match(man, /^\.TH CCPROXY 1 /m);
    for (const cmd of ['serve', 'check', 'explain', 'transformers', 'version']) {
      assert.match(man, new RegExp(`^\\.SS ${cmd}$`, 'm'), `man page has a section for ${cmd}`);
      assert.match(man, new RegExp(`usage: ccproxy ${cmd}`), `man page has ${cmd}'s usage`);
    }
    for (const doc of ['README.md', 'LICENSE', 'configuration.md', 'performance.md'])
      assert.ok(fs.existsSync(at(`share/doc/ccproxy/${doc}`)), doc);
    for (const ex of fs.readdirSync(path.join(ROOT, 'examples')))
      assert.ok(fs.existsSync(at(`share/doc/ccproxy/examples/${ex}`)), ex);
  } finally {
    fs.rmSync(dest, { recursive: true, force: true });
  }
});

test('every example config is valid', () => {
  const env = { OPENROUTER_API_KEY: 'k', DEEPSEEK_API_KEY: 'k', GEMINI_API_KEY: 'k', ANTHROPIC_API_KEY: 'k' };
  for (const f of ['openrouter.yaml', 'deepseek-gemini.yaml', 'local-and-cloud.yaml']) {
    const r = ccproxy(['check', '--config', path.join(ROOT, 'examples', f)], env);
    assert.equal(r.status, 0, `${f}: ${r.stderr}`);
    assert.match(r.stdout, /: ok, 2 providers/);
  }
});

test('explain shows the route and the exact outbound request, secrets masked', async () => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccp-explain-'));
  const req = path.join(dir, 'req.json');
  fs.writeFileSync(req, JSON.stringify({
    model: 'claude-haiku-4-5-20251001', max_tokens: 512, stream: true,
    system: [{ type: 'text', text: 'x-anthropic-billing-header: cc_version=2.1.197' }, { type: 'text', text: 'Write a title.' }],
    messages: [{ role: 'user', content: 'fix the build' }],
  }));
  const cfg = path.join(ROOT, 'examples/local-and-cloud.yaml');
  const env = { ANTHROPIC_API_KEY: 'sk-ant-do-not-print' };
  let r = ccproxy(['explain', '--config', cfg, req], env);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^stage: +background \(matches: default background;/m);
  assert.match(r.stdout, /^chosen by: router\.background$/m);
  assert.match(r.stdout, /^target: +local\/qwen2\.5-coder:7b \(openai-chat\)$/m);
  assert.match(r.stdout, /^ {2}POST http:\/\/127\.0\.0\.1:11434\/v1\/chat\/completions$/m);
  const body = JSON.parse(r.stdout.trim().split('\n').at(-1));
  assert.equal(body.model, 'qwen2.5-coder:7b');
  assert.deepEqual(body.messages[0], { role: 'system', content: 'Write a title.' });
  assert.deepEqual(body.stream_options, { include_usage: true });

  // A rule on a header, to the cloud provider: its key is masked.
  r = ccproxy(['explain', '--config', cfg, '--header', 'x-ccproxy-offline: 0', req], env);
  assert.match(r.stdout, /^target: +local\//m, 'the rule needs the header to be "1"');
  fs.writeFileSync(req, JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }));
  r = ccproxy(['explain', '--config', cfg, req], env);
  assert.match(r.stdout, /^target: +anthropic\/claude-sonnet-4-5 \(anthropic\)$/m);
  assert.match(r.stdout, /^ {2}x-api-key: \*\*\*\*$/m);
  assert.ok(!r.stdout.includes('sk-ant-do-not-print'), 'the key never appears');
  r = ccproxy(['explain', '--config', cfg, '-H', 'x-ccproxy-offline: 1', req], env);
  assert.match(r.stdout, /^chosen by: rule 'offline-team' \(.*local-and-cloud\.yaml:26:7\)$/m);
  fs.rmSync(dir, { recursive: true, force: true });
});

// explain runs the server's encoder: a field of the wrong type once aborted
// it on a json-c assertion, as it aborted the server.
test('explain refuses a field of the wrong type by its path, as the server would', async () => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccp-explain-'));
  const req = path.join(dir, 'req.json');
  fs.writeFileSync(req, JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 5, messages: [{ role: 'user', content: 5 }] }));
  const r = ccproxy(['explain', '--config', path.join(ROOT, 'examples/local-and-cloud.yaml'), req], { ANTHROPIC_API_KEY: 'k' });
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /the server would answer 400: messages\.0\.content: must be a string or an array of content blocks/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('docs/transformers.md is what the catalog generates', async () => {
  const fs = await import('node:fs');
  const r = ccproxy(['transformers', '--markdown']);
  assert.equal(r.status, 0);
  assert.equal(fs.readFileSync(path.join(ROOT, 'docs/transformers.md'), 'utf8'), r.stdout,
    'regenerate with: ccproxy transformers --markdown > docs/transformers.md');
  const text = ccproxy(['transformers']);
  for (const name of ['max-tokens', 'sampling', 'reasoning', 'strip-cache-control', 'strip-thinking', 'system-prompt', 'schema-sanitize', 'extra-body', 'extra-headers'])
    assert.match(text.stdout, new RegExp(`^${name} — `, 'm'));
});
