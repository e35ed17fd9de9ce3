#!/usr/bin/env bash
# bench/run.sh: build godwit and the bench tools, then measure, on loopback:
#   1. bench/bare (the ceiling: decode JSON, answer ids, nothing else),
#   2. godwit serve on SQLite,
#   3. godwit serve on PostgreSQL,
# each with: 16 clients single, 64 clients single, 16 clients batch of 100,
# and (Godwit only) 16 clients each sending over SMTP submission.
#
# Environment:
#   DURATION   measured duration of each load run (default 10s)
#   WARMUP     warmup of each load run, not counted (default 1s)
#   SIZE       approximate email size in bytes (default 10240)
#   STORES     stores to measure (default "sqlite postgres")
#   REQUEST_LOGS  "on off" (default): each store is measured with request
#              logging (GET /logs) and again with --request-logs=false, to
#              show what recording costs; "on" or "off" measures one.
#   GODWIT_BENCH_POSTGRES_URL
#              default postgres://root@127.0.0.1:5432/test?sslmode=disable&search_path=godwit_bench
#              The schema named by search_path is created before the run (with
#              psql, if installed) and dropped at the end. An existing schema
#              of that name is never dropped: the PostgreSQL run is skipped.
#   WORKERS    delivery workers of godwit serve, a list (default "0": accepting
#              alone); e.g. WORKERS="0 100" measures each store also while its
#              workers deliver the emails it accepts (to the test recipient
#              delivered@resend.dev: simulated, nothing leaves the machine),
#              labelled godwit/STORE-w100
#   HEALTH_TIMEOUT  seconds to wait for GET /healthz (default 60)
#   GODWIT_BIN optional path to a prebuilt godwit binary (skips the build)
#
# Only ever targets 127.0.0.1. Every process it starts is stopped on exit.
set -euo pipefail

me=run.sh
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-1s}
SIZE=${SIZE:-10240}
STORES=${STORES:-"sqlite postgres"}
REQUEST_LOGS=${REQUEST_LOGS:-"on off"}
WORKERS=${WORKERS:-0}
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-60}
PG_URL=${GODWIT_BENCH_POSTGRES_URL:-"postgres://root@127.0.0.1:5432/test?sslmode=disable&search_path=godwit_bench"}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

command -v curl >/dev/null || { echo "run.sh: curl is required" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/godwit-bench.XXXXXX")
pids=()          # processes started by this script and not yet stopped
pg_schema=""     # schema created by this script (dropped on exit)
psql_url=""
failures=0
summary="$tmp/summary.txt"
: >"$summary"


trap_cleanup



# preflight URL KEY: one real send, so a wrong key or route fails loudly.
preflight() {
	local url=$1 key=$2 code
	printf 'Authorization: Bearer %s\n' "$key" >"$tmp/auth-header"
	code=$(curl --noproxy '*' -s -m 10 -o "$tmp/preflight.out" -w '%{http_code}' \
		-H @"$tmp/auth-header" -H 'Content-Type: application/json' \
		-d '{"from":"Bench <onboarding@resend.dev>","to":["delivered@resend.dev"],"subject":"bench preflight","html":"<p>preflight</p>"}' \
		"$url/emails" || true)
	rm -f "$tmp/auth-header"
	if [[ $code != 200 ]]; then
		echo "run.sh: preflight POST $url/emails answered $code: $(head -c 500 "$tmp/preflight.out" 2>/dev/null)" >&2
		return 1
	fi
}

# scenarios LABEL URL KEY PID: the three load runs against one server.
# With SMTP (host:port of the submission listener) a fourth run sends each
# email over SMTP instead.
scenarios() {
	local label=$1 url=$2 key=$3 pid=$4 smtp=${5:-} name out
	local -a args names=("c16 single" "c64 single" "c16 batch100")
	[[ -n $smtp ]] && names+=("c16 smtp")
	for name in "${names[@]}"; do
		case $name in
		"c16 single") args=(-clients 16) ;;
		"c64 single") args=(-clients 64) ;;
		"c16 batch100") args=(-clients 16 -batch 100) ;;
		"c16 smtp") args=(-clients 16 -smtp "$smtp") ;;
		esac
		echo "--- $label / $name"
		if out=$(GODWIT_BENCH_KEY="$key" "$tmp/load" -url "$url" -pid "$pid" \
			-duration "$DURATION" -warmup "$WARMUP" -size "$SIZE" "${args[@]}" 2>&1); then
			echo "$out"
		else
			echo "$out"
			echo "!!! $label / $name failed"
			failures=$((failures + 1))
		fi
		printf '%-16s %-13s %s\n' "$label" "$name" "$(grep -m1 '^accepted/s=' <<<"$out" || echo FAILED)" >>"$summary"
	done
}

