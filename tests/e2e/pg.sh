# shellcheck shell=bash
# pg.sh - a private PostgreSQL server for tests, sourced by e2e scenarios
# and called by tests/unit/store_pg_test.c.
#
#   pg_start DIR PORT   initdb into DIR/data (once), start (unless running) a server that
#                       listens only on a unix socket in DIR (no TCP) and
#                       create the database "tailwart"; prints the URL:
#                       postgresql:///tailwart?host=DIR&port=PORT&user=postgres
#   pg_stop DIR         stop it (fast shutdown); no error if it isn't running
#   pg_bindir           the server binaries' directory (newest installed)
#
# The socket lives in the private DIR, so PORT only names the socket file
# and can't collide with other servers (the system's cluster included, which
# is never touched). As root the server runs as user "postgres" (it refuses
# root) and DIR is handed to that user. DIR's path must be short: a unix
# socket path ("DIR/.s.PGSQL.PORT") holds at most 107 bytes.
# Authentication is "trust": tests only, never a real deployment.

pg_bindir() {
	if [ -n "${PG_BINDIR:-}" ] && [ -x "$PG_BINDIR/initdb" ]; then
		echo "$PG_BINDIR"
		return 0
	fi
	local d best=""
	# sort -V: version 15 after 9.6.
	for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V); do
		[ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && best=$d
	done
	if [ -z "$best" ]; then
		echo "pg_bindir: no PostgreSQL server under /usr/lib/postgresql (apt-get install postgresql)" >&2
		return 1
	fi
	echo "$best"
}

# _pg_as CMD...: run as postgres when root, from / (postgres may not be
# allowed into the caller's working directory).
_pg_as() {
	if [ "$(id -u)" = 0 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		(cd / && "$@")
	fi
}

pg_start() {
	local dir=$1 port=$2 bin
	if [ -z "$dir" ] || [ -z "$port" ]; then
		echo "usage: pg_start DIR PORT" >&2
		return 2
	fi
	bin=$(pg_bindir) || return 1
	mkdir -p "$dir" || return 1
	dir=$(cd "$dir" && pwd)
	if [ ${#dir} -gt 90 ]; then
		echo "pg_start: \"$dir\" is too long for a unix socket directory" >&2
		return 1
	fi
	[ "$(id -u)" = 0 ] && chown postgres: "$dir"
	if [ ! -s "$dir/data/PG_VERSION" ]; then
		if ! _pg_as "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 \
			--locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1; then
			echo "pg_start: initdb failed:" >&2
			tail -n 20 "$dir/initdb.log" >&2
			return 1
		fi
	fi
	# fsync off: a test server's data is thrown away.
	if _pg_as "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
		: # already running (a scenario restarting it twice)
	elif ! _pg_as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-k '$dir' -p $port -c listen_addresses='' -c fsync=off" start >/dev/null; then
		echo "pg_start: the server did not start:" >&2
		tail -n 20 "$dir/server.log" >&2
		return 1
	fi
	if ! _pg_as "$bin/psql" -h "$dir" -p "$port" -U postgres -d postgres -tAqc \
		"SELECT 1 FROM pg_database WHERE datname = 'tailwart'" | grep -q 1; then
		_pg_as "$bin/createdb" -h "$dir" -p "$port" -U postgres tailwart || return 1
	fi
	echo "postgresql:///tailwart?host=$dir&port=$port&user=postgres"
}

pg_stop() {
	local dir=$1 bin
	[ -n "$dir" ] || {
		echo "usage: pg_stop DIR" >&2
		return 2
	}
	[ -f "$dir/data/postmaster.pid" ] || return 0
	bin=$(pg_bindir) || return 1
	_pg_as "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
	if [ -f "$dir/data/postmaster.pid" ]; then
		# A fast shutdown that hangs: immediate (crash-like, fine for tests).
		_pg_as "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	[ ! -f "$dir/data/postmaster.pid" ]
}
