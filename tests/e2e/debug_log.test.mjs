// log_level debug says what happened to each request — route, attempts with
// the upstream URL, upstream status and timing, fallbacks, how the decoder
// ended, connections opening and closing — and never a key; info stays at
// one line per request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startProxy } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';
import { startGeminiMock } from './lib/mock_gemini.mjs';

const KEYS = ['ant-secret-key-123', 'down-secret-key-456', 'gem-secret-key-789'];

async function withProxy(args, fn) {
  const ant = await startMock({ kind: 'sse', fixture: 'text.sse' });
  const down = await startMock({ kind: 'error', status: 529, type: 'overloaded_error', message: 'Overloaded' });
  const gem = await startGeminiMock({ kind: 'json', body: { candidates: [{ content: { role: 'model', parts: [{ text: 'hi' }] }, finishReason: 'STOP', index: 0 }], usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 1 } } });
  const proxy = await startProxy(`
providers:
  - {name: ant, format: anthropic, base_url: '${ant.url}', api_key: ${KEYS[0]}}
  - {name: down, format: anthropic, base_url: '${down.url}', api_key: ${KEYS[1]}}
  - {name: gem, format: gemini, base_url: '${gem.url}/v1beta', api_key: ${KEYS[2]}}
router:
  default: [down/m1, ant/claude-main]
`, { args });
  let log;
  try {
    const post = (body) => fetch(`${proxy.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'client-key' },
      body: JSON.stringify({ max_tokens: 50, messages: [{ role: 'user', content: 'hi' }], ...body }),
    });
    let res = await post({ model: 'claude-sonnet-4-5', stream: true });
    assert.equal(res.status, 200);
    await res.text();
    res = await post({ model: 'gem/gemini-test' });
    assert.equal(res.status, 200);
    await res.json();
  } finally {
    log = await proxy.stop();
    for (const m of [ant, down, gem]) await m.close();
  }
  return fn(log);
}

test('debug_logs_each_step_of_a_request_and_no_key', async () => {
  await withProxy(['--log-level', 'debug'], (log) => {
    const id = 'req_[0-9a-f]{24}';
    const want = [
      /debug connection fd \d+ from 127\.0\.0\.1:\d+ opened/,
      new RegExp(`debug ${id} route: stage=default; via=default; targets=down/m1,ant/claude-main; client model=claude-sonnet-4-5`),
      new RegExp(`debug ${id} attempt 1/2: provider=down format=anthropic model=m1 POST http://127\\.0\\.0\\.1:\\d+/v1/messages headers=\\S*x-api-key\\S* body=\\d+ bytes stream=yes`),
      new RegExp(`debug ${id} upstream down answered 529 \\(application/json\\) after [\\d.]+ms`),
      new RegExp(`warn  ${id} provider 'down' answered 529; falling back to 'ant'`),
      new RegExp(`debug ${id} attempt 2/2: provider=ant format=anthropic model=claude-main`),
      new RegExp(`debug ${id} upstream ant answered 200 \\(text/event-stream[^)]*\\) after [\\d.]+ms`),
      new RegExp(`debug ${id} upstream ant transfer ended: complete after [\\d.]+ms`),
      new RegExp(`debug ${id} decoder end: message_stop; stop_reason=end_turn`),
      // Gemini: the URL without a query, the key only as a header name.
      new RegExp(`debug ${id} route: stage=default; via=model; targets=gem/gemini-test`),
      new RegExp(`debug ${id} attempt 1/1: provider=gem format=gemini model=gemini-test POST http://127\\.0\\.0\\.1:\\d+/v1beta/models/gemini-test:generateContent headers=\\S*x-goog-api-key\\S* `),
      new RegExp(`debug ${id} upstream gem answered 200 \\(application/json\\)`),
      /debug connection fd \d+ from 127\.0\.0\.1:\d+ closed/,
    ];
    for (const re of want) assert.match(log, re);
    for (const key of KEYS) assert.ok(!log.includes(key), `the log shows the key ${key}`);
    assert.ok(!/key=/.test(log), 'a key= in the log');
  });
});

// At info level explicitly: under the secret scan the harness would
// otherwise run the proxy at debug.
test('info_logs_no_debug_lines', async () => {
  await withProxy(['--log-level', 'info'], (log) => {
    assert.match(log, / POST \/v1\/messages 200 provider=ant model=claude-main/);
    assert.ok(!log.includes(' debug '), log);
  });
});

// The route and attempt lines quote the client's model name: a newline in it
// is escaped, not a forged line (found by the secret scan's debug run of
// http_hardening.test.mjs).
test('a_newline_in_a_model_name_cannot_forge_a_debug_line', async () => {
  const mock = await startMock({ kind: 'json', fixture: 'text.json' });
  const proxy = await startProxy(`
providers:
  - {name: mock, format: anthropic, base_url: '${mock.url}', api_key: ${KEYS[0]}}
router:
  default: mock/fixed-model
`, { args: ['--log-level', 'debug'] });
  let log;
  try {
    for (const model of ['x\n2026-01-01T00:00:00.000Z info  req_forged GET /admin 200', 'mock/y\n2026-01-01T00:00:00.000Z info  req_forged2 GET /admin 200']) {
      const res = await fetch(`${proxy.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
      });
      await res.text();
    }
  } finally {
    log = await proxy.stop();
    await mock.close();
  }
  assert.doesNotMatch(log, /^2026-01-01T00:00:00\.000Z/m, log);
  assert.match(log, / route: .*client model="x\\x0a2026-01-01T00:00:00\.000Z info  req_forged GET \/admin 200"/);
  assert.match(log, / route: stage=default; via=model; targets=mock\/"y\\x0a2026-01-01T00:00:00\.000Z info  req_forged2 GET \/admin 200"/);
});
