#!/usr/bin/env bash
# The benchmarks' PostgreSQL 15: a cluster of their own under $BENCH_DIR/pg (default
# /tmp/user-events-bench; created once, kept between runs) on 127.0.0.1:$PG_PORT (default 55433),
# started when it is not running. Prints its admin URL. Installs postgresql-15 when missing.
set -euo pipefail
BENCH_DIR=${BENCH_DIR:-/tmp/user-events-bench}
PG_PORT=${PG_PORT:-55433}
pgbin=/usr/lib/postgresql/15/bin
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
run_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ ! -x "$pgbin/initdb" ]; then
  as_root apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 >/dev/null
fi
mkdir -p "$BENCH_DIR"
if [ ! -d "$BENCH_DIR/pg/data" ]; then
  mkdir -p "$BENCH_DIR/pg"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$BENCH_DIR/pg"; fi
  run_pg "$pgbin/initdb" -D "$BENCH_DIR/pg/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
fi
if ! run_pg "$pgbin/pg_ctl" -D "$BENCH_DIR/pg/data" status >/dev/null 2>&1; then
  run_pg "$pgbin/pg_ctl" -D "$BENCH_DIR/pg/data" -l "$BENCH_DIR/pg/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$BENCH_DIR/pg -c shared_buffers=1GB -c max_connections=200" \
    start >/dev/null
fi
echo "postgres://postgres@127.0.0.1:$PG_PORT/postgres"
