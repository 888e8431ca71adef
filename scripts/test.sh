#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs (PostgreSQL 15, Chromium),
# starts a throwaway PostgreSQL cluster and a hot standby of it under a temp dir on free
# loopback ports, runs `cargo fmt --check`, `cargo clippy -D warnings` and every test on
# SQLite and PostgreSQL, and stops both clusters whatever happens. Extra arguments go to `cargo test` (e.g. a test name).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

pgbin=/usr/lib/postgresql/15/bin
if [ ! -x "$pgbin/initdb" ]; then
  echo "test.sh: installing postgresql-15"
  apt_install postgresql-15
fi
if [ ! -e /usr/share/postgresql/15/extension/pg_partman.control ]; then
  echo "test.sh: installing postgresql-15-partman (tests on a table it partitions)"
  apt_install postgresql-15-partman
fi
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "test.sh: installing chromium and chromedriver (browser tests over WebDriver)"
  apt_install chromium chromium-driver
fi
if ! command -v haproxy >/dev/null 2>&1 && [ ! -x /usr/sbin/haproxy ]; then
  echo "test.sh: installing haproxy (the scaled-out cluster's load balancer)"
  apt_install haproxy
fi
if ! command -v node >/dev/null 2>&1; then
  echo "test.sh: installing nodejs and npm (outside conformance suites)"
  apt_install nodejs npm
fi
# The graphql-http audit and the graphql-ws client, pinned by conformance/package-lock.json.
npm ci --prefix conformance --no-audit --no-fund --silent

# A throwaway cluster, owned by an unprivileged user when we are root (initdb refuses root).
pgdir=$(mktemp -d /tmp/user-events-pg.XXXXXX)
run_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ "$(id -u)" = 0 ]; then chown postgres: "$pgdir"; fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cleanup() {
  run_pg "$pgbin/pg_ctl" -D "$pgdir/standby" -m immediate stop >/dev/null 2>&1 || true
  run_pg "$pgbin/pg_ctl" -D "$pgdir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$pgdir"
}
trap cleanup EXIT
run_pg "$pgbin/initdb" -D "$pgdir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
run_pg "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$pgdir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
  start >/dev/null
export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
echo "test.sh: PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
# A hot standby of it by streaming replication, for the tests of reading from a standby.
standby_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run_pg "$pgbin/pg_basebackup" -h 127.0.0.1 -p "$port" -U postgres -D "$pgdir/standby" -R -X stream -c fast
run_pg "$pgbin/pg_ctl" -D "$pgdir/standby" -l "$pgdir/standby.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -c port=$standby_port -c unix_socket_directories=$pgdir -c max_connections=300" \
  start >/dev/null
export TEST_STANDBY_URL="postgres://postgres@127.0.0.1:$standby_port/postgres"
echo "test.sh: its hot standby on 127.0.0.1:$standby_port"

# A one-off build gains nothing from incremental state, which would double the disk it takes.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
# The cluster test's three servers stream to 100 subscribers: they run an optimised build.
cargo build --release --quiet
export USER_EVENTS_CLUSTER_BIN="$PWD/target/release/user-events"
cargo test --workspace "$@"
