#!/usr/bin/env bash
# Runs each libFuzzer target for a bounded time, seeded with its committed
# corpus; used by `make fuzz` and .ci/run.
#   tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]   (default: every target)
# A target's run first replays its whole committed corpus and the crash
# inputs found so far (tests/fuzz/crashes/<target>/: each must pass once its
# bug is fixed, and keeps passing), then mutates. New inputs go to
# BUILD_DIR/fuzz-corpus/<target>/, never into the committed corpus (see
# docs/fuzzing.md for promoting one); a crash input is saved as
# BUILD_DIR/fuzz-artifacts/<target>-crash-<hash>. Exits 1 if any target
# crashed, after running them all.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=$1 SECONDS_EACH=$2
shift 2
targets=("$@")
if ((${#targets[@]} == 0)); then
  for f in tests/fuzz/fuzz_*.c; do t=${f#tests/fuzz/fuzz_}; targets+=("${t%.c}"); done
fi
mkdir -p "$BUILD/fuzz-artifacts"
failed=()
for t in "${targets[@]}"; do
  work=$BUILD/fuzz-corpus/$t
  mkdir -p "$work"
  seeds=(tests/fuzz/corpus/"$t")
  [[ $t == *_encode ]] && seeds+=(tests/fuzz/corpus/encode-types)
  [[ -d tests/fuzz/crashes/$t ]] && seeds+=(tests/fuzz/crashes/"$t")
  log=$BUILD/fuzz-artifacts/$t.log
  printf 'fuzz %-20s %ss ... ' "$t" "$SECONDS_EACH"
  # Leak detection stays on (ASAN_OPTIONS from the environment may add to it).
  if "$BUILD/fuzz_$t" -max_total_time="$SECONDS_EACH" -timeout=20 -rss_limit_mb=2048 \
       -max_len=65536 -print_final_stats=1 -artifact_prefix="$BUILD/fuzz-artifacts/$t-" \
       "$work" "${seeds[@]}" >"$log" 2>&1; then
    echo "ok ($(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') runs)"
  else
    echo "FAILED (log: $log)"
    grep -E -A25 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|fuzz check failed' "$log" | head -40
    grep -E '^artifact_prefix|Test unit written' "$log"
    failed+=("$t")
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: crashed: ${failed[*]}" >&2
  exit 1
fi
