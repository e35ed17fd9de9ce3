#!/usr/bin/env bash
# bench/run.sh: build godwit and the bench tools, then measure, on loopback:
#   1. bench/bare (the ceiling: decode JSON, answer ids, nothing else),
#   2. godwit serve on SQLite,
#   3. godwit serve on PostgreSQL,
# each with: 16 clients single, 64 clients single, 16 clients batch of 100.
#
# Environment:
#   DURATION   measured duration of each load run (default 10s)
#   WARMUP     warmup of each load run, not counted (default 1s)
#   SIZE       approximate email size in bytes (default 10240)
#   STORES     stores to measure (default "sqlite postgres")
#   GODWIT_BENCH_POSTGRES_URL
#              default postgres://root@127.0.0.1:5432/test?sslmode=disable&search_path=godwit_bench
#              The schema named by search_path is created before the run (with
#              psql, if installed) and dropped at the end. An existing schema
#              of that name is never dropped: the PostgreSQL run is skipped.
#   HEALTH_TIMEOUT  seconds to wait for GET /healthz (default 60)
#   GODWIT_BIN optional path to a prebuilt godwit binary (skips the build)
#
# Only ever targets 127.0.0.1. Every process it starts is stopped on exit.
set -euo pipefail

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-1s}
SIZE=${SIZE:-10240}
STORES=${STORES:-"sqlite postgres"}
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

# stop_pid PID: SIGTERM, wait up to 5s, then SIGKILL; reap it and forget it.
stop_pid() {
	local pid=$1 i state keep=()
	if kill -TERM "$pid" 2>/dev/null; then
		for i in $(seq 50); do
			state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1 || true)
			[[ -z $state || $state == Z ]] && break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	for i in "${pids[@]+"${pids[@]}"}"; do
		[[ $i == "$pid" ]] || keep+=("$i")
	done
	pids=("${keep[@]+"${keep[@]}"}")
}

cleanup() {
	local pid
	trap - EXIT INT TERM
	for pid in "${pids[@]+"${pids[@]}"}"; do
		stop_pid "$pid"
	done
	if [[ -n $pg_schema ]]; then
		psql "$psql_url" -v ON_ERROR_STOP=1 -qc "DROP SCHEMA IF EXISTS $pg_schema CASCADE" >/dev/null 2>&1 ||
			echo "run.sh: could not drop schema $pg_schema" >&2
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# free_port: a loopback TCP port nobody listens on right now.
free_port() {
	local p i
	for i in $(seq 100); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	echo "run.sh: no free port found" >&2
	return 1
}

# wait_healthz URL PID: poll GET URL/healthz until 200, the process dies, or
# HEALTH_TIMEOUT seconds pass.
wait_healthz() {
	local url=$1 pid=$2 code deadline=$((SECONDS + HEALTH_TIMEOUT))
	while ((SECONDS < deadline)); do
		if [[ ! -e /proc/$pid ]] || [[ $(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) == Z ]]; then
			echo "run.sh: process $pid exited before $url/healthz answered" >&2
			return 1
		fi
		code=$(curl --noproxy '*' -s -o /dev/null -m 2 -w '%{http_code}' "$url/healthz" || true)
		[[ $code == 200 ]] && return 0
		sleep 0.1
	done
	echo "run.sh: $url/healthz did not answer 200 within ${HEALTH_TIMEOUT}s" >&2
	return 1
}

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
scenarios() {
	local label=$1 url=$2 key=$3 pid=$4 name out
	local -a args
	for name in "c16 single" "c64 single" "c16 batch100"; do
		case $name in
		"c16 single") args=(-clients 16) ;;
		"c64 single") args=(-clients 64) ;;
		"c16 batch100") args=(-clients 16 -batch 100) ;;
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

# run_godwit STORE ARGS...: ARGS select the store and are passed to both
# `godwit serve` and `godwit keys create`.
run_godwit() {
	local store=$1 port pid url key log
	shift
	port=$(free_port) || return 1
	url="http://127.0.0.1:$port"
	log="$tmp/godwit-$store.log"
	echo "=== godwit/$store on $url"
	"$godwit" serve "$@" --http-addr "127.0.0.1:$port" --rate-limit 1000000 >"$log" 2>&1 &
	pid=$!
	pids+=("$pid")
	if ! wait_healthz "$url" "$pid"; then
		tail -n 30 "$log" >&2
		stop_pid "$pid"
		return 1
	fi
	if ! key=$("$godwit" keys create --name bench "$@" 2>"$tmp/keys-$store.err"); then
		echo "run.sh: godwit keys create failed:" >&2
		tail -n 20 "$tmp/keys-$store.err" >&2
		stop_pid "$pid"
		return 1
	fi
	key=$(tr -d '[:space:]' <<<"$key")
	if [[ -z $key ]]; then
		echo "run.sh: godwit keys create printed no token" >&2
		stop_pid "$pid"
		return 1
	fi
	if ! preflight "$url" "$key"; then
		tail -n 30 "$log" >&2
		stop_pid "$pid"
		return 1
	fi
	scenarios "godwit/$store" "$url" "$key" "$pid"
	stop_pid "$pid"
}

# setup_pg_schema: create the schema named by search_path in PG_URL, if any.
setup_pg_schema() {
	local schema
	schema=$(sed -n 's/.*[?&]search_path=\([^&]*\).*/\1/p' <<<"$PG_URL")
	if [[ -z $schema ]]; then
		echo "run.sh: note: no search_path in GODWIT_BENCH_POSTGRES_URL; tables go to the default schema and are not dropped" >&2
		return 0
	fi
	if [[ ! $schema =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
		echo "run.sh: refusing schema name '$schema' (letters, digits, _ only)" >&2
		return 1
	fi
	if ! command -v psql >/dev/null; then
		echo "run.sh: note: psql not found; assuming schema $schema exists (it is not dropped)" >&2
		return 0
	fi
	# libpq does not know search_path as a URI parameter: strip it for psql.
	psql_url=$(sed -E 's/([?&])search_path=[^&]*&?/\1/; s/[?&]$//' <<<"$PG_URL")
	if ! psql "$psql_url" -v ON_ERROR_STOP=1 -qc "CREATE SCHEMA $schema" >"$tmp/psql.err" 2>&1; then
		echo "run.sh: could not create schema $schema (left over from an earlier run? drop it with: psql '$psql_url' -c 'DROP SCHEMA $schema CASCADE'):" >&2
		cat "$tmp/psql.err" >&2
		return 1
	fi
	pg_schema=$schema
}

echo "### godwit bench: $(date -u +%FT%TZ) $(nproc) cpus, $(go version | cut -d' ' -f3-), duration=$DURATION warmup=$WARMUP size=$SIZE"

echo "### building"
if [[ -n ${GODWIT_BIN:-} ]]; then
	godwit=$GODWIT_BIN
else
	godwit="$tmp/godwit"
	go build -o "$godwit" ./cmd/godwit
fi
go build -o "$tmp/load" ./bench/load
go build -o "$tmp/bare" ./bench/bare

run_bare || failures=$((failures + 1))

for store in $STORES; do
	case $store in
	sqlite)
		run_godwit sqlite --data-dir "$tmp/sqlite" || failures=$((failures + 1))
		;;
	postgres)
		if setup_pg_schema; then
			run_godwit postgres --database-url "$PG_URL" || failures=$((failures + 1))
		else
			failures=$((failures + 1))
		fi
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
