// Starts the built ccproxy binary on a free port with a given YAML config and
// stops it with SIGTERM, asserting a clean exit (the sanitized build exits
// non-zero on a leak, so every test file also checks for leaks).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { SCAN, SCAN_KEY, collectSecrets, scanOutput } from './secret_scan.mjs';

export { SCAN, SCAN_KEY };

// The provider key mockConfig writes: recognisable when the secret scan runs.
export const MOCK_KEY = SCAN ? SCAN_KEY : 'test-key-123';

// Under the scan, the proxies alive in this process by origin, so that the
// fetch wrapper below can tell which proxy an answer came from.
const running = new Map();
if (SCAN) {
  const realFetch = globalThis.fetch;
  globalThis.fetch = async function scannedFetch(input, init) {
    const res = await realFetch(input, init);
    let origin = null;
    try { origin = new URL(typeof input === 'string' || input instanceof URL ? input : input.url).origin; } catch { /* not a URL */ }
    const p = origin && running.get(origin);
    if (p) p.seen(res);
    return res;
  };
}

const BIN = process.env.CCPROXY_BIN;

// nofile: run under that open-file limit (soft and hard, set by the shell).
export async function startProxy(yaml, { env = {}, args = [], nofile = 0 } = {}) {
  if (!BIN || !fs.existsSync(BIN)) {
    throw new Error(`CCPROXY_BIN must name the built ccproxy binary (got '${BIN}'); run 'make test'`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-e2e-'));
  const cfgPath = path.join(dir, 'ccproxy.yaml');
  fs.writeFileSync(cfgPath, yaml);
  // Under the scan every proxy runs at debug level unless the test chose a
  // level (its config or its arguments) it depends on.
  const chosen = /\blog_level\b/.test(yaml) || args.some((a) => a === '--log-level' || a === '-l' || a.startsWith('--log-level='));
  const levelArgs = SCAN && !chosen ? ['--log-level', 'debug'] : [];
  const secrets = SCAN ? collectSecrets(yaml, env) : [];
  const argv = ['serve', '--config', cfgPath, '--port', '0', '--workers', '2', ...levelArgs, ...args];
  const [cmd, cmdArgs] = nofile
    ? ['sh', ['-c', `ulimit -n ${Number(nofile)} && exec "$0" "$@"`, BIN, ...argv]]
    : [BIN, argv];
  const child = spawn(cmd, cmdArgs, {
    env: { PATH: process.env.PATH, ASAN_OPTIONS: 'detect_leaks=1', HOME: dir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const raw = { stdout: [], stderr: [] }; // every byte, for the scan
  child.stdout.on('data', (d) => { stderr += d; raw.stdout.push(d); });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let scheme = 'http'; // https when server.tls is set
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ccproxy did not start:\n${stderr}`)), 10000);
    child.stderr.on('data', (d) => {
      stderr += d;
      raw.stderr.push(d);
      const m = /ccproxy listening on (https?):\/\/[^:]+:(\d+)/.exec(stderr);
      if (m) { clearTimeout(timer); scheme = m[1]; resolve(Number(m[2])); }
    });
    exited.then(({ code }) => { clearTimeout(timer); reject(new Error(`ccproxy exited ${code}:\n${stderr}`)); });
  });
  const url = `${scheme}://127.0.0.1:${port}`;
  // Findings in the proxy's HTTP answers, and the body reads still running.
  const answerFindings = [];
  const bodyReads = [];
  if (SCAN && secrets.length) {
    running.set(url, {
      seen(res) {
        const head = [...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n');
        const where = `the answer to ${res.url}`;
        answerFindings.push(...scanOutput(secrets, `${where} (headers)`, head));
        // Streams may be endless or read slowly on purpose: only whole bodies.
        if (/event-stream/.test(res.headers.get('content-type') ?? '') || !res.body) return;
        bodyReads.push(res.clone().arrayBuffer()
          .then((b) => { answerFindings.push(...scanOutput(secrets, `${where} (body)`, Buffer.from(b))); })
          .catch(() => {}));
      },
    });
  }
  return {
    url,
    port,
    pid: child.pid,
    cfgPath, // the config file, for tests that rewrite it and reload
    home: dir, // HOME (and so the XDG directories) of the proxy
    log: () => stderr,
    async stop() {
      child.kill('SIGTERM');
      const timeout = new Promise((resolve) => setTimeout(() => resolve({ code: 'timeout' }), 15000));
      const { code, signal } = await Promise.race([exited, timeout]);
      if (code === 'timeout') child.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
      running.delete(url);
      assert.equal(code, 0, `ccproxy must exit 0 after SIGTERM (got ${code} ${signal ?? ''}):\n${stderr}`);
      if (SCAN && secrets.length) {
        await Promise.allSettled(bodyReads);
        const findings = [
          ...scanOutput(secrets, 'the proxy\'s stdout', Buffer.concat(raw.stdout)),
          ...scanOutput(secrets, 'the proxy\'s stderr', Buffer.concat(raw.stderr)),
          ...answerFindings,
        ];
        assert.deepEqual(findings, [], `secret scan (CCP_SECRET_SCAN=1): a configured secret leaked:\n${findings.join('\n')}`);
      }
      return stderr;
    },
  };
}

// A config with one anthropic-format provider at the given base URL.
export function mockConfig(baseUrl, extra = '') {
  return `${extra}
providers:
  - name: mock
    format: anthropic
    base_url: ${baseUrl}
    api_key: ${MOCK_KEY}
    models: [mock-model]
router:
  default: mock/mock-model
`;
}
