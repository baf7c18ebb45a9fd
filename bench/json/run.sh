#!/usr/bin/env bash
# JSON library benchmark: cJSON, jansson and json-c on Claude Code–shaped
# requests of ~300 KB and ~1 MB (parse + Anthropic→OpenAI rewrite +
# serialize), and the fidelity checks. Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=bench/.work/json
mkdir -p "$work"

missing=()
for p in libcjson-dev libjansson-dev libjson-c-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# One binary per library, linked with that library only: jansson and json-c
# export functions of the same names (json_object_get, ...).
declare -A libs=([cjson]="-lcjson" [jansson]="$(pkg-config --libs jansson)" [json-c]="$(pkg-config --libs json-c)")
for lib in cjson jansson json-c; do
  cc -O2 -Wall -o "$work/bench-$lib" bench/json/bench_main.c "bench/json/lib_${lib//-/}.c" ${libs[$lib]}
done
# json-c objects read and written by ccproxy's own parser and writer.
cc -O2 -Wall -DCCP_OWN -Isrc -o "$work/bench-ccproxy" bench/json/bench_main.c bench/json/lib_jsonc.c \
  src/core/json_parse.c src/core/json.c src/core/buf.c src/core/alloc.c src/core/error.c ${libs[json-c]}
node bench/gen_claude_request.mjs 300000 > "$work/req300k.json"
node bench/gen_claude_request.mjs 1000000 > "$work/req1m.json"

echo "| library | request | median ms | p90 ms | peak RSS KiB | output bytes |"
echo "|---|---|---:|---:|---:|---:|"
for lib in cjson jansson json-c ccproxy; do
  for req in req300k req1m; do
    iters=$([[ $req == req1m ]] && echo 60 || echo 200)
    read -r med p90 rss out < <("$work/bench-$lib" "$lib" "$work/$req.json" "$iters")
    size=$(stat -c %s "$work/$req.json")
    echo "| $lib | $((size / 1024)) KiB | $med | $p90 | $rss | $out |"
  done
done
echo
echo "| library | 2^53+1 integer | \\u0000 in a string | lone surrogate | depth 64 |"
echo "|---|---|---|---|---|"
for lib in cjson jansson json-c ccproxy; do
  line=$("$work/bench-$lib" "$lib" --fidelity)
  get() { sed -E "s/.*$1:([a-z]+).*/\1/" <<<"$line"; }
  echo "| $lib | $(get big_int) | $(get nul) | $(get lone_surrogate) | $(get depth64) |"
done
