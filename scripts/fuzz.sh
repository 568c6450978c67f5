#!/usr/bin/env bash
# Fuzzes the wire layer for a bounded time: every target in fuzz/ runs SECONDS (default 60).
#
#   scripts/fuzz.sh [SECONDS]
#
# Installs cargo-fuzz if it is missing. cargo-fuzz needs nightly-only compiler flags
# (sanitizers); RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them, since no nightly can be
# fetched here. Crashes land in fuzz/artifacts/<target>/; turn each into a regression test in
# crates/ecs-wire/tests before fixing it.
set -euo pipefail

seconds="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz
fi
export RUSTC_BOOTSTRAP=1

# Seed the request corpora with the captured SDK requests, written in the targets' input shape
# (`METHOD PATH?QUERY`, header lines, blank line, body), so the fuzzer starts from real traffic.
seed() {
    local dir="fuzz/corpus/$1"
    mkdir -p "$dir"
    if [ -z "$(ls -A "$dir")" ] && command -v python3 >/dev/null; then
        python3 - "$dir" <<'PY'
import base64, json, sys
out = sys.argv[1]
for i, line in enumerate(open("crates/ecs-wire/tests/fixtures/sdk-requests.jsonl")):
    if not line.strip():
        continue
    r = json.loads(line)
    target = r["path"] + ("?" + r["query_string"] if r.get("query_string") else "")
    head = [f'{r["method"]} {target}'] + [f"{k}: {v}" for k, v in r["headers"]]
    body = base64.b64decode(r["body_b64"]) if r.get("body_b64") else (r.get("body") or "").encode()
    with open(f"{out}/sdk-{i:03}", "wb") as f:
        f.write("\n".join(head).encode() + b"\n\n" + body)
PY
    fi
}

targets=(parse_request verify_v1 verify_v3 time_rules)
for target in parse_request verify_v3; do
    seed "$target"
done

cargo fuzz build -O --debug-assertions
for target in "${targets[@]}"; do
    echo "== $target: ${seconds}s"
    mkdir -p "fuzz/corpus/$target"
    cargo fuzz run -O --debug-assertions "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1
done
