# bench/lib.sh: the process and database helpers bench/run.sh and
# bench/delivery.sh share. The caller sets `me` (its name, for messages),
# `pids` (processes it started), `tmp`, `PG_URL`, `HEALTH_TIMEOUT`, and the
# `pg_schema`/`psql_url` variables that setup_pg_schema fills, and `godwit`
# (the binary); the scripts that run bench/deliver (deliver) also set
# `SIZE`, `summary` (a file) and `failures`, and start the sink with
# start_sink.

# alive PID: the process exists and is not a zombie.
alive() {
	[[ -e /proc/$1 ]] && [[ $(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) != Z ]]
}

# forget PID: drop PID from pids (it has been reaped).
forget() {
	local i keep=()
	for i in "${pids[@]+"${pids[@]}"}"; do
		[[ $i == "$1" ]] || keep+=("$i")
	done
	pids=("${keep[@]+"${keep[@]}"}")
}

# stop_pid PID: SIGTERM, wait up to 5s, then SIGKILL; reap it and forget it.
stop_pid() {
	local pid=$1 i state
	if kill -TERM "$pid" 2>/dev/null; then
		for i in $(seq 50); do
			state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1 || true)
			[[ -z $state || $state == Z ]] && break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	forget "$pid"
}

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
	echo "$me: no free port found" >&2
	return 1
}

# wait_healthz URL PID: poll GET URL/healthz until 200, the process dies, or
# HEALTH_TIMEOUT seconds pass.
wait_healthz() {
	local url=$1 pid=$2 code deadline=$((SECONDS + HEALTH_TIMEOUT))
	while ((SECONDS < deadline)); do
		if ! alive "$pid"; then
			echo "$me: process $pid exited before $url/healthz answered" >&2
			return 1
		fi
		code=$(curl --noproxy '*' -s -o /dev/null -m 2 -w '%{http_code}' "$url/healthz" || true)
		[[ $code == 200 ]] && return 0
		sleep 0.1
	done
	echo "$me: $url/healthz did not answer 200 within ${HEALTH_TIMEOUT}s" >&2
	return 1
}

