// The real client: Claude Code (pinned in package.json) runs one whole agent
// turn in print mode through ccproxy — probe, tool call, tool result,
// answer — against a scripted model behind a mock Anthropic upstream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startProxy, mockConfig, MOCK_KEY } from './lib/proxy.mjs';
import { claude } from './lib/claude_cli.mjs';
import { startMock } from './lib/mock_anthropic.mjs';
import { answer } from './lib/mock_model.mjs';
import { startOpenAIMock, openaiModel, openaiAgent, openaiConfig } from './lib/mock_openai.mjs';
import { startGeminiMock, geminiAgent, geminiConfig } from './lib/mock_gemini.mjs';

test('claude_code_writes_a_file_through_ccproxy', { timeout: 180000 }, async () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-claude-'));
  const file = path.join(work, 'out.txt');
  const mock = await startMock((req) => ({ kind: 'raw', ...answer(req.body, { file }) }));
  const proxy = await startProxy(mockConfig(mock.url).replace('default: mock/mock-model', 'default: mock'));
  try {
    const { code, out } = await claude(['-p', 'Write hello to out.txt', '--allowedTools', 'Write'], work, proxy);
    assert.equal(code, 0, `claude failed:\n${out}\n--- proxy:\n${proxy.log()}`);
    assert.match(out, /Done: the file is written\./);
    assert.equal(fs.readFileSync(file, 'utf8'), 'hello from the mock model\n');

    const main = mock.requests.filter((r) => r.body?.tools?.some((t) => t.name === 'Write'));
    assert.ok(main.length >= 2, 'a tool call turn and a tool result turn');
    const [first, second] = main;
    assert.equal(first.body.stream, true);
    assert.equal(first.headers['x-api-key'], MOCK_KEY);
    // Claude Code's beta flags reach the provider intact.
    assert.ok(first.headers['anthropic-beta'].split(',').length >= 5, first.headers['anthropic-beta']);
    // The per-request billing header is not sent to a provider other than Anthropic.
    const system = JSON.stringify(first.body.system);
    assert.ok(!system.includes('x-anthropic-billing-header'), system.slice(0, 200));
    // The second turn carries the tool result back, in place.
    const last = second.body.messages.at(-1);
    assert.ok(last.content.some((b) => b.type === 'tool_result' && b.tool_use_id === 'toolu_01MockWrite000000000001'));
    // The log names the route and never the provider key.
    assert.match(proxy.log(), /POST \/v1\/messages 200 provider=mock/);
    assert.ok(!proxy.log().includes(MOCK_KEY));
  } finally {
    await proxy.stop();
    await mock.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test('claude_code_writes_a_file_through_ccproxy_to_an_openai_provider', { timeout: 180000 }, async () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-claude-oa-'));
  const file = path.join(work, 'out.txt');
  const mock = await startOpenAIMock((req) => openaiModel(req.body, { file }));
  const proxy = await startProxy(openaiConfig(mock.url));
  try {
    const { code, out } = await claude(['-p', 'Write hello to out.txt', '--allowedTools', 'Write'], work, proxy);
    assert.equal(code, 0, `claude failed:\n${out}\n--- proxy:\n${proxy.log()}`);
    assert.match(out, /Done: the file is written\./);
    assert.equal(fs.readFileSync(file, 'utf8'), 'hello from the mock model\n');
    const turns = mock.requests.filter((r) => r.body?.tools?.some((t) => t.function?.name === 'Write'));
    assert.ok(turns.length >= 2);
    const second = turns[1].body;
    assert.equal(second.model, 'gpt-test');
    assert.equal(turns[1].headers.authorization, 'Bearer oa-key-456');
    const assistant = second.messages.find((m) => m.role === 'assistant' && m.tool_calls);
    assert.equal(assistant.tool_calls[0].id, 'call_write_1');
    const tool = second.messages.find((m) => m.role === 'tool');
    assert.equal(tool.tool_call_id, 'call_write_1');
    assert.ok(!JSON.stringify(second.messages).includes('x-anthropic-billing-header'));
  } finally {
    await proxy.stop();
    await mock.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test('claude_code_reads_edits_and_runs_a_command_through_an_openai_provider', { timeout: 240000 }, async () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-claude-agent-'));
  const file = path.join(work, 'greeting.txt');
  fs.writeFileSync(file, 'hello world\n');
  const mock = await startOpenAIMock((req) => openaiAgent(req.body, { file }));
  const proxy = await startProxy(openaiConfig(mock.url));
  try {
    const { code, out } = await claude(['-p', 'Change world to proxy in greeting.txt and copy it', '--allowedTools', 'Read,Edit,Bash'], work, proxy);
    assert.equal(code, 0, `claude failed:\n${out}\n--- proxy:\n${proxy.log()}`);
    assert.match(out, /All done: read, edited and copied\./);
    assert.equal(fs.readFileSync(file, 'utf8'), 'hello proxy\n');
    assert.equal(fs.readFileSync(`${file}.copy`, 'utf8'), 'hello proxy\n');
    // Each step's result came back as a tool message with its call id.
    const last = mock.requests.filter((r) => r.body?.tools?.length).at(-1).body.messages;
    const ids = last.filter((m) => m.role === 'tool').map((m) => m.tool_call_id);
    assert.deepEqual(ids, ['call_step_0', 'call_step_1', 'call_step_2']);
    assert.match(last.find((m) => m.tool_call_id === 'call_step_0').content, /hello world/);
  } finally {
    await proxy.stop();
    await mock.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test('claude_code_reads_edits_and_runs_a_command_through_gemini', { timeout: 240000 }, async () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-claude-gemini-'));
  const file = path.join(work, 'greeting.txt');
  fs.writeFileSync(file, 'hello world\n');
  const mock = await startGeminiMock((entry) => geminiAgent(entry, { file }));
  const proxy = await startProxy(geminiConfig(mock.url));
  try {
    const { code, out } = await claude(['-p', 'Change world to gemini in greeting.txt and copy it', '--allowedTools', 'Read,Edit,Bash'], work, proxy);
    assert.equal(code, 0, `claude failed:\n${out}\n--- proxy:\n${proxy.log()}`);
    assert.match(out, /All done: read, edited and copied\./);
    assert.equal(fs.readFileSync(file, 'utf8'), 'hello gemini\n');
    assert.equal(fs.readFileSync(`${file}.copy`, 'utf8'), 'hello gemini\n');
    // Every step's signature came back (the mock refuses a turn without),
    // and each result went back as a functionResponse named for its call.
    const last = mock.requests.filter((r) => r.body?.tools).at(-1).body.contents;
    const responses = last.flatMap((c) => c.parts).filter((p) => p.functionResponse).map((p) => p.functionResponse.name);
    assert.deepEqual(responses, ['Read', 'Edit', 'Bash']);
    assert.equal(last.flatMap((c) => c.parts).filter((p) => p.functionCall && p.thoughtSignature).length, 3);
    assert.ok(!JSON.stringify(last).includes('x-anthropic-billing-header'));
  } finally {
    await proxy.stop();
    await mock.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
});
