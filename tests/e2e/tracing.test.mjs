// Distributed tracing end to end: ccproxy exports OpenTelemetry spans over
// OTLP/HTTP (JSON) to a receiver that decodes and checks them. A request
// is one server span, a child of the client's traceparent, with one client
// span per upstream attempt carrying the GenAI semantic conventions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import Anthropic from '@anthropic-ai/sdk';
import { startProxy } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';
import { startOpenAIMock } from './lib/mock_openai.mjs';
import { startOtlpReceiver } from './lib/otlp_receiver.mjs';

const hex = (n) => crypto.randomBytes(n).toString('hex');
const traceparent = (traceId, spanId, flags = '01') => `00-${traceId}-${spanId}-${flags}`;
const ofTrace = (spans, traceId) => spans.filter((s) => s.traceId === traceId);

let ant, oa, down, otlp, proxy, client;
before(async () => {
  ant = await startMock({ kind: 'sse', fixture: 'text.sse' });
  oa = await startOpenAIMock({ kind: 'sse', fixture: 'text.sse' });
  down = await startMock({ kind: 'error', status: 529, type: 'overloaded_error', message: 'Overloaded' });
  otlp = await startOtlpReceiver();
  proxy = await startProxy(`
telemetry:
  otlp_endpoint: ${otlp.url}
  service_name: ccproxy-e2e
  headers: {x-collector-token: secret-token-1}
providers:
  - {name: ant, format: anthropic, base_url: '${ant.url}', api_key: ant-key, models: [mock-model]}
  - {name: oa, format: openai-chat, base_url: '${oa.url}/v1', api_key: oa-key}
  - {name: down, format: anthropic, base_url: '${down.url}', api_key: down-key, retry: {attempts: 1}}
router:
  default: ant/mock-model
  rules:
    - name: with-fallback
      when: {header: {x-test: fallback}}
      route: [down/first-choice, oa/second-choice]
`);
  client = new Anthropic({ baseURL: proxy.url, apiKey: 'client-key', maxRetries: 0 });
});
after(async () => {
  const log = await proxy.stop();
  for (const m of [ant, oa, down, otlp]) await m.close();
  assert.deepEqual(otlp.errors, [], 'every export is valid OTLP JSON');
  assert.doesNotMatch(log, /secret-token-1/, 'collector headers are never logged');
});

test('a_streamed_request_is_a_server_span_under_the_clients_traceparent_with_one_attempt_span', async () => {
  const traceId = hex(16), parent = hex(8);
  const stream = client.messages.stream(
    { model: 'claude-x', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] },
    { headers: { traceparent: traceparent(traceId, parent) } },
  );
  await stream.finalMessage();
  const spans = await otlp.waitFor((all) => ofTrace(all, traceId).length >= 2);
  const server = spans.find((s) => s.traceId === traceId && s.kind === 2);
  const attempt = spans.find((s) => s.traceId === traceId && s.kind === 3);
  assert.ok(server && attempt);
  assert.equal(server.name, 'POST /v1/messages');
  assert.equal(server.parentSpanId, parent, 'the server span is a child of the client span');
  assert.equal(attempt.parentSpanId, server.spanId, 'the attempt is a child of the server span');
  assert.ok(attempt.start >= server.start && attempt.end <= server.end);
  assert.equal(server.resource['service.name'], 'ccproxy-e2e');

  assert.equal(attempt.name, 'chat mock-model');
  const a = attempt.attributes;
  assert.equal(a['gen_ai.system'], 'anthropic');
  assert.equal(a['gen_ai.operation.name'], 'chat');
  assert.equal(a['gen_ai.request.model'], 'mock-model');
  assert.equal(a['gen_ai.response.model'], 'mock-model');
  assert.equal(a['gen_ai.usage.input_tokens'], 25);
  assert.equal(a['gen_ai.usage.output_tokens'], 21);
  assert.deepEqual(a['gen_ai.response.finish_reasons'], ['end_turn']);
  assert.equal(a['ccproxy.provider'], 'ant');
  assert.equal(a['ccproxy.attempt'], 1);
  assert.equal(a['ccproxy.fallback'], false);
  assert.equal(a['http.response.status_code'], 200);
  assert.notEqual(attempt.status.code, 2);

  const s = server.attributes;
  assert.equal(s['gen_ai.request.model'], 'claude-x');
  assert.equal(s['ccproxy.stage'], 'default');
  assert.match(s['ccproxy.route'], /^stage=default; via=default/);
  assert.equal(s['ccproxy.stream'], true);
  assert.equal(s['ccproxy.attempts'], 1);
  assert.equal(s['http.response.status_code'], 200);
  assert.deepEqual(s['gen_ai.response.finish_reasons'], ['end_turn']);
  assert.match(s['ccproxy.request_id'], /^req_/);
});

