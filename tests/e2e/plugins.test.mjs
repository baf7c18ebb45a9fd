// Lua plugins in the running proxy, through the official SDK: a plugin in
// a sandboxed host edits the request and the answer (streaming and not);
// a host killed mid-call (seccomp, SIGSYS) fails the request with an
// Anthropic error naming the plugin under on_error: fail, nothing sent
// upstream, and is skipped under on_error: skip; `ccproxy explain` runs
// plugins too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { startProxy } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-plugins-'));
const plugin = (name, src) => {
  const p = path.join(dir, `${name}.lua`);
  fs.writeFileSync(p, src);
  return p;
};

const TAG = plugin('tag', `
return {
  name = 'tag', version = '1', summary = 'marks the request',
  options = { temperature = { type = 'number', default = 0.25, help = 'the temperature' } },
  request = function(req, ctx)
    req.temperature = ctx.options.temperature
    req.metadata = { user_id = ctx.provider .. '/' .. ctx.model .. '/' .. ctx.stage }
  end,
}`);
const CRASH = plugin('crash', `
return {
  name = 'crash', summary = 'its host is killed by seccomp mid-call',
  request = function(req) ccp.test_syscall('open') end,
}`);
const SHOUT = plugin('shout', `
return {
  name = 'shout', summary = 'upper-cases the answer text',
  event = function(ev, ctx)
    if ev.type == 'content_block_delta' and ev.kind == 'text_delta' then ev.text = ev.text:upper() end
    if ev.type == 'message_stop' then ctx.log('info', 'answer of ' .. ctx.request_id .. ' from ' .. ctx.provider .. '/' .. ctx.model .. ' done') end
  end,
}`);

// A hook that leaves a shape no codec can read, in each isolation mode.
const RESHAPE = (iso) => plugin(`reshape-${iso}`, `
return {
  name = 'reshape-${iso}', summary = 'sets a message content to a number',
  request = function(req) req.messages[1].content = 5 end,
}`);
const RESHAPE_IN = RESHAPE('inprocess');
const RESHAPE_PROC = RESHAPE('process');

let ant, proxy, client;
const CONFIG = () => `
plugins:
  dirs: []
  load:
    - {path: ${TAG}}
    - {path: ${CRASH}, limits: {timeout_ms: 5000}}
    - {path: ${SHOUT}, isolation: inprocess}
    - {path: ${RESHAPE_IN}, isolation: inprocess}
    - {path: ${RESHAPE_PROC}}
pipelines:
  tagging: [tag, shout]
  failing: [crash, tag]
  skipping:
    - {use: crash, on_error: skip}
    - tag
  reshaping-inprocess: [tag, reshape-inprocess]
  reshaping-process: [reshape-process, tag]
providers:
  - name: ant
    base_url: '${ant.url}'
    api_key: sk-upstream-secret
    pipeline: tagging
    model_pipelines: {fail-model: failing, skip-model: skipping, reshape-inprocess-model: reshaping-inprocess, reshape-process-model: reshaping-process}
router:
  default: ant/main-model
`;

