#!/usr/bin/env bash
# Checks a built ccproxy .deb: lintian (errors and warnings fail; the
# overrides shipped in the package say why each remaining tag is accepted),
# what it must hold (binary, man page, docs, examples, the sandboxed unit,
# the config as a conffile), then extracts it into a temporary root and runs
# the program from there: `ccproxy version` and `ccproxy check` of the
# packaged /etc/ccproxy/config.yaml.
#   scripts/check-deb.sh path/to/ccproxy_VERSION_ARCH.deb
set -euo pipefail
DEB=$1
echo "== lintian $DEB"
lintian --fail-on error,warning --pedantic -I "$DEB"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
dpkg-deb -x "$DEB" "$TMP/root"
dpkg-deb -e "$DEB" "$TMP/control"
for f in usr/bin/ccproxy usr/share/man/man1/ccproxy.1.gz usr/share/doc/ccproxy/copyright \
  usr/share/doc/ccproxy/README.md usr/share/doc/ccproxy/api.md usr/share/doc/ccproxy/openapi.yaml \
  usr/share/doc/ccproxy/examples/openrouter.yaml lib/systemd/system/ccproxy.service \
  etc/ccproxy/config.yaml; do
  [[ -e $TMP/root/$f ]] || { echo "check-deb: the package lacks /$f" >&2; exit 1; }
done
grep -qx /etc/ccproxy/config.yaml "$TMP/control/conffiles"
for d in DynamicUser=yes ProtectSystem=strict NoNewPrivileges=yes StateDirectory=ccproxy; do
  grep -qx "$d" "$TMP/root/lib/systemd/system/ccproxy.service" ||
    { echo "check-deb: the unit lacks $d" >&2; exit 1; }
done
# systemd's own reading of the unit: an unknown or invalid directive fails.
# (Within the temporary root /bin/kill and the man page are missing; those
# complaints are expected.)
if command -v systemd-analyze >/dev/null 2>&1; then
  V=$(systemd-analyze verify --root="$TMP/root" lib/systemd/system/ccproxy.service 2>&1 || true)
  if grep -Ei 'unknown|invalid|failed to parse|ignoring' <<<"$V"; then
    echo "check-deb: systemd-analyze finds fault with the unit" >&2
    exit 1
  fi
fi

echo "== run from the extracted root"
"$TMP/root/usr/bin/ccproxy" version
# The packaged config, as the service's ExecStartPre checks it.
env -i PATH=/usr/bin:/bin HOME="$TMP" "$TMP/root/usr/bin/ccproxy" check --config "$TMP/root/etc/ccproxy/config.yaml"
zcat "$TMP/root/usr/share/man/man1/ccproxy.1.gz" | grep -q '^\.SS import-ccr' ||
  { echo "check-deb: the man page does not document import-ccr" >&2; exit 1; }
echo "check-deb: ok"
