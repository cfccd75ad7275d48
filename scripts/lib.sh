# Shared by scripts/test and scripts/demo. Sourced, not run.

VENV=${LABBOOK_VENV:-.venv}
PYTHON=${PYTHON:-python3}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# A virtual environment of the project's own; the machine's Python is left alone.
ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
  fi
}

# Debian's PostgreSQL server, installed when missing (a fresh machine has only the client, or nothing).
ensure_postgres() {
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "== installing PostgreSQL (apt-get)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >/dev/null
  fi
  PG_BIN=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
}

free_port() {
  "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A throw-away cluster on a free loopback port, stopped when the calling script exits. Sets PG_URL.
start_postgres() {
  ensure_postgres
  local user=postgres
  PG_DIR=$(mktemp -d /tmp/labbook-pg.XXXXXX)
  PG_PORT=$(free_port)
  if [ "$(id -u)" = 0 ]; then
    chown "$user" "$PG_DIR"
    run_pg() { runuser -u "$user" -- "$@"; }
  else
    user=$(id -un)
    run_pg() { "$@"; }
  fi
  run_pg "$PG_BIN/initdb" --pgdata "$PG_DIR/data" --auth trust --username postgres --encoding UTF8 >/dev/null
  run_pg "$PG_BIN/pg_ctl" --pgdata "$PG_DIR/data" --log "$PG_DIR/server.log" --wait \
    --options "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off -c full_page_writes=off" start >/dev/null
  trap 'run_pg "$PG_BIN/pg_ctl" --pgdata "$PG_DIR/data" --mode immediate stop >/dev/null 2>&1; rm -rf "$PG_DIR"' EXIT
  PG_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
  echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT"
}
