// The setup commands without a terminal: `ccproxy providers` (the catalog),
// `ccproxy init --yes` (a config from flags) and `ccproxy import-ccr` (a
// claude-code-router config converted); every file they write passes
// `ccproxy check`.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = process.env.CCPROXY_BIN;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ccp-setup-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function ccproxy(args, env = {}, input = '') {
  assert.ok(BIN, 'CCPROXY_BIN must name the built binary');
  return spawnSync(BIN, args, {
    env: { PATH: process.env.PATH, HOME: tmp, ASAN_OPTIONS: 'detect_leaks=1', ...env },
    encoding: 'utf8', timeout: 15000, input,
  });
}

test('providers_lists_the_catalog_as_text_and_json', () => {
  const r = ccproxy(['providers']);
  assert.equal(r.status, 0);
  for (const name of ['anthropic', 'openrouter', 'deepseek', 'openai', 'gemini', 'groq', 'moonshot',
    'zai', 'qwen', 'minimax', 'together', 'fireworks', 'ollama', 'lmstudio', 'vllm', 'llamacpp'])
    assert.match(r.stdout, new RegExp(`^${name} `, 'm'));
  const j = JSON.parse(ccproxy(['providers', '--json']).stdout);
  const ds = j.find((p) => p.name === 'deepseek');
  assert.equal(ds.base_url, 'https://api.deepseek.com/anthropic');
  assert.equal(ds.stages.thinking, 'deepseek-reasoner');
  assert.deepEqual(ds.pipeline, ['deepseek']);
  assert.equal(ccproxy(['providers', '--bogus']).status, 2);
  assert.equal(ccproxy(['providers', '--help']).status, 0);
});

test('init_yes_writes_a_config_from_flags_that_check_accepts', () => {
  const out = path.join(tmp, 'sub/dir/init.yaml');
  const r = ccproxy(['init', '--yes', '--provider', 'openai', '--provider', 'groq',
    '--default', 'groq/openai/gpt-oss-120b', '--background', 'openai/gpt-5-mini',
    '--long-context', 'openai/gpt-5', '--key-env', 'groq=TEAM_GROQ', '--output', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Start it: +ccproxy serve --config .*init\.yaml/);
  assert.match(r.stderr, /note: OPENAI_API_KEY is not set/);
  const y = fs.readFileSync(out, 'utf8');
  assert.match(y, /api_key: \$\{TEAM_GROQ\}/);
  assert.match(y, /^  default: groq\/openai\/gpt-oss-120b/m);
  const chk = ccproxy(['check', '--config', out], { OPENAI_API_KEY: 'a', TEAM_GROQ: 'b' });
  assert.equal(chk.status, 0, chk.stderr);
  assert.match(chk.stdout, /default route groq\/openai\/gpt-oss-120b/);
  // It does not overwrite without --force.
  const again = ccproxy(['init', '--yes', '--provider', 'openai', '--output', out]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /--force overwrites it/);
  assert.equal(ccproxy(['init', '--yes', '-p', 'openai', '-o', out, '--force']).status, 0);
});

test('init_refuses_bad_flags_and_a_missing_terminal', () => {
  let r = ccproxy(['init', '--yes', '--provider', 'nope']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown provider 'nope'/);
  r = ccproxy(['init', '--yes']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /no provider chosen/);
  r = ccproxy(['init', '--yes', '-p', 'gemini', '--thinking', 'openai/gpt-5', '-o', '-']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /thinking route 'openai\/gpt-5' does not name a chosen provider/);
  r = ccproxy(['init']); // stdin is a pipe
  assert.equal(r.status, 2);
  assert.match(r.stderr, /not a terminal: give --yes/);
  r = ccproxy(['init', '--yes', '-p', 'ollama', '-o', '-']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^  - name: ollama/m);
  assert.match(r.stderr, /<stdout>: ok, 1 provider, default route ollama\/qwen2\.5-coder:7b/);
});

test('import_ccr_reads_the_default_path_writes_a_checked_config_and_reports_the_rest', () => {
  const home = path.join(tmp, 'ccrhome');
  fs.mkdirSync(path.join(home, '.claude-code-router'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'tests/fixtures/ccr/readme.json'),
    path.join(home, '.claude-code-router/config.json'));
  const out = path.join(home, 'ccproxy.yaml');
  const r = ccproxy(['import-ccr', '--output', out], { HOME: home });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /What has no exact equivalent:/);
  assert.match(r.stderr, /- APIKEY/);
  assert.match(r.stderr, /export DEEPSEEK_API_KEY=<the key>/);
  assert.match(r.stderr, /ok, 8 providers, default route deepseek\/deepseek-chat/);
  assert.ok(!r.stderr.includes('sk-xxx') && !r.stderr.includes('your-secret-key'));
  const keys = { OPENROUTER_API_KEY: 'a', DEEPSEEK_API_KEY: 'b', GEMINI_API_KEY: 'c',
    VOLCENGINE_API_KEY: 'd', AIHUBMIX_API_KEY: 'e' };
  const chk = ccproxy(['check', '--config', out], keys);
  assert.equal(chk.status, 0, chk.stderr);
  // To standard output without --output; an existing file is kept.
  const s = ccproxy(['import-ccr', path.join(ROOT, 'tests/fixtures/ccr/env_keys.json')]);
  assert.equal(s.status, 0, s.stderr);
  assert.match(s.stdout, /^  long_context: gemini-pro\/gemini-2\.5-pro$/m);
  assert.equal(ccproxy(['import-ccr', '-o', out], { HOME: home }).status, 1);
});

test('import_ccr_refuses_a_missing_or_foreign_file', () => {
  let r = ccproxy(['import-ccr', path.join(tmp, 'none.json')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cannot read .*none\.json/);
  const f = path.join(tmp, 'foreign.json');
  fs.writeFileSync(f, '{"hello": 1}');
  r = ccproxy(['import-ccr', f]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no Providers: is this a claude-code-router config\.json\?/);
  assert.equal(ccproxy(['import-ccr', 'a', 'b']).status, 2);
});
