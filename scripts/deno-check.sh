#!/usr/bin/env bash
# The protocol cores must stay runtime-free (docs/design/principles.md): no bun:* imports, no sockets, no clock.
# deno check proves they type-check without Bun's types; the grep catches forbidden imports.
set -euo pipefail
cd "$(dirname "$0")/.."
core_dirs=(src/lib src/keyspace src/rdb src/net src/acl src/resp src/commands src/raft src/gossip/core src/discovery/core
  src/cluster/core src/pubsub src/scripting)
files=()
for d in "${core_dirs[@]}"; do
  [ -d "$d" ] || continue
  while IFS= read -r f; do files+=("$f"); done < <(find "$d" -name '*.ts' | sort)
done
[ "${#files[@]}" -gt 0 ] || { echo "no core files found"; exit 1; }
if grep -nE "from ['\"](bun:|node:(net|dgram|fs|child_process|os|http))" "${files[@]}"; then
  echo "a protocol core imports a runtime or I/O module (see above)"; exit 1
fi
if grep -nE "\b(Bun\.|Date\.now\(|setTimeout\(|setInterval\(|Math\.random\()" "${files[@]}"; then
  echo "a protocol core touches the clock, timers, randomness or Bun globals (see above)"; exit 1
fi
DENO_NO_UPDATE_CHECK=1 npx deno check --quiet --config deno.json "${files[@]}"
echo "deno check: ${#files[@]} core files clean"
