#!/usr/bin/env bash
# Installs what the SDK end-to-end tests need, idempotently:
#   - a Python venv at .venv with the pinned official Python SDKs and pytest
#     (tests/sdk/python/requirements.txt + constraints.txt)
#   - node_modules in tests/sdk/node from package.json / package-lock.json (npm ci)
#   - node_modules in tests/browser (playwright-core, which drives Debian's chromium; no browser
#     is downloaded: the console's browser tests use the system's `chromium`)
# Work already done is skipped: each step writes a stamp holding the hash of its inputs.
# Needs python3 with venv + ensurepip, node and npm; as root on Debian it installs the missing
# ones with apt-get. Registries: PyPI, npm, Debian's.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PY_DIR=tests/sdk/python
NODE_DIR=tests/sdk/node
VENV=.venv

log() { printf '[install-test-deps] %s\n' "$*"; }

hash_files() { cat "$@" | sha256sum | cut -d' ' -f1; }

# ---- System packages ------------------------------------------------------------------------
# A fresh Debian machine may lack venv support (python3-venv) or Node; as root, install them.
missing=()
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
{ command -v node && command -v npm; } >/dev/null 2>&1 || missing+=(nodejs npm)
if [[ ${#missing[@]} -gt 0 ]]; then
  if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "installing ${missing[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "[install-test-deps] please install: ${missing[*]}" >&2
    exit 1
  fi
fi

# ---- Python ---------------------------------------------------------------------------------
PYTHON="${PYTHON:-python3}"
py_hash="$(hash_files "$PY_DIR/requirements.txt" "$PY_DIR/constraints.txt")-$("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
py_stamp="$VENV/.ecsd-deps-stamp"
if [[ -x "$VENV/bin/python" && -f "$py_stamp" && "$(cat "$py_stamp")" == "$py_hash" ]]; then
  log "python venv up to date ($VENV)"
else
  if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    log "creating venv $VENV with $("$PYTHON" --version 2>&1)"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  log "installing Python SDKs and pytest"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    -r "$PY_DIR/requirements.txt" -c "$PY_DIR/constraints.txt"
  # Fail here, not in the middle of a test run, if an import is broken.
  "$VENV/bin/python" - <<'PYEOF'
import aliyunsdkcore, aliyunsdkecs.request.v20140526.DescribeInstancesRequest  # noqa: F401
import alibabacloud_ecs20140526.client, alibabacloud_tea_openapi.models  # noqa: F401
import pytest  # noqa: F401
PYEOF
  echo "$py_hash" > "$py_stamp"
  log "python deps installed"
fi

# ---- Node -----------------------------------------------------------------------------------
node_hash="$(hash_files "$NODE_DIR/package.json" "$NODE_DIR/package-lock.json")-$(node --version)"
node_stamp="$NODE_DIR/node_modules/.ecsd-deps-stamp"
if [[ -f "$node_stamp" && "$(cat "$node_stamp")" == "$node_hash" ]]; then
  log "node_modules up to date ($NODE_DIR)"
else
  log "installing Node SDKs (npm ci)"
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  (cd "$NODE_DIR" && node -e "require('@alicloud/pop-core'); require('@alicloud/ecs20140526'); require('@alicloud/openapi-core')")
  echo "$node_hash" > "$node_stamp"
  log "node deps installed"
fi

BROWSER_DIR=tests/browser
browser_hash="$(hash_files "$BROWSER_DIR/package.json" "$BROWSER_DIR/package-lock.json")-$(node --version)"
browser_stamp="$BROWSER_DIR/node_modules/.ecsd-deps-stamp"
if [[ -f "$browser_stamp" && "$(cat "$browser_stamp")" == "$browser_hash" ]]; then
  log "node_modules up to date ($BROWSER_DIR)"
else
  log "installing playwright-core for the console's browser tests (npm ci)"
  # PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: playwright-core downloads nothing itself; said anyway, so
  # no install step ever reaches for a browser build outside the package registries.
  (cd "$BROWSER_DIR" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  (cd "$BROWSER_DIR" && node -e "require('playwright-core')")
  echo "$browser_hash" > "$browser_stamp"
  log "browser test deps installed"
fi
