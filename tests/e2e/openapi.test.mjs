// docs/openapi.yaml is a valid OpenAPI 3.1 document, names every endpoint
// of the table in src/http/app.c, and real answers of the endpoints
// ccproxy owns (/, /health, /ready, /status, /v1/models, count_tokens,
// messages, and its errors) match its schemas and headers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020.js';
import { startProxy } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SPEC = path.join(ROOT, 'docs/openapi.yaml');

let api, ajv, good, down, proxy, empty;
before(async () => {
  api = await SwaggerParser.dereference(SPEC);
  ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
  good = await startMock({ kind: 'json', fixture: 'text.json' });
  down = await startMock({ kind: 'error', status: 529, type: 'overloaded_error', message: 'Overloaded',
    headers: { 'retry-after': '2' } });
  proxy = await startProxy(`
providers:
  - {name: good, format: anthropic, base_url: '${good.url}', api_key: k1, models: [mock-model, other]}
  - {name: down, format: anthropic, base_url: '${down.url}', api_key: k2, retry: {attempts: 1}}
router:
  default: good/mock-model
  rules:
    - {name: to-down, when: {header: {x-test: down}}, route: down/m}
`);
  empty = await startProxy('server: {log_level: warn}\n');
});
after(async () => {
  await proxy?.stop();
  await empty?.stop();
  await good?.close();
  await down?.close();
});

test('openapi_yaml_is_a_valid_openapi_3_1_document', async () => {
  const doc = await SwaggerParser.validate(SPEC);
  assert.equal(doc.openapi, '3.1.0');
});

test('openapi_yaml_and_api_md_name_every_endpoint_of_the_table', () => {
  const app = fs.readFileSync(path.join(ROOT, 'src/http/app.c'), 'utf8');
  const rows = [...app.matchAll(/\{"(GET|POST|HEAD|PUT|DELETE)", "([^"]+)", ccp_\w+, (?:true|false)\}/g)];
  assert.ok(rows.length >= 10, 'the endpoint table was found');
  const md = fs.readFileSync(path.join(ROOT, 'docs/api.md'), 'utf8');
  for (const [, method, row] of rows) {
    // A row ending in '/' is a prefix (/sessions/ serves /sessions/ID): the
    // document names it with its parameter.
    const p = row.length > 1 && row.endsWith('/')
      ? Object.keys(api.paths).find((k) => k.startsWith(`${row}{`) && api.paths[k][method.toLowerCase()]) ?? row
      : row;
    assert.ok(api.paths[p]?.[method.toLowerCase()], `openapi.yaml lacks ${method} ${p}`);
    assert.ok(md.includes(`${method} ${row}`) || md.includes(`${method} \`${row}\``),
      `docs/api.md lacks ${method} ${row}`);
  }
});

// Checks a real answer against the document: status listed (or default),
// body against the JSON schema, request-id present and well formed.
async function conforms(res, p, method) {
  const op = api.paths[p][method];
  const spec = op.responses[String(res.status)] ?? op.responses.default;
  assert.ok(spec, `${method.toUpperCase()} ${p} answered ${res.status}, which openapi.yaml does not list`);
  assert.match(res.headers.get('request-id') ?? '', /^req_[0-9a-f]{24}$/);
  const text = await res.text();
  if (method === 'head') return text;
  const ct = (res.headers.get('content-type') ?? '').split(';')[0];
  const media = Object.keys(spec.content ?? {}).find((k) => k.split(';')[0] === ct);
  assert.ok(media, `${p} ${res.status}: content-type ${ct} not in openapi.yaml`);
  const schema = spec.content[media].schema;
  if (ct === 'application/json') {
    const body = JSON.parse(text);
    const validate = ajv.compile(schema);
    assert.ok(validate(body), `${method.toUpperCase()} ${p} ${res.status}: ${ajv.errorsText(validate.errors)}\n${text}`);
    return body;
  }
  return text;
}

const post = (url, body, headers = {}) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

test('the_operations_endpoints_answer_as_documented', async () => {
  const root = await conforms(await fetch(`${proxy.url}/`), '/', 'get');
  assert.equal(root.name, 'cc-proxy');
  await conforms(await fetch(`${proxy.url}/`, { method: 'HEAD' }), '/', 'head');
  await conforms(await fetch(`${proxy.url}/health`), '/health', 'get');
  await conforms(await fetch(`${proxy.url}/health`, { method: 'HEAD' }), '/health', 'head');
  const ready = await conforms(await fetch(`${proxy.url}/ready`), '/ready', 'get');
  assert.equal(ready.status, 'ready');
  const notReady = await fetch(`${empty.url}/ready`);
  assert.equal(notReady.status, 503);
  assert.equal((await conforms(notReady, '/ready', 'get')).reason, 'no provider configured');
  const metrics = await fetch(`${proxy.url}/metrics`);
  assert.equal(metrics.status, 200);
  await conforms(metrics, '/metrics', 'get');
});

test('the_proxy_endpoints_and_status_after_traffic_answer_as_documented', async () => {
  const models = await conforms(await fetch(`${proxy.url}/v1/models`), '/v1/models', 'get');
  assert.deepEqual(models.data.map((m) => m.id), ['mock-model', 'other']);
  await conforms(await fetch(`${empty.url}/v1/models`), '/v1/models', 'get');
  const req = JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] });
  const count = await conforms(await post(`${proxy.url}/v1/messages/count_tokens`, req), '/v1/messages/count_tokens', 'post');
  assert.ok(count.input_tokens > 0);
  const ok = await post(`${proxy.url}/v1/messages`, req);
  assert.equal(ok.status, 200);
  assert.match(ok.headers.get('x-ccproxy-route'), /stage=default/);
  assert.match(ok.headers.get('server-timing'), /^proxy;dur=[\d.]+, upstream;dur=[\d.]+$/);
  await conforms(ok, '/v1/messages', 'post');
  // A provider's 529 with its wait hint: passed on with retry-after.
  const busy = await post(`${proxy.url}/v1/messages`, req, { 'x-test': 'down' });
  assert.equal(busy.status, 529);
  assert.equal(busy.headers.get('retry-after'), '2');
  assert.equal(busy.headers.get('retry-after-ms'), '2000');
  assert.equal((await conforms(busy, '/v1/messages', 'post')).error.type, 'overloaded_error');
  // /status now holds both providers' last results.
  const st = await conforms(await fetch(`${proxy.url}/status`), '/status', 'get');
  assert.equal(st.providers.good.last_result.ok, true);
  assert.equal(st.providers.down.last_result.status, 529);
  await conforms(await fetch(`${empty.url}/status`), '/status', 'get');
});

