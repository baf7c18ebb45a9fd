// Generates a Claude Code–shaped Messages request of about the given size
// (bytes) on stdout: three system blocks, 25 tools with realistic JSON
// Schemas, and turns of text, thinking, tool_use and tool_result with
// code-like content (quotes, newlines, unicode). Deterministic.
//   node bench/gen_claude_request.mjs 300000 > req.json
// With --tools N and --turns M (M messages after the first user message,
// alternating assistant and user), the shape is fixed and the last system
// block is padded to reach the size; --no-stream sets stream: false.
//   node bench/gen_claude_request.mjs 150000 --tools 20 --turns 40
const args = process.argv.slice(2);
const opt = (name) => { const i = args.indexOf(name); return i < 0 ? undefined : Number(args[i + 1]); };
const target = Number(args[0] ?? 300000);
const nTools = opt('--tools') ?? 25;
const nTurns = opt('--turns');
let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const words = 'the a function returns value buffer request stream parse token model tool result error config server client upstream proxy event block message index length'.split(' ');
const sentence = (n) => Array.from({ length: n }, () => words[Math.floor(rand() * words.length)]).join(' ');
const code = (lines) => Array.from({ length: lines }, (_, i) =>
  `${'    '.repeat(i % 3)}if (ctx->${words[i % words.length]}_len > ${i * 7}) { return ccp_error_set(err, CCP_EINVAL, "bad \\"${words[(i + 3) % words.length]}\\" at %zu", off); } // ✓ 检查 ${i}`).join('\n');

const tools = Array.from({ length: nTools }, (_, i) => ({
  name: `Tool${i}`,
  description: `${sentence(60)}\n\nUsage:\n- ${sentence(20)}\n- ${sentence(25)}`,
  input_schema: {
    $schema: 'http://json-schema.org/draft-07/schema#',
    type: 'object',
    additionalProperties: false,
    properties: {
      file_path: { type: 'string', description: sentence(15) },
      options: {
        type: 'object',
        properties: {
          mode: { type: 'string', enum: ['read', 'write', 'append'] },
          limits: { type: 'object', properties: { lines: { type: 'integer', minimum: 1 }, bytes: { type: 'integer' } } },
          tags: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, value: { type: 'string' } } } },
        },
      },
      timeout: { type: 'number', description: sentence(10) },
    },
    required: ['file_path'],
  },
}));

const req = {
  model: 'claude-sonnet-4-5-20250929',
  max_tokens: 64000,
  stream: true,
  thinking: { type: 'adaptive' },
  output_config: { effort: 'high' },
  metadata: { user_id: JSON.stringify({ device_id: 'd'.repeat(64), session_id: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0' }) },
  system: [
    { type: 'text', text: 'x-anthropic-billing-header: cc_version=2.1.197; cc_entrypoint=cli; cch=8f3a1;' },
    { type: 'text', text: 'You are a coding agent. ' + sentence(400), cache_control: { type: 'ephemeral' } },
    { type: 'text', text: sentence(1500) },
  ],
  tools,
  messages: [{ role: 'user', content: [{ type: 'text', text: 'Fix the failing test in src/core/buf.c 🙂' }] }],
};
let turn = 0;
const more = () => (nTurns === undefined ? JSON.stringify(req).length < target : turn * 2 < nTurns);
if (nTurns !== undefined) {
  req.system[1].text = 'You are a coding agent. ' + sentence(40);
  req.system[2].text = '';
}
if (args.includes('--no-stream')) req.stream = false;
if (nTools === 0) delete req.tools;
while (more()) {
  const id = `toolu_${String(turn).padStart(20, '0')}`;
  req.messages.push({ role: 'assistant', content: [
    { type: 'thinking', thinking: sentence(80), signature: 'Eq' + 'A'.repeat(200) },
    { type: 'text', text: sentence(30) },
    { type: 'tool_use', id, name: `Tool${turn % Math.max(nTools, 1)}`, input: { file_path: `/src/mod${turn}.c`, options: { mode: 'read', limits: { lines: 200 } } } },
  ] });
  if (nTurns !== undefined && turn * 2 + 1 >= nTurns) { turn++; break; }
  req.messages.push({ role: 'user', content: [
    { type: 'tool_result', tool_use_id: id, content: [{ type: 'text', text: code(nTurns === undefined ? 40 : 12) }] },
  ] });
  turn++;
}
if (req.messages.at(-1).role !== 'user') req.messages.push({ role: 'user', content: [{ type: 'text', text: 'Go on.' }] });
// Fixed shape: pad the last system block up to the size asked for.
while (nTurns !== undefined && JSON.stringify(req).length < target) req.system[2].text += sentence(20) + ' ';
req.messages.at(-1).content.at(-1).cache_control = { type: 'ephemeral' };
process.stdout.write(JSON.stringify(req));
