#!/usr/bin/env bash
# Makes sure `ffmpeg` and `ffprobe` are on PATH, installing Debian's ffmpeg when they are not.
# Used by the engine tests and by CI; safe to run repeatedly and concurrently (apt is locked).
set -euo pipefail

if command -v ffprobe >/dev/null 2>&1 && command -v ffmpeg >/dev/null 2>&1; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-ffmpeg: ffmpeg/ffprobe missing and apt-get is not available; install ffmpeg" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo -n"
fi

# Several test binaries may call this at once: serialise on a lock file so only one installs.
LOCK="${TMPDIR:-/tmp}/retrovue-ensure-ffmpeg.lock"
exec 9>"$LOCK"
flock 9
if command -v ffprobe >/dev/null 2>&1 && command -v ffmpeg >/dev/null 2>&1; then
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
$SUDO apt-get install -y -qq --no-install-recommends ffmpeg >&2
command -v ffprobe >/dev/null 2>&1
