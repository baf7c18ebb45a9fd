// The work one request may cause is bounded: a request body with more JSON
// values than server.max_json_elements is refused before it is built into
// a tree, and a whole (non-streamed) upstream answer larger than
// upstream.max_response_bytes is refused rather than kept in memory. Both
// errors name the limit and its config key.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startProxy, mockConfig } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

async function setup(script, extraYaml) {
  const mock = await startMock(script);
  const proxy = await startProxy(mockConfig(mock.url, extraYaml));
  cleanups.push(() => mock.close(), () => proxy.stop());
  return { mock, proxy };
}

const post = (proxy, body) => fetch(`${proxy.url}/v1/messages`, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
});

// Each message {role, content} is three values; the request adds the root,
// model, max_tokens and the messages array.
const request = (n) => ({
  model: 'claude-test', max_tokens: 10,
  messages: Array.from({ length: n }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: 'hi' })),
});

test('request_over_max_json_elements_is_a_400_naming_the_key', async () => {
  const { proxy, mock } = await setup({ kind: 'json', fixture: 'text.json' }, 'server: { max_json_elements: 1000 }');
  // 4 + 3 * 332 = 1000 values: accepted.
  const ok = await post(proxy, request(332));
  assert.equal(ok.status, 200);
  await ok.json();
  // 1003 values: refused before anything is sent upstream.
  const res = await post(proxy, request(333));
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.equal(body.error.type, 'invalid_request_error');
  assert.match(body.error.message, /more than 1000 JSON values \(server\.max_json_elements\)/);
  assert.equal(mock.requests.length, 1);
});

test('upstream_answer_over_max_response_bytes_is_a_502_naming_the_key', async () => {
  const big = JSON.stringify({
    id: 'msg_big', type: 'message', role: 'assistant', model: 'mock-model',
    content: [{ type: 'text', text: 'x'.repeat(200 * 1024) }],
    stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 1, output_tokens: 1 },
  });
  const { proxy } = await setup((entry, n) => (n === 1
    ? { kind: 'raw', status: 200, headers: { 'content-type': 'application/json' }, body: big }
    : { kind: 'json', fixture: 'text.json' }), 'upstream: { max_response_bytes: 128KiB }');
  const res = await post(proxy, request(1));
  assert.equal(res.status, 502);
  const body = await res.json();
  assert.equal(body.error.type, 'api_error');
  assert.match(body.error.message, /upstream\.max_response_bytes \(131072 bytes\)/);
  // An answer under the cap still passes.
  const ok = await post(proxy, request(1));
  assert.equal(ok.status, 200);
  assert.equal((await ok.json()).type, 'message');
});
