#!/usr/bin/env bash
# The project's test command. Runs, in order, and fails if any step fails:
#   1. scripts/install-test-deps.sh     (Python venv + Node SDKs, skipped when up to date)
#   2. cargo build --release --bin ecsd
#   3. cargo test --workspace --release
#   4. .venv/bin/python -m pytest tests/sdk/python   (official Python SDKs against a real ecsd)
#   5. node --test tests/sdk/node/*.test.mjs         (official Node SDKs against a real ecsd)
#   6. node --test tests/browser/*.test.mjs          (the web console in headless Chromium; page
#      screenshots in target/console-screenshots). Needs Debian's `chromium`: without it the step
#      is skipped with a message, except under CI=true, where a missing chromium fails the run
# Every step runs even when an earlier test step failed, so one run shows every failure; the exit
# status is non-zero if any step failed. Extra arguments go to pytest (e.g. -k lifecycle).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export ECSD_BIN="${ECSD_BIN:-$ROOT/target/release/ecsd}"
declare -a RESULTS=()
FAILED=0

step() { printf '\n==> %s\n' "$*"; }
record() { # name rc
  if [[ "$2" -eq 0 ]]; then RESULTS+=("ok      $1"); else RESULTS+=("FAILED  $1 (exit $2)"); FAILED=1; fi
}

step "install test dependencies"
scripts/install-test-deps.sh
rc=$?; record "install-test-deps" $rc
if [[ $rc -ne 0 ]]; then
  echo "test dependencies could not be installed" >&2
  exit $rc
fi

step "cargo build --release --bin ecsd"
cargo build --release --bin ecsd
rc=$?; record "cargo build" $rc
if [[ $rc -ne 0 ]]; then
  printf '%s\n' "${RESULTS[@]}"
  exit $rc
fi

step "cargo test --workspace --release"
cargo test --workspace --release
rc=$?; record "cargo test" $rc

step "pytest tests/sdk/python (official Python SDKs)"
.venv/bin/python -m pytest tests/sdk/python -q --tb=short -p no:cacheprovider "$@"
rc=$?
# exit 5 = no tests collected: that is a failure here, not a pass
record "pytest tests/sdk/python" $rc

step "node --test tests/sdk/node (official Node SDKs)"
shopt -s nullglob
node_tests=(tests/sdk/node/*.test.mjs)
if [[ ${#node_tests[@]} -eq 0 ]]; then
  echo "no Node test files found" >&2
  record "node --test" 1
else
  # Bounded: a test file whose process never exits fails the step instead of stalling the run.
  timeout --kill-after=10 1200 node --test --test-timeout=300000 "${node_tests[@]}"
  rc=$?; record "node --test tests/sdk/node" $rc
fi

step "node --test tests/browser (the web console in headless Chromium)"
chromium_bin="$(command -v chromium || command -v chromium-browser || true)"
browser_tests=(tests/browser/*.test.mjs)
if [[ ${#browser_tests[@]} -eq 0 ]]; then
  echo "no browser test files found" >&2
  record "node --test tests/browser" 1
elif [[ -n "$chromium_bin" ]]; then
  CHROMIUM_BIN="$chromium_bin" ECSD_CONSOLE_SCREENSHOTS="$ROOT/target/console-screenshots" \
    timeout --kill-after=10 1200 node --test --test-timeout=300000 "${browser_tests[@]}"
  rc=$?; record "node --test tests/browser (screenshots: target/console-screenshots)" $rc
elif [[ "${CI:-}" == "true" ]]; then
  echo "chromium is not installed, and CI must run the console's browser tests (.ci/run installs it: apt-get install chromium)" >&2
  record "node --test tests/browser (chromium missing)" 1
else
  echo "SKIPPED: chromium is not installed, so the console's browser tests did not run." >&2
  echo "         Install Debian's package to run them: apt-get install chromium fonts-dejavu-core" >&2
  RESULTS+=("SKIPPED node --test tests/browser (no chromium: apt-get install chromium)")
fi

step "summary"
printf '%s\n' "${RESULTS[@]}"
exit $FAILED
