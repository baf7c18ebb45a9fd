// Routing end to end: two mock providers in two wire formats behind one
// ccproxy; each request must land where the stages, rules and explicit
// choices say, carry the route in x-ccproxy-route, and fall back along a
// route when its first target fails before answering.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startProxy } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';
import { startOpenAIMock, openaiFixture } from './lib/mock_openai.mjs';

let ant, oa, down, proxy, client;
before(async () => {
  ant = await startMock({ kind: 'sse', fixture: 'text.sse' });
  oa = await startOpenAIMock((req) => (req.body.stream
    ? { kind: 'sse', fixture: 'text.sse' }
    : { kind: 'json', body: { id: 'c1', model: req.body.model, choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 1 } } }));
  // A provider that is overloaded: every request gets a 529.
  down = await startMock({ kind: 'error', status: 529, type: 'overloaded_error', message: 'Overloaded' });
  proxy = await startProxy(`
providers:
  - {name: ant, format: anthropic, base_url: '${ant.url}', api_key: ant-key}
  - {name: oa, format: openai-chat, base_url: '${oa.url}/v1', api_key: oa-key}
  - {name: down, format: anthropic, base_url: '${down.url}', api_key: down-key, retry: {attempts: 1}, breaker: {failures: 0, failure_percent: 0}}
router:
  default: ant/claude-main
  background: oa/small-model
  thinking: [down/think, oa/think-fallback]
  rules:
    - name: team-research
      when: {header: {x-team: research}}
      route: oa/research-model
`);
  client = new Anthropic({ baseURL: proxy.url, apiKey: 'client-key', maxRetries: 0 });
});
after(async () => {
  const log = await proxy.stop();
  for (const m of [ant, oa, down]) await m.close();
  // Every request's route is in the access log, and each fallback is logged.
  assert.match(log, / POST \/v1\/messages 200 .*route="stage=background; via=stage; target=oa\/small-model"/);
  assert.match(log, /provider 'down' answered 529; falling back to 'oa'/);
});

const ask = (over = {}, headers = {}) => client.messages.create({
  model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'hello' }], ...over,
}, { headers }).withResponse();

test('the main turn goes to the default route', async () => {
  const before = ant.requests.length;
  const { response } = await ask({ stream: true });
  assert.equal(response.headers.get('x-ccproxy-route'), 'stage=default; via=default; target=ant/claude-main');
  assert.equal(ant.requests.length, before + 1);
  assert.equal(ant.requests.at(-1).body.model, 'claude-main');
});

test('a haiku call goes to the background route in the other format', async () => {
  const before = oa.requests.length;
  const { data, response } = await ask({ model: 'claude-haiku-4-5-20251001' });
  assert.equal(response.headers.get('x-ccproxy-route'), 'stage=background; via=stage; target=oa/small-model');
  assert.equal(oa.requests.length, before + 1);
  assert.equal(oa.requests.at(-1).url, '/v1/chat/completions');
  assert.equal(oa.requests.at(-1).body.model, 'small-model');
  assert.equal(data.content[0].text, 'hi');
});

test('a rule on a header wins over the stage', async () => {
  const { response } = await ask({ model: 'claude-haiku-4-5' }, { 'x-team': 'research' });
  assert.equal(response.headers.get('x-ccproxy-route'), 'stage=background; via=rule; rule=team-research; target=oa/research-model');
  assert.equal(oa.requests.at(-1).body.model, 'research-model');
});

test('/model provider,model and the subagent tag choose explicitly', async () => {
  let r = await ask({ model: 'oa,picked-model' });
  assert.match(r.response.headers.get('x-ccproxy-route'), /via=model; target=oa\/picked-model$/);
  assert.equal(oa.requests.at(-1).body.model, 'picked-model');
  r = await ask({ system: [{ type: 'text', text: 'You review code.\n<ccproxy-model>ant/reviewer</ccproxy-model>\nBe terse.' }] });
  assert.match(r.response.headers.get('x-ccproxy-route'), /via=tag; target=ant\/reviewer$/);
  const sent = ant.requests.at(-1).body;
  assert.equal(sent.model, 'reviewer');
  assert.deepEqual(sent.system, [{ type: 'text', text: 'You review code.\nBe terse.' }], 'the tag never reaches the provider');
});

test('a failing first target falls back to the next, streaming and not', async () => {
  for (const stream of [false, true]) {
    const downBefore = down.requests.length, oaBefore = oa.requests.length;
    const { data, response } = await ask({ thinking: { type: 'enabled', budget_tokens: 2048 }, stream });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-ccproxy-route'), 'stage=thinking; via=stage; target=oa/think-fallback');
    assert.equal(down.requests.length, downBefore + 1, 'the first target was tried');
    assert.equal(oa.requests.length, oaBefore + 1);
    assert.equal(oa.requests.at(-1).body.model, 'think-fallback');
    if (stream) {
      let text = '';
      for await (const ev of data) if (ev.type === 'content_block_delta') text += ev.delta.text;
      assert.equal(text, expectedText());
    }
  }
});

test('when every target fails, the client gets the last error', async () => {
  const p = await startProxy(`
providers:
  - {name: down, format: anthropic, base_url: '${down.url}', api_key: k, retry: {attempts: 1}}
router:
  default: [down/a, down/b]
`);
  try {
    const c = new Anthropic({ baseURL: p.url, apiKey: 'k', maxRetries: 0 });
    const before = down.requests.length;
    await assert.rejects(c.messages.create({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
      (e) => e.status === 529 && e.error?.error?.type === 'overloaded_error');
    assert.equal(down.requests.length, before + 2);
  } finally {
    await p.stop();
  }
});

function expectedText() {
  return JSON.parse(openaiFixture('text.expected.json'))
    .filter((e) => e.data.type === 'content_block_delta').map((e) => e.data.delta.text).join('');
}

test('a subagent tag naming no provider is a clear 400', async () => {
  await assert.rejects(ask({ system: 'Agent.\n<ccproxy-model>nowhere/x</ccproxy-model>' }), (e) => {
    assert.equal(e.status, 400);
    assert.equal(e.error.error.type, 'invalid_request_error');
    assert.match(e.error.error.message, /<ccproxy-model> tag names 'nowhere\/x'/);
    return true;
  });
});
