// Writes the committed seed corpus of every fuzz target, tests/fuzz/corpus/
// <target>/, from the fixtures, so the fuzzers start from real traffic:
//   node tests/fuzz/seed.mjs
// Files are named by a hash of their content (re-running changes nothing
// unless a fixture did). Targets whose input carries a leading flags or
// split byte (see each fuzz_*.c) get it prepended here.
//
// corpus/encode-types/ is the type-mutated request corpus shared by the
// three encoder targets: every request fixture under tests/fixtures/requests
// with one field (each object member and the first element of each array,
// at any depth) replaced by a value of each other JSON type — the shapes a
// client may send that the encoders must refuse cleanly, never crash on.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIX = path.join(ROOT, 'tests/fixtures');
const OUT = path.join(ROOT, 'tests/fuzz/corpus');
const MAX = 8192; // small files only

const read = (p) => fs.readFileSync(path.join(FIX, p));
const list = (dir, ext) => fs.readdirSync(path.join(FIX, dir)).filter((f) => f.endsWith(ext)).map((f) => `${dir}/${f}`);

const corpora = new Map();
function add(target, bytes) {
  if (bytes.length > MAX) return;
  if (!corpora.has(target)) corpora.set(target, new Map());
  const name = crypto.createHash('sha1').update(bytes).digest('hex').slice(0, 16);
  corpora.get(target).set(name, bytes);
}
const withPrefix = (prefix, body) => Buffer.concat([Buffer.from(prefix), body]);

// JSON parser: bodies of every kind the proxy parses.
for (const f of [...list('anthropic', '.json'), ...list('openai', '.json'), ...list('gemini', '.json'), ...list('requests', '.json')])
  add('json_parse', read(f));
add('json_parse', Buffer.from('{"a":[1,-2.5e10,true,false,null,"\\u00e9\\ud83d\\ude00\\u0000"],"b":{}}'));

// SSE reader: split byte, then a stream.
const sse = [...list('anthropic', '.sse'), ...list('openai', '.sse'), ...list('gemini', '.sse')];
for (const f of sse) add('sse', withPrefix([128], read(f)));
add('sse', withPrefix([3], Buffer.from(': comment\r\nevent: a\rdata: x\r\n\r\ndata\n\nid: 1\nretry: 5\ndata: y\n')));

// Decoders: flags (bit 0 SSE, bit 1 client streams), split byte, body.
for (const [target, dir] of [['anthropic_decode', 'anthropic'], ['openai_chat_decode', 'openai'], ['gemini_decode', 'gemini'], ['openai_responses_decode', 'responses']]) {
  for (const f of list(dir, '.sse')) {
    add(target, withPrefix([3, 128], read(f)));
    add(target, withPrefix([1, 40], read(f)));
  }
}
for (const f of list('anthropic', '.json')) {
  add('anthropic_decode', withPrefix([0, 128], read(f)));
  add('anthropic_decode', withPrefix([2, 200], read(f)));
}
// One JSON body each for the others (some providers answer a stream request so).
add('openai_chat_decode', withPrefix([2, 100], Buffer.from(JSON.stringify({
  id: 'chatcmpl-1', object: 'chat.completion', model: 'm',
  choices: [{ index: 0, message: { role: 'assistant', content: 'hi', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'Read', arguments: '{"file_path":"/a"}' } }] }, finish_reason: 'tool_calls' }],
  usage: { prompt_tokens: 10, completion_tokens: 5 } }))));
add('gemini_decode', withPrefix([0, 100], Buffer.from(JSON.stringify({
  candidates: [{ content: { role: 'model', parts: [{ text: 'hi' }, { functionCall: { name: 'Read', args: { file_path: '/a' } } }] }, finishReason: 'STOP' }],
  usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 5 } }))));

add('openai_responses_decode', withPrefix([0, 100], Buffer.from(JSON.stringify({
  id: 'resp_1', object: 'response', status: 'completed', model: 'm', error: null, incomplete_details: null,
  output: [{ id: 'rs_1', type: 'reasoning', summary: [{ type: 'summary_text', text: 'hm' }], encrypted_content: 'gAAA' },
    { id: 'msg_1', type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'hi' }] },
    { id: 'fc_1', type: 'function_call', call_id: 'call_1', name: 'Read', arguments: '{"file_path":"/a"}' }],
  usage: { input_tokens: 10, input_tokens_details: { cached_tokens: 4 }, output_tokens: 5 } }))));

// Config loader: every example and the bad fixture.
for (const f of fs.readdirSync(path.join(ROOT, 'examples'))) add('config', fs.readFileSync(path.join(ROOT, 'examples', f)));
add('config', read('config/bad.yaml'));
add('config', Buffer.from('server:\n  port: 3456\n  max_body_bytes: 1MiB\nproviders:\n  - name: a\n    base_url: http://127.0.0.1:1\n    auth: none\n    api_key: ${FUZZ_KEY:-x}\n    models: [m]\nrouter:\n  default: a/m\n'));

// HTTP: split byte, then requests as clients send them.
const http = [
  'GET /health HTTP/1.1\r\nHost: x\r\n\r\n',
  'POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{"model":"m"}',
  'POST /v1/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  'POST /v1/messages HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}',
  'GET / HTTP/1.1\r\nHost: x\r\n\r\nHEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'POST /v1/messages?beta=true HTTP/1.1\r\nHost: x\r\nx-api-key: k\r\nanthropic-version: 2023-06-01\r\nContent-Length: 2000\r\n\r\n{}',
  'GET /v1/models HTTP/1.0\r\n\r\n',
];
for (const r of http) add('http', withPrefix([100], Buffer.from(r)));

// Encoders: the request fixtures as they are...
const requests = list('requests', '.json');
for (const t of ['anthropic_encode', 'openai_chat_encode', 'gemini_encode', 'openai_responses_encode'])
  for (const f of requests) add(t, read(f));
// ...and each with one field of another type (shared corpus, see the top).
const TYPES = { null: null, boolean: true, number: 7, string: 's', array: [], object: {} };
const typeOf = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
function* variants(doc) {
  // Yields [set(value), original type] for every place worth mutating.
  function* walk(v, set) {
    if (set) yield [set, typeOf(v)];
    if (Array.isArray(v)) { if (v.length) yield* walk(v[0], (x) => { v[0] = x; }); }
    else if (v && typeof v === 'object') for (const k of Object.keys(v)) yield* walk(v[k], (x) => { v[k] = x; });
  }
  yield* walk(doc, null);
}
for (const f of requests) {
  const text = read(f).toString();
  const doc = JSON.parse(text);
  let i = 0;
  for (const [, type] of variants(doc)) {
    for (const [name, value] of Object.entries(TYPES)) {
      if (name === type) continue;
      const copy = JSON.parse(text); // a fresh document per variant
      const [set] = [...variants(copy)][i];
      set(structuredClone(value));
      add('encode-types', Buffer.from(JSON.stringify(copy)));
    }
    i++;
  }
}

for (const [target, files] of corpora) {
  const dir = path.join(OUT, target);
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of files) fs.writeFileSync(path.join(dir, name), bytes);
  console.log(`${target}: ${files.size} files`);
}
