#!/usr/bin/env bash
# Installs what cc-proxy needs to build and test, idempotently: Debian packages
# (only those missing, so a second run takes well under a second) and the
# end-to-end tests' npm packages from the committed package-lock.json.
#   scripts/deps.sh            build + test
#   scripts/deps.sh --no-npm   build only
#   scripts/deps.sh --clang    build + clang, clang-format and libFuzzer
#                              (make fuzz, and .ci/run's clang build and format check)
#   scripts/deps.sh --bench    build + the benchmark's peers (wrk, nginx,
#                              claude-code-router from bench/ccr's lock)
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-}

PKGS=(build-essential cmake pkg-config libuv1-dev libjson-c-dev libcurl4-openssl-dev libssl-dev
      node-llhttp libyaml-dev libcmocka-dev nodejs npm prometheus
      liblua5.4-dev libseccomp-dev libsqlite3-dev libhiredis-dev
      redis-server sqlite3 openssl tmux lintian fakeroot
      zsh fish   # the completion tests run `ccproxy completion zsh|fish` in them
      chromium)  # headless, for the /ui browser test (tests/e2e/ui.test.mjs)
[[ $MODE == --bench ]] && PKGS+=(wrk nginx-light libcjson-dev libjansson-dev)
# clang for the second compiler CI builds with, clang-format for the format
# check, libclang-rt-dev for libFuzzer and clang's sanitizer runtimes (only
# recommended by clang, which is installed without recommendations here).
[[ $MODE == --clang ]] && PKGS+=(clang clang-format libclang-rt-dev)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# nodejs/npm may come from elsewhere (a preinstalled Node); accept any working node and npm.
if command -v node >/dev/null && command -v npm >/dev/null; then
  tmp=(); for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || tmp+=("$p"); done
  missing=("${tmp[@]}")
fi
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}" >&2
  SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  # Packages with a service (nginx) must not start it: the benchmark runs its
  # own instance on a free port. policy-rc.d is Debian's switch for that.
  policy=/usr/sbin/policy-rc.d; made_policy=""
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee $policy >/dev/null && $SUDO chmod +x $policy && made_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [[ -n $made_policy ]] && $SUDO rm -f $policy
fi

# npm ci in a directory, skipped while its lock is unchanged.
npm_ci() {
  local dir=$1 stamp=$1/node_modules/.ccp-lock-stamp
  if [[ ! -f $stamp ]] || ! cmp -s "$dir/package-lock.json" "$stamp"; then
    echo "deps: npm ci in $dir" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    cp "$dir/package-lock.json" "$stamp"
  fi
}
case $MODE in
  --no-npm | --clang) ;;
  --bench) npm_ci bench/ccr ;;
  *) npm_ci . ;;
esac
