#!/usr/bin/env bash
# bench/inbound.sh: inbound (MX) throughput, one run after the other on
# loopback, with bench/inbound:
#   1. godwit serve --mx-addr on SQLite,
#   2. godwit serve --mx-addr on PostgreSQL (a fresh database),
#   3. Postfix receiving on 127.0.0.1:$POSTFIX_PORT for a virtual mailbox
#      domain and delivering to a Maildir (configured here; Debian package
#      postfix, see ../shared/DEPENDENCIES.md for the install).
# Every run sends the same 10 KB messages over 16 connections.
#
# Environment:
#   N              messages per measured run (default 20000)
#   CONNS          connections (default 16)
#   STORES         "sqlite postgres" (default), one of them, or none
#   POSTFIX        1 (default) to run the Postfix part, 0 to skip it
#   POSTFIX_PORT   Postfix's extra smtpd listener (default 2525)
#   PG_URL         server URL (default postgres://root@127.0.0.1:5432/test?sslmode=disable);
#                  the script creates and drops the database godwit_inbench there
#   SENDER_RECORDS none (default) or spf-dmarc: what the sender's domain publishes
#   GODWIT_ARGS    extra flags for godwit serve
#   PROFILE_DIR    when set, a CPU profile of each Godwit run is written there
set -euo pipefail
me=inbound.sh
cd "$(dirname "$0")/.."
N=${N:-20000}
CONNS=${CONNS:-16}
STORES=${STORES:-sqlite postgres}
POSTFIX=${POSTFIX:-1}
POSTFIX_PORT=${POSTFIX_PORT:-2525}
PG_URL=${PG_URL:-postgres://root@127.0.0.1:5432/test?sslmode=disable}
SENDER_RECORDS=${SENDER_RECORDS:-none}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/godwit" ./cmd/godwit
go build -o "$tmp/inbound" ./bench/inbound

godwit_run() { # STORE [tool flags...]
	local store=$1
	shift
	local prof=()
	if [[ -n ${PROFILE_DIR:-} ]]; then
		mkdir -p "$PROFILE_DIR"
		prof=(-debug-addr 127.0.0.1:6099 -profile "$PROFILE_DIR/inbound-$store.pprof" -profile-seconds 5)
	fi
	echo "== Godwit, $store"
	"$tmp/inbound" -mode godwit -godwit "$tmp/godwit" -n "$N" -conns "$CONNS" -sender-records "$SENDER_RECORDS" \
		-args "${GODWIT_ARGS:-}" "${prof[@]}" "$@"
}

for store in $STORES; do
	case $store in
	sqlite) godwit_run sqlite ;;
	postgres)
		base=${PG_URL%%\?*}
		base=${base%/*}
		query=${PG_URL#*\?}
		psql "$PG_URL" -qc 'DROP DATABASE IF EXISTS godwit_inbench' -c 'CREATE DATABASE godwit_inbench' 2>/dev/null
		godwit_run postgres -database-url "$base/godwit_inbench?$query"
		psql "$PG_URL" -qc 'DROP DATABASE IF EXISTS godwit_inbench' 2>/dev/null || true
		;;
	none) ;;
	*) echo "$me: unknown store $store" >&2 && exit 2 ;;
	esac
done

if [[ $POSTFIX == 1 ]]; then
	if ! command -v postfix >/dev/null && [[ ! -x /usr/sbin/postfix ]]; then
		echo "$me: postfix is not installed (see ../shared/DEPENDENCIES.md); skipping it" >&2
		exit 0
	fi
	# A virtual mailbox domain, bench.test, whose one mailbox is a Maildir
	# (the trailing / in the map) owned by the mail user; smtpd also on
	# 127.0.0.1:$POSTFIX_PORT, without chroot.
	mkdir -p /var/mail/vhosts/bench.test
	chown -R mail:mail /var/mail/vhosts
	echo 'bench@bench.test bench.test/bench/' >/etc/postfix/vmailbox
	postmap /etc/postfix/vmailbox
	postconf -e 'inet_interfaces = loopback-only' 'mydestination =' 'mynetworks = 127.0.0.0/8' \
		'maillog_file = /var/log/postfix.log' 'virtual_mailbox_domains = bench.test' \
		'virtual_mailbox_base = /var/mail/vhosts' 'virtual_mailbox_maps = hash:/etc/postfix/vmailbox' \
		"virtual_uid_maps = static:$(id -u mail)" "virtual_gid_maps = static:$(id -g mail)" "virtual_minimum_uid = $(id -u mail)" \
		'smtpd_peername_lookup = no' 'message_size_limit = 41943040'
	postconf -M "127.0.0.1:$POSTFIX_PORT/inet=127.0.0.1:$POSTFIX_PORT inet n - n - - smtpd"
	postfix status >/dev/null 2>&1 && postfix reload >/dev/null 2>&1 || postfix start >/dev/null 2>&1
	for _ in $(seq 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$POSTFIX_PORT") 2>/dev/null && break
		sleep 0.1
	done
	postsuper -d ALL >/dev/null 2>&1 || true # nothing left from an earlier run
	rm -rf /var/mail/vhosts/bench.test/bench
	echo "== Postfix $(postconf -h mail_version), virtual delivery to a Maildir"
	"$tmp/inbound" -mode smtp -target "127.0.0.1:$POSTFIX_PORT" -rcpt bench@bench.test -n "$N" -conns "$CONNS" \
		-maildir /var/mail/vhosts/bench.test/bench
fi
