# A private PostgreSQL server for the tests: initdb into a temporary folder,
# started on a free port, stopped and deleted on exit. Sourced, not run.
# Debian's `postgresql` package provides the binaries (installed when missing).

pg_bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$dir" ] && echo "$dir" || dirname "$(command -v initdb)"
}

ensure_postgres() {
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
    apt_install postgresql
  fi
  # The database-TLS test makes its certificates with it (postgresql pulls it in already).
  command -v openssl >/dev/null || apt_install openssl
}

# initdb refuses to run as root: as root, the server runs as the `postgres` user.
as_pg_user() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Starts the server and exports TEST_DATABASE_URL.
start_private_postgres() {
  local bin; bin=$(pg_bindir)
  PG_TMP=$(mktemp -d /tmp/tachi-auth-pg.XXXXXX)
  [ "$(id -u)" -eq 0 ] && chown postgres "$PG_TMP"
  local port; port=$(free_port)
  as_pg_user "$bin/initdb" -D "$PG_TMP/data" -U postgres -A trust --no-sync >/dev/null
  # fsync off: test data is thrown away, and the suite runs twice as fast.
  as_pg_user "$bin/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/log" -w \
    -o "-p $port -k $PG_TMP -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=500" start >/dev/null
  export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
  trap stop_private_postgres EXIT
  echo "private PostgreSQL on port $port"
}

stop_private_postgres() {
  [ -n "${PG_TMP:-}" ] || return 0
  as_pg_user "$(pg_bindir)/pg_ctl" -D "$PG_TMP/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_TMP"
  PG_TMP=""
}
