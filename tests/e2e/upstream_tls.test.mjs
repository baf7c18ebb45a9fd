// TLS to providers, against HTTPS mock upstreams with certificates this test
// makes with the openssl CLI: a private CA through tls.ca_file, an unknown CA
// refused, a TLS 1.1-only server refused, min_version 1.3 refusing a TLS
// 1.2 server, a public-key pin (right one served, wrong one refused), mutual
// TLS to a server that requires a client certificate, and
// insecure_skip_verify warned about at start.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { startProxy } from './lib/proxy.mjs';
import { fixture } from './lib/mock_anthropic.mjs';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-tls-'));
const f = (name) => path.join(dir, name);
const openssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });

// A CA, and a certificate for subject signed by it (P-256 keys).
function makeCa(name) {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`);
}
function makeCert(name, ca, ext) {
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
  fs.writeFileSync(f(`${name}.ext`), `${ext}\n`);
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`,
    '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
  fs.chmodSync(f(`${name}.key`), 0o600);
}
// "sha256//<base64>" of a key's public half, as curl pins it.
function pinOf(keyFile) {
  const der = openssl('pkey', '-in', keyFile, '-pubout', '-outform', 'der');
  return `sha256//${execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: der }).toString('base64')}`;
}

const servers = {};
let wrongPin;

function startHttps(name, opts) {
  const requests = [];
  const server = https.createServer({ key: fs.readFileSync(f('server.key')), cert: fs.readFileSync(f('server.pem')), ...opts }, (req, res) => {
    requests.push({ url: req.url, clientCert: req.socket.getPeerCertificate()?.subject?.CN ?? null });
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(fixture('text.json'));
    });
  });
  server.on('tlsClientError', () => {});
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    servers[name] = { server, requests, url: `https://127.0.0.1:${server.address().port}` };
    resolve();
  }));
}

before(async () => {
  makeCa('ca');
  makeCa('otherca');
  makeCert('server', 'ca', 'subjectAltName=IP:127.0.0.1');
  makeCert('client', 'ca', 'extendedKeyUsage=clientAuth');
  makeCert('decoy', 'ca', 'subjectAltName=IP:127.0.0.1');
  wrongPin = pinOf('decoy.key');
  await startHttps('modern', {});
  await startHttps('tls12', { maxVersion: 'TLSv1.2' });
  await startHttps('tls11', { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
  await startHttps('mtls', { requestCert: true, rejectUnauthorized: true, ca: fs.readFileSync(f('ca.pem')) });
});

after(async () => {
  for (const s of Object.values(servers)) {
    s.server.closeAllConnections();
    await new Promise((r) => s.server.close(r));
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

// One proxy (one worker, so connections could be shared between providers
// if curl let them be) with a provider per case; a request to "p/m" goes to
// provider p.
async function withProxy(providers, fn) {
  const yaml = `providers:\n${providers.map(([name, server, tls]) => `  - name: ${name}
    base_url: ${servers[server].url}
    api_key: k-tls-${name}
    retry: {attempts: 1}
    tls: {${tls}}
`).join('')}router:\n  default: ${providers[0][0]}/m\n`;
  const proxy = await startProxy(yaml, { args: ['--workers', '1'] });
  let log;
  try {
    await fn(proxy, async (provider) => {
      const res = await fetch(`${proxy.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: `${provider}/m`, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
      });
      return { status: res.status, body: await res.json() };
    });
  } finally {
    log = await proxy.stop();
  }
  return log;
}

test('a_private_ca_is_trusted_through_ca_file_and_an_unknown_ca_is_refused', async () => {
  await withProxy([
    ['private', 'modern', `ca_file: ${f('ca.pem')}`],
    ['system', 'modern', ''],
    ['other', 'modern', `ca_file: ${f('otherca.pem')}`],
  ], async (proxy, ask) => {
    const ok = await ask('private');
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    for (const p of ['system', 'other']) {
      const r = await ask(p);
      assert.equal(r.status, 502, `${p}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.type, 'api_error');
      assert.match(r.body.error.message, /certificate|SSL|issuer/i);
    }
  });
  assert.equal(servers.modern.requests.length, 1);
  servers.modern.requests.length = 0;
});

test('tls_1_1_is_refused_and_min_version_1_3_refuses_a_tls_1_2_server', async () => {
  await withProxy([
    ['v12', 'tls12', `ca_file: ${f('ca.pem')}`],
    ['v13', 'tls12', `ca_file: ${f('ca.pem')}, min_version: "1.3"`],
    ['v11', 'tls11', `ca_file: ${f('ca.pem')}`],
  ], async (proxy, ask) => {
    assert.equal((await ask('v12')).status, 200);
    for (const p of ['v13', 'v11']) {
      const r = await ask(p);
      assert.equal(r.status, 502, `${p}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error.message, /version|alert|SSL|TLS/i);
    }
  });
  assert.equal(servers.tls12.requests.length, 1);
  assert.equal(servers.tls11.requests.length, 0);
});

test('a_wrong_public_key_pin_is_refused_and_the_right_one_served', async () => {
  await withProxy([
    ['pinned', 'modern', `ca_file: ${f('ca.pem')}, pin_sha256: "${pinOf('server.key')}"`],
    ['mispinned', 'modern', `ca_file: ${f('ca.pem')}, pin_sha256: "${wrongPin}"`],
  ], async (proxy, ask) => {
    assert.equal((await ask('pinned')).status, 200);
    // Asked after a good connection to the same host is open and idle: the
    // pin must still be checked, not the connection reused.
    const r = await ask('mispinned');
    assert.equal(r.status, 502, JSON.stringify(r.body));
    assert.match(r.body.error.message, /public key|pinned/i);
  });
  assert.equal(servers.modern.requests.length, 1);
  servers.modern.requests.length = 0;
});

test('mutual_tls_sends_the_client_certificate', async () => {
  await withProxy([
    ['mtls', 'mtls', `ca_file: ${f('ca.pem')}, client_cert: ${f('client.pem')}, client_key: ${f('client.key')}`],
    ['nocert', 'mtls', `ca_file: ${f('ca.pem')}`],
  ], async (proxy, ask) => {
    assert.equal((await ask('mtls')).status, 200);
    const r = await ask('nocert');
    assert.equal(r.status, 502, JSON.stringify(r.body));
  });
  assert.deepEqual(servers.mtls.requests.map((r) => r.clientCert), ['client']);
});

test('insecure_skip_verify_works_and_is_warned_about_at_start', async () => {
  const log = await withProxy([['insecure', 'modern', 'insecure_skip_verify: true']], async (proxy, ask) => {
    assert.equal((await ask('insecure')).status, 200);
    assert.match(proxy.log(), /provider insecure: tls\.insecure_skip_verify is on/);
  });
  assert.match(log, /certificate is NOT verified/);
  servers.modern.requests.length = 0;
});
