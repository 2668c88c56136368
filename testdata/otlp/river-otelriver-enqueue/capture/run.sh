#!/usr/bin/env bash
# Re-run the capture: a private PostgreSQL (initdb into a temporary directory,
# run as the postgres user when root) and the capture server on free ports,
# then the workload. Output (raw OTLP bodies, index.jsonl, truth.json) in ./out.
# Needs go, node (the capture server), python3 and PostgreSQL's server binaries.
set -euo pipefail
cd "$(dirname "$0")"
rm -rf out && mkdir -p out
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
bin=$(dirname "$(command -v initdb || ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
pgdir=$(mktemp -d) && port=$(free_port)
as_pg=()
if [ "$(id -u)" = 0 ]; then chown postgres "$pgdir"; as_pg=(runuser -u postgres --); fi
"${as_pg[@]}" "$bin/initdb" -D "$pgdir/data" -U postgres --auth=trust --no-locale --no-sync >/dev/null
"${as_pg[@]}" "$bin/postgres" -D "$pgdir/data" -p "$port" -c listen_addresses=127.0.0.1 \
  -c unix_socket_directories="$pgdir" -c fsync=off >"$pgdir/log" 2>&1 &
pg_pid=$!
OUT_DIR=out node capture-server.js >out/capture-port &
capture_pid=$!
trap 'kill $pg_pid $capture_pid 2>/dev/null || true; sleep 1; rm -rf "$pgdir"' EXIT
listening() { python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$1" 2>/dev/null; }
for _ in $(seq 100); do [ -s out/capture-port ] && listening "$port" && break; sleep 0.1; done
DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres" \
  OTLP_ENDPOINT="http://127.0.0.1:$(cat out/capture-port)/v1/traces" go run . >out/truth.json
sleep 1
rm -f out/capture-port
