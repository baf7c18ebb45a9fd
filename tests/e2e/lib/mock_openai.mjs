// A mock OpenAI Chat Completions server: records requests and replays the
// recorded streams of tests/fixtures/openai (in small uneven pieces), or a
// whole completion, or answers as a scripted model (for Claude Code).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/openai');
export const openaiFixture = (name) => fs.readFileSync(path.join(FIXTURES, name), 'utf8');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function startOpenAIMock(script) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', async () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body = null;
      try { body = JSON.parse(raw); } catch { /* recorded as null */ }
      const entry = { method: req.method, url: req.url, headers: req.headers, body };
      requests.push(entry);
      const a = typeof script === 'function' ? script(entry, requests.length) : script;
      if (a.raw_sse) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(a.raw_sse);
      } else if (a.kind === 'sse') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const text = openaiFixture(a.fixture);
        for (let i = 0, n = 3; i < text.length; i += n, n = (n * 5) % 61 + 1) {
          res.write(text.slice(i, i + n));
          if (n % 4 === 0) await sleep(1);
        }
        res.end();
      } else {
        res.writeHead(a.status ?? 200, { 'content-type': 'application/json' });
        res.end(typeof a.body === 'string' ? a.body : JSON.stringify(a.body));
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
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
