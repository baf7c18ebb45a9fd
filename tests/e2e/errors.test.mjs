// Every failure reaches the client in Anthropic's error format: bad input,
// unknown paths, upstream failures before and after the stream began, and a
// client that leaves mid-stream cancels its upstream transfer.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import { startProxy, mockConfig, MOCK_KEY } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

async function setup(script, extraYaml = '') {
  const mock = await startMock(script);
  const proxy = await startProxy(mockConfig(mock.url, extraYaml));
  cleanups.push(() => mock.close(), () => proxy.stop());
  const client = new Anthropic({ baseURL: proxy.url, apiKey: 'client-key', maxRetries: 0 });
  return { mock, proxy, client };
}

const req = { model: 'claude-test-model', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] };

async function expectError(res, status, type, messageRe) {
  assert.equal(res.status, status);
  assert.match(res.headers.get('request-id') ?? '', /^req_[0-9a-f]{24}$/);
  assert.match(res.headers.get('content-type'), /application\/json/);
  const body = await res.json();
  assert.equal(body.type, 'error');
  assert.equal(body.error.type, type);
  if (messageRe) assert.match(body.error.message, messageRe);
  return body;
}

test('malformed_json_is_a_400_naming_the_byte_offset', async () => {
  const { proxy, mock } = await setup({ kind: 'json', fixture: 'text.json' });
  const res = await fetch(`${proxy.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model": "x", "messages": [' });
  await expectError(res, 400, 'invalid_request_error', /byte offset 28/);
  const res2 = await fetch(`${proxy.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"x"}' });
  await expectError(res2, 400, 'invalid_request_error', /messages: field required/);
  assert.equal(mock.requests.length, 0);
});

test('oversize_body_is_a_413', async () => {
  const { proxy } = await setup({ kind: 'json', fixture: 'text.json' }, 'server: { max_body_bytes: 4096 }');
  const big = JSON.stringify({ ...req, messages: [{ role: 'user', content: 'x'.repeat(10000) }] });
  const res = await fetch(`${proxy.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big });
  await expectError(res, 413, 'request_too_large', /max_body_bytes/);
});

test('unknown_path_is_404_and_wrong_method_405', async () => {
  const { proxy } = await setup({ kind: 'json', fixture: 'text.json' });
  // The message lists what is served, from the endpoint table.
  await expectError(await fetch(`${proxy.url}/v1/complete`, { method: 'POST', body: '{}' }), 404, 'not_found_error',
    /^no endpoint POST \/v1\/complete: cc-proxy serves POST \/v1\/messages, POST \/v1\/messages\/count_tokens, GET \/v1\/models, GET \/health, GET \/ready/);
  const res = await fetch(`${proxy.url}/v1/messages`);
  await expectError(res, 405, 'invalid_request_error', /POST/);
  assert.equal(res.headers.get('allow'), 'POST');
});

test('upstream_down_is_a_502_api_error', async () => {
  // A port that was just free: nothing listens there.
  const port = await new Promise((r) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });
  const proxy = await startProxy(mockConfig(`http://127.0.0.1:${port}`));
  cleanups.push(() => proxy.stop());
  const client = new Anthropic({ baseURL: proxy.url, apiKey: 'k', maxRetries: 0 });
  await assert.rejects(client.messages.create(req), (e) => {
    assert.equal(e.status, 502);
    assert.equal(e.error.error.type, 'api_error');
    assert.match(e.error.error.message, /mock/);
    return true;
  });
});

// OpenSSL's error strings are loaded only when a TLS error needs them: the
// message still names the reason, not just OpenSSL's number for it.
test('tls_to_a_plain_http_port_names_the_openssl_reason', async () => {
  const { mock } = await setup({ kind: 'json', fixture: 'text.json' });
  const proxy = await startProxy(mockConfig(mock.url.replace('http://', 'https://')));
  cleanups.push(() => proxy.stop());
  const client = new Anthropic({ baseURL: proxy.url, apiKey: 'k', maxRetries: 0 });
  for (let i = 0; i < 2; i++) {
    await assert.rejects(client.messages.create(req), (e) => {
      assert.equal(e.status, 502);
      assert.equal(e.error.error.type, 'api_error');
      assert.match(e.error.error.message, /SSL routines::wrong version number/);
      assert.doesNotMatch(e.error.error.message, new RegExp(`lib\\(\\d+\\)|${MOCK_KEY}`));
      return true;
    });
  }
});

test('upstream_429_passes_status_type_and_retry_after', async () => {
  const { client } = await setup({ kind: 'error', status: 429, type: 'rate_limit_error', message: 'slow down', headers: { 'retry-after': '7' } });
  await assert.rejects(client.messages.create(req), (e) => {
    assert.ok(e instanceof Anthropic.RateLimitError);
    assert.equal(e.status, 429);
    assert.equal(e.headers.get('retry-after'), '7');
    assert.equal(e.error.error.message, 'slow down');
    return true;
  });
});

test('upstream_529_is_overloaded_error', async () => {
  const { client } = await setup({ kind: 'error', status: 529, type: 'overloaded_error', message: 'Overloaded' });
  await assert.rejects(client.messages.create(req), (e) => {
    assert.equal(e.status, 529);
    assert.equal(e.error.error.type, 'overloaded_error');
    return true;
  });
});

test('mid_stream_upstream_drop_becomes_an_sse_error_event', async () => {
  const { proxy } = await setup({ kind: 'drop', fixture: 'tool_use_multi.sse' });
  const res = await fetch(`${proxy.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...req, stream: true }) });
  assert.equal(res.status, 200);
  const text = await res.text();
  const last = text.trim().split('\n\n').at(-1);
  assert.match(last, /^event: error\ndata: \{"type":"error","error":\{"type":"api_error","message":"[^"]+"\}\}$/);
  assert.ok(!text.includes('message_stop'));
  // The SDK's stream rejects on it.
  const { client } = await setup({ kind: 'drop', fixture: 'tool_use_multi.sse' });
  await assert.rejects(client.messages.stream({ ...req }).finalMessage());
});

test('client_abort_closes_the_upstream_connection', async () => {
  const { client, mock } = await setup({ kind: 'slow' });
  const ac = new AbortController();
  const stream = client.messages.stream(req, { signal: ac.signal });
  let deltas = 0;
  await assert.rejects((async () => {
    for await (const ev of stream) {
      if (ev.type === 'content_block_delta' && ++deltas === 3) ac.abort();
    }
  })());
  const deadline = Date.now() + 2000;
  while (mock.closed.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(mock.closed.length, 1, 'the upstream connection must be closed within 2 s');
});

test('no_provider_configured_answers_how_to_configure_one', async () => {
  const proxy = await startProxy('providers: []\n');
  cleanups.push(() => proxy.stop());
  const res = await fetch(`${proxy.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(req) });
  await expectError(res, 400, 'invalid_request_error', /no provider configured.*ANTHROPIC_API_KEY/s);
  assert.equal((await fetch(`${proxy.url}/ready`)).status, 503);
});

test('an_upstream_that_never_answers_is_a_504_timeout_error', async () => {
  const { proxy } = await setup({ kind: 'hang' }, 'upstream: { connect_timeout_ms: 200, first_byte_timeout_ms: 300 }');
  const started = Date.now();
  const res = await fetch(`${proxy.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(req) });
  await expectError(res, 504, 'timeout_error', /first_byte_timeout_ms/);
  assert.ok(Date.now() - started < 5000);
});

test('a_stream_that_stalls_ends_with_an_sse_timeout_error', async () => {
  const { proxy } = await setup({ kind: 'stall' }, 'upstream: { stream_idle_timeout_ms: 300 }');
  const res = await fetch(`${proxy.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...req, stream: true }) });
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.match(text, /^event: message_start\n/);
  assert.match(text, /event: error\ndata: \{"type":"error","error":\{"type":"timeout_error","message":"[^"]*stream_idle_timeout_ms/);
});
