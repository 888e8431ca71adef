#!/usr/bin/env bash
# What the server's summaries cost the platform's writers: INSERTs by plain SQL (pgbench, like the
# platform's own code) into `user_events` with the server's triggers in place, and with them
# disabled (the platform alone), one event per transaction and 100 per transaction.
#
#   scripts/write-bench.sh                    4 clients, 10 s a run
#   CLIENTS=1 SECONDS_=20 scripts/write-bench.sh
#
# A database of its own (`write_bench`, made again each run) in the benchmarks' PostgreSQL
# cluster (scripts/bench-pg.sh), migrated by the release binary. A third of the events report
# resource usage, like sessions, jobs and runs do; the rest are logins and file events. Runs
# alternate (triggers, none, triggers, none) so that drift on the machine shows.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
CLIENTS=${CLIENTS:-4}
RUN=${SECONDS_:-10}
BENCH_DIR=${BENCH_DIR:-/tmp/user-events-bench}
PG_PORT=${PG_PORT:-55433}
pgbin=/usr/lib/postgresql/15/bin
BENCH_DIR=$BENCH_DIR PG_PORT=$PG_PORT "$here/scripts/bench-pg.sh" >/dev/null
psql() { "$pgbin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -q "$@"; }
(cd "$here" && cargo build --release --quiet)
db=write_bench
url="postgres://postgres@127.0.0.1:$PG_PORT/$db"
psql -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
"$here/target/release/user-events" --database-url "$url" migrate >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The event of row g: every third reports usage.
event="CASE WHEN g % 3 = 0 THEN 'session launched' WHEN g % 3 = 1 THEN 'user login' ELSE 'file downloaded' END,
  CASE WHEN g % 3 = 0 THEN '{\"cpu\": ' || (g % 8 + 1) || ', \"memory\": ' || (g % 16) || '.5, \"gpu\": ' || (g % 2) || '}'
       WHEN g % 3 = 1 THEN '{\"method\": \"password\", \"username\": \"u' || (g % 2000) || '\"}'
       ELSE '{\"file\": \"notebook.ipynb\"}' END"
columns="user_id, ipaddr, user_agent, event_name, description, created_at"
row="md5((g % 2000)::text)::uuid, '10.0.0.' || (g % 250), 'Mozilla/5.0 (X11; Linux x86_64)', $event, now() AT TIME ZONE 'UTC'"
cat >"$work/one.sql" <<SQL
\set g random(1, 1000000)
INSERT INTO user_events ($columns) SELECT $row FROM (SELECT :g::int AS g) AS s;
SQL
cat >"$work/hundred.sql" <<SQL
\set g random(1, 1000000)
INSERT INTO user_events ($columns) SELECT $row FROM generate_series(:g::int, :g::int + 99) AS g;
SQL

rate() { # script events-per-transaction -> events per second
  "$pgbin/pgbench" -h 127.0.0.1 -p "$PG_PORT" -U postgres -n -M prepared -c "$CLIENTS" \
    -j "$(( CLIENTS < 2 ? CLIENTS : 2 ))" -T "$RUN" -f "$1" "$db" 2>/dev/null |
    awk -v per="$2" '/^tps = / { printf "%.0f", $3 * per }'
}
triggers() { psql -d "$db" -c "ALTER TABLE user_events $1 TRIGGER USER"; }
echo "| events per transaction | with the server's triggers, events/s | platform alone, events/s | cost |"
echo "| --- | --- | --- | --- |"
for script in one:1 hundred:100; do
  name=${script%%:*}
  per=${script##*:}
  with=() without=()
  for _ in 1 2; do
    triggers ENABLE
    with+=("$(rate "$work/$name.sql" "$per")")
    triggers DISABLE
    without+=("$(rate "$work/$name.sql" "$per")")
  done
  triggers ENABLE
  python3 - "$per" "${with[@]}" "${without[@]}" <<'PY'
import sys
per, w1, w2, o1, o2 = sys.argv[1], *map(int, sys.argv[2:])
cost = 1 - (w1 + w2) / (o1 + o2)
print(f"| {per} | {w1:,} / {w2:,} | {o1:,} / {o2:,} | {cost:.0%} |")
PY
done
psql -d postgres -c "DROP DATABASE $db"
