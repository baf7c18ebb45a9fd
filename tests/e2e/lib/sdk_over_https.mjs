// Run as a child process with NODE_EXTRA_CA_CERTS naming the test CA (the
// way a user points Node clients such as Claude Code at a private CA): the
// official SDK calls CCPROXY_URL once without and once with streaming and
// prints both results as one JSON line.
import Anthropic from '@anthropic-ai/sdk';

const client = new Anthropic({ baseURL: process.env.CCPROXY_URL, apiKey: 'client-key', maxRetries: 0 });
const request = {
  model: 'claude-test-model', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }],
};
const message = await client.messages.create(request);
const stream = client.messages.stream(request);
const events = [];
for await (const ev of stream) events.push(ev.type);
const final = await stream.finalMessage();
process.stdout.write(JSON.stringify({ message, events, final }) + '\n');
