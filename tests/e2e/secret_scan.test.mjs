// The harness's secret scan (lib/secret_scan.mjs), which `make test` runs
// over the whole suite: which values of a config count as secrets, that a
// leak is found and reported masked, and that under CCP_SECRET_SCAN=1 a
// proxy started by the harness runs at debug level with a recognisable key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { collectSecrets, scanOutput, mask } from './lib/secret_scan.mjs';
import { startProxy, mockConfig, MOCK_KEY, SCAN } from './lib/proxy.mjs';
import { startMock } from './lib/mock_anthropic.mjs';

test('every_kind_of_configured_secret_is_collected_and_plain_settings_are_not', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-scan-'));
  const file = path.join(dir, 'key');
  fs.writeFileSync(file, 'sk-from-file-0001\n');
  const yaml = `
server: {api_keys: [client-key-0002]}
telemetry: {headers: {Authorization: 'Bearer otlp-tok-0003'}}
pipelines: {t: [{use: extra-headers, with: {headers: {x-team: platform}}}]}
providers:
  - {name: a, api_key: '\${CCP_T_KEY}', headers: {x-org: hdr-value-0004}, base_url: http://x}
  - {name: b, api_keys: [pool-key-0005, short], base_url: http://x}
  - {name: c, api_key: '\${file:${file}}', base_url: http://x}
`;
  const got = collectSecrets(yaml, { CCP_T_KEY: 'sk-from-env-0006', OTHER_TOKEN: 'env-token-0007', PATH: '/usr/bin:/bin' });
  const values = got.map((s) => s.value);
  for (const v of ['client-key-0002', 'otlp-tok-0003', 'hdr-value-0004', 'pool-key-0005', 'sk-from-env-0006', 'env-token-0007', 'sk-from-file-0001']) {
    assert.ok(values.includes(v), `${v} is a secret: ${values}`);
  }
  for (const v of ['platform', 'short', 'http://x', '/usr/bin:/bin']) assert.ok(!values.includes(v), `${v} is not a secret`);
  assert.equal(got.find((s) => s.value === 'sk-from-env-0006').where, 'providers[0].api_key');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a_leak_is_found_anywhere_in_the_bytes_and_reported_masked', () => {
  const secrets = [{ value: 'sk-leaky-0123456789', where: 'providers[0].api_key' }];
  const out = Buffer.concat([Buffer.from([0, 1, 2]), Buffer.from('debug x-api-key=sk-leaky-0123456789 sent\n')]);
  const findings = scanOutput(secrets, 'stderr', out);
  assert.equal(findings.length, 1);
  assert.match(findings[0], /providers\[0\]\.api_key/);
  assert.match(findings[0], /stderr at byte 19/);
  assert.ok(!findings[0].includes('sk-leaky-0123456789'), 'the report masks the key');
  assert.ok(findings[0].includes(mask('sk-leaky-0123456789')));
  assert.deepEqual(scanOutput(secrets, 'stdout', 'nothing here'), []);
});

test('under_the_scan_the_harness_runs_proxies_at_debug_with_a_recognisable_key', { skip: !SCAN && 'CCP_SECRET_SCAN is not 1' }, async () => {
  assert.match(MOCK_KEY, /^sk-ccpscan-[0-9a-f]{16}$/);
  const mock = await startMock({ kind: 'json', fixture: 'text.json' });
  const proxy = await startProxy(mockConfig(mock.url));
  try {
    const res = await fetch(`${proxy.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'client' },
      body: JSON.stringify({ model: 'mock-model', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 200);
    await res.text();
    assert.equal(mock.requests[0].headers['x-api-key'], MOCK_KEY);
  } finally {
    const log = await proxy.stop();
    await mock.close();
    assert.match(log, / debug /, 'the proxy ran at debug level');
  }
});

// A key that is also a model name must show up in the debug log: stop()
// then fails, naming the key masked and the output.
test('under_the_scan_a_key_in_the_output_fails_stop', { skip: !SCAN && 'CCP_SECRET_SCAN is not 1' }, async () => {
  const name = 'sk-ccpscan-as-model-0001';
  const mock = await startMock({ kind: 'json', fixture: 'text.json' });
  const proxy = await startProxy(`
providers:
  - {name: mock, format: anthropic, base_url: '${mock.url}', api_key: ${name}, models: [${name}]}
router: {default: 'mock/${name}'}
`);
  try {
    const res = await fetch(`${proxy.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: name, max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }),
    });
    await res.text();
  } finally {
    await assert.rejects(proxy.stop(), (e) => {
      assert.match(e.message, /secret scan/);
      assert.match(e.message, /providers\[0\]\.api_key\) appeared in the proxy's stderr/);
      return true;
    });
    await mock.close();
  }
});
