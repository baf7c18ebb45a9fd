// The HTTP layer against clients that are old, slow or hostile: HTTP/1.0
// streams, dribbled bodies, forged log lines, huge model names, SIGHUP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startProxy, mockConfig } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';

let mock, proxy;
before(async () => {
  mock = await startMock({ kind: 'sse', fixture: 'text.sse' });
  proxy = await startProxy(mockConfig(mock.url, 'server: { body_timeout_ms: 400 }'));
});
after(async () => {
  await proxy.stop();
  await mock.close();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Sends payload on a raw socket and collects everything until the server
// closes (or ms passes).
function raw(port, payload, { ms = 5000 } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    let closed = false;
    const timer = setTimeout(() => { sock.destroy(); resolve({ got, closed }); }, ms);
    sock.on('data', (d) => { got += d; });
    sock.on('error', () => {});
    sock.on('close', () => { closed = true; clearTimeout(timer); resolve({ got, closed }); });
    sock.write(payload);
  });
}

function post(body, version = '1.1') {
  return `POST /v1/messages HTTP/${version}\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

test('an_http10_stream_is_close_delimited_without_chunked_framing', async () => {
  const body = JSON.stringify({ model: 'x', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'hi' }] });
  const { got, closed } = await raw(proxy.port, post(body, '1.0'));
  assert.ok(closed, 'the server ends the stream by closing');
  const end = got.indexOf('\r\n\r\n');
  const head = got.slice(0, end);
  const rest = got.slice(end + 4);
  assert.match(head, /^HTTP\/1.1 200/);
  assert.doesNotMatch(head, /transfer-encoding/i);
  assert.match(head, /connection: close/i);
  assert.match(rest, /^event: message_start\n/, 'no chunk-size line before the first event');
  assert.match(rest, /event: message_stop\ndata: [^\n]*\n\n$/, 'no chunk terminator after the last');
  // HTTP/1.1 keeps chunked framing.
  const v11 = await raw(proxy.port, post(body).replace('Content-Type', 'Connection: close\r\nContent-Type'));
  assert.match(v11.got, /transfer-encoding: chunked/i);
});

test('a_body_dribbled_a_byte_at_a_time_is_cut_off_at_body_timeout_ms', async () => {
  const body = JSON.stringify({ model: 'x', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
  const sock = net.connect(proxy.port, '127.0.0.1');
  let got = '';
  let closed = false;
  sock.on('data', (d) => { got += d; });
  sock.on('error', () => {});
  sock.on('close', () => { closed = true; });
  sock.write(`POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
  // One byte per 50 ms keeps the idle timer (60 s) from firing; the body
  // would take seconds, far past body_timeout_ms.
  for (let i = 0; i < body.length - 1 && !closed; i++) {
    sock.write(body[i]);
    await sleep(50);
  }
  sock.destroy();
  assert.ok(closed, 'the server gave up on the body');
  assert.match(got, /^HTTP\/1.1 408/);
  assert.match(got, /server\.body_timeout_ms/);
});

test('a_newline_in_a_model_name_cannot_forge_an_access_log_line', async () => {
  const forged = 'mock/x\n2026-01-01T00:00:00.000Z info  req_forged GET /admin 200 provider=- model=-';
  const body = JSON.stringify({ model: forged, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
  // The name is refused (400) or served: either way it reaches the access
  // log, in the route if not as the model.
  const { got } = await raw(proxy.port, post(body).replace('Content-Type', 'Connection: close\r\nContent-Type'));
  assert.match(got, /^HTTP\/1.1 (200|400) /);
  await sleep(100);
  const log = proxy.log();
  assert.doesNotMatch(log, /^2026-01-01T00:00:00.000Z info {2}req_forged/m, 'no forged line');
  assert.match(log, /req_forged/, 'the model name is still logged, escaped');
});

test('a_huge_model_name_gives_a_capped_route_header', async () => {
  const model = `mock/${'m'.repeat(100 * 1024)}`;
  const body = JSON.stringify({ model, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
  const { got } = await raw(proxy.port, post(body).replace('Content-Type', 'Connection: close\r\nContent-Type'));
  assert.match(got, /^HTTP\/1.1 (200|400) /); // a model name this long is refused
  const route = /\r\nx-ccproxy-route: ([^\r\n]*)\r\n/.exec(got);
  assert.ok(route, 'the route header is still sent');
  assert.ok(route[1].length <= 512, `x-ccproxy-route is ${route[1].length} bytes`);
  assert.match(route[1], /target=mock\/m+\.\.\.$/);
});

// SIGHUP's default action would kill the process; it reloads the config
// instead (tests/e2e/reload.test.mjs has the rest).
test('sighup_reloads_the_config_and_the_process_keeps_serving', async () => {
  process.kill(proxy.pid, 'SIGHUP');
  for (let i = 0; i < 50 && !/config reloaded \(SIGHUP\)/.test(proxy.log()); i++) await sleep(50);
  assert.match(proxy.log(), /received SIGHUP: reloading the config/);
  assert.match(proxy.log(), /config reloaded \(SIGHUP\)/);
  assert.equal((await fetch(`${proxy.url}/health`)).status, 200);
});
