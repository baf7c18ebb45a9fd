// Test certificates made with the openssl CLI: a CA, and server
// certificates it signs for 127.0.0.1 and localhost. Nothing is downloaded
// or kept: each test makes its own in a temporary directory.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const openssl = (args, cwd) => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });

// Returns { dir, ca } and issue(name) → { cert, key } (paths), each a new
// key pair and certificate with its own serial number.
export function makeCA() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ccproxy-tls-'));
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=ccproxy test CA'], dir);
  fs.writeFileSync(path.join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  return {
    dir,
    ca: path.join(dir, 'ca.pem'),
    issue(name) {
      openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
        '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
      openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key',
        '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', 'ext'], dir);
      fs.chmodSync(path.join(dir, `${name}.key`), 0o600);
      return { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}.key`) };
    },
    remove() { fs.rmSync(dir, { recursive: true, force: true }); },
  };
}
