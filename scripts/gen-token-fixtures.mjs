// Dev-only: computes reference token counts for tests/fixtures/tokens/*.txt
// with Anthropic's published tokenizer, into reference.json. The unit test
// (tests/unit/test_tokens.c) checks the estimate against these counts.
// Not a runtime or test dependency; run it by hand after changing samples:
//   npm i --no-save @anthropic-ai/tokenizer && node scripts/gen-token-fixtures.mjs
import fs from 'node:fs';
import path from 'node:path';
import { countTokens } from '@anthropic-ai/tokenizer';

const dir = path.join(path.dirname(new URL(import.meta.url).pathname), '../tests/fixtures/tokens');
const out = {};
for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.txt')).sort()) {
  out[f] = countTokens(fs.readFileSync(path.join(dir, f), 'utf8'));
}
fs.writeFileSync(path.join(dir, 'reference.json'), JSON.stringify(out, null, 2) + '\n');
console.log(out);
