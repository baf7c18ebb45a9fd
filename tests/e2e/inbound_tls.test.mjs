// server.tls: ccproxy serves HTTPS on its listener with a certificate the
// test makes (openssl CLI). The official SDK, trusting the test CA through
// NODE_EXTRA_CA_CERTS, gets the same answers over HTTPS as over HTTP,
// streamed and not; a client offering only TLS 1.1 is refused, as is a TLS
// 1.2 client when min_version is 1.3; a plain-HTTP request to the HTTPS
// port gets a readable 400, and the proxy goes on serving.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { startProxy, mockConfig } from './lib/proxy.mjs';
import { startMock, fixture } from './lib/mock_anthropic.mjs';
import { makeCA } from './lib/tls_certs.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let mock, ca, pair;
const cleanups = [];

before(async () => {
  mock = await startMock((req) => (req.body.stream
    ? { kind: 'sse', fixture: 'text.sse' } : { kind: 'json', fixture: 'text.json' }));
  ca = makeCA();
  pair = ca.issue('server');
});

after(async () => {
  for (const c of cleanups.reverse()) await c();
  await mock.close();
  ca.remove();
});

async function proxyWith(tlsYaml) {
  const proxy = await startProxy(mockConfig(mock.url, `server:\n  tls: ${tlsYaml}\n`));
  cleanups.push(() => proxy.stop());
  return proxy;
}

const tlsConfig = (extra = '') => `{cert_file: ${pair.cert}, key_file: ${pair.key}${extra}}`;

// A TLS handshake with the proxy; resolves to the negotiated protocol or
// rejects with the handshake's error.
function handshake(port, opts) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: fs.readFileSync(ca.ca), ...opts }, () => {
      const v = s.getProtocol();
      s.end();
      resolve(v);
    });
    s.on('error', reject);
  });
}

function get(url, path, agentOpts = {}) {
  return new Promise((resolve, reject) => {
    const req = https.get(`${url}${path}`, { ca: fs.readFileSync(ca.ca), agent: false, ...agentOpts }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body, cert: res.socket.getPeerCertificate?.() }));
    });
    req.on('error', reject);
  });
}

test('sdk_streaming_and_non_streaming_over_https', async () => {
  const proxy = await proxyWith(tlsConfig());
  assert.match(proxy.url, /^https:\/\//);
  const out = await new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(ROOT, 'tests/e2e/lib/sdk_over_https.mjs')], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, CCPROXY_URL: proxy.url, NODE_EXTRA_CA_CERTS: ca.ca },
    }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
  const { message, events, final } = JSON.parse(out);
  const expected = JSON.parse(fixture('text.json'));
  assert.deepEqual(message.content, expected.content);
  assert.equal(events[0], 'message_start');
  assert.equal(events.at(-1), 'message_stop');
  assert.ok(final.content[0].text.length > 0);
  assert.equal(mock.requests.filter((r) => r.body?.stream).length >= 1, true);
});

test('a_tls_1_1_client_is_refused_and_others_still_served', async () => {
  const proxy = await proxyWith(tlsConfig());
  // SECLEVEL=0 lets the client's OpenSSL offer TLS 1.1 at all: the refusal
  // then comes from the server (a protocol_version alert).
  await assert.rejects(
    handshake(proxy.port, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }),
    /protocol version/i,
  );
  assert.equal(await handshake(proxy.port, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }), 'TLSv1.2');
  const res = await get(proxy.url, '/health');
  assert.equal(res.status, 200);
});

test('min_version_1_3_refuses_a_tls_1_2_client', async () => {
  const proxy = await proxyWith(tlsConfig(', min_version: "1.3"'));
  await assert.rejects(handshake(proxy.port, { maxVersion: 'TLSv1.2' }), /protocol version/i);
  assert.equal(await handshake(proxy.port, { minVersion: 'TLSv1.3' }), 'TLSv1.3');
});

test('plain_http_to_the_https_port_gets_a_400_and_the_proxy_goes_on', async () => {
  const proxy = await proxyWith(tlsConfig());
  const res = await new Promise((resolve, reject) => {
    http.get(`http://127.0.0.1:${proxy.port}/health`, (r) => {
      let body = '';
      r.on('data', (d) => { body += d; });
      r.on('end', () => resolve({ status: r.statusCode, body }));
    }).on('error', reject);
  });
  assert.equal(res.status, 400);
  const body = JSON.parse(res.body);
  assert.equal(body.error.type, 'invalid_request_error');
  assert.match(body.error.message, /serves HTTPS/);
  // Garbage that is neither TLS nor HTTP: the connection is closed.
  await new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: proxy.port, rejectUnauthorized: false });
    s.on('error', () => resolve());
    s.on('close', () => resolve());
    s.on('secureConnect', () => s.end());
  });
  const ok = await get(proxy.url, '/health');
  assert.equal(ok.status, 200);
});

