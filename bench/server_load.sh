#!/usr/bin/env bash
# A bounded load run of the server on loopback only: reads and client-signed
# appends, each beside a constant-route baseline. Usage: bench/server_load.sh [SECONDS] [CLIENTS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release -q -p truce-server --example server_load -- "${1:-5}" "${2:-4}"
