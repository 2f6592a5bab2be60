#!/usr/bin/env bash
# Installs a built fieldbridge tree as a systemd service, or removes it again.
#
#   sudo systemd/install.sh                  install or upgrade, enable (and start once a config exists)
#   sudo systemd/install.sh --uninstall      remove unit, program and user; keep /etc/fieldbridge, /var/lib/fieldbridge
#   sudo systemd/install.sh --uninstall --purge   also remove the config and the data
#
# Run it from a tree where `npm ci && npm run build` has been done (dist/ and node_modules/ present). Running it
# again is safe: the program is replaced, the config and the data are kept, owners and modes are set again.
set -euo pipefail

NAME=fieldbridge
UNIT="$NAME.service"
# OTA handoff: the sandboxed daemon stages a release (stage-upgrade.sh), the .path unit starts the root oneshot.
UPGRADE_PATH_UNIT="$NAME-upgrade.path"
UPGRADE_UNITS=("$UPGRADE_PATH_UNIT" "$NAME-upgrade.service")
SVC_USER=fieldbridge
SVC_GROUP=fieldbridge
SERIAL_GROUP=dialout
OPT_DIR=/opt/fieldbridge
ETC_DIR=/etc/fieldbridge
DATA_DIR=/var/lib/fieldbridge
UNIT_DIR=/etc/systemd/system

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FROM=$(dirname "$SCRIPT_DIR")
PREFIX=""
DRY_RUN=0
UNINSTALL=0
PURGE=0
START=1
NODE_BIN=""