before(async () => {
  ant = await startMock((req) => (req.body?.stream ? { kind: 'sse', fixture: 'text.sse' } : { kind: 'json', fixture: 'text.json' }));
  proxy = await startProxy(CONFIG(), { env: { CCPROXY_PLUGIN_TEST_SYSCALLS: '1' } });
  client = new Anthropic({ baseURL: proxy.url, apiKey: 'client-key', maxRetries: 0 });
});
after(async () => {
  await proxy.stop();
  await ant.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

// Whether the process pid still runs (signal 0 only checks).
const alive = (pid) => {
  try { process.kill(pid, 0); return true; } catch { return false; }
};
const request = (model) => ({ model, max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });

test('a process-isolated plugin edits the request and an event plugin the answer', async () => {
  const msg = await client.messages.create(request('claude-sonnet-4-5'));
  const got = ant.requests.at(-1).body;
  assert.equal(got.temperature, 0.25);
  assert.deepEqual(got.metadata, { user_id: 'ant/main-model/default' });
  assert.match(msg.content[0].text, /^HELLO! THE FILE `MAIN.C` HAS 3 FUNCTIONS/);
});

test('streaming: the event plugin edits every text delta', async () => {
  const stream = client.messages.stream(request('claude-sonnet-4-5'));
  let text = '';
  stream.on('text', (t) => { text += t; });
  const final = await stream.finalMessage();
  assert.equal(text, final.content[0].text);
  assert.match(text, /^HELLO! THE FILE/);
  assert.equal(ant.requests.at(-1).body.temperature, 0.25);
  assert.match(proxy.log(), /plugin shout: answer of \S+ from ant\/main-model done/);
});

for (const stream of [false, true]) {
  test(`on_error: fail — a host killed mid-call fails the request naming the plugin, nothing sent upstream (stream: ${stream})`, async () => {
    const before = ant.requests.length;
    await assert.rejects(client.messages.create({ ...request('ant/fail-model'), stream }), (e) => {
      assert.equal(e.status, 500);
      assert.equal(e.error?.type, 'error');
      assert.equal(e.error?.error?.type, 'api_error');
      assert.match(e.error.error.message, /plugin 'crash'/);
      assert.match(e.error.error.message, /SIGSYS|started again|breaker/);
      return true;
    });
    assert.equal(ant.requests.length, before, 'nothing reached the upstream');
  });

  test(`on_error: skip — the request goes on without the failed step (stream: ${stream})`, async () => {
    const r = await client.messages.create({ ...request('ant/skip-model'), stream });
    if (stream) for await (const _ of r) { /* drain */ }
    const got = ant.requests.at(-1).body;
    assert.equal(got.temperature, 0.25, 'the next step ran');
  });
}

// Only the members a plugin replaced are checked again after its hook
// (docs/performance.md, Plugins); a shape the codec cannot read is still the
// encoder's 400 naming the field, as when the whole request was checked.
for (const iso of ['inprocess', 'process']) {
  test(`a plugin that leaves a bad shape gets the 400 that names the field, nothing sent upstream (${iso})`, async () => {
    const before = ant.requests.length;
    await assert.rejects(client.messages.create(request(`ant/reshape-${iso}-model`)), (e) => {
      assert.equal(e.status, 400);
      assert.equal(e.error?.error?.type, 'invalid_request_error');
      assert.match(e.error.error.message, /messages\.0\.content/);
      return true;
    });
    assert.equal(ant.requests.length, before, 'nothing reached the upstream');
  });
}

test('the first failure names the cause: SIGSYS from seccomp', () => {
  assert.match(proxy.log(), /plugin 'crash' request hook failed \(crash\): the plugin host was killed by signal 31 \(SIGSYS/);
  // The proxy logs each host it reaps, with how it ended.
  assert.match(proxy.log(), /warn +plugin 'crash': plugin host \(pid \d+\) ended: the plugin host was killed by signal 31 \(SIGSYS/);
  assert.doesNotMatch(proxy.log(), /sk-upstream-secret/);
});

test('ccproxy transformers lists plugins with their source; explain runs them', () => {
  const cfg = path.join(dir, 'cfg.yaml');
  fs.writeFileSync(cfg, CONFIG());
  const env = { PATH: process.env.PATH, HOME: dir, ASAN_OPTIONS: 'detect_leaks=1' };
  const t = spawnSync(process.env.CCPROXY_BIN, ['transformers', '--config', cfg], { encoding: 'utf8', env });
  assert.equal(t.status, 0, t.stderr);
  assert.match(t.stdout, new RegExp(`tag 1 — marks the request \\(plugin\\)\\n  source: ${TAG}`));
  assert.match(t.stdout, /temperature\s+number\s+default 0.25/);
  const reqPath = path.join(dir, 'req.json');
  fs.writeFileSync(reqPath, JSON.stringify(request('claude-sonnet-4-5')));
  const x = spawnSync(process.env.CCPROXY_BIN, ['explain', '--config', cfg, reqPath], { encoding: 'utf8', env });
  assert.equal(x.status, 0, x.stderr);
  assert.match(x.stdout, /"temperature":\s*0.25/);
});

test('ccproxy plugin new writes a template that ccproxy plugin test runs in a sandboxed host', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-plugin-new-'));
  const env = { PATH: process.env.PATH, HOME: work, ASAN_OPTIONS: 'detect_leaks=1' };
  const run = (args) => spawnSync(process.env.CCPROXY_BIN, args, { encoding: 'utf8', env, cwd: work });
  const n = run(['plugin', 'new', 'demo']);
  assert.equal(n.status, 0, n.stderr);
  assert.ok(fs.existsSync(path.join(work, 'demo.lua')) && fs.existsSync(path.join(work, 'demo.request.json')));
  assert.equal(run(['plugin', 'new', 'demo']).status, 1, 'never overwrites');
  const t = run(['plugin', 'test', 'demo.lua', 'demo.request.json', '--with', '{note: from the test}']);
  assert.equal(t.status, 0, t.stderr);
  assert.match(t.stdout, /POST https:\/\/provider\.invalid\/v1\/messages/);
  assert.match(t.stdout, /"text":"from the test"/);
  // The caps hold in a dry run too.
  fs.writeFileSync(path.join(work, 'loop.lua'), "return {name='loop', request=function() while true do end end}");
  const l = run(['plugin', 'test', 'loop.lua', 'demo.request.json', '--timeout-ms', '100']);
  assert.notEqual(l.status, 0);
  assert.match(l.stderr + l.stdout, /plugin 'loop' request hook failed \(timeout\)/);
  fs.rmSync(work, { recursive: true, force: true });
});

test('/metrics counts each plugin: calls, errors, kills, restarts, hosts', async () => {
  const text = await (await fetch(`${proxy.url}/metrics`)).text();
  const sample = (name, plugin) => {
    const m = new RegExp(`^${name}\\{plugin="${plugin}"\\} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : NaN;
  };
  assert.ok(sample('ccproxy_plugin_calls_total', 'tag') >= 4);
  assert.equal(sample('ccproxy_plugin_errors_total', 'tag'), 0);
  assert.ok(sample('ccproxy_plugin_errors_total', 'crash') >= 4);
  assert.ok(sample('ccproxy_plugin_kills_total', 'crash') >= 1);
  assert.ok(sample('ccproxy_plugin_calls_total', 'shout') > 0);
  assert.ok(sample('ccproxy_plugin_call_seconds_total', 'tag') > 0);
  assert.ok(sample('ccproxy_plugin_hosts', 'tag') >= 1);
  assert.ok(sample('ccproxy_plugin_host_resident_memory_bytes', 'tag') > 0);
  assert.equal(sample('ccproxy_plugin_hosts', 'shout'), 0, 'an in-process plugin has no host');
  // The latency histogram: cumulative buckets whose +Inf bucket is the count.
  const inf = new RegExp('^ccproxy_plugin_call_duration_seconds_bucket\\{plugin="tag",le="\\+Inf"\\} (\\d+)$', 'm').exec(text);
  assert.ok(inf && Number(inf[1]) >= 4, 'a +Inf bucket for tag');
  assert.equal(sample('ccproxy_plugin_call_duration_seconds_count', 'tag'), Number(inf[1]));
  assert.ok(sample('ccproxy_plugin_call_duration_seconds_sum', 'tag') > 0);
});

test('ccproxy plugins: the table from the running proxy, with breaker and figures (--json too)', () => {
  const env = { PATH: process.env.PATH, HOME: dir, ASAN_OPTIONS: 'detect_leaks=1' };
  const j = spawnSync(process.env.CCPROXY_BIN, ['plugins', '--url', proxy.url, '--json'], { encoding: 'utf8', env });
  assert.equal(j.status, 0, j.stderr);
  const r = JSON.parse(j.stdout);
  assert.equal(r.running, true);
  const by = Object.fromEntries(r.plugins.map((p) => [p.name, p]));
  assert.deepEqual(Object.keys(by).sort(), ['crash', 'reshape-inprocess', 'reshape-process', 'shout', 'tag']);
  assert.equal(by.tag.path, TAG);
  assert.equal(by.tag.version, '1');
  assert.equal(by.tag.isolation, 'process');
  assert.equal(by.shout.isolation, 'inprocess');
  assert.equal(by.crash.limits.timeout_ms, 5000);
  assert.equal(by.tag.on_error, 'fail');
  assert.deepEqual(by.tag.hooks, ['request']);
  assert.equal(by.tag.breaker, 'closed');
  assert.ok(by.tag.figures.calls >= 4);
  assert.equal(by.tag.figures.errors, 0);
  assert.ok(by.tag.figures.mean_ms > 0 && by.tag.figures.p99_ms > 0);
  assert.ok(by.tag.figures.hosts >= 1 && by.tag.figures.hosts_rss_bytes > 0);
  assert.ok(by.crash.figures.errors >= 4 && by.crash.figures.kills >= 1);
  const t = spawnSync(process.env.CCPROXY_BIN, ['plugins', '--url', proxy.url], { encoding: 'utf8', env });
  assert.equal(t.status, 0, t.stderr);
  assert.match(t.stdout, /^NAME\s+VERSION\s+ISOLATION\s+LIMITS\s+ON_ERROR\s+BREAKER\s+CALLS/m);
  assert.match(t.stdout, new RegExp(`^tag\\s+1\\s+process\\s+1s/64M/60s/0\\s+fail\\s+closed\\s+\\d+.*${TAG}$`, 'm'));
});

test('an idle plugin host that stops answering pings is killed and replaced', async () => {
  // The tag plugin's host is made deaf to pings by a call (test-only);
  // the health check (every 5 s, for hosts idle 5 s) then replaces it.
  const deaf = plugin('deaf', `
return { name = 'deaf', request = function(req) ccp.test_syscall('deaf') end }`);
  const p2 = await startProxy(`
plugins:
  dirs: []
  load:
    - {path: ${deaf}}
pipelines:
  p: [deaf]
providers:
  - {name: ant, base_url: '${ant.url}', api_key: k, pipeline: p}
router:
  default: ant/main-model
`, { env: { CCPROXY_PLUGIN_TEST_SYSCALLS: '1' } });
  try {
    const c = new Anthropic({ baseURL: p2.url, apiKey: 'client-key', maxRetries: 0 });
    await c.messages.create(request('claude-sonnet-4-5'));
    const figures = async () => (await (await fetch(`${p2.url}/admin/plugins`)).json()).plugins[0].figures;
    let f = await figures();
    while (f.unresponsive === 0) {
      await new Promise((r) => setTimeout(r, 500));
      f = await figures();
    }
    assert.equal(f.unresponsive, 1);
    assert.ok(f.kills >= 1 && f.restarts >= 1);
    assert.equal(f.hosts, 1, 'a new host took its place');
    assert.match(p2.log(), /plugin 'deaf': an idle plugin host \(pid \d+\) did not answer a ping within 1000 ms; it is killed and replaced/);
  } finally {
    await p2.stop();
  }
});

test('ccproxy plugins without a running proxy reads the config: no figures', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-plugins-cfg-'));
  const cfg = path.join(work, 'cfg.yaml');
  fs.writeFileSync(cfg, CONFIG());
  const env = { PATH: process.env.PATH, HOME: work, ASAN_OPTIONS: 'detect_leaks=1' };
  const j = spawnSync(process.env.CCPROXY_BIN, ['plugins', '--config', cfg, '--json'], { encoding: 'utf8', env });
  assert.equal(j.status, 0, j.stderr);
  const r = JSON.parse(j.stdout);
  assert.equal(r.running, false);
  assert.equal(r.source, 'config');
  const tag = r.plugins.find((p) => p.name === 'tag');
  assert.equal(tag.path, TAG);
  assert.equal(tag.figures, null);
  assert.equal(tag.breaker, null);
  const t = spawnSync(process.env.CCPROXY_BIN, ['plugins', '--config', cfg], { encoding: 'utf8', env });
  assert.equal(t.status, 0, t.stderr);
  assert.match(t.stdout, /no proxy runs for this config/);
  assert.match(t.stdout, /^shout\s+\S+\s+inprocess\s+\S+\s+fail\s+-\s+-/m);
  fs.rmSync(work, { recursive: true, force: true });
});

test('a slow process-isolated plugin does not hold up other requests on the same worker', async () => {
  // One worker: both requests share its event loop. The slow plugin
  // computes for 2-3 s of wall time in its host (the clock, not CPU time:
  // the machine may be busy); the other request, with no plugin, reaches
  // the upstream first only if the loop was free meanwhile.
  const slow = plugin('slow', `
return {
  name = 'slow',
  request = function(req)
    local t = os.time() while os.time() - t < 3 do end
    req.metadata = { user_id = 'slow' }
  end,
}`);
  const seen = [];
  const up = await startMock((req) => { seen.push(req.body?.metadata?.user_id ?? 'plain'); return { kind: 'json', fixture: 'text.json' }; });
  const p = await startProxy(`
plugins:
  dirs: []
  load: [{path: ${slow}, limits: {timeout_ms: 30000}}]
pipelines:
  slow: [slow]
providers:
  - {name: ant, base_url: '${up.url}', api_key: k, model_pipelines: {slow-model: slow}}
router:
  default: ant/main-model
`, { args: ['--workers', '1'] });
  try {
    const c = new Anthropic({ baseURL: p.url, apiKey: 'client-key', maxRetries: 0 });
    const a = c.messages.create(request('ant/slow-model'));
    await new Promise((r) => setTimeout(r, 200));
    const b = await c.messages.create(request('claude-sonnet-4-5'));
    assert.match(b.content[0].text, /^Hello/);
    await a;
    assert.deepEqual(seen, ['plain', 'slow']);
    // A client that leaves while its attempt is prepared in the pool: the
    // request ends cleanly once the job is done (stop() checks for leaks).
    const ac = new AbortController();
    const gone = c.messages.create(request('ant/slow-model'), { signal: ac.signal });
    setTimeout(() => ac.abort(), 200);
    await assert.rejects(gone);
    await c.messages.create(request('ant/slow-model')); // queued after the abandoned job
    assert.deepEqual(seen, ['plain', 'slow', 'slow'], 'the abandoned attempt was not sent');
  } finally {
    await p.stop();
    await up.close();
  }
});

test('a slow process-isolated route script does not hold up other requests either', async () => {
  const router = plugin('router', `
return {
  name = 'router',
  route = function(req)
    if req.metadata and req.metadata.user_id == 'slow' then
      local t = os.time() while os.time() - t < 3 do end
      return 'ant/routed-model'
    end
  end,
}`);
  const seen = [];
  const up = await startMock((req) => { seen.push(req.body?.model); return { kind: 'json', fixture: 'text.json' }; });
  const p = await startProxy(`
plugins:
  dirs: []
  load: [{path: ${router}, limits: {timeout_ms: 30000}}]
providers:
  - {name: ant, base_url: '${up.url}', api_key: k}
router:
  default: ant/main-model
  script: router
`, { args: ['--workers', '1'] });
  try {
    const c = new Anthropic({ baseURL: p.url, apiKey: 'client-key', maxRetries: 0 });
    const a = c.messages.create({ ...request('claude-sonnet-4-5'), metadata: { user_id: 'slow' } });
    await new Promise((r) => setTimeout(r, 200));
    await c.messages.create(request('claude-sonnet-4-5'));
    await a;
    assert.deepEqual(seen, ['main-model', 'routed-model']);
    // A client that leaves while it is being routed in the pool.
    const ac = new AbortController();
    const gone = c.messages.create({ ...request('claude-sonnet-4-5'), metadata: { user_id: 'slow' } }, { signal: ac.signal });
    setTimeout(() => ac.abort(), 200);
    await assert.rejects(gone);
    await c.messages.create({ ...request('claude-sonnet-4-5'), metadata: { user_id: 'slow' } });
    assert.deepEqual(seen, ['main-model', 'routed-model', 'routed-model']);
  } finally {
    await p.stop();
    await up.close();
  }
});

test('an edited plugin takes effect when the config is reloaded (SIGHUP)', async () => {
  const file = plugin('ver', "return {name='ver', request=function(req) req.metadata = {user_id='v1'} end}");
  const seen = [];
  const up = await startMock((req) => { seen.push(req.body?.metadata?.user_id); return { kind: 'json', fixture: 'text.json' }; });
  const p = await startProxy(`
plugins:
  dirs: []
  load: [{path: ${file}}]
pipelines:
  v: [ver]
providers:
  - {name: ant, base_url: '${up.url}', api_key: k, pipeline: v}
router:
  default: ant/main-model
`);
  try {
    const c = new Anthropic({ baseURL: p.url, apiKey: 'client-key', maxRetries: 0 });
    await c.messages.create(request('claude-sonnet-4-5'));
    fs.writeFileSync(file, "return {name='ver', request=function(req) req.metadata = {user_id='v2'} end}");
    process.kill(p.pid, 'SIGHUP');
    // Wait for the reload, but not forever: a proxy that died (or never
    // logs it) fails the test with its log rather than hanging the suite.
    for (let waited = 0; !/config reloaded \(SIGHUP\)/.test(p.log()); waited += 20) {
      assert.ok(alive(p.pid), `the proxy died before reloading:\n${p.log()}`);
      assert.ok(waited < 15000, `no "config reloaded (SIGHUP)" within 15 s:\n${p.log()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await c.messages.create(request('claude-sonnet-4-5'));
    assert.deepEqual(seen, ['v1', 'v2']);
  } finally {
    await p.stop();
    await up.close();
  }
});

test('SIGTERM while requests are prepared through a slow process plugin: a clean exit', async () => {
  // Regression: the drain deadline closes the connections of requests
  // whose attempt is still prepared in libuv's thread pool; the worker
  // was freed with its last connection, and the jobs' completions then
  // used it (ASan: heap-use-after-free in finish). The worker now waits
  // for its pending jobs; stop() asserts exit 0 and the log no sanitizer
  // report.
  const slow = plugin('slowterm', `
return {
  name = 'slowterm',
  request = function(req)
    local t = os.time() while os.time() - t < 2 do end
  end,
}`);
  const up = await startMock(() => ({ kind: 'json', fixture: 'text.json' }));
  try {
    for (let round = 0; round < 3; round++) {
      const p = await startProxy(`
server: {drain_timeout_ms: 1}
plugins:
  dirs: []
  load: [{path: ${slow}, limits: {timeout_ms: 30000}}]
pipelines:
  slow: [slowterm]
providers:
  - {name: ant, base_url: '${up.url}', api_key: k, pipeline: slow}
router:
  default: ant/main-model
`, { args: ['--workers', '1'] });
      const c = new Anthropic({ baseURL: p.url, apiKey: 'client-key', maxRetries: 0 });
      const calls = Array.from({ length: 6 }, () => c.messages.create(request('claude-sonnet-4-5')).catch((e) => e));
      // The requests reach the proxy and their preparation the pool (the
      // plugin takes 1-2 s there); SIGTERM comes meanwhile.
      await new Promise((r) => setTimeout(r, 300));
      const log = await p.stop();
      await Promise.all(calls);
      assert.doesNotMatch(log, /AddressSanitizer|runtime error/, log);
    }
  } finally {
    await up.close();
  }
});

// The plugin hosts of the proxy pid: its children running `plugin-host`.
const hostPids = (pid) => fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
  try {
    const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return ppid === pid && fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('plugin-host');
  } catch { return false; }
}).map(Number);
const state = (pid) => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0];
  } catch { return 'gone'; }
};

