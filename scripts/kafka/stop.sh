#!/usr/bin/env bash
# Stops the broker start.sh started (same environment: RAFTBUS_KAFKA_PORT or
# RAFTBUS_KAFKA_DIR). Its data stays, so start.sh brings back the same broker
# with its topics; `stop.sh --clean` removes the data as well.
set -euo pipefail

port=${RAFTBUS_KAFKA_PORT:-9092}
dir=${RAFTBUS_KAFKA_DIR:-${TMPDIR:-/tmp}/raftbus-kafka-$port}
log() { echo "kafka/stop.sh: $*" >&2; }

if [ -f "$dir/kafka.pid" ]; then
  pid=$(cat "$dir/kafka.pid")
  # Only a broker: after a reboot the pid may belong to anything.
  if ps -p "$pid" -o args= 2>/dev/null | grep -q 'kafka\.Kafka'; then
    kill -TERM "$pid"
    # A clean shutdown takes a few seconds; past 30 s it is stuck.
    for _ in $(seq 1 60); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "pid $pid ignored SIGTERM for 30 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "stopped (pid $pid)"
  else
    log "not running (stale pid $pid)"
  fi
  rm -f "$dir/kafka.pid"
else
  log "not running (no $dir/kafka.pid)"
fi

if [ "${1:-}" = "--clean" ]; then
  rm -rf "$dir"
  log "removed $dir"
fi
