// bench/proxy/run.mjs — cc-proxy side by side with no proxy, nginx and
// claude-code-router, in one run on one machine (issue 4). Prints Markdown.
//
//   node bench/proxy/run.mjs            (make bench builds what it needs first)
//
// Environment: CCPROXY_BIN, CCP_BENCH_MOCK (binaries; default build/),
// BENCH_SECONDS (each wrk run, default 5), BENCH_ONLY (comma list of targets),
// BENCH_ROUNDS (throughput rounds per target, default 3), BENCH_VARIANTS=1
// (also cc-proxy with metrics off, with JSON access logs, with tracing).
// The plugin rows (cc-proxy plugin-inprocess, cc-proxy plugin-process) always run.
//
// Every process it starts is in its own process group and is killed on exit,
// on error and on SIGINT/SIGTERM.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

const ROOT = path.resolve(import.meta.dirname, '../..');
const WORK = path.join(ROOT, 'bench/.work/proxy');
const BIN = process.env.CCPROXY_BIN ?? path.join(ROOT, 'build/ccproxy');
const MOCK = process.env.CCP_BENCH_MOCK ?? path.join(ROOT, 'build/ccp-bench-mock');
const CCR_PKG = path.join(ROOT, 'bench/ccr/node_modules/@musistudio/claude-code-router');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ONLY = process.env.BENCH_ONLY?.split(',');
const CONCURRENCY = 32;
const STREAM_EVENTS = 300;
const STREAM_RUNS = 20;
const SLOW_STREAMS = 1000;
const STARTS = 5;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const VARIANTS = process.env.BENCH_VARIANTS === '1';
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
const log = (...a) => console.error('bench:', ...a);

// ---- processes -------------------------------------------------------------
const children = new Set();
function start(cmd, args, opts = {}) {
  const p = spawn(cmd, args, { detached: true, stdio: ['ignore', opts.stdout ?? 'ignore', opts.stderr ?? 'pipe'], ...opts });
  p.stderrText = '';
  p.stderr?.on('data', (d) => { if (p.stderrText.length < 20000) p.stderrText += d; });
  children.add(p);
  p.on('exit', () => children.delete(p));
  return p;
}
async function stop(p) {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const done = new Promise((r) => p.once('exit', r));
  try { process.kill(-p.pid, 'SIGTERM'); } catch {}
  const t = setTimeout(() => { try { process.kill(-p.pid, 'SIGKILL'); } catch {} }, 3000);
  await done;
  clearTimeout(t);
}
function killAll() {
  for (const p of children) try { process.kill(-p.pid, 'SIGKILL'); } catch {}
}
process.on('exit', killAll);
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => { killAll(); process.exit(130); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

// ---- /proc: CPU time and memory of a process tree ---------------------------
function tree(root) {
  const kids = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(d));
    } catch {}
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(kids.get(out[i]) ?? []));
  return out;
}
function cpuSeconds(root) {
  let ticks = 0;
  for (const pid of tree(root)) {
    try {
      const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]); // utime, stime
    } catch {}
  }
  return ticks / CLK_TCK;
}
function memKiB(root, field) {
  let kib = 0;
  for (const pid of tree(root)) {
    try {
      const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+)`, 'm'));
      if (m) kib += Number(m[1]);
    } catch {}
  }
  return kib;
}

// ---- HTTP client -------------------------------------------------------------
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
function post(url, body, { onFirstByte, timeout = 30000, agent: a = agent } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST', agent: a, timeout,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body),
        'x-api-key': 'bench', 'anthropic-version': '2023-06-01' },
    }, (res) => {
      const chunks = [];
      let first = true;
      res.on('data', (c) => { if (first) { first = false; onFirstByte?.(); } chunks.push(c); });
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

// ---- wrk ---------------------------------------------------------------------
const LUA = path.join(WORK, 'post.lua');
function wrk(url, bodyFile, { threads, connections }) {
  const out = execFileSync('wrk', ['-t', String(threads), '-c', String(connections), '-d', `${SECONDS}s`,
    '--latency', '--timeout', '10s', '-s', LUA, url], { env: { ...process.env, BENCH_BODY: bodyFile } }).toString();
  const num = (re) => { const m = out.match(re); return m ? Number(m[1]) : NaN; };
  const lat = (p) => {
    const m = out.match(new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)$`, 'm'));
    return m ? Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]] : NaN;
  };
  const bad = num(/Non-2xx or 3xx responses: (\d+)/) || 0;
  const errs = out.match(/Socket errors: (.*)/)?.[1];
  if (bad) throw new Error(`${bad} non-2xx answers from ${url}`);
  return { rps: num(/Requests\/sec:\s+([\d.]+)/), requests: num(/(\d+) requests in/), p50: lat(50), p99: lat(99), errs };
}

