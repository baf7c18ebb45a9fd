#!/usr/bin/env bash
# Builds the Debian package of ccproxy with dpkg-deb (no debhelper, no
# source package): a Release build installed under /usr, the man page and
# changelog compressed as policy wants, the docs and examples, the systemd
# unit and /etc/ccproxy/config.yaml from packaging/deb/, the shared-library
# dependencies from dpkg-shlibdeps, owned by root (fakeroot).
#   scripts/build-deb.sh [OUTDIR]    (default: build-deb/; prints the .deb path)
# BUILD names the build directory (default build-deb/cmake).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${1:-build-deb}
BUILD=${BUILD:-$OUT/cmake}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
PKG=ccproxy
# The tree is staged where dpkg-shlibdeps expects a package's files.
SCR=$OUT/pkg
STAGE=$SCR/debian/$PKG
mkdir -p "$OUT"

# Debian's hardening flags (fortify, stack protector, relro, bind now).
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
CFLAGS="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CFLAGS)"
LDFLAGS=$(dpkg-buildflags --get LDFLAGS)
# Maintainer: DEB_MAINTAINER, else who git says is building.
MAINT=${DEB_MAINTAINER:-"$(git config user.name 2>/dev/null || echo cc-proxy) <$(git config user.email 2>/dev/null || echo cc-proxy@localhost)>"}
LOG=$OUT/build.log
if ! { cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
  -DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_EXE_LINKER_FLAGS="$LDFLAGS" &&
  cmake --build "$BUILD" -j "$JOBS" --target ccproxy ccproxy-man ccproxy-completions; } >"$LOG" 2>&1; then
  cat "$LOG" >&2
  exit 1
fi
VERSION=$("$BUILD/ccproxy" version | sed -n 's/^ccproxy \([0-9][^ ]*\).*/\1/p')
[[ -n $VERSION ]] || { echo "build-deb: cannot read the version" >&2; exit 1; }
DEBVER=$VERSION-1
ARCH=$(dpkg --print-architecture)

rm -rf "$SCR"
DESTDIR="$ROOT/$STAGE" cmake --install "$BUILD" >/dev/null
DOC=$STAGE/usr/share/doc/$PKG
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$STAGE/usr/bin/ccproxy"
gzip -9n "$STAGE/usr/share/man/man1/ccproxy.1"
# The LICENSE is in debian/copyright; the OpenAPI document goes beside api.md.
rm -f "$DOC/LICENSE"
install -m 0644 docs/openapi.yaml "$DOC/openapi.yaml"
install -m 0644 packaging/deb/copyright "$DOC/copyright"
DATE=$(date -R -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")
printf '%s (%s) unstable; urgency=medium\n\n  * Package built from the source tree (scripts/build-deb.sh).\n\n -- %s  %s\n' \
  "$PKG" "$DEBVER" "$MAINT" "$DATE" | gzip -9n >"$DOC/changelog.Debian.gz"
install -D -m 0644 packaging/deb/ccproxy.service "$STAGE/lib/systemd/system/ccproxy.service"
install -D -m 0644 packaging/deb/config.yaml "$STAGE/etc/ccproxy/config.yaml"
install -D -m 0644 packaging/deb/lintian-overrides "$STAGE/usr/share/lintian/overrides/$PKG"
# Directories 0755, files 0644, the program 0755, whatever the umask was.
find "$STAGE" -type d -exec chmod 0755 {} +
find "$STAGE" -type f -exec chmod 0644 {} +
chmod 0755 "$STAGE/usr/bin/ccproxy"

# dpkg-shlibdeps wants a debian/control beside it (a scratch one) and the
# package's DEBIAN directory present.
mkdir -p "$STAGE/DEBIAN"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$PKG" "$PKG" >"$SCR/debian/control"
DEPENDS=$(cd "$SCR" && dpkg-shlibdeps -O "debian/$PKG/usr/bin/ccproxy" | sed -n 's/^shlibs:Depends=//p')

mkdir -p "$STAGE/DEBIAN"
echo /etc/ccproxy/config.yaml >"$STAGE/DEBIAN/conffiles"
SIZE=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
cat >"$STAGE/DEBIAN/control" <<EOF
Package: $PKG
Version: $DEBVER
Architecture: $ARCH
Maintainer: $MAINT
Installed-Size: $SIZE
Depends: $DEPENDS
Section: net
Priority: optional
Description: proxy that lets Claude Code use any model provider
 ccproxy serves the Anthropic Messages API and routes each request to a
 configured provider (Anthropic, OpenRouter, DeepSeek, OpenAI, Gemini,
 Groq, local servers such as Ollama or llama.cpp, and more), rewriting
 requests and streamed answers between their formats. Point Claude Code's
 ANTHROPIC_BASE_URL at it.
 .
 The package installs the program, its manual page and documentation, and
 a sandboxed systemd service reading /etc/ccproxy/config.yaml.
EOF
(cd "$STAGE" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | LC_ALL=C sort |
  xargs md5sum >DEBIAN/md5sums)
chmod 0644 "$STAGE/DEBIAN/control" "$STAGE/DEBIAN/conffiles" "$STAGE/DEBIAN/md5sums"

DEB=$OUT/${PKG}_${DEBVER}_${ARCH}.deb
fakeroot dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$DEB" >/dev/null
echo "$DEB"
