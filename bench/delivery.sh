#!/usr/bin/env bash
# bench/delivery.sh: measure accepted → delivered on loopback, for Godwit and
# for Postfix relaying the same messages to the same sink:
#   1. bench/sink: SMTP sink + DNS server for the sending domain,
#   2. godwit serve --delivery relay to the sink, on SQLite, then PostgreSQL:
#      verify the sending domain, then
#        idle:   IDLE_COUNT emails one at a time (accept → first attempt),
#        single: COUNT emails, CLIENTS clients, POST /emails,
#        batch:  COUNT emails, BATCH_CLIENTS clients, POST /emails/batch of BATCH,
#      each until the sink has received them all,
#   3. Postfix (Debian package) relaying to the same sink: the same idle
#      measurement and COUNT messages over CLIENTS SMTP connections to 127.0.0.1:25.
# The servers run one after another, never at the same time.
#
# Environment:
#   COUNT          emails per throughput run (default 20000)
#   IDLE_COUNT     sequential emails of the idle runs (default 200)
#   CLIENTS        HTTP clients / SMTP connections (default 16)
#   BATCH          emails per POST /emails/batch (default 100; 0 skips the batch run)
#   BATCH_CLIENTS  clients of the batch run (default 4)
#   SIZE           approximate HTML size in bytes (default 10240)
#   STORES         Godwit stores to measure (default "sqlite postgres"; empty: Postfix only)
#   POSTFIX        auto (default: run it if installed and not already running) or off
#   GODWIT_BENCH_POSTGRES_URL
#                  default postgres://root@127.0.0.1:5432/test?sslmode=disable&search_path=godwit_delivery_bench
#                  (the schema is created with psql and dropped at the end, as in run.sh)
#   GODWIT_ARGS    extra flags for godwit serve (e.g. "--workers 200 --max-per-host 40")
#   PROFILE_DIR    if set: take a 10 s CPU profile of godwit during each single run
#                  and save it there with the godwit binary
#   HEALTH_TIMEOUT seconds to wait for GET /healthz (default 60)
#   GODWIT_BIN     optional path to a prebuilt godwit binary (skips the build)
#
# Postfix: its configuration (/etc/postfix/main.cf) is changed with postconf for
# the run (relayhost = the sink, loopback only) and restored on exit; Postfix is
# started and stopped by the script, and whatever the run left in its queue is
# deleted (postsuper -d ALL). It is skipped if Postfix already runs, its queue
# is not empty, or port 25 is taken.
#
# Only ever targets 127.0.0.1. Every process it starts is stopped on exit.
set -euo pipefail

me=delivery.sh
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

COUNT=${COUNT:-20000}
IDLE_COUNT=${IDLE_COUNT:-200}
CLIENTS=${CLIENTS:-16}
BATCH=${BATCH:-100}
BATCH_CLIENTS=${BATCH_CLIENTS:-4}
SIZE=${SIZE:-10240}
STORES=${STORES-"sqlite postgres"}
POSTFIX=${POSTFIX:-auto}
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-60}
PROFILE_DIR=${PROFILE_DIR:-}
GODWIT_ARGS=${GODWIT_ARGS:-}
PG_URL=${GODWIT_BENCH_POSTGRES_URL:-"postgres://root@127.0.0.1:5432/test?sslmode=disable&search_path=godwit_delivery_bench"}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

