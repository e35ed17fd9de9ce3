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
#      measurement and COUNT messages over CLIENTS SMTP connections to 127.0.0.1:25,
#   4. the same with the OpenDKIM milter (Debian package opendkim) signing every
#      message with an RSA-2048 key for the sending domain, relaxed/relaxed, as a
#      Postfix user signs; the sink's DNS publishes that key and its DKIM sample
#      checks the signatures.
# The servers run one after another, never at the same time. At the end the
# script prints each Godwit run's delivered/s as a ratio of both Postfix runs,
# and the three ratios of issue 18's targets.
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
#   POSTFIX_RUNS   the Postfix runs (default "plain opendkim"; opendkim is skipped,
#                  with a message, if the opendkim package is not installed)
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
# the run (relayhost = the sink, loopback only; for the OpenDKIM run also
# smtpd_milters and non_smtpd_milters = the milter on a free loopback port) and
# restored after each run and on exit; OpenDKIM runs in the foreground from a
# configuration and key in the script's temporary directory; Postfix is
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
POSTFIX_RUNS=${POSTFIX_RUNS-"plain opendkim"}
DOMAIN=bench.test # the sending domain: bench/deliver's -domain default
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


opendkim_pid=""      # the milter of the OpenDKIM run, while it runs

stop_opendkim() {
	[[ -n $opendkim_pid ]] || return 0
	stop_pid "$opendkim_pid"
	opendkim_pid=""
}

stop_postfix() {
	stop_opendkim
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

# start_opendkim: write an OpenDKIM configuration and an RSA-2048 key for
# the sending domain (selector "opendkim") into $tmp/opendkim, publish the key
# in the sink's DNS, start the milter on a free loopback port and set
# opendkim_port.
start_opendkim() {
	local dir="$tmp/opendkim" pub i
	if ! command -v opendkim >/dev/null || ! command -v openssl >/dev/null; then
		echo "delivery.sh: opendkim (Debian packages opendkim, opendkim-tools) or openssl is not installed; skipping the OpenDKIM run" >&2
		return 1
	fi
	mkdir -p "$dir"
	(umask 077 && openssl genrsa -out "$dir/key.pem" 2048 2>/dev/null) || return 1
	pub=$(openssl rsa -in "$dir/key.pem" -pubout -outform DER 2>/dev/null | base64 -w0) || return 1
	if ! curl --noproxy '*' -s -f -X POST -H 'Content-Type: application/json' \
		-d "[{\"name\":\"opendkim._domainkey.$DOMAIN\",\"type\":\"TXT\",\"value\":\"v=DKIM1; k=rsa; p=$pub\"}]" \
		"$sink_url/dns" >/dev/null; then
		echo "delivery.sh: could not publish the OpenDKIM key in the sink's DNS" >&2
		return 1
	fi
	opendkim_port=$(free_port) || return 1
	# Like Godwit's signature: RSA-SHA256, relaxed/relaxed, one key for the
	# domain; OpenDKIM's default list of signed header fields. Connections
	# from 127.0.0.1 are internal (OpenDKIM's default), so it signs them.
	cat >"$dir/opendkim.conf" <<-EOF
		Syslog no
		Mode s
		Domain $DOMAIN
		Selector opendkim
		KeyFile $dir/key.pem
		Canonicalization relaxed/relaxed
		SignatureAlgorithm rsa-sha256
		Socket inet:$opendkim_port@127.0.0.1
		PidFile $dir/opendkim.pid
		RequireSafeKeys no
	EOF
	opendkim -f -x "$dir/opendkim.conf" >"$dir/opendkim.log" 2>&1 &
	opendkim_pid=$!
	pids+=("$opendkim_pid")
	for i in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$opendkim_port") 2>/dev/null && return 0
		kill -0 "$opendkim_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "delivery.sh: opendkim did not start:" >&2
	cat "$dir/opendkim.log" >&2
	stop_opendkim
	return 1
}

# run_postfix [opendkim]: Postfix relaying to the sink; with "opendkim",
# through the OpenDKIM milter, which signs every message.
run_postfix() {
	local mode=${1:-plain} master conf_backup label=postfix
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
	# postqueue -p needs Postfix running (with it stopped it fails, "malformed
	# showq server response"): look into the queue directories instead.
	if [[ -n $(find /var/spool/postfix/maildrop /var/spool/postfix/incoming /var/spool/postfix/active \
		/var/spool/postfix/deferred /var/spool/postfix/hold -type f -print -quit 2>/dev/null) ]]; then
		echo "delivery.sh: Postfix's queue is not empty; skipping Postfix (see postqueue -p)" >&2
		return 1
	fi
	conf_backup="$tmp/postfix-main.cf"
	cp /etc/postfix/main.cf "$conf_backup"
	postfix_conf=$conf_backup
	postfix_started=1 # from here on, cleanup stops it and restores main.cf
	postconf -e "relayhost = [127.0.0.1]:$smtp_port" 'inet_interfaces = loopback-only' 'mydestination =' \
		'mynetworks = 127.0.0.0/8' 'maillog_file = /var/log/postfix.log'
	if [[ $mode == opendkim ]]; then
		label=postfix+opendkim
		if ! start_opendkim; then
			stop_postfix
			return 1
		fi
		postconf -e "smtpd_milters = inet:127.0.0.1:$opendkim_port" "non_smtpd_milters = inet:127.0.0.1:$opendkim_port" \
			'milter_default_action = tempfail' 'milter_protocol = 6'
		echo "=== opendkim $(opendkim -V 2>/dev/null | head -n 1 | awk '{print $NF}') (pid $opendkim_pid) on 127.0.0.1:$opendkim_port, signing $DOMAIN with selector opendkim (RSA-2048, relaxed/relaxed)"
	fi
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
	local -a watch=(-watch "postfix=tree:$master" -watch "sink=$sink_pid")
	[[ -n $opendkim_pid ]] && watch+=(-watch "opendkim=$opendkim_pid")
	deliver "$label idle" -mode smtp-idle -smtp 127.0.0.1:25 -count "$IDLE_COUNT" "${msg[@]+"${msg[@]}"}" || true
	deliver "$label smtp c$CLIENTS" -mode smtp -smtp 127.0.0.1:25 -count "$COUNT" -clients "$CLIENTS" \
		"${watch[@]}" "${msg[@]+"${msg[@]}"}" || true
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
	for run in $POSTFIX_RUNS; do
		case $run in
		plain) run_postfix || failures=$((failures + 1)) ;;
		opendkim) run_postfix opendkim || failures=$((failures + 1)) ;;
		*)
			echo "delivery.sh: unknown Postfix run '$run' (plain, opendkim)" >&2
			failures=$((failures + 1))
			;;
		esac
	done
