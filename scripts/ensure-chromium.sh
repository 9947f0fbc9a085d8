#!/usr/bin/env bash
# Makes sure a headless-capable Chromium is on PATH (`chromium`), installing Debian's chromium
# when it is not. Used by the web-guide browser test (tests/it/serve_web.rs) and by CI; safe to run
# repeatedly and concurrently (apt is locked, and so is this script).
set -euo pipefail

have() {
    command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1
}

if have; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-chromium: chromium missing and apt-get is not available; install chromium" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo -n"
fi

LOCK="${TMPDIR:-/tmp}/retrovue-ensure-chromium.lock"
exec 9>"$LOCK"
flock 9
if have; then
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
have
