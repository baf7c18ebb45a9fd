// `ccproxy statusline` and GET /sessions/ID: the proxy remembers each Claude
// Code session's latest request (x-claude-code-session-id), and the status
// line prints its route, provider/model and tokens from what Claude Code
// passes on stdin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import Anthropic from '@anthropic-ai/sdk';
import { startProxy, MOCK_KEY } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';

const BIN = process.env.CCPROXY_BIN;
const SID = '7c0c5a2e-1b7e-4a57-9d1c-0f4c2a3b9e11';

// What Claude Code writes on the status line command's stdin (trimmed).
const input = (sid) => JSON.stringify({
  hook_event_name: 'Status', session_id: sid, transcript_path: '/tmp/t.jsonl', cwd: '/tmp',
  model: { id: 'claude-sonnet-4-5', display_name: 'Sonnet 4.5' }, workspace: { current_dir: '/tmp', project_dir: '/tmp' },
  version: '2.1.197', output_style: { name: 'default' }, cost: { total_cost_usd: 0 },
});

function statusline(args, stdin, env = {}) {
  return spawnSync(BIN, ['statusline', ...args], {
    input: stdin, encoding: 'utf8', timeout: 15000,
    env: { PATH: process.env.PATH, HOME: '/nonexistent', ASAN_OPTIONS: 'detect_leaks=1', ...env },
  });
}

const config = (mockUrl) => `
providers:
  - name: deepseek
    format: anthropic
    base_url: ${mockUrl}
    api_key: ${MOCK_KEY}
    models: [deepseek-reasoner]
router:
  default: deepseek/deepseek-reasoner
`;

test('statusline_prints_the_route_model_and_tokens_of_the_sessions_latest_request', async () => {
  const mock = await startMock({ kind: 'sse', fixture: 'text.sse' });
  const proxy = await startProxy(config(mock.url));
  try {
    const client = new Anthropic({ baseURL: proxy.url, apiKey: 'x', maxRetries: 0, defaultHeaders: { 'x-claude-code-session-id': SID } });
    const s = await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'hi' }] });
    for await (const _ of s) { /* drain */ }

    const res = await fetch(`${proxy.url}/sessions/${SID}`);
    assert.equal(res.status, 200);
    const j = await res.json();
    assert.equal(j.session_id, SID);
    assert.equal(j.requests, 1);
    assert.equal(j.latest.stage, 'default');
    assert.equal(j.latest.provider, 'deepseek');
    assert.equal(j.latest.upstream_model, 'deepseek-reasoner');
    assert.equal(j.latest.model, 'claude-sonnet-4-5');
    assert.equal(j.latest.input_tokens, 25);
    assert.equal(j.latest.output_tokens, 21);
    assert.equal(j.latest.stream, true);

    let r = statusline(['--url', proxy.url], input(SID), { NO_COLOR: '1' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'ccproxy default → deepseek/deepseek-reasoner · in 25 out 21\n');
    // As `ccproxy code` runs Claude Code: ANTHROPIC_BASE_URL names the proxy.
    r = statusline([], input(SID), { ANTHROPIC_BASE_URL: `${proxy.url}/` });
    assert.match(r.stdout, /\x1b\[36mdefault\x1b\[0m/, 'coloured without NO_COLOR');
    assert.match(r.stdout, /deepseek\/deepseek-reasoner/);

    r = statusline(['--url', proxy.url], input('0c0c5a2e-0000-4a57-9d1c-0f4c2a3b9e11'), { NO_COLOR: '1' });
    assert.equal(r.stdout, `ccproxy ${proxy.url} · no request yet\n`);
    const missing = await fetch(`${proxy.url}/sessions/nope`);
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error.type, 'not_found_error');
    // Not JSON on stdin still gives a line, and exit 0.
    r = statusline(['--url', proxy.url], 'garbage', { NO_COLOR: '1' });
    assert.equal(r.status, 0);
    assert.equal(r.stdout, `ccproxy ${proxy.url}\n`);
  } finally {
    await proxy.stop();
    await mock.close();
  }
});

test('statusline_says_so_when_no_proxy_answers', () => {
  const r = statusline(['--url', 'http://127.0.0.1:9'], input(SID), { NO_COLOR: '1' });
  assert.equal(r.status, 0);
  assert.equal(r.stdout, 'ccproxy not answering at http://127.0.0.1:9\n');
  const r2 = statusline([], input(SID), { NO_COLOR: '1', XDG_STATE_HOME: '/nonexistent' });
  assert.equal(r2.stdout, 'ccproxy not running\n');
});

test('the_session_table_can_be_turned_off', async () => {
  const mock = await startMock({ kind: 'json', fixture: 'text.json' });
  const proxy = await startProxy(`server:\n  session_table: 0\n${config(mock.url)}`);
  try {
    const client = new Anthropic({ baseURL: proxy.url, apiKey: 'x', maxRetries: 0, defaultHeaders: { 'x-claude-code-session-id': SID } });
    await client.messages.create({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    const res = await fetch(`${proxy.url}/sessions/${SID}`);
    assert.equal(res.status, 404);
    assert.match((await res.json()).error.message, /session_table: 0/);
  } finally {
    await proxy.stop();
    await mock.close();
  }
});
