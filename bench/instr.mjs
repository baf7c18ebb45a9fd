// bench/instr.mjs — instructions per request, counted by valgrind's callgrind:
// a repeatable measure of what one request costs the proxy's CPU, for a shared
// machine where wall-clock benchmarks (bench/proxy/run.mjs) are noisy.
//
//   node bench/instr.mjs [--bin LABEL=PATH]... [--n-small N] [--n-big N] [--only LIST]
//   make bench-instr                     (builds build-rel/, then runs this)
//
// For each binary (default: build-rel/ccproxy, labelled "current"), each
// variant (plain; metrics off; JSON access log at info; traces at 100 %, the
// same variants as BENCH_VARIANTS=1 in bench/proxy/run.mjs) and each request
// size (the benchmark's 2.1 KiB and 148 KiB non-streaming requests, generated
// by bench/gen_claude_request.mjs with the same arguments), the proxy runs
// twice under callgrind in front of the benchmark's mock upstream
// (ccp-bench-mock, not under valgrind): once serving WARM requests, once
// serving WARM + N. The difference of the two runs' total instruction counts
// (every thread, start-up and shutdown cancel out), divided by N, is the
// figure. Requests are sent over 8 keep-alive connections, like a small wrk.
//
// Under valgrind the threads run one at a time, so this counts work, not
// contention: a lock that makes two workers wait shows here only as the
// instructions of taking it. Variants a binary's config does not know (the
// session-start binary has no metrics, log_format or telemetry keys) are
// skipped with --only or by giving that binary's label a "plain-only" mark:
// --bin base=PATH:plain.
//
// Environment: CCP_BENCH_MOCK (mock binary, default build-rel/ccp-bench-mock),
// INSTR_KEEP=1 keeps the callgrind files (bench/.work/instr/) for
// callgrind_annotate. Every process it starts is killed on exit.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const WORK = path.join(ROOT, 'bench/.work/instr');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i < 0 ? def : args[i + 1];
};
const bins = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] !== '--bin') continue;
  const m = args[i + 1].match(/^([^=]+)=(.*?)(:plain)?$/);
  if (!m) throw new Error(`--bin LABEL=PATH[:plain], not ${args[i + 1]}`);
  bins.push({ label: m[1], path: path.resolve(m[2]), plainOnly: !!m[3] });
}
if (!bins.length) bins.push({ label: 'current', path: path.join(ROOT, 'build-rel/ccproxy'), plainOnly: false });
const MOCK = process.env.CCP_BENCH_MOCK ?? path.join(ROOT, 'build-rel/ccp-bench-mock');
const N = { small: Number(opt('--n-small', 1000)), big: Number(opt('--n-big', 100)) };
const WARM = 20;
const CONNECTIONS = 8;
const ONLY = opt('--only', undefined)?.split(',');
const KEEP = process.env.INSTR_KEEP === '1';
const log = (...a) => console.error('instr:', ...a);

const children = new Set();
function start(cmd, argv, opts = {}) {
  const p = spawn(cmd, argv, { detached: true, stdio: ['ignore', opts.stdout ?? 'ignore', opts.stderr ?? 'pipe'] });
  p.stderrText = '';
  p.stderr?.on('data', (d) => { if (p.stderrText.length < 20000) p.stderrText += d; });
  children.add(p);
  p.on('exit', () => children.delete(p));
  return p;
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

function post(agent, url, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST', agent, timeout: 120000,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body),
        'x-api-key': 'bench', 'anthropic-version': '2023-06-01' },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

// Sends n requests over CONNECTIONS keep-alive connections; each must be the
// mock's answer translated (a 200 with its text).
async function load(url, body, n) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  let next = 0;
  const one = async () => {
    while (next < n) {
      next++;
      const r = await post(agent, url, body);
      if (r.status !== 200 || !r.body.includes('Done. The test passes now.'))
        throw new Error(`answer ${r.status}: ${r.body.slice(0, 300)}`);
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, one));
  agent.destroy();
}

const VARIANTS = [
  { name: 'plain', server: '' },
  { name: 'metrics off', server: '  metrics: false\n' },
  { name: 'JSON access log', server: '  log_format: json\n  log_level: info\n' },
  { name: 'traces 100%', server: '', extra: (up) => `telemetry:\n  otlp_endpoint: ${up}\n  sample_ratio: 1\n` },
  // The plugin rows of make bench (issue 15): a pipeline whose one step is a
  // Lua plugin that edits one field (max_tokens). In process mode the
  // plugin hosts are other processes, started natively (callgrind does not
  // follow them): the figure is the proxy's side only (framing, patch); the
  // host's own work is counted by `ccp-bench-plugin --host-work` (see
  // docs/performance.md, Plugins).
  ...['inprocess', 'process'].map((iso) => ({
    name: `plugin ${iso}`, server: '', ref: 'plain', provider: '    pipeline: bench\n', extra: () => pluginYaml(iso),
  })),
  // The same plugin declaring `reads = {'max_tokens'}`: the host is sent
  // that member alone, not the whole request (docs/plugins.md).
  { name: 'plugin process reads', server: '', ref: 'plain', provider: '    pipeline: bench\n', extra: () => pluginYaml('process', true) },
].filter((v) => !ONLY || ONLY.includes(v.name));

// The plugin of the plugin variants, the one bench/proxy/run.mjs uses.
function pluginYaml(isolation, reads = false) {
  const file = path.join(WORK, reads ? 'bench-edit-reads.lua' : 'bench-edit.lua');
  fs.writeFileSync(file, `return {
  name = 'bench-edit', version = '1', summary = 'edits one field of the request (bench)',${reads ? "\n  reads = {'max_tokens'}," : ''}
  request = function(req) req.max_tokens = 4096 end,
}
`);
  return `plugins:\n  dirs: []\n  load:\n    - {path: ${file}, isolation: ${isolation}}\npipelines:\n  bench: [bench-edit]\n`;
}

