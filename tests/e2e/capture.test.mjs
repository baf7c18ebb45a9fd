// debug.capture: a streamed exchange through ccproxy lands in one file per
// request with every stage recorded, no key anywhere in it, the provider's
// bytes exactly as sent, the client's bytes exactly as received, and the
// directory kept to max_files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startProxy } from './lib/proxy.mjs';
import { startOpenAIMock, openaiFixture } from './lib/mock_openai.mjs';

const CLIENT_KEY = 'client-key-e2e-0123';
const PROVIDER_KEY = 'oa-key-secret-456789';
let mock, proxy, dir;

export function readCapture(file) {
  return fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}
export const payload = (r) => (r.data_b64 !== undefined ? Buffer.from(r.data_b64, 'base64') : Buffer.from(r.data, 'utf8'));

// The body of an HTTP/1.1 response as the client read it: the head
// removed, chunked framing undone.
export function httpBody(raw) {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, end).toString('latin1');
  let rest = raw.subarray(end + 4);
  if (!/transfer-encoding: chunked/i.test(head)) return rest;
  const parts = [];
  for (;;) {
    const nl = rest.indexOf('\r\n');
    const n = parseInt(rest.subarray(0, nl).toString('latin1'), 16);
    if (!n) break;
    parts.push(rest.subarray(nl + 2, nl + 2 + n));
    rest = rest.subarray(nl + 2 + n + 2);
  }
  return Buffer.concat(parts);
}

const files = () => fs.readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort();
const settle = async (n) => {
  for (let i = 0; i < 200 && files().length < n; i++) await new Promise((r) => setTimeout(r, 20));
};

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-capture-'));
  mock = await startOpenAIMock((req) => ({ kind: 'sse', fixture: `${req.body.user}.sse` }));
  proxy = await startProxy(`
debug:
  capture:
    dir: ${dir}
    max_files: 3
providers:
  - name: oa
    format: openai-chat
    base_url: ${mock.url}/v1
    api_key: ${PROVIDER_KEY}
    models: [gpt-test]
router:
  default: oa/gpt-test
`);
});
after(async () => {
  await proxy.stop();
  await mock.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const send = (name) => fetch(`${proxy.url}/v1/messages`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', 'x-api-key': CLIENT_KEY },
  body: JSON.stringify({ model: 'claude-test', max_tokens: 100, stream: true, metadata: { user_id: name }, messages: [{ role: 'user', content: `say ${CLIENT_KEY}` }] }),
});

test('capture_records_every_stage_without_a_key', async () => {
  const res = await send('tool_single');
  const clientBody = Buffer.from(await res.arrayBuffer());
  const rid = res.headers.get('request-id');
  await settle(1);
  const file = files().find((f) => f.includes(rid));
  assert.ok(file, `a capture file names ${rid}: ${files()}`);
  const text = fs.readFileSync(path.join(dir, file), 'utf8');
  assert.ok(!text.includes(CLIENT_KEY) && !text.includes(PROVIDER_KEY), 'no key in the capture');
  assert.equal((fs.statSync(path.join(dir, file)).mode & 0o777), 0o600);
  const recs = readCapture(path.join(dir, file));
  const types = recs.map((r) => r.type);
  for (const t of ['exchange', 'request', 'route', 'attempt', 'upstream_head', 'upstream_data', 'upstream_end', 'client', 'end'])
    assert.ok(types.includes(t), `a ${t} record`);
  assert.equal(recs[0].id, rid);
  const req = recs.find((r) => r.type === 'request');
  assert.deepEqual(req.headers.find(([n]) => n === 'x-api-key'), ['x-api-key', '[masked]']);
  const att = recs.find((r) => r.type === 'attempt');
  assert.equal(att.provider, 'oa');
  assert.equal(att.url, `${mock.url}/v1/chat/completions`);
  assert.equal(att.headers.find(([n]) => n.toLowerCase() === 'authorization')[1], '[masked]');
  // The provider's bytes exactly as it sent them, in order, with times.
  const up = Buffer.concat(recs.filter((r) => r.type === 'upstream_data').map(payload));
  assert.equal(up.toString('utf8'), openaiFixture('tool_single.sse'));
  const times = recs.map((r) => r.t);
  assert.deepEqual(times, [...times].sort((a, b) => a - b));
  // The client's bytes exactly as it read them.
  const wire = Buffer.concat(recs.filter((r) => r.type === 'client').map(payload));
  assert.ok(httpBody(wire).equals(clientBody));
  const end = recs.at(-1);
  assert.equal(end.type, 'end');
  assert.equal(end.status, 200);
  assert.equal(end.provider, 'oa');
  assert.equal(end.truncated, false);
  assert.ok(end.output_tokens > 0 && end.ttft_ms >= 0 && end.duration_ms >= end.ttft_ms);
});

test('capture_directory_keeps_max_files', async () => {
  for (let i = 0; i < 5; i++) await (await send('text')).arrayBuffer();
  await settle(3);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(files().length, 3);
});
