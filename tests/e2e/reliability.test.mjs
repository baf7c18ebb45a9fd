// Retries, wait hints, the deadline, circuit breakers and key pools, seen
// through the official SDK (with its own retries off: maxRetries 0, so
// every retry here is ccproxy's) against mock upstreams that count what
// they receive.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startProxy } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

const req = { model: 'claude-test-model', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] };
const ok = { kind: 'json', fixture: 'text.json' };
const overloaded = { kind: 'error', status: 529, type: 'overloaded_error', message: 'Overloaded' };

// A provider block; retry/breaker/keys as YAML flow text.
function provider(name, url, extra = '') {
  return `  - name: ${name}
    base_url: ${url}
    api_key: key-${name}-0
    models: [m]
${extra}`;
}

async function setup(providersYaml, route, env = {}) {
  const yaml = `providers:\n${providersYaml}\nrouter:\n  default: ${route}\n`;
  const proxy = await startProxy(yaml, { env, args: ['--workers', '1'] });
  cleanups.push(() => proxy.stop());
  const client = new Anthropic({ baseURL: proxy.url, apiKey: 'client-key', maxRetries: 0 });
  return { proxy, client };
}

async function mock(script) {
  const m = await startMock(script);
  cleanups.push(() => m.close());
  return m;
}

const fast = '    retry: {base_ms: 10, max_ms: 20}\n';

test('retries_succeed_after_two_529s', async () => {
  const m = await mock((_e, n) => (n <= 2 ? overloaded : ok));
  const { client } = await setup(provider('a', m.url, fast), 'a/m');
  const { data, response } = await client.messages.create(req).withResponse();
  assert.equal(data.type, 'message');
  assert.equal(m.requests.length, 3);
  assert.match(response.headers.get('x-ccproxy-route'), /target=a\/m; retries=2$/);
  // Every try sends the same body.
  assert.deepEqual(m.requests[2].body, m.requests[0].body);
});

test('a_retry_of_a_subagent_request_sends_the_body_of_the_first_try', async () => {
  // The proxy frees the request's tree once a try is encoded and parses the
  // client's body again for the retry, re-applying the router's edit (the
  // subagent tag's removal): the retry must send what the first try sent.
  const m = await mock((_e, n) => (n === 1 ? overloaded : ok));
  const { client } = await setup(provider('a', m.url, fast) + provider('b', m.url, fast), 'b/m');
  const tagged = { ...req, system: [{ type: 'text', text: 'You review.\n<ccproxy-model>a/m</ccproxy-model>\nBe brief.' }] };
  const { data, response } = await client.messages.create(tagged).withResponse();
  assert.equal(data.type, 'message');
  assert.equal(m.requests.length, 2);
  assert.match(response.headers.get('x-ccproxy-route'), /via=tag; target=a\/m; retries=1$/);
  assert.equal(m.requests[0].body.system[0].text, 'You review.\nBe brief.');
  assert.deepEqual(m.requests[1].body, m.requests[0].body);
});

test('a_stream_that_breaks_before_any_byte_reached_the_client_is_retried', async () => {
  // The head, then the connection is cut before any event.
  const m = await mock((_e, n) => (n === 1 ? { kind: 'cut' } : { kind: 'sse', fixture: 'text.sse' }));
  const { client } = await setup(provider('a', m.url, fast), 'a/m');
  const stream = await client.messages.create({ ...req, stream: true });
  let text = '';
  for await (const ev of stream) if (ev.type === 'content_block_delta') text += ev.delta.text ?? '';
  assert.ok(text.length > 0);
  assert.equal(m.requests.length, 2);
});

test('giving_up_passes_the_wait_hint_to_the_client', async () => {
  // retry-after-ms, retry-after in seconds, and Gemini-style RetryInfo in the body.
  const m = await mock((e) => {
    const c = e.body.messages[0].content;
    if (c === 'ms') return { ...overloaded, headers: { 'retry-after-ms': '120000' } };
    if (c === 'date') return { ...overloaded, headers: { 'retry-after': new Date(Date.now() + 90_000).toUTCString() } };
    return { kind: 'raw', status: 429, headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ error: { code: 429, message: 'quota', status: 'RESOURCE_EXHAUSTED',
        details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '75s' }] } }) };
  });
  const { client } = await setup(provider('a', m.url, fast), 'a/m');
  // A hint above retry.max_wait_ms (60 s) is not waited out: one request each.
  for (const [c, want] of [['ms', '120'], ['date', /^(89|90)$/], ['body', '75']]) {
    const before = m.requests.length;
    const err = await client.messages.create({ ...req, messages: [{ role: 'user', content: c }] }).catch((e) => e);
    assert.ok(err instanceof Anthropic.APIError, String(err));
    if (typeof want === 'string') assert.equal(err.headers.get('retry-after'), want, c);
    else assert.match(err.headers.get('retry-after'), want, c);
    assert.equal(m.requests.length - before, 1, c);
  }
});