// One callgrind run: the proxy serves `total` requests, then SIGTERM; returns
// the total instruction count of the run (all threads).
async function run(bin, variant, upstream, body, total, tag) {
  const port = await freePort();
  const slug = `${bin.label}-${variant.name}-${tag}`.replace(/[^a-z0-9]+/gi, '-');
  const cfg = path.join(WORK, `${slug}.yaml`);
  const level = variant.server.includes('log_level:') ? '' : '  log_level: warn\n';
  fs.writeFileSync(cfg, `server:\n  port: ${port}\n  workers: 2\n${level}${variant.server}providers:\n`
    + `  - name: mock\n    format: openai-chat\n    base_url: ${upstream}/v1\n    auth: none\n    models: [gpt-bench]\n${variant.provider ?? ''}`
    + `router:\n  default: mock/gpt-bench\n${variant.extra?.(upstream) ?? ''}`);
  const out = path.join(WORK, `${slug}.callgrind`);
  const logFd = fs.openSync(path.join(WORK, `${slug}.log`), 'w');
  const p = start('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, bin.path, 'serve', '--config', cfg],
    { stderr: logFd });
  const exited = new Promise((r) => p.once('exit', (code, sig) => r({ code, sig })));
  const url = `http://127.0.0.1:${port}/v1/messages`;
  for (let t0 = Date.now(); ; await sleep(50)) {
    if (p.exitCode !== null) throw new Error(`${bin.label} exited: ${fs.readFileSync(path.join(WORK, `${slug}.log`), 'utf8').slice(-2000)}`);
    if (Date.now() - t0 > 60000) throw new Error(`${bin.label} did not start in 60 s`);
    const up = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); r(true); });
      s.on('error', () => r(false));
    });
    if (up) break;
  }
  await load(url, body, total);
  process.kill(-p.pid, 'SIGTERM');
  const e = await exited;
  fs.closeSync(logFd);
  if (e.code !== 0) throw new Error(`${bin.label} ended with ${e.code ?? e.sig}`);
  const text = fs.readFileSync(out, 'utf8');
  const m = text.match(/^(?:summary|totals): (\d+)/m);
  if (!m) throw new Error(`no totals in ${out}`);
  if (!KEEP) fs.rmSync(out);
  return Number(m[1]);
}

async function main() {
  fs.mkdirSync(WORK, { recursive: true });
  const gen = (a) => execFileSync(process.execPath, [path.join(ROOT, 'bench/gen_claude_request.mjs'), ...a]).toString();
  const bodies = {
    small: gen(['2000', '--tools', '0', '--turns', '0', '--no-stream']),
    big: gen(['150000', '--tools', '20', '--turns', '40', '--no-stream']),
  };
  const kib = (s) => `${(Buffer.byteLength(s) / 1024).toFixed(1)} KiB`;
  const mock = start(MOCK, ['--port', '0'], { stdout: 'pipe' });
  const mockPort = await new Promise((resolve, reject) => {
    mock.stdout.once('data', (d) => resolve(Number(String(d).match(/port (\d+)/)[1])));
    mock.once('exit', () => reject(new Error(`mock exited: ${mock.stderrText}`)));
  });
  const upstream = `http://127.0.0.1:${mockPort}`;
  const rows = [];
  for (const bin of bins) {
    for (const v of VARIANTS) {
      if (bin.plainOnly && v.name !== 'plain') continue;
      const row = { bin: bin.label, variant: v.name };
      for (const size of ['small', 'big']) {
        log(`${bin.label}, ${v.name}, ${size}: ${WARM} and ${WARM + N[size]} requests`);
        const a = await run(bin, v, upstream, bodies[size], WARM, `${size}-a`);
        const b = await run(bin, v, upstream, bodies[size], WARM + N[size], `${size}-b`);
        row[size] = (b - a) / N[size];
        log(`  ${Math.round(row[size]).toLocaleString('en')} instructions per request`);
      }
      rows.push(row);
    }
  }
  const f = (x) => Math.round(x).toLocaleString('en');
  const lines = [
    `Instructions per request (callgrind, all threads; (run of ${WARM}+N − run of ${WARM}) ÷ N; `
      + `N = ${N.small} (${kib(bodies.small)}), ${N.big} (${kib(bodies.big)}); 2 workers, ${CONNECTIONS} keep-alive connections).`
      + (VARIANTS.some((v) => v.ref) ? ' The plugin rows compare with plain, not metrics off.' : ''),
    '',
    `| binary | variant | ${kib(bodies.small)} | ${kib(bodies.big)} | ${kib(bodies.small)} vs metrics off | ${kib(bodies.big)} vs metrics off |`,
    '|---|---|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const refName = VARIANTS.find((v) => v.name === r.variant)?.ref ?? 'metrics off';
    const ref = rows.find((x) => x.bin === r.bin && x.variant === refName);
    const vs = (s) => (!ref || r === ref ? '' : `${((r[s] / ref[s] - 1) * 100).toFixed(1)} %`);
    lines.push(`| ${r.bin} | ${r.variant} | ${f(r.small)} | ${f(r.big)} | ${vs('small')} | ${vs('big')} |`);
  }
  console.log(lines.join('\n'));
}

main().then(() => { killAll(); process.exit(0); }, (e) => { console.error(e.stack ?? e); killAll(); process.exit(1); });
