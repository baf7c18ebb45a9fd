// /health, /ready and /status tell the truth: readiness and status report
// each provider's last upstream result, its time and its last error, and
// /status names the config in force by its hash.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import Anthropic from '@anthropic-ai/sdk';
import { startProxy } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';

let good, down, proxy, client, yaml;
before(async () => {
  good = await startMock({ kind: 'sse', fixture: 'text.sse' });
  down = await startMock({ kind: 'error', status: 529, type: 'overloaded_error', message: 'Overloaded' });
  yaml = `
providers:
  - {name: good, format: anthropic, base_url: '${good.url}', api_key: k1, models: [mock-model]}
  - {name: down, format: anthropic, base_url: '${down.url}', api_key: k2, retry: {attempts: 1}}
router:
  default: good/mock-model
  rules:
    - {name: to-down, when: {header: {x-test: down}}, route: down/m}
`;
  proxy = await startProxy(yaml);
  client = new Anthropic({ baseURL: proxy.url, apiKey: 'client-key', maxRetries: 0 });
});
after(async () => {
  await proxy.stop();
  await good.close();
  await down.close();
});

test('ready_lists_every_provider_before_any_request', async () => {
  const res = await fetch(`${proxy.url}/ready`);
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.status, 'ready');
  assert.deepEqual(Object.keys(body.providers), ['good', 'down']);
  for (const p of Object.values(body.providers)) {
    assert.equal(p.configured, true);
    assert.equal(p.breaker, 'closed');
    assert.equal(p.last_result, null);
    assert.equal(p.last_error, null);
  }
});

test('a_failing_provider_shows_its_last_error_and_ready_stays_200_while_a_route_can_serve', async () => {
  const startedAt = Date.now();
  await client.messages.create({ model: 'x', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
  await assert.rejects(client.messages.create(
    { model: 'x', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] },
    { headers: { 'x-test': 'down' } },
  ), (e) => e.status === 529);
  const res = await fetch(`${proxy.url}/ready`);
  assert.equal(res.status, 200);
  const { providers } = await res.json();
  assert.equal(providers.good.last_result.ok, true);
  assert.equal(providers.good.last_result.status, 200);
  assert.equal(providers.good.successes, 1);
  assert.ok(Date.parse(providers.good.last_result.at) >= startedAt - 1000);
  assert.equal(providers.down.last_result.ok, false);
  assert.equal(providers.down.last_result.status, 529);
  assert.equal(providers.down.failures, 1);
  assert.equal(providers.down.last_error.message, 'answered HTTP 529');
  assert.ok(Date.parse(providers.down.last_error.at) >= startedAt - 1000);
});

test('status_reports_uptime_config_hash_workers_in_flight_and_providers', async () => {
  const res = await fetch(`${proxy.url}/status`);
  assert.equal(res.status, 200);
  const s = await res.json();
  assert.equal(s.status, 'ok');
  assert.equal(typeof s.version, 'string');
  assert.ok(s.uptime_seconds >= 0);
  assert.match(s.config.source, /ccproxy\.yaml$/);
  assert.equal(s.config.hash, `sha256:${crypto.createHash('sha256').update(yaml).digest('hex')}`);
  assert.equal(s.workers, 2);
  assert.equal(s.in_flight_requests, 0);
  assert.equal(s.ready, true);
  assert.equal(s.providers.down.last_error.message, 'answered HTTP 529');
  assert.equal(s.tracing.enabled, false);
});

test('in_flight_counts_a_request_while_it_streams', async () => {
  const slow = await startMock({ kind: 'slow' });
  const p = await startProxy(`
providers:
  - {name: slow, format: anthropic, base_url: '${slow.url}', api_key: k}
router:
  default: slow/m
`);
  const ac = new AbortController();
  const res = await fetch(`${p.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    signal: ac.signal,
  });
  const reader = res.body.getReader();
  await reader.read(); // the stream has begun
  const during = await (await fetch(`${p.url}/status`)).json();
  assert.equal(during.in_flight_requests, 1);
  ac.abort();
  await reader.read().catch(() => {});
  await p.stop();
  await slow.close();
});

test('ready_is_503_when_no_provider_can_serve', async () => {
  const p = await startProxy('server: {log_level: error}\n');
  const res = await fetch(`${p.url}/ready`);
  assert.equal(res.status, 503);
  const body = await res.json();
  assert.equal(body.status, 'not_ready');
  assert.equal(body.reason, 'no provider configured');
  assert.equal((await fetch(`${p.url}/health`)).status, 200, 'liveness is not readiness');
  await p.stop();
});