command -v curl >/dev/null || { echo "delivery.sh: curl is required" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/godwit-delivery.XXXXXX")
pids=()              # processes started by this script and not yet stopped
pg_schema=""         # schema created by this script (dropped on exit)
psql_url=""
postfix_started=""   # set when this script started Postfix
postfix_conf=""      # saved main.cf to restore
failures=0
summary="$tmp/summary.txt"
: >"$summary"


stop_postfix() {
	[[ -n $postfix_started ]] || return 0
	postfix stop >/dev/null 2>&1 || true
	postfix_started=""
	# The queue was empty when the script started Postfix: whatever is left
	# (an interrupted run) is the benchmark's, and must not be sent later.
	postsuper -d ALL >/dev/null 2>&1 || true
	if [[ -n $postfix_conf ]]; then
		cp "$postfix_conf" /etc/postfix/main.cf || echo "delivery.sh: could not restore /etc/postfix/main.cf from $postfix_conf" >&2
		postfix_conf=""
	fi
}

before_cleanup() { stop_postfix; }
trap_cleanup





# run_godwit STORE ARGS...: ARGS select the store and are passed to both
# `godwit serve` and `godwit keys create`.
run_godwit() {
	local store=$1 port dport pid url key log prof_pid=""
	shift
	port=$(free_port) || return 1
	url="http://127.0.0.1:$port"
	log="$tmp/godwit-$store.log"
	local -a extra=()
	if [[ -n $PROFILE_DIR ]]; then
		dport=$(free_port) || return 1
		extra+=(--debug-addr "127.0.0.1:$dport")
	fi
	# shellcheck disable=SC2206 # GODWIT_ARGS is a list of flags
	extra+=($GODWIT_ARGS)
	echo "=== godwit/$store on $url, relaying to 127.0.0.1:$smtp_port"
	"$godwit" serve "$@" --http-addr "127.0.0.1:$port" --rate-limit 1000000 \
		--delivery relay --relay-url "smtp://127.0.0.1:$smtp_port" \
		--dns-resolver "127.0.0.1:$dns_port" --mx-host bounce.bench.test \
		"${extra[@]+"${extra[@]}"}" >"$log" 2>&1 &
	pid=$!
	pids+=("$pid")
	key=$(godwit_ready "$pid" "$url" "$log" "$store" "$@") || return 1
	export GODWIT_BENCH_KEY=$key
	if ! run_wait "$tmp/deliver" -mode setup -url "$url" -sink "$sink_url"; then
		tail -n 30 "$log" >&2
		stop_pid "$pid"
		return 1
	fi
	local -a watch=(-watch "godwit=$pid" -watch "sink=$sink_pid")
	if [[ $store == postgres ]]; then
		watch+=(-watch "postgres=comm:postgres") # every PostgreSQL process on the machine
	fi
	deliver "godwit/$store idle" -mode idle -url "$url" -count "$IDLE_COUNT" || true
	if [[ -n $PROFILE_DIR ]]; then
		mkdir -p "$PROFILE_DIR"
		cp "$godwit" "$PROFILE_DIR/godwit"
		(sleep 3 && curl --noproxy '*' -s -o "$PROFILE_DIR/godwit-$store-single.prof" \
			"http://127.0.0.1:$dport/debug/pprof/profile?seconds=10") &
		prof_pid=$!
	fi
	deliver "godwit/$store single c$CLIENTS" -mode api -url "$url" -count "$COUNT" -clients "$CLIENTS" "${watch[@]}" || true
	[[ -n $prof_pid ]] && wait "$prof_pid" 2>/dev/null || true
	if ((BATCH > 0)); then
		deliver "godwit/$store batch$BATCH c$BATCH_CLIENTS" -mode api -url "$url" -count "$COUNT" \
			-clients "$BATCH_CLIENTS" -batch "$BATCH" "${watch[@]}" || true
	fi
	# One message Godwit sent, fed to Postfix later.
	[[ -s $tmp/sample.eml ]] || curl --noproxy '*' -s -f -o "$tmp/sample.eml" "$sink_url/sample" || true
	unset GODWIT_BENCH_KEY
	stop_pid "$pid"
}

# run_postfix: Postfix relaying to the sink.
run_postfix() {
	local master conf_backup
	if ! command -v postfix >/dev/null; then
		echo "delivery.sh: postfix is not installed; skipping (see docs/benchmarks.md)" >&2
		return 1
	fi
	if postfix status >/dev/null 2>&1; then
		echo "delivery.sh: Postfix is already running; not touching it (stop it to include Postfix)" >&2
		return 1
	fi
	if (exec 3<>/dev/tcp/127.0.0.1/25) 2>/dev/null; then
		echo "delivery.sh: port 25 is taken; skipping Postfix" >&2
		return 1
	fi
	if [[ $(postqueue -p 2>/dev/null | head -n 1) != *"queue is empty"* ]]; then
		echo "delivery.sh: Postfix's queue is not empty; skipping Postfix (see postqueue -p)" >&2
		return 1
	fi
	conf_backup="$tmp/postfix-main.cf"
	cp /etc/postfix/main.cf "$conf_backup"
	postfix_conf=$conf_backup
	postfix_started=1 # from here on, cleanup stops it and restores main.cf
	postconf -e "relayhost = [127.0.0.1]:$smtp_port" 'inet_interfaces = loopback-only' 'mydestination =' \
		'mynetworks = 127.0.0.0/8' 'maillog_file = /var/log/postfix.log'
	if ! postfix start >"$tmp/postfix-start.log" 2>&1; then
		cat "$tmp/postfix-start.log" >&2
		stop_postfix
		return 1
	fi
	local i
	for i in $(seq 100); do
		(exec 3<>/dev/tcp/127.0.0.1/25) 2>/dev/null && break
		sleep 0.1
	done
	master=$(cat /var/spool/postfix/pid/master.pid 2>/dev/null | tr -d ' ' || true)
	echo "=== postfix $(postconf -h mail_version) (master pid $master), relaying to 127.0.0.1:$smtp_port"
	local -a msg=()
	if [[ -s $tmp/sample.eml ]]; then
		msg=(-message "$tmp/sample.eml")
		echo "feeding a copy of a message Godwit sent ($(wc -c <"$tmp/sample.eml") bytes), without its DKIM-Signature"
	else
		echo "no message from Godwit to copy; feeding a generated one"
	fi
	deliver "postfix idle" -mode smtp-idle -smtp 127.0.0.1:25 -count "$IDLE_COUNT" "${msg[@]+"${msg[@]}"}" || true
	deliver "postfix smtp c$CLIENTS" -mode smtp -smtp 127.0.0.1:25 -count "$COUNT" -clients "$CLIENTS" \
		-watch "postfix=tree:$master" -watch "sink=$sink_pid" "${msg[@]+"${msg[@]}"}" || true
	stop_postfix
}


echo "### godwit delivery bench: $(date -u +%FT%TZ) $(nproc) cpus, $(go version | cut -d' ' -f3-), count=$COUNT idle=$IDLE_COUNT clients=$CLIENTS batch=$BATCH size=$SIZE"

build_tools sink deliver

start_sink || exit 1

for store in $STORES; do
	case $store in
	sqlite)
		run_godwit sqlite --data-dir "$tmp/sqlite" || failures=$((failures + 1))
		;;
	postgres)
		if setup_pg_schema; then
			run_godwit postgres --database-url "$PG_URL" --data-dir "$tmp/pg-data" || failures=$((failures + 1))
		else
			failures=$((failures + 1))
		fi
		;;
	*)
		echo "delivery.sh: unknown store '$store'" >&2
		failures=$((failures + 1))
		;;
	esac
done

if [[ $POSTFIX != off ]]; then
	run_postfix || failures=$((failures + 1))
fi

echo
echo "### summary (count=$COUNT idle=$IDLE_COUNT clients=$CLIENTS size=$SIZE)"
cat "$summary"
# The ratio to Postfix, for every Godwit throughput run.
pf=$(awk '/^postfix smtp/{getline; if (match($0, /delivered\/s=[0-9.]+/)) print substr($0, RSTART+12, RLENGTH-12)}' "$summary")
if [[ -n $pf ]]; then
	echo "### Godwit delivered/s ÷ Postfix delivered/s ($pf/s)"
	awk -v pf="$pf" '/^godwit\/.* (single|batch)/{label=$0; getline; if (match($0, /delivered\/s=[0-9.]+/)) printf "    %-32s %.2fx\n", label, substr($0, RSTART+12, RLENGTH-12)/pf}' "$summary"
fi
if ((failures > 0)); then
	echo "### $failures step(s) failed"
	exit 1
fi
