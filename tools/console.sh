#!/usr/bin/env bash
# `make console`: the risk console on http://127.0.0.1:8080 over the last local run's book. It reads the scoring
# service on 127.0.0.1:8000: one already running there (`make serve`) is used, else one is started here and
# stopped with the console (Ctrl-C). Users: configs/console-users.yaml (the password is the name).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
SERVICE=""
up() { $BIN/python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8000$1', timeout=1)" 2>/dev/null; }
cleanup() { [ -n "$SERVICE" ] && kill "$SERVICE" 2>/dev/null || true; }
trap cleanup EXIT
# The book the last run worked on (RISKOPS_BOOK chooses another): its runs are in its own folder.
HOME_DIR=$($BIN/python -c "from riskops.core.config import Settings; print(Settings.load().home)")
if ! up /healthz; then
  mkdir -p runs
  # Decisions and what-if use the warehouse of the run the console shows (its features, its review table).
  latest=$(ls -d "$HOME_DIR"/2*/ 2>/dev/null | sort | while read -r r; do [ -f "$r/book.parquet" ] && [ -f "$r/warehouse.duckdb" ] && echo "$r"; done | tail -1)
  if [ -z "${RISKOPS_DUCKDB_PATH:-}" ] && [ -n "$latest" ]; then export RISKOPS_DUCKDB_PATH="${latest}warehouse.duckdb"; fi
  echo "starting the scoring service on 127.0.0.1:8000 (log: runs/serve.log)"
  $BIN/uvicorn serving.main:create_app --factory --host 127.0.0.1 --port 8000 --no-access-log > runs/serve.log 2>&1 &
  SERVICE=$!
  for _ in $(seq 240); do up /healthz && break; kill -0 "$SERVICE" 2>/dev/null || { tail -20 runs/serve.log >&2; exit 2; }; sleep 0.5; done
fi
up /v1/book/summary || echo "the service has no scoring run with a book yet: run 'make run' first (the pages say so too)" >&2
echo "the risk console: http://127.0.0.1:8080 (sign in as vera, rita, alex or ana; the password is the name)"
$BIN/uvicorn console.main:create_app --factory --host 127.0.0.1 --port 8080 --no-access-log