// ---- the targets -------------------------------------------------------------
function targets(mockPort) {
  const upstream = `http://127.0.0.1:${mockPort}`;
  const ccproxy = (name, serverExtra, extra, pipeline) => ccproxyTarget(upstream, name, serverExtra, extra, pipeline);
  return [
    { name: 'direct', path: '/v1/chat/completions', proc: false, async start() { return { port: mockPort }; } },
    {
      name: 'nginx', path: '/v1/chat/completions', proc: true,
      async start(port) {
        const dir = path.join(WORK, 'nginx');
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, 'nginx.conf'), `
worker_processes ${os.cpus().length};
worker_rlimit_nofile 16384;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  upstream mock { server ${upstream.slice(7)}; keepalive 256; }
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 32m;
    client_body_buffer_size 1m;
    location / {
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
`);
        return start('nginx', ['-p', dir, '-e', `${dir}/error.log`, '-c', `${dir}/nginx.conf`, '-g', 'daemon off;']);
      },
    },
    ccproxy('cc-proxy', ''),
    // The plugin rows (issue 15): the same proxy with a pipeline whose one
    // step is a Lua plugin that edits one field (max_tokens) of each
    // request, in each isolation mode; the report gives what each adds to
    // the p50 latency over the plain cc-proxy row.
    ...['inprocess', 'process'].map((iso) => ({ ...ccproxy(`cc-proxy plugin-${iso}`, '', pluginConfig(iso), 'bench'), mayFail: true })),
    // BENCH_VARIANTS=1: what observability costs (issue 14), against the
    // same binary with metrics off; JSON access logs at info; every request
    // traced and exported over OTLP/HTTP (to the mock, which answers 200).
    ...(VARIANTS ? [
      ccproxy('cc-proxy, metrics off', '  metrics: false\n'),
      ccproxy('cc-proxy, JSON access log', '  log_format: json\n  log_level: info\n'),
      ccproxy('cc-proxy, traces 100%', '', `telemetry:\n  otlp_endpoint: ${upstream}\n  sample_ratio: 1\n`),
    ] : []),
    {
      name: 'claude-code-router', path: '/v1/messages', proc: true,
      async start(port) {
        const home = path.join(WORK, 'ccr-home');
        fs.mkdirSync(path.join(home, '.claude-code-router'), { recursive: true });
        fs.writeFileSync(path.join(home, '.claude-code-router/config.json'), JSON.stringify({
          LOG: false, HOST: '127.0.0.1', PORT: port, NON_INTERACTIVE_MODE: true, API_TIMEOUT_MS: 600000,
          Providers: [{ name: 'mock', api_base_url: `${upstream}/v1/chat/completions`, api_key: 'bench', models: ['gpt-bench'] }],
          Router: { default: 'mock,gpt-bench' },
        }));
        return start(process.execPath, [path.join(CCR_PKG, 'dist/cli.js'), 'start'], { env: { ...process.env, HOME: home } });
      },
    },
  ].filter((t) => !ONLY || ONLY.includes(t.name));
}

// The plugin of the plugin rows: a request hook that edits one field.
const PLUGIN = path.join(WORK, 'bench-edit.lua');
function pluginConfig(isolation) {
  fs.mkdirSync(WORK, { recursive: true });
  fs.writeFileSync(PLUGIN, `return {
  name = 'bench-edit', version = '1', summary = 'edits one field of the request (bench)',
  request = function(req) req.max_tokens = 4096 end,
}
`);
  return `plugins:\n  dirs: []\n  load:\n    - {path: ${PLUGIN}, isolation: ${isolation}}\npipelines:\n  bench: [bench-edit]\n`;
}

