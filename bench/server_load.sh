#!/usr/bin/env bash
# A bounded load run of the server on loopback only: reads, client-signed appends
# and server-signed appends from one and from CLIENTS clients (group commit), each
# beside a constant-route baseline. Usage: bench/server_load.sh [SECONDS] [CLIENTS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release -q -p truce-server --example server_load -- "${1:-5}" "${2:-4}"
