// Shell completions (`ccproxy completion bash|zsh|fish`) and the man page,
// both written from the command table: each shell really completes the
// commands and option values, and the man page has a section per command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = process.env.CCPROXY_BIN;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const has = (shell) => spawnSync('sh', ['-c', `command -v ${shell}`]).status === 0;

function ccproxy(args) {
  return spawnSync(BIN, args, { encoding: 'utf8', env: { PATH: process.env.PATH, ASAN_OPTIONS: 'detect_leaks=1' } });
}

// The commands `ccproxy help` lists.
function commands() {
  const r = ccproxy(['help']);
  assert.equal(r.status, 0);
  return [...r.stdout.matchAll(/^ {2}([a-z][a-z-]*) {2,}\S/gm)].map((m) => m[1]);
}

function script(shell) {
  const r = ccproxy(['completion', shell]);
  assert.equal(r.status, 0, r.stderr);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-compl-'));
  const file = path.join(dir, shell === 'zsh' ? '_ccproxy' : `ccproxy.${shell}`);
  fs.writeFileSync(file, r.stdout);
  return { dir, file };
}

test('bash_completes_commands_options_and_their_values', () => {
  const { dir, file } = script('bash');
  const complete = (words) => {
    const cw = words.length - 1;
    const arr = words.map((w) => `'${w}'`).join(' ');
    const r = spawnSync('bash', ['-c', `source '${file}'; COMP_WORDS=(${arr}); COMP_CWORD=${cw}; _ccproxy; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean);
  };
  try {
    assert.deepEqual(complete(['ccproxy', '']).sort(), [...commands(), 'help'].sort());
    assert.deepEqual(complete(['ccproxy', 'st']), ['start', 'stop', 'status', 'statusline']);
    assert.deepEqual(complete(['ccproxy', 'serve', '--log-level', '']), ['error', 'warn', 'info', 'debug']);
    assert.deepEqual(complete(['ccproxy', 'status', '--']), ['--config', '--json', '--help']);
    assert.deepEqual(complete(['ccproxy', 'completion', '']), ['bash', 'zsh', 'fish']);
    assert.deepEqual(complete(['ccproxy', 'start', '--port', '']), [], 'a free value: nothing to offer');
    // --config takes a file name.
    fs.writeFileSync(path.join(dir, 'my.yaml'), '');
    assert.deepEqual(complete(['ccproxy', 'check', '--config', path.join(dir, 'my')]), [path.join(dir, 'my.yaml')]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('fish_completes_commands_with_their_summaries', { skip: !has('fish') && 'fish is not installed' }, () => {
  const { dir, file } = script('fish');
  const complete = (line) => {
    const r = spawnSync('fish', ['--no-config', '-c', `source '${file}'; complete -C '${line}'`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean);
  };
  try {
    assert.deepEqual(complete('ccproxy st').map((l) => l.split('\t')[0]).sort(), ['start', 'status', 'statusline', 'stop']);
    assert.ok(complete('ccproxy st').includes("statusline\tprint a line for Claude Code's status bar"));
    assert.deepEqual(complete('ccproxy env --shell ').sort(), ['bash', 'fish', 'sh', 'zsh']);
    assert.deepEqual(complete('ccproxy reload --').map((l) => l.split('\t')[0]).sort(), ['--config', '--help', '--json']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('zsh_completes_option_values_in_a_real_interactive_shell', { skip: !has('zsh') && 'zsh is not installed' }, () => {
  const { dir } = script('zsh');
  // An interactive zsh on a pseudo-terminal (zsh/zpty): type, press Tab,
  // read the listing.
  const driver = `
zmodload zsh/zpty
zpty z 'zsh -f -i'
zpty -w z 'PS1="> "; fpath=(${dir} $fpath); autoload -U compinit; compinit -u -D; setopt nobeep'
zpty -w -n z $'ccproxy env --shell \\t'
zpty -r -m z out '*zsh*' && print -r -- "$out"
zpty -d z
`;
  try {
    const r = spawnSync('zsh', ['-f', '-c', driver], { encoding: 'utf8', timeout: 20000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, ''), /bash +fish +sh +zsh/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('completion_refuses_an_unknown_shell', () => {
  const r = ccproxy(['completion', 'tcsh']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /bash, zsh or fish/);
});

test('every_command_has_help_and_a_man_page_section', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-man-'));
  try {
    const page = path.join(out, 'ccproxy.1');
    const r = spawnSync(path.join(ROOT, 'scripts/gen-man.sh'), [BIN, page], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const man = fs.readFileSync(page, 'utf8');
    const cmds = commands();
    assert.ok(cmds.length >= 15, cmds.join(' '));
    for (const c of cmds) {
      const h = ccproxy([c, '--help']);
      assert.equal(h.status, 0, c);
      assert.match(h.stdout, new RegExp(`^usage: ccproxy ${c}`), c);
      assert.match(man, new RegExp(`^\\.SS ${c}$`, 'm'), `the man page documents ${c}`);
    }
    assert.match(man, /XDG_STATE_HOME/);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
