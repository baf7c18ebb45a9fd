// `ccproxy audit archive` on the state file's audit table (no
// state.redis): the rows older than a cutoff go to a file exactly as
// `audit export` writes them, and leave the table in one transaction that
// stores the anchor (table audit_anchor), while a running proxy keeps
// appending. `audit verify` then passes from the anchor, `verify
// --archive` over the whole history; the newest row always stays (the
// proxy reads the chain's end from the table); a tampered archived line
// or a tampered anchor fails verify naming the row.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { startProxy, mockConfig } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';

const BIN = process.env.CCPROXY_BIN;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-audit-archive-file-'));
const state = path.join(dir, 'state.db');
const env = { PATH: process.env.PATH, HOME: dir };
const cleanups = [];
const cli = (args) => spawnSync(BIN, [...args, '--state', state], { env, encoding: 'utf8' });
function cliAsync(args) {
  const p = spawn(BIN, [...args, '--state', state], { env });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d) => { stdout += d; });
  p.stderr.on('data', (d) => { stderr += d; });
  // 'close', not 'exit': the output is read to its end by then.
  return new Promise((resolve) => p.on('close', (status) => resolve({ status, stdout, stderr })));
}
const sql = (q) => execFileSync('sqlite3', [state, q], { encoding: 'utf8' }).trim();
const exportLines = () => cli(['audit', 'export']).stdout.split('\n').filter(Boolean);
let mock, key, proxy;

before(async () => {
  mock = await startMock(() => ({ kind: 'raw', status: 200, headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: 'msg_1', type: 'message', role: 'assistant', model: 'mock-model',
      content: [{ type: 'text', text: 'hi' }], stop_reason: 'end_turn', stop_sequence: null,
      usage: { input_tokens: 3, output_tokens: 1 } }) }));
  key = JSON.parse(cli(['keys', 'create', '--name', 'team', '--json']).stdout);
  proxy = await startProxy(mockConfig(mock.url, `
auth:
  mode: keys
state:
  path: ${state}
  poll_ms: 50
  flush_ms: 20
`));
  cleanups.push(() => mock.close(), () => proxy.stop());
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
  fs.rmSync(dir, { recursive: true, force: true });
});

const req = { model: 'mock-model', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] };
const send = () => new Anthropic({ baseURL: proxy.url, apiKey: key.key, maxRetries: 0 }).messages.create(req);
async function waitRows(n) {
  for (let i = 0; ; i++) {
    if (exportLines().length >= n) return;
    assert.ok(i < 400, `the audit table did not reach ${n} rows`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const nextSecond = (ms) => new Date((Math.floor(ms / 1000) + 1) * 1000);
const isoSecond = (d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
async function waitPast(d) {
  while (Date.now() < d.getTime()) await new Promise((r) => setTimeout(r, 20));
}
const archive1 = path.join(dir, 'audit-1.jsonl');
const archive2 = path.join(dir, 'audit-2.jsonl');

test('state_file_archive_while_the_proxy_appends_verifies_from_the_anchor_and_through_the_archive', async () => {
  for (let i = 0; i < 6; i++) await send();
  await waitRows(8); // key.create, config.load, 6 requests
  const before = exportLines();
  const cutoff = nextSecond(Math.max(...before.map((l) => JSON.parse(l).time_ms)));
  await waitPast(cutoff);
  // One row after the cutoff first: the newest row always stays, and this
  // one, not an old one, is to be it.
  await send();
  await waitRows(9);
  const running = cliAsync(['audit', 'archive', '--before', isoSecond(cutoff), '--out', archive1]);
  const during = Promise.all(Array.from({ length: 7 }, () => send()));
  const r = await running;
  await during;
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`archived audit entries 1 to ${before.length} \\(${before.length} entries`));
  assert.deepEqual(fs.readFileSync(archive1, 'utf8').split('\n').filter(Boolean), before);
  await waitRows(8);
  const last = JSON.parse(before[before.length - 1]);
  assert.equal(sql('SELECT seq || \' \' || hash FROM audit_anchor'), `${last.seq} ${last.hash}`);
  assert.equal(Number(sql('SELECT min(seq) FROM audit')), last.seq + 1);
  await waitRows(8); // the 8 requests during the archive
  let v = cli(['audit', 'verify']);
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, new RegExp(`audit record intact: from row ${last.seq + 1}; rows before it archived; 8 rows`));
  v = cli(['audit', 'verify', '--archive', archive1]);
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, new RegExp(`entries 1 to ${last.seq + 8}, hash chain verified \\(${before.length} from 1 archive file, 8 in the state file\\)`));
  const again = cli(['audit', 'archive', '--before', '1s', '--out', archive1]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /exists; an archive is never overwritten/);
});

