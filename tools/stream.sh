#!/usr/bin/env bash
# `make stream`: the Pub/Sub emulator on 127.0.0.1, the topics, a feed of the synthetic unlabelled cohort
# (RATE customer events/s, outcome events every minute) and the stream worker scoring with the champion of
# `make run`. Results: runs/stream.duckdb (table stream_results), runs/stream-results.csv, the results topic;
# metrics on 127.0.0.1:9100/metrics. Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-50}
DATA=${DATA:-data/synthetic-${CUSTOMERS:-20000}-seed${SEED:-42}}
PORT=${PUBSUB_PORT:-8085}
BIN=.venv/bin
[ -d "$DATA" ] || { echo "no dataset at $DATA: run 'make run' first (it generates the data and trains the champion)" >&2; exit 2; }
command -v gcloud >/dev/null || { echo "the Pub/Sub emulator is needed: apt-get install google-cloud-cli-pubsub-emulator" >&2; exit 2; }
mkdir -p runs/pubsub
setsid gcloud beta emulators pubsub start --host-port="127.0.0.1:$PORT" --data-dir=runs/pubsub --quiet \
  > runs/pubsub/emulator.log 2>&1 &
EMULATOR=$!
FEED=""
cleanup() {
  [ -n "$FEED" ] && kill "$FEED" 2>/dev/null || true
  kill -- -"$EMULATOR" 2>/dev/null || true
}
trap cleanup EXIT
export PUBSUB_EMULATOR_HOST="127.0.0.1:$PORT"
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.3; done
$BIN/riskops stream topics
$BIN/riskops stream feed --data "$DATA" --rate "$RATE" &
FEED=$!
$BIN/riskops stream work --duckdb runs/stream.duckdb --csv runs/stream-results.csv
