// bench/ab.mjs — throughput of two or more ccproxy binaries (and the
// observability variants of the first) side by side: every proxy is up at
// once and they take turns under wrk, ROUNDS times, so load from elsewhere
// on a shared machine spreads over all of them. Prints the median req/s of
// the rounds and the lowest–highest, and the median CPU time the proxy
// process spent per request (utime + stime from /proc, all its threads),
// which other load on a shared machine disturbs less. Throughput only; `make bench` is the
// full benchmark, bench/instr.mjs the repeatable instruction count.
//
//   node bench/ab.mjs --bin current=build-rel/ccproxy --bin base=../base/build-rel/ccproxy:plain
//                     [--rounds 4] [--seconds 5] [--variants]
//
// A binary marked :plain gets only the plain config (its config may not
// know the variants' keys). --variants adds, for the first binary, metrics
// off, JSON access log and traces 100 % (as BENCH_VARIANTS=1 in run.mjs).
// CCP_BENCH_MOCK names the mock upstream (default build-rel/ccp-bench-mock).
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const WORK = path.join(ROOT, 'bench/.work/ab');
const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(name); return i < 0 ? def : args[i + 1]; };
const bins = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] !== '--bin') continue;
  const m = args[i + 1].match(/^([^=]+)=(.*?)(:plain)?$/);
  bins.push({ label: m[1], path: path.resolve(m[2]), plainOnly: !!m[3] });
}
if (!bins.length) bins.push({ label: 'current', path: path.join(ROOT, 'build-rel/ccproxy') });
const MOCK = process.env.CCP_BENCH_MOCK ?? path.join(ROOT, 'build-rel/ccp-bench-mock');
const ROUNDS = Number(opt('--rounds', 4));
const SECONDS = Number(opt('--seconds', 5));
const VARIANTS = args.includes('--variants');

const children = new Set();
function start(cmd, argv, stdio) {
  const p = spawn(cmd, argv, { detached: true, stdio });
  children.add(p);
  p.on('exit', () => children.delete(p));
  return p;
}
const killAll = () => { for (const p of children) try { process.kill(-p.pid, 'SIGKILL'); } catch {} };
process.on('exit', killAll);
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => { killAll(); process.exit(130); });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const freePort = () => new Promise((resolve) => {
  const s = net.createServer();
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});
const up = (port) => new Promise((r) => {
  const s = net.connect(port, '127.0.0.1', () => { s.destroy(); r(true); });
  s.on('error', () => r(false));
});

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
function cpuSeconds(pid) {
  const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK; // utime, stime
}

// One wrk run: req/s and the proxy's CPU µs per request.
function wrk(t, bodyFile) {
  const c0 = cpuSeconds(t.pid);
  const out = execFileSync('wrk', ['-t', '2', '-c', '32', '-d', `${SECONDS}s`, '--timeout', '10s',
    '-s', path.join(WORK, 'post.lua'), t.url], { env: { ...process.env, BENCH_BODY: bodyFile } }).toString();
  const c1 = cpuSeconds(t.pid);
  if (/Non-2xx/.test(out)) throw new Error(`non-2xx answers from ${t.url}:\n${out}`);
  const requests = Number(out.match(/(\d+) requests in/)[1]);
  return { rps: Number(out.match(/Requests\/sec:\s+([\d.]+)/)[1]), cpuUs: ((c1 - c0) / requests) * 1e6 };
}

