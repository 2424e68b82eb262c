#!/usr/bin/env bash
# Starts a local PostgreSQL for the shared store's tests (installed from
# Debian when missing) and prints the TRUCE_TEST_PG URL they read:
#   export TRUCE_TEST_PG="$(.ci/postgres.sh)"
set -euo pipefail
if ! command -v pg_ctlcluster >/dev/null || [ -z "$(pg_lsclusters -h 2>/dev/null)" ]; then
  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql) >&2
fi
read -r version cluster _ < <(pg_lsclusters -h | head -1)
pg_ctlcluster "$version" "$cluster" start >&2 || true  # says so when already running
as_postgres() { su postgres -c "$1" >&2; }
if ! su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname = 'truce'\"" | grep -q 1; then
  as_postgres "psql -q -c \"CREATE USER truce WITH PASSWORD 'truce'\""
fi
if ! su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname = 'truce_test'\"" | grep -q 1; then
  as_postgres "createdb -O truce truce_test"
fi
echo "postgres://truce:truce@127.0.0.1/truce_test"
