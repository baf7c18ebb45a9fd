// A mock OpenAI Chat Completions server: records requests and replays the
// recorded streams of tests/fixtures/openai (in small uneven pieces), or a
// whole completion, or answers as a scripted model (for Claude Code).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRecordingServer, answerCommon } from './mock_server.mjs';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/openai');
export const openaiFixture = (name) => fs.readFileSync(path.join(FIXTURES, name), 'utf8');

export async function startOpenAIMock(script) {
  return startRecordingServer(async (entry, res, n) => {
    const a = typeof script === 'function' ? script(entry, n) : script;
    await answerCommon(res, a, openaiFixture);
  });
}

export function openaiConfig(baseUrl, extra = '') {
  return `${extra}
providers:
  - name: oa
    format: openai-chat
    base_url: ${baseUrl}/v1
    api_key: oa-key-456
    models: [gpt-test]
router:
  default: oa/gpt-test
`;
}

// A scripted model in OpenAI's format for one Claude Code agent turn: with
// tools and no tool result yet it calls Write; after the tool result it
// answers in text; anything else (title requests) gets a JSON text.
export function openaiModel(body, { file }) {
  const msgs = body.messages ?? [];
  const hasWrite = (body.tools ?? []).some((t) => t.function?.name === 'Write');
  const id = `chatcmpl-${Date.now()}`;
  const base = { id, object: 'chat.completion.chunk', created: 1, model: body.model };
  let deltas, finish;
  if (msgs.some((m) => m.role === 'tool')) {
    deltas = [{ role: 'assistant', content: 'Done: the file is ' }, { content: 'written.' }];
    finish = 'stop';
  } else if (hasWrite) {
    const args = JSON.stringify({ file_path: file, content: 'hello from the mock model\n' });
    deltas = [
      { role: 'assistant', reasoning_content: 'The user wants a file.' },
      { content: 'I will write the file.' },
      { tool_calls: [{ index: 0, id: 'call_write_1', type: 'function', function: { name: 'Write', arguments: args.slice(0, 12) } }] },
      { tool_calls: [{ index: 0, function: { arguments: args.slice(12) } }] },
    ];
    finish = 'tool_calls';
  } else {
    deltas = [{ role: 'assistant', content: '{"title": "Write a file", "isNewTopic": true}' }];
    finish = 'stop';
  }
  const usage = { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120 };
  if (!body.stream) {
    const content = deltas.map((d) => d.content ?? '').join('') || null;
    const calls = deltas.flatMap((d) => d.tool_calls ?? []);
    const message = { role: 'assistant', content };
    if (calls.length) message.tool_calls = [{ id: calls[0].id, type: 'function', function: { name: 'Write', arguments: calls.map((c) => c.function.arguments).join('') } }];
    return { kind: 'json', body: { id, object: 'chat.completion', model: body.model, choices: [{ index: 0, message, finish_reason: finish }], usage } };
  }
  const chunks = deltas.map((d) => ({ ...base, choices: [{ index: 0, delta: d, finish_reason: null }] }));
  chunks.push({ ...base, choices: [{ index: 0, delta: {}, finish_reason: finish }] });
  chunks.push({ ...base, choices: [], usage });
  return { kind: 'json', status: 200, raw_sse: chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join('') + 'data: [DONE]\n\n' };
}

// A scripted model that reads a file, edits it, runs a command, then
// answers: one step per tool result already in the conversation.
export function openaiAgent(body, { file }) {
  const msgs = body.messages ?? [];
  const hasTools = (body.tools ?? []).some((t) => t.function?.name === 'Edit');
  const done = msgs.filter((m) => m.role === 'tool').length;
  const id = `chatcmpl-agent${done}`;
  const base = { id, object: 'chat.completion.chunk', created: 1, model: body.model };
  const steps = [
    ['Read', { file_path: file }],
    ['Edit', { file_path: file, old_string: 'world', new_string: 'proxy' }],
    ['Bash', { command: `cat ${file} > ${file}.copy`, description: 'Copy the file' }],
  ];
  let deltas, finish;
  if (!hasTools) {
    deltas = [{ role: 'assistant', content: '{"title": "Edit a file", "isNewTopic": true}' }];
    finish = 'stop';
  } else if (done < steps.length) {
    const [name, input] = steps[done];
    const args = JSON.stringify(input);
    deltas = [
      { role: 'assistant', content: `Step ${done + 1}.` },
      { tool_calls: [{ index: 0, id: `call_step_${done}`, type: 'function', function: { name, arguments: args.slice(0, 5) } }] },
      { tool_calls: [{ index: 0, function: { arguments: args.slice(5) } }] },
    ];
    finish = 'tool_calls';
  } else {
    deltas = [{ role: 'assistant', content: 'All done: read, edited and copied.' }];
    finish = 'stop';
  }
  const chunks = deltas.map((d) => ({ ...base, choices: [{ index: 0, delta: d, finish_reason: null }] }));
  chunks.push({ ...base, choices: [{ index: 0, delta: {}, finish_reason: finish }], usage: { prompt_tokens: 50, completion_tokens: 10 } });
  if (!body.stream) {
    return { kind: 'json', body: { id, object: 'chat.completion', model: body.model, choices: [{ index: 0, message: { role: 'assistant', content: deltas.map((d) => d.content ?? '').join('') }, finish_reason: 'stop' }] } };
  }
  return { raw_sse: chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join('') + 'data: [DONE]\n\n' };
}
