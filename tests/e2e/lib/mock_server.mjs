// The part every mock upstream shares: an HTTP server on a free loopback
// port that records each request (method, url, headers, the body parsed as
// JSON or null, the raw text) and hands it to the mock's own answer, plus
// the common ways to answer: a recorded stream trickled in small uneven
// pieces (so the proxy's parsers meet every split), a raw SSE text, or a
// JSON body.
import http from 'node:http';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Starts a server; answer(entry, res, n) answers the n-th request. Returns
// { url, requests, closed, close }: closed lists the requests whose
// connection the peer closed before the answer ended.
export async function startRecordingServer(answer) {
  const requests = [];
  const closed = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', async () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body = null;
      try { body = JSON.parse(raw); } catch { /* recorded as null */ }
      const entry = { method: req.method, url: req.url, headers: req.headers, body, raw, remotePort: req.socket.remotePort };
      requests.push(entry);
      res.on('close', () => { if (!res.writableEnded) closed.push(entry); });
      await answer(entry, res, requests.length);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    closed,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

// Writes text in pieces of uneven sizes (first, then n*mul mod `mod` + 1),
// pausing 1 ms after each piece whose size is a multiple of `pause`, and
// ends the response. Each mock keeps its own sequence, so the splits the
// tests were written against stay the same.
export async function trickle(res, text, { first = 3, mul = 5, mod = 61, pause = 4 } = {}) {
  for (let i = 0, n = first; i < text.length; i += n, n = (n * mul) % mod + 1) {
    res.write(text.slice(i, i + n));
    if (n % pause === 0) await sleep(1);
  }
  res.end();
}

// The answers the provider mocks share: { raw_sse } sent whole, { kind:
// 'sse', fixture } trickled from fixtureText(fixture), else a JSON body
// ({ status, headers, body }; a string body is sent as is).
export async function answerCommon(res, a, fixtureText, pieces = {}) {
  if (a.raw_sse) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(a.raw_sse);
  } else if (a.kind === 'sse') {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    await trickle(res, fixtureText(a.fixture), pieces);
  } else {
    res.writeHead(a.status ?? 200, { 'content-type': 'application/json', ...(a.headers ?? {}) });
    res.end(typeof a.body === 'string' ? a.body : JSON.stringify(a.body));
  }
}
