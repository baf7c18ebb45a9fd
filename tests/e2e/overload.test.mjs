// Overload and limits: a provider's max_in_flight with its bounded queue
// (529 overloaded_error when full or timed out, a queued request served when
// a slot frees, a fallback taking over), server.max_connections (503),
// server.write_timeout_ms (a client that reads nothing is dropped and its
// upstream cancelled), the drain deadline on SIGTERM (a stream still open
// gets an SSE error event), and the request validator naming JSON paths.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import { startProxy, MOCK_KEY } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function config(providers, { server = '', route = 'a/m' } = {}) {
  return `${server ? `server:\n${server}\n` : ''}providers:
${providers.map((p) => `  - name: ${p.name}
    format: anthropic
    base_url: ${p.url}
    api_key: ${MOCK_KEY}
${p.extra ?? ''}`).join('\n')}
router:
  default: ${route}
`;
}

const hi = { model: 'claude-test', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] };

async function waitFor(pred, what) {
  for (let i = 0; ; i++) {
    if (await pred()) return;
    if (i > 1000) assert.fail(`gave up waiting for ${what}`);
    await sleep(20);
  }
}

// A stream that stays open (a delta every 50 ms) until its client leaves.
async function openStream(proxy) {
  const ac = new AbortController();
  const res = await fetch(`${proxy.url}/v1/messages`, {
    method: 'POST', signal: ac.signal,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...hi, stream: true }),
  });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  await reader.read();
  return { reader, abort: () => ac.abort() };
}

test('a_full_provider_queue_answers_529_overloaded_error', async () => {
  const mock = await startMock((e, n) => (n === 1 ? { kind: 'slow' } : { kind: 'json', fixture: 'text.json' }));
  const proxy = await startProxy(config([{ name: 'a', url: mock.url, extra: '    max_in_flight: 1\n    max_queue: 0\n' }]));
  cleanups.push(() => mock.close(), () => proxy.stop());
  const first = await openStream(proxy);
  const client = new Anthropic({ baseURL: proxy.url, apiKey: 'k', maxRetries: 0 });
  const err = await client.messages.create(hi).then(() => null, (e) => e);
  assert.ok(err instanceof Anthropic.APIError, `expected an API error, got ${err}`);
  assert.equal(err.status, 529);
  assert.equal(err.error?.error?.type, 'overloaded_error');
  assert.match(err.message, /max_in_flight/);
  assert.equal(mock.requests.length, 1, 'the refused request never reached the provider');
  first.abort();
  // The slot frees once the first transfer is cancelled: the next is served.
  await waitFor(() => mock.closed.length === 1, 'the first transfer to be cancelled');
  await waitFor(async () => (await client.messages.create(hi).then(() => true, () => false)), 'a slot');
});

test('a_queued_request_is_served_when_a_slot_frees_and_one_past_the_queue_is_refused', async () => {
  const mock = await startMock((e, n) => (n === 1 ? { kind: 'sse_slow', fixture: 'text.sse' } : { kind: 'json', fixture: 'text.json' }));
  const proxy = await startProxy(config([{ name: 'a', url: mock.url, extra: '    max_in_flight: 1\n    max_queue: 1\n    queue_timeout_ms: 600000\n' }]), { args: ['--log-level', 'debug'] });
  cleanups.push(() => mock.close(), () => proxy.stop());
  const first = await openStream(proxy);
  const client = new Anthropic({ baseURL: proxy.url, apiKey: 'k', maxRetries: 0 });
  const queued = client.messages.create(hi);
  await waitFor(() => /slots taken; waiting/.test(proxy.log()), 'the second request to queue');
  const err = await client.messages.create(hi).then(() => null, (e) => e);
  assert.equal(err?.status, 529, 'the queue (max_queue: 1) is full');
  assert.match(err.message, /max_queue/);
  for (;;) if ((await first.reader.read()).done) break; // the first ends, freeing its slot
  const msg = await queued;
  assert.equal(msg.type, 'message');
  assert.equal(mock.requests.length, 2);
});

test('a_request_that_waits_past_queue_timeout_gets_529', async () => {
  const mock = await startMock({ kind: 'slow' });
  const proxy = await startProxy(config([{ name: 'a', url: mock.url, extra: '    max_in_flight: 1\n    queue_timeout_ms: 50\n' }]));
  cleanups.push(() => mock.close(), () => proxy.stop());
  const first = await openStream(proxy);
  const client = new Anthropic({ baseURL: proxy.url, apiKey: 'k', maxRetries: 0 });
  const err = await client.messages.create(hi).then(() => null, (e) => e);
  assert.equal(err?.status, 529);
  assert.equal(err.error?.error?.type, 'overloaded_error');
  assert.match(err.message, /queue_timeout_ms/);
  first.abort();
});

test('a_full_provider_falls_back_to_the_next_target', async () => {
  const busy = await startMock({ kind: 'slow' });
  const spare = await startMock({ kind: 'json', fixture: 'text.json' });
  const proxy = await startProxy(config([
    { name: 'a', url: busy.url, extra: '    max_in_flight: 1\n    max_queue: 0\n' },
    { name: 'b', url: spare.url },
  ], { route: '[a/m, b/m]' }));
  cleanups.push(() => busy.close(), () => spare.close(), () => proxy.stop());
  const first = await openStream(proxy);
  const client = new Anthropic({ baseURL: proxy.url, apiKey: 'k', maxRetries: 0 });
  const msg = await client.messages.create(hi);
  assert.equal(msg.type, 'message');
  assert.equal(spare.requests.length, 1);
  assert.equal(busy.requests.length, 1);
  first.abort();
});

