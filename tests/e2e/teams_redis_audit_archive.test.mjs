// `ccproxy audit archive` on the Redis audit stream (state.redis): the
// entries older than a cutoff go to a file, exactly as `audit export`
// writes them, and leave the stream, which keeps an anchor (the last
// removed entry's seq and hash). Archiving while two instances serve
// requests keeps one chain: `audit verify` passes from the anchor, and
// `audit verify --archive FILE...` passes over the whole history. An
// edited or deleted archived line, an archive missing or out of order, a
// tampered anchor, and an entry deleted or forged after the anchor each
// fail verify naming the entry.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { startProxy, mockConfig } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';
import { startRedisServer } from './lib/redis_server.mjs';

const BIN = process.env.CCPROXY_BIN;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-audit-archive-'));
const stateA = path.join(dir, 'a.db');
const stateB = path.join(dir, 'b.db');
const cfgPath = path.join(dir, 'cli.yaml');
const DB = 5;
const cleanups = [];
let redis, mock, key, cfgFor;

const env = { PATH: process.env.PATH, HOME: dir };
const cli = (args, state = stateA) => spawnSync(BIN, [...args, '--state', state], { env, encoding: 'utf8' });
// The CLI as an operator runs it against the shared Redis.
const shared = (args) => spawnSync(BIN, [...args, '-c', cfgPath], { env, encoding: 'utf8' });
// The same, not waiting: for an archive that runs while requests go on.
function sharedAsync(args) {
  const p = spawn(BIN, [...args, '-c', cfgPath], { env });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d) => { stdout += d; });
  p.stderr.on('data', (d) => { stderr += d; });
  // 'close', not 'exit': the output is read to its end by then.
  return new Promise((resolve) => p.on('close', (status) => resolve({ status, stdout, stderr })));
}
const rcli = (...args) => redis.cli(DB, ...args);
const exportLines = () => shared(['audit', 'export']).stdout.split('\n').filter(Boolean);

before(async () => {
  redis = await startRedisServer(dir);
  mock = await startMock(() => ({ kind: 'raw', status: 200, headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: 'msg_1', type: 'message', role: 'assistant', model: 'mock-model',
      content: [{ type: 'text', text: 'hi' }], stop_reason: 'end_turn', stop_sequence: null,
      usage: { input_tokens: 3, output_tokens: 1 } }) }));
  key = JSON.parse(cli(['keys', 'create', '--name', 'team', '--json']).stdout);
  fs.copyFileSync(stateA, stateB);
  cfgFor = (state) => mockConfig(mock.url, `
auth:
  mode: keys
state:
  path: ${state}
  poll_ms: 50
  flush_ms: 20
  redis: ${redis.url(DB)}
`);
  fs.writeFileSync(cfgPath, cfgFor(stateA));
  cleanups.push(() => mock.close());
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
  await redis.kill();
  fs.rmSync(dir, { recursive: true, force: true });
});

