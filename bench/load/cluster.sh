#!/usr/bin/env bash
# Cluster load run (docs/scaling.md "Numbers"): real `tally serve` processes on one throwaway PostgreSQL, driven by
# bench/load/Tally.Load with TENANTS tenants (default 12), requests round robin over the tenants and the fronts:
#
#   bash bench/load/cluster.sh        # about 7 minutes here with the build; RUN_SECONDS, WARMUP, TENANTS, ROUNDS
#
# 1. Throughput and latency of `access` (single decisions, 64 connections) and `ingest` (batches of 1,000, 16
#    connections), in this order so the noise shows: a plain `tally serve --database` (no cluster, the baseline), a
#    1-node cluster, a 3-node cluster with the connections spread over its 3 fronts, the plain server again; then
#    each run's requests/s as a ratio of the two baseline runs' mean.
# 2. Failover on the 3-node cluster: steady access for every tenant through the two other fronts, SIGKILL of the node
#    owning the most tenants, the time until each of its tenants answers 2xx again (ROUNDS rounds, default 3, the
#    killed node restarted in between); then one SIGSTOP round (a hung node, connections open) and SIGCONT.
# The nodes talk over mutual TLS with a certificate from `tally cluster-cert`, as a real cluster must (TLS=0 leaves it
# out, which only a loopback cluster may). NODE_ARGS (default empty) is appended to every cluster node's command line.
# Everything shares this machine's cores: with 3 nodes on one machine the figures show the cost of the extra hop,
# not the gain of three machines. Prints Markdown (also saved to $OUT, default /tmp/tally-cluster-results.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

RUN_SECONDS=${RUN_SECONDS:-10}
WARMUP=${WARMUP:-8}
TENANTS=${TENANTS:-12}
ROUNDS=${ROUNDS:-3}
NODE_ARGS=${NODE_ARGS:-}
TLS=${TLS:-1}
PORT=${LOAD_PORT:-18580}
OUT=${OUT:-/tmp/tally-cluster-results.md}
WORK_NAME=tally-cluster
# shellcheck source=bench/load/servers.sh
source bench/load/servers.sh
trap "exit 1" INT TERM # the exit trap (servers.sh) then stops every node and the database

free_port() { # the first port from $1 up that nobody listens on
  local p=$1
  while ss -ltn | grep -q "127.0.0.1:$p "; do p=$((p + 1)); done
  echo "$p"
}

# The cluster's nodes: node i keeps its HTTP and silo ports (and data folder) across restarts.
cluster_db=""
tls_args=()
if [ "$TLS" = 1 ]; then
  "${tally[@]}" cluster-cert --out "$work/cluster-cert" >/dev/null
  tls_args=(--cluster-cert "$work/cluster-cert/cluster.crt" --cluster-key "$work/cluster-cert/cluster.key")
fi
node_url=() node_silo=() node_pid=()
next_port=$((PORT + 100))
start_node() { # index
  local i=$1
  if [ -z "${node_url[$i]:-}" ]; then
    local http silo
    http=$(free_port "$next_port"); silo=$(free_port $((http + 1))); next_port=$((silo + 1))
    node_url[i]="http://127.0.0.1:$http"; node_silo[i]=$silo
  fi
  mkdir -p "$work/node$i"
  # shellcheck disable=SC2086 # NODE_ARGS is a list of options
  TALLY_ADMIN_KEY=$admin_key "${tally[@]}" serve --cluster --database "$cluster_db" --urls "${node_url[$i]}" \
    --data "$work/node$i" --silo-port "${node_silo[$i]}" --advertise 127.0.0.1 --public-key "$work/keys/public-key.pem" "${tls_args[@]}" \
    --Tally:SecretsKeyFile="$work/secrets.key" --Tally:AllowSharedLicenses=true --Logging:LogLevel:Default=Warning $NODE_ARGS >>"$work/node$i.log" 2>&1 &
  node_pid[i]=$!
  pids+=("$!")
}
wait_ready() { # index: its /health/ready answers 200 (the node is an active member)
  for _ in $(seq 1 600); do
    if curl -fs "${node_url[$1]}/health/ready" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "${node_pid[$1]}" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "node $1 did not start:" >&2; tail -50 "$work/node$1.log" >&2; exit 1
}
wait_members() { # count: every running node sees that many active members
  local i
  for i in "${!node_pid[@]}"; do
    [ -n "${node_pid[$i]}" ] || continue
    for _ in $(seq 1 600); do
      [ "$(curl -fs "${node_url[$i]}/health/live" 2>/dev/null | jq '[.cluster.members[]? | select(.status == "active")] | length')" = "$1" ] && break
      sleep 0.1
    done
  done
}
start_cluster() { # nodes: a fresh database, node 0 first (it creates the schema), then the others together
  cluster_db_name="tally_cluster_$RANDOM$RANDOM"
  as_pg "$pgbin/createdb" -h 127.0.0.1 -p "$pgport" -U postgres "$cluster_db_name"
  cluster_db="Host=127.0.0.1;Port=$pgport;Username=postgres;Database=$cluster_db_name;Maximum Pool Size=50"
  node_url=() node_silo=() node_pid=()
  start_node 0; wait_ready 0
  local i
  for ((i = 1; i < $1; i++)); do start_node "$i"; done
  for ((i = 1; i < $1; i++)); do wait_ready "$i"; done
  wait_members "$1"
}
stop_cluster() {
  local pid
  for pid in "${node_pid[@]}"; do kill -CONT "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  node_pid=()
}
fronts() { local IFS=,; echo "${node_url[*]}"; } # every node's URL, comma-separated

