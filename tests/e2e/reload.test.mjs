// Hot reload: SIGHUP, POST /admin/reload and server.watch_config swap the
// config while requests are in flight. Streams begun before a reload finish
// on the snapshot they started with (even when the new config no longer has
// their provider), requests after it follow the new routes, and a config
// with errors is refused while the old one keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import Anthropic from '@anthropic-ai/sdk';
import { startProxy, MOCK_KEY } from './lib/proxy.mjs';
import { startMock, fixture } from './lib/mock_anthropic.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// An upstream whose streams send their first events, then wait for
// release() before sending the rest: streams held open across reloads.
async function startHolder() {
  const blocks = fixture('text.sse').split('\n\n').filter((b) => b.trim());
  let release;
  const released = new Promise((r) => { release = r; });
  let opened = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', async () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const b of blocks.slice(0, 4)) res.write(`${b}\n\n`);
      opened++;
      await released;
      for (const b of blocks.slice(4)) res.write(`${b}\n\n`);
      res.end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    opened: () => opened,
    release,
    close: () => { server.closeAllConnections(); return new Promise((r) => server.close(r)); },
  };
}

// Config "a": default → provider a, and model hold-* → the holder.
// Config "b": default → provider b, and no holder at all.
function config(which, { a, b, holder }, extra = '') {
  const hold = which === 'a' ? `
  - name: h
    format: anthropic
    base_url: ${holder}
    api_key: ${MOCK_KEY}
    models: [hold]` : '';
  const rule = which === 'a' ? `
  rules:
    - name: hold
      when: { model: "hold-*" }
      route: h/hold` : '';
  return `${extra}
providers:
  - name: a
    format: anthropic
    base_url: ${a}
    api_key: ${MOCK_KEY}
    models: [mock-model]
  - name: b
    format: anthropic
    base_url: ${b}
    api_key: ${MOCK_KEY}
    models: [mock-model]${hold}
router:
  default: ${which}/mock-model${rule}
`;
}

const hashOf = (text) => `sha256:${crypto.createHash('sha256').update(text).digest('hex')}`;

async function configHash(proxy) {
  const res = await fetch(`${proxy.url}/status`);
  return (await res.json()).config.hash;
}

async function waitForHash(proxy, want) {
  while ((await configHash(proxy)) !== want) await sleep(20);
}