test('reload_and_sessions_answer_as_documented', async () => {
  const sid = 'a1b2c3d4-0000-4000-8000-000000000001';
  const req = JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] });
  assert.equal((await post(`${proxy.url}/v1/messages`, req, { 'x-claude-code-session-id': sid })).status, 200);
  const s = await conforms(await fetch(`${proxy.url}/sessions/${sid}`), '/sessions/{id}', 'get');
  assert.equal(s.latest.provider, 'good');
  const missing = await fetch(`${proxy.url}/sessions/nobody`);
  assert.equal(missing.status, 404);
  await conforms(missing, '/sessions/{id}', 'get');
  const ok = await conforms(await post(`${proxy.url}/admin/reload`, '{}'), '/admin/reload', 'post');
  assert.equal(ok.reloaded, true);
  const yaml = fs.readFileSync(proxy.cfgPath, 'utf8');
  fs.writeFileSync(proxy.cfgPath, `${yaml}\nno_such_key: 1\n`);
  const refused = await post(`${proxy.url}/admin/reload`, '{}');
  assert.equal(refused.status, 422);
  assert.equal((await conforms(refused, '/admin/reload', 'post')).errors[0].line > 0, true);
  fs.writeFileSync(proxy.cfgPath, yaml);
});

test('errors_of_the_proxy_itself_answer_as_documented', async () => {
  let r = await post(`${proxy.url}/v1/messages`, '{"model":');
  assert.equal(r.status, 400);
  assert.equal((await conforms(r, '/v1/messages', 'post')).error.type, 'invalid_request_error');
  r = await fetch(`${proxy.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' });
  assert.equal(r.status, 415);
  await conforms(r, '/v1/messages', 'post');
  r = await fetch(`${proxy.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'https://evil.example' }, body: '{}' });
  assert.equal(r.status, 403);
  assert.equal((await conforms(r, '/v1/messages', 'post')).error.type, 'permission_error');
  r = await post(`${empty.url}/v1/messages`, JSON.stringify({ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'x' }] }));
  assert.equal(r.status, 400);
  await conforms(r, '/v1/messages', 'post');
  r = await fetch(`${proxy.url}/v1/models`, { method: 'DELETE' });
  assert.equal(r.status, 405);
  assert.equal(r.headers.get('allow'), 'GET');
  await conforms(r, '/v1/models', 'get');
  // An unknown path: the 404 has the same Error schema.
  r = await fetch(`${proxy.url}/v2/nothing`);
  assert.equal(r.status, 404);
  const body = await r.json();
  const validate = ajv.compile(api.components.schemas.Error);
  assert.ok(validate(body), ajv.errorsText(validate.errors));
  assert.equal(body.error.type, 'not_found_error');
});

test('admin_rows_without_the_admin_key_answer_401_as_documented', async () => {
  const keyed = await startProxy('auth: {admin_key: openapi-admin-key-0123}\n');
  try {
    const app = fs.readFileSync(path.join(ROOT, 'src/http/app.c'), 'utf8');
    const rows = [...app.matchAll(/\{"(GET|POST)", "([^"]+)", (ccp_\w+), true\}/g)]
      .filter((m) => m[3] !== 'ccp_debug_ui');
    assert.ok(rows.length >= 7);
    for (const [, method, row] of rows) {
      // A prefix row (/admin/keys/) is called at a documented path under it,
      // its parameters filled in.
      const p = row.length > 1 && row.endsWith('/')
        ? Object.keys(api.paths).find((k) => k.startsWith(`${row}{`) && api.paths[k][method.toLowerCase()])
        : row;
      assert.ok(p, `openapi.yaml lacks ${method} ${row}{...}`);
      const url = `${keyed.url}${p.replace(/\{[^}]+\}/g, 'x')}`;
      const r = method === 'POST' ? await post(url, '{}') : await fetch(url);
      assert.equal(r.status, 401, `${method} ${p}`);
      assert.equal((await conforms(r, p, method.toLowerCase())).error.type, 'authentication_error');
    }
  } finally {
    await keyed.stop();
  }
});
