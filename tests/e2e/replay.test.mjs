// ccproxy replay: every stream in tests/fixtures goes through a running
// ccproxy with capture on; `replay --offline` of each capture must print
// exactly the bytes the client received, `replay --fixture` must give the
// fixture back, and a live replay against a mock provider must report the
// same answer (exit 0) or show the difference (exit 1).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProxy } from './lib/proxy.mjs';

const BIN = process.env.CCPROXY_BIN;
const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures');
const FORMATS = { anthropic: 'anthropic', openai: 'openai-chat', gemini: 'gemini' };

// One provider per format, all served by one mock that answers with the
// fixture the request names (metadata.user_id is "<dir>/<file>"), in
// uneven pieces like a real network.
let mock, proxy, dir, cfgPath, answer = null;
const served = () => (answer ? answer : null);

// Every codec carries the user's text: the request names its fixture there.
const fixtureName = (body) => /fx=([a-z]+\/[a-z_]+\.(?:sse|json))/.exec(body)?.[1];

const config = (base) => `
server:
  echo_model: upstream
debug:
  capture:
    dir: ${dir}
providers:
  - name: ant
    format: anthropic
    base_url: ${base}
    api_key: ant-key-secret-1
  - name: oa
    format: openai-chat
    base_url: ${base}/v1
    api_key: oa-key-secret-22
  - name: gem
    format: gemini
    base_url: ${base}/v1beta
    api_key: gm-key-secret-333
router:
  default: ant/mock-model
`;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-replay-'));
  mock = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', async () => {
      if (served()) {
        const a = served();
        res.writeHead(a.status, { 'content-type': a.type });
        res.end(a.body);
        return;
      }
      const name = fixtureName(Buffer.concat(chunks).toString('utf8'));
      if (!name) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end('{"error":{"message":"no fixture named"}}');
        return;
      }
      const file = path.join(FIXTURES, name);
      const bytes = fs.readFileSync(file);
      res.writeHead(200, { 'content-type': name.endsWith('.sse') ? 'text/event-stream' : 'application/json' });
      for (let i = 0, n = 7; i < bytes.length; i += n, n = (n * 5) % 53 + 1) {
        res.write(bytes.subarray(i, i + n));
        await new Promise((r) => setImmediate(r));
      }
      res.end();
    });
  });
  await new Promise((r) => mock.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${mock.address().port}`;
  proxy = await startProxy(config(base));
  cfgPath = path.join(dir, 'replay.yaml');
  fs.writeFileSync(cfgPath, config(base));
});
after(async () => {
  await proxy.stop();
  mock.closeAllConnections();
  await new Promise((r) => mock.close(r));
  fs.rmSync(dir, { recursive: true, force: true });
});

async function waitFile(id) {
  for (let i = 0; i < 250; i++) {
    const f = fs.readdirSync(dir).find((n) => n.includes(id) && n.endsWith('.jsonl'));
    if (f) return path.join(dir, f);
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no capture for ${id}`);
}

async function send(sub, file, stream) {
  const provider = { anthropic: 'ant/mock-model', openai: 'oa/gpt-test', gemini: 'gem/gemini-test' }[sub];
  const res = await fetch(`${proxy.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'client-key-9876' },
    body: JSON.stringify({ model: provider, max_tokens: 100, stream, messages: [{ role: 'user', content: `fx=${sub}/${file}` }] }),
  });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), id: res.headers.get('request-id') };
}

// Asynchronous: the mock provider lives in this process and must answer.
function replay(...args) {
  const child = spawn(BIN, ['replay', ...args, '--config', cfgPath], { env: { PATH: process.env.PATH, HOME: dir, ASAN_OPTIONS: 'detect_leaks=1' } });
  const out = [], err = [];
  child.stdout.on('data', (d) => out.push(d));
  child.stderr.on('data', (d) => err.push(d));
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout: Buffer.concat(out), stderr: Buffer.concat(err) })));
}

// Tool ids a codec makes up (Gemini sends none) are random per run.
// (The fixtures write such an id as toolu_*.)
const norm = (b) => b.toString('utf8').replace(/toolu_(?:[0-9A-Za-z]{24}|\*)/g, 'toolu_GENERATED');

const cases = [];
for (const sub of Object.keys(FORMATS))
  for (const f of fs.readdirSync(path.join(FIXTURES, sub)).sort())
    if (f.endsWith('.sse') || (sub === 'anthropic' && f.endsWith('.json'))) cases.push([sub, f]);

for (const [sub, file] of cases) {
  test(`offline_replay_reproduces_${sub}_${file.replace('.', '_')}`, async () => {
    const stream = file.endsWith('.sse');
    const got = await send(sub, file, stream);
    const capture = await waitFile(got.id);
    const r = await replay(capture, '--offline');
    assert.equal(r.status, 0, r.stderr.toString());
    assert.equal(norm(r.stdout), norm(got.body), `replay of ${sub}/${file} prints what the client got`);
    if (!/toolu_GENERATED/.test(norm(got.body))) assert.ok(r.stdout.equals(got.body), 'byte for byte');
    assert.match(r.stderr.toString(), new RegExp(`HTTP ${got.status}`));

    // The capture as a fixture: the provider's bytes, and the events the
    // client got, as the fixtures in tests/fixtures are laid out.
    const out = path.join(dir, 'fx');
    const name = `${sub}_${file.replace(/\..*/, '')}`;
    const fx = await replay(capture, '--fixture', out, '--name', name);
    assert.equal(fx.status, 0, fx.stderr.toString());
    const ext = stream ? 'sse' : 'json';
    assert.ok(fs.readFileSync(path.join(out, `${name}.${ext}`)).equals(fs.readFileSync(path.join(FIXTURES, sub, file))));
    const expectedFile = path.join(FIXTURES, sub, file.replace(/\.sse$/, '.expected.json'));
    if (stream && fs.existsSync(expectedFile)) {
      const mine = JSON.parse(norm(fs.readFileSync(path.join(out, `${name}.expected.json`))));
      const theirs = JSON.parse(norm(fs.readFileSync(expectedFile)));
      assert.deepEqual(mine, theirs);
    }
  });
}

test('replay_file_that_is_not_a_capture_is_refused', async () => {
  const bad = path.join(dir, 'bad.jsonl');
  fs.writeFileSync(bad, '{"hello":1}\n');
  const r = await replay(bad, '--offline');
  assert.equal(r.status, 1);
  assert.match(r.stderr.toString(), /not a capture record|not a ccproxy capture/);
});

test('live_replay_resends_and_diffs_against_the_capture', async () => {
  const got = await send('openai', 'text.sse', true);
  const capture = await waitFile(got.id);
  // The same answer again: exit 0.
  let r = await replay(capture);
  assert.equal(r.status, 0, r.stderr.toString());
  assert.equal(norm(r.stdout), norm(got.body));
  assert.match(r.stderr.toString(), /sent to oa\/gpt-test \(openai-chat\)/);
  assert.match(r.stderr.toString(), /the same as the captured response/);
  // A different provider now (--to), answering differently: the difference shows.
  answer = { status: 429, type: 'application/json', body: JSON.stringify({ error: { message: 'slow down', type: 'rate_limit_error' } }) };
  try {
    r = await replay(capture, '--to', 'ant/other-model');
  } finally {
    answer = null;
  }
  assert.equal(r.status, 1);
  const err = r.stderr.toString();
  assert.match(err, /sent to ant\/other-model \(anthropic\)/);
  assert.match(err, /HTTP 429 \(captured: 200\)/);
  assert.match(err, /^-event: message_start/m);
  assert.match(err, /^\+\{"type":"error"/m);
});