test('the_deadline_from_x_stainless_timeout_stops_retries', async () => {
  const m = await mock({ ...overloaded, headers: { 'retry-after-ms': '1500' } });
  const { client } = await setup(provider('a', m.url, '    retry: {attempts: 2}\n'), 'a/m');
  // With time enough (10 s), the 1.5 s wait is made: one retry.
  const before = await client.messages.create(req, { timeout: 10000 }).catch((e) => e);
  assert.equal(before.status, 529);
  assert.equal(m.requests.length, 2);
  m.requests.length = 0;
  // The SDK sends its own timeout as x-stainless-timeout (seconds): 1 s
  // leaves no room for a 1.5 s wait.
  const err = await client.messages.create(req, { timeout: 1000 }).catch((e) => e);
  assert.equal(err.status, 529);
  assert.equal(err.headers.get('retry-after'), '2');
  assert.equal(m.requests.length, 1);
});

test('the_breaker_opens_and_the_fallback_serves', async () => {
  const bad = await mock(overloaded);
  const good = await mock(ok);
  const { client, proxy } = await setup(
    provider('a', bad.url, '    retry: {attempts: 1}\n    breaker: {failures: 2, cooldown_ms: 600000}\n') + provider('b', good.url),
    '[a/m, b/m]');
  for (let i = 0; i < 2; i++) {
    const { response } = await client.messages.create(req).withResponse();
    assert.match(response.headers.get('x-ccproxy-route'), /target=b\/m$/);
  }
  assert.equal(bad.requests.length, 2);
  // Open now: a is not asked; the skip shows in the route header and the log.
  const { response } = await client.messages.create(req).withResponse();
  assert.match(response.headers.get('x-ccproxy-route'), /target=b\/m; skipped=a\(breaker-open\)$/);
  assert.equal(bad.requests.length, 2);
  assert.equal(good.requests.length, 3);
  assert.match(proxy.log(), /skipped=a\(breaker-open\)/);
  assert.match(proxy.log(), /circuit breaker opened/);
  // /metrics and /ready show it.
  const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
  assert.match(metrics, /^ccproxy_breaker_state\{provider="a"\} 2$/m);
  assert.match(metrics, /^ccproxy_breaker_state\{provider="b"\} 0$/m);
  const ready = await (await fetch(`${proxy.url}/ready`)).json();
  assert.equal(ready.providers.a.breaker, 'open');
});

test('a_429_key_rests_and_the_next_key_serves', async () => {
  const m = await mock((e) => (e.headers['x-api-key'] === 'key-a-0'
    ? { kind: 'error', status: 429, type: 'rate_limit_error', message: 'slow down', headers: { 'retry-after': '30' } }
    : ok));
  const { client, proxy } = await setup(provider('a', m.url, '    api_keys: ["${SECOND_KEY}"]\n'), 'a/m', { SECOND_KEY: 'key-a-1' });
  const { response } = await client.messages.create(req).withResponse();
  assert.equal(response.status, 200);
  assert.deepEqual(m.requests.map((r) => r.headers['x-api-key']), ['key-a-0', 'key-a-1']);
  // key 0 rests for its 30 s: the next requests go to key 1 straight away.
  await client.messages.create(req);
  await client.messages.create(req);
  assert.deepEqual(m.requests.slice(2).map((r) => r.headers['x-api-key']), ['key-a-1', 'key-a-1']);
  assert.doesNotMatch(proxy.log(), /key-a-/);
});

test('a_401_key_is_parked_and_logged_by_index_only', async () => {
  const m = await mock((e) => (e.headers['x-api-key'] === 'key-a-1'
    ? { kind: 'error', status: 401, type: 'authentication_error', message: 'invalid x-api-key' }
    : ok));
  const { client, proxy } = await setup(provider('a', m.url, '    api_keys: [key-a-1, key-a-2]\n'), 'a/m');
  for (let i = 0; i < 6; i++) await client.messages.create(req);
  const used = m.requests.map((r) => r.headers['x-api-key']);
  // key 1 was tried once, refused, and never again; each request succeeded.
  assert.equal(used.filter((k) => k === 'key-a-1').length, 1);
  assert.equal(used.length, 7);
  assert.match(proxy.log(), /provider 'a': key #1 of 3 was refused \(HTTP 401\); it is parked/);
  assert.doesNotMatch(proxy.log(), /key-a-/);
});

test('a_client_that_leaves_cancels_the_pending_retry', async () => {
  let seen;
  const first = new Promise((r) => { seen = r; });
  const m = await mock((_e, n) => { if (n === 1) seen(); return overloaded; });
  const { proxy } = await setup(provider('a', m.url, '    retry: {base_ms: 1500, max_ms: 1500, jitter: none}\n'), 'a/m');
  const ac = new AbortController();
  const client = new Anthropic({ baseURL: proxy.url, apiKey: 'k', maxRetries: 0 });
  const p = client.messages.create(req, { signal: ac.signal }).catch((e) => e);
  await first;
  // The proxy now waits 1.5 s before its retry; the client leaves.
  while (!/retry 1 in 1500 ms/.test(proxy.log())) await new Promise((r) => setTimeout(r, 10));
  ac.abort();
  await p;
  // Past the time the retry would have gone out, the mock saw nothing more.
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal(m.requests.length, 1);
});