test('a_fallback_is_two_attempt_spans_the_failed_one_marked_as_an_error', async () => {
  const traceId = hex(16), parent = hex(8);
  await client.messages.create(
    { model: 'claude-x', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] },
    { headers: { traceparent: traceparent(traceId, parent), 'x-test': 'fallback' } },
  );
  const spans = await otlp.waitFor((all) => ofTrace(all, traceId).length >= 3);
  const server = spans.find((s) => s.traceId === traceId && s.kind === 2);
  const attempts = ofTrace(spans, traceId).filter((s) => s.kind === 3)
    .sort((x, y) => x.attributes['ccproxy.attempt'] - y.attributes['ccproxy.attempt']);
  assert.equal(attempts.length, 2);
  const [first, second] = attempts;
  for (const at of attempts) assert.equal(at.parentSpanId, server.spanId);
  assert.equal(first.attributes['ccproxy.provider'], 'down');
  assert.equal(first.attributes['gen_ai.request.model'], 'first-choice');
  assert.equal(first.attributes['http.response.status_code'], 529);
  assert.equal(first.attributes['error.type'], '529');
  assert.equal(first.attributes['ccproxy.fallback'], false);
  assert.equal(first.status.code, 2);
  assert.equal(second.attributes['ccproxy.provider'], 'oa');
  assert.equal(second.attributes['gen_ai.system'], 'openai');
  assert.equal(second.attributes['gen_ai.request.model'], 'second-choice');
  assert.equal(second.attributes['ccproxy.attempt'], 2);
  assert.equal(second.attributes['ccproxy.fallback'], true);
  assert.ok(second.start >= first.end);
  assert.equal(server.attributes['ccproxy.fallback'], true);
  assert.equal(server.attributes['ccproxy.attempts'], 2);
  assert.equal(server.attributes['ccproxy.provider'], 'oa');
  assert.equal(server.attributes['ccproxy.route'].includes('rule=with-fallback'), true);
});

test('an_unsampled_traceparent_exports_nothing_and_a_request_without_one_starts_a_new_trace', async () => {
  const unsampled = hex(16);
  await client.messages.create(
    { model: 'claude-x', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] },
    { headers: { traceparent: traceparent(unsampled, hex(8), '00') } },
  );
  // A request without traceparent: a root server span with a trace of its own.
  const before = new Set(otlp.spans.map((s) => s.traceId));
  const res = await fetch(`${proxy.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'k' },
    body: JSON.stringify({ model: 'root-marker', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
  });
  assert.equal(res.status, 200);
  await res.text();
  const spans = await otlp.waitFor((all) => all.some((s) => s.kind === 2 && s.attributes['gen_ai.request.model'] === 'root-marker'));
  const root = spans.find((s) => s.kind === 2 && s.attributes['gen_ai.request.model'] === 'root-marker');
  assert.equal(root.parentSpanId, null);
  assert.ok(!before.has(root.traceId));
  assert.equal(ofTrace(spans, unsampled).length, 0, 'the caller chose not to sample this trace');
});

test('a_malformed_traceparent_is_ignored_and_the_request_served', async () => {
  const res = await fetch(`${proxy.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent: '00-XYZ-bad-01' },
    body: JSON.stringify({ model: 'bad-parent', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
  });
  assert.equal(res.status, 200);
  await res.text();
  const spans = await otlp.waitFor((all) => all.some((s) => s.attributes['gen_ai.request.model'] === 'bad-parent'));
  assert.equal(spans.find((s) => s.attributes['gen_ai.request.model'] === 'bad-parent').parentSpanId, null);
});

test('the_collector_receives_the_configured_headers', () => {
  assert.ok(otlp.posts.length > 0);
  assert.equal(otlp.posts[0].headers['x-collector-token'], 'secret-token-1');
});

test('the_environment_configures_tracing_when_the_file_does_not_and_spans_are_flushed_at_shutdown', async () => {
  const rx = await startOtlpReceiver();
  const p = await startProxy(`
providers:
  - {name: ant, format: anthropic, base_url: '${ant.url}', api_key: k}
router:
  default: ant/mock-model
`, { env: { OTEL_EXPORTER_OTLP_ENDPOINT: `${rx.url}/`, OTEL_SERVICE_NAME: 'from-env', OTEL_TRACES_SAMPLER_ARG: '1' } });
  const c = new Anthropic({ baseURL: p.url, apiKey: 'k', maxRetries: 0 });
  const traceId = hex(16);
  await c.messages.create({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] },
    { headers: { traceparent: traceparent(traceId, hex(8)) } });
  // Stopped at once: the exporter must flush what it holds before exiting.
  await p.stop();
  assert.equal(ofTrace(rx.spans, traceId).length, 2, 'both spans were exported before exit');
  assert.equal(rx.spans[0].resource['service.name'], 'from-env');
  await rx.close();
});

test('a_sample_ratio_of_zero_traces_only_what_the_caller_sampled', async () => {
  const rx = await startOtlpReceiver();
  const p = await startProxy(`
telemetry: {otlp_endpoint: '${rx.url}', sample_ratio: 0}
providers:
  - {name: ant, format: anthropic, base_url: '${ant.url}', api_key: k}
router:
  default: ant/mock-model
`);
  const c = new Anthropic({ baseURL: p.url, apiKey: 'k', maxRetries: 0 });
  await c.messages.create({ model: 'unsampled', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
  const traceId = hex(16);
  await c.messages.create({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] },
    { headers: { traceparent: traceparent(traceId, hex(8)) } });
  await p.stop();
  assert.equal(ofTrace(rx.spans, traceId).length, 2);
  assert.equal(rx.spans.filter((s) => s.attributes['gen_ai.request.model'] === 'unsampled').length, 0);
  await rx.close();
});

test('a_collector_that_is_down_costs_requests_nothing_and_is_reported_in_status', async () => {
  // A port nobody listens on: every export fails; requests are served all the same.
  const rx = await startOtlpReceiver();
  const deadUrl = rx.url;
  await rx.close();
  const p = await startProxy(`
telemetry: {otlp_endpoint: '${deadUrl}'}
providers:
  - {name: ant, format: anthropic, base_url: '${ant.url}', api_key: k}
router:
  default: ant/mock-model
`);
  const c = new Anthropic({ baseURL: p.url, apiKey: 'k', maxRetries: 0 });
  for (let i = 0; i < 3; i++)
    await c.messages.create({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
  const status = await (await fetch(`${p.url}/status`)).json();
  assert.equal(status.tracing.enabled, true);
  const log = await p.stop();
  assert.match(log, /trace export failed/);
});