common=(--seconds "$RUN_SECONDS" --warmup "$WARMUP")
measure() { # label, fronts, pid for the memory columns: TENANTS tenants, then access and ingest spread over the fronts
  local keys="$work/keys-$RANDOM.txt"
  "${load[@]}" setup --url "$2" --admin-key "$admin_key" --license "$work/license.key" --tenants "$TENANTS" >"$keys"
  "${load[@]}" access --url "$2" --keys-file "$keys" --pid "$3" --connections 64 --label "access $1, $TENANTS tenants, 64 conn" "${common[@]}"
  "${load[@]}" ingest --url "$2" --keys-file "$keys" --pid "$3" --connections 16 --batch 1000 --label "ingest $1, $TENANTS tenants, 1000/batch, 16 conn" "${common[@]}"
  last_keys=$keys
}
load_average() { cut -d' ' -f1-3 /proc/loadavg; }

set +e # a run with errors is reported in its row; the others still run
exec > >(tee "$OUT")
echo "## Tally cluster load run $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, ${RUN_SECONDS}s per run after ${WARMUP}s warm-up"
echo
echo "load average before: $(load_average); TLS between the nodes: $([ "$TLS" = 1 ] && echo on || echo off); NODE_ARGS: '${NODE_ARGS}'"
echo
"${load[@]}" header

start_server postgres --Tally:AllowSharedLicenses=true
measure "plain (no cluster)" "$url" "$server_pid"
stop_server

start_cluster 1
measure "1-node cluster" "$(fronts)" "${node_pid[0]}"
stop_cluster

start_cluster 3
measure "3-node cluster, 3 fronts" "$(fronts)" "${node_pid[0]}"

echo
echo "load average after the 3-node runs: $(load_average)"
echo
# Failover on the same cluster (its tenants are active and owned after the runs above).
owned_by() { # pid: the tenants whose ledger claim that process holds (owner is "host:pid"), as line numbers load-i
  psql -At -h 127.0.0.1 -p "$pgport" -U postgres -d "$cluster_db_name" \
    -c "SELECT substr(tenant, 6) FROM tenant_owners WHERE owner LIKE '%:$1' AND tenant LIKE 'load-%' ORDER BY 1;" | paste -sd, -
}
failover_round() { # signal, label
  local i best=-1 best_count=0 victims="" others=() count owned
  for i in "${!node_pid[@]}"; do
    owned=$(owned_by "${node_pid[$i]}")
    count=$(echo "$owned" | tr ',' '\n' | grep -c . || true)
    if [ "$count" -gt "$best_count" ]; then best=$i; best_count=$count; victims=$owned; fi
  done
  if [ "$best" -lt 0 ]; then echo "| $2 | no node owns a tenant | | | | |"; return; fi
  for i in "${!node_url[@]}"; do [ "$i" = "$best" ] || others+=("${node_url[$i]}"); done
  local IFS=,
  "${load[@]}" failover --url "${others[*]}" --keys-file "$last_keys" --victims "$victims" --pid "${node_pid[$best]}" \
    --signal "$1" --label "$2 (node $best)"
  unset IFS
  victim=$best
}
"${load[@]}" failover-header
victim=-1
for round in $(seq 1 "$ROUNDS"); do
  failover_round KILL "SIGKILL round $round"
  if [ "$victim" -ge 0 ]; then
    wait "${node_pid[$victim]}" 2>/dev/null
    sleep 1 # the killed node's ports free again
    start_node "$victim"; wait_ready "$victim"; wait_members 3
    sleep 2
  fi
done
victim=-1
probe_timeout=$(grep -oE 'ProbeTimeout=[^ ]+' <<<"$NODE_ARGS" | cut -d= -f2 || true)
failover_round STOP "SIGSTOP round (ProbeTimeout ${probe_timeout:-2 s, the default})"
if [ "$victim" -ge 0 ]; then
  kill -CONT "${node_pid[$victim]}"
  sleep 10
  if kill -0 "${node_pid[$victim]}" 2>/dev/null; then state="still running"; else state="exited"; fi
  echo
  echo "after SIGCONT the frozen node (node $victim) is $state 10 s later; it reports: $(curl -s -m 5 "${node_url[$victim]}/health/live" | jq -c '.cluster | {status, owned: .tenantsOwned}' 2>/dev/null)"
fi
stop_cluster

echo
"${load[@]}" header
start_server postgres --Tally:AllowSharedLicenses=true
measure "plain (no cluster), again" "$url" "$server_pid"
stop_server

echo
echo "load average after: $(load_average)"
echo
# Ratios of events/s (column 4: for access the same as requests/s, for ingest not rounded to whole batches) to the
# mean of the two plain runs, for access and ingest separately.
awk -F'|' '
  /^\| (access|ingest) / { split($2, w, " "); kind = w[1]; gsub(/[ ,]/, "", $4)
    if ($2 ~ /plain/) { base[kind] += $4; n[kind]++ } else { name[++a] = $2; gsub(/^ +| +$/, "", name[a]); k[a] = kind; rate[a] = $4 } }
  END { for (i = 1; i <= a; i++) if (n[k[i]]) printf "ratio (events/s) %s / plain mean: %.0f%%\n", name[i], 100 * rate[i] / (base[k[i]] / n[k[i]]) }' "$OUT"
