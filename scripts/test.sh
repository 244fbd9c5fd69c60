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
# Two files at a time, each in its own worker process: most of a cluster or process test is spent
# waiting (elections, gossip rounds, child processes starting): the suite's processes use about a
# third of one core on average, so two workers on two cores shorten the wall time. Every test uses
# fresh ports, temp dirs and namespaces named after its process id: files side by side share nothing.
# test/timings.json (per-file durations of a serial run) makes each worker start its slowest file
# first, so one long file does not run alone at the end. FLYDB_TEST_PARALLEL=1 runs one file at a time.
npx bun test --timeout 60000 --parallel="${FLYDB_TEST_PARALLEL:-2}" --timings=test/timings.json "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
pass=$(grep -Eo '^ *[0-9]+ pass' "$log" | tail -1 | grep -Eo '[0-9]+')
fail=$(grep -Eo '^ *[0-9]+ fail' "$log" | tail -1 | grep -Eo '[0-9]+')
rm -f "$log"
echo
echo "${pass:-0} passed, ${fail:-0} failed"
if [ "$rc" -ne 0 ] && [ "${fail:-0}" -eq 0 ]; then fail=1; fi
[ "$rc" -eq 0 ] && [ "${pass:-0}" -gt 0 ]
