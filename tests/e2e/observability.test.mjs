// Observability: JSON access logs with correlation ids, trace context sent
// on to the provider, Server-Timing, Prometheus metrics checked by promtool
// and scraped by a real Prometheus, the admin listener, and no key in any
// log line at debug.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startProxy } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';
import { startGeminiMock } from './lib/mock_gemini.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function post(url, body, headers = {}) {
  return fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers },
    body: JSON.stringify({ max_tokens: 50, messages: [{ role: 'user', content: 'hi' }], ...body }),
  });
}

// The JSON lines of a log; every line must be one.
function jsonLines(log) {
  return log.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

function accessLines(log) {
  return jsonLines(log).filter((l) => l.msg === 'request');
}

function adminPort(proxy) {
  const m = /ccproxy admin listening on http:\/\/[^:]+:(\d+)/.exec(proxy.log());
  assert.ok(m, `no admin listening line in:\n${proxy.log()}`);
  return Number(m[1]);
}

// A metric's value from the text format, by name and exact label text.
function sample(text, name, labels = '') {
  const line = text.split('\n').find((l) => l.startsWith(labels ? `${name}{${labels}}` : `${name} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const PARENT = 'b7ad6b7169203331';

test('json_access_log_carries_correlation_ids_timings_and_tokens', async () => {
  const mock = await startMock({ kind: 'sse', fixture: 'text.sse' });
  const proxy = await startProxy(`
providers:
  - {name: ant, format: anthropic, base_url: '${mock.url}', api_key: k, models: [claude-main]}
router:
  default: ant/claude-main
`, { args: ['--log-format', 'json'] });
  let log;
  let streamed, whole;
  try {
    streamed = await post(proxy.url, { model: 'claude-sonnet-4-5', stream: true }, {
      traceparent: `00-${TRACE}-${PARENT}-01`,
      tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7',
      'x-claude-code-session-id': 'session-abc',
    });
    assert.equal(streamed.status, 200);
    await streamed.text();
    whole = await post(proxy.url, { model: 'claude-sonnet-4-5', stream: false },
      { traceparent: '00-00000000000000000000000000000000-b7ad6b7169203331-01', tracestate: 'congo=t61rcWkgMzE' }); // invalid: ignored
    await whole.text();
  } finally {
    log = await proxy.stop();
    await mock.close();
  }
  const lines = accessLines(log);
  assert.equal(lines.length, 2, log);
  const [a, b] = lines;

  // The request id: the client's request-id header, the provider's x-request-id, the log's.
  assert.equal(a.request_id, streamed.headers.get('request-id'));
  assert.equal(mock.requests[0].headers['x-request-id'], a.request_id);
  assert.equal(b.request_id, whole.headers.get('request-id'));
  assert.equal(mock.requests[1].headers['x-request-id'], b.request_id);

  // The incoming trace is continued, with a span of ours as the provider's parent.
  assert.equal(a.trace_id, TRACE);
  assert.equal(a.parent_span_id, PARENT);
  assert.match(a.span_id, /^[0-9a-f]{16}$/);
  assert.notEqual(a.span_id, PARENT);
  assert.equal(mock.requests[0].headers.traceparent, `00-${TRACE}-${a.span_id}-01`);
  // The caller's vendor state travels with its trace (W3C: an intermediary passes it on).
  assert.equal(mock.requests[0].headers.tracestate, 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
  // An invalid traceparent starts a new trace.
  assert.match(b.trace_id, /^[0-9a-f]{32}$/);
  assert.notEqual(b.trace_id, '0'.repeat(32));
  assert.equal(b.parent_span_id, null);
  assert.equal(mock.requests[1].headers.traceparent, `00-${b.trace_id}-${b.span_id}-01`);
  // A new trace carries no other trace's state.
  assert.equal(mock.requests[1].headers.tracestate, undefined);

  assert.equal(a.session_id, 'session-abc');
  assert.equal(b.session_id, null);
  for (const [l, stream] of [[a, true], [b, false]]) {
    assert.match(l.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(l.level, 'info');
    assert.equal(l.method, 'POST');
    assert.equal(l.path, '/v1/messages');
    assert.equal(l.status, 200);
    assert.match(l.client, /^127\.0\.0\.1:\d+$/);
    assert.equal(l.stage, 'default');
    assert.equal(l.provider, 'ant');
    assert.equal(l.model, 'claude-sonnet-4-5');
    assert.equal(l.upstream_model, 'claude-main');
    assert.equal(l.stream, stream);
    assert.equal(l.attempts, 1);
    assert.equal(l.retries, 0);
    assert.equal(l.fallback_from, null);
    assert.equal(l.upstream_status, 200);
    assert.equal(l.error_type, null);
    assert.equal(l.stop_reason, 'end_turn');
    assert.ok(l.output_tokens > 0 && l.input_tokens > 0, JSON.stringify(l));
    for (const f of ['ttfb_ms', 'upstream_ttfb_ms', 'duration_ms', 'overhead_ms']) {
      assert.equal(typeof l[f], 'number', f);
      assert.ok(l[f] >= 0 && l[f] <= l.duration_ms, `${f} ${l[f]} within ${l.duration_ms}`);
    }
    assert.ok(l.bytes_in > 0 && l.bytes_out > 0);
    assert.equal(l.client_gone, false);
    assert.match(l.route, /^stage=default; via=default; target=ant\/claude-main$/);
  }

  // Server-Timing on both, the stream's in its head.
  for (const r of [streamed, whole]) {
    assert.match(r.headers.get('server-timing'), /^proxy;dur=\d+\.\d, upstream;dur=\d+\.\d$/);
  }
});

test('fallback_is_logged_and_counted', async () => {
  const down = await startMock({ kind: 'error', status: 529, type: 'overloaded_error', message: 'Overloaded' });
  const ant = await startMock({ kind: 'json', fixture: 'text.json' });
  const proxy = await startProxy(`
server: {log_format: json}
providers:
  - {name: down, format: anthropic, base_url: '${down.url}', api_key: k1, models: [m1], retry: {attempts: 1}}
  - {name: ant, format: anthropic, base_url: '${ant.url}', api_key: k2, models: [claude-main]}
router:
  default: [down/m1, ant/claude-main]
`);
  let log, metrics;
  try {
    const res = await post(proxy.url, { model: 'claude-sonnet-4-5' });
    assert.equal(res.status, 200);
    await res.json();
    metrics = await (await fetch(`${proxy.url}/metrics`)).text();
  } finally {
    log = await proxy.stop();
    await down.close();
    await ant.close();
  }
  const [l] = accessLines(log);
  assert.equal(l.attempts, 2);
  assert.equal(l.fallback_from, 'down');
  assert.equal(l.provider, 'ant');
  // Both attempts carried the same request id.
  assert.equal(down.requests[0].headers['x-request-id'], l.request_id);
  assert.equal(ant.requests[0].headers['x-request-id'], l.request_id);
  // The fallback's warning line is JSON too, with the request id pulled out.
  const warn = jsonLines(log).find((x) => x.level === 'warn' && /falling back/.test(x.msg));
  assert.equal(warn.request_id, l.request_id);

  assert.equal(sample(metrics, 'ccproxy_fallbacks_total', 'from="down",to="ant"'), 1);
  assert.equal(sample(metrics, 'ccproxy_upstream_attempts_total', 'provider="down",outcome="http_5xx"'), 1);
  assert.equal(sample(metrics, 'ccproxy_upstream_attempts_total', 'provider="ant",outcome="ok"'), 1);
});

test('metrics_pass_promtool_and_count_requests_tokens_and_bounded_labels', async () => {
  const mock = await startMock((req) => (req.body?.stream
    ? { kind: 'sse', fixture: 'text.sse' }
    : req.body?.model === 'bad' ? { kind: 'error', status: 429, type: 'rate_limit_error', message: 'slow down' }
      : { kind: 'json', fixture: 'text.json' }));
  const proxy = await startProxy(`
providers:
  - {name: ant, format: anthropic, base_url: '${mock.url}', api_key: k, models: [claude-main, bad]}
router:
  default: ant/claude-main
`);
  try {
    for (const stream of [false, true, true]) {
      const r = await post(proxy.url, { model: 'claude-sonnet-4-5', stream });
      assert.equal(r.status, 200);
      await r.text();
    }
    // A model the config does not name folds into "other".
    let r = await post(proxy.url, { model: 'ant/made-up-model-1' });
    await r.text();
    r = await post(proxy.url, { model: 'ant/bad' });
    assert.equal(r.status, 429);
    await r.text();
    r = await post(proxy.url, { model: 'x', messages: 'nope' });
    assert.equal(r.status, 400);
    await r.text();

    const res = await fetch(`${proxy.url}/metrics`);
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20000 });
    assert.equal(check.error, undefined, `promtool: ${check.error}`);
    assert.equal(check.status, 0, `promtool check metrics failed:\n${check.stdout}${check.stderr}\n${text}`);

    const req = (labels) => sample(text, 'ccproxy_requests_total', labels);
    assert.equal(req('endpoint="/v1/messages",stage="default",provider="ant",model="claude-main",status_class="2xx"'), 3);
    assert.equal(req('endpoint="/v1/messages",stage="default",provider="ant",model="other",status_class="2xx"'), 1);
    assert.equal(req('endpoint="/v1/messages",stage="default",provider="ant",model="bad",status_class="4xx"'), 1);
    assert.equal(req('endpoint="/v1/messages",stage="none",provider="none",model="none",status_class="4xx"'), 1);
    assert.ok(!text.includes('made-up-model'), 'a client-chosen model must not become a label');
    // The 429 is retried twice (retry.attempts defaults to 3): three attempts, two retries.
    assert.equal(sample(text, 'ccproxy_upstream_attempts_total', 'provider="ant",outcome="429"'), 3);
    assert.equal(sample(text, 'ccproxy_request_duration_seconds_count', 'provider="ant",model="claude-main",stream="true"'), 2);
    assert.equal(sample(text, 'ccproxy_request_duration_seconds_count', 'provider="ant",model="claude-main",stream="false"'), 1);
    assert.equal(sample(text, 'ccproxy_time_to_first_token_seconds_count', 'provider="ant",model="claude-main",stream="true"'), 2);
    assert.ok(sample(text, 'ccproxy_tokens_total', 'provider="ant",model="claude-main",kind="output"') > 0);
    assert.ok(sample(text, 'ccproxy_tokens_total', 'provider="ant",model="claude-main",kind="input"') > 0);
    assert.equal(sample(text, 'ccproxy_overhead_seconds_count'), 5);
    assert.equal(sample(text, 'ccproxy_retries_total'), 2);
    assert.equal(sample(text, 'ccproxy_open_streams'), 0);
    assert.equal(sample(text, 'ccproxy_in_flight_requests'), 1); // this scrape
    assert.ok(sample(text, 'process_resident_memory_bytes') > 0);
    assert.ok(sample(text, 'process_open_fds') > 0);
    assert.ok(sample(text, 'process_start_time_seconds') > 1.6e9);
    assert.match(text, /^ccproxy_build_info\{version="\d+\.\d+\.\d+"\} 1$/m);
    // docs/metrics.json (what the Grafana dashboard may query) lists what is
    // really exposed, with its type and labels.
    const listed = JSON.parse(fs.readFileSync(new URL('../../docs/metrics.json', import.meta.url), 'utf8')).metrics;
    for (const m of listed) {
      assert.match(text, new RegExp(`^# TYPE ${m.name} ${m.type}$`, 'm'), `docs/metrics.json: ${m.name} (${m.type}) is not in /metrics`);
      for (const l of m.labels ?? []) {
        const series = text.split('\n').filter((line) => line.startsWith(`${m.name}{`) || line.startsWith(`${m.name}_bucket{`));
        if (series.length) assert.ok(series.some((line) => line.includes(`${l}="`)), `${m.name} has no label ${l}`);
      }
    }

    // OpenMetrics when asked.
    const om = await fetch(`${proxy.url}/metrics`, { headers: { accept: 'application/openmetrics-text; version=1.0.0' } });
    assert.match(om.headers.get('content-type'), /^application\/openmetrics-text; version=1\.0\.0/);
    const omText = await om.text();
    assert.ok(omText.endsWith('# EOF\n'));
    assert.match(omText, /^# TYPE ccproxy_requests counter$/m);
    assert.match(omText, /^# TYPE ccproxy_build info$/m);
  } finally {
    await proxy.stop();
    await mock.close();
  }
});

test('client_disconnect_and_open_streams_are_counted', async () => {
  const mock = await startMock({ kind: 'slow' });
  const proxy = await startProxy(`
providers:
  - {name: ant, format: anthropic, base_url: '${mock.url}', api_key: k, models: [claude-main]}
router:
  default: ant/claude-main
`);
  try {
    const res = await post(proxy.url, { model: 'm', stream: true });
    const reader = res.body.getReader();
    await reader.read();
    let text = await (await fetch(`${proxy.url}/metrics`)).text();
    assert.equal(sample(text, 'ccproxy_open_streams'), 1);
    assert.equal(sample(text, 'ccproxy_in_flight_requests'), 2);
    await reader.cancel();
    // The proxy notices the disconnect on its own time: wait for it (bounded).
    for (let i = 0; i < 100; i++) {
      text = await (await fetch(`${proxy.url}/metrics`)).text();
      if (sample(text, 'ccproxy_client_disconnects_total') === 1) break;
      await sleep(50);
    }
    assert.equal(sample(text, 'ccproxy_client_disconnects_total'), 1);
    assert.equal(sample(text, 'ccproxy_open_streams'), 0);
    assert.equal(sample(text, 'ccproxy_upstream_attempts_total', 'provider="ant",outcome="cancelled"'), 1);
  } finally {
    await proxy.stop();
    await mock.close();
  }
});

test('admin_listener_serves_metrics_apart_from_the_proxy', async () => {
  const proxy = await startProxy(`
server: {admin_listen: '127.0.0.1:0'}
providers:
  - {name: ant, format: anthropic, base_url: 'http://127.0.0.1:9', api_key: k}
router:
  default: ant/m
`);
  try {
    const admin = `http://127.0.0.1:${adminPort(proxy)}`;
    const main = await fetch(`${proxy.url}/metrics`);
    assert.equal(main.status, 404);
    await main.text();
    const m = await fetch(`${admin}/metrics`);
    assert.equal(m.status, 200);
    assert.match(await m.text(), /ccproxy_requests_total\{endpoint="\/metrics",stage="none",provider="none",model="none",status_class="4xx"\} 1/);
    // The admin listener serves only admin endpoints.
    const r = await post(admin, { model: 'm' });
    assert.equal(r.status, 404);
    assert.match((await r.json()).error.message, /admin listener serves GET \/metrics/);
  } finally {
    await proxy.stop();
  }
});

test('metrics_off_serves_no_metrics', async () => {
  const proxy = await startProxy(`
server: {metrics: false}
providers:
  - {name: ant, format: anthropic, base_url: 'http://127.0.0.1:9', api_key: k}
router:
  default: ant/m
`);
  try {
    const r = await fetch(`${proxy.url}/metrics`);
    assert.equal(r.status, 404);
    await r.text();
  } finally {
    await proxy.stop();
  }
});

test('no_key_in_any_json_log_line_at_debug', async () => {
  const KEYS = ['ant-secret-key-1a2b3c', 'down-secret-key-4d5e6f', 'gem-secret-key-7a8b9c', 'client-secret-key-0d1e2f', 'client-bearer-secret-3a4b5c'];
  const ant = await startMock({ kind: 'sse', fixture: 'text.sse' });
  const down = await startMock({ kind: 'error', status: 529, type: 'overloaded_error', message: 'Overloaded' });
  const gem = await startGeminiMock({ kind: 'json', body: { candidates: [{ content: { role: 'model', parts: [{ text: 'hi' }] }, finishReason: 'STOP', index: 0 }], usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 1 } } });
  const proxy = await startProxy(`
server: {log_format: json, log_level: debug, admin_listen: '127.0.0.1:0'}
providers:
  - {name: ant, format: anthropic, base_url: '${ant.url}', api_key: ${KEYS[0]}}
  - {name: down, format: anthropic, base_url: '${down.url}', api_key: ${KEYS[1]}, retry: {attempts: 1}}
  - {name: gem, format: gemini, base_url: '${gem.url}/v1beta', api_key: ${KEYS[2]}}
router:
  default: [down/m1, ant/claude-main]
`);
  let log;
  try {
    const auth = { 'x-api-key': KEYS[3], authorization: `Bearer ${KEYS[4]}` };
    for (const body of [{ model: 'claude-sonnet-4-5', stream: true }, { model: 'claude-sonnet-4-5' }, { model: 'gem/gemini-test' }, { model: 'down/m1' }, { model: 'x', messages: 5 }]) {
      const r = await post(proxy.url, body, auth);
      await r.text();
    }
    const m = await fetch(`http://127.0.0.1:${adminPort(proxy)}/metrics`, { headers: auth });
    await m.text();
  } finally {
    log = await proxy.stop();
    for (const s of [ant, down, gem]) await s.close();
  }
  const lines = log.split('\n').filter((l) => l.trim());
  let json = 0;
  for (const line of lines) {
    for (const k of KEYS) assert.ok(!line.includes(k), `a key in the log: ${line}`);
    if (line.startsWith('ccproxy ') && / listening on /.test(line)) continue; // the start-up lines
    JSON.parse(line); // every other line is one JSON object
    json++;
  }
  assert.ok(json > 20, `expected many debug lines, got ${json}`);
  assert.equal(accessLines(log).length, 6);
});

// A free TCP port on 127.0.0.1 (closed again: Prometheus binds it).
async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

test('prometheus_scrapes_the_proxy_and_sees_exactly_the_requests_sent', { timeout: 90000 }, async () => {
  const mock = await startMock({ kind: 'json', fixture: 'text.json' });
  const proxy = await startProxy(`
server: {admin_listen: '127.0.0.1:0'}
providers:
  - {name: ant, format: anthropic, base_url: '${mock.url}', api_key: k, models: [claude-main]}
router:
  default: ant/claude-main
`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-prom-'));
  const promPort = await freePort();
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), `
global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: ccproxy
    static_configs: [{targets: ['127.0.0.1:${adminPort(proxy)}']}]
`);
  const prom = spawn('prometheus', [
    `--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let promErr = '';
  prom.stderr.on('data', (d) => { promErr += d; });
  const promExit = new Promise((r) => prom.on('exit', r));
  const query = async (q) => {
    try {
      const r = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`);
      const j = await r.json();
      return j.status === 'success' && j.data.result.length ? Number(j.data.result[0].value[1]) : null;
    } catch { return null; }
  };
  // Polls until the query reads want (each scrape is a second apart).
  const waitFor = async (q, want, what) => {
    let v = null;
    for (let i = 0; i < 60; i++) {
      v = await query(q);
      if (v === want) return;
      await sleep(500);
    }
    assert.fail(`${what}: Prometheus read ${v}, want ${want}\n${promErr}`);
  };
  const Q = 'sum(ccproxy_requests_total{job="ccproxy",endpoint="/v1/messages"})';
  try {
    await waitFor('up{job="ccproxy"}', 1, 'the proxy as a healthy target');
    // The series exists once a request was counted; that is the baseline.
    let r = await post(proxy.url, { model: 'm' });
    await r.text();
    await waitFor(Q, 1, 'the first request');
    const N = 7;
    for (let i = 0; i < N; i++) {
      r = await post(proxy.url, { model: 'm' });
      assert.equal(r.status, 200);
      await r.text();
    }
    await waitFor(Q, 1 + N, `the ${N} requests sent`);
    // Exactly: a few more scrapes later the count has not moved.
    await sleep(2500);
    assert.equal(await query(Q), 1 + N);
    assert.equal(await query('increase(ccproxy_retries_total[1m])'), 0);
  } finally {
    prom.kill('SIGTERM');
    await Promise.race([promExit, sleep(10000)]);
    fs.rmSync(dir, { recursive: true, force: true });
    await proxy.stop();
    await mock.close();
  }
});
