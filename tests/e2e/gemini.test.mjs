// The SDK through ccproxy to a mock Gemini API replaying the recorded
// corpus: the accumulated message must be the expected one; a whole answer
// maps the same; a two-turn function-calling conversation carries Gemini's
// thought signature back; Google errors become Anthropic errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startProxy } from './lib/proxy.mjs';
import { accumulate } from './lib/expected.mjs';
import { startGeminiMock, geminiFixture, geminiConfig } from './lib/mock_gemini.mjs';

let mock, proxy, client;
before(async () => {
  mock = await startGeminiMock((req) => {
    const name = req.body.systemInstruction?.parts?.[0]?.text ?? 'text'; // the test names the fixture
    if (req.url.includes(':streamGenerateContent')) return { kind: 'sse', fixture: name };
    return { kind: 'json', body: wholeAnswer(name) };
  });
  // The recordings name the upstream's model; the default (client) would
  // name the request's (claude_code_thinking.test.mjs covers that).
  proxy = await startProxy(geminiConfig(mock.url, 'server:\n  echo_model: upstream\n'));
  client = new Anthropic({ baseURL: proxy.url, apiKey: 'client-key', maxRetries: 0 });
});
after(async () => {
  await proxy.stop();
  await mock.close();
});

const normalize = (msg) => {
  const m = JSON.parse(JSON.stringify(msg));
  delete m.parsed_output;
  for (const b of m.content) if (b.type === 'tool_use') b.id = b.id.replace(/^toolu_[A-Za-z0-9]{24}/, 'toolu_*');
  return m;
};

// The message a recorded stream's expected events accumulate to.
function expectedMessage(name) {
  return accumulate(JSON.parse(geminiFixture(`${name}.expected.json`)));
}

// The same recording as one JSON answer: its chunks' parts merged.
function wholeAnswer(name) {
  const chunks = geminiFixture(`${name}.sse`).split(/\r?\n\r?\n/).filter(Boolean).map((l) => JSON.parse(l.replace(/^data: /, '')));
  const parts = [];
  let finishReason, usageMetadata;
  for (const c of chunks) {
    for (const p of c.candidates?.[0]?.content?.parts ?? []) {
      const last = parts.at(-1);
      if (p.text !== undefined && last && last.text !== undefined && !!last.thought === !!p.thought && !last.thoughtSignature)
        Object.assign(last, { ...p, text: last.text + p.text });
      else parts.push({ ...p });
    }
    finishReason = c.candidates?.[0]?.finishReason ?? finishReason;
    usageMetadata = c.usageMetadata ?? usageMetadata;
  }
  return { candidates: [{ content: { role: 'model', parts }, finishReason, index: 0 }], usageMetadata, modelVersion: chunks[0].modelVersion, responseId: chunks[0].responseId };
}

const request = (name, extra = {}) => ({
  model: 'claude-test-model', max_tokens: 1024, system: name,
  messages: [{ role: 'user', content: 'List the files' }],
  tools: [{ name: 'Read', description: 'Read a file', input_schema: { type: 'object', properties: { file_path: { type: 'string' } } } }],
  ...extra,
});

for (const name of ['text', 'thinking_text', 'function_call', 'function_calls', 'safety', 'usage_last']) {
  test(`stream accumulates to the expected message (${name})`, async () => {
    const final = normalize(await client.messages.stream(request(name)).finalMessage());
    assert.deepEqual(final, expectedMessage(name));
  });
}

for (const name of ['text', 'thinking_text', 'function_calls']) {
  test(`create maps a whole answer (${name})`, async () => {
    const msg = normalize(await client.messages.create(request(name)));
    const want = expectedMessage(name);
    assert.deepEqual(msg.content, want.content);
    assert.equal(msg.stop_reason, want.stop_reason);
    assert.deepEqual(msg.usage, { ...want.usage });
  });
}

test('an error mid-stream reaches the SDK as an error', async () => {
  await assert.rejects(client.messages.stream(request('error')).finalMessage(), /The model is overloaded/);
});

test('the second turn carries the thought signature back on its functionCall', async () => {
  const first = await client.messages.stream(request('function_call')).finalMessage();
  const use = first.content.find((b) => b.type === 'tool_use');
  assert.match(use.id, /^toolu_[A-Za-z0-9]{24}_gs_CiQBVKhc7h-_ab$/);
  const before = mock.requests.length;
  await client.messages.stream(request('text', {
    messages: [
      { role: 'user', content: 'List the files' },
      { role: 'assistant', content: first.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'int main;' }, { type: 'text', text: 'Explain it.' }] },
    ],
  })).finalMessage();
  const seen = mock.requests[before];
  assert.equal(seen.url, '/v1beta/models/gemini-test:streamGenerateContent?alt=sse');
  assert.equal(seen.headers['x-goog-api-key'], 'gm-key-789');
  assert.equal(seen.headers.authorization, undefined);
  assert.deepEqual(seen.body.contents, [
    { role: 'user', parts: [{ text: 'List the files' }] },
    { role: 'model', parts: [{ text: 'Reading it.' }, { functionCall: { name: 'Read', args: { file_path: '/a.c' } }, thoughtSignature: 'CiQBVKhc7h+/ab==' }] },
    { role: 'user', parts: [{ functionResponse: { name: 'Read', response: { result: 'int main;' } } }, { text: 'Explain it.' }] },
  ]);
  assert.deepEqual(seen.body.tools, [{ functionDeclarations: [{ name: 'Read', description: 'Read a file', parameters: { type: 'OBJECT', properties: { file_path: { type: 'STRING' } } } }] }]);
  assert.deepEqual(seen.body.systemInstruction, { parts: [{ text: 'text' }] });
  assert.equal(seen.body.generationConfig.maxOutputTokens, 1024);
});

