#!/usr/bin/env bash
# Every report and console request at each data size: one request at a time, best of 3, against
# the release binary serving N demo events on PostgreSQL (scripts/bench-data.sh), and the ratio
# of the largest size's time to the smallest's.
#
#   scripts/report-bench.sh                          1,000,000 and 10,000,000 events
#   SIZES="1000000" scripts/report-bench.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
SIZES=${SIZES:-1000000 10000000}
BENCH_DIR=${BENCH_DIR:-/tmp/user-events-bench}
PG_PORT=${PG_PORT:-55433}
PORT=${PORT:-8078}
pgbin=/usr/lib/postgresql/15/bin
(cd "$here" && cargo build --release --quiet)
bin="$here/target/release/user-events"
results=$(mktemp)
trap 'rm -f "$results"; kill $server 2>/dev/null || true' EXIT
server=

for n in $SIZES; do
  url=$(BENCH_DIR=$BENCH_DIR PG_PORT=$PG_PORT "$here/scripts/bench-data.sh" "$n")
  read -r first last < <("$pgbin/psql" "$url" -AtF ' ' -c \
    "SELECT to_char(min(created_at), 'YYYY-MM-DD'), to_char(max(created_at) + interval '1 day', 'YYYY-MM-DD') FROM user_events")
  month=$("$pgbin/psql" "$url" -Atc "SELECT to_char(max(created_at) - interval '30 days', 'YYYY-MM-DD') FROM user_events")
  user=$("$pgbin/psql" "$url" -Atc "SELECT user_id FROM user_events WHERE user_id IS NOT NULL ORDER BY id DESC LIMIT 1")
  year="from: \"${first}T00:00:00Z\", to: \"${last}T00:00:00Z\""
  days="from: \"${month}T00:00:00Z\", to: \"${last}T00:00:00Z\""
  "$bin" serve --listen "127.0.0.1:$PORT" --database-url "$url" >"$BENCH_DIR/report-bench.log" 2>&1 &
  server=$!
  for _ in $(seq 1 60); do
    curl -sf -o /dev/null -H 'content-type: application/json' -d '{"query":"{ __typename }"}' \
      "http://127.0.0.1:$PORT/graphql" && break
    sleep 0.5
  done
  while IFS='|' read -r name query; do
    [ -n "$name" ] || continue
    body=$(python3 -c 'import json, sys; print(json.dumps({"query": sys.argv[1]}))' "$query")
    best=
    for _ in 1 2 3; do
      t=$(curl -s -o "$BENCH_DIR/report-bench.json" -w '%{time_total}' -H 'content-type: application/json' \
        -d "$body" "http://127.0.0.1:$PORT/graphql")
      best=$(python3 -c "print(min(float('$t'), float('${best:-inf}')))")
    done
    code=$(grep -o '"code":"[A-Z_]*"' "$BENCH_DIR/report-bench.json" | head -1 | cut -d'"' -f4 || true)
    printf '%s\t%s\t%s\t%s\n' "$name" "$n" "$best" "$code" >>"$results"
  done <<EOF
resourceUsage by kind and month, a year|{ resourceUsage(filter: {$year}, groupBy: [KIND], bucket: MONTH) { events cpu memoryGib gpu } }
resourceUsage by day, 30 days|{ resourceUsage(filter: {$days}, groupBy: [], bucket: DAY) { events cpu memoryGib gpu } }
resourceUsage by category and week in Europe/Berlin, a year|{ resourceUsage(filter: {$year}, groupBy: [CATEGORY], bucket: WEEK, timeZone: "Europe/Berlin") { events cpu } }
loginActivity by week, a year|{ loginActivity(filter: {$year}, bucket: WEEK) { logins logouts distinctUsers byAuthMethod { method count } } }
loginActivity by day, 30 days|{ loginActivity(filter: {$days}, bucket: DAY) { logins logouts distinctUsers } }
users(first: 20)|{ users(first: 20) { edges { node { id username firstSeen lastSeen eventCount banned } } } }
users search|{ users(first: 20, search: "ann") { edges { node { id username } } } }
sharingExposure now, newest 100|{ sharingExposure(limit: 100) { resourceId } }
sharingExposure as of a past moment, newest 100|{ sharingExposure(asOf: "${month}T00:00:00Z", limit: 100) { resourceId } }
eventCounts top 10 users, a year|{ eventCounts(filter: {$year}, groupBy: [USER], limit: 10) { userId count } }
eventCounts top 10 addresses, 30 days|{ eventCounts(filter: {$days}, groupBy: [IP_ADDRESS], limit: 10) { ipAddress count } }
events totalCount, no filter|{ events(first: 50) { totalCount } }
events totalCount, Sessions over 30 days|{ events(first: 50, filter: {categories: [SESSIONS], $days}) { totalCount } }
eventCounts by category and day, a year|{ eventCounts(filter: {$year}, groupBy: [CATEGORY], bucket: DAY) { count } }
eventCounts by category and day in Europe/Berlin, a year|{ eventCounts(filter: {$year}, groupBy: [CATEGORY], bucket: DAY, timeZone: "Europe/Berlin") { count } }
loginActivity by day in Europe/Berlin, a year|{ loginActivity(filter: {$year}, bucket: DAY, timeZone: "Europe/Berlin") { logins byAuthMethod { method count } } }
userTimeline by day, a year|{ userTimeline(userId: "$user", $year, bucket: DAY) { total buckets { start total } } }
EOF
  kill $server
  wait $server 2>/dev/null || true
  server=
done

python3 - "$results" $SIZES <<'PY'
import sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
sizes = sys.argv[2:]
times = {}
names = []
for name, n, t, code in rows:
    if name not in names:
        names.append(name)
    times[(name, n)] = (float(t), code)
cell = lambda v: f"{v[0] * 1000:,.1f} ms" + (f" ({v[1]})" if v[1] else "") if v else "-"
print("| request | " + " | ".join(f"{int(n):,} events" for n in sizes) + (" | ratio |" if len(sizes) > 1 else ""))
print("| --- " * (len(sizes) + 1 + (len(sizes) > 1)) + "|")
for name in names:
    line = f"| {name} | " + " | ".join(cell(times.get((name, n))) for n in sizes)
    if len(sizes) > 1:
        a, b = times.get((name, sizes[0])), times.get((name, sizes[-1]))
        line += f" | {b[0] / a[0]:.1f}x" if a and b and a[0] > 0 else " | -"
    print(line + " |")
PY
