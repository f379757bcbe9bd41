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
work=$(mktemp -d /tmp/tally-load-XXXXXX)
chmod 711 "$work" # the postgres user must reach its cluster folder inside
pids=()
pgbin=""
pgdata="$work/pg/data"

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -n "$pgbin" ] && [ -f "$pgdata/postmaster.pid" ]; then as_pg "$pgbin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

echo "building (Release)..." >&2
for project in src/Tally.Cli bench/load/Tally.Load bench/load/Tally.Bare; do
  dotnet build "$project" -c Release --nologo -v quiet >/dev/null
done
tally=(dotnet src/Tally.Cli/bin/Release/net10.0/tally.dll)
load=(dotnet bench/load/Tally.Load/bin/Release/net10.0/Tally.Load.dll)
bare=(dotnet bench/load/Tally.Bare/bin/Release/net10.0/Tally.Bare.dll)

# A vendor key and a license with room for every unit the runs grant (overage unlimited: nothing is ever denied).
"${tally[@]}" license keygen --out "$work/keys" >/dev/null
"${tally[@]}" license issue --signing-key "$work/keys/signing-key.pem" --customer "Load test" --packs 1000 --pack-minutes 100000 \
  --overage unlimited --out "$work/license.key" >/dev/null

# Throwaway PostgreSQL cluster, durable settings (fsync and synchronous_commit on, the defaults).
if command -v initdb >/dev/null 2>&1; then pgbin=$(dirname "$(readlink -f "$(command -v initdb)")"); else pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); fi
mkdir -p "$work/pg"
[ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$work/pg"
pgport=$((PORT + 50))
as_pg "$pgbin/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
as_pg "$pgbin/pg_ctl" -D "$pgdata" -l "$work/pg/server.log" -w \
  -o "-p $pgport -c listen_addresses=127.0.0.1 -k $work/pg -c shared_buffers=512MB -c max_wal_size=4GB -c wal_buffers=64MB -c checkpoint_timeout=15min" start >/dev/null
new_database() { # one fresh database per server, named after its port
  as_pg "$pgbin/createdb" -h 127.0.0.1 -p "$pgport" -U postgres "tally_load_$PORT"
  echo "Host=127.0.0.1;Port=$pgport;Username=postgres;Database=tally_load_$PORT;Maximum Pool Size=50"
}

admin_key="load-test-bootstrap-key-0123456789"
server_pid=""
url=""
start_server() { # kind: bare | sqlite | postgres, then extra server options
  PORT=$((PORT + 1))
  while ss -ltn | grep -q "127.0.0.1:$PORT "; do PORT=$((PORT + 1)); done
  url="http://127.0.0.1:$PORT"
  case "$1" in
    bare) "${bare[@]}" --urls "$url" --Logging:LogLevel:Default=Warning >"$work/server-$PORT.log" 2>&1 & ;;
    sqlite) TALLY_ADMIN_KEY=$admin_key "${tally[@]}" serve --data "$work/data-$PORT" --public-key "$work/keys/public-key.pem" \
              --urls "$url" --Logging:LogLevel:Default=Warning "${@:2}" >"$work/server-$PORT.log" 2>&1 & ;;
    postgres) TALLY_ADMIN_KEY=$admin_key "${tally[@]}" serve --database "$(new_database)" --public-key "$work/keys/public-key.pem" \
              --urls "$url" --Logging:LogLevel:Default=Warning >"$work/server-$PORT.log" 2>&1 & ;;
  esac
  server_pid=$!
  pids+=("$server_pid")
  for _ in $(seq 1 300); do
    if curl -fs "$url/health/ready" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "server $1 did not start:" >&2; cat "$work/server-$PORT.log" >&2; exit 1
}
stop_server() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; }
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
