#!/usr/bin/env bash
# Import and export speed and peak memory, ours beside the database tools' own, on the bench CSV.
#
#   scripts/ingest-bench.sh            (PG_URL: an admin URL; default the benchmarks' own cluster)
#
# CSV (default: 1,000,000 demo events, `user-events demo` then `export`, made when missing) is imported
# into a fresh SQLite file and a fresh PostgreSQL database, imported again (every row a
# duplicate), and exported; the export is compared byte for byte with the input. The anchors
# are psql's \copy into the bench's table (primary key only) and into ours (indexes and
# rollup triggers), and the sqlite3 shell's .import into a table without index.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-1000000}
CSV=${CSV:-/tmp/user-events-bench/demo_${N}.csv}
PG_URL=${PG_URL:-$(scripts/bench-pg.sh)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release -q
bin=target/release/user-events
if [ ! -f "$CSV" ]; then
  mkdir -p "$(dirname "$CSV")"
  "$bin" --database-url "sqlite://$work/demo.db?mode=rwc" demo --events "$N" >/dev/null
  "$bin" --database-url "sqlite://$work/demo.db?mode=rwc" export --output "$CSV"
  rm -f "$work"/demo.db*
fi
rows=$(($(wc -l <"$CSV") - 1))

# Runs a command; prints "rows/s (seconds), peak MiB".
measure() {
  if ! /usr/bin/time -o "$work/time" -f "%e %M" "$@" >/dev/null 2>"$work/err"; then
    cat "$work/err" >&2
    return 1
  fi
  read -r seconds kib <"$work/time"
  awk -v r="$rows" -v e="$seconds" -v m="$kib" \
    'BEGIN { printf "%.0f rows/s (%.2f s), peak %.0f MiB", r / e, e, m / 1024 }'
}

base=${PG_URL%/*}
db=ingest_bench_$$
psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
pg="$base/$db"
lite="sqlite://$work/bench.db?mode=rwc"
"$bin" --database-url "$lite" migrate >/dev/null
"$bin" --database-url "$pg" migrate >/dev/null

printf '| step | SQLite | PostgreSQL |\n| --- | --- | --- |\n'
printf '| import into an empty table | %s | %s |\n' \
  "$(measure "$bin" --database-url "$lite" import "$CSV")" \
  "$(measure "$bin" --database-url "$pg" import "$CSV")"
printf '| import again (all duplicates) | %s | %s |\n' \
  "$(measure "$bin" --database-url "$lite" import "$CSV")" \
  "$(measure "$bin" --database-url "$pg" import "$CSV")"
printf '| export CSV | %s | %s |\n' \
  "$(measure "$bin" --database-url "$lite" export --output "$work/lite.csv")" \
  "$(measure "$bin" --database-url "$pg" export --output "$work/pg.csv")"
cmp -s "$work/lite.csv" "$CSV" && cmp -s "$work/pg.csv" "$CSV" &&
  echo "both exports are byte-identical to the input"

# The anchors.
psql -q "$pg" -c "CREATE TABLE anchor (LIKE user_events INCLUDING DEFAULTS); ALTER TABLE anchor ADD PRIMARY KEY (id)"
psql -q "$pg" -c "TRUNCATE user_events, user_events_hourly, user_events_daily"
sqlite3 "$work/anchor.db" "CREATE TABLE user_events (id INTEGER PRIMARY KEY, user_id TEXT, ipaddr TEXT NOT NULL, user_agent TEXT NOT NULL, event_name TEXT NOT NULL, description TEXT NOT NULL, created_at TEXT NOT NULL)"
printf '| anchor: sqlite3 .import (no index) / \\copy (primary key only) | %s | %s |\n' \
  "$(measure sqlite3 "$work/anchor.db" -cmd ".mode csv" ".import --skip 1 $CSV user_events")" \
  "$(measure psql -q "$pg" -c "\\copy anchor FROM '$CSV' CSV HEADER")"
printf '| anchor: \\copy into our table (indexes, rollup triggers) | | %s |\n' \
  "$(measure psql -q "$pg" -c "\\copy user_events FROM '$CSV' CSV HEADER")"
printf '| anchor: \\copy ... TO | | %s |\n' \
  "$(measure psql -q "$pg" -c "\\copy (SELECT * FROM anchor ORDER BY id) TO '$work/anchor.csv' CSV HEADER")"
psql -q "$PG_URL" -c "DROP DATABASE $db"