test('hosts that died while idle: calls in a burst wait out the restart backoff rather than fail', async () => {
  // Regression: with the idle hosts found dead, each burial doubles the
  // restart backoff, and a call that found no host while it ran failed at
  // once ("started again in N ms"): a burst of concurrent calls failed
  // together and opened the plugin's breaker. A call now waits for a host
  // or the backoff's end within its deadline.
  const busy = plugin('busy', `
return {
  name = 'busy',
  request = function(req)
    if req.metadata and req.metadata.user_id == 'warm' then
      local t = os.time() while os.time() - t < 1 do end
    end
    req.max_tokens = 77
  end,
}`);
  const seen = [];
  const up = await startMock((req) => { seen.push(req.body?.max_tokens); return { kind: 'json', fixture: 'text.json' }; });
  const p = await startProxy(`
plugins:
  dirs: []
  load: [{path: ${busy}, limits: {timeout_ms: 10000}}]
pipelines:
  b: [busy]
providers:
  - {name: ant, base_url: '${up.url}', api_key: k, pipeline: b}
router:
  default: ant/main-model
`);
  try {
    const c = new Anthropic({ baseURL: p.url, apiKey: 'client-key', maxRetries: 0 });
    // Warm several hosts: concurrent calls each hold one for a while.
    await Promise.all(Array.from({ length: 4 }, () => c.messages.create({ ...request('claude-sonnet-4-5'), metadata: { user_id: 'warm' } })));
    const pids = hostPids(p.pid);
    assert.ok(pids.length >= 2, `several hosts run (${pids.length})`);
    // They die while idle (SIGKILL; zombies until the proxy reaps them).
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    for (let waited = 0; pids.some((pid) => !['Z', 'gone'].includes(state(pid))); waited += 20) {
      assert.ok(waited < 10000, 'the hosts died');
      await new Promise((r) => setTimeout(r, 20));
    }
    const answers = await Promise.allSettled(Array.from({ length: 8 }, () => c.messages.create(request('claude-sonnet-4-5'))));
    const failed = answers.filter((a) => a.status === 'rejected').map((a) => a.reason.message);
    assert.deepEqual(failed, [], 'no call failed');
    assert.equal(seen.filter((m) => m === 77).length, 12);
  } finally {
    await p.stop();
    await up.close();
  }
});
