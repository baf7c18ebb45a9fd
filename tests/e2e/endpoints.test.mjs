// The small endpoints Claude Code and operators use.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startProxy, mockConfig } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';

let mock, proxy;
before(async () => {
  mock = await startMock({ kind: 'sse', fixture: 'text.sse' });
  proxy = await startProxy(mockConfig(mock.url));
});
after(async () => {
  await proxy.stop();
  await mock.close();
});

test('head_root_probe_is_200', async () => {
  const res = await fetch(`${proxy.url}/`, { method: 'HEAD' });
  assert.equal(res.status, 200);
});

test('health_and_ready_are_200_with_a_provider', async () => {
  assert.equal((await fetch(`${proxy.url}/health`)).status, 200);
  const ready = await fetch(`${proxy.url}/ready`);
  assert.equal(ready.status, 200);
  assert.equal((await ready.json()).status, 'ready');
});

test('models_lists_the_configured_models_in_anthropic_format', async () => {
  const body = await (await fetch(`${proxy.url}/v1/models`)).json();
  assert.deepEqual(body.data.map((m) => [m.type, m.id]), [['model', 'mock-model']]);
  assert.equal(typeof body.data[0].display_name, 'string');
  assert.equal(typeof body.data[0].created_at, 'string');
  assert.equal(body.has_more, false);
  assert.equal(body.first_id, 'mock-model');
  assert.equal(body.last_id, 'mock-model');
});

test('count_tokens_returns_a_positive_estimate_that_grows_with_input', async () => {
  const count = async (text) => {
    const res = await fetch(`${proxy.url}/v1/messages/count_tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'x', messages: [{ role: 'user', content: text }] }),
    });
    assert.equal(res.status, 200);
    return (await res.json()).input_tokens;
  };
  const small = await count('Hello there');
  const big = await count('Hello there, '.repeat(200));
  assert.ok(small > 0);
  assert.ok(big > small * 50);
});

test('query_string_is_ignored_for_routing', async () => {
  const res = await fetch(`${proxy.url}/v1/messages?beta=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'x', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
  });
  assert.equal(res.status, 200);
  assert.match(await res.text(), /event: message_stop/);
});

// Raw socket checks of the HTTP layer: keep-alive with pipelining, chunked
// request bodies and Expect: 100-continue.
function raw(port, payload, { until = (s) => false, ms = 3000 } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    const done = () => { sock.destroy(); resolve(got); };
    const timer = setTimeout(done, ms);
    sock.on('data', (d) => { got += d; if (until(got)) { clearTimeout(timer); done(); } });
    sock.on('close', () => { clearTimeout(timer); resolve(got); });
    sock.write(payload);
  });
}

test('two_pipelined_requests_on_one_connection_get_two_answers_in_order', async () => {
  const got = await raw(proxy.port, 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', {
    until: (s) => s.includes('last_id'),
  });
  const first = got.indexOf('{"status":"ok"}');
  const second = got.indexOf('"data"');
  assert.ok(first > 0 && second > first, got);
});

test('chunked_request_body_is_accepted', async () => {
  const body = JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'hi' }] });
  const half = body.length >> 1;
  const chunked = `${half.toString(16)}\r\n${body.slice(0, half)}\r\n${(body.length - half).toString(16)}\r\n${body.slice(half)}\r\n0\r\n\r\n`;
  const got = await raw(proxy.port, `POST /v1/messages/count_tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}`, {
    until: (s) => s.includes('input_tokens'),
  });
  assert.match(got, /^HTTP\/1.1 200/);
});

test('expect_100_continue_gets_100_then_the_answer', async () => {
  const body = JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'hi' }] });
  const got = await new Promise((resolve) => {
    const sock = net.connect(proxy.port, '127.0.0.1');
    let buf = '';
    sock.on('data', (d) => {
      buf += d;
      if (buf.startsWith('HTTP/1.1 100 Continue\r\n\r\n') && !sock.sentBody) {
        sock.sentBody = true;
        sock.write(body);
      }
      if (buf.includes('input_tokens')) { sock.destroy(); resolve(buf); }
    });
    sock.write(`POST /v1/messages/count_tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`);
    setTimeout(() => { sock.destroy(); resolve(buf); }, 3000);
  });
  assert.match(got, /^HTTP\/1.1 100 Continue\r\n\r\nHTTP\/1.1 200 OK/);
});

test('malformed_http_is_a_400_and_a_huge_head_a_431', async () => {
  const bad = await raw(proxy.port, 'NOT HTTP AT ALL\r\n\r\n', { until: (s) => s.includes('}}') });
  assert.match(bad, /^HTTP\/1.1 400/);
  assert.match(bad, /"type":"invalid_request_error"/);
  const huge = await raw(proxy.port, `GET /health HTTP/1.1\r\nX-Big: ${'a'.repeat(70000)}\r\n\r\n`, { until: (s) => s.includes('}}') });
  assert.match(huge, /^HTTP\/1.1 431/);
});

test('a_head_that_never_completes_is_cut_off_with_408', async () => {
  const p = await startProxy(mockConfig(mock.url, 'server: { header_timeout_ms: 300 }'));
  try {
    const got = await raw(p.port, 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n', { until: (s) => s.includes('}}') });
    assert.match(got, /^HTTP\/1.1 408/);
  } finally {
    await p.stop();
  }
});
