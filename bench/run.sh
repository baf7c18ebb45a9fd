#!/usr/bin/env bash
# `make bench`: runs each benchmark in bench/ and prints its Markdown tables.
# Results go to bench/results/latest.md (and a dated copy) and are copied by
# hand into docs/performance.md with the machine they ran on. `make bench`
# first installs the peers (scripts/deps.sh --bench) and builds the release
# binary and the mock upstream.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
out=bench/results/latest.md
{
  echo "# Benchmark run $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(cc --version | head -1)"
  echo
  echo "## JSON libraries (bench/json/run.sh)"
  echo
  bench/json/run.sh
  echo
  echo "## Proxy overhead: direct, nginx, cc-proxy, claude-code-router (bench/proxy/run.mjs)"
  echo
  echo "nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), claude-code-router $(node -p "require('./bench/ccr/node_modules/@musistudio/claude-code-router/package.json').version"), wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}'), Node $(node --version)"
  echo
  node bench/proxy/run.mjs
} | tee "$out"
cp "$out" "bench/results/$(date -u +%Y-%m-%d).md"
echo "written to $out" >&2