test('Google errors map to Anthropic errors', async () => {
  const cases = [
    [429, 'RESOURCE_EXHAUSTED', 'Quota exceeded', 'rate_limit_error'],
    [400, 'INVALID_ARGUMENT', 'Invalid JSON payload', 'invalid_request_error'],
    [403, 'PERMISSION_DENIED', 'API key not valid', 'permission_error'],
  ];
  for (const [status, gstatus, message, type] of cases) {
    const m = await startGeminiMock({ kind: 'json', status, body: { error: { code: status, message, status: gstatus } } });
    const p = await startProxy(geminiConfig(m.url));
    try {
      const c = new Anthropic({ baseURL: p.url, apiKey: 'k', maxRetries: 0 });
      await assert.rejects(c.messages.create(request('text')), (e) => {
        assert.equal(e.status, status);
        assert.equal(e.error.error.type, type);
        assert.equal(e.error.error.message, message);
        return true;
      });
    } finally {
      await p.stop();
      await m.close();
    }
  }
});

test('what Gemini cannot take is a clear 400 before anything is sent', async () => {
  const before = mock.requests.length;
  await assert.rejects(client.messages.create(request('text', {
    messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } }] }],
  })), (e) => {
    assert.equal(e.status, 400);
    assert.equal(e.error.error.type, 'invalid_request_error');
    assert.match(e.error.error.message, /cannot be sent to Gemini.*send it as base64/);
    return true;
  });
  assert.equal(mock.requests.length, before, 'nothing reached the provider');
});

test('a message of the wrong type is a 400 naming it, not dropped', async () => {
  const before = mock.requests.length;
  await assert.rejects(client.messages.create(request('text', {
    messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: { type: 'text', text: 'x' } }],
  })), (e) => {
    assert.equal(e.status, 400);
    assert.equal(e.error.error.type, 'invalid_request_error');
    assert.equal(e.error.error.message, 'messages.1.content: must be a string or an array of content blocks');
    return true;
  });
  assert.equal(mock.requests.length, before, 'nothing reached the provider');
});

test('a stream cut before its finishReason reaches the SDK as an error', async () => {
  const cut = 'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Par"}]},"index":0}],"responseId":"r"}\n\n';
  const m = await startGeminiMock({ raw_sse: cut });
  const p = await startProxy(geminiConfig(m.url));
  try {
    const c = new Anthropic({ baseURL: p.url, apiKey: 'k', maxRetries: 0 });
    await assert.rejects(c.messages.stream(request('text')).finalMessage(), /upstream stream ended early/);
  } finally {
    await p.stop();
    await m.close();
  }
});

// The model is part of the URL path: 'gem,../../../admin/secret' once made
// the upstream receive POST /admin/secret:generateContent with the
// operator's key, and 'x?injected=1#' added a query.
test('a model name cannot steer the upstream URL', async () => {
  const m = await startGeminiMock({ kind: 'json', body: wholeAnswer('text') });
  const p = await startProxy(geminiConfig(m.url).replace('default: gem/gemini-test', 'default: gem'));
  try {
    const c = new Anthropic({ baseURL: p.url, apiKey: 'k', maxRetries: 0 });
    for (const model of ['gem,../../../admin/secret', 'gem/../../../admin/secret', 'x?injected=1#', 'gem/x?injected=1#', 'a/../../b']) {
      await assert.rejects(c.messages.create(request('text', { model })), (e) => {
        assert.equal(e.status, 400, model);
        assert.equal(e.error.error.type, 'invalid_request_error');
        assert.match(e.error.error.message, /^model: /);
        return true;
      });
    }
    assert.deepEqual(m.requests.map((r) => r.url), [], 'the mock saw nothing');
    // A real id with ':' and '/' still goes through, percent-encoded where needed.
    await c.messages.create(request('text', { model: 'tunedModels/my-model-1' }));
    assert.deepEqual(m.requests.map((r) => r.url), ['/v1beta/models/tunedModels/my-model-1:generateContent']);
  } finally {
    await p.stop();
    await m.close();
  }
});
