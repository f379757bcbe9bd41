# Shared by bench/load/run.sh and bench/load/import.sh, sourced (not run) after `cd` to the repository and PORT set:
# a work folder removed on exit with every server started here, the Release build of tally, Tally.Load and the projects
# named as arguments, a vendor key and license, a throwaway PostgreSQL cluster, and start_server / stop_server.
# WORK_NAME names the work folder under /tmp.
work=$(mktemp -d "/tmp/${WORK_NAME:-tally-load}-XXXXXX")
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
for project in src/Tally.Cli bench/load/Tally.Load "$@"; do
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
              --urls "$url" --Logging:LogLevel:Default=Warning "${@:2}" >"$work/server-$PORT.log" 2>&1 & ;;
  esac
  server_pid=$!
  pids+=("$server_pid")
  for _ in $(seq 1 300); do
    if curl -fs "$url/health/ready" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "server $1 did not start:" >&2; cat "$work/server-$PORT.log" >&2; exit 1
}
stop_server() { kill "${1:-$server_pid}"; wait "${1:-$server_pid}" 2>/dev/null || true; } # pid: the last started by default