// A cc-proxy target: server keys (indented lines) and extra top-level YAML
// on top of the benchmark's config; pipeline names a pipeline of extra for
// the provider.
function ccproxyTarget(upstream, name, serverExtra, extra = '', pipeline = '') {
  return {
    name, path: '/v1/messages', proc: true,
    async start(port) {
      const cfg = path.join(WORK, `ccproxy-${name.replace(/[^a-z0-9]+/gi, '-')}.yaml`);
      const level = serverExtra.includes('log_level:') ? '' : '  log_level: warn\n';
      // A log line per request goes to a file: wrk runs synchronously, so
      // nothing would drain a pipe, and the proxy would block writing it.
      const logs = serverExtra.includes('log_level: info')
        ? fs.openSync(path.join(WORK, `${name.replace(/[^a-z0-9]+/gi, '-')}.log`), 'w') : undefined;
      fs.writeFileSync(cfg, `server:\n  port: ${port}\n${level}${serverExtra}providers:\n  - name: mock\n    format: openai-chat\n    base_url: ${upstream}/v1\n    auth: none\n    models: [gpt-bench]\n${pipeline ? `    pipeline: ${pipeline}\n` : ''}router:\n  default: mock/gpt-bench\n${extra}`);
      return start(BIN, ['serve', '--config', cfg], logs === undefined ? {} : { stderr: logs });
    },
  };
}

// Starts a target and waits for its first answered request; returns the
// process, its port and the milliseconds from spawn to that answer.
async function launch(t, bodies) {
  const port = t.proc ? await freePort() : undefined;
  const t0 = performance.now();
  const p = await t.start(port);
  const url = `http://127.0.0.1:${p.port ?? port}${t.path}`;
  for (;;) {
    if (t.proc && (p.exitCode !== null || p.signalCode !== null))
      throw new Error(`${t.name} exited: ${p.stderrText.slice(-2000)}`);
    try {
      const r = await post(url, bodies.small.text, { agent: false, timeout: 2000 });
      if (r.status === 200) return { p, url, ms: performance.now() - t0, answer: r.body };
      throw new Error(`${t.name} answered ${r.status}: ${r.body.slice(0, 500)}`);
    } catch (e) {
      if (!/ECONNREFUSED|ECONNRESET|socket hang up/.test(e.message)) throw e;
    }
    if (performance.now() - t0 > 30000) throw new Error(`${t.name} did not start in 30 s`);
    await sleep(1);
  }
}

