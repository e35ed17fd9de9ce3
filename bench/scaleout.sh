#!/usr/bin/env bash
# bench/scaleout.sh: one node against two, on one PostgreSQL, in the same run:
#   one:   one godwit serve --role all (accepts and delivers),
#   split: one --role api node (accepts) and one --role worker node
#          (delivers), sharing the database and the secret key.
# For each topology, on a fresh schema, on loopback:
#   delivery: bench/deliver sends COUNT emails with CLIENTS clients through
#             the (API) node and waits until bench/sink has them all (the
#             nodes relay to the sink): accepted → delivered per second;
#   accept:   bench/load sends for DURATION with LOAD_CLIENTS clients to the
#             test address (delivery simulated, no network): accepted per
#             second, latency, and the accepting node's CPU per email.
# The topologies run one after another, never at the same time. On a small
# machine every process shares the same cores, so what this shows is the
# cost of splitting (an extra process, the nodes' coordination through the
# database), not scaling.
#
# Environment:
#   COUNT          emails of the delivery run (default 10000)
#   CLIENTS        HTTP clients of the delivery run (default 16)
#   DURATION       measured duration of the accept run (default 10s)
#   WARMUP         warmup of the accept run, not counted (default 1s)
#   LOAD_CLIENTS   HTTP clients of the accept run (default 16)
#   SIZE           approximate HTML size in bytes (default 10240)
#   TOPOLOGIES     what to measure (default "one split")
#   REDIS_URL      if set, every node counts the rate limits there (--redis-url);
#                  otherwise in the database (the default on PostgreSQL)
#   GODWIT_ARGS    extra flags for every godwit serve (e.g. "--workers 200 --max-per-host 40")
#   GODWIT_BENCH_POSTGRES_URL
#                  default postgres://root@127.0.0.1:5432/test?sslmode=disable&search_path=godwit_scaleout_bench
#                  (the schema is created with psql and dropped after each topology, as in run.sh)
#   HEALTH_TIMEOUT seconds to wait for GET /healthz (default 60)
#   GODWIT_BIN     optional path to a prebuilt godwit binary (skips the build)
#
# Only ever targets 127.0.0.1. Every process it starts is stopped on exit.
set -euo pipefail

me=scaleout.sh
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

COUNT=${COUNT:-10000}
CLIENTS=${CLIENTS:-16}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-1s}
LOAD_CLIENTS=${LOAD_CLIENTS:-16}
SIZE=${SIZE:-10240}
TOPOLOGIES=${TOPOLOGIES:-"one split"}
REDIS_URL=${REDIS_URL:-}
GODWIT_ARGS=${GODWIT_ARGS:-}
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-60}
PG_URL=${GODWIT_BENCH_POSTGRES_URL:-"postgres://root@127.0.0.1:5432/test?sslmode=disable&search_path=godwit_scaleout_bench"}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

