#!/usr/bin/env bash
# A scaled-out deployment on loopback, from Debian packages: a PostgreSQL primary, a hot standby
# of it made with `pg_basebackup -R`, three `user-events serve` replicas reading from the standby,
# and HAProxy in front of them (health checks on /healthz, WebSocket upgrades passed through).
#
#   scripts/cluster.sh up       starts everything and prints where it listens
#   scripts/cluster.sh down     stops everything and removes its files
#   scripts/cluster.sh status   says what runs
#
# Environment: CLUSTER_DIR (default /tmp/user-events-cluster), CLUSTER_PORT (HAProxy's port,
# default 8400; PostgreSQL takes the next two, the servers the three after that),
# USER_EVENTS_BIN (a built binary; default: a release build of this repository), SERVERS (3),
# DEMO_EVENTS (demo events written into the new database first; default none).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dir=${CLUSTER_DIR:-/tmp/user-events-cluster}
port=${CLUSTER_PORT:-8400}
servers=${SERVERS:-3}
primary_port=$((port + 1))
standby_port=$((port + 2))
pgbin=/usr/lib/postgresql/15/bin
primary_url="postgres://postgres@127.0.0.1:$primary_port/user_events"
standby_url="postgres://postgres@127.0.0.1:$standby_port/user_events"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
# PostgreSQL refuses to run as root: its clusters belong to the postgres user then.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

install() {
  local missing=()
  [ -x "$pgbin/initdb" ] || missing+=(postgresql-15)
  command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "cluster.sh: installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

wait_http() {
  for _ in $(seq 1 200); do
    curl -sf -o /dev/null "http://127.0.0.1:$1/healthz" && return 0
    sleep 0.1
  done
  echo "cluster.sh: nothing answers on 127.0.0.1:$1/healthz" >&2
  return 1
}

# Starts server replica $1 (1-based) in the background, its pid in $dir/server$1.pid.
start_server() {
  local n=$1 listen=$((port + 2 + $1))
  nohup "$bin" serve --listen "127.0.0.1:$listen" --database-url "$primary_url" \
    --read-database-url "$standby_url" >"$dir/server$n.log" 2>&1 &
  echo $! >"$dir/server$n.pid"
}

up() {
  install
  if [ -e "$dir" ]; then
    echo "cluster.sh: $dir exists; run scripts/cluster.sh down first" >&2
    exit 1
  fi
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
  bin=${USER_EVENTS_BIN:-}
  if [ -z "$bin" ]; then
    (cd "$here" && cargo build --release --quiet)
    bin="$here/target/release/user-events"
  fi
  echo "$bin" >"$dir/bin"

  as_pg "$pgbin/initdb" -D "$dir/primary" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  as_pg "$pgbin/pg_ctl" -D "$dir/primary" -l "$dir/primary.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$primary_port -c unix_socket_directories=$dir -c max_connections=300 -c wal_level=replica" \
    start >/dev/null
  as_pg "$pgbin/psql" -q -h 127.0.0.1 -p "$primary_port" -U postgres -c "CREATE DATABASE user_events"
  as_pg "$pgbin/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres -D "$dir/standby" -R -X stream -c fast
  as_pg "$pgbin/pg_ctl" -D "$dir/standby" -l "$dir/standby.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$standby_port -c unix_socket_directories=$dir -c max_connections=300" \
    start >/dev/null
  "$bin" migrate --database-url "$primary_url" 2>>"$dir/migrate.log"
  if [ "${DEMO_EVENTS:-0}" -gt 0 ]; then
    "$bin" demo --events "$DEMO_EVENTS" --database-url "$primary_url" 2>>"$dir/migrate.log"
  fi

  for n in $(seq 1 "$servers"); do start_server "$n"; done
  for n in $(seq 1 "$servers"); do wait_http $((port + 2 + n)); done

  local fds maxconn
  fds=$(ulimit -n)
  if [ "$fds" = unlimited ]; then fds=65536; fi
  maxconn=$(( (fds - 100) / 2 ))
  if [ "$maxconn" -gt 4000 ]; then maxconn=4000; fi
  {
    echo "global"
    # Two descriptors a connection: stay within what this shell may open.
    echo "  maxconn $maxconn"
    echo "defaults"
    echo "  mode http"
    echo "  timeout connect 2s"
    echo "  timeout client 60s"
    echo "  timeout server 60s"
    # A WebSocket stays open while it streams: its idle limit is the tunnel's.
    echo "  timeout tunnel 1h"
    echo "  option http-server-close"
    echo "frontend api"
    echo "  bind 127.0.0.1:$port"
    echo "  default_backend servers"
    echo "backend servers"
    echo "  balance leastconn"
    echo "  option httpchk GET /healthz"
    echo "  http-check expect status 200"
    echo "  default-server inter 500ms fall 2 rise 2 on-marked-down shutdown-sessions"
    for n in $(seq 1 "$servers"); do
      echo "  server s$n 127.0.0.1:$((port + 2 + n)) check"
    done
  } >"$dir/haproxy.cfg"
  haproxy -c -q -f "$dir/haproxy.cfg"
  haproxy -D -f "$dir/haproxy.cfg" -p "$dir/haproxy.pid"
  wait_http "$port"
  echo "cluster.sh: up: http://127.0.0.1:$port (HAProxy over $servers servers)"
  echo "cluster.sh: primary $primary_url, standby $standby_url, files in $dir"
}

down() {
  [ -d "$dir" ] || return 0
  for pidfile in "$dir"/server*.pid "$dir/haproxy.pid"; do
    [ -e "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  as_pg "$pgbin/pg_ctl" -D "$dir/standby" -m fast stop >/dev/null 2>&1 || true
  as_pg "$pgbin/pg_ctl" -D "$dir/primary" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  echo "cluster.sh: down"
}

status() {
  [ -d "$dir" ] || { echo "cluster.sh: not up"; return 0; }
  for n in $(seq 1 "$servers"); do
    if kill -0 "$(cat "$dir/server$n.pid" 2>/dev/null)" 2>/dev/null; then
      echo "server $n: running on 127.0.0.1:$((port + 2 + n))"
    else
      echo "server $n: stopped"
    fi
  done
  as_pg "$pgbin/pg_ctl" -D "$dir/primary" status >/dev/null && echo "primary: running" || echo "primary: stopped"
  as_pg "$pgbin/pg_ctl" -D "$dir/standby" status >/dev/null && echo "standby: running" || echo "standby: stopped"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  # Used by the failure tests: restart one server replica that was killed.
  restart-server)
    bin=$(cat "$dir/bin")
    start_server "$2"
    wait_http $((port + 2 + $2))
    ;;
  *)
    echo "usage: scripts/cluster.sh up|down|status" >&2
    exit 2
    ;;
esac
