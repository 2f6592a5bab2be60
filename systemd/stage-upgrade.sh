#!/usr/bin/env bash
# The `ota.installCommand` of a systemd install: ["/opt/fieldbridge/systemd/stage-upgrade.sh"].
#
# It runs inside the service's sandbox as the user fieldbridge, where /opt/fieldbridge is read-only and the service
# cannot be restarted. So it only stages the verified release tarball as
#   /var/lib/fieldbridge/upgrade/fieldbridge-upgrade.tar.gz
# where fieldbridge-upgrade.path notices it and starts fieldbridge-upgrade.service (root), which swaps the program
# and restarts fieldbridge. Nothing from the file is run here: it is listed, to refuse a file that is not a release
# while the cloud can still be told, and copied.
#
# FIELDBRIDGE_UPGRADE_DIR overrides the staging directory (tests; it must match the .path unit otherwise).
set -euo pipefail

DIR=${FIELDBRIDGE_UPGRADE_DIR:-/var/lib/fieldbridge/upgrade}
NAME=fieldbridge-upgrade.tar.gz

die() {
  echo "stage-upgrade.sh: $*" >&2
  exit 1
}

[ $# -eq 1 ] || die "usage: $0 FILE (a fieldbridge release .tar.gz)"
SRC=$1
if [ ! -f "$SRC" ] || [ ! -r "$SRC" ]; then die "not a readable file: $SRC"; fi
LISTING=$(tar -tzf "$SRC" 2>/dev/null) || die "$SRC is not a gzip-compressed tar archive"
grep -Eq '^(\./)?(package/)?dist/cli\.js$' <<<"$LISTING" || die "$SRC is not a fieldbridge release (no dist/cli.js)"

umask 077
mkdir -p "$DIR"
chmod 0700 "$DIR"
# Same directory as the target: the rename below is atomic, so the .path unit never sees a partial file.
TMP=$(mktemp "$DIR/.$NAME.XXXXXX")
trap 'rm -f "$TMP"' EXIT
cp -- "$SRC" "$TMP"
mv -f -- "$TMP" "$DIR/$NAME"
trap - EXIT
echo "staged $SRC as $DIR/$NAME; fieldbridge-upgrade.service installs it and restarts fieldbridge"
