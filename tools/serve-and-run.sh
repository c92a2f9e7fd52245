#!/usr/bin/env bash
# Starts `ringlab-iiod --port 0 $1` (the twin behind its iiod server), runs the rest of the
# command line with --port PORT --pid PID appended, stops the server, and exits with the
# command's status.
set -euo pipefail
cd "$(dirname "$0")/.."
server_args=$1
shift
log=$(mktemp)
# shellcheck disable=SC2086
.build/release/ringlab-iiod --port 0 $server_args > "$log" 2> /dev/null &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q listening "$log" && break; sleep 0.1; done
port=$(sed -n 's/.*ip:127.0.0.1:\([0-9]*\).*/\1/p' "$log" | head -1)
[ -n "$port" ] || { echo "serve-and-run: the server did not start" >&2; exit 1; }
"$@" --port "$port" --pid "$pid"
