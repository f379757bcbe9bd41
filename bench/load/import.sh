#!/usr/bin/env bash
# A whole import over HTTP (R13): one real `tally serve` plays the Qlik Cloud tenant (tenant "load" with UNITS units,
# default 100,000), a second one observes it through a qlik-cloud source and pulls everything once. Each run, in turn:
# a plain walk of the source's consumption pages (the baseline: what the source's paging costs alone), the same walk
# with the filter and sort a pull asks for, then a pull into a fresh SQLite observer and into a fresh PostgreSQL one.
#
#   bash bench/load/import.sh         # RUNS=3 UNITS=100000 by default; about 5 minutes on 2 cores
#
# Prints a Markdown table (also saved to $OUT, default /tmp/tally-import-results.md) and the median of each row kind.
# Needs the .NET SDK and the PostgreSQL server binaries; starts and removes its own throwaway cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

UNITS=${UNITS:-100000}
RUNS=${RUNS:-3}
PORT=${LOAD_PORT:-18680}
OUT=${OUT:-/tmp/tally-import-results.md}
WORK_NAME=tally-import
# shellcheck source=bench/load/servers.sh
source bench/load/servers.sh

# The source: one unit for each of UNITS new users (bench/load's keys drive), read with a read key as Qlik's API is.
start_server sqlite
source_url=$url
source_pid=$server_pid
ingest_key=$("${load[@]}" setup --url "$source_url" --admin-key "$admin_key" --license "$work/license.key")
"${load[@]}" keys --url "$source_url" --key "$ingest_key" --count "$UNITS" --label "source fill" >/dev/null
read_key=$("${load[@]}" read-key --url "$source_url" --admin-key "$admin_key")
# The pull reads from 62 days back (Tally:Import:FirstPull) in order of end time; the sorted walk asks the same.
since=$(date -u -d '-62 days' +%Y-%m-%dT%H:%M:%S.000Z)
as_pull_asks="filter=endTime%20ge%20%22$since%22&sort=%2BendTime"

exec > >(tee "$OUT")
echo "## Tally import run $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $UNITS units, $RUNS runs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| run | records | seconds | records/s | note |"
echo "|---|---:|---:|---:|---|"
for run in $(seq 1 "$RUNS"); do
  "${load[@]}" walk --url "$source_url" --key "$read_key" --label "walk plain"
  "${load[@]}" walk --url "$source_url" --key "$read_key" --query "$as_pull_asks" --label "walk as the pull asks"
  for store in sqlite postgres; do
    start_server "$store" --Tally:Import:AllowPrivateTargets=true
    "${load[@]}" pull --url "$url" --admin-key "$admin_key" --source-url "$source_url" --source-key "$read_key" --label "pull into $store"
    stop_server
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
stop_server "$source_pid"

echo
# Medians of each row kind, and each pull's time against the sorted walk's (the source's share of a pull).
awk -F'|' '
  /^\| (walk|pull)/ { name = $2; gsub(/^ +| +$/, "", name); s = $4; gsub(/ /, "", s); t[name] = t[name] " " s; n[name]++ }
  function median(list,   a, k, i, j, x) {
    k = split(list, a, " ")
    for (i = 2; i <= k; i++) { x = a[i]; for (j = i - 1; j > 0 && a[j] + 0 > x + 0; j--) a[j + 1] = a[j]; a[j + 1] = x }
    return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
  }
  END {
    for (name in t) m[name] = median(t[name])
    for (name in t) printf "median %s: %.2f s (%d runs)\n", name, m[name], n[name]
    for (name in t) if (name ~ /^pull/ && m["walk as the pull asks"] > 0)
      printf "%s / walk as the pull asks: %.1fx the time\n", name, m[name] / m["walk as the pull asks"]
  }' "$OUT"
