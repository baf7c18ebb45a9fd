// An OTLP/HTTP trace receiver for the tests: accepts POST /v1/traces with
// the JSON encoding (ExportTraceServiceRequest, field names as in the
// OTLP spec's JSON mapping), checks the shape a collector would insist on,
// and keeps every span flattened with its resource's attributes.
import http from 'node:http';

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const UINT = /^[0-9]+$/;

// An AnyValue to a plain JS value; throws on anything the spec does not allow.
function anyValue(v) {
  const keys = Object.keys(v);
  if (keys.length !== 1) throw new Error(`AnyValue must hold exactly one field: ${JSON.stringify(v)}`);
  const [k] = keys;
  switch (k) {
    case 'stringValue': if (typeof v[k] !== 'string') throw new Error('stringValue'); return v[k];
    case 'boolValue': if (typeof v[k] !== 'boolean') throw new Error('boolValue'); return v[k];
    // int64 is a decimal string in ProtoJSON (a number is accepted too).
    case 'intValue': if (!/^-?[0-9]+$/.test(String(v[k]))) throw new Error('intValue'); return Number(v[k]);
    case 'doubleValue': return Number(v[k]);
    case 'arrayValue': return (v[k].values ?? []).map(anyValue);
    default: throw new Error(`unknown AnyValue field ${k}`);
  }
}

function attributes(list = []) {
  const out = {};
  for (const kv of list) {
    if (typeof kv.key !== 'string') throw new Error('attribute key must be a string');
    if (kv.key in out) throw new Error(`attribute ${kv.key} appears twice`);
    out[kv.key] = anyValue(kv.value);
  }
  return out;
}

// Validates one ExportTraceServiceRequest; returns its spans flattened.
export function decodeExport(body) {
  const spans = [];
  if (!Array.isArray(body.resourceSpans)) throw new Error('resourceSpans must be an array');
  for (const rs of body.resourceSpans) {
    const resource = attributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        if (!HEX32.test(s.traceId)) throw new Error(`traceId must be 32 lower-case hex digits: ${s.traceId}`);
        if (!HEX16.test(s.spanId)) throw new Error(`spanId must be 16 lower-case hex digits: ${s.spanId}`);
        if (s.parentSpanId !== undefined && s.parentSpanId !== '' && !HEX16.test(s.parentSpanId))
          throw new Error(`parentSpanId: ${s.parentSpanId}`);
        if (!UINT.test(s.startTimeUnixNano) || !UINT.test(s.endTimeUnixNano)) throw new Error('times must be uint64 strings');
        if (BigInt(s.endTimeUnixNano) < BigInt(s.startTimeUnixNano)) throw new Error('span ends before it starts');
        if (![0, 1, 2, 3, 4, 5].includes(s.kind)) throw new Error(`kind ${s.kind}`);
        if (typeof s.name !== 'string' || !s.name) throw new Error('name');
        spans.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId || null,
          name: s.name,
          kind: s.kind,
          start: BigInt(s.startTimeUnixNano),
          end: BigInt(s.endTimeUnixNano),
          attributes: attributes(s.attributes),
          status: s.status ?? {},
          resource,
          scope: ss.scope,
        });
      }
    }
  }
  return spans;
}

// status: what to answer (200, or an error to test the exporter's failure path).
export async function startOtlpReceiver({ status = 200 } = {}) {
  const spans = [];
  const posts = [];
  const errors = [];
  const waiters = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      posts.push({ url: req.url, headers: req.headers });
      try {
        if (req.method !== 'POST' || req.url !== '/v1/traces') throw new Error(`unexpected ${req.method} ${req.url}`);
        if (!/^application\/json/.test(req.headers['content-type'] ?? '')) throw new Error(`content-type ${req.headers['content-type']}`);
        if (status === 200) spans.push(...decodeExport(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
      } catch (e) {
        errors.push(e.message);
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 3, message: e.message }));
        return;
      }
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end('{}');
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    posts,
    errors,
    // Resolves once pred(spans) holds; rejects after ms (a hang is a failure, not a timing check).
    async waitFor(pred, ms = 10000) {
      const deadline = Date.now() + ms;
      while (!pred(spans)) {
        if (Date.now() > deadline) throw new Error(`spans never matched; got ${JSON.stringify(spans.map((s) => s.name))} errors ${JSON.stringify(errors)}`);
        await new Promise((r) => { waiters.push(r); setTimeout(r, 100); });
      }
      return spans;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
