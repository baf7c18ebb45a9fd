// `ccproxy init` in a real terminal: tmux runs it in a pane, the test types
// the answers with send-keys and reads the screen with capture-pane, then
// checks the file written (its routes, ${VAR} keys, pipelines) with
// `ccproxy check`. A private tmux server (-L) keeps it apart from any other.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const BIN = process.env.CCPROXY_BIN;
const SOCK = `ccp-init-${process.pid}`;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ccp-init-tty-'));

function tmux(...args) {
  return execFileSync('tmux', ['-L', SOCK, '-f', '/dev/null', ...args], { encoding: 'utf8' });
}

after(() => {
  spawnSync('tmux', ['-L', SOCK, 'kill-server']);
  fs.rmSync(tmp, { recursive: true, force: true });
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls the screen until re matches (a generous deadline: a hang fails the
// test, slowness does not).
async function screenUntil(session, re) {
  let screen = '';
  for (let i = 0; i < 300; i++) {
    screen = tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', session);
    if (re.test(screen)) return screen;
    await sleep(100);
  }
  assert.fail(`screen never showed ${re}:\n${screen}`);
}

async function answer(session, prompt, keys) {
  await screenUntil(session, prompt);
  // -l: literal text, then Enter on its own.
  if (keys) tmux('send-keys', '-t', session, '-l', keys);
  tmux('send-keys', '-t', session, 'Enter');
}

function startInit(session, home, extraEnv = '', args = '') {
  assert.ok(BIN, 'CCPROXY_BIN must name the built binary');
  fs.mkdirSync(home, { recursive: true });
  const rc = path.join(home, 'rc');
  // The pane's shell writes the exit code where the test can read it, then
  // stays open so the last screen can still be captured.
  const cmd = `env -i PATH=/usr/bin:/bin HOME=${home} TERM=xterm NO_COLOR=1 ${extraEnv} ` +
    `${BIN} init ${args}; echo $? > ${rc}; sleep 600`;
  tmux('new-session', '-d', '-s', session, '-x', '160', '-y', '60', cmd);
  return rc;
}

async function exitCode(rcFile) {
  for (let i = 0; i < 300 && !fs.existsSync(rcFile); i++) await sleep(100);
  return Number(fs.readFileSync(rcFile, 'utf8').trim());
}

test('init_in_a_terminal_asks_providers_keys_routes_pipelines_and_writes_a_valid_config', async () => {
  const home = path.join(tmp, 'a');
  const out = path.join(home, 'out.yaml');
  const rc = startInit('a', home);
  // The catalog is listed, numbered.
  const first = await screenUntil('a', /Providers \(numbers or names.*\[1\]: $/m);
  assert.match(first, /^\s+3\) deepseek\s+DeepSeek\s+DEEPSEEK_API_KEY/m);
  assert.match(first, /^\s+13\) ollama\s+Ollama \(local\)\s+no key \(local\)/m);
  assert.ok(!first.includes('\x1b['), 'NO_COLOR: no escape sequences');
  await answer('a', /Providers .*: $/m, '3 ollama');
  await answer('a', /Variable holding the deepseek key \[DEEPSEEK_API_KEY\]: $/m, 'MY_DS_KEY');
  const routes = await screenUntil('a', /Route for default \[1\]: $/m);
  assert.match(routes, /1\) deepseek\/deepseek-chat/);
  assert.match(routes, /3\) ollama\/qwen2\.5-coder:7b/);
  assert.match(routes, /MY_DS_KEY is not set now/);
  await answer('a', /Route for default \[1\]: $/m, '');
  await answer('a', /Route for background \[0\]: $/m, '3');
  await answer('a', /Route for thinking \[2\]: $/m, '');
  await answer('a', /Route for long_context \[0\]: $/m, 'nowhere/x'); // refused, asked again
  await screenUntil('a', /does not name a chosen provider/);
  await answer('a', /Route for long_context \[0\]: $/m, 'ollama/qwen3-coder:30b');
  await answer('a', /Route for web_search \[0\]: $/m, '');
  await answer('a', /Route for image \[0\]: $/m, '');
  await answer('a', /Use the 'deepseek' dialect for deepseek \(recommended\) \[Y\/n\]: $/m, 'n');
  await answer('a', /Use the 'ollama' dialect for ollama \(recommended\) \[Y\/n\]: $/m, '');
  await answer('a', /Write the config to \[.*config\.yaml\]: $/m, out);
  const end = await screenUntil('a', /Start it: +ccproxy serve --config/);
  assert.match(end, /Wrote .*out\.yaml/);
  assert.match(end, /note: MY_DS_KEY is not set/);
  assert.match(end, /ok, 2 providers, default route deepseek\/deepseek-chat/);
  assert.equal(await exitCode(rc), 0);

  const yaml = fs.readFileSync(out, 'utf8');
  assert.match(yaml, /api_key: \$\{MY_DS_KEY\}/);
  assert.match(yaml, /^  background: ollama\/qwen2\.5-coder:7b/m);
  assert.match(yaml, /^  thinking: deepseek\/deepseek-reasoner/m);
  assert.match(yaml, /^  long_context: ollama\/qwen3-coder:30b/m);
  assert.match(yaml, /models: \[qwen2\.5-coder:7b, qwen3-coder:30b\]/);
  assert.match(yaml, /^    pipeline: ollama/m);
  assert.doesNotMatch(yaml, /pipeline: deepseek/);
  const chk = spawnSync(BIN, ['check', '--config', out], {
    env: { PATH: process.env.PATH, MY_DS_KEY: 'k' }, encoding: 'utf8' });
  assert.equal(chk.status, 0, chk.stderr);
  assert.match(chk.stdout, /ok, 2 providers, default route deepseek\/deepseek-chat/);
});

