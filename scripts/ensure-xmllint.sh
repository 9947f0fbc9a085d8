#!/usr/bin/env bash
# Makes sure `xmllint` (Debian's libxml2-utils) is on PATH and the XMLTV DTD is available, then
# prints the DTD's path. The DTD comes from Debian's xmltv-util package: installed when present,
# otherwise only the package file is downloaded and the DTD extracted (its Perl dependencies are
# not needed). Safe to run repeatedly and concurrently.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo -n"
fi
CACHE="${TMPDIR:-/tmp}/retrovue-xmltv"
LOCK="${TMPDIR:-/tmp}/retrovue-ensure-xmllint.lock"
exec 9>"$LOCK"
flock 9

if ! command -v xmllint >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq >&2
    $SUDO apt-get install -y -qq --no-install-recommends libxml2-utils >&2
fi

for dtd in /usr/share/xmltv/xmltv.dtd "$CACHE/usr/share/xmltv/xmltv.dtd"; do
    if [ -s "$dtd" ]; then
        echo "$dtd"
        exit 0
    fi
done

mkdir -p "$CACHE"
(
    cd "$CACHE"
    apt-get download xmltv-util >&2 2>/dev/null || {
        $SUDO apt-get update -qq >&2
        apt-get download xmltv-util >&2
    }
    dpkg-deb -x xmltv-util_*.deb "$CACHE"
)
test -s "$CACHE/usr/share/xmltv/xmltv.dtd"
echo "$CACHE/usr/share/xmltv/xmltv.dtd"