fi

echo
echo "### summary (count=$COUNT idle=$IDLE_COUNT clients=$CLIENTS size=$SIZE)"
cat "$summary"
# The ratio to Postfix (plain, and with OpenDKIM), for every Godwit throughput run.
rate() { # rate LABEL-REGEX: delivered/s of the summary's run whose label matches
	awk -v re="$1" '$0 ~ re {getline; if (match($0, /delivered\/s=[0-9.]+/)) print substr($0, RSTART+12, RLENGTH-12); exit}' "$summary"
}
ratio() { # ratio A B: A/B with two decimals, or "-" if either is missing
	[[ -n $1 && -n $2 ]] && awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2fx", a/b}' || echo "-"
}
pf=$(rate '^postfix smtp')
pfd=$(rate '^postfix[+]opendkim smtp')
if [[ -n $pf || -n $pfd ]]; then
	echo "### Godwit delivered/s ÷ Postfix delivered/s (plain ${pf:-?}/s, with OpenDKIM ${pfd:-?}/s)"
	printf "    %-32s %10s %10s\n" "" "÷ plain" "÷ opendkim"
	while IFS= read -r label; do
		g=$(rate "^${label//+/[+]}\$")
		printf "    %-32s %10s %10s\n" "$label" "$(ratio "$g" "$pf")" "$(ratio "$g" "$pfd")"
	done < <(grep -E '^godwit/.* (single|batch)' "$summary")
	sq=$(rate "^godwit/sqlite single")
	pg=$(rate "^godwit/postgres single")
	echo "### issue 18's targets (the single runs: $CLIENTS clients, POST /emails)"
	echo "    SQLite   ÷ Postfix            $(ratio "$sq" "$pf") (target ≥ 1.5x)"
	echo "    SQLite   ÷ Postfix + OpenDKIM $(ratio "$sq" "$pfd") (target ≥ 3x)"
	echo "    Postgres ÷ Postfix            $(ratio "$pg" "$pf") (target ≥ 1.0x)"
fi
if ((failures > 0)); then
	echo "### $failures step(s) failed"
	exit 1
fi
