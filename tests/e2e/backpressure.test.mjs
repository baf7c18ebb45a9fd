// Backpressure: a client that stops reading a long stream makes ccproxy
// pause the upstream transfer instead of buffering the provider's whole
// answer; once the client reads again the answer arrives whole, and a
// client that leaves while the transfer is paused cancels it cleanly (the
// sanitized build's leak check runs when the proxy stops).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { startProxy, mockConfig } from './lib/proxy.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// 32 MiB of text in 32 KiB deltas, each different so a lost or repeated
// piece shows.
const DELTAS = 1024;
const deltaText = (i) => `<${i}>` + 'abcdefghijklmnopqrstuvwxyz012345'.repeat(1024).slice(0, 32768 - String(i).length - 2);
const EXPECTED = Array.from({ length: DELTAS }, (_, i) => deltaText(i)).join('');

const frame = (event, data) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

// An Anthropic upstream that streams EXPECTED as fast as its socket takes it,
// honouring its own socket's backpressure (so when ccproxy stops reading, it
// stops too). `state` tells the test how far it got.
async function startBigStreamMock() {
  const state = { sent: 0, finished: false, closedEarly: false };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', async () => {
      res.on('close', () => { if (!res.writableEnded) state.closedEarly = true; });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const write = async (s) => {
        state.sent += s.length;
        if (res.write(s)) return;
        await new Promise((r) => {
          const done = () => { res.off('drain', done); res.off('close', done); r(); };
          res.on('drain', done);
          res.on('close', done);
        });
      };
      await write(frame('message_start', { type: 'message_start', message: { id: 'msg_big', type: 'message', role: 'assistant', model: 'mock-model', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 5, output_tokens: 1 } } }));
      await write(frame('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }));
      for (let i = 0; i < DELTAS && !res.destroyed; i++) {
        await write(frame('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: deltaText(i) } }));
      }
      if (res.destroyed) return;
      await write(frame('content_block_stop', { type: 'content_block_stop', index: 0 }));
      await write(frame('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: DELTAS } }));
      await write(frame('message_stop', { type: 'message_stop' }));
      res.end(() => { state.finished = true; });
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    state,
    async close() { server.closeAllConnections(); await new Promise((r) => server.close(r)); },
  };
}

// Sends a streaming request on a raw socket and reads nothing: no 'data'
// listener, so Node stops reading the socket once its small buffer is full.
async function silentClient(proxy) {
  const body = JSON.stringify({ model: 'claude-test', max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'hi' }] });
  const sock = net.connect(proxy.port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  sock.write(`POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  return sock;
}

// Waits until ccproxy reports the pause, failing if the upstream got its
// whole answer out first (what happened when ccproxy buffered it all).
async function waitForPause(proxy, mock) {
  for (;;) {
    if (/upstream paused/.test(proxy.log())) return;
    assert.ok(!mock.state.finished, `the upstream sent its whole ${mock.state.sent}-byte answer to a client that reads nothing: ccproxy buffered it`);
    await sleep(20);
  }
}

function dechunk(buf) {
  const headEnd = buf.indexOf('\r\n\r\n');
  const head = buf.subarray(0, headEnd).toString();
  const parts = [];
  let i = headEnd + 4;
  for (;;) {
    const eol = buf.indexOf('\r\n', i);
    const n = parseInt(buf.subarray(i, eol).toString(), 16);
    if (n === 0) break;
    parts.push(buf.subarray(eol + 2, eol + 2 + n));
    i = eol + 2 + n + 2;
  }
  return { head, body: Buffer.concat(parts).toString() };
}

test('slow_client_pauses_the_upstream_and_then_gets_the_whole_stream', async () => {
  const mock = await startBigStreamMock();
  const proxy = await startProxy(mockConfig(mock.url, 'server: { log_level: debug }'));
  cleanups.push(() => mock.close(), () => proxy.stop());
  const sock = await silentClient(proxy);

  await waitForPause(proxy, mock);
  assert.ok(mock.state.sent < EXPECTED.length, 'the upstream was held back');

  // Now read everything.
  const chunks = [];
  sock.on('data', (d) => chunks.push(d));
  await new Promise((r) => sock.once('end', r));
  const { head, body } = dechunk(Buffer.concat(chunks));
  assert.match(head, /^HTTP\/1.1 200/);
  const events = body.split('\n\n').filter(Boolean).map((b) => {
    const ev = /^event: (.*)$/m.exec(b)[1];
    return { ev, data: JSON.parse(/^data: (.*)$/m.exec(b)[1]) };
  });
  assert.equal(events.at(-1).ev, 'message_stop');
  const text = events.filter((e) => e.ev === 'content_block_delta').map((e) => e.data.delta.text).join('');
  assert.equal(text.length, EXPECTED.length);
  assert.ok(text === EXPECTED, 'the text arrives intact and in order');
  assert.ok(mock.state.finished);
});

test('client_leaving_while_upstream_is_paused_cancels_it', async () => {
  const mock = await startBigStreamMock();
  const proxy = await startProxy(mockConfig(mock.url, 'server: { log_level: debug }'));
  cleanups.push(() => mock.close());
  const sock = await silentClient(proxy);
  await waitForPause(proxy, mock);
  sock.destroy();
  // The upstream connection is closed (the provider sees the cancel).
  while (!mock.state.closedEarly) await sleep(20);
  assert.ok(!mock.state.finished);
  // Exits 0 under ASan: nothing leaked by the paused transfer's teardown.
  await proxy.stop();
});
