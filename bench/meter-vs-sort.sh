#!/usr/bin/env bash
# Compares `tally meter` with GNU sort on the same generated month (2,000,000 events by default).
# Both read the whole file; sort only orders it, tally parses, validates, meters and reports it. Runs on the file
# as generated (in time order) and on a shuffled copy.
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

# Runs both commands RUNS times, alternating so that background load hits both alike, after one untimed pass each
# so that neither pays for a cold page cache; prints the medians and the ratio for the file in $FILE.
compare() {
  local label="$1" sort_times=() meter_times=() i
  sort_file > /dev/null
  meter_file > /dev/null
  for ((i = 1; i <= RUNS; i++)); do
    sort_times+=("$(seconds sort_file)")
    meter_times+=("$(seconds meter_file)")
    echo "$label run $i: sort ${sort_times[-1]} s, meter ${meter_times[-1]} s" >&2
  done
  local sort_median meter_median ratio
  sort_median=$(median "${sort_times[@]}")
  meter_median=$(median "${meter_times[@]}")
  ratio=$(echo "$meter_median / $sort_median" | bc -l)
  printf '%-9s sort median %s s, meter median %s s of %d runs; ratio meter/sort = %.2f (target <= 1.00)\n' \
    "$label:" "$sort_median" "$meter_median" "$RUNS" "$ratio"
}

echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores; $(date -u +%Y-%m-%dT%H:%M:%SZ); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "events:  $EVENTS ($(du -h "$FILE" | cut -f1) CSV); sort is LC_ALL=C sort -t, -k1,1, meter is tally meter --format json"
compare ordered

# The same lines in a random (but repeatable) order: sort's worst case rather than its best, and for tally a sort
# instead of a check.
SHUFFLED="$WORK/shuffled.csv"
{ head -n 1 "$FILE"; tail -n +2 "$FILE" | shuf --random-source=<(yes); } > "$SHUFFLED"
FILE="$SHUFFLED"
compare shuffled
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
