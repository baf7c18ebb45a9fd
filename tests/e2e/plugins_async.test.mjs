// Process-isolated event hooks off the worker's loop: a plugin host that
// takes its time over an event holds only its own answer (another request
// on the same worker completes meanwhile); the answers come out
// byte-identical to the same plugins run in-process (synchronously),
// streaming and not, long streams included (the provider is paused while
// the hosts fall behind); a host that crashes mid-stream keeps on_error's
// meaning (skip: the rest passes as is; fail: an error event naming the
// plugin); events a hook returns that no Anthropic stream holds are dropped
// (the SDK parses the rest); a client that leaves while a call is out ends cleanly (ASan
// checks at stop) and the host serves the next answer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { startProxy, MOCK_KEY } from './lib/proxy.mjs';
import { startMock, fixture } from './lib/mock_anthropic.mjs';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-plugins-async-'));
const plugin = (name, src) => {
  const p = path.join(dir, `${name}.lua`);
  fs.writeFileSync(p, src);
  return p;
};

// Edits text (upper case), drops pings, adds a marker delta after each
// text delta and adds to the output tokens of message_delta.
const EDIT = plugin('edit', `
return {
  name = 'edit',
  event = function(ev, ctx)
    if ev.type == 'ping' then return false end
    if ev.type == 'content_block_delta' and ev.kind == 'text_delta' then
      ev.text = ev.text:upper()
      return { ev, { type = 'content_block_delta', index = ev.index, kind = 'text_delta', text = '|' } }
    end
    if ev.type == 'message_delta' and ev.stop_reason == 'tool_use' then ev.stop_reason = 'tool_use' end
  end,
}`);
// A second link after it: doubles each '|' marker and drops empty deltas.
const MARK = plugin('mark', `
return {
  name = 'mark',
  event = function(ev)
    if ev.type == 'content_block_delta' and ev.kind == 'text_delta' then
      if ev.text == '' then return false end
      ev.text = ev.text:gsub('|', '||')
    end
  end,
}`);
// Computes for 2-3 s of wall time on message_start (the clock, not CPU
// time: the machine may be busy).
const SLOW = plugin('slow', `
return {
  name = 'slow',
  event = function(ev)
    if ev.type == 'message_start' then
      local t = os.time() while os.time() - t < 3 do end
    end
    if ev.type == 'content_block_delta' and ev.kind == 'text_delta' then ev.text = ev.text:upper() end
  end,
}`);
// Upper-cases text; its host is killed by seccomp on the delta that says
// "parse" (test-only ccp.test_syscall).
const CRASHY = plugin('crashy', `
return {
  name = 'crashy',
  event = function(ev)
    if ev.type == 'content_block_delta' and ev.kind == 'text_delta' then
      if ev.text:find('parse', 1, true) then ccp.test_syscall('open') end
      ev.text = ev.text:upper()
    end
  end,
}`);

const request = (model, extra = {}) => ({ model, max_tokens: 100, messages: [{ role: 'user', content: 'hi' }], ...extra });

// A long stream: message_start, n text deltas, the end, sent at once.
const longSse = (n) => {
  const ev = (type, data) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  let s = ev('message_start', { message: { id: 'msg_long', type: 'message', role: 'assistant', model: 'mock-model', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 5, output_tokens: 1 } } });
  s += ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
  for (let i = 0; i < n; i++) s += ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: `w${i} ` } });
  s += ev('content_block_stop', { index: 0 });
  s += ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: n } });
  s += ev('message_stop', {});
  return s;
};