async function main() {
  fs.mkdirSync(WORK, { recursive: true });
  fs.writeFileSync(path.join(WORK, 'post.lua'), `local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["content-type"] = "application/json"
wrk.headers["x-api-key"] = "bench"
wrk.headers["anthropic-version"] = "2023-06-01"
`);
  const gen = (a) => execFileSync(process.execPath, [path.join(ROOT, 'bench/gen_claude_request.mjs'), ...a]).toString();
  const bodies = {};
  for (const [name, a] of [['small', ['2000', '--tools', '0', '--turns', '0', '--no-stream']],
    ['big', ['150000', '--tools', '20', '--turns', '40', '--no-stream']]]) {
    const text = gen(a);
    bodies[name] = { file: path.join(WORK, `${name}.json`), kib: (Buffer.byteLength(text) / 1024).toFixed(1) };
    fs.writeFileSync(bodies[name].file, text);
  }
  const mock = start(MOCK, ['--port', '0'], ['ignore', 'pipe', 'ignore']);
  const mockPort = await new Promise((r) => mock.stdout.once('data', (d) => r(Number(String(d).match(/port (\d+)/)[1]))));
  const upstream = `http://127.0.0.1:${mockPort}`;
  const targets = [];
  const variants = [['', '', '']];
  if (VARIANTS) variants.push(['metrics off', '  metrics: false\n', ''],
    ['JSON access log', '  log_format: json\n  log_level: info\n', ''],
    ['traces 100%', '', `telemetry:\n  otlp_endpoint: ${upstream}\n  sample_ratio: 1\n`]);
  for (const [bi, bin] of bins.entries()) {
    for (const [vname, server, extra] of variants) {
      if (vname && (bi > 0 || bin.plainOnly)) continue;
      const name = vname ? `${bin.label}, ${vname}` : bin.label;
      const port = await freePort();
      const slug = name.replace(/[^a-z0-9]+/gi, '-');
      const cfg = path.join(WORK, `${slug}.yaml`);
      const level = server.includes('log_level:') ? '' : '  log_level: warn\n';
      fs.writeFileSync(cfg, `server:\n  port: ${port}\n  workers: 2\n${level}${server}providers:\n  - name: mock\n`
        + `    format: openai-chat\n    base_url: ${upstream}/v1\n    auth: none\n    models: [gpt-bench]\n`
        + `router:\n  default: mock/gpt-bench\n${extra}`);
      const log = fs.openSync(path.join(WORK, `${slug}.log`), 'w');
      const p = start(bin.path, ['serve', '--config', cfg], ['ignore', 'ignore', log]);
      for (let t0 = Date.now(); !(await up(port)); await sleep(20))
        if (Date.now() - t0 > 10000) throw new Error(`${name} did not start`);
      targets.push({ name, pid: p.pid, url: `http://127.0.0.1:${port}/v1/messages`, runs: { small: [], big: [] } });
    }
  }
  for (let round = 1; round <= ROUNDS; round++)
    for (const t of targets)
      for (const size of ['small', 'big']) {
        console.error(`ab: round ${round}/${ROUNDS}: ${t.name}, ${size}`);
        t.runs[size].push(wrk(t, bodies[size].file));
        await sleep(0); /* wrk runs synchronously: let a SIGINT/SIGTERM handler run */
      }
  const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
  const f = (x) => Math.round(x).toLocaleString('en');
  const lines = [`wrk -t2 -c32 -d${SECONDS}s, ${ROUNDS} interleaved rounds, 2 workers each; median req/s (lowest–highest), `
    + 'and the median CPU µs the proxy process spent per request.', '',
    `| target | req/s ${bodies.small.kib} KiB | req/s ${bodies.big.kib} KiB | CPU µs/req ${bodies.small.kib} KiB | CPU µs/req ${bodies.big.kib} KiB |`,
    '|---|---:|---:|---:|---:|'];
  for (const t of targets) {
    const rps = (s) => t.runs[s].map((r) => r.rps);
    const cell = (s) => `${f(med(rps(s)))} (${f(Math.min(...rps(s)))}–${f(Math.max(...rps(s)))})`;
    const cpu = (s) => med(t.runs[s].map((r) => r.cpuUs)).toFixed(1);
    lines.push(`| ${t.name} | ${cell('small')} | ${cell('big')} | ${cpu('small')} | ${cpu('big')} |`);
  }
  console.log(lines.join('\n'));
}

main().then(() => { killAll(); process.exit(0); }, (e) => { console.error(e.stack ?? e); killAll(); process.exit(1); });
