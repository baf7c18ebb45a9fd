// ccproxy as a background service and the commands around it: start, status,
// reload, stop, restart (pid file and log in the XDG state directory, LSB
// exit codes), `ccproxy env`, and `ccproxy code` running a fake `claude` and
// the real Claude Code through a proxy it started itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mockConfig, MOCK_KEY } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';
import { answer } from './lib/mock_model.mjs';

const BIN = process.env.CCPROXY_BIN;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// A home of its own (HOME and XDG_STATE_HOME) with a config at port 0.
function sandbox(yaml) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-svc-'));
  const cfg = path.join(dir, 'ccproxy.yaml');
  fs.writeFileSync(cfg, `server:\n  port: 0\n${yaml}`);
  const env = {
    PATH: process.env.PATH, HOME: dir, XDG_STATE_HOME: path.join(dir, 'state'), ASAN_OPTIONS: 'detect_leaks=1',
  };
  const run = (args, extraEnv = {}, opts = {}) => spawnSync(BIN, args, { env: { ...env, ...extraEnv }, encoding: 'utf8', timeout: 60000, ...opts });
  return { dir, cfg, env, run };
}

// The background proxy's log: the sanitizers write there, so it must hold
// no report once the proxy has stopped.
function assertCleanLog(s) {
  const dir = path.join(s.dir, 'state', 'ccproxy');
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.log'))) {
    const log = fs.readFileSync(path.join(dir, f), 'utf8');
    assert.ok(!/Sanitizer|runtime error/.test(log), log);
  }
}

