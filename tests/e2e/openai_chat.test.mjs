// The SDK through ccproxy to a mock OpenAI-compatible server replaying the
// recorded corpus: the accumulated message must be the expected one, and a
// second turn carrying tool results must reach the mock as the right
// OpenAI request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startProxy } from './lib/proxy.mjs';
import { accumulate } from './lib/expected.mjs';
import { startOpenAIMock, openaiFixture, openaiConfig } from './lib/mock_openai.mjs';

let mock, proxy, client;
before(async () => {
  mock = await startOpenAIMock((req) => {
    const name = req.body.user; // the test names the fixture in metadata.user_id
    if (req.body.stream) return { kind: 'sse', fixture: `${name}.sse` };
    return { kind: 'json', body: completionFor(name) };
  });
  // The recordings name the upstream's model; the default (client) would
  // name the request's (claude_code_thinking.test.mjs covers that).
  proxy = await startProxy(openaiConfig(mock.url, 'server:\n  echo_model: upstream\n'));
  client = new Anthropic({ baseURL: proxy.url, apiKey: 'client-key', maxRetries: 0 });
});
after(async () => {
  await proxy.stop();
  await mock.close();
});

// The message a recorded stream's expected events accumulate to.
function expectedMessage(name) {
  return accumulate(JSON.parse(openaiFixture(`${name}.expected.json`)));
}

function completionFor(name) {
  const m = expectedMessage(name);
  return {
    id: m.id.replace(/^msg_/, ''), object: 'chat.completion', model: m.model,
    choices: [{
      index: 0,
      finish_reason: { end_turn: 'stop', tool_use: 'tool_calls', max_tokens: 'length' }[m.stop_reason],
      message: {
        role: 'assistant',
        content: m.content.filter((b) => b.type === 'text').map((b) => b.text).join('') || null,
        reasoning_content: m.content.find((b) => b.type === 'thinking')?.thinking,
        tool_calls: m.content.filter((b) => b.type === 'tool_use').map((b) => ({ id: b.id, type: 'function', function: { name: b.name, arguments: JSON.stringify(b.input) } })),
      },
    }],
    usage: { prompt_tokens: (m.usage.input_tokens ?? 0) + (m.usage.cache_read_input_tokens ?? 0), completion_tokens: m.usage.output_tokens, prompt_tokens_details: { cached_tokens: m.usage.cache_read_input_tokens ?? 0 } },
  };
}

const wire = (msg) => { const { parsed_output, ...rest } = msg; return JSON.parse(JSON.stringify(rest)); };
const request = (name, extra = {}) => ({
  model: 'claude-test-model', max_tokens: 1024, metadata: { user_id: name },
  messages: [{ role: 'user', content: 'List the files' }],
  tools: [{ name: 'Read', description: 'Read a file', input_schema: { type: 'object', properties: { p: { type: 'string' } } } }],
  ...extra,
});

for (const name of ['text', 'tool_single', 'tool_parallel', 'reasoning_text_tool', 'usage_last', 'length']) {
  test(`stream_accumulates_to_the_expected_message (${name})`, async () => {
    const stream = client.messages.stream(request(name));
    const final = wire(await stream.finalMessage());
    assert.deepEqual(final, expectedMessage(name));
  });
}

for (const name of ['text', 'tool_parallel', 'reasoning_text_tool']) {
  test(`create_maps_a_whole_completion (${name})`, async () => {
    const msg = wire(await client.messages.create(request(name)));
    const want = expectedMessage(name);
    assert.deepEqual(msg.content, want.content);
    assert.equal(msg.stop_reason, want.stop_reason);
  });
}

test('an_error_mid_stream_reaches_the_sdk_as_an_error', async () => {
  await assert.rejects(client.messages.stream(request('error_mid')).finalMessage(), /upstream overloaded/);
});

