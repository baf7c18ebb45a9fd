// The SDK's messages.create and messages.stream through ccproxy to a mock
// Anthropic upstream replaying recorded answers: what the SDK ends up with
// must equal what the upstream sent, and the upstream must see the request
// with only the model and the key rewritten.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startProxy, mockConfig, MOCK_KEY } from './lib/proxy.mjs';
import { startMock, fixture, parseSse } from './lib/mock_anthropic.mjs';

const FIXTURES = ['text', 'thinking_text', 'tool_use_multi'];
let mock, proxy, client;

before(async () => {
  mock = await startMock((req) => {
    const name = req.body.metadata.user_id; // the test names the fixture here
    return req.body.stream ? { kind: 'sse', fixture: `${name}.sse` } : { kind: 'json', fixture: `${name}.json` };
  });
  // The recordings name the upstream's model; the default (client) would
  // name the request's (claude_code_thinking.test.mjs covers that).
  proxy = await startProxy(mockConfig(mock.url, 'server:\n  echo_model: upstream\n'));
  client = new Anthropic({ baseURL: proxy.url, apiKey: 'client-key', maxRetries: 0 });
});

after(async () => {
  await proxy.stop();
  await mock.close();
});

// The message as it would be on the wire: without SDK-side additions
// (parsed_output, keys holding undefined).
function wire(msg) {
  const { parsed_output, ...rest } = msg;
  return JSON.parse(JSON.stringify(rest));
}

const request = (name) => ({
  model: 'claude-test-model',
  max_tokens: 1024,
  system: [{ type: 'text', text: 'You are terse.' }],
  messages: [{ role: 'user', content: 'Read the files, please ✓' }],
  tools: [{ name: 'Read', description: 'Read a file', input_schema: { type: 'object', properties: { file_path: { type: 'string' } }, required: ['file_path'] } }],
  metadata: { user_id: name },
});

for (const name of FIXTURES) {
  test(`create_returns_the_upstream_message_unchanged (${name})`, async () => {
    const msg = await client.messages.create(request(name));
    assert.deepEqual(wire(msg), JSON.parse(fixture(`${name}.json`)));
  });

  test(`stream_events_and_final_message_equal_the_recording (${name})`, async () => {
    const stream = client.messages.stream(request(name));
    const events = [];
    // Cloned on arrival: the SDK accumulates into the message_start object.
    for await (const ev of stream) events.push(JSON.parse(JSON.stringify(ev)));
    const final = await stream.finalMessage();
    assert.deepEqual(wire(final), JSON.parse(fixture(`${name}.json`)));
    // The SDK does not hand pings to its caller; the raw test below sees them.
    const want = parseSse(fixture(`${name}.sse`)).map((e) => e.data).filter((d) => d.type !== 'ping');
    assert.deepEqual(events, want);
  });

  test(`raw_sse_frames_match_the_recording_pings_included (${name})`, async () => {
    const res = await fetch(`${proxy.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ ...request(name), stream: true }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/event-stream/);
    assert.match(res.headers.get('request-id'), /^req_[0-9a-f]{24}$/);
    const got = parseSse(await res.text());
    assert.deepEqual(got, parseSse(fixture(`${name}.sse`)));
  });
}

test('upstream_sees_the_request_with_only_model_and_key_rewritten', async () => {
  const before = mock.requests.length;
  const req = request('text');
  await client.messages.create(req, { headers: { 'anthropic-beta': 'fine-grained-tool-streaming-2025-05-14' } });
  const seen = mock.requests[before];
  assert.equal(seen.method, 'POST');
  assert.equal(seen.url, '/v1/messages');
  assert.equal(seen.headers['x-api-key'], MOCK_KEY);
  assert.notEqual(seen.headers['x-api-key'], 'client-key');
  assert.equal(seen.headers.authorization, undefined);
  // Whatever version the SDK speaks is passed on as it is.
  assert.match(seen.headers['anthropic-version'], /^\d{4}-\d{2}-\d{2}$/);
  assert.equal(seen.headers['anthropic-beta'], 'fine-grained-tool-streaming-2025-05-14');
  assert.deepEqual(seen.body, { ...req, model: 'mock-model' });
});

test('a_streaming_request_answered_with_plain_json_still_streams', async () => {
  const m = await startMock({ kind: 'json', fixture: 'tool_use_multi.json' });
  const p = await startProxy(mockConfig(m.url));
  try {
    const c = new Anthropic({ baseURL: p.url, apiKey: 'k', maxRetries: 0 });
    const stream = c.messages.stream(request('x'));
    const types = [];
    for await (const ev of stream) types.push(ev.type);
    // By default the answer names the model the client asked for.
    const want = { ...JSON.parse(fixture('tool_use_multi.json')), model: 'claude-test-model' };
    assert.deepEqual(wire(await stream.finalMessage()), want);
    assert.equal(types[0], 'message_start');
    assert.equal(types.at(-1), 'message_stop');
  } finally {
    await p.stop();
    await m.close();
  }
});

// Claude Code runs subagents in parallel: each stream must start at once,
// not wait for an earlier one to end. (The timeout only guards a hang.)
test('concurrent_long_streams_all_start_without_waiting_for_each_other', { timeout: 60000 }, async () => {
  const m = await startMock({ kind: 'slow' });
  const p = await startProxy(mockConfig(m.url), { args: ['--workers', '1'] });
  const streams = [];
  try {
    const c = new Anthropic({ baseURL: p.url, apiKey: 'k', maxRetries: 0 });
    const firsts = [];
    for (let i = 0; i < 24; i++) {
      const s = c.messages.stream(request('text'));
      streams.push(s);
      s.done().catch(() => {}); // aborted at the end, on purpose
      firsts.push(new Promise((resolve, reject) => { s.on('text', resolve); s.on('error', reject); }));
    }
    await Promise.all(firsts);
    assert.equal(m.requests.length, 24);
  } finally {
    for (const s of streams) s.abort();
    await p.stop();
    await m.close();
  }
});

test('upstream_connections_are_reused_across_requests', async () => {
  const m = await startMock({ kind: 'json', fixture: 'text.json' });
  const p = await startProxy(mockConfig(m.url), { args: ['--workers', '1'] });
  try {
    const c = new Anthropic({ baseURL: p.url, apiKey: 'k', maxRetries: 0 });
    for (let i = 0; i < 3; i++) await c.messages.create(request('text'));
    const ports = new Set(m.requests.map((r) => r.remotePort));
    assert.equal(m.requests.length, 3);
    assert.equal(ports.size, 1, 'one upstream connection for three requests');
  } finally {
    await p.stop();
    await m.close();
  }
});
