#!/usr/bin/env bash
# Before `npm test`: the tools the tests drive (socat, mosquitto, openssl, python3, shellcheck, systemd-analyze and
# Debian's chromium for the status page). Missing ones are installed with apt-get, as root or through `sudo -n`;
# where that is not possible the script stops at once, naming each missing tool and the command that installs it.
set -euo pipefail

chromium_bin="${CHROMIUM:-/usr/bin/chromium}"

# tool:package pairs; a tool counts as present when it is on PATH or in an sbin directory (mosquitto lives there).
tools=(socat:socat mosquitto:mosquitto openssl:openssl python3:python3 shellcheck:shellcheck systemd-analyze:systemd chromium:chromium)

present() {
  local tool="$1"
  if [ "$tool" = chromium ]; then
    [ -x "$chromium_bin" ]
    return
  fi
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || [ -x "/sbin/$tool" ]
}

missing_tools() {
  local pair
  for pair in "${tools[@]}"; do
    present "${pair%%:*}" || printf '%s\n' "$pair"
  done
}

report() {
  local pair
  echo "test prerequisites missing:" >&2
  for pair in "$@"; do
    echo "  ${pair%%:*}: install with: sudo apt-get install -y ${pair##*:}" >&2
  done
  echo "(chromium: the tests use ${chromium_bin}; set CHROMIUM to another Chromium binary if yours lives elsewhere)" >&2
}

mapfile -t missing < <(missing_tools)
[ ${#missing[@]} -eq 0 ] && exit 0

packages=()
for pair in "${missing[@]}"; do packages+=("${pair##*:}"); done

as_root=()
if [ "$(id -u)" -eq 0 ]; then
  as_root=(env)
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n env)
fi
if [ ${#as_root[@]} -eq 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  report "${missing[@]}"
  echo "cannot install them here (not root, no password-less sudo, or no apt-get)" >&2
  exit 1
fi

echo "installing test prerequisites: ${packages[*]}"
if ! { "${as_root[@]}" DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
  "${as_root[@]}" DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null; }; then
  echo "apt-get could not install: ${packages[*]}" >&2
fi

mapfile -t still < <(missing_tools)
if [ ${#still[@]} -gt 0 ]; then
  report "${still[@]}"
  exit 1
fi