const req = { model: 'mock-model', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] };
async function send(p) {
  const c = new Anthropic({ baseURL: p.url, apiKey: key.key, maxRetries: 0 });
  const { response } = await c.messages.create(req).withResponse();
  return response.headers.get('request-id');
}
// Waits until the stream's head has reached seq n (the state threads push
// off the request path).
async function waitHead(n) {
  for (let i = 0; ; i++) {
    if (Number(rcli('HGET', 'ccp:audit:head', 'seq') || 0) >= n) return;
    assert.ok(i < 400, `the audit stream did not reach ${n} entries`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
// The next whole second after ms, as the UTC date --before takes.
const nextSecond = (ms) => new Date((Math.floor(ms / 1000) + 1) * 1000);
const isoSecond = (d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
async function waitPast(d) {
  while (Date.now() < d.getTime()) await new Promise((r) => setTimeout(r, 20));
}

const archive1 = path.join(dir, 'audit-1.jsonl');
const archive2 = path.join(dir, 'audit-2.jsonl');
let firstIds = [];
let allIds = [];

test('archive_while_requests_go_on_keeps_one_chain_verified_from_the_anchor_and_through_the_archive', async () => {
  const a = await startProxy(cfgFor(stateA));
  const b = await startProxy(cfgFor(stateB));
  cleanups.push(() => a.stop(), () => b.stop());
  // Entries before the cutoff: both instances' config.load and 10 requests.
  firstIds = await Promise.all(Array.from({ length: 10 }, (_, i) => send(i % 2 ? b : a)));
  await waitHead(12);
  const before = exportLines();
  const lastOld = Math.max(...before.map((l) => JSON.parse(l).time_ms));
  const cutoff = nextSecond(lastOld);
  await waitPast(cutoff); // every entry from here on is at or after the cutoff
  const later = [send(a), send(b)];

  // Nothing is older than a cutoff before the first entry: no file made.
  const none = shared(['audit', 'archive', '--before', '2020-01-01', '--out', archive1]);
  assert.equal(none.status, 0, none.stderr);
  assert.match(none.stdout, /nothing to archive/);
  assert.equal(fs.existsSync(archive1), false);

  // The archive runs while both instances keep appending.
  const running = sharedAsync(['audit', 'archive', '--before', isoSecond(cutoff), '--out', archive1]);
  const during = Array.from({ length: 16 }, (_, i) => send(i % 2 ? a : b));
  const ar = await running;
  const ids = await Promise.all([...later, ...during]);
  assert.equal(ar.status, 0, ar.stderr);
  assert.match(ar.stdout, new RegExp(`archived audit entries 1 to ${before.length} \\(${before.length} entries`));
  await a.stop();
  await b.stop();

  // The file is the old entries, line for line as export wrote them.
  const archived = fs.readFileSync(archive1, 'utf8').split('\n').filter(Boolean);
  assert.deepEqual(archived, before);
  assert.equal((fs.statSync(archive1).mode & 0o777), 0o600);
  // They left the stream; the anchor is the last of them.
  const rest = exportLines().map((l) => JSON.parse(l));
  const last = JSON.parse(before[before.length - 1]);
  assert.equal(rest[0].seq, last.seq + 1);
  assert.equal(rcli('HGET', 'ccp:audit:anchor', 'seq'), String(last.seq));
  assert.equal(rcli('HGET', 'ccp:audit:anchor', 'hash'), last.hash);
  // Every request once, across the archive and the stream.
  allIds = [...firstIds, ...ids];
  const seen = [...archived.map((l) => JSON.parse(l)), ...rest].filter((e) => e.kind === 'request').map((e) => e.data.request_id);
  assert.deepEqual([...seen].sort(), [...allIds].sort());

  let v = shared(['audit', 'verify']);
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, new RegExp(`from entry ${last.seq + 1}; entries before it archived; ${rest.length} entries`));
  v = shared(['audit', 'verify', '--archive', archive1]);
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, new RegExp(`entries 1 to ${rest[rest.length - 1].seq}, hash chain verified \\(${archived.length} from 1 archive file, ${rest.length} in the stream\\)`));

  // An archive is never overwritten.
  const again = shared(['audit', 'archive', '--before', '1s', '--out', archive1]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /exists; an archive is never overwritten/);
  assert.deepEqual(fs.readFileSync(archive1, 'utf8').split('\n').filter(Boolean), before);
});

test('a_second_archive_continues_the_first_and_both_verify_in_order_only', async () => {
  await waitPast(nextSecond(Date.now()));
  const entries = exportLines().map((l) => JSON.parse(l));
  const r = shared(['audit', 'archive', '--before', isoSecond(nextSecond(Date.now())), '--out', archive2]);
  assert.equal(r.status, 0, r.stderr);
  // Everything was older: the stream is empty, the anchor is its head.
  assert.equal(exportLines().length, 0);
  assert.equal(rcli('HGET', 'ccp:audit:anchor', 'seq'), String(entries[entries.length - 1].seq));
  let v = shared(['audit', 'verify']);
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, new RegExp(`from entry ${entries[entries.length - 1].seq + 1}; entries before it archived; 0 entries`));
  // New entries after an empty stream still chain on from the anchor.
  const p = await startProxy(cfgFor(stateA));
  await send(p);
  await p.stop();
  v = shared(['audit', 'verify', '--archive', archive1, '--archive', archive2]);
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, /2 archive files/);
  // Out of order, or one missing: verify says where the chain breaks.
  v = shared(['audit', 'verify', '--archive', archive2, '--archive', archive1]);
  assert.equal(v.status, 1);
  assert.match(v.stderr, new RegExp(`audit entry 1 is missing \\(entry ${archive2.replace(/[.]/g, '\\.')}:1 is ${entries[0].seq}\\)`));
  v = shared(['audit', 'verify', '--archive', archive1]);
  assert.equal(v.status, 1);
  assert.match(v.stderr, /the archives end at entry \d+ but the audit stream's archive anchor \(ccp:audit:anchor\) is entry \d+/);
});

test('a_tampered_archive_file_fails_verify_naming_the_entry', async () => {
  const lines = fs.readFileSync(archive1, 'utf8').split('\n').filter(Boolean);
  const i = lines.findIndex((l) => JSON.parse(l).kind === 'request');
  const seq = JSON.parse(lines[i]).seq;
  const tampered = path.join(dir, 'tampered.jsonl');
  const check = (content, re) => {
    fs.writeFileSync(tampered, content.join('\n') + '\n');
    const v = shared(['audit', 'verify', '--archive', tampered, '--archive', archive2]);
    assert.equal(v.status, 1, v.stdout);
    assert.match(v.stderr, re);
    fs.rmSync(tampered);
  };
  const where = `${tampered.replace(/[.]/g, '\\.')}:${i + 1}`;
  // Edited: the data changed, the hash kept.
  check(lines.map((l, j) => (j === i ? l.replace('"status":200', '"status":299') : l)),
    new RegExp(`audit entry ${seq} \\(${where}\\) was edited`));
  // Deleted.
  check(lines.filter((_, j) => j !== i), new RegExp(`audit entry ${seq} is missing`));
  // The last archived line edited: the stream's anchor no longer meets it.
  const n = lines.length;
  const lastEdited = lines.map((l, j) => (j === n - 1 ? l.replace(/"hash":"[0-9a-f]{64}"/, `"hash":"${'e'.repeat(64)}"`) : l));
  check(lastEdited, new RegExp(`audit entry ${JSON.parse(lines[n - 1]).seq} \\(.*:${n}\\) was edited`));
  // Not a line export wrote.
  check([...lines.slice(0, i), 'not json', ...lines.slice(i)], new RegExp(`archived entry .*:${i + 1} \\(after entry ${seq - 1}\\) is not a line`));
});

test('a_tampered_anchor_or_a_stream_entry_after_it_fails_verify_naming_the_entry', async () => {
  // More entries in the stream, so that the first after the anchor is not
  // the only one.
  const p = await startProxy(cfgFor(stateA));
  await send(p);
  await send(p);
  await p.stop();
  const entries = exportLines().map((l) => JSON.parse(l));
  assert.ok(entries.length >= 3);
  const first = entries[0];
  const anchorSeq = rcli('HGET', 'ccp:audit:anchor', 'seq');
  const anchorHash = rcli('HGET', 'ccp:audit:anchor', 'hash');
  assert.equal(shared(['audit', 'verify']).status, 0);
  let v;
  // The anchor's hash edited: the first entry left no longer follows it.
  rcli('HSET', 'ccp:audit:anchor', 'hash', 'a'.repeat(64));
  v = shared(['audit', 'verify']);
  assert.equal(v.status, 1);
  assert.match(v.stderr, new RegExp(`audit entry ${first.seq} \\(${first.stream_id}\\) does not follow the archive anchor \\(ccp:audit:anchor, entry ${first.seq - 1}`));
  // ... and through the archives, the anchor no longer meets them.
  v = shared(['audit', 'verify', '--archive', archive1, '--archive', archive2]);
  assert.equal(v.status, 1);
  assert.match(v.stderr, new RegExp(`archived entry ${anchorSeq} is not the audit stream's archive anchor`));
  rcli('HSET', 'ccp:audit:anchor', 'hash', anchorHash);
  // The anchor's seq moved back: an entry seems inserted.
  rcli('HSET', 'ccp:audit:anchor', 'seq', String(Number(anchorSeq) - 1));
  v = shared(['audit', 'verify']);
  assert.equal(v.status, 1);
  assert.match(v.stderr, new RegExp(`audit entry ${Number(anchorSeq)} is missing \\(entry ${first.stream_id} is ${first.seq}\\): entries after the archive anchor`));
  rcli('HSET', 'ccp:audit:anchor', 'seq', anchorSeq);
  // Malformed, or deleted.
  rcli('HSET', 'ccp:audit:anchor', 'seq', 'x');
  v = shared(['audit', 'verify']);
  assert.equal(v.status, 1);
  assert.match(v.stderr, /archive anchor \(ccp:audit:anchor\) is malformed/);
  rcli('HSET', 'ccp:audit:anchor', 'seq', anchorSeq);
  assert.equal(rcli('RENAME', 'ccp:audit:anchor', 'ccp:audit:anchor:kept'), 'OK');
  v = shared(['audit', 'verify']);
  assert.equal(v.status, 1);
  assert.match(v.stderr, new RegExp(`audit entry 1 is missing \\(entry ${first.stream_id} is ${first.seq}\\)`));
  assert.equal(rcli('RENAME', 'ccp:audit:anchor:kept', 'ccp:audit:anchor'), 'OK');
  assert.equal(shared(['audit', 'verify']).status, 0);

  // After the anchor the chain still holds every entry to account: the
  // first one deleted, a middle one deleted, one forged at the end.
  assert.equal(rcli('COPY', 'ccp:audit', 'ccp:audit:intact'), '1');
  const restore = () => assert.equal(rcli('COPY', 'ccp:audit:intact', 'ccp:audit', 'REPLACE'), '1');
  rcli('XDEL', 'ccp:audit', first.stream_id);
  v = shared(['audit', 'verify']);
  assert.equal(v.status, 1);
  assert.match(v.stderr, new RegExp(`audit entry ${first.seq} is missing \\(entry ${entries[1].stream_id} is ${entries[1].seq}\\): entries after the archive anchor`));
  restore();
  rcli('XDEL', 'ccp:audit', entries[1].stream_id);
  v = shared(['audit', 'verify']);
  assert.equal(v.status, 1);
  assert.match(v.stderr, new RegExp(`audit entry ${entries[1].seq} is missing`));
  restore();
  const last = entries[entries.length - 1];
  const id = rcli('XADD', 'ccp:audit', '*', 'seq', String(last.seq + 1), 'time_ms', '1', 'kind', 'request',
    'data', '{}', 'prev', last.hash, 'hash', 'f'.repeat(64));
  v = shared(['audit', 'verify']);
  assert.equal(v.status, 1);
  assert.match(v.stderr, new RegExp(`audit entry ${last.seq + 1} \\(${id}\\) was edited`));
  restore();
  v = shared(['audit', 'verify', '--archive', archive1, '--archive', archive2]);
  assert.equal(v.status, 0, v.stderr);
});

test('archive_refuses_a_bad_cutoff_or_missing_options', () => {
  let r = shared(['audit', 'archive', '--before', 'yesterday', '--out', path.join(dir, 'x.jsonl')]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--before must be an age \(30d, 12h\) or a UTC date/);
  r = shared(['audit', 'archive', '--before', '2026-02-31', '--out', path.join(dir, 'x.jsonl')]);
  assert.equal(r.status, 2);
  r = shared(['audit', 'archive', '--before', '30d']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--out FILE are required/);
  assert.equal(fs.existsSync(path.join(dir, 'x.jsonl')), false);
});
