// Web pages must not be able to use the proxy: a cross-origin "simple"
// POST (text/plain, no preflight) or a DNS-rebound page (foreign Host) would
// otherwise spend the user's provider keys. The real client (Claude Code:
// HEAD / first, then JSON POSTs with Host 127.0.0.1:PORT) keeps working.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import Anthropic from '@anthropic-ai/sdk';
import { startProxy, mockConfig } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';

let mock, proxy;
before(async () => {
  mock = await startMock({ kind: 'json', fixture: 'text.json' });
  proxy = await startProxy(mockConfig(mock.url, `server:
  allowed_hosts: [proxy.internal]
  allowed_origins: ["https://app.example.com"]
`));
});
after(async () => {
  await proxy.stop();
  await mock.close();
});

const message = JSON.stringify({ model: 'x', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });

// One request with exactly these headers (fetch cannot set Host).
function request(port, { method = 'POST', path = '/v1/messages', headers = {}, body = method === 'POST' ? message : undefined } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function assertError(res, status, type) {
  assert.equal(res.status, status, res.text);
  const body = JSON.parse(res.text);
  assert.equal(body.type, 'error');
  assert.equal(body.error.type, type);
  return body.error.message;
}

test('a_cross_origin_text_plain_post_with_a_foreign_host_is_refused_before_any_upstream_call', async () => {
  const before = mock.requests.length;
  const res = await request(proxy.port, {
    headers: { host: `evil.example:${proxy.port}`, origin: 'http://evil.example', 'content-type': 'text/plain;charset=UTF-8' },
  });
  assert.match(assertError(res, 403, 'permission_error'), /Host 'evil\.example:\d+'.*server\.allowed_hosts/);
  assert.equal(mock.requests.length, before);
});

test('a_dns_rebound_json_post_is_refused_by_its_host', async () => {
  const res = await request(proxy.port, { headers: { host: `rebind.example:${proxy.port}`, 'content-type': 'application/json' } });
  assertError(res, 403, 'permission_error');
  const get = await request(proxy.port, { method: 'GET', path: '/v1/models', headers: { host: `rebind.example:${proxy.port}` } });
  assertError(get, 403, 'permission_error');
});

test('a_page_on_a_foreign_origin_is_refused_even_with_the_right_host', async () => {
  const host = `127.0.0.1:${proxy.port}`;
  const res = await request(proxy.port, { headers: { host, origin: 'http://evil.example', 'content-type': 'application/json' } });
  assert.match(assertError(res, 403, 'permission_error'), /server\.allowed_origins/);
  const site = await request(proxy.port, { headers: { host, 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' } });
  assertError(site, 403, 'permission_error');
});

test('a_post_that_is_not_json_is_415', async () => {
  const host = `127.0.0.1:${proxy.port}`;
  for (const ct of ['text/plain', 'application/x-www-form-urlencoded', undefined]) {
    const headers = ct ? { host, 'content-type': ct } : { host };
    assert.match(assertError(await request(proxy.port, { headers }), 415, 'invalid_request_error'), /application\/json/);
  }
  const count = await request(proxy.port, { path: '/v1/messages/count_tokens', headers: { host, 'content-type': 'text/plain' } });
  assertError(count, 415, 'invalid_request_error');
});

test('the_listening_address_in_every_spelling_and_allowed_hosts_and_origins_are_served', async () => {
  for (const host of [`127.0.0.1:${proxy.port}`, `localhost:${proxy.port}`, `[::1]:${proxy.port}`, 'localhost', 'proxy.internal', `proxy.internal:${proxy.port}`]) {
    const res = await request(proxy.port, { headers: { host, 'content-type': 'application/json; charset=utf-8' } });
    assert.equal(res.status, 200, `${host}: ${res.text}`);
  }
  const wrongPort = await request(proxy.port, { method: 'GET', path: '/health', headers: { host: '127.0.0.1:1' } });
  assertError(wrongPort, 403, 'permission_error');
  const allowed = await request(proxy.port, {
    headers: { host: `127.0.0.1:${proxy.port}`, origin: 'https://app.example.com', 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' },
  });
  assert.equal(allowed.status, 200, allowed.text);
});

test('claude_codes_probe_and_request_keep_working', async () => {
  const host = `127.0.0.1:${proxy.port}`;
  assert.equal((await request(proxy.port, { method: 'HEAD', path: '/', headers: { host } })).status, 200);
  assert.equal((await request(proxy.port, { method: 'GET', path: '/health', headers: { host } })).status, 200);
  const client = new Anthropic({ baseURL: proxy.url, apiKey: 'unused', maxRetries: 0 });
  const msg = await client.beta.messages.create({ model: 'x', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(msg.type, 'message');
});

test('bound_to_every_address_any_host_passes_and_status_warns_of_an_open_relay', async () => {
  const p = await startProxy(mockConfig(mock.url, 'auth:\n  allow_unauthenticated: true\n'), { args: ['--host', '0.0.0.0'] });
  try {
    const res = await request(p.port, { headers: { host: 'gateway.example.com', 'content-type': 'application/json' } });
    assert.equal(res.status, 200, res.text);
    const origin = await request(p.port, { headers: { host: 'gateway.example.com', origin: 'http://evil.example', 'content-type': 'application/json' } });
    assertError(origin, 403, 'permission_error');
    const status = JSON.parse((await request(p.port, { method: 'GET', path: '/status', headers: { host: 'gateway.example.com' } })).text);
    assert.equal(status.listen.host, '0.0.0.0');
    assert.equal(status.listen.port, p.port);
    assert.equal(status.warnings.length, 1);
    assert.match(status.warnings[0], /OPEN RELAY/);
    assert.match(p.log(), /warn .*OPEN RELAY/);
  } finally {
    await p.stop();
  }
  const local = JSON.parse((await request(proxy.port, { method: 'GET', path: '/status', headers: { host: `127.0.0.1:${proxy.port}` } })).text);
  assert.deepEqual(local.warnings, []);
  assert.doesNotMatch(proxy.log(), /OPEN RELAY/);
});
