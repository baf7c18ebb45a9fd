// Limits against abuse keep the proxy serving everyone else: a connection
// flood, slowloris (heads trickled) and slow POST (bodies trickled) from one
// address are held to server.max_connections_per_client and cut off by the
// header and body timeouts, while a second client — another loopback
// address, 127.0.0.2 (Linux routes all of 127/8 to lo) — is served
// throughout; server.client_rate_limit answers one client's excess with
// Anthropic's 429 rate_limit_error and retry-after, without proxy keys,
// and leaves the other client alone.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import { startProxy, mockConfig } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function setup(serverYaml) {
  const mock = await startMock({ kind: 'json', fixture: 'text.json' });
  const proxy = await startProxy(mockConfig(mock.url, `server:\n${serverYaml}`));
  cleanups.push(() => mock.close(), () => proxy.stop());
  return { mock, proxy };
}

const MESSAGE = JSON.stringify({ model: 'claude-test', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });

// One request from localAddress on a connection of its own.
function request(port, { localAddress = '127.0.0.2', method = 'GET', path = '/health', body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port, path, method, localAddress, agent: false,
      headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {},
    }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// A raw connection from localAddress recording what it receives and
// whether the server closed it.
function open(port, localAddress = '127.0.0.1') {
  const sock = net.connect({ host: '127.0.0.1', port, localAddress });
  const c = { sock, got: '', closed: false };
  c.done = new Promise((resolve) => sock.on('close', () => { c.closed = true; resolve(); }));
  sock.on('data', (d) => { c.got += d; });
  sock.on('error', () => {});
  return c;
}

// Writes a piece every ms until the server closes the connection.
async function trickle(c, pieces, ms) {
  for (const p of pieces) {
    if (c.closed) return;
    c.sock.write(p);
    await sleep(ms);
  }
}

async function metric(proxy, name) {
  const res = await request(proxy.port, { path: '/metrics' });
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(res.body);
  return m ? Number(m[1]) : NaN;
}

test('a_connection_flood_from_one_address_is_capped_and_others_are_served', async () => {
  const { proxy } = await setup('  max_connections_per_client: 4\n');
  const flood = Array.from({ length: 12 }, () => open(proxy.port));
  // Eight are closed at accept; four stay open (idle, within the header timeout).
  for (let i = 0; i < 500 && flood.filter((c) => c.closed).length < 8; i++) await sleep(20);
  assert.equal(flood.filter((c) => c.closed).length, 8);
  assert.equal(flood.filter((c) => c.got.length).length, 0, 'a refused connection gets no bytes');
  // Another client is served at once.
  assert.equal((await request(proxy.port)).status, 200);
  // The flooding address gets no more connections...
  await assert.rejects(request(proxy.port, { localAddress: '127.0.0.1' }));
  assert.ok(await metric(proxy, 'ccproxy_client_connections_refused_total') >= 9);
  // ...until it closes some: its count goes down with them.
  for (const c of flood) c.sock.destroy();
  let ok = null;
  for (let i = 0; i < 100 && !ok; i++) {
    ok = await request(proxy.port, { localAddress: '127.0.0.1' }).catch(() => null);
    if (!ok) await sleep(50);
  }
  assert.equal(ok?.status, 200);
  assert.match(proxy.log(), /client 127\.0\.0\.1 has server\.max_connections_per_client \(4\)/);
  assert.equal(proxy.log().match(/max_connections_per_client \(4\) connections open/g).length, 1,
    'one log line per burst');
});

// With server.max_connections at 30, forty slow connections from one
// address would take every slot; the per-client cap of 20 leaves room.
const SLOW = '  max_connections: 30\n  max_connections_per_client: 20\n  header_timeout_ms: 1500\n  body_timeout_ms: 1500\n';

test('slowloris_heads_are_cut_off_and_other_clients_are_served_meanwhile', async () => {
  const { proxy, mock } = await setup(SLOW);
  const slow = Array.from({ length: 40 }, () => open(proxy.port));
  const lines = ['GET /health HTTP/1.1\r\n', 'Host: 127.0.0.1\r\n',
    ...Array.from({ length: 200 }, (_, i) => `X-Slow-${i}: ${i}\r\n`)];
  const trickling = slow.map((c) => trickle(c, lines, 100));
  await sleep(300); // every slow connection has begun its head
  // While they trickle, another client's requests are answered.
  assert.equal((await request(proxy.port)).status, 200);
  const res = await request(proxy.port, { method: 'POST', path: '/v1/messages', body: MESSAGE });
  assert.equal(res.status, 200);
  assert.equal(mock.requests.length, 1);
  await Promise.all(slow.map((c) => c.done));
  await Promise.all(trickling);
  // Those admitted were answered 408 naming the timeout; the rest were
  // closed at accept.
  const timedOut = slow.filter((c) => /^HTTP\/1.1 408/.test(c.got));
  assert.equal(timedOut.length, 20);
  assert.match(timedOut[0].got, /server\.header_timeout_ms/);
  assert.equal(slow.filter((c) => c.got === '').length, 20);
});

test('slow_post_bodies_are_cut_off_and_other_clients_are_served_meanwhile', async () => {
  const { proxy, mock } = await setup(SLOW);
  const slow = Array.from({ length: 40 }, () => open(proxy.port));
  const head = `POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${MESSAGE.length}\r\n\r\n`;
  const trickling = slow.map((c) => trickle(c, [head, ...MESSAGE.slice(0, -1)], 100));
  await sleep(300);
  const res = await request(proxy.port, { method: 'POST', path: '/v1/messages', body: MESSAGE });
  assert.equal(res.status, 200);
  await Promise.all(slow.map((c) => c.done));
  await Promise.all(trickling);
  const timedOut = slow.filter((c) => /^HTTP\/1.1 408/.test(c.got));
  assert.equal(timedOut.length, 20);
  assert.match(timedOut[0].got, /server\.body_timeout_ms/);
  assert.equal(mock.requests.length, 1, 'no slow body reached the provider');
});

test('client_rate_limit_answers_429_with_retry_after_and_spares_other_clients', async () => {
  const { proxy, mock } = await setup('  client_rate_limit: 3/m\n');
  // The SDK (from 127.0.0.1), with no proxy key configured at all.
  const client = new Anthropic({ baseURL: proxy.url, apiKey: 'client-key', maxRetries: 0 });
  const req = { model: 'claude-test', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] };
  for (let i = 0; i < 3; i++) await client.messages.create(req);
  const err = await client.messages.create(req).catch((e) => e);
  assert.ok(err instanceof Anthropic.RateLimitError, `expected a RateLimitError, got ${err}`);
  assert.equal(err.status, 429);
  assert.equal(err.error.error.type, 'rate_limit_error');
  assert.match(err.error.error.message, /server\.client_rate_limit/);
  assert.ok(Number(err.headers.get('retry-after')) >= 1);
  assert.equal(mock.requests.length, 3, 'the refused request never reached the provider');
  // Another address has its own bucket; probes are not counted.
  assert.equal((await request(proxy.port, { method: 'POST', path: '/v1/messages', body: MESSAGE })).status, 200);
  assert.equal((await request(proxy.port, { localAddress: '127.0.0.1' })).status, 200);
  assert.equal(await metric(proxy, 'ccproxy_client_rate_limited_total'), 1);
});

test('a_head_with_more_than_max_headers_fields_is_a_431', async () => {
  const { proxy } = await setup('  max_headers: 10\n');
  const send = (n) => new Promise((resolve) => {
    const c = open(proxy.port, '127.0.0.2');
    const extra = Array.from({ length: n - 1 }, (_, i) => `x-h${i}: ${i}\r\n`).join('');
    c.sock.write(`GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}Connection: close\r\n\r\n`);
    c.done.then(() => resolve(c.got));
  });
  // Host, nine more and Connection: eleven fields.
  const over = await send(10);
  assert.match(over, /^HTTP\/1.1 431/);
  assert.match(over, /more than 10 header fields \(server\.max_headers\)/);
  assert.match(await send(9), /^HTTP\/1.1 200/);
});
