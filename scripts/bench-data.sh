#!/usr/bin/env bash
# The benchmarks' data: a database of N demo events (`bench_N`) in the benchmarks' PostgreSQL
# cluster (scripts/bench-pg.sh), written once by `user-events demo` with the release binary and
# migrated by it. Prints the database's URL.
#
#   scripts/bench-data.sh 1000000
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
N=${1:?usage: bench-data.sh N}
BENCH_DIR=${BENCH_DIR:-/tmp/user-events-bench}
PG_PORT=${PG_PORT:-55433}
pgbin=/usr/lib/postgresql/15/bin
BENCH_DIR=$BENCH_DIR PG_PORT=$PG_PORT "$here/scripts/bench-pg.sh" >/dev/null
psql() { "$pgbin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"; }
db="bench_$N"
url="postgres://postgres@127.0.0.1:$PG_PORT/$db"
bin="$here/target/release/user-events"
[ -x "$bin" ] || (cd "$here" && cargo build --release --quiet)
if [ "$(psql -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
  psql -d postgres -qc "CREATE DATABASE $db"
  echo "bench: writing $N demo events into $db (once)" >&2
  "$bin" --database-url "$url" demo --events "$N" >&2
  psql -d "$db" -qc "VACUUM ANALYZE"
fi
"$bin" --database-url "$url" migrate >&2
echo "$url"
