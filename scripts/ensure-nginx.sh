#!/usr/bin/env bash
# Prints the path of an nginx binary, for the test of HLS behind an ordinary HTTP cache
# (tests/it/serve_hls_cache.rs). An nginx on PATH is used as it is; otherwise Debian's nginx
# package is downloaded and unpacked under target/tools/nginx (dpkg -x: no maintainer scripts, so
# no system service is started and nothing listens but the test's own nginx on loopback). Its
# libraries (pcre2, OpenSSL, zlib) are installed from Debian's packages when missing. Safe to run
# repeatedly and concurrently.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/target/tools/nginx"
LOCAL="$TOOLS/usr/sbin/nginx"

if command -v nginx >/dev/null 2>&1; then
    command -v nginx
    exit 0
fi
if [ -x "$LOCAL" ]; then
    echo "$LOCAL"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-nginx: nginx missing and apt-get is not available; install nginx" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo -n"
fi

mkdir -p "$ROOT/target/tools"
LOCK="$ROOT/target/tools/ensure-nginx.lock"
exec 9>"$LOCK"
flock 9
if [ -x "$LOCAL" ]; then
    echo "$LOCAL"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
if ! apt-cache show nginx >/dev/null 2>&1; then
    $SUDO apt-get update -qq >&2
fi
missing=()
for lib in libpcre2-8-0 libssl3 zlib1g libcrypt1; do
    dpkg -s "$lib" >/dev/null 2>&1 || missing+=("$lib")
done
if [ "${#missing[@]}" -gt 0 ]; then
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
WORK="$(mktemp -d)"
chmod 755 "$WORK" # apt downloads as its own user
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && apt-get download nginx >&2)
rm -rf "$TOOLS.partial"
mkdir -p "$TOOLS.partial"
dpkg -x "$WORK"/nginx_*.deb "$TOOLS.partial"
rm -rf "$TOOLS"
mv "$TOOLS.partial" "$TOOLS"
"$LOCAL" -v >&2
echo "$LOCAL"
