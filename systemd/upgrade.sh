#!/usr/bin/env bash
# Installs a fieldbridge release tarball over /opt/fieldbridge and restarts the service. Run as root, normally by
# fieldbridge-upgrade.service on the file that systemd/stage-upgrade.sh staged (an OTA upgrade), or by hand:
#
#   sudo /opt/fieldbridge/systemd/upgrade.sh fieldbridge-1.4.0.tar.gz
#
# The tarball holds a built tree at its top level (dist/, production node_modules/, package.json, config/, systemd/,
# docs/), either directly or below package/ as `npm pack` writes it. It is unpacked next to /opt/fieldbridge, checked,
# and swapped in with renames; the current tree is kept as /opt/fieldbridge.previous (rollback: docs/operations.md,
# section 7). The tarball is removed afterwards, also when it is refused, so that the .path unit does not start
# again on the same file. The unit, config and data are not touched: a release that changes the unit needs
# systemd/install.sh.
set -euo pipefail

OPT_DIR=/opt/fieldbridge
SERVICE=fieldbridge.service

usage() {
  cat <<USAGE
Usage: $0 TARBALL [--prefix DIR] [--dry-run]

  --prefix DIR   install below DIR instead of / (staging and tests); the service is not restarted
  --dry-run      with --prefix: do the file changes below DIR, print the root-only commands (chown, systemctl)
  -h, --help     this text
USAGE
}

die() {
  echo "upgrade.sh: $*" >&2
  exit 1
}

# Prints a command as it would be typed: plain words as they are, others shell-quoted.
show() {
  local out="$1" arg
  shift
  for arg in "$@"; do
    if [[ "$arg" =~ ^[A-Za-z0-9_./:=,+@%-]+$ ]]; then out+=" $arg"; else out+=" $(printf '%q' "$arg")"; fi
  done
  printf '%s\n' "$out"
}

# Ownership and systemctl: root only, printed in a dry run.
priv() {
  if [ "$DRY_RUN" = 1 ]; then
    show "dry-run:" "$@"
  else
    show "+" "$@"
    "$@"
  fi
}

version_of() {
  local v
  v=$(grep -o '"version"[[:space:]]*:[[:space:]]*"[^"]*"' "$1/package.json" 2>/dev/null | head -n 1 | sed 's/.*"\([^"]*\)"$/\1/' || true)
  echo "${v:-?}"
}

# Whatever ends the run before the swap: the half-unpacked tree goes, and so does the staged file.
cleanup() {
  [ -z "${WORK:-}" ] || rm -rf "$WORK"
  [ -z "${TARBALL:-}" ] || rm -f "$TARBALL"
}

main() {
  TARBALL=""
  PREFIX=""
  DRY_RUN=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --dry-run) DRY_RUN=1 ;;
      --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; PREFIX=$2; shift ;;
      --prefix=*) PREFIX=${1#--prefix=} ;;
      -h | --help) usage; exit 0 ;;
      -*) usage >&2; die "unknown argument: $1" ;;
      *) [ -z "$TARBALL" ] || die "only one tarball, got $TARBALL and $1"; TARBALL=$1 ;;
    esac
    shift
  done
  [ -n "$TARBALL" ] || { usage >&2; die "no tarball given"; }
  if [ -n "$PREFIX" ]; then
    case "$PREFIX" in /*) ;; *) die "--prefix must be an absolute path" ;; esac
    PREFIX=${PREFIX%/}
  fi
  # Without a prefix a dry run would still have to replace /opt/fieldbridge to show anything real.
  [ "$DRY_RUN" = 0 ] || [ -n "$PREFIX" ] || die "--dry-run needs --prefix"
  if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then die "must run as root (use sudo)"; fi
  if [ ! -f "$TARBALL" ]; then
    local missing=$TARBALL
    TARBALL=""
    die "no such file: $missing"
  fi

  local target="$PREFIX$OPT_DIR" parent tree
  parent=$(dirname "$target")
  trap cleanup EXIT
  mkdir -p "$parent"
  # Next to the target: the swap is a rename within one filesystem.
  WORK=$(mktemp -d "$parent/.fieldbridge-upgrade.XXXXXX")
  # Owners from the build machine mean nothing here: everything belongs to whoever unpacks (root).
  tar -xzf "$TARBALL" -C "$WORK" --no-same-owner || die "cannot unpack $TARBALL"
  tree=$WORK
  if [ ! -e "$WORK/dist" ] && [ -d "$WORK/package" ]; then tree=$WORK/package; fi
  local f
  for f in dist/cli.js package.json; do
    [ -f "$tree/$f" ] || die "$TARBALL is not a fieldbridge release ($f is missing); $target is unchanged"
  done
  echo "upgrading fieldbridge $(version_of "$target") -> $(version_of "$tree")${PREFIX:+ below $PREFIX}"
  # The service user reads the program, nobody but root writes it, whatever umask the build ran with.
  chmod -R u+rwX,go+rX,go-w "$tree"
  priv chown -R root:root "$tree"

  rm -rf "$target.previous"
  if [ -e "$target" ]; then mv "$target" "$target.previous"; fi
  if ! mv "$tree" "$target"; then
    [ ! -e "$target.previous" ] || mv "$target.previous" "$target"
    die "could not move the new tree to $target; the previous version is back"
  fi
  echo "installed $target; the previous version is $target.previous"
  cleanup
  trap - EXIT

  if [ -z "$PREFIX" ] || [ "$DRY_RUN" = 1 ]; then
    priv systemctl restart "$SERVICE"
  else
    echo "note: not restarting $SERVICE below --prefix"
  fi
}

# All in a function: bash reads a script while it runs it, and this file is itself part of the tree it replaces.
main "$@"