test('check_loads_the_certificate_and_key_as_serve_would', () => {
  const other = ca.issue('stranger');
  const dir = fs.mkdtempSync(path.join(ca.dir, 'check-'));
  const write = (name, key) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, mockConfig(mock.url, `server:\n  tls: {cert_file: ${pair.cert}, key_file: ${key}}\n`));
    return f;
  };
  const run = (file) => spawnSync(process.env.CCPROXY_BIN, ['check', '--config', file], { encoding: 'utf8' });
  const good = run(write('good.yaml', pair.key));
  assert.equal(good.status, 0, good.stderr);
  const bad = run(write('bad.yaml', other.key));
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /bad\.yaml: error: server\.tls\.key_file .* is not the key of the certificate/);
});

test('a_bad_certificate_stops_the_start_with_its_reason', async () => {
  const other = ca.issue('other');
  await assert.rejects(
    startProxy(mockConfig(mock.url, `server:\n  tls: {cert_file: ${pair.cert}, key_file: ${other.key}}\n`)),
    /server\.tls\.key_file .* is not the key of the certificate/,
  );
  await assert.rejects(
    startProxy(mockConfig(mock.url, `server:\n  tls: {cert_file: /nonexistent/cert.pem, key_file: ${pair.key}}\n`)),
    /server\.tls\.cert_file: cannot read '\/nonexistent\/cert\.pem': No such file/,
  );
});

test('renegotiation_is_refused', async () => {
  const proxy = await proxyWith(tlsConfig());
  const s = tls.connect({ host: '127.0.0.1', port: proxy.port, ca: fs.readFileSync(ca.ca), maxVersion: 'TLSv1.2' });
  await new Promise((r) => s.once('secureConnect', r));
  // Node reports the refusal as an 'error' on the socket (the callback is
  // for a renegotiation that happened).
  const err = await new Promise((resolve) => {
    s.on('error', resolve);
    s.renegotiate({ rejectUnauthorized: false }, (e) => resolve(e ?? null));
  });
  s.destroy();
  assert.match(String(err?.message), /no renegotiation/);
  assert.equal((await get(proxy.url, '/health')).status, 200);
});

