// A mock OpenAI Chat Completions server: records requests and replays the
// recorded streams of tests/fixtures/openai (in small uneven pieces), or a
// whole completion, or answers as a scripted model (for Claude Code).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/openai');
export const openaiFixture = (name) => fs.readFileSync(path.join(FIXTURES, name), 'utf8');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function startOpenAIMock(script) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', async () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body = null;
      try { body = JSON.parse(raw); } catch { /* recorded as null */ }
      const entry = { method: req.method, url: req.url, headers: req.headers, body };
      requests.push(entry);
      const a = typeof script === 'function' ? script(entry, requests.length) : script;
      if (a.kind === 'sse') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const text = openaiFixture(a.fixture);
        for (let i = 0, n = 3; i < text.length; i += n, n = (n * 5) % 61 + 1) {
          res.write(text.slice(i, i + n));
          if (n % 4 === 0) await sleep(1);
        }
        res.end();
      } else {
        res.writeHead(a.status ?? 200, { 'content-type': 'application/json' });
        res.end(typeof a.body === 'string' ? a.body : JSON.stringify(a.body));
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

export function openaiConfig(baseUrl, extra = '') {
  return `${extra}
providers:
  - name: oa
    format: openai-chat
    base_url: ${baseUrl}/v1
    api_key: oa-key-456
    models: [gpt-test]
router:
  default: oa/gpt-test
`;
}
