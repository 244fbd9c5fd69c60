#!/usr/bin/env bash
# Installs FlyDB on this machine: the flydb and flydb-discover binaries, a flydb.toml, the data
# directory, the `flydb` system user and the systemd units. Every step compares what is there with
# what it would write and changes only what differs, so running it twice changes nothing. What it
# creates is listed in <config dir>/.install-manifest, which uninstall.sh reads.
set -euo pipefail
# No globbing: word-split lists hold addresses like [fe80::1]:7946, which are also glob patterns.
set -f

PROG=install.sh
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

PREFIX=/usr/local
CONFIG_DIR=/etc/flydb
DATA_DIR=/var/lib/flydb
SYSTEMD_DIR=/etc/systemd/system
BINARY_DIR=""
SERVICE_USER=flydb
ASSUME_YES=0
MODE=""       # standalone | cluster
ROLE=""       # bootstrap | join | form
EXPECT=""     # bootstrap_expect for ROLE=form
DISCOVERY=""  # true | false
NODE_ID=""
CLUSTER_ADDR=""
RAFT_ADDR=""
PEERS=""
PEERS_SET=0
CLUSTER_ID=""
BIND_ADDR=""
HTTP_ADDR=""
INSTANCE=""
DISCOVER_TIMEOUT=5
NO_SERVICE=0
NO_USER=0
START=0
DRY_RUN=0
FORCE=0
# Secrets: a value given, or "" (not given: taken from the existing config, --secrets-from, asked,
# or generated). "none" writes no secret.
CLUSTER_SECRET=""
REQUIREPASS=""
HTTP_AUTH_TOKEN=""
SECRETS_FROM=""