// A request through the target must give the answer the client expects.
function checkAnswer(t, answer) {
  const a = JSON.parse(answer);
  const text = t.path === '/v1/messages' ? a.content?.find((b) => b.type === 'text')?.text : a.choices?.[0]?.message?.content;
  if (text !== 'Done. The test passes now.') throw new Error(`${t.name}: unexpected answer ${answer.slice(0, 300)}`);
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

async function streamRuns(t, url, body) {
  const ttfb = [], total = [];
  for (let i = 0; i < STREAM_RUNS; i++) {
    const t0 = performance.now();
    let first = 0;
    const r = await post(url, body, { onFirstByte: () => { first = performance.now(); } });
    const t1 = performance.now();
    const events = t.path === '/v1/messages' ? (r.body.match(/^event: content_block_delta$/gm) ?? []).length
      : (r.body.match(/"content":"token "/g) ?? []).length;
    if (r.status !== 200 || events !== STREAM_EVENTS)
      throw new Error(`${t.name}: stream gave status ${r.status} and ${events} deltas, not ${STREAM_EVENTS}`);
    ttfb.push(first - t0);
    total.push(t1 - t0);
  }
  return { ttfb: median(ttfb), total: median(total) };
}

// Opens SLOW_STREAMS streams at once against a slow upstream; returns the
// target's RSS once all have started, then closes them.
async function slowStreams(t, url, body, root) {
  const a = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  let started = 0;
  const reqs = [];
  const all = new Promise((resolve) => {
    for (let i = 0; i < SLOW_STREAMS; i++) {
      const req = http.request(url, { method: 'POST', agent: a,
        headers: { 'content-type': 'application/json', 'x-api-key': 'bench', 'anthropic-version': '2023-06-01' } }, (res) => {
        res.once('data', () => { if (++started === SLOW_STREAMS) resolve(); });
        res.on('error', () => {});
      });
      req.on('error', () => {});
      req.end(body);
      reqs.push(req);
    }
  });
  const ok = await Promise.race([all.then(() => true), sleep(30000).then(() => false)]);
  await sleep(1000);
  const rss = root ? memKiB(root, 'VmRSS') : NaN;
  for (const r of reqs) r.destroy();
  a.destroy();
  if (!ok) throw new Error(`${t.name}: only ${started} of ${SLOW_STREAMS} slow streams started`);
  return rss;
}

// ---- the run -----------------------------------------------------------------
async function main() {
  fs.mkdirSync(WORK, { recursive: true });
  fs.writeFileSync(LUA, `local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["content-type"] = "application/json"
wrk.headers["x-api-key"] = "bench"
wrk.headers["anthropic-version"] = "2023-06-01"
`);
  const gen = (args) => execFileSync(process.execPath, [path.join(ROOT, 'bench/gen_claude_request.mjs'), ...args]).toString();
  const bodies = {};
  for (const [name, args] of [['small', ['2000', '--tools', '0', '--turns', '0', '--no-stream']],
    ['big', ['150000', '--tools', '20', '--turns', '40', '--no-stream']]]) {
    const text = gen(args);
    const file = path.join(WORK, `${name}.json`);
    fs.writeFileSync(file, text);
    bodies[name] = { text, file, bytes: Buffer.byteLength(text) };
  }
  const streamBody = JSON.stringify({ ...JSON.parse(bodies.small.text), stream: true });

  const results = [];
  // Phase 1: a fast upstream (JSON answers, 300-event streams sent at once).
  let mock = start(MOCK, ['--port', '0', '--events', String(STREAM_EVENTS)], { stdout: 'pipe' });
  const mockPort = await new Promise((resolve, reject) => {
    mock.stdout.once('data', (d) => resolve(Number(String(d).match(/port (\d+)/)[1])));
    mock.once('exit', () => reject(new Error(`mock exited: ${mock.stderrText}`)));
  });
  // Phase 1a, one target at a time: start-up, idle memory, latency at low
  // load and streams. Each target stays up for phase 1b.
  const live = [];
  for (const t of targets(mockPort)) {
    log(`${t.name}: start-up`);
    const r = { name: t.name, small: {}, big: {} };
    const starts = [];
    if (t.proc) {
      for (let i = 0; i < STARTS; i++) {
        const l = await launch(t, bodies);
        starts.push(l.ms);
        await stop(l.p);
      }
      r.startup = median(starts);
    }
    const l = await launch(t, bodies);
    checkAnswer(t, l.answer);
    const root = t.proc ? l.p.pid : null;
    await sleep(500);
    r.idleRss = root ? memKiB(root, 'VmRSS') : NaN;
    for (const size of ['small', 'big']) {
      log(`${t.name}: ${size} requests, one connection`);
      const low = wrk(l.url, bodies[size].file, { threads: 1, connections: 1 });
      Object.assign(r[size], { p50: low.p50, p99: low.p99, errs: low.errs });
    }
    log(`${t.name}: streams`);
    r.stream = await streamRuns(t, l.url, streamBody);
    live.push({ t, l, r, root, runs: { small: [], big: [] } });
    results.push(r);
  }
  // Phase 1b, throughput: every target is up, and they take turns, ROUNDS
  // times over. The machines are shared: load from elsewhere comes and goes
  // over minutes, and taking turns spreads it over all targets instead of
  // landing on whichever ran then. Each figure is the median of its rounds.
  for (let round = 1; round <= ROUNDS; round++) {
    for (const x of live) {
      for (const size of ['small', 'big']) {
        log(`${x.t.name}: ${size} requests, throughput, round ${round} of ${ROUNDS}`);
        const c0 = x.root ? cpuSeconds(x.root) : 0;
        let load;
        try {
          load = wrk(x.l.url, bodies[size].file, { threads: 2, connections: CONCURRENCY });
        } catch (e) {
          // A plugin row that fails under load is reported, not fatal.
          if (!x.t.mayFail) throw e;
          (x.r.failures ??= []).push(`${size} throughput: ${e.message}`);
          continue;
        }
        const c1 = x.root ? cpuSeconds(x.root) : 0;
        x.runs[size].push({ rps: load.rps, cpuUs: x.root ? ((c1 - c0) / load.requests) * 1e6 : NaN });
        if (load.errs) x.r[size].errs = load.errs;
      }
    }
  }
  for (const x of live) {
    for (const size of ['small', 'big']) {
      x.r[size].rps = median(x.runs[size].map((v) => v.rps));
      x.r[size].cpuUs = median(x.runs[size].map((v) => v.cpuUs));
      x.r[size].rpsRange = [Math.min(...x.runs[size].map((v) => v.rps)), Math.max(...x.runs[size].map((v) => v.rps))];
    }
    x.r.peakRss = x.root ? memKiB(x.root, 'VmHWM') : NaN;
    await stop(x.l.p);
  }
  await stop(mock);

  // Phase 2: a slow upstream (one event a second) for 1,000 open streams.
  mock = start(MOCK, ['--port', '0', '--events', '120', '--interval-ms', '1000'], { stdout: 'pipe' });
  const slowPort = await new Promise((resolve) => mock.stdout.once('data', (d) => resolve(Number(String(d).match(/port (\d+)/)[1]))));
  for (const t of targets(slowPort)) {
    log(`${t.name}: ${SLOW_STREAMS} slow streams`);
    const l = await launch(t, bodies);
    const r = results.find((x) => x.name === t.name);
    try {
      r.slowRss = await slowStreams(t, l.url, streamBody, t.proc ? l.p.pid : null);
    } catch (e) {
      if (!t.mayFail) throw e;
      (r.failures ??= []).push(`slow streams: ${e.message}`);
    }
    await stop(l.p);
  }
  await stop(mock);
  console.log(report(results, bodies));
}

// ---- the report ----------------------------------------------------------------
function report(results, bodies) {
  const by = Object.fromEntries(results.map((r) => [r.name, r]));
  const f = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '—');
  const mib = (k) => (Number.isFinite(k) ? (k / 1024).toFixed(1) : '—');
  const lines = [];
  const row = (...c) => lines.push(`| ${c.join(' | ')} |`);
  const small = `${(bodies.small.bytes / 1024).toFixed(1)} KiB`, big = `${(bodies.big.bytes / 1024).toFixed(0)} KiB`;
  lines.push(`Requests: small = ${small} (no tools), Claude Code–shaped = ${big} (20 tools, 40 turns), non-streaming; `
    + `streams: ${STREAM_EVENTS} events. Throughput: wrk -t2 -c${CONCURRENCY} -d${SECONDS}s, median of ${ROUNDS} rounds taken in turns by all targets; latency: wrk -t1 -c1 -d${SECONDS}s. `
    + `CPU and RSS are the whole process tree of the proxy (nginx: master + workers). direct = wrk straight to the mock.`, '');
  row('target', `req/s ${small}`, `req/s ${big}`, `CPU µs/req ${small}`, `CPU µs/req ${big}`, `p50 / p99 ms ${small}`, `p50 / p99 ms ${big}`);
  row('---', '---:', '---:', '---:', '---:', '---:', '---:');
  for (const r of results)
    row(r.name, f(r.small.rps), f(r.big.rps), f(r.small.cpuUs), f(r.big.cpuUs),
      `${f(r.small.p50, 3)} / ${f(r.small.p99, 3)}`, `${f(r.big.p50, 3)} / ${f(r.big.p99, 3)}`);
  lines.push('', `Throughput over the ${ROUNDS} rounds, lowest–highest req/s: `
    + results.map((r) => `${r.name} ${f(r.small.rpsRange?.[0])}–${f(r.small.rpsRange?.[1])} (${small}), `
      + `${f(r.big.rpsRange?.[0])}–${f(r.big.rpsRange?.[1])} (${big})`).join('; ') + '.', '');
  row('target', 'start-up ms', 'idle RSS MiB', 'peak RSS MiB (under load)', `RSS MiB, ${SLOW_STREAMS} open streams`, `stream TTFB ms (p50)`, `stream total ms (p50)`);
  row('---', '---:', '---:', '---:', '---:', '---:', '---:');
  for (const r of results)
    row(r.name, f(r.startup, 1), mib(r.idleRss), mib(r.peakRss), mib(r.slowRss), f(r.stream.ttfb, 2), f(r.stream.total, 2));
  const bare = by['cc-proxy, metrics off'];
  if (bare) {
    lines.push('', 'What observability costs: small-request throughput (median of the rounds) against the same binary with metrics off.', '');
    row('variant', `req/s ${small}`, 'vs metrics off', `CPU µs/req ${small}`);
    row('---', '---:', '---:', '---:');
    for (const r of results.filter((r) => r.name.startsWith('cc-proxy')))
      row(r.name, f(r.small.rps), `${f((r.small.rps / bare.small.rps - 1) * 100, 1)} %`, f(r.small.cpuUs));
  }
  const plain = by['cc-proxy'];
  const plugged = results.filter((r) => r.name.startsWith('cc-proxy plugin-'));
  if (plain && plugged.length) {
    lines.push('', `What a plugin adds: a Lua plugin step that edits one field (max_tokens) of each request, against cc-proxy without it (p50 latency at one connection; throughput as above). Aim (issue 15): in-process ≤ 0.3 ms, process-isolated ≤ 2 ms added for ${big}.`, '');
    row('isolation', `added p50 ms ${small}`, `added p50 ms ${big}`, `req/s ${big}`, `CPU µs/req ${big}`, 'aim');
    row('---', '---:', '---:', '---:', '---:', '---');
    for (const r of plugged) {
      const iso = r.name.slice('cc-proxy plugin-'.length), addedBig = r.big.p50 - plain.big.p50;
      const aim = iso === 'inprocess' ? 0.3 : 2;
      row(iso, f(r.small.p50 - plain.small.p50, 3), f(addedBig, 3), f(r.big.rps), f(r.big.cpuUs),
        `≤ ${aim} ms${Number.isFinite(addedBig) ? (addedBig <= aim ? ' ✓' : ' ✗') : ''}`);
    }
    for (const r of plugged)
      if (r.failures) lines.push('', `${r.name} failed: ${r.failures.join('; ')}.`);
  }
  const d = by.direct, n = by.nginx, c = by['cc-proxy'], x = by['claude-code-router'];
  if (d && c) {
    lines.push('', '| ratio | value | target |', '|---|---:|---|');
    const added = (r, s) => r[s].p50 - d[s].p50;
    const check = (ok) => (ok === undefined ? '' : ok ? ' ✓' : ' ✗');
    if (n) {
      row(`added p50 latency, cc-proxy / nginx, ${small}`, `${f(added(c, 'small'), 3)} / ${f(added(n, 'small'), 3)} ms`, '');
      row(`added p50 latency, cc-proxy / nginx, ${big}`, `${f(added(c, 'big'), 3)} / ${f(added(n, 'big'), 3)} ms`, '');
      row(`throughput ${small}, cc-proxy ÷ nginx`, f(c.small.rps / n.small.rps, 2), `≥ 0.5${check(c.small.rps / n.small.rps >= 0.5)}`);
    }
    if (x) {
      row(`throughput ${small}, cc-proxy ÷ claude-code-router`, f(c.small.rps / x.small.rps, 1), `≥ 10${check(c.small.rps / x.small.rps >= 10)}`);
      row(`throughput ${big}, cc-proxy ÷ claude-code-router`, f(c.big.rps / x.big.rps, 1), '');
      row(`added p50 latency ${big}, cc-proxy ÷ claude-code-router`, f(added(c, 'big') / added(x, 'big'), 3), `≤ 0.1${check(added(c, 'big') / added(x, 'big') <= 0.1)}`);
      row('idle RSS, claude-code-router ÷ cc-proxy', f(x.idleRss / c.idleRss, 1), '');
      row(`RSS with ${SLOW_STREAMS} streams, claude-code-router ÷ cc-proxy`, f(x.slowRss / c.slowRss, 1), '');
    }
    row('cc-proxy idle RSS', `${mib(c.idleRss)} MiB`, `≤ 16${check(c.idleRss <= 16 * 1024)}`);
    row(`cc-proxy RSS with ${SLOW_STREAMS} streams`, `${mib(c.slowRss)} MiB`, `≤ 48${check(c.slowRss <= 48 * 1024)}`);
    row('cc-proxy start-up', `${f(c.startup, 1)} ms`, `≤ 20${check(c.startup <= 20)}`);
  }
  return lines.join('\n');
}

main().then(() => { killAll(); process.exit(0); }, (e) => { console.error(e.stack ?? e); killAll(); process.exit(1); });
