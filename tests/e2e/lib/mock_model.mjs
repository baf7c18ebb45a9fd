// A scripted "model" behind a mock Anthropic upstream, enough for one real
// Claude Code agent turn: asked with tools and no tool result yet, it calls
// the Write tool; given the tool's result, it answers in text; any other
// request (Claude Code's title and summary calls) gets a short JSON text.
// Answers stream in Anthropic's SSE format when the request streams.

function sse(events) {
  return events.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join('');
}

function message(model, blocks, stopReason) {
  const events = [{
    type: 'message_start',
    message: { id: `msg_mock${Date.now()}`, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 50, output_tokens: 1 } },
  }];
  blocks.forEach((b, index) => {
    if (b.type === 'text') {
      events.push({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
      events.push({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: b.text } });
    } else {
      events.push({ type: 'content_block_start', index, content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} } });
      const json = JSON.stringify(b.input);
      events.push({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: json.slice(0, 10) } });
      events.push({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: json.slice(10) } });
    }
    events.push({ type: 'content_block_stop', index });
  });
  events.push({ type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: 20 } });
  events.push({ type: 'message_stop' });
  const full = { ...events[0].message, content: blocks, stop_reason: stopReason, usage: { input_tokens: 50, output_tokens: 20 } };
  return { events, full };
}

// Returns {status, headers, body} for one request body.
export function answer(body, { file }) {
  const msgs = body.messages ?? [];
  const last = msgs[msgs.length - 1];
  const blocks = Array.isArray(last?.content) ? last.content : [];
  const hasWrite = (body.tools ?? []).some((t) => t.name === 'Write');
  let m;
  if (blocks.some((b) => b.type === 'tool_result')) {
    m = message(body.model, [{ type: 'text', text: 'Done: the file is written.' }], 'end_turn');
  } else if (hasWrite) {
    m = message(body.model, [
      { type: 'text', text: 'I will write the file.' },
      { type: 'tool_use', id: 'toolu_01MockWrite000000000001', name: 'Write', input: { file_path: file, content: 'hello from the mock model\n' } },
    ], 'tool_use');
  } else {
    m = message(body.model, [{ type: 'text', text: '{"title": "Write a file", "isNewTopic": true}' }], 'end_turn');
  }
  if (body.stream) return { status: 200, headers: { 'content-type': 'text/event-stream' }, body: sse(m.events) };
  return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(m.full) };
}
