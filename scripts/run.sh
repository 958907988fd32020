#!/usr/bin/env bash
# The run command: sets up a fresh machine and starts the whole stack — web (gunicorn), one worker
# serving every queue, the scheduler and the local Chroma server — on the embedded defaults (SQLite,
# local Chroma, local Redis). With no vendor credentials configured it also starts the vendor
# emulators with the bundled demo dataset and syncs it into a clearly labelled demo project.
# Ctrl-C stops everything.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
ensure_venv
ensure_redis
mkdir -p var
export PORT="${PORT:-8080}" HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False
export CHROMA_PATH="${CHROMA_PATH:-$ROOT/var/chroma}" CHROMA_PORT="${CHROMA_PORT:-8000}"
export WEB_CONCURRENCY="${WEB_CONCURRENCY:-2}" LOG_LEVEL="${LOG_LEVEL:-warning}"

# Operator login: yours if set, else a random password generated once for this checkout.
if [ -z "${AUTH_CREDENTIALS:-}${AUTH_USERNAME:-}${ADMIN_USERNAME:-}" ]; then
  [ -f var/dev-credentials ] || echo "operator:$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(12))')" > var/dev-credentials
  export AUTH_CREDENTIALS="$(cat var/dev-credentials)"
fi
if [ -z "${SESSION_SECRET:-}" ]; then
  [ -f var/dev-session-secret ] || .venv/bin/python -c 'import secrets; print(secrets.token_hex(32))' > var/dev-session-secret
  export SESSION_SECRET="$(cat var/dev-session-secret)"
fi

DEMO=0
if [ -z "${CHATWOOT_API_TOKEN:-}${ATTIO_API_TOKEN:-}${LINEAR_API_TOKEN:-}" ]; then
  DEMO=1
  EMU_PORT="${KEEL_DEMO_EMULATOR_PORT:-8701}"
  eval "$(.venv/bin/python - "$EMU_PORT" <<'PY'
import sys
from tests.emulators import demo_data as d
base = f"http://127.0.0.1:{sys.argv[1]}"
print(f"export CHATWOOT_BASE_URL={base}/chatwoot CHATWOOT_API_TOKEN={d.DEMO_CHATWOOT_TOKEN}")
print(f"export ATTIO_BASE_URL={base}/attio ATTIO_API_TOKEN={d.DEMO_ATTIO_TOKEN}")
print(f"export LINEAR_BASE_URL={base}/linear/graphql LINEAR_API_TOKEN={d.DEMO_LINEAR_TOKEN}")
print(f"export CHATWOOT_ACCOUNT_ID={d.DEMO_CHATWOOT_ACCOUNT_ID} ATTIO_WORKSPACE_ID={d.DEMO_ATTIO_WORKSPACE_ID}")
print(f"export LINEAR_WORKSPACE_ID={d.DEMO_LINEAR_ORG_ID}")
PY
)"
  # The whole bundled dataset (250 conversations over 60 days) in the first run, instead of the
  # defaults' 60 conversations per run and 7 days of history.
  export CHATWOOT_CONVERSATIONS_LIMIT="${CHATWOOT_CONVERSATIONS_LIMIT:-300}"
  export CHATWOOT_LOOKBACK_DAYS="${CHATWOOT_LOOKBACK_DAYS:-90}"
fi

log "applying migrations"
.venv/bin/python -m shared.db.migrate >/dev/null

# The processes of the Procfile for one machine: web, one worker for every queue, scheduler, vectors.
# The Chroma server and the emulators log every request: their output goes to var/*.log.
{
  grep -E '^(web|worker|scheduler):' Procfile
  echo "vectors: $(grep -E '^vectors:' Procfile | cut -d: -f2-) > var/chroma.log 2>&1"
  if [ "$DEMO" = 1 ]; then echo "emulators: python -m tests.emulators --port $EMU_PORT --demo > var/emulators.log 2>&1"; fi
} > var/Procfile.run
PATH="$ROOT/.venv/bin:$PATH" .venv/bin/honcho -f var/Procfile.run -d "$ROOT" start &
STACK=$!
trap 'kill -TERM $STACK 2>/dev/null; wait $STACK 2>/dev/null' INT TERM EXIT

for _ in $(seq 120); do
  .venv/bin/python -c "import httpx,sys; sys.exit(httpx.get('http://127.0.0.1:$PORT/health?deep=1').status_code != 200)" \
    2>/dev/null && break
  sleep 0.5
done
LOGIN="${AUTH_CREDENTIALS%%:*}"
PASSWORD="${AUTH_CREDENTIALS#*:}"
if [ "$DEMO" = 1 ]; then
  log "demo mode: syncing the bundled sample data from the vendor emulators (no credentials configured)"
  PYTHONPATH="$ROOT" .venv/bin/python scripts/demo_seed.py --api "http://127.0.0.1:$PORT" --username "$LOGIN" --password "$PASSWORD" \
    || log "demo seeding did not complete; the stack keeps running"
fi
cat <<MSG

  Keel is running at http://127.0.0.1:$PORT   (API under / and /v1, OpenAPI at /openapi.json)
  Login:        $LOGIN / $PASSWORD        (POST /auth/login)
  rq-dashboard: http://127.0.0.1:$PORT/rq/  (after login)
  Database:     ${DATABASE_URL:-sqlite:///./var/keel.db}
  Stop with Ctrl-C.

MSG
wait $STACK
