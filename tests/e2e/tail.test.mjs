// The live view: GET /admin/events on the admin listener streams one event
// per finished request (from every worker), and `ccproxy tail` prints them
// one line each, filtered by provider and status, or as JSON.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startProxy } from './lib/proxy.mjs';
import { startOpenAIMock } from './lib/mock_openai.mjs';

const BIN = process.env.CCPROXY_BIN;
let mock, proxy, admin;

before(async () => {
  mock = await startOpenAIMock((req) => (req.body.user === 'fail'
    ? { status: 400, body: { error: { message: 'bad thing', type: 'invalid_request_error' } } }
    : { kind: 'sse', fixture: 'text.sse' }));
  proxy = await startProxy(`
server: {admin_listen: '127.0.0.1:0'}
providers:
  - name: oa
    format: openai-chat
    base_url: ${mock.url}/v1
    api_key: oa-key-456
    models: [gpt-test]
router:
  default: oa/gpt-test
`);
  admin = `http://127.0.0.1:${/ccproxy admin listening on http:\/\/[^:]+:(\d+)/.exec(proxy.log())[1]}`;
});
after(async () => {
  await proxy.stop();
  await mock.close();
});

const send = (user) => fetch(`${proxy.url}/v1/messages`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ model: 'claude-x', max_tokens: 50, stream: true, metadata: { user_id: user }, messages: [{ role: 'user', content: 'hi' }] }),
}).then(async (r) => { await r.arrayBuffer(); return r; });

// Reads SSE events from the admin feed until n "request" events came.
async function collect(n, during) {
  const ctl = new AbortController();
  const res = await fetch(`${admin}/admin/events`, { signal: ctl.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /text\/event-stream/);
  const reader = res.body.getReader();
  const events = [];
  let buf = '';
  const read = (async () => {
    while (events.length < n) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += Buffer.from(value).toString('utf8');
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const ev = /^event: (\w+)/m.exec(frame)?.[1];
        const data = /^data: (.*)$/m.exec(frame)?.[1];
        if (ev === 'request') events.push(JSON.parse(data));
      }
    }
  })();
  await during();
  await read;
  ctl.abort();
  return events;
}

test('admin_events_streams_each_finished_request', async () => {
  const ids = [];
  const events = await collect(3, async () => {
    for (const u of ['a', 'fail', 'b']) ids.push((await send(u)).headers.get('request-id'));
  });
  assert.deepEqual(events.map((e) => e.id), ids);
  const ok = events[0];
  assert.equal(ok.status, 200);
  assert.equal(ok.stage, 'default');
  assert.equal(ok.provider, 'oa');
  assert.equal(ok.upstream_model, 'gpt-test');
  assert.equal(ok.model, 'claude-x');
  assert.equal(ok.path, '/v1/messages');
  assert.ok(ok.output_tokens > 0 && ok.ttft_ms >= 0 && ok.duration_ms >= ok.ttft_ms);
  assert.match(ok.route, /target=oa\/gpt-test/);
  assert.equal(events[1].status, 400);
  assert.equal(events[1].error_type, 'invalid_request_error');
});

test('admin_stats_and_requests_keep_the_last_hour', async () => {
  const stats = await (await fetch(`${admin}/admin/stats`)).json();
  assert.equal(stats.minutes.length, 60);
  const last = stats.minutes.at(-1);
  assert.ok(last.requests >= 3 && last.errors >= 1 && last.output_tokens > 0);
  const recent = await (await fetch(`${admin}/admin/requests`)).json();
  assert.ok(recent.requests.length >= 3);
  // Not on the main listener when an admin listener exists.
  assert.equal((await fetch(`${proxy.url}/admin/stats`)).status, 404);
});

function tail(...args) {
  const child = spawn(BIN, ['tail', '--url', admin, ...args], { env: { PATH: process.env.PATH, ASAN_OPTIONS: 'detect_leaks=1' } });
  let out = '', err = '', onErr = () => {};
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; onErr(); });
  const done = new Promise((r) => child.on('close', (code) => r(code)));
  // tail says so once it is subscribed: no request is missed after that.
  const following = new Promise((r) => { onErr = () => { if (/following/.test(err)) r(); }; });
  return { child, done, following, out: () => out, err: () => err };
}

async function tailRun(args, n, users) {
  const t = tail('--count', String(n), ...args);
  await t.following;
  for (const u of users) await send(u);
  const code = await t.done;
  assert.equal(code, 0, t.err());
  return t.out().trim().split('\n');
}

test('ccproxy_tail_prints_one_line_per_request', async () => {
  const lines = await tailRun([], 2, ['a', 'fail']);
  assert.equal(lines.length, 2);
  assert.match(lines[0], /^\d\d:\d\d:\d\d req_[0-9a-f]{24} 200 default\s+oa\/gpt-test in=\d+ out=\d+ ttft=\d+ms \d+ms$/);
  assert.match(lines[1], / 400 .* invalid_request_error$/);
});

test('ccproxy_tail_filters_by_status_and_prints_json', async () => {
  const lines = await tailRun(['--status', '4xx', '--json'], 1, ['a', 'b', 'fail']);
  assert.equal(lines.length, 1);
  const ev = JSON.parse(lines[0]);
  assert.equal(ev.status, 400);
  const other = await tailRun(['--provider', 'oa', '--status', '200'], 1, ['a']);
  assert.match(other[0], / 200 /);
});

test('ccproxy_tail_reports_an_unreachable_proxy', async () => {
  const t = spawn(BIN, ['tail', '--url', 'http://127.0.0.1:1'], { env: { PATH: process.env.PATH } });
  let err = '';
  t.stderr.on('data', (d) => { err += d; });
  const code = await new Promise((r) => t.on('close', r));
  assert.equal(code, 1);
  assert.match(err, /ccproxy tail: http:\/\/127\.0\.0\.1:1\/admin\/events/);
});

test('open_admin_feeds_do_not_hold_the_shutdown', async () => {
  // A drain longer than the harness waits for the exit: the feed must end
  // at once rather than be drained.
  const p = await startProxy(`
server: {admin_listen: '127.0.0.1:0', drain_timeout_ms: 60000}
providers:
  - name: oa
    format: openai-chat
    base_url: ${mock.url}/v1
    api_key: oa-key-456
    models: [gpt-test]
router:
  default: oa/gpt-test
`);
  const a = `http://127.0.0.1:${/ccproxy admin listening on http:\/\/[^:]+:(\d+)/.exec(p.log())[1]}`;
  const res = await fetch(`${a}/admin/events`);
  const reader = res.body.getReader();
  await reader.read(); // subscribed
  const ended = (async () => { while (!(await reader.read()).done); return true; })();
  await p.stop(); // asserts a clean exit within its wait
  assert.equal(await ended, true);
});
