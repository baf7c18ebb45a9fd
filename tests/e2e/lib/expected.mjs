// The Anthropic message a fixture's expected event sequence accumulates to,
// as the SDK would build it from the stream.
export function accumulate(expectedEvents) {
  const events = expectedEvents.map((e) => e.data);
  const msg = structuredClone(events[0].message);
  const parts = [];
  for (const e of events) {
    if (e.type === 'content_block_start') msg.content[e.index] = structuredClone(e.content_block);
    if (e.type === 'content_block_delta') {
      const b = msg.content[e.index];
      if (e.delta.type === 'text_delta') b.text += e.delta.text;
      if (e.delta.type === 'thinking_delta') b.thinking += e.delta.thinking;
      if (e.delta.type === 'signature_delta') b.signature += e.delta.signature;
      if (e.delta.type === 'input_json_delta') parts[e.index] = (parts[e.index] ?? '') + e.delta.partial_json;
    }
    if (e.type === 'content_block_stop' && msg.content[e.index].type === 'tool_use')
      msg.content[e.index].input = JSON.parse(parts[e.index] || '{}');
    if (e.type === 'message_delta') {
      msg.stop_reason = e.delta.stop_reason;
      Object.assign(msg.usage, e.usage);
    }
  }
  return msg;
}
