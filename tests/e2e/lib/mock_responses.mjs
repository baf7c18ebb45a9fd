// A mock OpenAI Responses API server: records requests and replays the
// fixture streams of tests/fixtures/responses (in small uneven pieces), or
// a whole response object, or answers as a scripted model (for Claude Code).
// Like OpenAI, it refuses (400) a turn whose function_call_output has no
// matching function_call earlier in the input.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRecordingServer, answerCommon } from './mock_server.mjs';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/responses');
export const responsesFixture = (name) => fs.readFileSync(path.join(FIXTURES, name), 'utf8');

// The response object a fixture stream ends with (its terminal event's).
export function finalResponse(name) {
  const datas = responsesFixture(`${name}.sse`).split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
  return datas.findLast((d) => d.response)?.response;
}

// A message naming what is wrong with input, or null: every
// function_call_output needs its function_call before it.
export function orphanOutput(input) {
  const calls = new Set();
  for (const item of input ?? []) {
    if (item.type === 'function_call') calls.add(item.call_id);
    if (item.type === 'function_call_output' && !calls.has(item.call_id))
      return `No tool call found for function call output with call_id ${item.call_id}.`;
  }
  return null;
}

export async function startResponsesMock(script) {
  return startRecordingServer(async (entry, res, n) => {
    const orphan = orphanOutput(entry.body?.input);
    if (orphan) {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: orphan, type: 'invalid_request_error', param: 'input', code: null } }));
      return;
    }
    const a = typeof script === 'function' ? script(entry, n) : script;
    await answerCommon(res, a, responsesFixture);
  });
}

export function responsesConfig(baseUrl, extra = '', providerExtra = '') {
  return `${extra}
providers:
  - name: oar
    format: openai-responses
    base_url: ${baseUrl}/v1
    api_key: oar-key-789
    models: [gpt-5.2-codex]
${providerExtra}
router:
  default: oar/gpt-5.2-codex
`;
}

// The SSE text of a response made of output items, as OpenAI streams it.
export function streamOf(id, model, items, usage) {
  let seq = 0;
  const ev = (type, fields) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...fields })}\n\n`;
  const resp = (status, output) => ({ id, object: 'response', status, model, output, usage: status === 'completed' ? usage : null, error: null, incomplete_details: null });
  let s = ev('response.created', { response: resp('in_progress', []) });
  items.forEach((item, i) => {
    if (item.type === 'reasoning') {
      s += ev('response.output_item.added', { output_index: i, item: { id: item.id, type: 'reasoning', summary: [] } });
      item.summary.forEach((p, si) => {
        s += ev('response.reasoning_summary_text.delta', { item_id: item.id, output_index: i, summary_index: si, delta: p.text });
      });
    } else if (item.type === 'message') {
      s += ev('response.output_item.added', { output_index: i, item: { id: item.id, type: 'message', role: 'assistant', content: [] } });
      s += ev('response.output_text.delta', { item_id: item.id, output_index: i, content_index: 0, delta: item.content[0].text });
    } else {
      s += ev('response.output_item.added', { output_index: i, item: { ...item, arguments: '' } });
      s += ev('response.function_call_arguments.delta', { item_id: item.id, output_index: i, delta: item.arguments.slice(0, 7) });
      s += ev('response.function_call_arguments.delta', { item_id: item.id, output_index: i, delta: item.arguments.slice(7) });
    }
    s += ev('response.output_item.done', { output_index: i, item });
  });
  return s + ev('response.completed', { response: resp('completed', items) });
}

// A scripted reasoning model that reads a file, edits it, runs a command,
// then answers: one step per function_call_output in the input. Each step
// reasons first; its encrypted reasoning is "enc-step-N".
export function responsesAgent(body, { file }) {
  const input = body.input ?? [];
  const hasTools = (body.tools ?? []).some((t) => t.name === 'Edit');
  const done = input.filter((i) => i.type === 'function_call_output').length;
  const id = `resp_agent${done}`;
  const usage = { input_tokens: 50, input_tokens_details: { cached_tokens: 0 }, output_tokens: 10, output_tokens_details: { reasoning_tokens: 4 }, total_tokens: 60 };
  const steps = [
    ['Read', { file_path: file }],
    ['Edit', { file_path: file, old_string: 'world', new_string: 'proxy' }],
    ['Bash', { command: `cat ${file} > ${file}.copy`, description: 'Copy the file' }],
  ];
  const msg = (text) => ({ id: `msg_${id}`, type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text, annotations: [] }] });
  let items;
  if (!hasTools) {
    items = [msg('{"title": "Edit a file", "isNewTopic": true}')];
  } else if (done < steps.length) {
    const [name, args] = steps[done];
    items = [
      { id: `rs_step_${done}`, type: 'reasoning', summary: [{ type: 'summary_text', text: `Step ${done + 1} needs ${name}.` }], encrypted_content: `enc-step-${done}` },
      { id: `fc_step_${done}`, type: 'function_call', status: 'completed', call_id: `call_step_${done}`, name, arguments: JSON.stringify(args) },
    ];
  } else {
    items = [msg('All done: read, edited and copied.')];
  }
  if (!body.stream) return { kind: 'json', body: { id, object: 'response', status: 'completed', model: body.model, output: items, usage, error: null, incomplete_details: null } };
  return { raw_sse: streamOf(id, body.model, items, usage) };
}
