// No secret in any output. Providers of every format hold recognisable keys
// (from the config, the environment, a ${file:} secret, a key pool, header
// values, the trace exporter's token); the proxy runs at debug level through
// successes, streams, retries, fallbacks, broken streams, upstream errors
// that echo the key back, count_tokens and models, then `ccproxy explain`
// and `ccproxy check` run on the same config, /status and /metrics are
// read, and traces are exported. Every byte of every output — stdout,
// stderr, each response's headers and body, status, metrics, exported
// spans — is scanned for every key. The client's own credentials are
// checked never to reach any provider, including an `auth: none` one whose
// pipeline adds headers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import Anthropic from '@anthropic-ai/sdk';
import { startProxy } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';
import { startOpenAIMock } from './lib/mock_openai.mjs';
import { startGeminiMock } from './lib/mock_gemini.mjs';
import { startOtlpReceiver } from './lib/otlp_receiver.mjs';

const SECRETS = {
  ant: 'sk-ant-NOLEAK-0001-aaaaaaaa',
  antPool: 'sk-ant-NOLEAK-0002-bbbbbbbb',
  oa: 'sk-oa-NOLEAK-0003-cccccccc',
  gem: 'AIza-NOLEAK-0004-dddddddd',
  echo: 'sk-echo-NOLEAK-0005-eeeeeeee',
  oaEcho: 'sk-oaecho-NOLEAK-0006-ffffffff',
  down: 'sk-down-NOLEAK-0007-gggggggg',
  env: 'sk-env-NOLEAK-0008-hhhhhhhh',
  file: 'sk-file-NOLEAK-0009-iiiiiiii',
  header: 'hdr-NOLEAK-0010-jjjjjjjj',
  otlp: 'otlp-NOLEAK-0011-kkkkkkkk',
  drop: 'sk-drop-NOLEAK-0012-llllllll',
  sseErr: 'sk-sseerr-NOLEAK-0013-oooooooo',
};
const CLIENT = { key: 'client-NOLEAK-key-mmmmmmmm', token: 'client-NOLEAK-token-nnnnnnnn' };

const GEM_OK = { candidates: [{ content: { role: 'model', parts: [{ text: 'hi' }] }, finishReason: 'STOP', index: 0 }], usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 1 } };
const OA_OK = { id: 'c1', object: 'chat.completion', created: 1, model: 'gpt-test', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } };

test('no_configured_secret_appears_in_any_output_and_client_credentials_never_reach_a_provider', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-nosecrets-'));
  const keyFile = path.join(dir, 'key');
  fs.writeFileSync(keyFile, `${SECRETS.file}\n`, { mode: 0o600 });

  let antCalls = 0;
  const ant = await startMock((entry) => {
    antCalls++;
    if (antCalls === 3) return { kind: 'error', status: 429, type: 'rate_limit_error', message: 'slow down', headers: { 'retry-after-ms': '1' } };
    return entry.body?.stream ? { kind: 'sse', fixture: 'text.sse' } : { kind: 'json', fixture: 'text.json' };
  });
  // Providers that quote the key they were sent, as some do on a 401.
  const echo = await startMock((entry) => ({ kind: 'error', status: 401, type: 'authentication_error', message: `invalid x-api-key: ${entry.headers['x-api-key']}` }));
  const oaEcho = await startOpenAIMock((entry) => ({ status: 401, body: { error: { message: `Incorrect API key provided: ${entry.headers.authorization}`, type: 'invalid_request_error', code: 'invalid_api_key' } } }));
  const down = await startMock({ kind: 'error', status: 529, type: 'overloaded_error', message: `overloaded (key ${SECRETS.down})` });
  const drop = await startMock({ kind: 'drop', fixture: 'text.sse' });
  // An error inside a 200 stream that quotes the key.
  const sseErr = await startMock((entry) => ({
    kind: 'raw', status: 200, headers: { 'content-type': 'text/event-stream' },
    body: `${fs.readFileSync(new URL('../fixtures/anthropic/text.sse', import.meta.url), 'utf8').split('\n\n')[0]}\n\nevent: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: `key ${entry.headers['x-api-key']} is overloaded` } })}\n\n`,
  }));
  const oa = await startOpenAIMock((entry) => (entry.body?.stream ? { kind: 'sse', fixture: 'text.sse' } : { body: OA_OK }));
  const gem = await startGeminiMock({ kind: 'json', body: GEM_OK });
  const none = await startMock((entry) => (entry.body?.stream ? { kind: 'sse', fixture: 'text.sse' } : { kind: 'json', fixture: 'text.json' }));
  const otlp = await startOtlpReceiver();
  const mocks = [ant, echo, oaEcho, down, drop, sseErr, oa, gem, none];

  const yaml = `
server: {admin_listen: '127.0.0.1:0', log_level: debug}
telemetry:
  otlp_endpoint: ${otlp.url}
  headers: {Authorization: 'Bearer ${SECRETS.otlp}'}
pipelines:
  tagged:
    - use: extra-headers
      with: {headers: {x-team: platform}}
providers:
  - {name: ant, format: anthropic, base_url: '${ant.url}', api_key: '${SECRETS.ant}', api_keys: ['${SECRETS.antPool}'], retry: {attempts: 3, base_ms: 1, max_ms: 2}}
  - {name: echo, format: anthropic, base_url: '${echo.url}', api_key: '${SECRETS.echo}', retry: {attempts: 1}}
  - {name: oaecho, format: openai-chat, base_url: '${oaEcho.url}/v1', api_key: '${SECRETS.oaEcho}', retry: {attempts: 1}}
  - {name: down, format: anthropic, base_url: '${down.url}', api_key: '${SECRETS.down}', retry: {attempts: 1}}
  - {name: drop, format: anthropic, base_url: '${drop.url}', api_key: '${SECRETS.drop}', retry: {attempts: 1}}
  - {name: sseerr, format: anthropic, base_url: '${sseErr.url}', api_key: '${SECRETS.sseErr}', retry: {attempts: 1}}
  - {name: oa, format: openai-chat, base_url: '${oa.url}/v1', api_key: '\${CCP_NOLEAK_ENV}'}
  - {name: gem, format: gemini, base_url: '${gem.url}/v1beta', api_key: '${SECRETS.gem}'}
  - {name: filekey, format: anthropic, base_url: '${ant.url}', api_key: '\${file:${keyFile}}'}
  - {name: none, format: anthropic, base_url: '${none.url}', auth: none, pipeline: tagged, headers: {x-upstream-token: '${SECRETS.header}'}}
router:
  default: [down/m1, ant/claude-main]
`.replace(SECRETS.oa, '');
  const env = { CCP_NOLEAK_ENV: SECRETS.oa };
  const proxy = await startProxy(yaml, { env, args: ['--log-level', 'debug'] });
  const outputs = []; // [where, text]
  const keep = (where, text) => outputs.push([where, text]);
  const clientHeaders = { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': CLIENT.key, authorization: `Bearer ${CLIENT.token}` };
  const call = async (what, model, extra = {}, pathname = '/v1/messages') => {
    const res = await fetch(`${proxy.url}${pathname}`, {
      method: 'POST',
      headers: clientHeaders,
      body: JSON.stringify({ model, max_tokens: 20, messages: [{ role: 'user', content: 'hi' }], ...extra }),
    });
    keep(`${what}: headers`, JSON.stringify([...res.headers]));
    const text = await res.text();
    keep(`${what}: body`, text);
    return { status: res.status, text };
  };
  let log = '';
  try {
    // Success: JSON and stream for each format, a key pool with a 429 retry,
    // a fallback after a 529, a stream cut in the middle.
    assert.equal((await call('fallback json', 'claude-x')).status, 200);
    assert.equal((await call('fallback stream', 'claude-x', { stream: true })).status, 200);
    assert.equal((await call('ant retried', 'ant/claude-main')).status, 200);
    assert.equal((await call('oa json', 'oa/gpt-test')).status, 200);
    assert.equal((await call('oa stream', 'oa/gpt-test', { stream: true })).status, 200);
    assert.equal((await call('gem', 'gem/gemini-test')).status, 200);
    assert.equal((await call('file key', 'filekey/claude-main')).status, 200);
    assert.equal((await call('auth none', 'none/local-model')).status, 200);
    assert.equal((await call('auth none stream', 'none/local-model', { stream: true })).status, 200);
    const dropped = await call('drop stream', 'drop/m', { stream: true });
    assert.equal(dropped.status, 200);
    assert.match(dropped.text, /event: error/);
    for (const stream of [true, false]) {
      const r = await call(`in-stream error ${stream}`, 'sseerr/m', { stream });
      assert.match(r.text, /key \[redacted\] is overloaded/);
    }
    // Upstream errors that quote the key: the client sees the error, not the key.
    const e1 = await call('echo 401', 'echo/m');
    assert.equal(e1.status, 401);
    assert.match(e1.text, /invalid x-api-key: \[redacted\]/);
    const e2 = await call('oa echo 401', 'oaecho/gpt-test');
    assert.equal(e2.status, 401);
    assert.match(e2.text, /\[redacted\]/);
    const e3 = await call('down only', 'down/m');
    assert.equal(e3.status, 529);
    assert.equal((await call('count tokens', 'ant/claude-main', {}, '/v1/messages/count_tokens')).status, 200);
    // The official SDK, with its own key and token.
    const client = new Anthropic({ baseURL: proxy.url, apiKey: CLIENT.key, defaultHeaders: { authorization: `Bearer ${CLIENT.token}` }, maxRetries: 0 });
    const msg = await client.messages.create({ model: 'ant/claude-main', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] });
    keep('sdk message', JSON.stringify(msg));
    const models = await fetch(`${proxy.url}/v1/models`, { headers: clientHeaders });
    keep('models', JSON.stringify([...models.headers]) + (await models.text()));

    const admin = `http://127.0.0.1:${/ccproxy admin listening on http:\/\/[^:]+:(\d+)/.exec(proxy.log())[1]}`;
    for (const u of [`${proxy.url}/status`, `${proxy.url}/health`, `${admin}/metrics`]) {
      const r = await fetch(u);
      const p = u;
      assert.equal(r.status, 200, p);
      keep(p, JSON.stringify([...r.headers]) + (await r.text()));
    }
    await otlp.waitFor((spans) => spans.length > 0);
  } finally {
    log = await proxy.stop();
  }
  keep('serve stdout+stderr', log);
  keep('otlp spans', JSON.stringify(otlp.spans, (k, v) => (typeof v === 'bigint' ? String(v) : v)));

  // The CLI on the same config: check, explain for each provider.
  const cfg = path.join(dir, 'ccproxy.yaml');
  fs.writeFileSync(cfg, yaml.replace("admin_listen: '127.0.0.1:0', ", ''));
  const cli = (args, input) => {
    const r = spawnSync(process.env.CCPROXY_BIN, args, { input, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: dir, ASAN_OPTIONS: 'detect_leaks=1', ...env } });
    keep(`ccproxy ${args.join(' ')}`, `${r.stdout}\n${r.stderr}`);
    return r;
  };
  assert.equal(cli(['check', '--config', cfg]).status, 0);
  for (const model of ['claude-x', 'ant/m', 'echo/m', 'oaecho/m', 'oa/m', 'gem/m', 'filekey/m', 'none/m', 'drop/m', 'sseerr/m']) {
    const r = cli(['explain', '--config', cfg, '-'], JSON.stringify({ model, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }));
    assert.equal(r.status, 0, r.stderr);
  }
  cli(['config-keys']);

  // Every byte of every output, for every secret and the client's own.
  for (const [where, text] of outputs)
    for (const s of [...Object.values(SECRETS), CLIENT.key, CLIENT.token])
      assert.ok(!text.includes(s), `${s} appears in ${where}:\n${text.slice(Math.max(0, text.indexOf(s) - 300), text.indexOf(s) + 100)}`);
  // Redaction was needed (the mocks did echo the keys) and the logs did run at debug.
  assert.match(log, /attempt 1\/\d+: provider=/);

  // The client's credentials never reach a provider, in any header or body.
  let seen = 0;
  for (const m of mocks)
    for (const r of m.requests) {
      seen++;
      const text = JSON.stringify(r.headers) + JSON.stringify(r.body ?? r.raw ?? '');
      assert.ok(!text.includes(CLIENT.key) && !text.includes(CLIENT.token), `client credentials reached ${r.url}: ${text}`);
    }
  assert.ok(seen >= 16);
  // auth: none sends no key at all, and the pipeline's and provider's headers arrive.
  for (const r of none.requests) {
    assert.equal(r.headers['x-api-key'], undefined);
    assert.equal(r.headers.authorization, undefined);
    assert.equal(r.headers['x-team'], 'platform');
    assert.equal(r.headers['x-upstream-token'], SECRETS.header);
  }
  // The OTLP token went where it belongs and nowhere else.
  assert.ok(otlp.posts.every((p) => p.headers.authorization === `Bearer ${SECRETS.otlp}`));

  for (const m of mocks) await m.close();
  await otlp.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
