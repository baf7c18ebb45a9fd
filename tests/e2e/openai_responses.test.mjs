// The SDK through ccproxy to a mock OpenAI Responses API server replaying
// the fixture corpus: each stream and each whole response must give the
// expected message; a two-turn tool loop must carry the reasoning item back
// before its function_call; errors arrive as Anthropic errors; Azure
// OpenAI's URL, api-version and api-key header; and the real Claude Code
// doing Read → Edit → Bash against a server that refuses a
// function_call_output without its function_call.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { startProxy } from './lib/proxy.mjs';
import { accumulate } from './lib/expected.mjs';
import { claude } from './lib/claude_cli.mjs';
import { startResponsesMock, responsesFixture, responsesConfig, finalResponse, responsesAgent } from './lib/mock_responses.mjs';

let mock, proxy, client;
before(async () => {
  mock = await startResponsesMock((req) => {
    const name = req.body.safety_identifier; // the test names the fixture in metadata.user_id
    if (req.body.stream) return { kind: 'sse', fixture: `${name}.sse` };
    return { kind: 'json', body: finalResponse(name) };
  });
  // The fixtures name the upstream's model; the default (client) would
  // name the request's (the Claude Code test below covers that).
  proxy = await startProxy(responsesConfig(mock.url, 'server:\n  echo_model: upstream\n'));
  client = new Anthropic({ baseURL: proxy.url, apiKey: 'client-key', maxRetries: 0 });
});
after(async () => {
  await proxy.stop();
  await mock.close();
});

const expectedMessage = (name) => accumulate(JSON.parse(responsesFixture(`${name}.expected.json`)));
const wire = (msg) => { const { parsed_output, ...rest } = msg; return JSON.parse(JSON.stringify(rest)); };
const request = (name, extra = {}) => ({
  model: 'claude-test-model', max_tokens: 1024, metadata: { user_id: name },
  thinking: { type: 'enabled', budget_tokens: 2048 },
  messages: [{ role: 'user', content: 'List the files' }],
  tools: [{ name: 'Read', description: 'Read a file', input_schema: { type: 'object', properties: { file_path: { type: 'string' } } } }],
  ...extra,
});

const streams = ['text', 'reasoning_text', 'function_call', 'function_calls', 'incomplete', 'content_filter'];
for (const name of streams) {
  test(`stream_accumulates_to_the_expected_message (${name})`, async () => {
    const final = wire(await client.messages.stream(request(name)).finalMessage());
    assert.deepEqual(final, expectedMessage(name));
  });
  test(`create_maps_a_whole_response (${name})`, async () => {
    const msg = wire(await client.messages.create(request(name)));
    const want = expectedMessage(name);
    assert.deepEqual(msg.content, want.content);
    assert.equal(msg.stop_reason, want.stop_reason);
    assert.deepEqual(msg.usage, want.usage);
  });
}

test('an_error_mid_stream_reaches_the_sdk_as_an_error', async () => {
  await assert.rejects(client.messages.stream(request('error_mid')).finalMessage(), /Rate limit reached/);
  await assert.rejects(client.messages.stream(request('failed')).finalMessage(), /failed to generate/);
  await assert.rejects(client.messages.stream(request('cut')).finalMessage(), /upstream stream ended early/);
});

test('the_first_request_is_stateless_with_reasoning_asked_for', async () => {
  const before = mock.requests.length;
  await client.messages.stream(request('text', { system: [{ type: 'text', text: 'x-anthropic-billing-header: cc_version=2.1;' }, { type: 'text', text: 'Be terse.' }] })).finalMessage();
  const seen = mock.requests[before];
  assert.equal(seen.url, '/v1/responses');
  assert.equal(seen.headers.authorization, 'Bearer oar-key-789');
  assert.equal(seen.body.model, 'gpt-5.2-codex');
  assert.equal(seen.body.instructions, 'Be terse.');
  assert.equal(seen.body.store, false);
  assert.deepEqual(seen.body.include, ['reasoning.encrypted_content']);
  assert.deepEqual(seen.body.reasoning, { effort: 'low', summary: 'auto' });
  assert.equal(seen.body.max_output_tokens, 1024);
  assert.equal(seen.body.stream, true);
  assert.deepEqual(seen.body.tools, [{ type: 'function', name: 'Read', description: 'Read a file', parameters: { type: 'object', properties: { file_path: { type: 'string' } } }, strict: false }]);
});

test('the_tool_loop_sends_the_reasoning_item_back_before_its_call', async () => {
  const first = await client.messages.stream(request('function_call')).finalMessage();
  const use = first.content.find((b) => b.type === 'tool_use');
  const before = mock.requests.length;
  const second = await client.messages.stream(request('text', {
    messages: [
      { role: 'user', content: 'List the files' },
      { role: 'assistant', content: first.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'int main;' }] },
    ],
  })).finalMessage();
  assert.equal(second.stop_reason, 'end_turn');
  const seen = mock.requests[before];
  assert.deepEqual(seen.body.input, [
    { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'List the files' }] },
    { type: 'reasoning', id: 'rs_fc', summary: [], encrypted_content: 'gAAAAABencFC' },
    { type: 'function_call', call_id: 'call_Read1', name: 'Read', arguments: '{"file_path":"/tmp/a.c"}' },
    { type: 'function_call_output', call_id: 'call_Read1', output: 'int main;' },
  ]);
});

