#!/usr/bin/env bash
# Tally.Client against a real `tally serve` (SQLite), side by side with hand-written loops in the same run (issue 18):
#
#   bash bench/load/client.sh        # about 5 minutes; EVENTS=100000 NAIVE=5000 ROUNDS=5 OUTAGE_ROUNDS=3
#
# 1. Throughput: per round, alternating, the client (Track N, FlushAsync) at BatchSize 200 and 1000, a hand-written
#    sequential loop posting the same events in batches of the same size, and the naive loop (one POST per event).
# 2. Outage: the server is down; the client tracks N events into its local buffer; the server is started on the same
#    port (same data folder) and the drain until Status.Buffered == 0 is timed, then the hand-written loop runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
PORT=${LOAD_PORT:-18580}
EVENTS=${EVENTS:-100000}
NAIVE=${NAIVE:-5000}
ROUNDS=${ROUNDS:-5}
OUTAGE_ROUNDS=${OUTAGE_ROUNDS:-3}
OUT=${OUT:-/tmp/tally-client-results.md}
WORK_NAME=tally-client-load
# shellcheck source=bench/load/servers.sh
source bench/load/servers.sh

exec > >(tee "$OUT")
echo "## Tally.Client load run $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
start_server sqlite
key=$("${load[@]}" setup --url "$url" --admin-key "$admin_key" --license "$work/license.key")
"${load[@]}" client --url "$url" --key "$key" --events "$EVENTS" --naive-events "$NAIVE" --rounds "$ROUNDS" --buffer-dir "$work/buffers"
stop_server
echo

# The outage: one data folder and port, the server stopped before each round and started once the client has buffered.
start_server sqlite
key=$("${load[@]}" setup --url "$url" --admin-key "$admin_key" --license "$work/license.key")
stop_server
echo "| outage run | Track ns/call | buffered events/s (Track + FlushAsync) | drain events/s (server ready → empty) | drain events/s (first batch sent → empty) | hand-written events/s, same N | drain time / hand-written time | load process CPU-µs/event: buffering / drain / hand-written | notes |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
for round in $(seq 1 "$OUTAGE_ROUNDS"); do
  for batch in 200 1000; do
    rm -f "$work/ready"
    "${load[@]}" client-outage --url "$url" --key "$key" --events "$EVENTS" --batch "$batch" --buffer-dir "$work/buffers" --ready-file "$work/ready" &
    driver=$!
    while [ ! -f "$work/ready" ]; do
      if ! kill -0 "$driver" 2>/dev/null; then break; fi
      sleep 0.05
    done
    TALLY_ADMIN_KEY=$admin_key "${tally[@]}" serve --data "$work/data-$PORT" --public-key "$work/keys/public-key.pem" \
      --urls "$url" --Logging:LogLevel:Default=Warning >>"$work/server-$PORT.log" 2>&1 &
    server_pid=$!
    pids+=("$server_pid")
    wait "$driver" || echo "(round $round, batch $batch: the driver failed)" >&2
    stop_server
  done
done
