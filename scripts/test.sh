#!/usr/bin/env bash
# The whole test suite: type checks, the runtime-free core check, the build, then bun test.
# Prints a closing "N passed, N failed" line taken from bun's own counts.
set -uo pipefail
cd "$(dirname "$0")/.."
export MSGPACKR_NATIVE_ACCELERATION_DISABLED=true

step() { printf '\n== %s\n' "$*"; }

step "system packages the tests use"
bash scripts/install-test-deps.sh || { echo "0 passed, 1 failed"; exit 1; }
[ -d node_modules ] || npm ci --no-audit --no-fund

step "typecheck (tsc)"
npx tsc --noEmit -p tsconfig.json || { echo "0 passed, 1 failed"; exit 1; }

step "deno check of the runtime-free cores"
bash scripts/deno-check.sh || { echo "0 passed, 1 failed"; exit 1; }

step "import layers (scripts/check-imports.ts)"
npx bun scripts/check-imports.ts || { echo "0 passed, 1 failed"; exit 1; }

step "format and lint (biome)"
npx biome ci . || { echo "0 passed, 1 failed"; exit 1; }

step "build"
npm run -s build || { echo "0 passed, 1 failed"; exit 1; }

step "bun test"
log=$(mktemp)
npx bun test --timeout 60000 "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
pass=$(grep -Eo '^ *[0-9]+ pass' "$log" | tail -1 | grep -Eo '[0-9]+')
fail=$(grep -Eo '^ *[0-9]+ fail' "$log" | tail -1 | grep -Eo '[0-9]+')
rm -f "$log"
echo
echo "${pass:-0} passed, ${fail:-0} failed"
if [ "$rc" -ne 0 ] && [ "${fail:-0}" -eq 0 ]; then fail=1; fi
[ "$rc" -eq 0 ] && [ "${pass:-0}" -gt 0 ]