# setup_pg_schema: create the schema named by PG_URL's search_path (with
# psql) and remember it in pg_schema, to be dropped at exit; an existing
# schema is never reused or dropped.
setup_pg_schema() {
	local schema
	schema=$(sed -n 's/.*[?&]search_path=\([^&]*\).*/\1/p' <<<"$PG_URL")
	if [[ -z $schema ]]; then
		echo "$me: note: no search_path in GODWIT_BENCH_POSTGRES_URL; tables go to the default schema and are not dropped" >&2
		return 0
	fi
	if [[ ! $schema =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
		echo "$me: refusing schema name '$schema' (letters, digits, _ only)" >&2
		return 1
	fi
	if ! command -v psql >/dev/null; then
		echo "$me: note: psql not found; assuming schema $schema exists (it is not dropped)" >&2
		return 0
	fi
	# libpq does not know search_path as a URI parameter: strip it for psql.
	psql_url=$(sed -E 's/([?&])search_path=[^&]*&?/\1/; s/[?&]$//' <<<"$PG_URL")
	if ! psql "$psql_url" -v ON_ERROR_STOP=1 -qc "CREATE SCHEMA $schema" >"$tmp/psql.err" 2>&1; then
		echo "$me: could not create schema $schema (left over from an earlier run? drop it with: psql '$psql_url' -c 'DROP SCHEMA $schema CASCADE'):" >&2
		cat "$tmp/psql.err" >&2
		return 1
	fi
	pg_schema=$schema
}

# drop_pg_schema: drop the schema setup_pg_schema created, if any.
drop_pg_schema() {
	[[ -n $pg_schema ]] || return 0
	psql "$psql_url" -v ON_ERROR_STOP=1 -qc "DROP SCHEMA IF EXISTS $pg_schema CASCADE" >/dev/null 2>&1 ||
		echo "$me: could not drop schema $pg_schema" >&2
	pg_schema=""
}

# godwit_ready PID URL LOG STORE [DB FLAGS...]: wait for a godwit serve
# started in the background to answer, then create its API key and print
# it; on any failure show the log, stop PID and fail. (Called in $(...): a
# stopped PID stays in the caller's pids, and cleanup reaps it.)
godwit_ready() {
	local pid=$1 url=$2 log=$3 store=$4 key
	shift 4
	if ! wait_healthz "$url" "$pid"; then
		tail -n 30 "$log" >&2
		stop_pid "$pid"
		return 1
	fi
	if ! key=$("$godwit" keys create --name bench "$@" 2>"$tmp/keys-$store.err"); then
		echo "$me: godwit keys create failed:" >&2
		tail -n 20 "$tmp/keys-$store.err" >&2
		stop_pid "$pid"
		return 1
	fi
	key=$(tr -d '[:space:]' <<<"$key")
	if [[ -z $key ]]; then
		echo "$me: godwit keys create printed no token" >&2
		stop_pid "$pid"
		return 1
	fi
	echo "$key"
}

# run_wait CMD...: run CMD in the background and wait for it, so that a
# signal to this script runs the trap at once (bash defers traps until a
# foreground command ends) and cleanup stops CMD. Returns CMD's status.
run_wait() {
	local p rc=0
	"$@" &
	p=$!
	pids+=("$p")
	wait "$p" || rc=$?
	forget "$p"
	return "$rc"
}

# record LABEL FILE: add the result lines of a deliver run to the summary.
record() {
	local label=$1 file=$2
	{
		echo "$label"
		grep -E '^(delivered/s=|accept latency|accept->first_attempt|HTTP 200->|250 after DATA->|cpu |dkim )' "$file" | sed 's/^/    /' || echo "    FAILED"
	} >>"$summary"
}

# deliver LABEL ARGS...: run bench/deliver, print and record its output.
deliver() {
	local label=$1 out="$tmp/deliver.out"
	shift
	echo "--- $label"
	if run_wait "$tmp/deliver" -sink "$sink_url" -size "$SIZE" -label "$label" "$@" >"$out" 2>&1; then
		cat "$out"
		record "$label" "$out"
	else
		cat "$out"
		echo "!!! $label failed"
		record "$label" "$out"
		echo "    FAILED: $(tail -n 1 "$out")" >>"$summary"
		failures=$((failures + 1))
		return 1
	fi
}

# start_sink: start bench/sink (built at $tmp/sink) on free loopback ports
# and set smtp_port, dns_port, sink_url and sink_pid.
start_sink() {
	local ctl_port
	smtp_port=$(free_port) || return 1
	dns_port=$(free_port) || return 1
	ctl_port=$(free_port) || return 1
	sink_url="http://127.0.0.1:$ctl_port"
	"$tmp/sink" -smtp "127.0.0.1:$smtp_port" -dns "127.0.0.1:$dns_port" -http "127.0.0.1:$ctl_port" >"$tmp/sink.log" 2>&1 &
	sink_pid=$!
	pids+=("$sink_pid")
	if ! wait_healthz "$sink_url" "$sink_pid"; then
		cat "$tmp/sink.log" >&2
		return 1
	fi
	echo "### sink: smtp 127.0.0.1:$smtp_port, dns 127.0.0.1:$dns_port, control $sink_url"
}

# cleanup: stop every process the script started, drop the schema it
# made, and remove $tmp; the script's before_cleanup, if it defines one,
# runs first. trap_cleanup installs it for exit, INT and TERM.
cleanup() {
	local pid
	trap - EXIT INT TERM
	if declare -F before_cleanup >/dev/null; then
		before_cleanup
	fi
	for pid in "${pids[@]+"${pids[@]}"}"; do
		stop_pid "$pid"
	done
	drop_pg_schema
	rm -rf "$tmp"
}

trap_cleanup() {
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# build_tools TOOL...: build godwit into $tmp (or take $GODWIT_BIN) and set
# godwit, then build each bench/TOOL into $tmp/TOOL.
build_tools() {
	local tool
	echo "### building"
	if [[ -n ${GODWIT_BIN:-} ]]; then
		godwit=$GODWIT_BIN
	else
		godwit="$tmp/godwit"
		go build -o "$godwit" ./cmd/godwit
	fi
	for tool in "$@"; do
		go build -o "$tmp/$tool" "./bench/$tool"
	done
}
