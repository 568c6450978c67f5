#!/usr/bin/env bash
# The crash harness (tests/reliability/crash_harness.py): concurrent signed load, kill -9 at
# random moments (during the load, inside a scheduler burst, inside the start-up catch-up),
# restart, check every acknowledged write, every refusal and every due release.
#   scripts/crash-harness.sh            # the short version CI runs: 5 cycles
#   scripts/crash-harness.sh 20         # the full version: 20 cycles
#   scripts/crash-harness.sh 20 --seed 7 --burst 20000
# Needs the release binary (ECSD_BIN, default target/release/ecsd) and the venv of
# scripts/install-test-deps.sh. Exit status: 0 all cycles passed, 1 a check failed, 2 harness error.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export ECSD_BIN="${ECSD_BIN:-$ROOT/target/release/ecsd}"
CYCLES="${1:-5}"
shift || true
exec .venv/bin/python tests/reliability/crash_harness.py --cycles "$CYCLES" "$@"