usage() {
  cat <<EOF
Usage: ./install.sh [options]

Installs flydb and flydb-discover (from dist/, built with 'npm run build' when missing and Bun is
available, or from --binary-dir), writes flydb.toml, creates the data directory and, as root, the
'$SERVICE_USER' system user, and installs and enables (does not start) the systemd unit.
Without --yes it asks for every setting, with a default for each. Running it twice changes nothing.

Node:
  --yes                  do not ask: take the flags given and defaults for the rest
  --cluster              configure a cluster node (default: standalone); every cluster option
                         below implies it
  --bootstrap            start a new cluster with this node (implies --cluster)
  --join                 join an existing cluster (implies --cluster)
  --expect N             form a new cluster once N nodes found by discovery (or named in --peers)
                         see each other: writes bootstrap_expect = N; give every node of the
                         first batch the same N (implies --cluster)
  --node-id ID           node name, unique and never reused (default: the host name)
  --cluster-addr H:P     gossip address (default: this host's primary address, port 7946)
  --raft-addr H:P        Raft address (default: this host's primary address, port 7947)
  --peers LIST           gossip addresses of members to join, comma or space separated (implies --join)
  --discovery            enable mDNS discovery; with --join and no --peers, flydb-discover is asked;
                         without --bootstrap or --join it needs --expect N (asked interactively)
  --cluster-id ID        discovery cluster id (default: flydb)
  --bind-addr H:P        Redis protocol address (default: :6380)
  --http-addr H:P        HTTP API address (default: :8080)
  --instance NAME        one of several nodes on this host: writes <config dir>/NAME.toml, keeps
                         data in <data dir>/NAME and enables flydb-cluster@NAME.service
  --discover-timeout S   seconds flydb-discover listens (default: $DISCOVER_TIMEOUT)

Secrets (written into the config, mode 0600, owned by the service user; never printed):
  --cluster-secret S     cluster_secret, the same on every node (generated with --bootstrap; a
                         joining or forming node must be given the cluster's: this, --secrets-from,
                         or the prompt); none: the cluster runs without one
  --requirepass S        the default user's password (default: generated); none: no password
  --http-auth-token S    bearer token of the HTTP admin and /kv endpoints (default: generated); none: no token
  --secrets-from FILE    take cluster_secret, requirepass and http_auth_token from another node's
                         flydb.toml (copied here): the whole cluster then shares them
  A re-run keeps the secrets of the config it finds unless one of these flags is given.

Locations:
  --prefix DIR           binaries go to DIR/bin (default: $PREFIX)
  --binary-dir DIR       take flydb and flydb-discover from DIR (default: dist/ next to this script)
  --config-dir DIR       (default: $CONFIG_DIR)
  --data-dir DIR         (default: $DATA_DIR)
  --systemd-dir DIR      where the units go (default: $SYSTEMD_DIR)

Behaviour:
  --no-service           install no systemd unit and create no system user
  --user NAME            the system user and group the service runs as (default: $SERVICE_USER)
  --no-user              do not create the user (create it yourself, the units run as it)
  --start                also start the service (default: enable only)
  --dry-run              print every action, change nothing
  --force                replace an existing config (the old one is kept as <file>.bak.<timestamp>)
  -h, --help             this text

Cluster nodes form a cluster through --bootstrap and --peers, or with --discovery through mDNS:
the node advertises itself and a joining node finds its cluster by itself (install.sh also offers
the peers flydb-discover finds); with --discovery --expect N on every node of the first batch,
the N nodes found together form one cluster. See docs/CLUSTER_SETUP.md.
EOF
}

die() { printf '%s: %s\n' "$PROG" "$*" >&2; exit 1; }
usage_error() { printf '%s: %s (see --help)\n' "$PROG" "$*" >&2; exit 2; }
note() { printf '%s\n' "$*"; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }

# --- validation: each check prints why a value is wrong and fails, or prints nothing -----------

# Same rule as node_id in src/config/schema.ts.
check_node_id() {
  [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$ ]] && return 0
  echo "1-63 characters of letters, digits, '.', '_', '-', starting with a letter or digit"
  return 1
}

# [host]:port as src/config/load.ts accepts it; with "host" as $2 the host may not be empty.
check_addr() {
  local re='^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]*):([0-9]{1,5})$'
  if [[ $1 =~ $re ]] && ((10#${BASH_REMATCH[2]} >= 1 && 10#${BASH_REMATCH[2]} <= 65535)); then
    if [ "${2:-}" != host ] || [ -n "${BASH_REMATCH[1]}" ]; then return 0; fi
  fi
  if [ "${2:-}" = host ]; then echo "'$1' is not host:port with a port from 1 to 65535"; else echo "'$1' is not [host]:port with a port from 1 to 65535"; fi
  return 1
}

check_host_addr() { check_addr "$1" host; }

# A peer list: comma or white-space separated host:port entries; empty only when discovery may find them.
check_peers() {
  local p n=0
  if [ "${1,,}" = none ] && [ "$DISCOVERY" = true ]; then return 0; fi
  for p in ${1//,/ }; do
    check_host_addr "$p" || return 1
    n=$((n + 1))
  done
  if [ "$n" -eq 0 ] && [ "$DISCOVERY" != true ]; then
    echo "joining needs at least one peer address (host:port of a member's cluster_addr)"
    return 1
  fi
}

# Restricted to node-id characters so it can be written into TOML and mDNS TXT records verbatim.
check_cluster_id() {
  [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$ ]] && return 0
  echo "1-63 characters of letters, digits, '.', '_', '-', starting with a letter or digit"
  return 1
}

check_user_name() {
  [[ $1 =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] && return 0
  echo "a user name: 1-32 lower-case letters, digits, '_' or '-', not starting with a digit or '-'"
  return 1
}

check_yes_no() {
  case ${1,,} in y | yes | n | no) return 0 ;; esac
  echo "answer yes or no"
  return 1
}

check_mode() {
  case ${1,,} in standalone | cluster) return 0 ;; esac
  echo "answer standalone or cluster"
  return 1
}

check_role() {
  case ${1,,} in bootstrap | join | form) return 0 ;; esac
  echo "answer bootstrap (start a new cluster alone), join (an existing one) or form (a new one with the nodes discovery finds)"
  return 1
}

# Same range as bootstrap_expect in src/config/schema.ts, without 0 (off).
check_expect() {
  [[ $1 =~ ^[1-7]$ ]] && return 0
  echo "'$1' is not a number of nodes from 1 to 7"
  return 1
}

check_dir() {
  [[ $1 == /* ]] && return 0
  echo "'$1' is not an absolute path"
  return 1
}

# A secret is written into TOML verbatim: printable, no blanks, quotes or backslashes.
check_secret() {
  if [[ $1 =~ ^[[:graph:]]{8,512}$ ]] && [[ $1 != *[\"\\]* ]]; then return 0; fi
  printf '%s\n' "8-512 printable characters without blanks, '\"' or '\\' (or none)"
  return 1
}

check_secret_or_generate() {
  [ "$1" = generate ] || check_secret "$1"
}

check_seconds() {
  [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]] && [[ ! $1 =~ ^0+(\.0*)?$ ]] && return 0
  echo "'$1' is not a positive number of seconds"
  return 1
}

# validate FLAG VALUE CHECK [ARG]: exits with the reason when VALUE is wrong.
validate() {
  local reason
  if ! reason=$("$3" "$2" "${4:-}"); then usage_error "$1 $2: $reason"; fi
}

# --- prompts -----------------------------------------------------------------------------------

STDIN_DONE=0

# ask VAR QUESTION DEFAULT CHECK: asks on stderr, reads a line from stdin, asks again with the
# reason while the answer is invalid. An empty answer takes the default. With ASK_SILENT=1 a
# terminal does not echo the answer (secrets).
ask() {
  # Locals are prefixed: printf -v must not hit a local of the same name as the caller's variable.
  local _var=$1 _question=$2 _def=$3 _check=$4 _answer _reason _silent=()
  if [ "${ASK_SILENT:-0}" = 1 ] && [ -t 0 ]; then _silent=(-s); fi
  while :; do
    printf '%s [%s]: ' "$_question" "$_def" >&2
    _answer=""
    if [ "$STDIN_DONE" = 1 ] || ! IFS= read -r ${_silent[@]+"${_silent[@]}"} _answer; then
      STDIN_DONE=1
      printf '\n' >&2
    elif [ ${#_silent[@]} -gt 0 ]; then
      printf '\n' >&2 # the terminal did not echo the Enter either
    fi
    _answer=$(printf '%s' "$_answer" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//')
    [ -n "$_answer" ] || _answer=$_def
    if _reason=$("$_check" "$_answer"); then
      printf -v "$_var" '%s' "$_answer"
      return 0
    fi
    printf '  %s\n' "$_reason" >&2
    [ "$STDIN_DONE" = 0 ] || die "no more input and no valid answer to: $_question"
  done
}

# ask_yes_no VAR QUESTION DEFAULT(yes|no): sets VAR to true or false.
ask_yes_no() {
  local yes_no
  ask yes_no "$2" "$3" check_yes_no
  case ${yes_no,,} in y | yes) printf -v "$1" true ;; *) printf -v "$1" false ;; esac
}

# --- actions (printed; skipped with --dry-run) ---------------------------------------------------

CHANGES=0

run() {
  printf '+'
  printf ' %q' "$@"
  printf '\n'
  CHANGES=$((CHANGES + 1))
  [ "$DRY_RUN" = 1 ] || "$@"
}

# write_file PATH MODE CONTENT: writes only when the content differs; prints what it does.
write_file() {
  local path=$1 mode=$2 content=$3
  if [ -f "$path" ] && [ "$(cat "$path")" = "$content" ]; then
    note "unchanged: $path"
    return 1
  fi
  note "+ write $path (mode $mode)"
  CHANGES=$((CHANGES + 1))
  if [ "$DRY_RUN" = 0 ]; then
    local tmp
    tmp=$(mktemp "$path.XXXXXX")
    printf '%s\n' "$content" >"$tmp"
    chmod "$mode" "$tmp"
    mv -f "$tmp" "$path"
  fi
}

# make_dir DIR [KIND]: creates DIR and its missing parents; records the parents as "dir" (removed
# by uninstall when empty) and DIR as KIND ("data" directories are removed only on request).
make_dir() {
  local dir=$1 kind=${2:-dir} missing=() d
  if [ -d "$dir" ]; then return 0; fi
  d=$dir
  while [ ! -d "$d" ]; do
    missing=("$d" ${missing[@]+"${missing[@]}"})
    d=$(dirname "$d")
  done
  run mkdir -p "$dir"
  for d in "${missing[@]}"; do
    if [ "$d" = "$dir" ]; then record "$kind" "$d"; else record dir "$d"; fi
  done
}

MANIFEST=""

# record KIND VALUE: notes in the manifest that install.sh made this, for uninstall.sh.
record() {
  [ "$DRY_RUN" = 0 ] || return 0
  if [ -f "$MANIFEST" ] && grep -Fxq "$1	$2" "$MANIFEST"; then return 0; fi
  printf '%s\t%s\n' "$1" "$2" >>"$MANIFEST"
}

# --- facts about this host -----------------------------------------------------------------------

# The source address of the default route: a routing-table lookup, no packet is sent.
primary_address() {
  local addr
  addr=$(ip -4 route get 192.0.2.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -n1) || true
  [ -n "$addr" ] || addr=$(hostname -I 2>/dev/null | awk '{print $1}') || true
  printf '%s' "${addr:-127.0.0.1}"
}

# The host name made a valid node id, as src/config/load.ts does.
default_node_id() {
  local id
  id=$(hostname 2>/dev/null || echo node)
  id=${id%%.*}
  id=$(printf '%s' "$id" | tr -c 'A-Za-z0-9._-' '-' | cut -c1-63)
  [[ $id =~ ^[A-Za-z0-9] ]] || id="node-$id"
  printf '%s' "${id:0:63}"
}

systemd_running() { [ -d /run/systemd/system ]; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# True when DIR exists writable, or can be created under its nearest existing parent.
can_write() {
  local d=$1
  while [ ! -e "$d" ]; do d=$(dirname "$d"); done
  [ -d "$d" ] && [ -w "$d" ]
}

# --- arguments ----------------------------------------------------------------------------------

need_value() { if [ $# -lt 2 ] || [ -z "$2" ]; then usage_error "$1 needs a value"; fi; }

while [ $# -gt 0 ]; do
  arg=$1
  if [[ $arg == --*=* ]]; then
    set -- "${arg%%=*}" "${arg#*=}" "${@:2}"
    arg=$1
  fi
  case $arg in
    --yes | -y) ASSUME_YES=1 ;;
    --cluster) MODE=cluster ;;
    --bootstrap) [ -z "$ROLE" ] || [ "$ROLE" = bootstrap ] || usage_error "--bootstrap, --join and --expect exclude each other"; ROLE=bootstrap MODE=cluster ;;
    --join) [ -z "$ROLE" ] || [ "$ROLE" = join ] || usage_error "--bootstrap, --join and --expect exclude each other"; ROLE=join MODE=cluster ;;
    --expect)
      need_value "$@"
      [ -z "$ROLE" ] || [ "$ROLE" = form ] || usage_error "--bootstrap, --join and --expect exclude each other"
      EXPECT=$2 ROLE=form MODE=cluster
      shift
      ;;
    --discovery) DISCOVERY=true MODE=cluster ;;
    --node-id) need_value "$@"; NODE_ID=$2; shift ;;
    --cluster-addr) need_value "$@"; CLUSTER_ADDR=$2 MODE=cluster; shift ;;
    --raft-addr) need_value "$@"; RAFT_ADDR=$2 MODE=cluster; shift ;;
    --peers) need_value "$@"; PEERS=$2; PEERS_SET=1; shift ;;
    --cluster-id) need_value "$@"; CLUSTER_ID=$2 MODE=cluster; shift ;;
    --bind-addr) need_value "$@"; BIND_ADDR=$2; shift ;;
    --http-addr) need_value "$@"; HTTP_ADDR=$2; shift ;;
    --instance) need_value "$@"; INSTANCE=$2; shift ;;
    --discover-timeout) need_value "$@"; DISCOVER_TIMEOUT=$2; shift ;;
    --cluster-secret) need_value "$@"; CLUSTER_SECRET=$2 MODE=cluster; shift ;;
    --requirepass) need_value "$@"; REQUIREPASS=$2; shift ;;
    --http-auth-token) need_value "$@"; HTTP_AUTH_TOKEN=$2; shift ;;
    --secrets-from) need_value "$@"; SECRETS_FROM=$2; shift ;;
    --prefix) need_value "$@"; PREFIX=$2; shift ;;
    --binary-dir) need_value "$@"; BINARY_DIR=$2; shift ;;
    --config-dir) need_value "$@"; CONFIG_DIR=$2; shift ;;
    --data-dir) need_value "$@"; DATA_DIR=$2; shift ;;
    --systemd-dir) need_value "$@"; SYSTEMD_DIR=$2; shift ;;
    --no-service) NO_SERVICE=1 ;;
    --user) need_value "$@"; SERVICE_USER=$2; shift ;;
    --no-user) NO_USER=1 ;;
    --start) START=1 ;;
    --dry-run) DRY_RUN=1 ;;
    --force) FORCE=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown option '$arg'" ;;
  esac
  shift
done

if [ "$PEERS_SET" = 1 ]; then
  [ "$ROLE" != bootstrap ] || usage_error "--peers is for joining; --bootstrap starts a new cluster without peers"
  # With --expect the peers are the other founders, seen through gossip instead of mDNS.
  [ "$ROLE" = form ] || ROLE="join"
  MODE=cluster
fi
[ -z "$EXPECT" ] || validate --expect "$EXPECT" check_expect
[ -z "$NODE_ID" ] || validate --node-id "$NODE_ID" check_node_id
[ -z "$CLUSTER_ADDR" ] || validate --cluster-addr "$CLUSTER_ADDR" check_addr
[ -z "$RAFT_ADDR" ] || validate --raft-addr "$RAFT_ADDR" check_addr
[ -z "$BIND_ADDR" ] || validate --bind-addr "$BIND_ADDR" check_addr
[ -z "$HTTP_ADDR" ] || validate --http-addr "$HTTP_ADDR" check_addr
[ -z "$CLUSTER_ID" ] || validate --cluster-id "$CLUSTER_ID" check_cluster_id
[ -z "$INSTANCE" ] || validate --instance "$INSTANCE" check_node_id
validate --user "$SERVICE_USER" check_user_name
validate --discover-timeout "$DISCOVER_TIMEOUT" check_seconds
# Secrets are never echoed, not even in a refusal.
for v in CLUSTER_SECRET REQUIREPASS HTTP_AUTH_TOKEN; do
  flag=--$(printf '%s' "$v" | tr 'A-Z_' 'a-z-')
  if [ -n "${!v}" ] && [ "${!v}" != none ] && ! reason=$(check_secret "${!v}"); then usage_error "$flag: $reason"; fi
done
[ -z "$SECRETS_FROM" ] || [ -r "$SECRETS_FROM" ] || usage_error "--secrets-from $SECRETS_FROM: not a readable file"
for d in PREFIX CONFIG_DIR DATA_DIR SYSTEMD_DIR; do
  flag=--$(printf '%s' "$d" | tr 'A-Z_' 'a-z-')
  validate "$flag" "${!d}" check_dir
done
[ -z "$BINARY_DIR" ] || validate --binary-dir "$BINARY_DIR" check_dir
if [ "$PEERS_SET" = 1 ]; then
  for p in ${PEERS//,/ }; do validate --peers "$p" check_host_addr; done
fi

# --- settings: flags, then answers or defaults ----------------------------------------------------

HOST_ADDR=$(primary_address)
interactive() { [ "$ASSUME_YES" = 0 ]; }

if [ -z "$MODE" ]; then
  if interactive; then ask MODE "Install a standalone node or a cluster node? (standalone/cluster)" standalone check_mode; MODE=${MODE,,}; else MODE=standalone; fi
fi

# A node that founds a cluster alone must be asked for by name (--bootstrap): nodes installed alike
# with --discovery would otherwise each found their own cluster under the same cluster id.
if [ "$MODE" = cluster ] && [ -z "$ROLE" ]; then
  if interactive; then
    if [ "$DISCOVERY" = true ]; then def=form; else def=bootstrap; fi
    ask ROLE "Bootstrap a new cluster alone, join an existing one, or form a new one with the nodes discovery finds? (bootstrap/join/form)" "$def" check_role
    ROLE=${ROLE,,}
  elif [ "$DISCOVERY" = true ]; then
    usage_error "--discovery without --bootstrap or --join needs --expect N: how many nodes form the cluster (the same N on each of them)"
  else
    ROLE=bootstrap
  fi
fi
if [ "$ROLE" = form ]; then
  [ "$PEERS_SET" = 1 ] || DISCOVERY=true
  if [ -z "$EXPECT" ]; then
    if interactive; then ask EXPECT "How many nodes form the cluster? (bootstrap_expect, the same on each of them)" 3 check_expect; else usage_error "forming a cluster needs --expect N"; fi
  fi
fi
if [ -z "$NODE_ID" ]; then
  if interactive && [ "$MODE" = cluster ]; then ask NODE_ID "Node id" "${INSTANCE:-$(default_node_id)}" check_node_id; else NODE_ID=${INSTANCE:-$(default_node_id)}; fi
fi
if [ -z "$BIND_ADDR" ]; then
  if interactive; then ask BIND_ADDR "Redis protocol address" ":6380" check_addr; else BIND_ADDR=":6380"; fi
fi
if [ -z "$HTTP_ADDR" ]; then
  if interactive; then ask HTTP_ADDR "HTTP API address" ":8080" check_addr; else HTTP_ADDR=":8080"; fi
fi

if [ "$MODE" = cluster ]; then
  if [ -z "$CLUSTER_ADDR" ]; then
    if interactive; then ask CLUSTER_ADDR "Gossip address (cluster_addr)" "$HOST_ADDR:7946" check_addr; else CLUSTER_ADDR="$HOST_ADDR:7946"; fi
  fi
  if [ -z "$RAFT_ADDR" ]; then
    if interactive; then ask RAFT_ADDR "Raft address (raft_addr)" "$HOST_ADDR:7947" check_addr; else RAFT_ADDR="$HOST_ADDR:7947"; fi
  fi
  if [ -z "$DISCOVERY" ]; then
    if interactive; then ask_yes_no DISCOVERY "Find and advertise nodes with mDNS discovery? (yes/no)" no; else DISCOVERY=false; fi
  fi
  if [ -z "$CLUSTER_ID" ]; then
    if interactive && [ "$DISCOVERY" = true ]; then ask CLUSTER_ID "Cluster id advertised and matched by discovery" flydb check_cluster_id; else CLUSTER_ID=flydb; fi
  fi
fi

if [ -n "$BINARY_DIR" ]; then SRC_DIR=$BINARY_DIR; else SRC_DIR=$SCRIPT_DIR/dist; fi
DISCOVER_BIN=$SRC_DIR/flydb-discover

# Peers found by flydb-discover --quiet (exit 0 found, 1 none, 2 error), one host:port a line.
discover_peers() {
  local out rc=0
  if [ ! -x "$DISCOVER_BIN" ]; then
    warn "$DISCOVER_BIN not found: cannot look for nodes now"
    return 0
  fi
  note "Looking for FlyDB nodes of cluster '$CLUSTER_ID' with mDNS (${DISCOVER_TIMEOUT}s)..." >&2
  out=$("$DISCOVER_BIN" --quiet --timeout "$DISCOVER_TIMEOUT" --cluster-id "$CLUSTER_ID") || rc=$?
  case $rc in
    0)
      local p valid=()
      for p in $out; do
        if check_host_addr "$p" >/dev/null; then valid+=("$p"); else warn "flydb-discover printed '$p', which is not host:port: skipped"; fi
      done
      printf '%s' "${valid[*]}"
      ;;
    1) ;;
    *) warn "flydb-discover failed (exit $rc)" ;;
  esac
}

if [ "$MODE" = cluster ] && [ "$ROLE" = join ] && [ "$PEERS_SET" = 0 ]; then
  found=""
  [ "$DISCOVERY" != true ] || found=$(discover_peers)
  if [ -n "$found" ]; then
    note "Found: $found" >&2
    use_found=true
    ! interactive || ask_yes_no use_found "Join through these nodes? (yes/no)" yes
    [ "$use_found" = false ] || PEERS=$found
  elif [ "$DISCOVERY" = true ]; then
    note "No nodes answered now." >&2
  fi
  if [ -z "$PEERS" ]; then
    if interactive; then
      if [ "$DISCOVERY" = true ]; then def=none; else def=""; fi
      ask PEERS "Peer gossip addresses (host:port, comma separated; none: let discovery find them at start)" "$def" check_peers
      [ "${PEERS,,}" != none ] || PEERS=""
    elif [ "$DISCOVERY" != true ]; then
      usage_error "--join needs --peers or --discovery"
    fi
  fi
fi

PEERS=${PEERS//,/ }
PEERS=$(printf '%s' "$PEERS" | tr -s ' ' | sed -e 's/^ //' -e 's/ $//')

# --- what to write --------------------------------------------------------------------------------

if [ -n "$INSTANCE" ]; then
  CONFIG_FILE=$CONFIG_DIR/$INSTANCE.toml
  NODE_DATA_DIR=$DATA_DIR/$INSTANCE
  UNIT=flydb-cluster@$INSTANCE.service
else
  CONFIG_FILE=$CONFIG_DIR/flydb.toml
  NODE_DATA_DIR=$DATA_DIR
  UNIT=flydb.service
fi
BIN_DIR=$PREFIX/bin
MANIFEST=$CONFIG_DIR/.install-manifest

toml_string() {
  local s=${1//\\/\\\\}
  printf '"%s"' "${s//\"/\\\"}"
}

toml_list() {
  local p out="" sep=""
  for p in $1; do
    out="$out$sep$(toml_string "$p")"
    sep=", "
  done
  printf '[%s]' "$out"
}

# config_value FILE KEY: the value of a `KEY = "..."` line as install.sh writes it (secrets hold no
# quotes or backslashes); empty when there is none.
config_value() {
  [ -r "$1" ] || die "cannot read $1 for its secrets: run as its owner or root"
  sed -n "s/^$2 = \"\(.*\)\"\$/\1/p" "$1" | head -n1
}

# 256 random bits in hex.
new_secret() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }

check_secret_answer() {
  case $1 in none | generate) return 0 ;; esac
  check_secret "$1"
}

check_given_secret() {
  [ "$1" = none ] || check_secret "$1"
}

GENERATED=()

# resolve_secret VAR KEY QUESTION [required]: VAR as given by its flag, else from --secrets-from,
# else from the config being re-written (a re-run never changes a secret), else asked or generated.
# "required" (a joining node) has no generated default: a secret of its own could not join.
resolve_secret() {
  local var=$1 key=$2 question=$3 required=${4:-} value=${!1}
  if [ -z "$value" ] && [ -n "$SECRETS_FROM" ]; then
    value=$(config_value "$SECRETS_FROM" "$key") || exit 1
    value=${value:-none}
  fi
  if [ -z "$value" ] && [ -f "$CONFIG_FILE" ]; then
    value=$(config_value "$CONFIG_FILE" "$key") || exit 1
    value=${value:-none}
  fi
  if [ -z "$value" ]; then
    if interactive && [ "$required" = required ]; then
      ASK_SILENT=1 ask value "$question (none: the cluster has none)" "" check_given_secret
    elif interactive; then
      ASK_SILENT=1 ask value "$question (generate, none, or the value)" generate check_secret_answer
    elif [ "$required" = required ]; then
      usage_error "a node joining or forming a cluster needs the cluster's secret: --cluster-secret S" \
        "(the founder's cluster_secret; the same on every node), --secrets-from FILE, or --cluster-secret none"
    else
      value=generate
    fi
  fi
  if [ "$value" = generate ]; then
    value=$(new_secret)
    GENERATED+=("$key")
  fi
  [ "$value" != none ] || value=""
  printf -v "$var" '%s' "$value"
}

if [ "$MODE" = cluster ]; then
  secret_role=""
  if [ "$ROLE" = join ] || { [ "$ROLE" = form ] && ! interactive; }; then secret_role=required; fi
  resolve_secret CLUSTER_SECRET cluster_secret "Cluster secret (cluster_secret, the same on every node)" $secret_role
else
  CLUSTER_SECRET=""
fi
resolve_secret REQUIREPASS requirepass "Password of the default user (requirepass)"
resolve_secret HTTP_AUTH_TOKEN http_auth_token "HTTP API bearer token (http_auth_token)"

render_config() {
  cat <<EOF
# FlyDB configuration, written by install.sh. Every key with its default and meaning:
# docs/CONFIGURATION.md; a commented example with every key: deploy/flydb.toml.
node_id = $(toml_string "$NODE_ID")
bind_addr = $(toml_string "$BIND_ADDR")
http_addr = $(toml_string "$HTTP_ADDR")
data_dir = $(toml_string "$NODE_DATA_DIR")
EOF
  if [ "$MODE" = cluster ]; then
    cat <<EOF

# Cluster: bootstrap starts a new cluster alone, cluster_peers joins one, bootstrap_expect forms one
# with the nodes found (docs/CLUSTER_SETUP.md).
cluster_addr = $(toml_string "$CLUSTER_ADDR")
raft_addr = $(toml_string "$RAFT_ADDR")
bootstrap = $([ "$ROLE" = bootstrap ] && echo true || echo false)
cluster_peers = $(toml_list "$PEERS")
discovery_enabled = $DISCOVERY
discovery_cluster_id = $(toml_string "$CLUSTER_ID")
routing_strategy = "key-based"
replication_factor = 3
partition_count = 256
EOF
    [ "$ROLE" != form ] || printf 'bootstrap_expect = %s\n' "$EXPECT"
  fi
  if [ -n "$REQUIREPASS$HTTP_AUTH_TOKEN$CLUSTER_SECRET" ]; then
    printf '\n# Secrets (docs/SECURITY.md): keep this file mode 0600, readable by the service user only.\n'
    [ -z "$REQUIREPASS" ] || printf 'requirepass = "%s"\n' "$REQUIREPASS"
    [ -z "$HTTP_AUTH_TOKEN" ] || printf 'http_auth_token = "%s"\n' "$HTTP_AUTH_TOKEN"
    [ -z "$CLUSTER_SECRET" ] || printf 'cluster_secret = "%s"\n' "$CLUSTER_SECRET"
  fi
}

# The shipped unit with this installation's paths.
render_unit() {
  local esc_bin esc_conf esc_data
  esc_bin=$(sed_escape "$BIN_DIR")
  esc_conf=$(sed_escape "$CONFIG_DIR")
  esc_data=$(sed_escape "$DATA_DIR")
  sed -e "s|/usr/local/bin|$esc_bin|g" -e "s|/etc/flydb|$esc_conf|g" -e "s|/var/lib/flydb|$esc_data|g" \
    -e "s|^User=flydb$|User=$SERVICE_USER|" -e "s|^Group=flydb$|Group=$SERVICE_USER|" "$1"
}

sed_escape() { printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'; }

# --- install --------------------------------------------------------------------------------------

note "FlyDB install: $MODE node '$NODE_ID'$([ "$MODE" = cluster ] && printf ' (%s)' "$ROLE")$([ "$DRY_RUN" = 1 ] && printf ', dry run: nothing is changed')"

targets=("$CONFIG_DIR" "$BIN_DIR" "$NODE_DATA_DIR")
[ "$NO_SERVICE" = 1 ] || targets+=("$SYSTEMD_DIR")
for d in "${targets[@]}"; do
  [ "$DRY_RUN" = 1 ] || can_write "$d" ||
    die "cannot write to $d: run as root, or choose writable directories (--prefix, --config-dir, --data-dir, --systemd-dir or --no-service)"
done

if [ ! -x "$SRC_DIR/flydb" ]; then
  if [ -z "$BINARY_DIR" ] && [ -f "$SCRIPT_DIR/package.json" ] && (cd "$SCRIPT_DIR" && npx --no-install bun --version >/dev/null 2>&1); then
    note "No $SRC_DIR/flydb yet: building it."
    run bash -c "cd $(printf '%q' "$SCRIPT_DIR") && npm run -s build"
  elif [ "$DRY_RUN" = 0 ]; then
    die "no flydb binary in $SRC_DIR: build it with 'npm run build' (needs npm ci) or pass --binary-dir DIR"
  fi
fi
[ "$DRY_RUN" = 1 ] || [ -x "$SRC_DIR/flydb" ] || die "the build did not produce $SRC_DIR/flydb"

make_dir "$CONFIG_DIR"
make_dir "$BIN_DIR"

for name in flydb flydb-discover; do
  src=$SRC_DIR/$name dest=$BIN_DIR/$name
  if [ ! -x "$src" ]; then
    [ "$DRY_RUN" = 1 ] && [ "$name" = flydb ] && { note "+ install $src $dest (after the build)"; continue; }
    warn "$src not found: $name is not installed"
    continue
  fi
  if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
    note "unchanged: $dest"
  else
    run install -m 0755 "$src" "$dest"
    record file "$dest"
  fi
done

WANT_USER=0
if is_root && [ "$NO_SERVICE" = 0 ] && [ "$NO_USER" = 0 ]; then WANT_USER=1; fi
if [ "$WANT_USER" = 1 ] && ! getent passwd "$SERVICE_USER" >/dev/null; then
  nologin=/usr/sbin/nologin
  [ -x "$nologin" ] || nologin=/bin/false
  run useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home --shell "$nologin" "$SERVICE_USER"
  record user "$SERVICE_USER"
fi

make_dir "$DATA_DIR" data
make_dir "$NODE_DATA_DIR" data
if [ "$WANT_USER" = 1 ] && [ -d "$NODE_DATA_DIR" ] && [ "$(stat -c %U:%G "$NODE_DATA_DIR")" != "$SERVICE_USER:$SERVICE_USER" ]; then
  run chown "$SERVICE_USER:$SERVICE_USER" "$NODE_DATA_DIR"
fi
if [ -d "$NODE_DATA_DIR" ] && [ "$(stat -c %a "$NODE_DATA_DIR")" != 750 ]; then
  run chmod 0750 "$NODE_DATA_DIR"
elif [ "$DRY_RUN" = 1 ] && [ ! -d "$NODE_DATA_DIR" ]; then
  note "+ chmod 0750 $NODE_DATA_DIR"
fi

config=$(render_config)
CONFIG_WRITTEN=0
if [ -f "$CONFIG_FILE" ] && [ "$(cat "$CONFIG_FILE")" != "$config" ] && [ "$FORCE" = 0 ]; then
  note "kept: $CONFIG_FILE exists with other settings (--force replaces it, keeping a backup)"
else
  if [ -f "$CONFIG_FILE" ] && [ "$(cat "$CONFIG_FILE")" != "$config" ]; then
    run cp -p "$CONFIG_FILE" "$CONFIG_FILE.bak.$(date -u +%Y%m%dT%H%M%SZ)"
  fi
  # mktemp creates the file 0600: the secrets are never readable by others, not even briefly.
  if write_file "$CONFIG_FILE" 0600 "$config"; then
    record file "$CONFIG_FILE"
    CONFIG_WRITTEN=1
  fi
fi
# The config holds secrets: readable by the service user only, whatever an older install or the umask left.
if [ -f "$CONFIG_FILE" ] && [ "$(stat -c %a "$CONFIG_FILE")" != 600 ]; then run chmod 0600 "$CONFIG_FILE"; fi
if is_root && [ "$NO_SERVICE" = 0 ] && { [ "$WANT_USER" = 1 ] || getent passwd "$SERVICE_USER" >/dev/null; }; then
  if [ ! -f "$CONFIG_FILE" ] || [ "$(stat -c %U:%G "$CONFIG_FILE")" != "$SERVICE_USER:$SERVICE_USER" ]; then
    run chown "$SERVICE_USER:$SERVICE_USER" "$CONFIG_FILE"
  fi
fi

if [ "$NO_SERVICE" = 1 ]; then
  note "No systemd unit (--no-service). Start the node with:"
  note "  $BIN_DIR/flydb --config $CONFIG_FILE"
else
  make_dir "$SYSTEMD_DIR"
  units_changed=0
  for unit in flydb.service flydb-cluster@.service; do
    if write_file "$SYSTEMD_DIR/$unit" 0644 "$(render_unit "$SCRIPT_DIR/deploy/systemd/$unit")"; then
      record file "$SYSTEMD_DIR/$unit"
      units_changed=1
    fi
  done
  enable_cmd="systemctl enable $UNIT"
  [ "$START" = 0 ] || enable_cmd="systemctl enable --now $UNIT"
  case $SYSTEMD_DIR in /etc/systemd/system | /usr/lib/systemd/system | /lib/systemd/system) standard_dir=1 ;; *) standard_dir=0 ;; esac
  if systemd_running && [ "$standard_dir" = 1 ]; then
    [ "$units_changed" = 0 ] || run systemctl daemon-reload
    if systemctl is-enabled --quiet "$UNIT" 2>/dev/null; then
      note "unchanged: $UNIT is enabled"
    else
      run systemctl enable "$UNIT"
    fi
    record enabled "$UNIT"
    if [ "$START" = 1 ]; then
      if systemctl is-active --quiet "$UNIT"; then note "unchanged: $UNIT is running"; else run systemctl start "$UNIT"; fi
    fi
  elif ! systemd_running; then
    note "systemd is not running on this machine (PID 1 is $(cat /proc/1/comm 2>/dev/null || echo unknown)), so $UNIT is not enabled. Where systemd runs:"
    note "  systemctl daemon-reload && $enable_cmd"
  else
    note "$SYSTEMD_DIR is not a directory systemd loads units from; $UNIT is not enabled. Link and enable it with:"
    note "  systemctl link $SYSTEMD_DIR/${UNIT/@*/@.service} && $enable_cmd"
  fi
fi

if [ "$MODE" = cluster ] && [ "$ROLE" = join ] && [ -z "$PEERS" ] && [ "$DISCOVERY" != true ]; then
  warn "no peers in $CONFIG_FILE and discovery off: the node waits to be admitted; add cluster_peers (or re-run with --peers or --discovery and --force)"
fi
if [ "$CONFIG_WRITTEN" = 1 ] || [ "$DRY_RUN" = 1 ]; then
  for key in ${GENERATED[@]+"${GENERATED[@]}"}; do
    note "Generated $key into $CONFIG_FILE (mode 0600; the value is not shown here)."
  done
  if [ "$MODE" = cluster ] && [[ " ${GENERATED[*]-} " == *" cluster_secret "* ]]; then
    note "Every other node of this cluster needs the same cluster_secret: copy $CONFIG_FILE to it (mode 0600)"
    note "and install there with --secrets-from <copy> (also shares requirepass and http_auth_token),"
    note "or with --cluster-secret and the value of the cluster_secret line."
  fi
fi
if [ "$DRY_RUN" = 1 ]; then
  note "Dry run: $CHANGES change(s) would be made."
elif [ "$CHANGES" = 0 ]; then
  note "Nothing changed: FlyDB is already installed as asked."
else
  note "Done: $CHANGES change(s). uninstall.sh --config-dir $CONFIG_DIR removes them."
fi
