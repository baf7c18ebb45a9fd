// Connection pooling: with upstream.preconnect each worker opens its
// connection to the provider at start-up, and the first request reuses it
// rather than paying the connect; the debug log counts transfers against
// the connections they opened (CURLINFO_NUM_CONNECTS).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import Anthropic from '@anthropic-ai/sdk';
import { startProxy, mockConfig } from './lib/proxy.mjs';
import { fixture } from './lib/mock_anthropic.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('preconnect_opens_a_connection_per_worker_that_the_first_request_reuses', async () => {
  let connections = 0;
  const methods = [];
  const server = http.createServer((req, res) => {
    methods.push(req.method);
    req.resume();
    req.on('end', () => {
      if (req.method === 'HEAD') { res.writeHead(404); res.end(); return; }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(fixture('text.json'));
    });
  });
  server.on('connection', () => { connections++; });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;
  const proxy = await startProxy(mockConfig(url, 'upstream:\n  preconnect: true\n'), { args: ['--log-level', 'debug'] });
  try {
    for (let i = 0; methods.length < 2; i++) {
      assert.ok(i < 500, 'each of the 2 workers sends its HEAD at start-up');
      await sleep(20);
    }
    assert.deepEqual(methods, ['HEAD', 'HEAD']);
    assert.equal(connections, 2);
    const client = new Anthropic({ baseURL: proxy.url, apiKey: 'k', maxRetries: 0 });
    for (let i = 0; i < 4; i++) await client.messages.create({ model: 'mock-model', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(connections, 2, 'the requests reused the preconnected connections');
  } finally {
    const log = await proxy.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    const counts = [...log.matchAll(/upstream: (\d+) transfer\(s\) needed (\d+) new connection\(s\)/g)];
    assert.equal(counts.length, 2, log);
    const sum = (k) => counts.reduce((a, m) => a + Number(m[k]), 0);
    assert.equal(sum(1), 6);
    assert.equal(sum(2), 2);
  }
});