test('init_in_a_terminal_writes_a_raw_key_only_when_asked_and_keeps_the_file_private', async () => {
  const home = path.join(tmp, 'b');
  const rc = startInit('b', home, 'OPENAI_API_KEY=set-already');
  const first = await screenUntil('b', /Providers .*\[4\]: $/m); // proposes the provider whose key is set
  assert.match(first, /OPENAI_API_KEY \(set\)/);
  await answer('b', /Providers .*: $/m, '');
  await answer('b', /Variable holding the openai key \[OPENAI_API_KEY\]: $/m, 'sk-raw-123');
  const s = await screenUntil('b', /Write it into the file as the key itself \[y\/N\]: $/m);
  assert.match(s, /That is not a variable name/);
  await answer('b', /key itself \[y\/N\]: $/m, 'y');
  for (const st of ['default', 'background', 'thinking', 'long_context', 'web_search', 'image'])
    await answer('b', new RegExp(`Route for ${st} \\[\\d+\\]: $`, 'm'), '');
  await answer('b', /Write the config to \[.*\]: $/m, '');
  await screenUntil('b', /Start it:/);
  assert.equal(await exitCode(rc), 0);
  const file = path.join(home, '.config/ccproxy/config.yaml');
  assert.match(fs.readFileSync(file, 'utf8'), /api_key: sk-raw-123/);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
});

test('init_in_a_terminal_proposes_the_providers_given_and_writes_nothing_when_input_ends', async () => {
  const home = path.join(tmp, 'c');
  const rc = startInit('c', home, '', '--provider groq');
  await screenUntil('c', /Providers .*\[6\]: $/m); // groq is row 6
  tmux('send-keys', '-t', 'c', 'C-d');
  const s = await screenUntil('c', /input ended; nothing written/);
  assert.doesNotMatch(s, /Wrote/);
  assert.equal(await exitCode(rc), 1);
  assert.ok(!fs.existsSync(path.join(home, '.config/ccproxy/config.yaml')));
});