# run_bare: the ceiling.
run_bare() {
	local port pid url
	port=$(free_port) || return 1
	url="http://127.0.0.1:$port"
	echo "=== bare on $url"
	"$tmp/bare" -addr "127.0.0.1:$port" >"$tmp/bare.log" 2>&1 &
	pid=$!
	pids+=("$pid")
	if ! wait_healthz "$url" "$pid"; then
		tail -n 20 "$tmp/bare.log" >&2
		stop_pid "$pid"
		return 1
	fi
	scenarios bare "$url" bare "$pid"
	stop_pid "$pid"
}

# run_godwit STORE LOGS ARGS...: ARGS select the store and are passed to
# both `godwit serve` and `godwit keys create`; LOGS is on or off (request
# logging).
run_godwit() {
	local store=$1 logs=$2 workers=$3 port smtp_port pid url key log label
	shift 3
	label="godwit/$store"
	[[ $logs == off ]] && label="godwit/$store-nolog"
	((workers > 0)) && label="$label-w$workers"
	port=$(free_port) || return 1
	smtp_port=$(free_port) || return 1
	url="http://127.0.0.1:$port"
	log="$tmp/godwit-$store-$logs-w$workers.log"
	echo "=== $label on $url"
	# --workers 0 (the default of WORKERS): this measures accepting alone (each
	# email is committed with its delivery job; nothing delivers). With
	# workers the same node delivers what it accepts, to the test recipient.
	# bench/delivery.sh measures delivery.
	"$godwit" serve "$@" --http-addr "127.0.0.1:$port" --smtp-addr "127.0.0.1:$smtp_port" \
		--rate-limit 1000000 --workers "$workers" --request-logs="$([[ $logs == off ]] && echo false || echo true)" >"$log" 2>&1 &
	pid=$!
	pids+=("$pid")
	key=$(godwit_ready "$pid" "$url" "$log" "$store" "$@") || return 1
	if ! preflight "$url" "$key"; then
		tail -n 30 "$log" >&2
		stop_pid "$pid"
		return 1
	fi
	scenarios "$label" "$url" "$key" "$pid" "127.0.0.1:$smtp_port"
	stop_pid "$pid"
}


echo "### godwit bench: $(date -u +%FT%TZ) $(nproc) cpus, $(go version | cut -d' ' -f3-), duration=$DURATION warmup=$WARMUP size=$SIZE"

build_tools load bare

run_bare || failures=$((failures + 1))

for store in $STORES; do
	case $store in
	sqlite)
		for logs in $REQUEST_LOGS; do
			for workers in $WORKERS; do
				rm -rf "$tmp/sqlite"
				run_godwit sqlite "$logs" "$workers" --data-dir "$tmp/sqlite" || failures=$((failures + 1))
			done
		done
		;;
	postgres)
		for logs in $REQUEST_LOGS; do
			for workers in $WORKERS; do
				if setup_pg_schema; then
					run_godwit postgres "$logs" "$workers" --database-url "$PG_URL" || failures=$((failures + 1))
					drop_pg_schema
				else
					failures=$((failures + 1))
				fi
			done
		done
		;;
	*)
		echo "run.sh: unknown store '$store'" >&2
		failures=$((failures + 1))
		;;
	esac
done

echo
echo "### summary (duration=$DURATION size=$SIZE)"
cat "$summary"
if ((failures > 0)); then
	echo "### $failures step(s) failed"
	exit 1
fi
