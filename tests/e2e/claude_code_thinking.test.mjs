// Claude Code (2.1.197) keeps a signed thinking block of an answer in the
// history it sends back only when the answer's model is the model it asked
// for. ccproxy routes to another model, so it echoes the client's model
// (server.echo_model: client, the default): then the reasoning of a
// tool-calling turn reaches the provider again on the next turn. Measured:
// the model-rewrite test fails with echo_model: upstream (the old
// behaviour). Unsigned thinking (what the openai-chat decoder makes of
// reasoning_content) is kept either way; its test guards reasoning_history
// end to end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startProxy, mockConfig } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';
import { startOpenAIMock, openaiModel, openaiConfig } from './lib/mock_openai.mjs';
import { claude } from './lib/claude_cli.mjs';

const sse = (events) => events.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join('');

// An Anthropic-format model named `model` (not the one asked for): with
// Write offered and no tool result yet, it thinks and calls Write; after the
// result it answers in text; anything else gets a short title.
function thinkingModel(body, { file, model }) {
  const msgs = body.messages ?? [];
  const last = msgs.at(-1);
  const blocks = Array.isArray(last?.content) ? last.content : [];
  const start = { type: 'message_start', message: { id: `msg_think${msgs.length}`, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 50, output_tokens: 1 } } };
  const end = (reason) => [
    { type: 'message_delta', delta: { stop_reason: reason, stop_sequence: null }, usage: { output_tokens: 20 } },
    { type: 'message_stop' },
  ];
  const text = (index, t) => [
    { type: 'content_block_start', index, content_block: { type: 'text', text: '' } },
    { type: 'content_block_delta', index, delta: { type: 'text_delta', text: t } },
    { type: 'content_block_stop', index },
  ];
  let events;
  if (blocks.some((b) => b.type === 'tool_result')) {
    events = [start, ...text(0, 'Done: the file is written.'), ...end('end_turn')];
  } else if ((body.tools ?? []).some((t) => t.name === 'Write')) {
    const input = JSON.stringify({ file_path: file, content: 'hello from the mock model\n' });
    events = [
      start,
      { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'The user wants a file.' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'sig-mock-1' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_01MockThink00000000001', name: 'Write', input: {} } },
      { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: input } },
      { type: 'content_block_stop', index: 1 },
      ...end('tool_use'),
    ];
  } else {
    events = [start, ...text(0, '{"title": "Write a file", "isNewTopic": true}'), ...end('end_turn')];
  }
  if (!body.stream) {
    // Claude Code's side calls; not part of the tool loop.
    const full = { ...start.message, content: [{ type: 'text', text: '{"title": "Write a file", "isNewTopic": true}' }], stop_reason: 'end_turn' };
    return { kind: 'raw', status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(full) };
  }
  return { kind: 'raw', status: 200, headers: { 'content-type': 'text/event-stream' }, body: sse(events) };
}

async function inWork(prefix, fn) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  try {
    return await fn(work);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

test('claude_code_sends_reasoning_back_to_an_openai_provider_across_a_tool_call', { timeout: 180000 }, async () => {
  await inWork('ccproxy-think-oa-', async (work) => {
    const file = path.join(work, 'out.txt');
    const mock = await startOpenAIMock((req) => openaiModel(req.body, { file }));
    const proxy = await startProxy(openaiConfig(mock.url).replace('models: [gpt-test]', 'models: [gpt-test]\n    reasoning_history: true'));
    try {
      const { code, out } = await claude(['-p', 'Write hello to out.txt', '--allowedTools', 'Write'], work, proxy);
      assert.equal(code, 0, `claude failed:\n${out}\n--- proxy:\n${proxy.log()}`);
      assert.equal(fs.readFileSync(file, 'utf8'), 'hello from the mock model\n');
      const turns = mock.requests.filter((r) => r.body?.tools?.some((t) => t.function?.name === 'Write'));
      assert.ok(turns.length >= 2, 'a tool call turn and a tool result turn');
      const assistant = turns[1].body.messages.find((m) => m.role === 'assistant' && m.tool_calls);
      assert.equal(assistant.reasoning_content, 'The user wants a file.', JSON.stringify(assistant));
    } finally {
      await proxy.stop();
      await mock.close();
    }
  });
});

test('claude_code_sends_thinking_back_through_a_model_rewrite_across_a_tool_call', { timeout: 180000 }, async () => {
  await inWork('ccproxy-think-an-', async (work) => {
    const file = path.join(work, 'out.txt');
    const mock = await startMock((req) => thinkingModel(req.body, { file, model: req.body?.model }));
    const proxy = await startProxy(mockConfig(mock.url));
    try {
      const { code, out } = await claude(['-p', 'Write hello to out.txt', '--allowedTools', 'Write'], work, proxy);
      assert.equal(code, 0, `claude failed:\n${out}\n--- proxy:\n${proxy.log()}`);
      assert.equal(fs.readFileSync(file, 'utf8'), 'hello from the mock model\n');
      const turns = mock.requests.filter((r) => r.body?.tools?.some((t) => t.name === 'Write'));
      assert.ok(turns.length >= 2, 'a tool call turn and a tool result turn');
      assert.equal(turns[0].body.model, 'mock-model');
      const assistant = turns[1].body.messages.find((m) => m.role === 'assistant' && m.content.some?.((b) => b.type === 'tool_use'));
      const thinking = assistant.content.find((b) => b.type === 'thinking');
      assert.ok(thinking, `no thinking block sent back: ${JSON.stringify(assistant.content)}`);
      assert.equal(thinking.thinking, 'The user wants a file.');
      assert.equal(thinking.signature, 'sig-mock-1');
      // The served model stays visible in the access log.
      assert.match(proxy.log(), /provider=mock model=mock-model/);
    } finally {
      await proxy.stop();
      await mock.close();
    }
  });
});

test('echo_model_upstream_shows_the_served_model', { timeout: 180000 }, async () => {
  await inWork('ccproxy-think-up-', async (work) => {
    const file = path.join(work, 'out.txt');
    const mock = await startMock((req) => thinkingModel(req.body, { file, model: req.body?.model }));
    const proxy = await startProxy(mockConfig(mock.url, 'server:\n  echo_model: upstream\n'));
    try {
      const res = await fetch(`${proxy.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': 'k', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }),
      });
      assert.equal(res.status, 200);
      assert.equal((await res.json()).model, 'mock-model');
    } finally {
      await proxy.stop();
      await mock.close();
    }
  });
});
