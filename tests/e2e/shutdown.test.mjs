// SIGTERM drains: a stream in flight finishes, new connections are refused,
// and the process exits 0 (the sanitized build: no leaks).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startProxy, mockConfig } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';

test('sigterm_lets_an_inflight_stream_finish_then_exits_cleanly', async () => {
  const mock = await startMock({ kind: 'sse_slow', fixture: 'text.sse' });
  const proxy = await startProxy(mockConfig(mock.url));
  try {
    const res = await fetch(`${proxy.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'x', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 200);
    const reader = res.body.getReader();
    const first = await reader.read(); // the stream has begun
    assert.ok(!first.done);
    const stopping = proxy.stop(); // SIGTERM now, while the stream is mid-way
    await new Promise((r) => setTimeout(r, 150));
    await assert.rejects(fetch(`${proxy.url}/health`), 'no new connections while draining');
    let text = new TextDecoder().decode(first.value);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    assert.match(text, /event: message_stop/);
    await stopping; // asserts exit code 0
  } finally {
    await mock.close();
  }
});
