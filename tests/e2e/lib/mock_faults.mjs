// A fault-injecting Anthropic upstream for the soak: each request draws, from
// a seeded RNG, a clean answer (a stream, a slow drip, a JSON message) or a
// fault (429 with retry-after, 500/503, a reset before the head or in the
// middle of a stream, a stall after message_start, no head at all, garbage
// SSE). It tracks its open connections and its unfinished answers, so a
// test can prove that no transfer outlives its client.
import http from 'node:http';
import { fixture } from './mock_anthropic.mjs';

// mulberry32: small, seedable, good enough to pick faults.
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const FAULTS = ['stream', 'drip', 'json', 'rate_limited', 'server_error', 'reset_before', 'reset_during', 'stall', 'hang', 'garbage'];

export async function startFaultyMock(seed) {
  const rand = rng(seed);
  const stats = { requests: 0, faults: Object.fromEntries(FAULTS.map((f) => [f, 0])), openConnections: 0, openAnswers: 0 };
  const sse = fixture('text.sse');
  const blocks = sse.split('\n\n').filter(Boolean);
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', async () => {
      stats.requests++;
      stats.openAnswers++;
      let open = true;
      const done = () => { if (open) { open = false; stats.openAnswers--; } };
      res.on('close', done);
      res.on('finish', done);
      const fault = FAULTS[Math.floor(rand() * FAULTS.length)];
      stats.faults[fault]++;
      const n = Math.floor(rand() * blocks.length);
      switch (fault) {
        case 'stream':
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.end(sse);
          break;
        case 'drip':
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          for (const b of blocks) { if (res.destroyed) return; res.write(`${b}\n\n`); await sleep(15); }
          res.end();
          break;
        case 'json':
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(fixture('text.json'));
          break;
        case 'rate_limited':
          res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
          res.end(JSON.stringify({ type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } }));
          break;
        case 'server_error': {
          const status = rand() < 0.5 ? 500 : 503;
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message: 'boom' } }));
          break;
        }
        case 'reset_before':
          res.socket.destroy();
          break;
        case 'reset_during':
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write(blocks.slice(0, n).map((b) => `${b}\n\n`).join(''));
          await sleep(5);
          res.socket.destroy();
          break;
        case 'stall':
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write(`${blocks[0]}\n\n`); // then nothing: the proxy's idle timeout
          break;
        case 'hang':
          break; // no head: the proxy's first-byte timeout
        case 'garbage':
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write(`${blocks[0]}\n\n`);
          res.end('event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{not json\n\n');
          break;
      }
    });
  });
  // Idle connections stay open on both ends for the whole run, so the
  // proxy's descriptors can be matched against the pooled connections seen
  // here (a connection the server closed while idle lingers in curl's pool
  // until curl next looks at it).
  server.keepAliveTimeout = 10 * 60 * 1000;
  server.on('connection', (sock) => {
    stats.openConnections++;
    sock.on('close', () => { stats.openConnections--; });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stats,
    async close() { server.closeAllConnections(); await new Promise((r) => server.close(r)); },
  };
}
