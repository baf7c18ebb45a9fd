// The SSRF guard: a provider whose base_url names a host that resolves to an
// internal address is refused at connect time (the operator named no such
// address), while an IP-literal or localhost base_url, or `local: true`,
// reaches it; a provider's redirect is not followed; a base_url outside
// security.allowed_upstreams is a config error with its place.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dns from 'node:dns/promises';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startProxy } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';

const HEADERS = { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' };
const BODY = JSON.stringify({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
const post = (proxy) => fetch(`${proxy.url}/v1/messages`, { method: 'POST', headers: HEADERS, body: BODY });

// This machine's own name, when /etc/hosts makes it resolve to loopback:
// a host name, not an address, that leads inside without touching DNS.
async function loopbackName() {
  const name = os.hostname();
  try {
    const { address } = await dns.lookup(name, { family: 4 });
    return address.startsWith('127.') ? name : null;
  } catch { return null; }
}

function config(baseUrl, extra = '') {
  return `
providers:
  - name: inside
    base_url: ${baseUrl}
    api_key: k-guard-test-1
    retry: {attempts: 1}
${extra}
router:
  default: inside/m
`;
}

test('a_host_name_resolving_to_loopback_is_refused_at_connect_time', async (t) => {
  const name = await loopbackName();
  if (!name) { t.skip(`${os.hostname()} does not resolve to 127.x here`); return; }
  const mock = await startMock({ kind: 'json', fixture: 'text.json' });
  const port = new URL(mock.url).port;
  const proxy = await startProxy(config(`http://${name}:${port}`));
  try {
    const res = await post(proxy);
    assert.equal(res.status, 502);
    const body = await res.json();
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'api_error');
    assert.match(body.error.message, /refused to connect to 127\.0\.0\.1, a loopback address/);
    assert.match(body.error.message, /local: true/);
    assert.equal(mock.requests.length, 0, 'the mock must never be reached');
  } finally {
    const log = await proxy.stop();
    assert.match(log, /connection to 127\.0\.0\.1 refused: a loopback address \(SSRF guard\)/);
    await mock.close();
  }
});

test('local_true_and_ip_literal_base_urls_reach_loopback', async (t) => {
  const mock = await startMock({ kind: 'json', fixture: 'text.json' });
  const port = new URL(mock.url).port;
  const name = await loopbackName();
  const urls = [[mock.url, ''], [`http://localhost:${port}`, '']];
  if (name) urls.push([`http://${name}:${port}`, '    local: true']);
  try {
    for (const [url, extra] of urls) {
      const proxy = await startProxy(config(url, extra));
      try {
        const res = await post(proxy);
        assert.equal(res.status, 200, `${url} ${extra}`);
        await res.json();
      } finally { await proxy.stop(); }
    }
    assert.equal(mock.requests.length, urls.length);
  } finally { await mock.close(); }
});

test('a_provider_redirect_is_not_followed', async () => {
  const target = await startMock({ kind: 'json', fixture: 'text.json' });
  const mock = await startMock({ kind: 'raw', status: 307, headers: { location: `${target.url}/v1/messages` }, body: '' });
  const proxy = await startProxy(config(mock.url));
  try {
    const res = await post(proxy);
    assert.equal(res.status, 502);
    const body = await res.json();
    assert.equal(body.error.type, 'api_error');
    assert.match(body.error.message, /answered HTTP 307, a redirect, which ccproxy does not follow/);
    assert.equal(mock.requests.length, 1);
    assert.equal(target.requests.length, 0, 'the redirect target must never be reached');
  } finally {
    await proxy.stop();
    await mock.close();
    await target.close();
  }
});

test('a_base_url_outside_allowed_upstreams_is_a_config_error_with_its_place', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-guard-'));
  const file = path.join(dir, 'c.yaml');
  fs.writeFileSync(file, `security:
  allowed_upstreams: [api.anthropic.com, "127.0.0.1:8080"]
providers:
  - name: a
    base_url: https://api.anthropic.com
  - name: b
    base_url: https://attacker.example/v1
  - name: c
    base_url: http://127.0.0.1:9090
`);
  const r = spawnSync(process.env.CCPROXY_BIN, ['check', '--config', file], {
    env: { PATH: process.env.PATH, HOME: dir, ASAN_OPTIONS: 'detect_leaks=1' }, encoding: 'utf8',
  });
  fs.rmSync(dir, { recursive: true, force: true });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /c\.yaml:7:15: error: providers\.base_url: attacker\.example:443 is not in security\.allowed_upstreams/);
  assert.match(r.stderr, /c\.yaml:9:15: error: providers\.base_url: 127\.0\.0\.1:9090 is not in/);
  assert.doesNotMatch(r.stderr, /api\.anthropic\.com:443 is not/);
});
