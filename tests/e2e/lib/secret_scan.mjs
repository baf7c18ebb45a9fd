// The secret scan of issue 17, run over the whole e2e suite when
// CCP_SECRET_SCAN=1: startProxy (lib/proxy.mjs) collects the secrets a
// proxy's config holds (provider api_key / api_keys / headers values,
// telemetry headers, ${file:...} contents, ${VAR} values and key-like
// variables of the environment the test passed) and, when the proxy stops,
// looks for each of them in every byte the proxy wrote and in the proxy's
// HTTP answers seen through fetch. A finding fails the test that started the
// proxy, naming the key (masked), where it came from, and the output.
import fs from 'node:fs';
import crypto from 'node:crypto';
import yaml from 'js-yaml';

export const SCAN = process.env.CCP_SECRET_SCAN === '1';

// A recognisable provider key, one per test process, that mockConfig puts
// in place of a generic one (the mocks accept any key).
export const SCAN_KEY = `sk-ccpscan-${crypto.randomBytes(8).toString('hex')}`;

// Shorter values are not secrets to the proxy either (its redaction leaves
// them alone, docs/security.md), and too generic to tell a leak by.
const MIN_LEN = 8;

export function mask(s) {
  return s.length <= 8 ? '*'.repeat(s.length) : `${s.slice(0, 6)}…${s.slice(-2)} (${s.length} chars)`;
}

// Replaces ${VAR}, ${VAR:-default}, ${file:/path} and $$ as the config
// loader does; an unresolvable reference is left as it is.
function interpolate(value, env) {
  return value.replace(/\$\$|\$\{([^}]*)\}/g, (all, ref) => {
    if (all === '$$') return '$';
    if (ref.startsWith('file:')) {
      try { return fs.readFileSync(ref.slice(5), 'utf8').replace(/[\r\n]+$/, ''); } catch { return all; }
    }
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s.exec(ref);
    if (!m) return all;
    const v = env[m[1]];
    if (v !== undefined && v !== '') return v;
    return m[2] ?? all;
  });
}

const SECRET_FIELDS = new Set(['api_key', 'api_keys', 'token', 'secret', 'password', 'bearer']);

// [{value, where}] for every secret of a config text and environment.
export function collectSecrets(yamlText, env = {}) {
  const found = new Map();
  const add = (raw, where) => {
    if (typeof raw !== 'string') return;
    const v = interpolate(raw, env);
    if (v.length >= MIN_LEN && !found.has(v) && !/\$\{/.test(v)) found.set(v, where);
    // "Bearer X": X alone is the secret too.
    const bearer = /^(?:Bearer|Basic|token)\s+(\S{8,})$/i.exec(v);
    if (bearer && !found.has(bearer[1])) found.set(bearer[1], where);
  };
  const walk = (node, where, secret) => {
    if (Array.isArray(node)) node.forEach((n, i) => walk(n, `${where}[${i}]`, secret));
    else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        const p = where ? `${where}.${k}` : k;
        walk(v, p, secret || SECRET_FIELDS.has(k) || (k === 'headers' && /^(providers\[\d+\]|telemetry)$/.test(where)));
      }
    } else if (secret) add(node, where);
  };
  let doc = null;
  try {
    doc = yaml.load(yamlText);
  } catch {
    // A test of a broken config: its plain `api_key: X` lines at least.
    for (const m of yamlText.matchAll(/\bapi_key\s*:\s*['"]?([^'"\s,}]+)/g)) add(m[1], 'api_key');
  }
  walk(doc, '', false);
  // state.redis's password (redis://[USER]:PASSWORD@host...).
  const redis = doc?.state?.redis;
  const pw = typeof redis === 'string' ? /^redis:\/\/[^/@]*?:([^@/]+)@/.exec(interpolate(redis, env)) : null;
  if (pw) add(pw[1], 'state.redis password');
  // ${file:} references anywhere are secrets whatever the key.
  for (const m of yamlText.matchAll(/\$\{file:([^}]+)\}/g)) add(`\${file:${m[1]}}`, `\${file:${m[1]}}`);
  for (const [name, v] of Object.entries(env)) {
    if (typeof v !== 'string') continue;
    if (/KEY|TOKEN|SECRET|PASSWORD|AUTH/i.test(name) && !/^(ASAN|UBSAN|LSAN)_/.test(name)) add(v, `env ${name}`);
    if (/HEADERS$/.test(name)) for (const kv of v.split(',')) add(kv.slice(kv.indexOf('=') + 1).trim(), `env ${name}`);
    if (new RegExp(`\\$\\{${name}(:-[^}]*)?\\}`).test(yamlText)) add(v, `env ${name}`);
  }
  return [...found].map(([value, where]) => ({ value, where }));
}

// Findings of the secrets in one output (a Buffer or string).
export function scanOutput(secrets, name, data) {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(String(data ?? ''));
  const out = [];
  for (const s of secrets) {
    const at = buf.indexOf(s.value);
    if (at < 0) continue;
    const ctx = buf.subarray(Math.max(0, at - 80), at + s.value.length + 40).toString('utf8').split(s.value).join(mask(s.value));
    out.push(`key ${mask(s.value)} (${s.where}) appeared in ${name} at byte ${at}: …${ctx}…`);
  }
  return out;
}