test('connections_past_max_connections_get_503_overloaded', async () => {
  const mock = await startMock({ kind: 'json', fixture: 'text.json' });
  const proxy = await startProxy(config([{ name: 'a', url: mock.url }], { server: '  max_connections: 2' }));
  cleanups.push(() => mock.close(), () => proxy.stop());
  // Two kept-alive connections, each known to be accepted (it was answered).
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  const get = () => new Promise((resolve, reject) => {
    http.get(`${proxy.url}/health`, { agent, headers: { host: '127.0.0.1' } }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', reject);
  });
  const both = await Promise.all([get(), get()]);
  assert.deepEqual(both.map((r) => r.status), [200, 200]);
  assert.equal(agent.totalSocketCount ?? 2, 2);
  const res = await fetch(`${proxy.url}/health`, { headers: { connection: 'close' } });
  assert.equal(res.status, 503);
  const body = await res.json();
  assert.equal(body.error.type, 'overloaded_error');
  assert.match(body.error.message, /max_connections/);
  agent.destroy();
});

// An upstream that streams without end as fast as its socket takes it.
async function startFirehose() {
  const state = { closedEarly: false, sent: 0 };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', async () => {
      res.on('close', () => { state.closedEarly = true; });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'm', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 1, output_tokens: 1 } } })}\n\n`);
      res.write(`event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n`);
      const delta = `event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'x'.repeat(16384) } })}\n\n`;
      while (!res.destroyed) {
        state.sent += delta.length;
        if (!res.write(delta)) await new Promise((r) => { res.once('drain', r); res.once('close', r); });
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, state, close: async () => { server.closeAllConnections(); await new Promise((r) => server.close(r)); } };
}

test('a_client_that_reads_nothing_is_dropped_after_write_timeout_and_its_upstream_cancelled', async () => {
  const mock = await startFirehose();
  const proxy = await startProxy(config([{ name: 'a', url: mock.url }], { server: '  write_timeout_ms: 200' }));
  cleanups.push(() => mock.close(), () => proxy.stop());
  const body = JSON.stringify({ ...hi, stream: true });
  const sock = net.connect(proxy.port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  sock.write(`POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  // No 'data' listener: the socket is not read.
  await waitFor(() => mock.state.closedEarly, 'the upstream transfer to be cancelled');
  assert.match(proxy.log(), /read nothing for 200 ms.*server\.write_timeout_ms/);
  // The connection is closed: reading now ends without the stream's end.
  const chunks = [];
  sock.on('data', (d) => chunks.push(d));
  await new Promise((r) => { sock.once('close', r); sock.resume(); });
  assert.doesNotMatch(Buffer.concat(chunks).toString('latin1'), /\r\n0\r\n\r\n$/);
});

test('sigterm_past_the_drain_deadline_ends_an_open_stream_with_an_overloaded_error_event', async () => {
  const mock = await startMock({ kind: 'slow' });
  const proxy = await startProxy(config([{ name: 'a', url: mock.url }], { server: '  drain_timeout_ms: 100' }));
  cleanups.push(() => mock.close());
  const client = new Anthropic({ baseURL: proxy.url, apiKey: 'k', maxRetries: 0 });
  const stream = await client.messages.create({ ...hi, stream: true });
  let events = 0;
  let stopping = null;
  const err = await (async () => {
    for await (const ev of stream) {
      events++;
      if (!stopping && ev.type === 'content_block_delta') stopping = proxy.stop();
    }
    return null;
  })().catch((e) => e);
  assert.ok(stopping, 'the stream had begun');
  assert.ok(err instanceof Anthropic.APIError, `the stream ends with an error event, got ${err}`);
  assert.equal(err.error?.error?.type, 'overloaded_error');
  assert.match(err.message, /ccproxy is shutting down/);
  assert.ok(events > 1);
  await stopping; // exit 0, no leaks
  await waitFor(() => mock.closed.length === 1, 'the upstream transfer to be cancelled');
});

test('invalid_requests_get_400_naming_the_json_path', async () => {
  const mock = await startMock({ kind: 'json', fixture: 'text.json' });
  const proxy = await startProxy(config([{ name: 'a', url: mock.url }]));
  cleanups.push(() => mock.close(), () => proxy.stop());
  const client = new Anthropic({ baseURL: proxy.url, apiKey: 'k', maxRetries: 0 });
  const cases = [
    [{ model: 'm', messages: hi.messages }, 'max_tokens: field required'],
    [{ ...hi, messages: [] }, 'messages: at least one message is required'],
    [{ ...hi, messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'n', input: {} }] }, { role: 'user', content: 'b' }, { role: 'user', content: [{ type: 'tool_result', content: 'r' }] }] }, 'messages.3.content.0.tool_use_id: field required'],
    [{ ...hi, tools: [{ name: 'x' }] }, 'tools.0.input_schema: field required'],
    [{ ...hi, tool_choice: { type: 'tool' } }, 'tool_choice.name: field required'],
    [{ ...hi, thinking: { type: 'enabled' } }, 'thinking.budget_tokens: field required'],
    [{ ...hi, stream: 'yes' }, 'stream: must be a boolean'],
  ];
  for (const [body, want] of cases) {
    const err = await client.messages.create(body).then(() => null, (e) => e);
    assert.equal(err?.status, 400, want);
    assert.equal(err.error?.error?.type, 'invalid_request_error');
    assert.equal(err.error?.error?.message, want);
  }
  // Unknown fields pass through to the provider.
  await client.messages.create({ ...hi, some_new_field: { a: 1 } });
  assert.deepEqual(mock.requests.at(-1).body.some_new_field, { a: 1 });
  assert.equal(mock.requests.length, 1, 'no invalid request reached the provider');
});