let up;
before(async () => {
  up = await startMock((req) => {
    const m = req.body?.model ?? '';
    const kind = m.split('-')[0]; // text, thinking, tool, long
    if (kind === 'long') return { kind: 'raw', status: 200, headers: { 'content-type': 'text/event-stream' }, body: longSse(2000) };
    const name = { text: 'text', thinking: 'thinking_text', tool: 'tool_use_multi' }[kind] ?? 'text';
    return req.body?.stream ? { kind: 'sse', fixture: `${name}.sse` } : { kind: 'json', fixture: `${name}.json` };
  });
});
after(async () => {
  await up.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

// One provider whose models name the fixture; the pipeline's steps.
const config = (load, steps, server = '') => `
server: {log_level: debug${server}}
plugins:
  dirs: []
  load:
${load.map((l) => `    - ${l}`).join('\n')}
pipelines:
  p: [${steps.join(', ')}]
providers:
  - {name: ant, base_url: '${up.url}', api_key: ${MOCK_KEY}, pipeline: p}
router:
  default: ant/text-model
`;

const post = async (proxy, body) => {
  const r = await fetch(`${proxy.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'client-key', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify(body),
  });
  return { status: r.status, type: r.headers.get('content-type'), body: await r.text() };
};

test('a slow event hook holds only its own answer: another request on the same worker completes meanwhile', async () => {
  // The slow plugin only on the model that asks for it.
  const proxy = await startProxy(`
plugins:
  dirs: []
  load: [{path: ${SLOW}, limits: {timeout_ms: 30000}}]
pipelines:
  slow: [slow]
providers:
  - {name: ant, base_url: '${up.url}', api_key: ${MOCK_KEY}, model_pipelines: {slow-model: slow}}
router:
  default: ant/text-model
`, { args: ['--workers', '1'] });
  try {
    const c = new Anthropic({ baseURL: proxy.url, apiKey: 'client-key', maxRetries: 0 });
    const order = [];
    const sent = up.requests.length;
    // A: streams through the slow plugin; its message_start is held in the
    // host for 2-3 s.
    const a = (async () => {
      const stream = await c.messages.create(request('ant/slow-model', { stream: true }));
      let text = '';
      let first = true;
      for await (const ev of stream) {
        if (first) order.push('A: first event');
        first = false;
        if (ev.type === 'content_block_delta') text += ev.delta.text;
      }
      order.push('A: done');
      return text;
    })();
    // B starts once A's request reached the provider (so A's answer is
    // on its way into the plugin), and has no plugin.
    while (up.requests.length === sent) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 300));
    const b = await c.messages.create(request('claude-sonnet-4-5'));
    order.push('B: done');
    assert.match(b.content[0].text, /^Hello/);
    const text = await a;
    assert.match(text, /^HELLO! THE FILE/);
    assert.deepEqual(order, ['B: done', 'A: first event', 'A: done'],
      'B completed while A was held in the plugin host (on the old code the loop was blocked and A came first)');
  } finally {
    await proxy.stop();
  }
});

test('edited, dropped and added events come out byte-identical to the synchronous (in-process) run', async () => {
  const run = async (isolation) => {
    const proxy = await startProxy(config([`{path: ${EDIT}, isolation: ${isolation}, limits: {timeout_ms: 10000}}`, `{path: ${MARK}, isolation: ${isolation}, limits: {timeout_ms: 10000}}`], ['edit', 'mark']), { args: ['--workers', '1'] });
    const out = {};
    try {
      for (const kind of ['text', 'thinking', 'tool', 'long']) {
        for (const stream of kind === 'long' ? [true] : [false, true]) {
          const r = await post(proxy, request(`ant/${kind}-model`, { stream }));
          out[`${kind} stream=${stream}`] = r;
        }
      }
      // The same through the SDK: a real client parses every byte.
      const c = new Anthropic({ baseURL: proxy.url, apiKey: 'client-key', maxRetries: 0 });
      const s = c.messages.stream(request('ant/text-model'));
      let text = '';
      s.on('text', (t) => { text += t; });
      const final = await s.finalMessage();
      out.sdk = { text, final: final.content[0].text };
      return { out, log: proxy.log() };
    } finally {
      await proxy.stop();
    }
  };
  const sync = await run('inprocess');
  const async_ = await run('process');
  for (const k of Object.keys(sync.out)) assert.deepEqual(async_.out[k], sync.out[k], k);
  assert.equal(sync.out['text stream=true'].status, 200);
  assert.match(sync.out['text stream=true'].body, /"text":"HELLO"/);
  assert.match(sync.out['text stream=true'].body, /"text":"\|\|"/);
  assert.doesNotMatch(sync.out['text stream=true'].body, /event: ping/);
  assert.match(sync.out['long stream=true'].body, /"text":"W1999 "/);
  assert.match(async_.out.sdk.text, /^HELLO\|\|! THE FILE/);
  // 2000 deltas at once outran the hosts: the provider was held back.
  assert.match(async_.log, /the event plugins are not keeping up; upstream paused/);
});

for (const onError of ['skip', 'fail']) {
  for (const stream of [true, false]) {
    test(`a plugin host that crashes mid-answer: on_error ${onError} keeps its meaning (stream: ${stream})`, async () => {
      const proxy = await startProxy(config([`{path: ${CRASHY}, on_error: ${onError}}`], ['crashy']), { env: { CCPROXY_PLUGIN_TEST_SYSCALLS: '1' } });
      try {
        const c = new Anthropic({ baseURL: proxy.url, apiKey: 'client-key', maxRetries: 0 });
        if (onError === 'skip') {
          // The deltas before the crash edited, the rest as the provider sent it.
          let text;
          if (stream) {
            const s = c.messages.stream(request('ant/text-model'));
            text = (await s.finalMessage()).content[0].text;
          } else {
            text = (await c.messages.create(request('ant/text-model'))).content[0].text;
          }
          // (A whole answer's text is one delta: it crashes on the first.)
          const edited = stream ? 'HELLO! THE FILE `MAIN.C` HAS 3 FUNCTIONS — ' : 'Hello! The file `main.c` has 3 functions — ';
          assert.equal(text, `${edited}parse, run and "cleanup".\nDone ✅ 日本語`);
          assert.match(proxy.log(), /plugin 'crashy' event hook failed \(crash\).*SIGSYS.*skipped \(on_error: skip\)/);
          return;
        }
        if (stream) {
          // The events before the crash went out; then the error event.
          const r = await post(proxy, request('ant/text-model', { stream: true }));
          assert.equal(r.status, 200);
          assert.match(r.body, /"text":"HELLO"/);
          assert.match(r.body, /event: error\ndata: \{"type":"error","error":\{"type":"api_error","message":"plugin 'crashy' event hook failed \(crash\)/);
          assert.doesNotMatch(r.body, /parse, run|message_stop/);
          const s = c.messages.stream(request('ant/text-model'));
          await assert.rejects(s.finalMessage(), /plugin 'crashy' event hook failed/);
        } else {
          await assert.rejects(c.messages.create(request('ant/text-model')), (e) => {
            assert.equal(e.status, 500);
            assert.equal(e.error?.error?.type, 'api_error');
            assert.match(e.error.error.message, /plugin 'crashy' event hook failed \(crash\)/);
            return true;
          });
        }
      } finally {
        await proxy.stop();
      }
    });
  }
}

// Beside each text delta it adds events no Anthropic stream holds: a
// content_block that is a string, a negative index, an index past 32 bits
// (which the int cast made block 0's), a delta that is a number. Each is
// dropped with a warning; the rest is an Anthropic stream a real client
// parses, in either isolation mode.
const JUNK = plugin('junk', `
return {
  name = 'junk',
  event = function(ev)
    if ev.type == 'content_block_delta' and ev.kind == 'text_delta' then
      return {
        ev,
        { type = 'content_block_start', index = 7, kind = 'text', raw = 'x' },
        { type = 'content_block_delta', index = -1, kind = 'text_delta', text = '<neg>' },
        { type = 'content_block_delta', index = 4294967296, kind = 'text_delta', text = '<big>' },
        { type = 'content_block_delta', index = ev.index, kind = 'other', raw = 5 },
      }
    end
  end,
}`);

for (const isolation of ['process', 'inprocess']) {
  test(`events a hook returns that no Anthropic stream holds are dropped: the SDK parses the rest (${isolation})`, async () => {
    const proxy = await startProxy(config([`{path: ${JUNK}, isolation: ${isolation}}`], ['junk']));
    try {
      const c = new Anthropic({ baseURL: proxy.url, apiKey: 'client-key', maxRetries: 0 });
      const s = c.messages.stream(request('ant/text-model'));
      let text = '';
      s.on('text', (t) => { text += t; });
      const final = await s.finalMessage();
      assert.equal(final.content.length, 1);
      assert.equal(final.content[0].text, text);
      assert.doesNotMatch(text, /<neg>|<big>/);
      const r = await post(proxy, request('ant/text-model', { stream: true }));
      assert.doesNotMatch(r.body, /"index":-1|"content_block":"x"|"delta":5/);
      const whole = await c.messages.create(request('ant/text-model'));
      assert.equal(whole.content.length, 1);
      assert.doesNotMatch(whole.content[0].text, /<neg>|<big>/);
      assert.match(proxy.log(), /plugin 'junk' event hook returned an event it cannot be .*: dropped/);
    } finally {
      await proxy.stop();
    }
  });
}

test('a client that leaves while an event call is out: a clean end, and the host serves the next answer', async () => {
  const proxy = await startProxy(config([`{path: ${SLOW}, limits: {timeout_ms: 30000}}`], ['slow']), { args: ['--workers', '1'] });
  try {
    const c = new Anthropic({ baseURL: proxy.url, apiKey: 'client-key', maxRetries: 0 });
    for (const stream of [true, false]) {
      const sent = up.requests.length;
      const ac = new AbortController();
      const gone = c.messages.create(request('ant/text-model', { stream }), { signal: ac.signal });
      while (up.requests.length === sent) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 300)); // message_start is in the host now
      ac.abort();
      await assert.rejects(gone);
    }
    // The hosts that were mid-call finish it and go back to the pool.
    const msg = await c.messages.create(request('ant/text-model'));
    assert.match(msg.content[0].text, /^HELLO! THE FILE/);
    const s = c.messages.stream(request('ant/text-model'));
    assert.match((await s.finalMessage()).content[0].text, /^HELLO! THE FILE/);
    assert.match(proxy.log(), /client went away/);
  } finally {
    await proxy.stop(); // exit 0: ASan found no leak and no use after free
  }
});

test('SIGTERM while answers wait on a slow event hook: a clean exit', async () => {
  const proxy = await startProxy(config([`{path: ${SLOW}, limits: {timeout_ms: 30000}}`], ['slow'], ', drain_timeout_ms: 1'), { args: ['--workers', '1'] });
  const c = new Anthropic({ baseURL: proxy.url, apiKey: 'client-key', maxRetries: 0 });
  const sent = up.requests.length;
  const calls = Array.from({ length: 3 }, (_, i) => c.messages.create(request('ant/text-model', { stream: i % 2 === 0 })).then(async (r) => {
    if (r[Symbol.asyncIterator]) for await (const _ of r) { /* drain */ }
  }).catch((e) => e));
  while (up.requests.length < sent + 3) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 300));
  const log = await proxy.stop();
  await Promise.all(calls);
  assert.doesNotMatch(log, /AddressSanitizer|runtime error/, log);
});
