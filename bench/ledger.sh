#!/usr/bin/env bash
# The ledger benchmark: signed appends with durability and full verification
# on a log of ENTRIES (default one million). Usage: bench/ledger.sh [ENTRIES]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release -q -p truce-ledger --example ledger_bench -- "${1:-1000000}" bench/out/ledger
