#!/usr/bin/env bash
# `make bench`: runs each benchmark in bench/ and prints its Markdown tables.
# Results go to bench/results/ (the latest run) and are copied by hand into
# docs/performance.md with the machine they ran on.
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
} | tee "$out"
echo "written to $out" >&2
