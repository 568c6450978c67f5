#!/usr/bin/env bash
# A throw-away PostgreSQL cluster on loopback, for tests and CI.
#
#   scripts/pg-test-cluster.sh start   # prints the URL (postgres://postgres@127.0.0.1:PORT/postgres)
#   scripts/pg-test-cluster.sh stop    # stops it and removes its data dir
#   scripts/pg-test-cluster.sh url     # prints the URL of the running one
#
# initdb refuses to run as root, so as root the cluster runs as the `postgres` user (Debian's
# package creates it) through runuser. Trust authentication on 127.0.0.1 only: it is a test
# cluster that lives as long as a test run. The state (data dir, port) is kept in
# $ECSD_PG_STATE (default /tmp/ecsd-pg-test.state) so `stop` finds what `start` made.
set -euo pipefail

state="${ECSD_PG_STATE:-/tmp/ecsd-pg-test.state}"

find_bin() {
  local name=$1 dir
  if [[ -n "${PG_BINDIR:-}" && -x "$PG_BINDIR/$name" ]]; then echo "$PG_BINDIR/$name"; return; fi
  # The newest installed major version first.
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
    if [[ -x "$dir/$name" ]]; then echo "$dir/$name"; return; fi
  done
  command -v "$name" || { echo "PostgreSQL's $name not found (apt-get install postgresql)" >&2; exit 1; }
}

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 - <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

url_of() { echo "postgres://postgres@127.0.0.1:$1/postgres"; }

case "${1:-}" in
  start)
    if [[ -f "$state" ]]; then
      # shellcheck disable=SC1090
      source "$state"
      if as_owner "$(find_bin pg_ctl)" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
        url_of "$PG_PORT"; exit 0
      fi
      rm -rf "$PGDATA_DIR"
    fi
    dir=$(mktemp -d /tmp/ecsd-pg-XXXXXX)
    port=$(free_port)
    if [[ $(id -u) -eq 0 ]]; then chown postgres:postgres "$dir"; fi
    as_owner "$(find_bin initdb)" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    # Sockets in the data dir's parent (the default /var/run/postgresql may not exist or be
    # writable); TCP on loopback only. Enough connections for parallel test cases.
    as_owner "$(find_bin pg_ctl)" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 -c fsync=on" start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    printf 'PGDATA_DIR=%q\nPG_PORT=%q\nPG_DIR=%q\n' "$dir/data" "$port" "$dir" >"$state"
    url_of "$port"
    ;;
  stop)
    [[ -f "$state" ]] || exit 0
    # shellcheck disable=SC1090
    source "$state"
    as_owner "$(find_bin pg_ctl)" -D "$PGDATA_DIR" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR" "$state"
    ;;
  url)
    # shellcheck disable=SC1090
    source "$state"; url_of "$PG_PORT"
    ;;
  *)
    echo "usage: $0 start|stop|url" >&2; exit 2
    ;;
esac
