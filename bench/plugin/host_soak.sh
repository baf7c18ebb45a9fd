#!/bin/sh
# bench/plugin/host_soak.sh — plugin hosts under a long load: the proxy
# with the bench's one-field plugin in process isolation, in front of the
# bench's mock upstream, under wrk (32 connections), for SECONDS; every
# 10 s it prints the hosts' resident memory (/metrics) and at the end any
# log line about a plugin host that ended, and the failed requests.
# memory_mb (default 1) lowers the hosts' address-space cap (RLIMIT_AS =
# size at start + 2 × memory_mb + 64 MiB), so that memory a host keeps per
# call shows as a host that ends within minutes rather than hours.
#
#   bench/plugin/host_soak.sh BIN [SECONDS] [MEMORY_MB] [BODY_BYTES]
#   e.g. bench/plugin/host_soak.sh build-rel/ccproxy 120 1
# CCP_BENCH_MOCK: the mock upstream (default: ccp-bench-mock beside BIN).
set -eu
BIN=$(realpath "$1")
SECS=${2:-120}
MEM=${3:-1}
BYTES=${4:-2000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MOCK=${CCP_BENCH_MOCK:-$(dirname "$BIN")/ccp-bench-mock}
W=$(mktemp -d /tmp/ccp-host-soak-XXXXXX)
MOCK_PID= PROXY_PID=
cleanup() {
    [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null || true
    [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT INT TERM

"$MOCK" --port 0 >"$W/mock.out" 2>&1 &
MOCK_PID=$!
for _ in $(seq 50); do grep -q port "$W/mock.out" && break; sleep 0.1; done
MPORT=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$W/mock.out" | head -1)
PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')

cat >"$W/edit.lua" <<'EOF'
return {
  name = 'bench-edit', version = '1', summary = 'edits one field of the request (bench)',
  request = function(req) req.max_tokens = 4096 end,
}
EOF
cat >"$W/cfg.yaml" <<EOF
server:
  port: $PORT
  log_level: warn
plugins:
  dirs: []
  load:
    - {path: $W/edit.lua, isolation: process, limits: {memory_mb: $MEM}}
pipelines:
  bench: [bench-edit]
providers:
  - name: mock
    format: openai-chat
    base_url: http://127.0.0.1:$MPORT/v1
    auth: none
    models: [gpt-bench]
    pipeline: bench
router:
  default: mock/gpt-bench
EOF
node "$ROOT/bench/gen_claude_request.mjs" "$BYTES" --tools 0 --turns 0 --no-stream >"$W/body.json"
cat >"$W/post.lua" <<'EOF'
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["content-type"] = "application/json"
wrk.headers["x-api-key"] = "bench"
wrk.headers["anthropic-version"] = "2023-06-01"
EOF
"$BIN" serve --config "$W/cfg.yaml" >"$W/proxy.log" 2>&1 &
PROXY_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done

BENCH_BODY="$W/body.json" wrk -t2 -c32 -d"${SECS}s" -s "$W/post.lua" \
    "http://127.0.0.1:$PORT/v1/messages" >"$W/wrk.out" 2>&1 &
WRK_PID=$!
t=0
while kill -0 "$WRK_PID" 2>/dev/null; do
    sleep 10
    t=$((t + 10))
    m=$(curl -s "http://127.0.0.1:$PORT/metrics")
    echo "t=${t}s hosts=$(echo "$m" | sed -n 's/^ccproxy_plugin_hosts{.*} //p')" \
        "rss_bytes=$(echo "$m" | sed -n 's/^ccproxy_plugin_host_resident_memory_bytes{.*} //p')" \
        "calls=$(echo "$m" | sed -n 's/^ccproxy_plugin_calls_total{.*} //p')" \
        "errors=$(echo "$m" | sed -n 's/^ccproxy_plugin_errors_total{.*} //p')" \
        "kills=$(echo "$m" | sed -n 's/^ccproxy_plugin_kills_total{.*} //p')"
done
wait "$WRK_PID" || true
grep -E "Requests/sec|Non-2xx|Socket errors" "$W/wrk.out" || true
echo "--- log lines about plugin hosts:"
grep -E "plugin host|plugin-host|breaker" "$W/proxy.log" | sort | uniq -c | sort -rn | head -20 || true
