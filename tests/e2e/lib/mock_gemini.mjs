// A mock Gemini API: records requests and replays the recorded streams of
// tests/fixtures/gemini (in small uneven pieces), or answers one JSON
// GenerateContentResponse, or an error in Google's format.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRecordingServer, answerCommon } from './mock_server.mjs';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/gemini');
export const geminiFixture = (name) => fs.readFileSync(path.join(FIXTURES, name), 'utf8');

export async function startGeminiMock(script) {
  return startRecordingServer(async (entry, res, n) => {
    const a = typeof script === 'function' ? script(entry, n) : script;
    await answerCommon(res, a, (name) => geminiFixture(`${name}.sse`), { first: 2, mod: 53 });
  });
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

// A scripted Gemini model for a Claude Code session: reads a file, edits
// it, runs a command, then answers; one step per functionResponse so far.
// Like the real API it refuses a turn whose earlier functionCall lost its
// thoughtSignature.
export function geminiAgent(entry, { file }) {
  const body = entry.body;
  const contents = body.contents ?? [];
  const sigFor = (n) => Buffer.from(`signature of step ${n}`).toString('base64');
  let step = 0;
  for (const c of contents) {
    for (const p of c.parts ?? []) {
      if (p.functionCall && p.thoughtSignature !== sigFor(step))
        return { kind: 'json', status: 400, body: { error: { code: 400, message: `Function call is missing a thought_signature in functionCall parts (step ${step})`, status: 'INVALID_ARGUMENT' } } };
      if (p.functionCall) step++;
    }
  }
  const names = (body.tools ?? []).flatMap((t) => t.functionDeclarations ?? []).map((d) => d.name);
  const steps = [
    ['Read', { file_path: file }],
    ['Edit', { file_path: file, old_string: 'world', new_string: 'gemini' }],
    ['Bash', { command: `cat ${file} > ${file}.copy`, description: 'Copy the file' }],
  ];
  let parts, finishReason = 'STOP';
  if (!names.includes('Edit')) {
    parts = [{ text: '{"title": "Edit a file", "isNewTopic": true}' }];
  } else if (step < steps.length) {
    const [name, args] = steps[step];
    parts = [{ text: 'Thinking about the next step.', thought: true }, { text: `Step ${step + 1}.` },
      { functionCall: { name, args }, thoughtSignature: sigFor(step) }];
  } else {
    parts = [{ text: 'All done: read, edited and copied.' }];
  }
  const usageMetadata = { promptTokenCount: 50, candidatesTokenCount: 10, thoughtsTokenCount: 5 };
  const chunk = (ps, fin) => ({ candidates: [{ content: { role: 'model', parts: ps }, ...(fin ? { finishReason: fin } : {}), index: 0 }], usageMetadata, modelVersion: 'gemini-test', responseId: `r${step}` });
  if (!entry.url.includes(':streamGenerateContent')) return { kind: 'json', body: chunk(parts, finishReason) };
  const chunks = parts.map((p, i) => chunk([p], i === parts.length - 1 ? finishReason : undefined));
  return { raw_sse: chunks.map((c) => `data: ${JSON.stringify(c)}\r\n\r\n`).join('') };
}