async function reloadNow(proxy) {
  const res = await fetch(`${proxy.url}/admin/reload`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  return { status: res.status, body: await res.json() };
}

test('twenty_reloads_with_fifty_open_streams_fail_nothing_and_new_requests_follow_new_routes', async () => {
  const ma = await startMock({ kind: 'sse', fixture: 'text.sse' });
  const mb = await startMock({ kind: 'sse', fixture: 'text.sse' });
  const holder = await startHolder();
  const urls = { a: ma.url, b: mb.url, holder: holder.url };
  const proxy = await startProxy(config('a', urls));
  const client = new Anthropic({ baseURL: proxy.url, apiKey: 'unused', maxRetries: 0 });
  try {
    const streams = [];
    for (let i = 0; i < 50; i++) {
      streams.push(client.messages.create({
        model: 'hold-model', max_tokens: 10, stream: true, messages: [{ role: 'user', content: `s${i}` }],
      }).then(async (s) => {
        let text = '';
        let stop = null;
        for await (const e of s) {
          if (e.type === 'content_block_delta') text += e.delta.text;
          if (e.type === 'message_delta') stop = e.delta.stop_reason;
        }
        return { text, stop };
      }));
    }
    while (holder.opened() < 50) await sleep(20);

    for (let i = 1; i <= 20; i++) {
      const which = i % 2 ? 'b' : 'a';
      const yaml = config(which, urls);
      fs.writeFileSync(proxy.cfgPath, yaml);
      if (i % 2) {
        process.kill(proxy.pid, 'SIGHUP');
        await waitForHash(proxy, hashOf(yaml));
      } else {
        const r = await reloadNow(proxy);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.equal(r.body.reloaded, true);
        assert.equal(r.body.config.hash, hashOf(yaml));
      }
      const before = { a: ma.requests.length, b: mb.requests.length };
      const msg = await client.messages.create({ model: 'claude-x', max_tokens: 10, messages: [{ role: 'user', content: `after ${i}` }] });
      assert.equal(msg.content[0].type, 'text');
      assert.equal(ma.requests.length - before.a, which === 'a' ? 1 : 0, `reload ${i}: route a`);
      assert.equal(mb.requests.length - before.b, which === 'b' ? 1 : 0, `reload ${i}: route b`);
    }
    // Config "a" is in force again, but the streams were begun under the
    // very first snapshot, which has been replaced twenty times since.
    holder.release();
    const results = await Promise.all(streams);
    assert.equal(results.length, 50);
    for (const r of results) {
      assert.equal(r.stop, 'end_turn');
      assert.match(r.text, /Done ✅ 日本語$/);
    }
    assert.match(proxy.log(), /config reloaded \(SIGHUP\)/);
    assert.match(proxy.log(), /config reloaded \(POST \/admin\/reload\)/);
  } finally {
    await proxy.stop();
    await ma.close();
    await mb.close();
    await holder.close();
  }
});

test('a_config_with_errors_is_refused_and_the_old_one_keeps_serving', async () => {
  const ma = await startMock({ kind: 'json', fixture: 'text.json' });
  const mb = await startMock({ kind: 'json', fixture: 'text.json' });
  const urls = { a: ma.url, b: mb.url, holder: 'http://127.0.0.1:9' };
  const good = config('a', urls);
  const proxy = await startProxy(good);
  const client = new Anthropic({ baseURL: proxy.url, apiKey: 'unused', maxRetries: 0 });
  try {
    // Route b, with an unknown provider in the default route: line 22.
    fs.writeFileSync(proxy.cfgPath, config('b', urls).replace('default: b/mock-model', 'default: nope/mock-model'));
    const r = await reloadNow(proxy);
    assert.equal(r.status, 422);
    assert.equal(r.body.type, 'error');
    assert.equal(r.body.error.type, 'invalid_request_error');
    assert.equal(r.body.reloaded, false);
    assert.ok(r.body.errors.length >= 1);
    assert.equal(r.body.errors[0].file, fs.realpathSync(proxy.cfgPath));
    assert.ok(r.body.errors[0].line > 0 && r.body.errors[0].col > 0);
    assert.match(r.body.errors[0].message, /nope/);
    // The same through SIGHUP: logged with file:line:col, and refused.
    process.kill(proxy.pid, 'SIGHUP');
    while (!/reload \(SIGHUP\) refused/.test(proxy.log())) await sleep(20);
    assert.match(proxy.log(), new RegExp(`${fs.realpathSync(proxy.cfgPath).replace(/[.]/g, '\\.')}:\\d+:\\d+: .*nope`));
    assert.equal(await configHash(proxy), hashOf(good));
    await client.messages.create({ model: 'claude-x', max_tokens: 10, messages: [{ role: 'user', content: 'still a' }] });
    assert.equal(ma.requests.length, 1);
    assert.equal(mb.requests.length, 0);
    // Fixed, the next reload applies; a listener change is only noted.
    const next = config('b', urls, 'server:\n  port: 1\ndebug:\n  capture:\n    sample: 0.5\n');
    fs.writeFileSync(proxy.cfgPath, next);
    const ok = await reloadNow(proxy);
    assert.equal(ok.status, 200);
    assert.match(ok.body.needs_restart, /server\.port/);
    assert.match(ok.body.needs_restart, /debug\.capture/);
    assert.match(proxy.log(), /needs restart to apply: server\.port/);
    await client.messages.create({ model: 'claude-x', max_tokens: 10, messages: [{ role: 'user', content: 'now b' }] });
    assert.equal(mb.requests.length, 1);
  } finally {
    await proxy.stop();
    await ma.close();
    await mb.close();
  }
});

test('watch_config_reloads_when_the_file_is_replaced', async () => {
  const ma = await startMock({ kind: 'json', fixture: 'text.json' });
  const mb = await startMock({ kind: 'json', fixture: 'text.json' });
  const urls = { a: ma.url, b: mb.url, holder: 'http://127.0.0.1:9' };
  const extra = 'server:\n  watch_config: true\n';
  const proxy = await startProxy(config('a', urls, extra));
  const client = new Anthropic({ baseURL: proxy.url, apiKey: 'unused', maxRetries: 0 });
  try {
    // As an editor saves: a new file renamed over the old one.
    const next = config('b', urls, extra);
    fs.writeFileSync(`${proxy.cfgPath}.tmp`, next);
    fs.renameSync(`${proxy.cfgPath}.tmp`, proxy.cfgPath);
    await waitForHash(proxy, hashOf(next));
    await client.messages.create({ model: 'claude-x', max_tokens: 10, messages: [{ role: 'user', content: 'b' }] });
    assert.equal(mb.requests.length, 1);
    assert.equal(ma.requests.length, 0);
    assert.match(proxy.log(), /config reloaded \(file changed\)/);
  } finally {
    await proxy.stop();
    await ma.close();
    await mb.close();
  }
});
