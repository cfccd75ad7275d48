# Shared by scripts/test and scripts/demo. Sourced, not run.

VENV=${LABBOOK_VENV:-.venv}
PYTHON=${PYTHON:-python3}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# A virtual environment of the project's own; the machine's Python is left alone.
ensure_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
      # Debian's own python3 ships venv separately.
      rm -rf "$VENV"
      as_root apt-get update -qq
      DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3-venv >/dev/null
      "$PYTHON" -m venv "$VENV"
    fi
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

# What compiling llama-cpp-python needs (a C and C++ compiler, make, cmake), from Debian when any is missing; a
# machine that has them, or pip's cached wheel, needs nothing more.
ensure_build_tools() {
  local tool missing=0
  for tool in cc c++ make cmake; do
    command -v "$tool" >/dev/null 2>&1 || missing=1
  done
  if [ "$missing" = 1 ]; then
    echo "== installing a C/C++ tool chain and cmake (apt-get)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq build-essential cmake >/dev/null
  fi
}

free_port() {
  "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Where a throw-away cluster lives: in memory (/dev/shm) when it has room, else /tmp. On a disk, the database created
# and dropped for every test can cost ten times as long (file creation and deletion, discard on the file system).
pg_parent_dir() {
  local free_kb
  free_kb=$(df --output=avail -k /dev/shm 2>/dev/null | tail -1 | tr -d ' ') || free_kb=0
  if [ -d /dev/shm ] && [ -w /dev/shm ] && [ "${free_kb:-0}" -gt $((2 * 1024 * 1024)) ]; then
    echo /dev/shm
  else
    echo /tmp
  fi
}

# A throw-away cluster on a free loopback port, stopped when the calling script exits. Sets PG_URL.
start_postgres() {
  ensure_postgres
  PG_DIR=$(mktemp -d "$(pg_parent_dir)/labbook-pg.XXXXXX")
  PG_PORT=$(free_port)
  PG_USER=$(id -un)
  if [ "$(id -u)" = 0 ]; then
    PG_USER=postgres  # initdb refuses to run as root
    chown "$PG_USER" "$PG_DIR"
  fi
  run_pg "$PG_BIN/initdb" --pgdata "$PG_DIR/data" --auth trust --username postgres --encoding UTF8 >/dev/null
  run_pg "$PG_BIN/pg_ctl" --pgdata "$PG_DIR/data" --log "$PG_DIR/server.log" --wait \
    --options "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off -c full_page_writes=off" start >/dev/null
  # Keep the script's own exit status: the trap must neither hide a failure nor invent one.
  trap 'status=$?; stop_postgres; exit $status' EXIT
  PG_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
  echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT"
}

run_pg() {
  if [ "$PG_USER" = "$(id -un)" ]; then "$@"; else (cd / && runuser -u "$PG_USER" -- "$@"); fi
}

stop_postgres() {
  run_pg "$PG_BIN/pg_ctl" --pgdata "$PG_DIR/data" --mode fast --wait stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR" || true
}

# Chroma's own server (`chroma run`, from the chromadb package) on loopback, in a throw-away folder. Waits for its
# heartbeat; CHROMA_URL names it. stop_chroma ends it.
start_chroma() {
  CHROMA_DIR=$(mktemp -d /tmp/labbook-chroma.XXXXXX)
  CHROMA_PORT=$(free_port)
  "$VENV/bin/chroma" run --path "$CHROMA_DIR/data" --host 127.0.0.1 --port "$CHROMA_PORT" >"$CHROMA_DIR/server.log" 2>&1 &
  CHROMA_PID=$!
  trap 'status=$?; stop_chroma; exit $status' EXIT
  CHROMA_URL="http://127.0.0.1:$CHROMA_PORT"
  for _ in $(seq 1 100); do
    if "$VENV/bin/python" -c "import httpx, sys; sys.exit(httpx.get('$CHROMA_URL/api/v2/heartbeat').status_code != 200)" \
      2>/dev/null; then
      echo "Chroma server on $CHROMA_URL"
      return 0
    fi
    sleep 0.2
  done
  echo "Chroma server did not start:" >&2
  cat "$CHROMA_DIR/server.log" >&2
  return 1
}

stop_chroma() {
  if [ -n "${CHROMA_PID:-}" ]; then kill "$CHROMA_PID" 2>/dev/null || true; wait "$CHROMA_PID" 2>/dev/null || true; fi
  rm -rf "${CHROMA_DIR:-}" || true
}