test('state_file_archive_keeps_the_newest_row_and_the_chain_goes_on_from_it', async () => {
  await waitPast(nextSecond(Date.now()));
  const newest = Number(sql('SELECT max(seq) FROM audit'));
  const r = cli(['audit', 'archive', '--before', isoSecond(nextSecond(Date.now())), '--out', archive2]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(sql('SELECT count(*) || \' \' || max(seq) FROM audit'), `1 ${newest}`);
  // Nothing more can go: the newest row stays.
  const none = cli(['audit', 'archive', '--before', '2099-01-01', '--out', path.join(dir, 'none.jsonl')]);
  assert.equal(none.status, 0, none.stderr);
  assert.match(none.stdout, /nothing to archive.*newest row always stays/);
  assert.equal(fs.existsSync(path.join(dir, 'none.jsonl')), false);
  await send();
  await waitRows(2);
  let v = cli(['audit', 'verify', '--archive', archive1, '--archive', archive2]);
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, new RegExp(`entries 1 to ${newest + 1},.*2 archive files, 2 in the state file`));
  v = cli(['audit', 'verify', '--archive', archive2, '--archive', archive1]);
  assert.equal(v.status, 1);
  assert.match(v.stderr, /audit entry 1 is missing/);
});

test('state_file_a_tampered_archive_or_anchor_fails_verify_naming_the_row', async () => {
  const lines = fs.readFileSync(archive1, 'utf8').split('\n').filter(Boolean);
  const i = lines.findIndex((l) => JSON.parse(l).kind === 'request');
  const seq = JSON.parse(lines[i]).seq;
  fs.writeFileSync(path.join(dir, 't.jsonl'), lines.map((l, j) => (j === i ? l.replace('"status":200', '"status":299') : l)).join('\n') + '\n');
  let v = cli(['audit', 'verify', '--archive', path.join(dir, 't.jsonl'), '--archive', archive2]);
  assert.equal(v.status, 1);
  assert.match(v.stderr, new RegExp(`audit entry ${seq} \\(.*t\\.jsonl:${i + 1}\\) was edited`));

  const anchorSeq = Number(sql('SELECT seq FROM audit_anchor'));
  const anchorHash = sql('SELECT hash FROM audit_anchor');
  sql(`UPDATE audit_anchor SET hash = '${'a'.repeat(64)}'`);
  v = cli(['audit', 'verify']);
  assert.equal(v.status, 1);
  assert.match(v.stderr, new RegExp(`audit row ${anchorSeq + 1} does not follow the archive anchor \\(table audit_anchor, row ${anchorSeq}`));
  v = cli(['audit', 'verify', '--archive', archive1, '--archive', archive2]);
  assert.equal(v.status, 1);
  assert.match(v.stderr, new RegExp(`archived entry ${anchorSeq} is not the state file's archive anchor`));
  sql(`UPDATE audit_anchor SET hash = '${anchorHash}', seq = ${anchorSeq - 1}`);
  v = cli(['audit', 'verify']);
  assert.equal(v.status, 1);
  assert.match(v.stderr, new RegExp(`audit row ${anchorSeq + 1} is not the one after the archive anchor \\(table audit_anchor, row ${anchorSeq - 1}\\)`));
  sql(`UPDATE audit_anchor SET seq = ${anchorSeq}`);
  sql('ALTER TABLE audit_anchor RENAME TO kept');
  v = cli(['audit', 'verify']);
  assert.equal(v.status, 1);
  assert.match(v.stderr, /audit row 1 is missing/);
  sql('ALTER TABLE kept RENAME TO audit_anchor');
  assert.equal(cli(['audit', 'verify']).status, 0);
  // A row after the anchor deleted is still caught.
  await send();
  await waitRows(3);
  sql(`DELETE FROM audit WHERE seq = ${anchorSeq + 2}`);
  v = cli(['audit', 'verify']);
  assert.equal(v.status, 1);
  assert.match(v.stderr, new RegExp(`audit row ${anchorSeq + 2} is missing`));
});