test('the_tool_result_turn_reaches_the_provider_as_openai_messages', async () => {
  const first = await client.messages.stream(request('tool_parallel')).finalMessage();
  const uses = first.content.filter((b) => b.type === 'tool_use');
  const before = mock.requests.length;
  await client.messages.stream(request('text', {
    system: [{ type: 'text', text: 'Be terse.' }],
    messages: [
      { role: 'user', content: 'List the files' },
      { role: 'assistant', content: first.content },
      { role: 'user', content: [
        ...uses.map((u, i) => ({ type: 'tool_result', tool_use_id: u.id, content: `result ${i}`, ...(i === 2 ? { is_error: true } : {}) })),
        { type: 'text', text: 'Summarise.' },
      ] },
    ],
  })).finalMessage();
  const seen = mock.requests[before];
  assert.equal(seen.url, '/v1/chat/completions');
  assert.equal(seen.headers.authorization, 'Bearer oa-key-456');
  assert.equal(seen.body.model, 'gpt-test');
  assert.equal(seen.body.stream, true);
  assert.deepEqual(seen.body.stream_options, { include_usage: true });
  assert.deepEqual(seen.body.messages, [
    { role: 'system', content: 'Be terse.' },
    { role: 'user', content: 'List the files' },
    { role: 'assistant', content: 'Reading three files.', tool_calls: [
      { id: 'call_0', type: 'function', function: { name: 'Read', arguments: '{"p":"a"}' } },
      { id: 'call_1', type: 'function', function: { name: 'Read', arguments: '{"p":"b"}' } },
      { id: 'call_2', type: 'function', function: { name: 'Grep', arguments: '{"q":"x"}' } },
    ] },
    { role: 'tool', content: 'result 0', tool_call_id: 'call_0' },
    { role: 'tool', content: 'result 1', tool_call_id: 'call_1' },
    { role: 'tool', content: '[tool error] result 2', tool_call_id: 'call_2' },
    { role: 'user', content: 'Summarise.' },
  ]);
  assert.deepEqual(seen.body.tools, [{ type: 'function', function: { name: 'Read', description: 'Read a file', parameters: { type: 'object', properties: { p: { type: 'string' } } } } }]);
  assert.equal(seen.body.max_tokens, 1024);
});

test('provider_errors_map_to_anthropic_errors', async () => {
  const m = await startOpenAIMock({ kind: 'json', status: 401, body: { error: { message: 'Incorrect API key', type: 'invalid_request_error' } } });
  const p = await startProxy(openaiConfig(m.url));
  try {
    const c = new Anthropic({ baseURL: p.url, apiKey: 'k', maxRetries: 0 });
    await assert.rejects(c.messages.create(request('text')), (e) => {
      assert.equal(e.status, 401);
      assert.equal(e.error.error.type, 'authentication_error');
      assert.equal(e.error.error.message, 'Incorrect API key');
      return true;
    });
  } finally {
    await p.stop();
    await m.close();
  }
});

// One request with a field of the wrong type once hit a json-c assertion in
// the encoder and aborted the whole process (every other client with it).
test('a_field_of_the_wrong_type_is_a_400_naming_it_and_the_proxy_lives_on', async () => {
  const before = mock.requests.length;
  const cases = [
    [{ role: 'user', content: 5 }, 'messages.0.content: must be a string or an array of content blocks'],
    [{ role: 'assistant', content: { type: 'text', text: 'x' } }, 'messages.0.content: must be a string or an array of content blocks'],
    [{ role: 'user', content: [{ type: 'text', text: 7 }] }, 'messages.0.content.0.text: must be a string'],
  ];
  for (const [message, want] of cases) {
    const r = await fetch(`${proxy.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'client-key' },
      body: JSON.stringify({ model: 'gpt-test', max_tokens: 5, messages: [message] }),
    });
    assert.equal(r.status, 400);
    assert.deepEqual(await r.json(), { type: 'error', error: { type: 'invalid_request_error', message: want } });
  }
  assert.equal(mock.requests.length, before, 'nothing reached the provider');
  // Still serving.
  const final = await client.messages.stream({ model: 'gpt-test', max_tokens: 64, metadata: { user_id: 'text' }, messages: [{ role: 'user', content: 'hi' }] }).finalMessage();
  assert.equal(final.stop_reason, 'end_turn');
});

test('a_stream_cut_before_its_finish_reaches_the_sdk_as_an_error', async () => {
  const chunk = { id: 'c', object: 'chat.completion.chunk', model: 'gpt-test', choices: [{ index: 0, delta: { content: 'par' }, finish_reason: null }] };
  const m = await startOpenAIMock({ raw_sse: `data: ${JSON.stringify(chunk)}\n\n` });
  const p = await startProxy(openaiConfig(m.url));
  try {
    const c = new Anthropic({ baseURL: p.url, apiKey: 'k', maxRetries: 0 });
    await assert.rejects(c.messages.stream({ model: 'gpt-test', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] }).finalMessage(),
      /upstream stream ended early/);
  } finally {
    await p.stop();
    await m.close();
  }
});
