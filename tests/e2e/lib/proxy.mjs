// Starts the built ccproxy binary on a free port with a given YAML config and
// stops it with SIGTERM, asserting a clean exit (the sanitized build exits
// non-zero on a leak, so every test file also checks for leaks).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';

const BIN = process.env.CCPROXY_BIN;

// nofile: run under that open-file limit (soft and hard, set by the shell).
export async function startProxy(yaml, { env = {}, args = [], nofile = 0 } = {}) {
  if (!BIN || !fs.existsSync(BIN)) {
    throw new Error(`CCPROXY_BIN must name the built ccproxy binary (got '${BIN}'); run 'make test'`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-e2e-'));
  const cfgPath = path.join(dir, 'ccproxy.yaml');
  fs.writeFileSync(cfgPath, yaml);
  const argv = ['serve', '--config', cfgPath, '--port', '0', '--workers', '2', ...args];
  const [cmd, cmdArgs] = nofile
    ? ['sh', ['-c', `ulimit -n ${Number(nofile)} && exec "$0" "$@"`, BIN, ...argv]]
    : [BIN, argv];
  const child = spawn(cmd, cmdArgs, {
    env: { PATH: process.env.PATH, ASAN_OPTIONS: 'detect_leaks=1', HOME: dir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stdout.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let scheme = 'http'; // https when server.tls is set
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ccproxy did not start:\n${stderr}`)), 10000);
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = /ccproxy listening on (https?):\/\/[^:]+:(\d+)/.exec(stderr);
      if (m) { clearTimeout(timer); scheme = m[1]; resolve(Number(m[2])); }
    });
    exited.then(({ code }) => { clearTimeout(timer); reject(new Error(`ccproxy exited ${code}:\n${stderr}`)); });
  });
  const url = `${scheme}://127.0.0.1:${port}`;
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
      assert.equal(code, 0, `ccproxy must exit 0 after SIGTERM (got ${code} ${signal ?? ''}):\n${stderr}`);
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
    api_key: test-key-123
    models: [mock-model]
router:
  default: mock/mock-model
`;
}
