#!/usr/bin/env bash
# Re-run the capture: a private redis-server and capture server on free ports,
# then the workload. Output (raw OTLP bodies, index.jsonl, truth.json) in ./out.
set -euo pipefail
cd "$(dirname "$0")"
[ -d node_modules ] || npm install --no-audit --no-fund
rm -rf out && mkdir -p out
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >out/redis.log 2>&1 &
redis_pid=$!
OUT_DIR=out node capture-server.js >out/capture-port &
capture_pid=$!
trap 'kill $redis_pid $capture_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s out/capture-port ] && redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
REDIS_PORT=$port OTLP_ENDPOINT="http://127.0.0.1:$(cat out/capture-port)/v1/traces" node workload.js >out/truth.json
sleep 1
rm -f out/capture-port out/redis.log
