#!/usr/bin/env bash
# Load harness: real `tally serve` processes on loopback, driven by a separate load process (bench/load/Tally.Load),
# side by side with a bare Kestrel endpoint (bench/load/Tally.Bare) in the same run. One command:
#
#   bash bench/load/run.sh            # about 3 minutes; RUN_SECONDS=20 bash bench/load/run.sh for longer runs
#
# Prints a Markdown table (also saved to $OUT, default /tmp/tally-load-results.md). Needs the .NET SDK and the
# PostgreSQL server binaries (scripts/install-deps installs them); starts and removes its own throwaway cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

RUN_SECONDS=${RUN_SECONDS:-10}
WARMUP=${WARMUP:-8} # tiered JIT and PGO settle in about 10 s of load
PORT=${LOAD_PORT:-18480}
OUT=${OUT:-/tmp/tally-load-results.md}
# shellcheck source=bench/load/servers.sh
source bench/load/servers.sh bench/load/Tally.Bare

ingest_key=""
setup_tenant() { ingest_key=$("${load[@]}" setup --url "$url" --admin-key "$admin_key" --license "$work/license.key"); }

common=(--seconds "$RUN_SECONDS" --warmup "$WARMUP")
set +e # a run with errors is reported in its row; the others still run
# Not a pipeline: the servers must be started by this shell so the exit trap can stop them.
exec > >(tee "$OUT")
echo "## Tally load run $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, ${RUN_SECONDS}s per run after ${WARMUP}s warm-up"
echo
"${load[@]}" header

bare_run() {
  start_server bare
  "${load[@]}" access --url "$url" --pid "$server_pid" --connections 64 --label "bare Kestrel constant, 64 conn" "${common[@]}"
  stop_server
}
# The bare endpoint before and after the access runs: their mean is the yardstick, their spread the noise.
bare_run

for store in sqlite postgres; do
  start_server "$store"; setup_tenant
  "${load[@]}" access --url "$url" --key "$ingest_key" --pid "$server_pid" --connections 64 --label "access $store, 64 conn" "${common[@]}"
  stop_server
done
bare_run

for store in sqlite postgres; do
  start_server "$store"; setup_tenant
  "${load[@]}" ingest --url "$url" --key "$ingest_key" --pid "$server_pid" --connections 16 --batch 1000 --label "ingest $store, 1000/batch, 16 conn" "${common[@]}"
  stop_server
done

start_server sqlite; setup_tenant
"${load[@]}" keys --url "$url" --key "$ingest_key" --pid "$server_pid" --count 100000 --label "memory sqlite"
stop_server

# Many tenants, few threads: TENANTS tenants (default 10,000) with one event each, then access decisions for 1 % of
# them while the rest sleep (they are put to sleep after 20 s idle here; 30 min by default).
start_server sqlite --Tally:SleepIdleTenantsAfter=00:00:20
"${load[@]}" tenants --url "$url" --admin-key "$admin_key" --pid "$server_pid" --count "${TENANTS:-10000}" --asleep-after 30 \
  --label "many tenants sqlite" "${common[@]}"
stop_server

echo
# Ratios of requests/s against the mean of the two bare runs (column 3 of the table).
awk -F'|' '
  /^\| bare/ { gsub(/[ ,]/, "", $3); bare += $3; n++ }
  /^\| access/ { gsub(/[ ,]/, "", $3); name[++a] = $2; rps[a] = $3 }
  END { if (n) for (i = 1; i <= a; i++) printf "ratio %s/ bare Kestrel: %.0f%%\n", name[i], 100 * rps[i] / (bare / n) }' "$OUT"
