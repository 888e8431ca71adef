#!/usr/bin/env bash
# Our figures beside the recorded baselines, on the shared bench data (1,000,000 events of
# gen_events.py, seed 42, on PostgreSQL 15), through HTTP with the shared load driver.
#
#   scripts/bench.sh                 q1 q2 q5 at 1 and 16 connections
#   QUERIES="q3 q4 q6 q7" scripts/bench.sh   the reports (q6, q7: scripts/bench-queries)
#   QUERIES="q1" CONNECTIONS="16" DURATION=20 scripts/bench.sh
#
# Loads the data once (the kit's pg.sh), builds the release binary, starts it against the
# bench database (its migration adds our keyset indexes), runs gql_load.py per query and
# connection count, and prints req/s, p50/p99, server peak RSS, and the ratio to PostGraphile's
# figures recorded in the kit's results/2026-11-25-anchors.md (first pass). For a live
# side-by-side run of both servers, use the kit's compare.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bench=${BENCH:?set BENCH to the directory of the shared bench kit (gen_events.py, gql_load.py, pg.sh, queries)}
QUERIES=${QUERIES:-q1 q2 q5}
CONNECTIONS=${CONNECTIONS:-1 16}
DURATION=${DURATION:-10}
PORT=${PORT:-8077}
N=${N:-1000000}
out=${OUT_DIR:-/tmp/ue-bench/ours}
mkdir -p "$out"
json="$out/bench.jsonl"; : >"$json"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
"$bench/pg.sh" start >/dev/null
rows=$("$bench/pg.sh" psql -At -c 'SELECT count(*) FROM user_events' 2>/dev/null || echo 0)
[ "$rows" = "$N" ] || "$bench/pg.sh" load "$N"
url=$("$bench/pg.sh" url)

(cd "$here" && cargo build --release --quiet)
"$here/target/release/user-events" serve --listen "127.0.0.1:$PORT" --database-url "$url" >"$out/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 240); do
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
  kill -0 $pid 2>/dev/null || { cat "$out/server.log" >&2; exit 1; }
  sleep 0.5
done
echo "server pid $pid, RSS at start $(awk '/VmRSS/ {print $2/1024 " MiB"}' /proc/$pid/status)"

for q in $QUERIES; do
  for c in $CONNECTIONS; do
    # Our own extra questions (q6: eventCounts by day and category; q7: a year's timeline)
    # live in scripts/bench-queries; the shared five in the bench folder.
    qfile="$here/scripts/bench-queries/$q.graphql"
    [ -f "$qfile" ] || qfile="$bench/queries/user-events/$q.graphql"
    python3 "$bench/gql_load.py" "http://127.0.0.1:$PORT/graphql" "$qfile" \
      --connections "$c" --duration "$DURATION" --pid "$pid" --label "$q" --json "$json" >/dev/null ||
      echo "$q c=$c failed" >&2
  done
done

python3 - "$json" <<'PY'
import json, sys
# PostGraphile v5, first pass of the kit's results/2026-11-25-anchors.md section 5.
pgl = {("q1", 1): (853.2, 1.05), ("q1", 16): (1369.3, 11.16), ("q2", 1): (896.8, 0.98),
       ("q2", 16): (1364.2, 11.15), ("q3", 1): (808.5, 0.98), ("q3", 16): (1474.8, 10.34),
       ("q4", 1): (16.7, 57.85), ("q4", 16): (25.8, 604.69), ("q5", 1): (1071.3, 0.81),
       ("q5", 16): (1567.5, 9.67)}
print(f"{'query':<6}{'conns':>6}{'req/s':>10}{'p50':>9}{'p99':>9}{'RSS':>8}   {'PGL req/s':>9}{'PGL p50':>9}{'ratio':>7}")
for line in open(sys.argv[1]):
    r = json.loads(line)
    key = (r["label"], r["connections"])
    prps, pp50 = pgl.get(key, (float("nan"), float("nan")))
    print(f"{r['label']:<6}{r['connections']:>6}{r['rps']:>10.0f}{r['lat_p50_ms']:>7.2f}ms{r['lat_p99_ms']:>7.2f}ms"
          f"{r.get('server_peak_rss_mib', 0):>6.0f}Mi   {prps:>9.0f}{pp50:>7.2f}ms{r['rps'] / prps:>7.2f}")
PY
