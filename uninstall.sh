#!/usr/bin/env bash
# Removes what install.sh created, as listed in <config dir>/.install-manifest: disables the units,
# removes binaries, units, configs and the directories it made. Data directories (and the system
# user that owns them) only with --remove-data. Config backups (*.bak.*) are kept.
set -euo pipefail

PROG=uninstall.sh
CONFIG_DIR=/etc/flydb
REMOVE_DATA=0
ASSUME_YES=0
DRY_RUN=0

usage() {
  cat <<EOF
Usage: ./uninstall.sh [options]

Removes what install.sh installed, as recorded in <config dir>/.install-manifest.

  --config-dir DIR   where install.sh wrote flydb.toml and its manifest (default: $CONFIG_DIR)
  --remove-data      also delete the data directories (every key stored!) and the system user
  --yes              do not ask for confirmation
  --dry-run          print every action, change nothing
  -h, --help         this text
EOF
}

die() { printf '%s: %s\n' "$PROG" "$*" >&2; exit 1; }
usage_error() { printf '%s: %s (see --help)\n' "$PROG" "$*" >&2; exit 2; }
note() { printf '%s\n' "$*"; }

run() {
  printf '+'
  printf ' %q' "$@"
  printf '\n'
  [ "$DRY_RUN" = 1 ] || "$@"
}

while [ $# -gt 0 ]; do
  arg=$1
  if [[ $arg == --*=* ]]; then
    set -- "${arg%%=*}" "${arg#*=}" "${@:2}"
    arg=$1
  fi
  case $arg in
    --config-dir)
      if [ $# -lt 2 ] || [ -z "$2" ]; then usage_error "--config-dir needs a value"; fi
      CONFIG_DIR=$2
      shift
      ;;
    --remove-data) REMOVE_DATA=1 ;;
    --yes | -y) ASSUME_YES=1 ;;
    --dry-run) DRY_RUN=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown option '$arg'" ;;
  esac
  shift
done

MANIFEST=$CONFIG_DIR/.install-manifest
[ -f "$MANIFEST" ] || die "no $MANIFEST: nothing install.sh created is known here (wrong --config-dir?)"

files=() dirs=() data=() users=() units=()
while IFS=$'\t' read -r kind value; do
  [ -n "$value" ] || continue
  case $value in /*) ;; *) [ "$kind" = user ] || [ "$kind" = enabled ] || die "$MANIFEST: '$value' is not an absolute path" ;; esac
  [ "$value" != / ] || die "$MANIFEST: refusing to remove /"
  case $kind in
    file) files+=("$value") ;;
    dir) dirs+=("$value") ;;
    data) data+=("$value") ;;
    user) users+=("$value") ;;
    enabled) units+=("$value") ;;
    *) die "$MANIFEST: unknown entry kind '$kind'" ;;
  esac
done <"$MANIFEST"

if [ "$ASSUME_YES" = 0 ] && [ "$DRY_RUN" = 0 ]; then
  what="${#files[@]} file(s)"
  [ "$REMOVE_DATA" = 0 ] || what="$what and the data in ${data[*]:-nothing}"
  printf 'Remove FlyDB (%s)? [no]: ' "$what" >&2
  answer=""
  IFS= read -r answer || true
  case ${answer,,} in y | yes) ;; *) note "Nothing removed."; exit 0 ;; esac
fi

systemd_running() { [ -d /run/systemd/system ]; }

for unit in ${units[@]+"${units[@]}"}; do
  if systemd_running; then
    run systemctl disable --now "$unit"
  else
    note "systemd is not running here: skipping 'systemctl disable --now $unit'"
  fi
done

units_removed=0
for f in ${files[@]+"${files[@]}"}; do
  if [ -e "$f" ] || [ -L "$f" ]; then
    run rm -f "$f"
    case $f in *.service) units_removed=1 ;; esac
  fi
done
if [ "$units_removed" = 1 ] && systemd_running; then run systemctl daemon-reload; fi

if [ "$REMOVE_DATA" = 1 ]; then
  for d in ${data[@]+"${data[@]}"}; do
    if [ -e "$d" ]; then run rm -rf "$d"; fi
  done
  for u in ${users[@]+"${users[@]}"}; do
    if getent passwd "$u" >/dev/null; then run userdel "$u"; fi
  done
else
  for d in ${data[@]+"${data[@]}"}; do
    if [ -e "$d" ]; then note "kept: $d (data; --remove-data deletes it)"; fi
  done
  for u in ${users[@]+"${users[@]}"}; do
    if getent passwd "$u" >/dev/null; then note "kept: user $u (it owns the kept data)"; fi
  done
fi

# Kept data stays listed, so a later `uninstall.sh --remove-data` still finds it.
if [ "$REMOVE_DATA" = 0 ] && [ "$DRY_RUN" = 0 ] && grep -q '^data' "$MANIFEST"; then
  grep -E '^(data|user|dir)' "$MANIFEST" >"$MANIFEST.tmp"
  mv -f "$MANIFEST.tmp" "$MANIFEST"
  note "kept: $MANIFEST (lists the kept data)"
else
  run rm -f "$MANIFEST"
fi

# Directories last, deepest first, and only when empty: anything else in them is not ours.
for ((i = ${#dirs[@]} - 1; i >= 0; i--)); do
  d=${dirs[i]}
  [ -d "$d" ] || continue
  if [ "$DRY_RUN" = 1 ]; then
    note "+ rmdir $d (when empty)"
  elif rmdir "$d" 2>/dev/null; then
    note "+ rmdir $d"
  else
    note "kept: $d (not empty)"
  fi
done
note "FlyDB removed."