command -v curl >/dev/null || { echo "scaleout.sh: curl is required" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/godwit-scaleout.XXXXXX")
pids=()          # processes started by this script and not yet stopped
pg_schema=""     # schema created by this script (dropped after each topology and on exit)
psql_url=""
failures=0
summary="$tmp/summary.txt"
: >"$summary"
# The nodes of a topology share the secret key that seals the database's secrets.
secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')

trap_cleanup

# serve NAME ROLE: start a node of the topology in the background; sets
# node_pid and node_url.
serve() {
	local name=$1 role=$2 port
	port=$(free_port) || return 1
	node_url="http://127.0.0.1:$port"
	local -a extra=()
	[[ -n $REDIS_URL ]] && extra+=(--redis-url "$REDIS_URL")
	# shellcheck disable=SC2206 # GODWIT_ARGS is a list of flags
	extra+=($GODWIT_ARGS)
	"$godwit" serve --role "$role" --database-url "$PG_URL" --data-dir "$tmp/$name" --secret-key "$secret" \
		--http-addr "127.0.0.1:$port" --rate-limit 1000000 \
		--delivery relay --relay-url "smtp://127.0.0.1:$smtp_port" \
		--dns-resolver "127.0.0.1:$dns_port" --mx-host bounce.bench.test \
		"${extra[@]+"${extra[@]}"}" >"$tmp/$name.log" 2>&1 &
	node_pid=$!
	pids+=("$node_pid")
	echo "=== $name (--role $role) on $node_url, relaying to 127.0.0.1:$smtp_port"
}

# accept LABEL URL PID: the accept run, recorded in the summary.
accept() {
	local label=$1 url=$2 pid=$3 out="$tmp/load.out"
	echo "--- $label"
	if run_wait "$tmp/load" -url "$url" -pid "$pid" -clients "$LOAD_CLIENTS" -duration "$DURATION" \
		-warmup "$WARMUP" -size "$SIZE" >"$out" 2>&1; then
		cat "$out"
	else
		cat "$out"
		echo "!!! $label failed"
		failures=$((failures + 1))
	fi
	printf '%s\n    %s\n' "$label" "$(grep -m1 '^accepted/s=' "$out" || echo FAILED)" >>"$summary"
}

# run_topology one|split
run_topology() {
	local topo=$1 api_pid api_url key
	local -a watch
	setup_pg_schema || return 1
	case $topo in
	one)
		serve one all || return 1
		api_pid=$node_pid api_url=$node_url
		key=$(godwit_ready "$api_pid" "$api_url" "$tmp/one.log" one --database-url "$PG_URL" --data-dir "$tmp/one") || return 1
		watch=(-watch "godwit=$api_pid")
		;;
	split)
		serve api api || return 1
		api_pid=$node_pid api_url=$node_url
		key=$(godwit_ready "$api_pid" "$api_url" "$tmp/api.log" api --database-url "$PG_URL" --data-dir "$tmp/api") || return 1
		serve worker worker || return 1
		if ! wait_healthz "$node_url" "$node_pid"; then
			tail -n 30 "$tmp/worker.log" >&2
			return 1
		fi
		watch=(-watch "api=$api_pid" -watch "worker=$node_pid")
		;;
	*)
		echo "scaleout.sh: unknown topology '$topo'" >&2
		return 1
		;;
	esac
	watch+=(-watch "sink=$sink_pid" -watch "postgres=comm:postgres")
	export GODWIT_BENCH_KEY=$key
	if ! run_wait "$tmp/deliver" -mode setup -url "$api_url" -sink "$sink_url"; then
		tail -n 30 "$tmp/$([[ $topo == one ]] && echo one || echo api).log" >&2
		return 1
	fi
	deliver "$topo delivery c$CLIENTS" -mode api -url "$api_url" -count "$COUNT" -clients "$CLIENTS" "${watch[@]}" || true
	accept "$topo accept c$LOAD_CLIENTS" "$api_url" "$api_pid"
	unset GODWIT_BENCH_KEY
	local pid
	for pid in "${pids[@]+"${pids[@]}"}"; do
		[[ $pid == "$sink_pid" ]] || stop_pid "$pid"
	done
	drop_pg_schema
}

echo "### godwit scale-out bench: $(date -u +%FT%TZ) $(nproc) cpus, load average $(cut -d' ' -f1-3 /proc/loadavg), $(go version | cut -d' ' -f3-), count=$COUNT clients=$CLIENTS duration=$DURATION load_clients=$LOAD_CLIENTS size=$SIZE rate_limiter=$([[ -n $REDIS_URL ]] && echo redis || echo database)"

build_tools sink deliver load

start_sink || exit 1

for topo in $TOPOLOGIES; do
	run_topology "$topo" || failures=$((failures + 1))
done

echo
echo "### summary (load average $(cut -d' ' -f1-3 /proc/loadavg))"
cat "$summary"
if ((failures > 0)); then
	echo "### $failures step(s) failed"
	exit 1
fi
