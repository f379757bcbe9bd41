#!/usr/bin/env bash
# Compares `tally meter` with GNU sort on the same generated month (2,000,000 events by default).
# Both read the whole file; sort only orders it, tally parses, validates, meters and reports it.
# Usage: bench/meter-vs-sort.sh [EVENTS] [RUNS]     (defaults 2000000 and 3)
set -euo pipefail

EVENTS="${1:-2000000}"
RUNS="${2:-3}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TALLY="$ROOT/src/Tally.Cli/bin/Release/net10.0/tally"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tally-meter-vs-sort.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
FILE="$WORK/events.csv"

echo "building tally (Release)…" >&2
dotnet build -c Release "$ROOT/src/Tally.Cli" -v quiet -nologo >&2

echo "generating $EVENTS events…" >&2
"$TALLY" generate --events "$EVENTS" --out "$FILE"
echo "file: $(du -h "$FILE" | cut -f1), $(( $(wc -l < "$FILE") - 1 )) events" >&2

# Wall-clock seconds of one run of the given command, output discarded.
seconds() {
  local start end
  start=$(date +%s.%N)
  "$@" > /dev/null
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f\n", m }'; }

sort_file() { LC_ALL=C sort -t, -k1,1 "$FILE"; }
meter_file() { "$TALLY" meter "$FILE" --format json; }

# One untimed pass each so that neither pays for a cold page cache.
sort_file > /dev/null
meter_file > /dev/null

sort_times=()
meter_times=()
for ((i = 1; i <= RUNS; i++)); do
  # Alternate so that background load hits both alike.
  sort_times+=("$(seconds sort_file)")
  meter_times+=("$(seconds meter_file)")
  echo "run $i: sort ${sort_times[-1]} s, meter ${meter_times[-1]} s" >&2
done

sort_median=$(median "${sort_times[@]}")
meter_median=$(median "${meter_times[@]}")
ratio=$(echo "$meter_median / $sort_median" | bc -l)

echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores; $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "events:  $EVENTS ($(du -h "$FILE" | cut -f1) CSV)"
printf 'sort:    median %s s of %d runs (LC_ALL=C sort -t, -k1,1)\n' "$sort_median" "$RUNS"
printf 'meter:   median %s s of %d runs (tally meter --format json)\n' "$meter_median" "$RUNS"
printf 'ratio:   meter/sort = %.2f (target <= 1.00)\n' "$ratio"