test('start_status_reload_stop_with_pid_file_log_and_exit_codes', async () => {
  const mock = await startMock({ kind: 'json', fixture: 'text.json' });
  const s = sandbox(mockConfig(mock.url));
  try {
    let r = s.run(['status', '--config', s.cfg]);
    assert.equal(r.status, 3, 'LSB: 3 = not running');
    assert.match(r.stdout, /not running/);

    r = s.run(['start', '--config', s.cfg, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const st = JSON.parse(r.stdout);
    assert.match(st.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(st.config, fs.realpathSync(s.cfg));
    assert.ok(st.log.startsWith(path.join(s.dir, 'state', 'ccproxy')), st.log);
    const pidFile = st.log.replace(/\.log$/, '.pid');
    assert.equal(Number(fs.readFileSync(pidFile, 'utf8')), st.pid);
    const health = await fetch(`${st.url}/health`);
    assert.equal(health.status, 200);

    // A second start finds it.
    r = s.run(['start', '--config', s.cfg]);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /already running/);

    // Traffic, then status shows it per provider.
    const res = await fetch(`${st.url}/v1/messages`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'x', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 200);
    r = s.run(['status', '--config', s.cfg], { NO_COLOR: '1' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`running: ${st.url.replace(/[.]/g, '\\.')} \\(pid ${st.pid}, up `));
    assert.match(r.stdout, /config: +.*ccproxy\.yaml/);
    assert.match(r.stdout, /mock +healthy +1 ok +0 failed/);
    assert.ok(!r.stdout.includes('\x1b['), 'no colour when NO_COLOR is set or stdout is no terminal');
    r = s.run(['status', '--config', s.cfg, '--json']);
    const js = JSON.parse(r.stdout);
    assert.equal(js.running, true);
    assert.equal(js.pid, st.pid);
    assert.equal(js.providers.mock.successes, 1);
    assert.equal(js.pid_file, pidFile);

    // reload: applied, then refused with the problem printed.
    r = s.run(['reload', '--config', s.cfg]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /reloaded .*ccproxy\.yaml \(sha256:[0-9a-f]{64}\), unchanged/);
    r = s.run(['status', '--config', s.cfg], { NO_COLOR: '1' });
    assert.match(r.stdout, /config: +.*ccproxy\.yaml \(reloaded 1 time\)/);
    fs.appendFileSync(s.cfg, 'bogus_key: 1\n');
    r = s.run(['reload', '--config', s.cfg]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /ccproxy\.yaml:\d+:1: error: unknown key 'bogus_key'/);
    assert.match(r.stderr, /the config in force keeps serving/);
    fs.writeFileSync(s.cfg, fs.readFileSync(s.cfg, 'utf8').replace('bogus_key: 1\n', ''));

    // env names the running proxy.
    r = s.run(['env', '--config', s.cfg]);
    assert.equal(r.status, 0);
    assert.match(r.stdout, new RegExp(`^export ANTHROPIC_BASE_URL='${st.url}'$`, 'm'));
    assert.match(r.stdout, /^export ANTHROPIC_AUTH_TOKEN='ccproxy'$/m);
    r = s.run(['env', '--config', s.cfg, '--shell', 'fish'], { ANTHROPIC_API_KEY: 'mine' });
    assert.equal(r.stdout, `set -gx ANTHROPIC_BASE_URL '${st.url}'\n`);
    // The lines work when evaluated.
    const sh = spawnSync('sh', ['-c', `eval "$("${BIN}" env --config "${s.cfg}")"; printf %s "$ANTHROPIC_BASE_URL"`], { env: s.env, encoding: 'utf8' });
    assert.equal(sh.stdout, st.url);

    // restart: a new process, same config.
    r = s.run(['restart', '--config', s.cfg, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const st2 = JSON.parse(r.stdout);
    assert.notEqual(st2.pid, st.pid);

    r = s.run(['stop', '--config', s.cfg]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`stopped \\(pid ${st2.pid}\\)`));
    assert.ok(!fs.existsSync(pidFile), 'the pid file goes with the process');
    await assert.rejects(fetch(`${st2.url}/health`));
    r = s.run(['stop', '--config', s.cfg]);
    assert.equal(r.status, 0, 'stopping a stopped service succeeds (LSB)');
    assert.match(r.stdout, /was not running/);
    r = s.run(['status', '--config', s.cfg]);
    assert.equal(r.status, 3);
    assertCleanLog(s);
  } finally {
    s.run(['stop', '--config', s.cfg]);
    await mock.close();
    fs.rmSync(s.dir, { recursive: true, force: true });
  }
});

test('start_with_a_bad_config_fails_and_prints_the_problem_from_the_log', () => {
  const s = sandbox('');
  fs.writeFileSync(s.cfg, 'server:\n  prot: 1\n');
  try {
    const r = s.run(['start', '--config', s.cfg]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /exited before it was ready/);
    assert.match(r.stderr, /ccproxy\.yaml:2:3: error: unknown key 'prot' in server: did you mean 'port'\?/);
    assert.equal(s.run(['status', '--config', s.cfg]).status, 3);
  } finally {
    fs.rmSync(s.dir, { recursive: true, force: true });
  }
});

test('every_service_command_has_help_and_refuses_unknown_options', () => {
  const s = sandbox('');
  try {
    for (const cmd of ['start', 'stop', 'restart', 'status', 'reload', 'code', 'env']) {
      const h = s.run([cmd, '--help']);
      assert.equal(h.status, 0, cmd);
      assert.match(h.stdout, new RegExp(`^usage: ccproxy ${cmd}`), cmd);
      assert.match(h.stdout, /exit:/, `${cmd} documents its exit codes`);
      if (cmd === 'code') continue; // passes unknown options to claude
      const bad = s.run([cmd, '--no-such-option']);
      assert.equal(bad.status, 2, cmd);
    }
  } finally {
    fs.rmSync(s.dir, { recursive: true, force: true });
  }
});

// A fake `claude` that prints its environment and arguments as JSON and
// exits with $FAKE_CLAUDE_EXIT.
function fakeClaude(dir) {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  fs.writeFileSync(path.join(bin, 'claude'), `#!/usr/bin/env node
process.stdout.write(JSON.stringify({ args: process.argv.slice(2), base: process.env.ANTHROPIC_BASE_URL, token: process.env.ANTHROPIC_AUTH_TOKEN ?? null, key: process.env.ANTHROPIC_API_KEY ?? null }));
process.exit(Number(process.env.FAKE_CLAUDE_EXIT ?? 0));
`, { mode: 0o755 });
  return bin;
}

test('code_starts_a_proxy_once_and_runs_claude_with_args_env_and_exit_code_passed_through', async () => {
  const mock = await startMock({ kind: 'json', fixture: 'text.json' });
  const s = sandbox(mockConfig(mock.url));
  const PATH = `${fakeClaude(s.dir)}:${process.env.PATH}`;
  try {
    let r = s.run(['code', '--config', s.cfg, '--', '-p', 'hello world', '--model', 'opus'], { PATH, FAKE_CLAUDE_EXIT: '7' });
    assert.equal(r.status, 7, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.args, ['-p', 'hello world', '--model', 'opus']);
    assert.match(out.base, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(out.token, 'ccproxy', 'a placeholder token so Claude Code does not ask to log in');
    assert.match(r.stderr, /started a proxy at/);
    assert.equal((await fetch(`${out.base}/health`)).status, 200);

    // Second run: the same proxy; claude's own short options pass through
    // without `--`; a key of the user's own is left alone.
    r = s.run(['code', '--config', s.cfg, '-c', '-p', 'x'], { PATH, ANTHROPIC_API_KEY: 'sk-user' });
    assert.equal(r.status, 0, r.stderr);
    const out2 = JSON.parse(r.stdout);
    assert.deepEqual(out2.args, ['-c', '-p', 'x']);
    assert.equal(out2.base, out.base);
    assert.equal(out2.token, null);
    assert.equal(out2.key, 'sk-user');
    assert.ok(!/started a proxy/.test(r.stderr));

    // No claude on PATH: one line saying how to install it.
    const noClaude = s.run(['code', '--config', s.cfg], { PATH: '/usr/bin:/bin' });
    assert.equal(noClaude.status, 127);
    assert.match(noClaude.stderr, /^ccproxy code: `claude` \(Claude Code\) is not on PATH; install it with: npm install -g @anthropic-ai\/claude-code\n$/);
  } finally {
    s.run(['stop', '--config', s.cfg]);
    assertCleanLog(s);
    await mock.close();
    fs.rmSync(s.dir, { recursive: true, force: true });
  }
});

test('code_and_env_hand_the_proxy_key_to_claude_when_auth_mode_is_keys', async () => {
  const mock = await startMock({ kind: 'json', fixture: 'text.json' });
  const s = sandbox('');
  const state = path.join(s.dir, 'keys.db');
  fs.writeFileSync(s.cfg, `server:\n  port: 0\nauth:\n  mode: keys\n  admin_key: admin-key-0123456789\nstate:\n  path: ${state}\n  poll_ms: 20\n${mockConfig(mock.url)}`);
  const PATH = `${fakeClaude(s.dir)}:${process.env.PATH}`;
  try {
    // No key: one line on how to make one, exit 2, no proxy started.
    let r = s.run(['code', '--config', s.cfg, '--', '-p', 'x'], { PATH });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^ccproxy code: .*auth\.mode: keys.*`ccproxy keys create --name me`.*--key KEY or CCPROXY_API_KEY\n$/);
    assert.equal(s.run(['status', '--config', s.cfg]).status, 3);
    r = s.run(['env', '--config', s.cfg]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /ccproxy keys create --name me/);

    const made = s.run(['keys', 'create', '--name', 'me', '--json', '--state', state]);
    assert.equal(made.status, 0, made.stderr);
    const key = JSON.parse(made.stdout).key;
    // --key: the token is the proxy key and a stale Anthropic key is gone.
    r = s.run(['code', '--config', s.cfg, '--key', key, '--', '-p', 'x'], { PATH, ANTHROPIC_API_KEY: 'sk-stale', ANTHROPIC_AUTH_TOKEN: 'old' });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.token, key);
    assert.equal(out.key, null);
    // CCPROXY_API_KEY does the same; and the proxy takes the key as Bearer.
    r = s.run(['code', '--config', s.cfg, '-p', 'y'], { PATH, CCPROXY_API_KEY: key, ANTHROPIC_API_KEY: 'sk-stale' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).token, key);
    assert.equal(JSON.parse(r.stdout).key, null);
    const res = await fetch(`${out.base}/v1/messages`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: 'x', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 200);

    r = s.run(['env', '--config', s.cfg, '--key', key], { ANTHROPIC_API_KEY: 'sk-stale' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^export ANTHROPIC_AUTH_TOKEN='${key}'$`, 'm'));
    assert.match(r.stdout, /^unset ANTHROPIC_API_KEY$/m);
    r = s.run(['env', '--config', s.cfg, '--shell', 'fish'], { CCPROXY_API_KEY: key });
    assert.match(r.stdout, new RegExp(`^set -gx ANTHROPIC_AUTH_TOKEN '${key}'$`, 'm'));
    assert.match(r.stdout, /^set -e ANTHROPIC_API_KEY$/m);
    const sh = spawnSync('sh', ['-c', `eval "$("${BIN}" env --config "${s.cfg}" --key "${key}")"; printf '%s|%s' "$ANTHROPIC_AUTH_TOKEN" "\${ANTHROPIC_API_KEY-unset}"`], { env: { ...s.env, ANTHROPIC_API_KEY: 'sk-stale' }, encoding: 'utf8' });
    assert.equal(sh.stdout, `${key}|unset`);
  } finally {
    s.run(['stop', '--config', s.cfg]);
    assertCleanLog(s);
    await mock.close();
    fs.rmSync(s.dir, { recursive: true, force: true });
  }
});

test('code_runs_the_real_claude_code_in_print_mode_through_a_proxy_it_started', { timeout: 180000 }, async () => {
  const claudeBin = path.join(ROOT, 'node_modules/.bin');
  assert.ok(fs.existsSync(path.join(claudeBin, 'claude')), 'npm ci installs @anthropic-ai/claude-code');
  const s = sandbox('');
  const file = path.join(s.dir, 'out.txt');
  const mock = await startMock((req) => ({ kind: 'raw', ...answer(req.body, { file }) }));
  fs.writeFileSync(s.cfg, `server:\n  port: 0\n${mockConfig(mock.url).replace('default: mock/mock-model', 'default: mock')}`);
  try {
    const child = spawn(BIN, ['code', '--config', s.cfg, '--', '-p', 'Write hello to out.txt', '--allowedTools', 'Write'], {
      cwd: s.dir,
      env: {
        ...s.env,
        PATH: `${claudeBin}:${process.env.PATH}`,
        ANTHROPIC_API_KEY: 'client-key',
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        DISABLE_AUTOUPDATER: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const code = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(code, 0, out);
    assert.match(out, /Done: the file is written\./);
    assert.equal(fs.readFileSync(file, 'utf8'), 'hello from the mock model\n');
    assert.ok(mock.requests.some((r) => r.headers['x-api-key'] === MOCK_KEY), 'the proxy sent its provider key');
  } finally {
    s.run(['stop', '--config', s.cfg]);
    assertCleanLog(s);
    await mock.close();
    fs.rmSync(s.dir, { recursive: true, force: true });
  }
});
