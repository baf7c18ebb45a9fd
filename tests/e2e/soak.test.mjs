// The fault-injection soak: two faulty providers (random 429s with
// retry-after, 5xx, resets before and during streams, stalls, missing heads,
// garbage SSE, slow drips; seeded, the seed printed) behind one route with a
// fallback and a concurrency limit, while clients (the official SDK and raw
// fetch) stream, read slowly, abort at random moments and send malformed
// bodies. The accounting that must hold at the end:
//   - every request that was not aborted got a complete, well-formed
//     Anthropic answer or a well-formed Anthropic error (an SSE `error` event
//     once streaming began);
//   - no upstream answer outlives its client (the mocks' unfinished answers
//     drop to 0 once the load stops; their connections all close when the
//     proxy stops);
//   - the proxy's open descriptors return to their start value plus the idle
//     pooled upstream connections (± a small slack);
//   - the proxy exits 0 under ASan/LSan (startProxy's stop checks).
// `make test` runs a short, bounded version; `make soak` a long one
// (SOAK_REQUESTS, SOAK_SEED to replay a run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execSync } from 'node:child_process';
import Anthropic from '@anthropic-ai/sdk';
import { startProxy } from './lib/proxy.mjs';
import { startFaultyMock, rng } from './lib/mock_faults.mjs';
import { parseSse } from './lib/mock_anthropic.mjs';

const REQUESTS = Number(process.env.SOAK_REQUESTS ?? 160);
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 8);
const SEED = Number(process.env.SOAK_SEED ?? Math.floor(Math.random() * 2 ** 31));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fdCount = (pid) => fs.readdirSync(`/proc/${pid}/fd`).length;

const KINDS = ['sdk_stream', 'sdk_json', 'abort', 'slow', 'malformed'];
const MALFORMED = [
  '{"model": "x", "messages": [',
  '{"model":"x","max_tokens":5}',
  '{"model":"x","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result"}]}]}',
  '[]',
  '{"model":"x","max_tokens":"5","messages":[{"role":"user","content":"hi"}]}',
];
const body = (stream) => ({ model: 'claude-soak', max_tokens: 16, stream, messages: [{ role: 'user', content: 'hi' }] });

// A well-formed Anthropic error from the SDK: an HTTP error with a status,
// or an SSE error event (status undefined, the event's JSON in .error).
function wellFormedSdkError(e) {
  if (!(e instanceof Anthropic.APIError) || e instanceof Anthropic.APIConnectionError) return false;
  return typeof e.error?.error?.type === 'string' && (e.status !== undefined || e.error?.type === 'error');
}

async function one(proxy, client, kind, rand) {
  switch (kind) {
    case 'sdk_stream': {
      try {
        let stopped = false;
        for await (const ev of await client.messages.create(body(true))) if (ev.type === 'message_stop') stopped = true;
        return stopped ? 'ok' : 'bad: stream ended without message_stop';
      } catch (e) {
        return wellFormedSdkError(e) ? 'error' : `bad: ${e}`;
      }
    }
    case 'sdk_json': {
      try {
        const m = await client.messages.create(body(false));
        return m.type === 'message' && Array.isArray(m.content) ? 'ok' : 'bad: not a message';
      } catch (e) {
        return wellFormedSdkError(e) ? 'error' : `bad: ${e}`;
      }
    }
    case 'abort': {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), Math.floor(rand() * 150));
      try {
        const res = await fetch(`${proxy.url}/v1/messages`, { method: 'POST', signal: ac.signal, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body(true)) });
        const reader = res.body.getReader();
        for (;;) if ((await reader.read()).done) break;
      } catch { /* aborted, as intended */ }
      return 'aborted';
    }
    case 'slow': {
      const res = await fetch(`${proxy.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body(true)) });
      const reader = res.body.getReader();
      let text = '';
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
        await sleep(10);
      }
      if (res.status !== 200) {
        const j = JSON.parse(text);
        return j.type === 'error' && typeof j.error?.type === 'string' ? 'error' : `bad: ${text}`;
      }
      const events = parseSse(text);
      const last = events.at(-1)?.event;
      if (last === 'message_stop') return 'ok';
      if (last === 'error' && typeof events.at(-1).data.error?.type === 'string') return 'error';
      return `bad: stream ended with ${last}`;
    }
    case 'malformed': {
      const res = await fetch(`${proxy.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: MALFORMED[Math.floor(rand() * MALFORMED.length)] });
      const j = await res.json();
      return res.status === 400 && j.error?.type === 'invalid_request_error' ? 'refused' : `bad: ${res.status}`;
    }
  }
  throw new Error(kind);
}