// A 16 MiB stream to a TLS client that reads nothing: the proxy pauses the
// upstream (the backpressure marks count the encrypted bytes queued for
// the socket), then delivers every byte once the client reads.
test('a_tls_client_that_stops_reading_pauses_the_upstream_then_gets_it_all', async () => {
  const DELTAS = 512;
  const delta = (i) => `<${i}>` + 'abcdefghijklmnopqrstuvwxyz012345'.repeat(1024).slice(0, 32768 - String(i).length - 2);
  const state = { finished: false };
  const up = http.createServer((req, res) => {
    req.resume();
    req.on('end', async () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const frame = (event, data) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
      const write = (s) => (res.write(s) ? null : new Promise((r) => { res.once('drain', r); res.once('close', r); }));
      await write(frame('message_start', { type: 'message_start', message: { id: 'msg_big', type: 'message', role: 'assistant', model: 'mock-model', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 5, output_tokens: 1 } } }));
      await write(frame('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }));
      for (let i = 0; i < DELTAS && !res.destroyed; i++) {
        await write(frame('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: delta(i) } }));
      }
      await write(frame('content_block_stop', { type: 'content_block_stop', index: 0 }));
      await write(frame('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: DELTAS } }));
      res.end(frame('message_stop', { type: 'message_stop' }), () => { state.finished = true; });
    });
  });
  await new Promise((r) => up.listen(0, '127.0.0.1', r));
  cleanups.push(async () => { up.closeAllConnections(); await new Promise((r) => up.close(r)); });
  const proxy = await startProxy(mockConfig(`http://127.0.0.1:${up.address().port}`,
    `server:\n  log_level: debug\n  tls: ${tlsConfig()}\n`));
  cleanups.push(() => proxy.stop());

  const body = JSON.stringify({ model: 'claude-test', max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'hi' }] });
  const sock = tls.connect({ host: '127.0.0.1', port: proxy.port, ca: fs.readFileSync(ca.ca) });
  await new Promise((r) => sock.once('secureConnect', r));
  sock.write(`POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  while (!/upstream paused/.test(proxy.log())) {
    assert.ok(!state.finished, 'the upstream sent its whole answer to a client that reads nothing');
    await new Promise((r) => setTimeout(r, 20));
  }
  const chunks = [];
  sock.on('data', (d) => chunks.push(d));
  await new Promise((r) => sock.once('end', r));
  const raw = Buffer.concat(chunks).toString();
  assert.match(raw, /^HTTP\/1.1 200/);
  const text = [...raw.matchAll(/"text_delta","text":"([^"]*)"/g)].map((m) => m[1]).join('');
  assert.equal(text, Array.from({ length: DELTAS }, (_, i) => delta(i)).join(''));
  assert.match(raw, /event: message_stop/);
});

test('the_admin_listener_stays_plain_unless_tls_admin_is_set', async () => {
  const adminUrl = (proxy) => /ccproxy admin listening on (https?:\/\/[^:]+:\d+)/.exec(proxy.log())[1];
  const plain = await startProxy(mockConfig(mock.url, `server:\n  admin_listen: 127.0.0.1:0\n  tls: ${tlsConfig()}\n`));
  cleanups.push(() => plain.stop());
  assert.match(adminUrl(plain), /^http:/);
  const scrape = await fetch(`${adminUrl(plain)}/metrics`);
  assert.equal(scrape.status, 200);
  await scrape.text();

  const both = await startProxy(mockConfig(mock.url, `server:\n  admin_listen: 127.0.0.1:0\n  tls: ${tlsConfig(', admin: true')}\n`));
  cleanups.push(() => both.stop());
  assert.match(adminUrl(both), /^https:/);
  const res = await get(adminUrl(both), '/metrics');
  assert.equal(res.status, 200);
  assert.match(res.body, /ccproxy_client_connections_refused_total 0/);
});

test('a_handshake_left_unfinished_is_cut_off_at_header_timeout_ms', async () => {
  const proxy = await startProxy(mockConfig(mock.url,
    `server:\n  header_timeout_ms: 300\n  tls: ${tlsConfig()}\n`));
  cleanups.push(() => proxy.stop());
  // The first bytes of a ClientHello record, then nothing.
  const sock = (await import('node:net')).connect(proxy.port, '127.0.0.1');
  sock.on('error', () => {});
  sock.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
  await new Promise((r) => sock.on('close', r));
  assert.equal((await get(proxy.url, '/health')).status, 200);
});

// A renewed certificate written over the old files is served to new
// connections after SIGHUP (the reload's tls hook); a pair that does not
// load refuses the reload and the old certificate keeps serving.
test('sighup_serves_a_renewed_certificate_and_refuses_a_bad_one', async () => {
  const first = ca.issue('renew-a');
  const proxy = await startProxy(mockConfig(mock.url,
    `server:\n  tls: {cert_file: ${first.cert}, key_file: ${first.key}}\n`));
  cleanups.push(() => proxy.stop());
  const before = await get(proxy.url, '/health');
  assert.equal(before.status, 200);
  const serialA = before.cert.serialNumber;

  const second = ca.issue('renew-b');
  fs.copyFileSync(second.cert, first.cert);
  fs.copyFileSync(second.key, first.key);
  const reloaded = (n) => new Promise((resolve) => {
    const t = setInterval(() => {
      if ((proxy.log().match(/config reloaded|reload \(.*\) refused/g) || []).length >= n) { clearInterval(t); resolve(); }
    }, 20);
  });
  process.kill(proxy.pid, 'SIGHUP');
  await reloaded(1);
  const after = await get(proxy.url, '/health');
  assert.equal(after.status, 200);
  assert.notEqual(after.cert.serialNumber, serialA, 'a new connection gets the renewed certificate');
  assert.equal(after.cert.subject.CN, 'renew-b');

  // A key that does not match the certificate: the reload is refused.
  const third = ca.issue('renew-c');
  fs.copyFileSync(third.cert, first.cert);
  process.kill(proxy.pid, 'SIGHUP');
  await reloaded(2);
  assert.match(proxy.log(), /server\.tls/);
  const still = await get(proxy.url, '/health');
  assert.equal(still.status, 200);
  assert.equal(still.cert.subject.CN, 'renew-b', 'the old certificate keeps serving');
});
