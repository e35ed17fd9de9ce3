#!/usr/bin/env bash
# bench/ab.sh: compare godwit binaries or flags by interleaving short runs,
# which a shared machine's drift does not favour the way one long run each
# does. Each round runs every variant once, in order, on a fresh database;
# it prints accepted/s and the server's CPU per accepted email.
#
#   bench/ab.sh 'on=/tmp/godwit' 'off=/tmp/godwit --request-logs=false' 'base=/tmp/godwit-old'
#
# Environment: ROUNDS (5), DURATION (6s), CLIENTS (16), SIZE (10240),
# STORE (sqlite | postgres; postgres uses GODWIT_BENCH_POSTGRES_URL's
# search_path schema, created and dropped per run with psql), NICE (-15 when
# root: the server and the load run ahead of other work).
# Only ever targets 127.0.0.1.
set -euo pipefail

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-6s}
CLIENTS=${CLIENTS:-16}
SIZE=${SIZE:-10240}
STORE=${STORE:-sqlite}
PG_URL=${GODWIT_BENCH_POSTGRES_URL:-"postgres://root@127.0.0.1:5432/test?sslmode=disable&search_path=godwit_ab"}
NICE=${NICE:-$([[ $(id -u) == 0 ]] && echo -15 || echo 0)}

(($# > 0)) || { sed -n '2,16p' "$0"; exit 2; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/godwit-ab.XXXXXX")
pid=""
schema=$(sed -n 's/.*[?&]search_path=\([^&]*\).*/\1/p' <<<"$PG_URL")
psql_url=$(sed -E 's/([?&])search_path=[^&]*&?/\1/; s/[?&]$//' <<<"$PG_URL")
cleanup() {
	[[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	[[ $STORE == postgres ]] && psql "$psql_url" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
go build -o "$tmp/load" "$root/bench/load"
port=$((20000 + RANDOM % 20000))
url="http://127.0.0.1:$port"

for round in $(seq "$ROUNDS"); do
	for spec in "$@"; do
		label=${spec%%=*}
		read -r -a cmd <<<"${spec#*=}"
		case $STORE in
		sqlite) db=(--data-dir "$tmp/data") ; rm -rf "$tmp/data" ;;
		postgres)
			psql "$psql_url" -v ON_ERROR_STOP=1 -qc "DROP SCHEMA IF EXISTS $schema CASCADE; CREATE SCHEMA $schema" >/dev/null 2>&1
			db=(--database-url "$PG_URL") ;;
		*) echo "ab.sh: STORE is sqlite or postgres" >&2; exit 2 ;;
		esac
		nice -n "$NICE" "${cmd[0]}" serve "${db[@]}" --http-addr "127.0.0.1:$port" --smtp-addr "127.0.0.1:$((port + 1))" \
			--rate-limit 1000000 --workers 0 "${cmd[@]:1}" >"$tmp/serve.log" 2>&1 &
		pid=$!
		for _ in $(seq 100); do curl --noproxy '*' -sf "$url/healthz" >/dev/null && break; sleep 0.1; done
		key=$(grep -o 're_[A-Za-z0-9_-]*' "$tmp/serve.log" | head -1 || true)
		[[ -n $key ]] || { echo "ab.sh: $label printed no key:" >&2; tail -20 "$tmp/serve.log" >&2; exit 1; }
		out=$(GODWIT_BENCH_KEY=$key nice -n "$NICE" "$tmp/load" -url "$url" -clients "$CLIENTS" -duration "$DURATION" \
			-warmup 1s -size "$SIZE" -pid "$pid" 2>&1)
		printf 'round %d  %-12s %s %s\n' "$round" "$label" "$(grep -oE 'accepted/s=[0-9.]+' <<<"$out")" \
			"$(grep -oE 'cpu/email=[0-9]+us' <<<"$out")"
		kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
	done
done