test('soak_with_faulty_providers_every_request_is_answered_and_nothing_leaks', { timeout: 30 * 60 * 1000 }, async (t) => {
  t.diagnostic(`seed ${SEED}, ${REQUESTS} requests, ${CONCURRENCY} at a time (replay with SOAK_SEED=${SEED})`);
  const rand = rng(SEED);
  const a = await startFaultyMock(SEED ^ 0x1111);
  const b = await startFaultyMock(SEED ^ 0x2222);
  const proxy = await startProxy(`server:
  write_timeout_ms: 2000
upstream:
  connect_timeout_ms: 1000
  first_byte_timeout_ms: 400
  stream_idle_timeout_ms: 400
providers:
  - {name: a, format: anthropic, base_url: '${a.url}', api_key: k, max_in_flight: 4, max_queue: 16, queue_timeout_ms: 3000}
  - {name: b, format: anthropic, base_url: '${b.url}', api_key: k}
router:
  default: [a/m, b/m]
# The test counts the proxy's descriptors in /proc/PID/fd, which a
# non-dumpable process (the default) keeps from a non-root user.
security: {protect_memory: false}
`);
  const outcomes = {};
  const bad = [];
  let fdStart = 0;
  try {
    // The workers set up (loops, curl's wake-up pairs) after the listening
    // line: the start value is the count once it holds still.
    for (let same = 0, last = -1; same < 5; await sleep(20)) {
      const n = fdCount(proxy.pid);
      same = n === last ? same + 1 : 0;
      last = n;
      fdStart = n;
    }
    const client = new Anthropic({ baseURL: proxy.url, apiKey: 'k', maxRetries: 0 });
    const plan = Array.from({ length: REQUESTS }, () => KINDS[Math.floor(rand() * KINDS.length)]);
    let next = 0;
    const worker = async () => {
      while (next < plan.length) {
        const kind = plan[next++];
        const r = await one(proxy, client, kind, rand).catch((e) => `bad: ${e}`);
        const key = r.startsWith('bad') ? 'bad' : r;
        outcomes[key] = (outcomes[key] ?? 0) + 1;
        if (r.startsWith('bad')) bad.push(`${kind}: ${r}`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    // The load has stopped: every upstream answer ends (aborted clients'
    // transfers were cancelled; stalls time out).
    for (let i = 0; a.stats.openAnswers + b.stats.openAnswers > 0; i++) {
      assert.ok(i < 500, `upstream answers still open: ${a.stats.openAnswers + b.stats.openAnswers}`);
      await sleep(20);
    }
    // Descriptors: the start value plus the idle pooled upstream
    // connections and the clients' kept-alive ones (each open on both
    // ends), give or take a few (curl makes its wake-up socket pair on a
    // worker's first transfer). The clients' connections are counted, not
    // closed by a short idle timeout: that raced with their reuse.
    const clientConns = () => execSync(`ss -Htn state established '( sport = :${proxy.port} )'`).toString().split('\n').filter(Boolean).length;
    let pooled = 0;
    let fdEnd = 0;
    for (let i = 0; i < 250; i++) {
      pooled = a.stats.openConnections + b.stats.openConnections + clientConns();
      fdEnd = fdCount(proxy.pid);
      if (Math.abs(fdEnd - (fdStart + pooled)) <= 4) break;
      await sleep(20);
    }
    if (process.env.SOAK_FDS) t.diagnostic(execSync(`ss -tanpx 2>/dev/null | grep "pid=${proxy.pid}," || true`).toString());
    if (process.env.SOAK_FDS) t.diagnostic(fs.readdirSync(`/proc/${proxy.pid}/fd`).map((f) => { try { return fs.readlinkSync(`/proc/${proxy.pid}/fd/${f}`); } catch { return "?"; } }).join(" "));
    const report = { seed: SEED, requests: REQUESTS, outcomes, upstream: { a: a.stats.faults, b: b.stats.faults, attempts: a.stats.requests + b.stats.requests }, fd: { start: fdStart, end: fdEnd, open_connections: pooled } };
    t.diagnostic(JSON.stringify(report));
    if (process.env.SOAK_REPORT) fs.writeFileSync(process.env.SOAK_REPORT, JSON.stringify(report, null, 2));
    assert.deepEqual(bad, [], `requests without a well-formed answer (seed ${SEED})`);
    assert.ok(Math.abs(fdEnd - (fdStart + pooled)) <= 4, `descriptors: ${fdStart} at start, ${fdEnd} now, ${pooled} connections open`);
  } finally {
    await proxy.stop(); // exit 0: ASan/LSan clean
    for (let i = 0; a.stats.openConnections + b.stats.openConnections > 0 && i < 250; i++) await sleep(20);
    const left = a.stats.openConnections + b.stats.openConnections;
    await a.close();
    await b.close();
    assert.equal(left, 0, 'every upstream connection closed with the proxy');
  }
});