usage() {
  cat <<EOF
Usage: $0 [options]

Installs the built tree to $OPT_DIR, creates the system user $SVC_USER (member of $SERIAL_GROUP),
$ETC_DIR (config, 0640 root:$SVC_GROUP) and $DATA_DIR (data, 0700 $SVC_USER), and installs and
enables $UNIT, and ${UPGRADE_UNITS[*]} (installs OTA upgrades staged by
systemd/stage-upgrade.sh).

Options:
  --uninstall     remove the unit, $OPT_DIR and the user; $ETC_DIR and $DATA_DIR are kept
  --purge         with --uninstall: remove $ETC_DIR and $DATA_DIR as well
  --from DIR      the built tree to install (default: $FROM)
  --node PATH     the node binary for ExecStart (default: \`command -v node\`)
  --no-start      enable the service but do not (re)start it
  --prefix DIR    install below DIR instead of / (staging and tests); systemctl then acts offline on DIR
  --dry-run       print the commands that need root (accounts, ownership, systemctl) instead of running them;
                  files are written only below --prefix, otherwise their commands are printed as well
  -h, --help      this text
EOF
}

die() {
  echo "install.sh: $*" >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case "$1" in
    --uninstall) UNINSTALL=1 ;;
    --purge) PURGE=1 ;;
    --dry-run) DRY_RUN=1 ;;
    --no-start) START=0 ;;
    --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; PREFIX=$2; shift ;;
    --prefix=*) PREFIX=${1#--prefix=} ;;
    --from) [ $# -ge 2 ] || die "--from needs a directory"; FROM=$2; shift ;;
    --from=*) FROM=${1#--from=} ;;
    --node) [ $# -ge 2 ] || die "--node needs a path"; NODE_BIN=$2; shift ;;
    --node=*) NODE_BIN=${1#--node=} ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
  shift
done

[ "$PURGE" = 0 ] || [ "$UNINSTALL" = 1 ] || die "--purge only goes with --uninstall"
if [ -n "$PREFIX" ]; then
  case "$PREFIX" in /*) ;; *) die "--prefix must be an absolute path" ;; esac
  PREFIX=${PREFIX%/}
fi
if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
  die "must run as root (use sudo), or pass --dry-run to see what it would do"
fi
if [ "$DRY_RUN" = 0 ]; then
  command -v systemctl >/dev/null || die "systemctl not found: fieldbridge installs as a systemd service"
fi
[ -d "$FROM" ] || die "--from: no such directory: $FROM"
FROM=$(cd "$FROM" && pwd)

# The paths as seen on this machine (below the prefix).
P_OPT="$PREFIX$OPT_DIR"
P_ETC="$PREFIX$ETC_DIR"
P_DATA="$PREFIX$DATA_DIR"
P_UNIT_DIR="$PREFIX$UNIT_DIR"

# Prints a command as it would be typed: plain words as they are, others shell-quoted.
show() {
  local out="$1" arg
  shift
  for arg in "$@"; do
    if [[ "$arg" =~ ^[A-Za-z0-9_./:=,+@%-]+$ ]]; then out+=" $arg"; else out+=" $(printf '%q' "$arg")"; fi
  done
  printf '%s\n' "$out"
}

# Changes to files: done when not a dry run, or when a dry run stays inside --prefix.
fs() {
  if [ "$DRY_RUN" = 1 ] && [ -z "$PREFIX" ]; then
    show "dry-run:" "$@"
  else
    show "+" "$@"
    "$@"
  fi
}

# Accounts, ownership and systemctl: root only, never in a dry run.
priv() {
  if [ "$DRY_RUN" = 1 ]; then
    show "dry-run:" "$@"
  else
    show "+" "$@"
    "$@"
  fi
}

systemd_running() {
  [ -z "$PREFIX" ] && [ -d /run/systemd/system ]
}

# systemctl for this machine, or offline on the prefix (enable/disable only create/remove symlinks there).
sysctl_unit() {
  if [ -n "$PREFIX" ]; then
    priv systemctl --root="$PREFIX" "$@"
  else
    priv systemctl "$@"
  fi
}

user_exists() { getent passwd "$SVC_USER" >/dev/null 2>&1; }
group_exists() { getent group "$1" >/dev/null 2>&1; }

nologin_shell() {
  local s
  for s in /usr/sbin/nologin /sbin/nologin /usr/bin/false /bin/false; do
    [ -x "$s" ] && { echo "$s"; return; }
  done
  echo /bin/false
}

resolve_node() {
  local node=${NODE_BIN:-$(command -v node || true)}
  [ -n "$node" ] || die "node not found in PATH: install Node.js 20 or later (see docs/operations.md) or pass --node"
  case "$node" in /*) ;; *) die "--node must be an absolute path: $node" ;; esac
  [[ "$node" =~ ^/[A-Za-z0-9._/+-]+$ ]] || die "the node path must not contain spaces or special characters: $node"
  # The unit runs with ProtectHome=yes and PrivateTmp=yes: a node binary below these is invisible to it.
  local real
  real=$(readlink -f "$node" 2>/dev/null || echo "$node")
  case "$real/" in
    /home/* | /root/* | /run/user/* | /tmp/* | /var/tmp/*)
      die "node is at $real, which the service cannot see (ProtectHome=, PrivateTmp=); install Node.js system-wide (NodeSource package or the official tarball under /usr/local) or pass --node" ;;
  esac
  [ -x "$node" ] || die "node is not executable: $node"
  local major
  major=$("$node" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  [ "$major" -ge 20 ] 2>/dev/null || die "$node is Node.js $major; fieldbridge needs 20 or later"
  echo "$node"
}

check_tree() {
  local f
  for f in dist/cli.js package.json node_modules config/config.example.json; do
    [ -e "$FROM/$f" ] || die "$FROM is not a built tree ($f is missing): run 'npm ci && npm run build' there first"
  done
  [ -f "$SCRIPT_DIR/fieldbridge.service" ] || die "unit template $SCRIPT_DIR/fieldbridge.service is missing"
  for f in "${UPGRADE_UNITS[@]}"; do
    [ -f "$SCRIPT_DIR/$f" ] || die "unit $SCRIPT_DIR/$f is missing"
  done
  if [ -d "$FROM/node_modules/better-sqlite3" ] && ! ls "$FROM"/node_modules/better-sqlite3/build/Release/*.node >/dev/null 2>&1; then
    die "better-sqlite3 has no native build in $FROM/node_modules: run 'npm ci' with python3, make and g++ installed (docs/operations.md)"
  fi
  if [ -d "$FROM/node_modules/typescript" ]; then
    echo "note: node_modules has development packages; 'npm prune --omit=dev' before installing saves about 40 MB"
  fi
}

ensure_account() {
  group_exists "$SERIAL_GROUP" || priv groupadd --system "$SERIAL_GROUP"
  if ! user_exists; then
    priv useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home --shell "$(nologin_shell)" \
      --comment "fieldbridge edge gateway" "$SVC_USER"
  fi
  # Idempotent: -a adds the group and keeps the others.
  priv usermod -a -G "$SERIAL_GROUP" "$SVC_USER"
}

install_program() {
  local stage="$P_OPT.new" old="$P_OPT.old" item
  fs rm -rf "$stage" "$old"
  fs mkdir -p "$stage"
  for item in dist node_modules package.json package-lock.json config docs systemd README.md LICENSE; do
    [ -e "$FROM/$item" ] && fs cp -a "$FROM/$item" "$stage/"
  done
  # The service user reads the program, nobody but root writes it, whatever umask the build ran with.
  fs chmod -R u+rwX,go+rX,go-w "$stage"
  priv chown -R root:root "$stage"
  # Swap in one step: a running daemon keeps its open files until the restart below.
  if [ -e "$P_OPT" ]; then fs mv "$P_OPT" "$old"; fi
  fs mv "$stage" "$P_OPT"
  fs rm -rf "$old"
}

install_config() {
  CONFIG_CREATED=0
  fs mkdir -p "$P_ETC"
  fs chmod 0750 "$P_ETC"
  priv chown root:"$SVC_GROUP" "$P_ETC"
  if [ ! -e "$P_ETC/config.json" ]; then
    fs cp "$FROM/config/config.example.json" "$P_ETC/config.json"
    CONFIG_CREATED=1
  fi
  # The config holds the device secrets: readable by the service group, writable by root only.
  fs chmod 0640 "$P_ETC/config.json"
  priv chown root:"$SVC_GROUP" "$P_ETC/config.json"
}

install_data_dir() {
  fs mkdir -p "$P_DATA"
  fs chmod 0700 "$P_DATA"
  # -R: after a reinstall the user may have a new uid; the kept data must follow it.
  priv chown -R "$SVC_USER":"$SVC_GROUP" "$P_DATA"
}

install_unit() {
  local node=$1 tmp
  fs mkdir -p "$P_UNIT_DIR"
  if [ "$DRY_RUN" = 1 ] && [ -z "$PREFIX" ]; then
    echo "dry-run: write $P_UNIT_DIR/$UNIT (0644) with ExecStart=$node --single-threaded-gc $OPT_DIR/dist/cli.js run --config $ETC_DIR/config.json"
    return
  fi
  tmp=$(mktemp "$P_UNIT_DIR/.$UNIT.XXXXXX")
  sed -e "s#^ExecStart=[^ ]*#ExecStart=$node#" "$SCRIPT_DIR/fieldbridge.service" >"$tmp"
  grep -q "^ExecStart=$node --single-threaded-gc $OPT_DIR/dist/cli.js run --config $ETC_DIR/config.json\$" "$tmp" ||
    { rm -f "$tmp"; die "unit template has an unexpected ExecStart line"; }
  chmod 0644 "$tmp"
  fs mv "$tmp" "$P_UNIT_DIR/$UNIT"
}

# The upgrade units name no machine-specific path: copied as they are.
install_upgrade_units() {
  local u tmp
  for u in "${UPGRADE_UNITS[@]}"; do
    if [ "$DRY_RUN" = 1 ] && [ -z "$PREFIX" ]; then
      echo "dry-run: write $P_UNIT_DIR/$u (0644) from $SCRIPT_DIR/$u"
      continue
    fi
    tmp=$(mktemp "$P_UNIT_DIR/.$u.XXXXXX")
    cat "$SCRIPT_DIR/$u" >"$tmp"
    chmod 0644 "$tmp"
    fs mv "$tmp" "$P_UNIT_DIR/$u"
  done
}

do_install() {
  check_tree
  local node
  node=$(resolve_node)
  echo "installing fieldbridge $("$node" -p 'require(process.argv[1]).version' "$FROM/package.json" 2>/dev/null || echo '?') from $FROM with $node${PREFIX:+ below $PREFIX}"
  ensure_account
  install_program
  install_config
  install_data_dir
  install_unit "$node"
  install_upgrade_units

  if systemd_running || { [ "$DRY_RUN" = 1 ] && [ -z "$PREFIX" ]; }; then priv systemctl daemon-reload; fi
  sysctl_unit enable "$UNIT"
  sysctl_unit enable "$UPGRADE_PATH_UNIT"
  # The watch is needed whether or not the daemon runs yet; starting it again is a no-op.
  if systemd_running || { [ "$DRY_RUN" = 1 ] && [ -z "$PREFIX" ]; }; then priv systemctl start "$UPGRADE_PATH_UNIT"; fi
  if [ "$CONFIG_CREATED" = 1 ]; then
    echo
    local created="Created"
    if [ "$DRY_RUN" = 1 ] && [ -z "$PREFIX" ]; then created="Would create"; fi
    echo "$created $ETC_DIR/config.json from the example. Put in the gateway's productKey, deviceName and"
    echo "deviceSecret, check it with"
    echo "  sudo -u $SVC_USER $node $OPT_DIR/dist/cli.js check --config $ETC_DIR/config.json"
    echo "then start the service: sudo systemctl start $UNIT"
  elif [ "$START" = 1 ] && { systemd_running || { [ "$DRY_RUN" = 1 ] && [ -z "$PREFIX" ]; }; }; then
    # restart: starts a stopped service, and an upgrade takes effect at once.
    priv systemctl restart "$UNIT"
  elif [ "$START" = 1 ] && [ -z "$PREFIX" ]; then
    echo "note: systemd is not running here; the service starts at the next boot"
  fi
  echo "done. Logs: journalctl -u $NAME -f -o cat"
}

do_uninstall() {
  echo "removing fieldbridge${PREFIX:+ below $PREFIX}"
  # The upgrade watch first: nothing may swap the program while it is being removed.
  if [ -e "$P_UNIT_DIR/$UPGRADE_PATH_UNIT" ]; then
    if systemd_running || { [ "$DRY_RUN" = 1 ] && [ -z "$PREFIX" ]; }; then
      priv systemctl disable --now "$UPGRADE_PATH_UNIT" || echo "warning: could not stop or disable $UPGRADE_PATH_UNIT" >&2
    else
      sysctl_unit disable "$UPGRADE_PATH_UNIT" || echo "warning: could not disable $UPGRADE_PATH_UNIT" >&2
    fi
  fi
  local u
  for u in "${UPGRADE_UNITS[@]}"; do fs rm -f "$P_UNIT_DIR/$u"; done
  if [ -e "$P_UNIT_DIR/$UNIT" ]; then
    if systemd_running || { [ "$DRY_RUN" = 1 ] && [ -z "$PREFIX" ]; }; then
      priv systemctl disable --now "$UNIT" || echo "warning: could not stop or disable $UNIT" >&2
    else
      sysctl_unit disable "$UNIT" || echo "warning: could not disable $UNIT" >&2
    fi
  fi
  fs rm -f "$P_UNIT_DIR/$UNIT"
  if [ "$PURGE" = 1 ]; then fs rm -rf "$P_UNIT_DIR/$UNIT.d"; fi
  if systemd_running || { [ "$DRY_RUN" = 1 ] && [ -z "$PREFIX" ]; }; then priv systemctl daemon-reload; fi
  fs rm -rf "$P_OPT" "$P_OPT.new" "$P_OPT.old" "$P_OPT.previous"
  # A staged upgrade that was never installed.
  fs rm -rf "$P_DATA/upgrade"
  if user_exists; then
    priv userdel "$SVC_USER"
  elif [ "$DRY_RUN" = 1 ]; then
    echo "(user $SVC_USER does not exist)"
  fi
  if [ "$PURGE" = 1 ]; then
    fs rm -rf "$P_ETC" "$P_DATA"
    echo "done. Config and data removed."
  else
    echo "done. Kept $ETC_DIR (config) and $DATA_DIR (data); remove them with --uninstall --purge."
  fi
}

if [ "$UNINSTALL" = 1 ]; then do_uninstall; else do_install; fi