test('a_tool_result_without_its_call_is_refused_as_an_anthropic_400', async () => {
  await assert.rejects(client.messages.create(request('text', {
    messages: [
      { role: 'user', content: 'go' },
      { role: 'assistant', content: [{ type: 'text', text: 'ok' }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_gone', content: 'x' }] },
    ],
  })), (e) => {
    assert.equal(e.status, 400);
    assert.equal(e.error.error.type, 'invalid_request_error');
    assert.match(e.error.error.message, /No tool call found for function call output with call_id call_gone/);
    return true;
  });
});

test('provider_errors_map_to_anthropic_errors_with_retry_after', async () => {
  const m = await startResponsesMock((req, n) => (n === 1
    ? { kind: 'json', status: 401, body: { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } } }
    : { kind: 'json', status: 429, headers: { 'retry-after': '30' }, body: { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } } }));
  const p = await startProxy(responsesConfig(m.url));
  try {
    const c = new Anthropic({ baseURL: p.url, apiKey: 'k', maxRetries: 0 });
    await assert.rejects(c.messages.create(request('text')), (e) => {
      assert.equal(e.status, 401);
      assert.equal(e.error.error.type, 'authentication_error');
      assert.equal(e.error.error.message, 'Incorrect API key provided');
      return true;
    });
    await assert.rejects(c.messages.create(request('text')), (e) => {
      assert.equal(e.status, 429);
      assert.equal(e.error.error.type, 'rate_limit_error');
      assert.equal(e.headers.get('retry-after'), '30');
      return true;
    });
  } finally {
    await p.stop();
    await m.close();
  }
});

test('azure_openai_gets_its_url_api_version_and_api_key_header', async () => {
  const m = await startResponsesMock(() => ({ kind: 'sse', fixture: 'text.sse' }));
  const yaml = `
providers:
  - name: azure
    format: openai-responses
    base_url: ${m.url}/openai/v1
    auth: api-key
    api_key: azure-key-1
    api_version: preview
router:
  default: azure/my-codex-deployment
`;
  const p = await startProxy(yaml);
  try {
    const c = new Anthropic({ baseURL: p.url, apiKey: 'k', maxRetries: 0 });
    const msg = await c.messages.stream(request('text')).finalMessage();
    assert.equal(msg.stop_reason, 'end_turn');
    const seen = m.requests[0];
    assert.equal(seen.url, '/openai/v1/responses?api-version=preview');
    assert.equal(seen.headers['api-key'], 'azure-key-1');
    assert.equal(seen.headers.authorization, undefined);
    assert.equal(seen.body.model, 'my-codex-deployment');
    assert.ok(!p.log().includes('azure-key-1'));
  } finally {
    await p.stop();
    await m.close();
  }
});

// Claude Code keeps a thinking block in the history it sends back only when
// the answer names the model it asked for; ccproxy echoes the client's
// model by default, so each step's encrypted reasoning returns to the
// provider before the call it led to, and every function_call_output finds
// its function_call (the mock refuses the turn otherwise).
test('claude_code_reads_edits_and_runs_a_command_through_the_responses_api', { timeout: 240000 }, async () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-claude-responses-'));
  const file = path.join(work, 'greeting.txt');
  fs.writeFileSync(file, 'hello world\n');
  const m = await startResponsesMock((req) => responsesAgent(req.body, { file }));
  const p = await startProxy(responsesConfig(m.url));
  try {
    const { code, out } = await claude(['-p', 'Change world to proxy in greeting.txt and copy it', '--allowedTools', 'Read,Edit,Bash'], work, p);
    assert.equal(code, 0, `claude failed:\n${out}\n--- proxy:\n${p.log()}`);
    assert.match(out, /All done: read, edited and copied\./);
    assert.equal(fs.readFileSync(file, 'utf8'), 'hello proxy\n');
    assert.equal(fs.readFileSync(`${file}.copy`, 'utf8'), 'hello proxy\n');
    const turns = m.requests.filter((r) => r.body?.tools?.some((t) => t.name === 'Edit'));
    const input = turns.at(-1).body.input;
    // Every step: reasoning item, then its call, then (later) its output.
    for (let i = 0; i < 3; i++) {
      const r = input.findIndex((x) => x.type === 'reasoning' && x.id === `rs_step_${i}`);
      const c = input.findIndex((x) => x.type === 'function_call' && x.call_id === `call_step_${i}`);
      const o = input.findIndex((x) => x.type === 'function_call_output' && x.call_id === `call_step_${i}`);
      assert.ok(r >= 0, `reasoning of step ${i} not sent back: ${JSON.stringify(input).slice(0, 2000)}`);
      assert.equal(input[r].encrypted_content, `enc-step-${i}`);
      assert.deepEqual(input[r].summary, [{ type: 'summary_text', text: `Step ${i + 1} needs ${['Read', 'Edit', 'Bash'][i]}.` }]);
      assert.ok(r < c && c < o, `order of step ${i}: ${r} ${c} ${o}`);
    }
    assert.match(input.find((x) => x.call_id === 'call_step_0' && x.type === 'function_call_output').output, /hello world/);
    assert.ok(m.requests.every((r) => r.body?.store === false));
  } finally {
    await p.stop();
    await m.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
});
