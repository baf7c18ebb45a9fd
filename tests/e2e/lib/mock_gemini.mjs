// A mock Gemini API: records requests and replays the recorded streams of
// tests/fixtures/gemini (in small uneven pieces), or answers one JSON
// GenerateContentResponse, or an error in Google's format.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/gemini');
export const geminiFixture = (name) => fs.readFileSync(path.join(FIXTURES, name), 'utf8');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function startGeminiMock(script) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', async () => {
      let body = null;
      try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { /* null */ }
      const entry = { method: req.method, url: req.url, headers: req.headers, body };
      requests.push(entry);
      const a = typeof script === 'function' ? script(entry, requests.length) : script;
      if (a.kind === 'sse') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const text = geminiFixture(`${a.fixture}.sse`);
        for (let i = 0, n = 2; i < text.length; i += n, n = (n * 5) % 53 + 1) {
          res.write(text.slice(i, i + n));
          if (n % 4 === 0) await sleep(1);
        }
        res.end();
      } else {
        res.writeHead(a.status ?? 200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(a.body));
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

export function geminiConfig(baseUrl, extra = '') {
  return `${extra}
providers:
  - name: gem
    format: gemini
    base_url: ${baseUrl}/v1beta
    api_key: gm-key-789
    models: [gemini-test]
router:
  default: gem/gemini-test
`;
}
