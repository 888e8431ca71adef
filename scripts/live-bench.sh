#!/usr/bin/env bash
# Live feed under load: SUBSCRIBERS subscribers on one server (most following one user each,
# FIREHOSE of them every event) while pgbench inserts RATE events a second by plain SQL from
# another process, on the benchmarks' PostgreSQL (scripts/bench-pg.sh). Prints commit-to-delivery latency, the ids check,
# and server memory idle and under load.
#
#   scripts/live-bench.sh                       1000 subscribers, 10 firehose, 2000 events/s, 20 s
#   SUBSCRIBERS=1000 FIREHOSE=10 RATE=2000 SECONDS_=20 scripts/live-bench.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
SUBSCRIBERS=${SUBSCRIBERS:-1000}
FIREHOSE=${FIREHOSE:-10}
RATE=${RATE:-2000}
RUN=${SECONDS_:-20}
PORT=${PORT:-8078}
out=${OUT_DIR:-/tmp/user-events-bench/live}
PG_PORT=${PG_PORT:-55433}
mkdir -p "$out"
pg_bin=/usr/lib/postgresql/15/bin

PG_PORT=$PG_PORT "$here/scripts/bench-pg.sh" >/dev/null
"$pg_bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -q \
  -c "DROP DATABASE IF EXISTS live_bench" -c "CREATE DATABASE live_bench"
url="postgres://postgres@127.0.0.1:$PG_PORT/live_bench"

(cd "$here" && cargo build --release --quiet && cargo build --release --quiet --example live_bench)
ulimit -n 65536 || true
"$here/target/release/user-events" serve --listen "127.0.0.1:$PORT" --database-url "$url" >"$out/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
  sleep 0.5
done
rss() { awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' "/proc/$pid/status"; }
base=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
echo "server RSS with no subscriber: $(rss)"

"$here/target/release/examples/live_bench" "127.0.0.1:$PORT" "$SUBSCRIBERS" "$RUN" "$FIREHOSE" >"$out/client.txt" 2>"$out/client.err" &
client=$!
sleep 4
idle=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
echo "server RSS with $SUBSCRIBERS idle subscribers: $(rss) ($(( (idle - base) / SUBSCRIBERS )) KiB each)"

cat >"$out/insert.sql" <<'SQL'
\set n random(1, 2000)
INSERT INTO user_events (user_id, ipaddr, user_agent, event_name, description, created_at) VALUES (('00000000-0000-4000-8000-' || lpad(:n::text, 12, '0'))::uuid, '10.0.0.1', 'live-bench', 'user login', '{"username":"bench"}', clock_timestamp() AT TIME ZONE 'UTC');
SQL
"$pg_bin/pgbench" -n -h 127.0.0.1 -p "$PG_PORT" -U postgres -c 4 -j 2 -R "$RATE" -T $((RUN - 8)) -f "$out/insert.sql" live_bench >"$out/pgbench.txt" 2>&1 || true
grep -E "tps|latency average" "$out/pgbench.txt" | sed 's/^/pgbench: /'
wait $client || true
cat "$out/client.txt"
echo "server peak RSS: $(awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' "/proc/$pid/status")"
