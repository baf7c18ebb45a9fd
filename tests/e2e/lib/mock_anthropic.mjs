// A mock Anthropic upstream: records every request and answers as the test
// script says — a recorded stream (sent in small, uneven pieces), a JSON
// body, an error, a dropped connection, or an endless slow stream.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRecordingServer, trickle, sleep } from './mock_server.mjs';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/anthropic');

export function fixture(name) {
  return fs.readFileSync(path.join(FIXTURES, name), 'utf8');
}

// Parses an SSE text into [{event, data}] with data JSON-parsed.
export function parseSse(text) {
  return text.split(/\r?\n\r?\n/).filter((b) => b.trim()).map((block) => {
    let event = 'message';
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    return { event, data: JSON.parse(data.join('\n')) };
  });
}

export async function startMock(script) {
  return startRecordingServer(async (entry, res, n) => {
    const action = typeof script === 'function' ? script(entry, n) : script;
    await respond(res, action);
  });
}

async function respond(res, a) {
  switch (a.kind) {
    case 'sse': {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
      // Uneven pieces so events are split across reads.
      await trickle(res, fixture(a.fixture), { first: 1, mul: 7, mod: 97, pause: 5 });
      break;
    }
    case 'json':
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(fixture(a.fixture));
      break;
    case 'error':
      res.writeHead(a.status, { 'content-type': 'application/json', ...(a.headers ?? {}) });
      res.end(JSON.stringify({ type: 'error', error: { type: a.type, message: a.message } }));
      break;
    case 'drop': {
      // Half the stream, then the connection is cut.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const text = fixture(a.fixture);
      res.write(text.slice(0, Math.floor(text.length / 2)));
      await sleep(20);
      res.socket.destroy();
      break;
    }
    case 'cut':
      // A streaming head, then the connection is cut before any event.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      await sleep(20);
      res.socket.destroy();
      break;
    case 'slow': {
      // message_start, then one text delta every 50 ms until the peer leaves.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const events = parseSse(fixture('text.sse'));
      for (const e of events.slice(0, 2)) res.write(`event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
      while (!res.destroyed) {
        res.write(`event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"."}}\n\n`);
        await sleep(50);
      }
      break;
    }
    case 'sse_slow': {
      // The whole recording, one event every 100 ms.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const block of fixture(a.fixture).split('\n\n').filter(Boolean)) {
        res.write(`${block}\n\n`);
        await sleep(100);
      }
      res.end();
      break;
    }
    case 'hang':
      // Never answers: the proxy's first-byte timeout must fire.
      break;
    case 'stall': {
      // The head and message_start, then silence: the idle-gap timeout.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const first = fixture('text.sse').split('\n\n')[0];
      res.write(`${first}\n\n`);
      break;
    }
    case 'raw':
      res.writeHead(a.status, a.headers);
      res.end(a.body);
      break;
    default:
      throw new Error(`unknown mock action ${a.kind}`);
  }
}
