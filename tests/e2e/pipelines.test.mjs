// Pipelines in the running proxy: a provider's pipeline edits what reaches
// it (request and outbound hooks), a model of it may use another, a failing
// step is an error naming it, and on_error: skip lets the request go on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startProxy } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';
import { startOpenAIMock } from './lib/mock_openai.mjs';

let ant, oa, proxy, client;
before(async () => {
  ant = await startMock({ kind: 'json', fixture: 'text.json' });
  oa = await startOpenAIMock({ kind: 'json', body: { id: 'c1', model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }] } });
  proxy = await startProxy(`
pipelines:
  tidy:
    - use: max-tokens
      with: {max: 8192}
    - strip-cache-control
    - use: system-prompt
      with: {mode: append, text: "Answer in English."}
  openai-extras:
    - schema-sanitize
    - use: extra-body
      with: {body: {provider: {order: [groq]}, user: null}}
    - use: extra-headers
      with: {headers: {X-Title: cc-proxy-tests}}
  broken:
    - system-prompt
  tolerant:
    - {use: system-prompt, on_error: skip}
    - {use: max-tokens, with: {set: 77}}
  terse:
    - {use: system-prompt, with: {text: "Be terse."}}
providers:
  - {name: ant, base_url: '${ant.url}', api_key: k, pipeline: tidy, model_pipelines: {bad-model: broken, soft-model: tolerant}}
  - {name: oa, format: openai-chat, base_url: '${oa.url}/v1', api_key: k, pipeline: openai-extras}
router:
  default: ant/main-model
  rules:
    - name: terse-style
      when: {header: {x-style: terse}}
      pipeline: terse
`);
  client = new Anthropic({ baseURL: proxy.url, apiKey: 'client-key', maxRetries: 0 });
});
after(async () => {
  await proxy.stop();
  await ant.close();
  await oa.close();
});

const request = (model) => ({
  model, max_tokens: 16000,
  system: [{ type: 'text', text: 'You are Claude Code.', cache_control: { type: 'ephemeral' } }],
  tools: [{ name: 'Read', description: 'r', input_schema: { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object', additionalProperties: false, properties: { path: { type: 'string', format: 'uri' } } } }],
  messages: [{ role: 'user', content: [{ type: 'text', text: 'hi', cache_control: { type: 'ephemeral' } }] }],
  metadata: { user_id: 'someone' },
});

test('the provider pipeline edits the Anthropic request it receives', async () => {
  await client.messages.create(request('claude-sonnet-4-5'));
  const got = ant.requests.at(-1).body;
  assert.equal(got.max_tokens, 8192);
  assert.deepEqual(got.system, [{ type: 'text', text: 'You are Claude Code.' }, { type: 'text', text: 'Answer in English.' }]);
  assert.deepEqual(got.messages[0].content, [{ type: 'text', text: 'hi' }]);
});

test('the openai provider pipeline sanitizes schemas and adds body fields and headers', async () => {
  await client.messages.create(request('oa,gpt-x'));
  const r = oa.requests.at(-1);
  assert.deepEqual(r.body.tools[0].function.parameters, { type: 'object', properties: { path: { type: 'string' } } });
  assert.deepEqual(r.body.provider, { order: ['groq'] });
  assert.equal('user' in r.body, false, 'null removed the field');
  assert.equal(r.headers['x-title'], 'cc-proxy-tests');
});

test('a failing step fails the request with its name; on_error: skip goes on', async () => {
  await assert.rejects(client.messages.create(request('ant/bad-model')), (e) => {
    assert.equal(e.status, 500);
    assert.equal(e.error.error.type, 'api_error');
    assert.equal(e.error.error.message, "pipeline 'broken' step 1 (system-prompt): option text is required");
    return true;
  });
  const before = ant.requests.length;
  await client.messages.create(request('ant/soft-model'));
  assert.equal(ant.requests.length, before + 1);
  assert.equal(ant.requests.at(-1).body.max_tokens, 77, 'the step after the skipped one ran');
});

test("a rule may add a pipeline, run before the provider's own", async () => {
  const { response } = await client.messages.create(request('claude-sonnet-4-5'), { headers: { 'x-style': 'terse' } }).withResponse();
  assert.equal(response.headers.get('x-ccproxy-route'), 'stage=default; via=default; rule=terse-style; target=ant/main-model');
  assert.deepEqual(ant.requests.at(-1).body.system.map((b) => b.text), ['You are Claude Code.', 'Be terse.', 'Answer in English.']);
});
