#!/usr/bin/env bash
# The test command: sets up the machine (venv, Redis, PostgreSQL) and runs lint + the whole suite.
# Tests create their own PostgreSQL database and claim their own Redis db number (tests/support.py).
# Extra arguments go to pytest (e.g. scripts/test.sh -k auth).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
ensure_venv
ensure_redis
ensure_postgres
export PYTHONDONTWRITEBYTECODE=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False
log "ruff"
.venv/bin/ruff check .
log "pytest"
set +e
.venv/bin/python -m pytest -p no:cacheprovider "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  log "pytest collected no tests: failing on purpose"
  exit 1
fi
exit "$status"
