#!/usr/bin/env bash
# Soak test (tests/reliability/soak.py): steady mixed signed load against one ecsd for MINUTES
# (default 10), sampling its RSS, open fds and threads; fails on an unexpected error answer or
# growth beyond the bounds stated in soak.py.
#   scripts/soak.sh          # 10 minutes
#   scripts/soak.sh 2        # 2 minutes
# Needs the release binary (ECSD_BIN, default target/release/ecsd) and the venv of
# scripts/install-test-deps.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export ECSD_BIN="${ECSD_BIN:-$ROOT/target/release/ecsd}"
MINUTES="${1:-10}"
shift || true
exec .venv/bin/python tests/reliability/soak.py --minutes "$MINUTES" "$@"
