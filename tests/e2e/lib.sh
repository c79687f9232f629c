# shellcheck shell=bash disable=SC2034 # (variables here are for the scenarios)
# lib.sh - shared helpers for the tailwart end-to-end scenarios.
#
# Each scenario (tests/e2e/t_*.sh) sources this file and calls
# `e2e_init NAME`. Every server a scenario needs is a real Debian daemon
# (Postfix, Dovecot, nginx, HAProxy) or the small Python helper below,
# started privately: its own config dir under the scenario's temp dir, its
# own ports on loopback, or inside network namespaces the scenario creates.
# The system's own daemons are never used. Everything started is registered
# with `defer` and stopped from the EXIT trap, on success and on failure.
#
# Network rule: traffic goes only to 127.0.0.0/8, ::1, or addresses inside
# namespaces the scenario created (10.200.x, 2001:db8::/32, fd00::/8).
#
# Output is TAP-like: `ok - what` / `not ok - what: why`, diagnostics as
# `#` lines. Environment:
#   TAILWART    the binary under test (default <repo>/build/tailwart)
#   EDGE_IMPL   tailwart (default) | haproxy: HAProxy stands in for the edge,
#               to check the server setups; edge-only assertions are skipped
#   E2E_KEEP=1  keep the temp dir even when everything passed
#   E2E_VERBOSE=1  trace helper activity as `#` lines

E2E_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TW_ROOT=$(cd "$E2E_LIB_DIR/../.." && pwd)
TAILWART=${TAILWART:-$TW_ROOT/build/tailwart}
EDGE_IMPL=${EDGE_IMPL:-tailwart}
# Debian's interpreter: it has python3-yaml for the HAProxy stand-in.
PY=${PY:-/usr/bin/python3}
E2E_KEEP=${E2E_KEEP:-0}
E2E_VERBOSE=${E2E_VERBOSE:-0}
CLIENT_ADDR=127.0.0.2 # every client binds here; the edge listens on 127.0.0.1
EDGE_ADDR=127.0.0.1
EDGE_NETNS=${EDGE_NETNS:-} # set by a scenario to run the edge in a namespace

T_NAME=""
T_DIR=""
T_COUNT=0
T_FAILS=0
T_SKIPS=0
T_FINISHED=0
_E2E_CLEANUP=()

# ------------------------------------------------------------------ results

ok() {
	T_COUNT=$((T_COUNT + 1))
	echo "ok - $*"
}

# not_ok DESCRIPTION WHY
not_ok() {
	T_COUNT=$((T_COUNT + 1))
	T_FAILS=$((T_FAILS + 1))
	echo "not ok - $1: ${2:-failed}"
}

# skip DESCRIPTION WHY: counted as passing, reported as a TAP SKIP.
skip() {
	T_COUNT=$((T_COUNT + 1))
	T_SKIPS=$((T_SKIPS + 1))
	echo "ok - $1 # SKIP ${2:-}"
}

diag() {
	local l
	while IFS= read -r l; do echo "#   $l"; done <<<"$*"
}

# diag_file FILE [LINES] [GREP-ERE]: the tail of a log, as diagnostics.
diag_file() {
	local f=$1 n=${2:-15} re=${3:-}
	[ -r "$f" ] || {
		echo "#   ($f: missing)"
		return 0
	}
	echo "#   --- ${f#"$T_DIR"/} (last $n${re:+ matching /$re/}) ---"
	if [ -n "$re" ]; then
		grep -E -- "$re" "$f" | tail -n "$n" | sed 's/^/#   /'
	else
		tail -n "$n" "$f" | sed 's/^/#   /'
	fi
}

trace() { [ "$E2E_VERBOSE" = 1 ] && echo "# . $*" || true; }

# check DESCRIPTION CMD...: ok if CMD exits 0, else not ok with its output.
check() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		ok "$desc"
	else
		not_ok "$desc" "command failed: $*"
		[ -n "$out" ] && diag "$(tail -n 8 <<<"$out")"
	fi
}

# bail WHY: stop the scenario (cleanup still runs).
bail() {
	not_ok "scenario setup" "$*"
	T_FINISHED=1
	echo "1..$T_COUNT"
	echo "# $T_NAME: bailed out"
	exit 1
}

finish() {
	T_FINISHED=1
	echo "1..$T_COUNT"
	if [ "$T_FAILS" -gt 0 ]; then
		echo "# $T_NAME: $T_FAILS of $T_COUNT failed"
		exit 1
	fi
	if [ "$T_SKIPS" -gt 0 ]; then
		echo "# $T_NAME: all $T_COUNT passed ($T_SKIPS skipped)"
	else
		echo "# $T_NAME: all $T_COUNT passed"
	fi
	exit 0
}

# ------------------------------------------------------------------ cleanup

# defer CMD-STRING: run at exit, last registered first.
defer() { _E2E_CLEANUP+=("$1"); }

_e2e_exit() {
	local rc=$? i
	trap - EXIT INT TERM
	for ((i = ${#_E2E_CLEANUP[@]} - 1; i >= 0; i--)); do
		trace "cleanup: ${_E2E_CLEANUP[i]}"
		eval "${_E2E_CLEANUP[i]}" >/dev/null 2>&1 || true
	done
	# The edge under test may be a sanitizer build: a report written while
	# it stopped (a leak, a use-after-free) fails the scenario.
	if [ -n "$T_DIR" ] && [ -d "$T_DIR" ]; then
		local rep
		rep=$(grep -rlE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T_DIR" 2>/dev/null | head -3)
		if [ -n "$rep" ]; then
			echo "not ok - $T_NAME: sanitizer report in $rep"
			grep -hE -A12 'ERROR: (Address|Leak)Sanitizer|runtime error:' $rep | head -30 | sed 's/^/#   /'
			T_FAILS=$((T_FAILS + 1))
			[ "$rc" = 0 ] && rc=1
		fi
	fi
	if [ "$T_FINISHED" = 0 ]; then
		echo "not ok - $T_NAME aborted (exit $rc)"
		T_FAILS=$((T_FAILS + 1))
		[ "$rc" = 0 ] && rc=1
	fi
	if [ -n "$T_DIR" ] && [ -d "$T_DIR" ]; then
		if [ "$T_FAILS" -gt 0 ] || [ "$E2E_KEEP" = 1 ]; then
			echo "# logs kept in $T_DIR"
		else
			rm -rf "$T_DIR"
		fi
	fi
	exit "$rc"
}

# e2e_init NAME: temp dir, helper tool, traps. Call once, first.
e2e_init() {
	T_NAME=$1
	[ "$(id -u)" = 0 ] || {
		echo "not ok - $T_NAME: must run as root (servers, namespaces)"
		exit 1
	}
	T_DIR=$(mktemp -d "/tmp/tw-e2e-$T_NAME.XXXXXX") || exit 1
	# Daemons drop privileges (postfix, dovecot, nobody): let them traverse.
	chmod 755 "$T_DIR"
	trap _e2e_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	_e2e_write_tool
	if is_tailwart; then
		echo "# $T_NAME: edge=$TAILWART dir=$T_DIR"
	else
		echo "# $T_NAME: edge=$EDGE_IMPL (stand-in) dir=$T_DIR"
	fi
}

need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || bail "missing command '$c' (see scripts/deps.sh check)"
	done
}

# need_edge: the binary under test must exist (or the stand-in is used).
need_edge() {
	if is_tailwart; then
		[ -x "$TAILWART" ] || bail "edge binary '$TAILWART' not found (build it, or EDGE_IMPL=haproxy)"
	else
		need_cmd haproxy
	fi
}

is_tailwart() { [ "$EDGE_IMPL" = tailwart ]; }

# ------------------------------------------------------------------ processes

now_ms() { date +%s%3N; }

# wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds.
wait_for() {
	local secs=$1 end
	shift
	end=$(($(now_ms) + ${secs%.*} * 1000))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$(now_ms)" -ge "$end" ] && return 1
		sleep 0.1
	done
}

# pid_alive PID: running and not a zombie (the parent here may not reap).
pid_alive() {
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# stop_pid PID [GRACE-SECONDS] [SIGNAL]: signal, wait, then SIGKILL.
stop_pid() {
	local pid=$1 grace=${2:-5} sig=${3:-TERM} i
	[ -n "$pid" ] || return 0
	pid_alive "$pid" || return 0
	kill "-$sig" "$pid" 2>/dev/null
	for ((i = 0; i < grace * 10; i++)); do
		pid_alive "$pid" || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	return 0
}

# stop_group PID [GRACE]: like stop_pid for the process group PID leads
# (spawn starts each command as a session leader), children included.
stop_group() {
	local pid=$1 grace=${2:-5} i
	[ -n "$pid" ] || return 0
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < grace * 10; i++)); do
		pid_alive "$pid" || break
		sleep 0.1
	done
	kill -KILL -- "-$pid" 2>/dev/null
	kill -KILL "$pid" 2>/dev/null
	return 0
}

# spawn LOG CMD...: starts CMD in the background as its own session, output
# to LOG; sets SPAWN_PID and registers its stop. (setsid does not fork here:
# a background child is never a group leader, so SPAWN_PID is CMD's pid.)
# With SPAWN_NS=NS set for the call, CMD runs inside that namespace.
spawn() {
	local log=$1 pre=()
	shift
	[ -n "${SPAWN_NS:-}" ] && pre=(ip netns exec "$SPAWN_NS")
	setsid "${pre[@]}" "$@" >"$log" 2>&1 </dev/null &
	SPAWN_PID=$!
	defer "stop_group $SPAWN_PID 3"
	trace "spawned $SPAWN_PID: $*"
}

# in_ns NS CMD...: CMD inside namespace NS, or here when NS is empty.
in_ns() {
	local ns=$1
	shift
	if [ -n "$ns" ]; then
		ip netns exec "$ns" "$@"
	else
		"$@"
	fi
}

twpy() { "$PY" "$T_DIR/tw.py" "$@"; }

# freeport [N]: N ports free on every address, outside the ephemeral range.
freeport() { twpy freeport "${1:-1}"; }

# freeport_sh [N]: the same without Python (for the demo): ports in
# 20000-31999 that no TCP socket here uses, in any state.
freeport_sh() {
	local n=${1:-1} ports=() p
	while [ ${#ports[@]} -lt "$n" ]; do
		p=$((20000 + RANDOM % 12000))
		[[ " ${ports[*]} " == *" $p "* ]] && continue
		[ -n "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ] && continue
		ports+=("$p")
	done
	echo "${ports[*]}"
}

# is_listening ADDR PORT [NS]
is_listening() {
	local addr=$1 port=$2 ns=${3:-}
	addr=${addr#[}
	addr=${addr%]}
	in_ns "$ns" ss -Hltn "sport = :$port" 2>/dev/null | awk '{print $4}' |
		grep -qE "^(\[?${addr//./\\.}\]?|\*|0\.0\.0\.0|\[::\]|\[::ffff:${addr//./\\.}\]):$port\$"
}

# wait_listen ADDR PORT [SECONDS] [NS]: true once something listens there.
# Looks at the socket table instead of connecting, so no server logs a probe
# and no edge dials a backend for it.
wait_listen() {
	wait_for "${3:-10}" is_listening "$1" "$2" "${4:-}"
}

# start_server TAG LOG [NS] -- LISTEN...: the Python test server (see tw.py).
start_server() {
	local tag=$1 log=$2 ns=$3 a
	shift 4
	local args=()
	for a in "$@"; do args+=(--listen "$a"); done
	SPAWN_NS=$ns spawn "$log.out" "$PY" "$T_DIR/tw.py" serve --tag "$tag" --log "$log" "${args[@]}"
	for a in "$@"; do
		local h=${a%:*} p=${a##*:}
		wait_listen "$h" "$p" 10 "$ns" || {
			diag_file "$log.out"
			bail "test server $tag did not listen on $a"
		}
	done
}

# ------------------------------------------------------------------ Postfix

# start_postfix DIR PORT [MODE]: a private Postfix instance listening on
# 127.0.0.1:PORT, delivering user@e2e.test to the mbox file $PF_MAILBOX via
# virtual(8). MODE:
#   plain       smtpd, no PROXY support (what an unprepared backend looks like)
#   submission  smtpd with smtpd_upstream_proxy_protocol = haproxy
#   postscreen  postscreen (postscreen_upstream_proxy_protocol = haproxy) + smtpd
# Sets PF_DIR, PF_CONF, PF_LOG (maillog_file via postlogd), PF_MAILBOX.
start_postfix() {
	local dir=$1 port=$2 mode=${3:-plain}
	PF_DIR=$dir
	PF_CONF=$dir/conf
	PF_LOG=$dir/maillog
	PF_MAILBOX=$dir/mail/user
	mkdir -p "$PF_CONF" "$dir/queue" "$dir/data" "$dir/mail"
	chmod 755 "$dir"
	chown postfix "$dir/data"
	chown nobody:nogroup "$dir/mail"
	local proxy_main=""
	case $mode in
	plain) ;;
	submission) ;;
	postscreen) proxy_main="postscreen_upstream_proxy_protocol = haproxy" ;;
	*) bail "start_postfix: unknown mode '$mode'" ;;
	esac
	cat >"$PF_CONF/main.cf" <<EOF
# Private Postfix instance for a tailwart e2e scenario (mode $mode).
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.e2e.test
mydomain = e2e.test
myorigin = e2e.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
maillog_file = $PF_LOG
maillog_file_prefixes = $T_DIR
# No DNS: nothing may leave loopback (no PTR lookups of clients either).
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
virtual_mailbox_domains = e2e.test
virtual_mailbox_base = $dir/mail
virtual_mailbox_maps = inline:{ user@e2e.test=user }
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
virtual_minimum_uid = 100
smtpd_banner = \$myhostname ESMTP e2e-$mode
biff = no
smtputf8_enable = no
alias_maps =
alias_database =
relayhost =
postscreen_greet_wait = 1s
postscreen_upstream_proxy_timeout = 2s
smtpd_upstream_proxy_timeout = 2s
$proxy_main
EOF
	local front
	case $mode in
	plain) front="127.0.0.1:$port inet n - n - - smtpd" ;;
	submission) front="127.0.0.1:$port inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_upstream_proxy_protocol=haproxy" ;;
	postscreen) front="127.0.0.1:$port inet n - n - 1 postscreen
smtpd     pass  -       -       n       -       -       smtpd
dnsblog   unix  -       -       n       -       0       dnsblog
tlsproxy  unix  -       -       n       -       0       tlsproxy" ;;
	esac
	# No chroot: the instance lives under a temp dir.
	cat >"$PF_CONF/master.cf" <<EOF
$front
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	# Output to a file, never $(...): a daemon keeping the pipe open would hang us.
	if ! timeout 30 postfix -c "$PF_CONF" start >"$dir/start.out" 2>&1; then
		diag_file "$dir/start.out"
		diag_file "$PF_LOG"
		bail "postfix ($mode) did not start"
	fi
	defer "stop_postfix '$PF_CONF' '$dir'"
	wait_listen 127.0.0.1 "$port" 10 || {
		diag_file "$PF_LOG"
		bail "postfix ($mode) does not listen on 127.0.0.1:$port"
	}
	trace "postfix $mode on 127.0.0.1:$port ($dir)"
}

stop_postfix() {
	local conf=$1 dir=$2 pid
	pid=$(tr -d ' ' <"$dir/queue/pid/master.pid" 2>/dev/null)
	timeout 10 postfix -c "$conf" stop >/dev/null 2>&1
	stop_pid "$pid" 5 TERM
	# Children of a killed master, if any.
	[ -n "$pid" ] && pkill -KILL -P "$pid" 2>/dev/null
	return 0
}

# swaks_send SERVER-ADDR PORT TOKEN [extra swaks args]: one mail to
# user@e2e.test from $CLIENT_ADDR, subject TOKEN. Output in $SWAKS_OUT.
swaks_send() {
	local host=$1 port=$2 token=$3
	shift 3
	SWAKS_OUT=$(timeout 30 swaks --server "$host:$port" --local-interface "$CLIENT_ADDR" \
		--helo client.e2e.test --from sender@example.net --to user@e2e.test \
		--header "Subject: $token" --body "e2e body $token" --timeout 15 "$@" 2>&1)
}

# mailbox_has TOKEN: the delivered mailbox holds a mail with that subject.
mailbox_has() { grep -q "^Subject: $1\$" "$PF_MAILBOX" 2>/dev/null; }

# postfix_mail_checks LISTENER MODE: sends a mail through the edge
# ($EDGE_PORT) from $CLIENT_ADDR and checks, each as one result: accepted,
# delivered, Postfix logged the client as 127.0.0.2 (postscreen too in
# postscreen MODE), the Received: header, and the edge's close line.
postfix_mail_checks() {
	local listener=$1 mode=$2 token line
	token="e2e-$mode-$$-$RANDOM"
	if swaks_send 127.0.0.1 "$EDGE_PORT" "$token"; then
		ok "swaks from $CLIENT_ADDR through the edge: mail accepted (250)"
	else
		not_ok "swaks from $CLIENT_ADDR through the edge: mail accepted (250)" "swaks failed"
		diag "$(tail -n 12 <<<"$SWAKS_OUT")"
	fi

	if wait_for 15 mailbox_has "$token"; then
		ok "mail delivered to the mailbox file"
	else
		not_ok "mail delivered to the mailbox file" "no '$token' in $PF_MAILBOX"
		diag_file "$PF_LOG" 20
	fi

	if [ "$mode" = postscreen ]; then
		if grep -qE "postfix/postscreen\[[0-9]+\]: CONNECT from \[127\.0\.0\.2\]:[0-9]+" "$PF_LOG"; then
			ok "postscreen logs CONNECT from [127.0.0.2]"
		else
			not_ok "postscreen logs CONNECT from [127.0.0.2]" "not in maillog"
			diag_file "$PF_LOG" 10 postscreen
		fi
	fi

	if grep -qE "postfix/(smtpd|submission/smtpd)\[[0-9]+\]: connect from [^ ]*\[127\.0\.0\.2\]" "$PF_LOG"; then
		ok "smtpd logs connect from ...[127.0.0.2]"
	else
		not_ok "smtpd logs connect from ...[127.0.0.2]" "not in maillog"
		diag_file "$PF_LOG" 10 "connect from"
	fi
	if grep -qE "connect from [^ ]*\[127\.0\.0\.1\]" "$PF_LOG"; then
		not_ok "Postfix never sees the edge's own address as client" "$(grep -m1 -E 'connect from [^ ]*\[127\.0\.0\.1\]' "$PF_LOG")"
	else
		ok "Postfix never sees the edge's own address as client"
	fi

	if grep -qE "^Received: from .*\[127\.0\.0\.2\]" "$PF_MAILBOX" 2>/dev/null; then
		ok "Received: header names [127.0.0.2]"
	else
		not_ok "Received: header names [127.0.0.2]" "$(grep -m1 '^Received:' "$PF_MAILBOX" 2>/dev/null)"
	fi

	wait_for 5 grep -qE "event=close .*client=127\.0\.0\.2:[0-9]+" "$EDGE_LOG"
	line=$(grep -E "event=close .*client=127\.0\.0\.2:[0-9]+" "$EDGE_LOG" | tail -n1)
	if [ -n "$line" ] && [ "$(kv "$line" listener)" = "$listener" ] &&
		[ "$(kv "$line" backend)" = "127.0.0.1:$PF_PORT" ] && [ "$(kv "$line" bytes_in)" -gt 0 ] 2>/dev/null; then
		ok "edge close line: listener=$listener backend=127.0.0.1:$PF_PORT bytes_in>0"
	else
		not_ok "edge close line: listener=$listener backend=127.0.0.1:$PF_PORT bytes_in>0" "${line:-no close line for client 127.0.0.2}"
		diag_file "$EDGE_LOG" 10
	fi
}

# ------------------------------------------------------------------ Dovecot

# start_dovecot DIR PORT [EXTRA-SETTINGS]: IMAP on 127.0.0.1:PORT with
# `haproxy = yes` and haproxy_trusted_networks = 127.0.0.1, one passwd-file
# user (user / secret). Sets DV_CONF, DV_LOG, DV_DIR.
start_dovecot() {
	local dir=$1 port=$2 extra=${3:-}
	DV_DIR=$dir
	DV_CONF=$dir/dovecot.conf
	DV_LOG=$dir/dovecot.log
	mkdir -p "$dir/run" "$dir/state" "$dir/home/user"
	chmod 755 "$dir"
	chown -R nobody:nogroup "$dir/home"
	echo "user:{PLAIN}secret:65534:65534::$dir/home/user" >"$dir/passwd"
	cat >"$DV_CONF" <<EOF
# Private Dovecot instance for a tailwart e2e scenario.
base_dir = $dir/run
state_dir = $dir/state
log_path = $DV_LOG
instance_name = dovecot-e2e-$port
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
haproxy_trusted_networks = 127.0.0.1
first_valid_uid = 100
mail_location = maildir:~/Maildir
login_greeting = e2e dovecot ready
$extra
passdb {
  driver = passwd-file
  args = scheme=PLAIN $dir/passwd
}
userdb {
  driver = passwd-file
  args = $dir/passwd
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $port
    haproxy = yes
  }
  inet_listener imaps {
    port = 0
  }
}
EOF
	if ! timeout 20 dovecot -c "$DV_CONF" >"$dir/start.out" 2>&1; then
		diag_file "$dir/start.out"
		bail "dovecot did not start"
	fi
	defer "stop_dovecot '$dir'"
	wait_listen 127.0.0.1 "$port" 10 || {
		diag_file "$DV_LOG"
		bail "dovecot does not listen on 127.0.0.1:$port"
	}
}

stop_dovecot() {
	local pid
	pid=$(cat "$1/run/master.pid" 2>/dev/null)
	stop_pid "$pid" 5 TERM
}

# ------------------------------------------------------------------ TLS, nginx

# gen_cert DIR NAME: self-signed cert DIR/NAME.crt + DIR/NAME.key for NAME;
# prints nothing; CERT_FP gets the sha256 of its DER form (lower-case hex).
gen_cert() {
	local dir=$1 name=$2
	timeout 30 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$dir/$name.key" -out "$dir/$name.crt" -days 2 -subj "/CN=$name" \
		-addext "subjectAltName=DNS:$name" >/dev/null 2>&1 || bail "openssl: no cert for $name"
	CERT_FP=$(openssl x509 -in "$dir/$name.crt" -outform DER | sha256sum | cut -d' ' -f1)
}

# start_nginx_sni DIR SITE...: one nginx, one TLS port per site. SITE is
# NAME=PORT or NAME=PORT=proxy (that port expects a PROXY header). Each site
# answers "site NAME" and has its own certificate DIR/NAME.crt; the access log
# records the PROXY source. Sets NGX_DIR, NGX_ACCESS, NGX_ERROR.
start_nginx_sni() {
	local dir=$1 site name port pp
	shift
	NGX_DIR=$dir
	NGX_ACCESS=$dir/access.log
	NGX_ERROR=$dir/error.log
	mkdir -p "$dir/tmp"
	chmod 755 "$dir"
	local servers=""
	for site in "$@"; do
		IFS='=' read -r name port pp <<<"$site"
		gen_cert "$dir" "$name"
		servers+="
    server {
        listen 127.0.0.1:$port ssl${pp:+ proxy_protocol};
        server_name $name;
        ssl_certificate $dir/$name.crt;
        ssl_certificate_key $dir/$name.key;
        location / { return 200 \"site $name\\n\"; }
    }"
	done
	cat >"$dir/nginx.conf" <<EOF
# Private nginx for a tailwart e2e scenario.
daemon on;
pid $dir/nginx.pid;
error_log $NGX_ERROR info;
worker_processes 1;
events { worker_connections 512; }
http {
    log_format e2e '\$remote_addr pp=\$proxy_protocol_addr:\$proxy_protocol_port sni=\$ssl_server_name host=\$host "\$request" \$status';
    access_log $NGX_ACCESS e2e;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    default_type text/plain;
$servers
}
EOF
	if ! timeout 20 nginx -p "$dir" -c "$dir/nginx.conf" -e "$NGX_ERROR" >"$dir/start.out" 2>&1; then
		diag_file "$dir/start.out"
		bail "nginx did not start"
	fi
	defer "stop_pid \$(cat '$dir/nginx.pid' 2>/dev/null) 5 TERM"
	for site in "$@"; do
		IFS='=' read -r name port pp <<<"$site"
		wait_listen 127.0.0.1 "$port" 10 || {
			diag_file "$NGX_ERROR"
			bail "nginx does not listen on 127.0.0.1:$port"
		}
	done
}

# ------------------------------------------------------------------ HAProxy

# start_haproxy CFG: a daemonized HAProxy (as a backend server, not the edge).
start_haproxy() {
	local cfg=$1 pidf=$1.pid
	if ! timeout 20 haproxy -f "$cfg" -D -p "$pidf" >"$cfg.start.out" 2>&1; then
		diag_file "$cfg.start.out"
		bail "haproxy ($cfg) did not start"
	fi
	defer "stop_pid \$(head -n1 '$pidf' 2>/dev/null) 5 TERM"
}

# ------------------------------------------------------------------ the edge

# edge_write FILE [rename|inplace]: the YAML on stdin becomes the edge's
# config. rename (default) writes a temp file and renames it over FILE, as
# editors and config tools do; inplace truncates and rewrites the same inode.
# For the HAProxy stand-in the same file is rendered to FILE.haproxy.cfg.
edge_write() {
	local f=$1 how=${2:-rename}
	if [ "$how" = inplace ]; then
		cat >"$f"
	else
		cat >"$f.tmp.$$" && chmod 644 "$f.tmp.$$" && mv -f "$f.tmp.$$" "$f"
	fi
	chmod 644 "$f"
	# Keep the admin port start_edge picked: changing admin.bind needs a
	# restart, so a rewrite without it would be refused on reload.
	if is_tailwart && [ -n "${EDGE_ADMIN_PORT:-}" ] && ! grep -q '^admin:' "$f"; then
		printf '\nadmin: { bind: "127.0.0.1:%s" }\n' "$EDGE_ADMIN_PORT" >>"$f"
	fi
	if is_tailwart && [ -n "${EDGE_STATE:-}" ] && ! grep -q '^state:' "$f"; then
		printf 'state: "%s"\n' "$EDGE_STATE" >>"$f"
	fi
	if ! is_tailwart; then
		twpy yaml2haproxy "$f" "$f.haproxy.cfg" || return 1
	fi
}

# start_edge CONFIG [VAR=VALUE...]: runs the edge in the foreground of its
# own session (in $EDGE_NETNS if set), stderr to $EDGE_LOG, and waits until
# every `bind:` of CONFIG listens. Sets EDGE_PID, EDGE_LOG, EDGE_CONF.
# Returns 1 (after diagnostics) when it did not come up.
start_edge() {
	local conf=$1 h p
	shift
	EDGE_CONF=$conf
	EDGE_LOG=${EDGE_LOG_FILE:-$T_DIR/edge.log}
	local envs=("$@")
	if is_tailwart; then
		# Each edge gets its own admin port unless the scenario chose one
		# (the default 127.0.0.1:9180 would clash between instances).
		if ! grep -q '^admin:' "$conf"; then
			EDGE_ADMIN_PORT=$(freeport)
			printf '\nadmin: { bind: "127.0.0.1:%s" }\n' "$EDGE_ADMIN_PORT" >>"$conf"
		fi
		# And its own state store, never the machine's.
		if ! grep -q '^state:' "$conf"; then
			EDGE_STATE=$T_DIR/state-$(basename "$conf" .yaml).db
			printf 'state: "%s"\n' "$EDGE_STATE" >>"$conf"
		fi
		SPAWN_NS=$EDGE_NETNS spawn "$EDGE_LOG" env "${envs[@]}" "$TAILWART" edge -c "$conf"
	else
		[ -f "$conf.haproxy.cfg" ] || twpy yaml2haproxy "$conf" "$conf.haproxy.cfg"
		SPAWN_NS=$EDGE_NETNS spawn "$EDGE_LOG" env "${envs[@]}" haproxy -W -db -f "$conf.haproxy.cfg"
	fi
	EDGE_PID=$SPAWN_PID
	while read -r h p; do
		if ! wait_listen "$h" "$p" 10 "$EDGE_NETNS"; then
			echo "#   edge does not listen on $h:$p (pid $EDGE_PID $(pid_alive "$EDGE_PID" && echo running || echo exited))"
			diag_file "$EDGE_LOG" 20
			return 1
		fi
	done < <(twpy binds "$conf")
	trace "edge $EDGE_IMPL pid $EDGE_PID"
	return 0
}

# edge_reload: SIGHUP (tailwart) / SIGUSR2 to the master (HAProxy stand-in).
edge_reload() {
	if is_tailwart; then
		kill -HUP "$EDGE_PID" 2>/dev/null
	else
		kill -USR2 "$EDGE_PID" 2>/dev/null
	fi
}

# edge_graceful_stop: SIGTERM (tailwart drains) / SIGUSR1 (HAProxy soft stop).
edge_graceful_stop() {
	if is_tailwart; then
		kill -TERM "$EDGE_PID" 2>/dev/null
	else
		kill -USR1 "$EDGE_PID" 2>/dev/null
	fi
}

# kv LINE KEY: the value of key=value in a log line.
kv() { grep -oE "(^| )$2=[^ ]*" <<<"$1" | head -n1 | sed "s/^ *$2=//"; }

# edge_close_line CPORT [CLIENT-ADDR]: the edge's close line for the client
# connection from CLIENT-ADDR:CPORT (empty when none yet).
edge_close_line() {
	local cport=$1 caddr=${2:-$CLIENT_ADDR}
	grep -E "event=close .*client=\[?${caddr//./\\.}\]?:$cport( |\$)" "$EDGE_LOG" 2>/dev/null | tail -n1
}

# wait_close_line CPORT [SECONDS]: waits for it, prints it.
wait_close_line() {
	local cport=$1 secs=${2:-5} line end
	end=$(($(now_ms) + secs * 1000))
	while :; do
		line=$(edge_close_line "$cport")
		[ -n "$line" ] && {
			echo "$line"
			return 0
		}
		[ "$(now_ms)" -ge "$end" ] && return 1
		sleep 0.1
	done
}

# ------------------------------------------------------------------ namespaces

# netns_create NAME: a fresh namespace with lo up; deleted at exit, with its
# /etc/netns/NAME (files there replace /etc ones for `ip netns exec`).
netns_create() {
	local ns=$1
	ip netns del "$ns" 2>/dev/null
	ip netns add "$ns" || bail "cannot create network namespace $ns"
	defer "netns_delete $ns"
	ip -n "$ns" link set lo up
}

netns_delete() {
	local ns=$1 pid
	for pid in $(ip netns pids "$ns" 2>/dev/null); do stop_pid "$pid" 2 TERM; done
	ip netns del "$ns" 2>/dev/null
	rm -rf "/etc/netns/$ns"
	rmdir /etc/netns 2>/dev/null
	return 0
}

# netns_hosts NAME: stdin becomes /etc/hosts inside NAME, written in place
# (`ip netns exec` bind-mounts the file, so a rename would not be seen).
netns_hosts() {
	mkdir -p "/etc/netns/$1"
	cat >"/etc/netns/$1/hosts"
}

# ------------------------------------------------------------------ tw.py

_e2e_write_tool() {
	cat >"$T_DIR/tw.py" <<'PYEOF'
"""tw.py - clients and servers for the tailwart end-to-end scenarios.

Written out by tests/e2e/lib.sh into each scenario's temp dir; run it as
`python3 tw.py SUBCOMMAND ...`. Every client binds to the address given with
--bind so the edge's view of the client is distinguishable from the edge's
own address. Only loopback or test-namespace addresses are ever used.

Test server protocol (after an optional PROXY v1/v2 header, detected):
  TAG\n            -> one line describing the connection, then echo to EOF
  ECHO\n           -> echo everything until EOF
  SINK\n           -> read to EOF, reply "<bytes> <sha256>\n"
  SOURCE n seed\n  -> send n bytes of pattern(seed), then half-close
  0x16...          -> a TLS ClientHello: reply the TAG line and close
"""
import argparse
import asyncio
import hashlib
import ipaddress
import json
import os
import random
import socket
import ssl
import struct
import sys
import threading
import time

V2SIG = b"\r\n\r\n\x00\r\nQUIT\n"
PATTERN_LEN = 1048573  # prime, so chunk reorders never line up with it


def split_hostport(s):
    if s.startswith("["):
        host, _, port = s[1:].partition("]:")
    else:
        host, _, port = s.rpartition(":")
    return host, int(port)


def fmt_addr(a):
    if a is None:
        return "-"
    host, port = a[0], a[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class Pattern:
    """A deterministic byte stream: a random block repeated (prime length)."""

    def __init__(self, seed):
        blk = random.Random(seed).randbytes(PATTERN_LEN)
        self.block2 = memoryview(blk + blk)

    def chunk(self, pos, n):
        if n > PATTERN_LEN:
            raise ValueError("chunk larger than the pattern")
        o = pos % PATTERN_LEN
        return self.block2[o : o + n]


_patterns = {}


def pattern(seed):
    p = _patterns.get(seed)
    if p is None:
        p = _patterns[seed] = Pattern(seed)
    return p


# ---------------------------------------------------------------- server side


class Conn:
    """Buffered reader over a blocking socket."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def fill(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                return False
            self.buf += d
        return True

    def take(self, n):
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def line(self, limit=4096):
        while b"\n" not in self.buf:
            if len(self.buf) > limit:
                return None
            d = self.s.recv(65536)
            if not d:
                return None
            self.buf += d
        i = self.buf.index(b"\n")
        return self.take(i + 1)


def parse_proxy(c):
    """Returns dict(version, src, dst, tlvs) or None when no header."""
    if not c.fill(1):
        return None
    if c.buf[:1] == b"\r":
        if not c.fill(16):
            raise ValueError("short v2 header")
        if c.buf[:12] != V2SIG:
            raise ValueError("bad v2 signature")
        ver_cmd, fam, ln = c.buf[12], c.buf[13], struct.unpack("!H", c.buf[14:16])[0]
        if not c.fill(16 + ln):
            raise ValueError("short v2 body")
        hdr = c.take(16 + ln)
        body = hdr[16:]
        info = {"version": "v2", "cmd": "proxy" if ver_cmd & 0xF else "local", "src": None,
                "dst": None, "tlvs": {}}
        off = 0
        if fam >> 4 == 1:
            s, d, sp, dp = struct.unpack("!4s4sHH", body[:12])
            info["src"] = (socket.inet_ntop(socket.AF_INET, s), sp)
            info["dst"] = (socket.inet_ntop(socket.AF_INET, d), dp)
            off = 12
        elif fam >> 4 == 2:
            s, d, sp, dp = struct.unpack("!16s16sHH", body[:36])
            info["src"] = (socket.inet_ntop(socket.AF_INET6, s), sp)
            info["dst"] = (socket.inet_ntop(socket.AF_INET6, d), dp)
            off = 36
        while off + 3 <= len(body):
            t, l = body[off], struct.unpack("!H", body[off + 1 : off + 3])[0]
            v = body[off + 3 : off + 3 + l]
            info["tlvs"][f"0x{t:02x}"] = v.decode("latin-1")
            off += 3 + l
        return info
    if c.buf[:1] == b"P":
        if not c.fill(6):
            return None
        if c.buf[:6] != b"PROXY ":
            return None
        ln = c.line(108)
        if ln is None or not ln.endswith(b"\r\n"):
            raise ValueError("bad v1 header")
        parts = ln.decode().split()
        info = {"version": "v1", "cmd": parts[1], "src": None, "dst": None, "tlvs": {}}
        if parts[1] in ("TCP4", "TCP6"):
            info["src"] = (parts[2], int(parts[4]))
            info["dst"] = (parts[3], int(parts[5]))
        return info
    return None


class Server:
    def __init__(self, args):
        self.tag = args.tag
        self.logf = open(args.log, "a", buffering=1) if args.log else sys.stdout
        self.lock = threading.Lock()
        self.socks = []
        for spec in args.listen:
            host, port = split_hostport(spec)
            s = socket.socket(family_of(host), socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if ":" in host:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((host, port))
            s.listen(4096)
            self.socks.append(s)

    def log(self, **kv):
        line = " ".join(f"{k}={v}" for k, v in kv.items())
        with self.lock:
            self.logf.write(line + "\n")

    def run(self):
        for s in self.socks:
            threading.Thread(target=self.accept_loop, args=(s,), daemon=True).start()
        self.log(event="ready", tag=self.tag, listen=",".join(fmt_addr(s.getsockname()) for s in self.socks))
        while True:
            time.sleep(3600)

    def accept_loop(self, ls):
        while True:
            try:
                s, peer = ls.accept()
            except OSError:
                continue
            threading.Thread(target=self.handle, args=(s,), daemon=True).start()

    def tagline(self, s, px):
        src = fmt_addr(px["src"]) if px else "-"
        dst = fmt_addr(px["dst"]) if px else "-"
        ver = px["version"] if px else "none"
        tlv = ",".join(sorted(px["tlvs"])) if px and px["tlvs"] else "-"
        return (f"tag={self.tag} local={fmt_addr(s.getsockname())} peer={fmt_addr(s.getpeername())} "
                f"proxy={ver} src={src} dst={dst} tlvs={tlv}")

    def handle(self, s):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c = Conn(s)
        t0 = time.monotonic()
        try:
            peer = s.getpeername()
            px = parse_proxy(c)
            if not c.fill(1):
                self.log(event="conn", tag=self.tag, mode="empty", peer=fmt_addr(peer),
                         src=fmt_addr(px["src"]) if px else "-")
                return
            if c.buf[:1] == b"\x16":
                line = self.tagline(s, px)
                s.sendall(line.encode() + b"\n")
                self.log(event="conn", tag=self.tag, mode="tls", **dict(kv.split("=", 1) for kv in line.split()[1:]))
                return
            cmd = c.line()
            if cmd is None:
                self.log(event="conn", tag=self.tag, mode="garbage", peer=fmt_addr(peer))
                return
            w = cmd.decode(errors="replace").split()
            h = hashlib.sha256()
            n = 0
            if w[0] == "TAG" or w[0] == "ECHO":
                if w[0] == "TAG":
                    line = self.tagline(s, px)
                    s.sendall(line.encode() + b"\n")
                if c.buf:
                    h.update(c.buf)
                    n += len(c.buf)
                    s.sendall(c.buf)
                    c.buf = b""
                while True:
                    d = s.recv(1 << 18)
                    if not d:
                        break
                    h.update(d)
                    n += len(d)
                    s.sendall(d)
                s.shutdown(socket.SHUT_WR)
            elif w[0] == "SINK":
                if c.buf:
                    h.update(c.buf)
                    n += len(c.buf)
                buf = bytearray(1 << 19)
                mv = memoryview(buf)
                while True:
                    k = s.recv_into(buf)
                    if not k:
                        break
                    h.update(mv[:k])
                    n += k
                s.sendall(f"{n} {h.hexdigest()}\n".encode())
                s.shutdown(socket.SHUT_WR)
            elif w[0] == "SOURCE":
                total, seed = int(w[1]), int(w[2])
                p = pattern(seed)
                while n < total:
                    ch = p.chunk(n, min(1 << 19, total - n))
                    s.sendall(ch)
                    h.update(ch)
                    n += len(ch)
                s.shutdown(socket.SHUT_WR)
                while s.recv(65536):
                    pass
            else:
                s.sendall(b"ERR unknown command\n")
            self.log(event="conn", tag=self.tag, mode=w[0].lower(), peer=fmt_addr(peer),
                     src=fmt_addr(px["src"]) if px else "-", proxy=px["version"] if px else "none",
                     bytes=n, sha256=h.hexdigest(), ms=int((time.monotonic() - t0) * 1000))
        except Exception as e:  # a broken connection is data for the test, not a crash
            self.log(event="error", tag=self.tag, error=repr(e).replace(" ", "_"))
        finally:
            try:
                s.close()
            except OSError:
                pass


def cmd_serve(args):
    Server(args).run()


# ---------------------------------------------------------------- client side


def connect(host, port, bind=None, timeout=10.0):
    s = socket.socket(family_of(host), socket.SOCK_STREAM)
    s.settimeout(timeout)
    if bind:
        s.bind((bind, 0))
    s.connect((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def client_hello(name, alpn=None):
    """The bytes of a real ClientHello for `name`, from Python's ssl."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def recv_line(s, limit=65536):
    buf = b""
    while b"\n" not in buf and len(buf) < limit:
        d = s.recv(4096)
        if not d:
            break
        buf += d
    return buf


def cmd_probe(args):
    t0 = time.monotonic()
    try:
        s = connect(args.host, args.port, args.bind, args.timeout)
    except OSError as e:
        print(f"connect_error={e.__class__.__name__} errno={e.errno}")
        return 2
    cport = s.getsockname()[1]
    try:
        if args.sni:
            s.sendall(client_hello(args.sni))
        else:
            s.sendall(b"TAG\n")
        line = recv_line(s)
    except OSError as e:
        print(f"error={e.__class__.__name__} cport={cport}")
        return 1
    ms = int((time.monotonic() - t0) * 1000)
    s.close()
    if not line.endswith(b"\n"):
        print(f"closed=1 got={line[:60]!r} cport={cport} ms={ms}")
        return 1
    print(f"{line.decode().strip()} cport={cport} ms={ms}")
    return 0


def cmd_up(args):
    """SINK: send BYTES of pattern, half-close, compare the server's count+sha."""
    s = connect(args.host, args.port, args.bind, 60)
    print(f"cport={s.getsockname()[1]}", file=sys.stderr, flush=True)
    p = pattern(args.seed)
    h = hashlib.sha256()
    t0 = time.monotonic()
    s.sendall(b"SINK\n")
    n = 0
    while n < args.bytes:
        ch = p.chunk(n, min(1 << 19, args.bytes - n))
        s.sendall(ch)
        h.update(ch)
        n += len(ch)
    s.shutdown(socket.SHUT_WR)
    reply = recv_line(s).decode().split()
    secs = time.monotonic() - t0
    mine = h.hexdigest()
    ok = len(reply) == 2 and int(reply[0]) == n and reply[1] == mine
    print(f"{'match' if ok else 'MISMATCH'} sent={n} sha256={mine} server={' '.join(reply) or '-'} "
          f"secs={secs:.2f} MiB/s={n / secs / 1048576:.0f}")
    return 0 if ok else 1


def cmd_down(args):
    """SOURCE: receive BYTES of pattern, check every byte, print sha256."""
    s = connect(args.host, args.port, args.bind, 60)
    print(f"cport={s.getsockname()[1]}", file=sys.stderr, flush=True)
    p = pattern(args.seed)
    h = hashlib.sha256()
    t0 = time.monotonic()
    s.sendall(f"SOURCE {args.bytes} {args.seed}\n".encode())
    buf = bytearray(1 << 19)
    mv = memoryview(buf)
    n = 0
    bad_at = -1
    while True:
        k = s.recv_into(buf)
        if not k:
            break
        if bad_at < 0 and mv[:k] != p.chunk(n, k):
            bad_at = n
        h.update(mv[:k])
        n += k
    secs = time.monotonic() - t0
    ok = n == args.bytes and bad_at < 0
    print(f"{'match' if ok else 'MISMATCH'} received={n} expected={args.bytes} first_bad={bad_at} "
          f"sha256={h.hexdigest()} secs={secs:.2f} MiB/s={n / max(secs, 1e-6) / 1048576:.0f}")
    return 0 if ok else 1


def cmd_echo(args):
    """ECHO at a paced rate; verifies the echo byte for byte."""
    try:
        s = connect(args.host, args.port, args.bind, args.timeout)
    except OSError as e:
        print(f"connect_error={e.__class__.__name__} errno={e.errno}", flush=True)
        return 2
    print(f"cport={s.getsockname()[1]}", flush=True)
    p = pattern(args.seed)
    s.sendall(b"ECHO\n")
    got = {"n": 0, "bad": -1, "err": None}

    def reader():
        buf = bytearray(1 << 18)
        mv = memoryview(buf)
        try:
            while True:
                k = s.recv_into(buf)
                if not k:
                    break
                if got["bad"] < 0 and mv[:k] != p.chunk(got["n"], k):
                    got["bad"] = got["n"]
                got["n"] += k
        except OSError as e:
            got["err"] = e.__class__.__name__

    th = threading.Thread(target=reader)
    th.start()
    t0 = time.monotonic()
    n = 0
    err = None
    try:
        while n < args.bytes:
            k = min(args.chunk, args.bytes - n)
            s.sendall(p.chunk(n, k))
            n += k
            if args.rate:
                ahead = n / args.rate - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
        s.shutdown(socket.SHUT_WR)
    except OSError as e:
        err = e.__class__.__name__
    th.join(args.timeout)
    secs = time.monotonic() - t0
    ok = err is None and got["err"] is None and got["n"] == args.bytes and got["bad"] < 0
    print(f"{'match' if ok else 'MISMATCH'} sent={n} echoed={got['n']} first_bad={got['bad']} "
          f"send_error={err or '-'} recv_error={got['err'] or '-'} secs={secs:.2f}", flush=True)
    return 0 if ok else 1


async def _echo_conn(host, port, bind, nbytes, seed, barrier_evt, counters, hold, sem):
    p = pattern(seed)
    try:
        async with sem:
            r, w = await asyncio.wait_for(
                asyncio.open_connection(host, port, local_addr=(bind, 0) if bind else None), 20)
    except Exception as e:
        counters["connect_fail"] += 1
        counters.setdefault("errors", {}).setdefault(e.__class__.__name__, 0)
        counters["errors"][e.__class__.__name__] += 1
        if counters["connected"] + counters["connect_fail"] >= counters["want"]:
            barrier_evt.set()
        return False
    counters["connected"] += 1
    counters["peak"] = max(counters["peak"], counters["connected"] - counters["done"])
    try:
        if counters["connected"] + counters["connect_fail"] >= counters["want"]:
            barrier_evt.set()
        await asyncio.wait_for(barrier_evt.wait(), hold)
        w.write(b"ECHO\n")
        w.write(bytes(p.chunk(0, nbytes)))
        await w.drain()
        w.write_eof()
        data = await asyncio.wait_for(r.read(-1), 60)
        ok = data == bytes(p.chunk(0, nbytes))
    except Exception as e:
        counters.setdefault("errors", {}).setdefault(e.__class__.__name__, 0)
        counters["errors"][e.__class__.__name__] += 1
        ok = False
    finally:
        counters["done"] += 1
        w.close()
    counters["ok" if ok else "bad"] += 1
    return ok


async def _many(args):
    counters = {"want": args.n, "connected": 0, "done": 0, "peak": 0, "ok": 0, "bad": 0,
                "connect_fail": 0}
    evt = asyncio.Event()
    sem = asyncio.Semaphore(args.parallel_connects)

    async def one(i):
        return await _echo_conn(args.host, args.port, args.bind, args.bytes, 7, evt, counters,
                                args.hold, sem)

    t0 = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(args.n)))
    counters["secs"] = round(time.monotonic() - t0, 2)
    return counters


def cmd_many(args):
    c = asyncio.run(_many(args))
    ok = c["ok"] == args.n
    print(("ok " if ok else "FAIL ") + json.dumps(c, sort_keys=True))
    return 0 if ok else 1


async def _stream(args):
    """Long-lived echo streams plus a churn of short TAG probes until the stop file exists."""
    p = pattern(11)
    st = {"long_ok": 0, "long_bad": 0, "long_bytes": 0, "churn_ok": 0, "churn_bad": 0,
          "churn_errors": {}, "long_errors": {}}
    stop = asyncio.Event()

    async def watch():
        while not os.path.exists(args.stop_file):
            await asyncio.sleep(0.05)
        stop.set()

    async def long_conn(i):
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection(
                args.host, args.port, local_addr=(args.bind, 0) if args.bind else None), 10)
        except Exception as e:
            st["long_errors"][e.__class__.__name__] = st["long_errors"].get(e.__class__.__name__, 0) + 1
            st["long_bad"] += 1
            return
        w.write(b"ECHO\n")
        sent = 0
        recvd = 0
        bad = False

        async def reader():
            nonlocal recvd, bad
            while True:
                d = await r.read(65536)
                if not d:
                    return
                if not bad and d != bytes(p.chunk(recvd, len(d))):
                    bad = True
                recvd += len(d)

        rt = asyncio.create_task(reader())
        try:
            while not stop.is_set():
                k = args.chunk
                w.write(bytes(p.chunk(sent, k)))
                sent += k
                await w.drain()
                await asyncio.sleep(args.interval)
            w.write_eof()
            await asyncio.wait_for(rt, 30)
        except Exception as e:
            st["long_errors"][e.__class__.__name__] = st["long_errors"].get(e.__class__.__name__, 0) + 1
            err = e.__class__.__name__
        else:
            err = None
        w.close()
        st["long_bytes"] += recvd
        if bad or err or recvd != sent:
            st["long_bad"] += 1
            if len(st.setdefault("long_detail", [])) < 5:
                st["long_detail"].append(f"conn{i} sent={sent} echoed={recvd} corrupt={bad} error={err}")
        else:
            st["long_ok"] += 1

    async def churn(target):
        host, port, sni = target
        while not stop.is_set():
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection(
                    host, port, local_addr=(args.bind, 0) if args.bind else None), 5)
                w.write(client_hello(sni) if sni else b"TAG\n")
                await w.drain()
                line = await asyncio.wait_for(r.readline(), 5)
                w.close()
                if line.startswith(b"tag="):
                    st["churn_ok"] += 1
                else:
                    st["churn_bad"] += 1
                    st["churn_errors"]["closed"] = st["churn_errors"].get("closed", 0) + 1
            except Exception as e:
                st["churn_bad"] += 1
                st["churn_errors"][e.__class__.__name__] = st["churn_errors"].get(e.__class__.__name__, 0) + 1
            await asyncio.sleep(args.churn_interval)

    targets = []
    for t in args.churn:
        hp, _, sni = t.partition("/")
        h, pt = split_hostport(hp)
        targets.append((h, pt, sni or None))
    w = asyncio.create_task(watch())
    tasks = [asyncio.create_task(long_conn(i)) for i in range(args.conns)]
    await asyncio.sleep(0.5)
    open(args.ready_file, "w").close()
    tasks += [asyncio.create_task(churn(t)) for t in targets]
    await asyncio.gather(*tasks)
    w.cancel()
    return st


def cmd_stream(args):
    st = asyncio.run(_stream(args))
    ok = st["long_ok"] == args.conns and st["long_bad"] == 0 and st["churn_bad"] == 0
    print(("ok " if ok else "FAIL ") + json.dumps(st, sort_keys=True))
    return 0 if ok else 1


def cmd_imap(args):
    import imaplib

    class I(imaplib.IMAP4):
        def _create_socket(self, timeout):
            return connect(self.host, self.port, args.bind, 10)

    try:
        m = I(args.host, args.port)
    except Exception as e:
        print(f"connect_failed {e!r}")
        return 2
    caps = " ".join(m.capabilities)
    try:
        typ, data = m.login(args.user, args.password)
    except Exception as e:
        print(f"login=refused reason={e!r} caps={caps}")
        return 0 if args.expect == "refused" else 1
    typ2, data2 = m.select("INBOX")
    m.logout()
    print(f"login={typ} select={typ2} exists={data2[0].decode() if data2 else '-'} caps={caps}")
    if args.expect == "refused":
        return 1
    return 0 if typ == "OK" and typ2 == "OK" else 1


def cmd_tls_fp(args):
    """sha256 of the leaf certificate the server presents for `name`."""
    s = connect(args.host, args.port, args.bind, 10)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        t = ctx.wrap_socket(s, server_hostname=args.name)
    except (ssl.SSLError, OSError) as e:
        print(f"handshake_failed {e.__class__.__name__}")
        return 1
    der = t.getpeercert(binary_form=True)
    print(hashlib.sha256(der).hexdigest())
    t.close()
    return 0


def cmd_freeport(args):
    """Free TCP ports below the ephemeral range, free on every address."""
    got = []
    rnd = random.Random(os.getpid() ^ int(time.time() * 1000))
    lo, hi = args.range
    while len(got) < args.n:
        p = rnd.randrange(lo, hi)
        if p in got:
            continue
        try:
            for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
                s = socket.socket(fam, socket.SOCK_STREAM)
                try:
                    if fam == socket.AF_INET6:
                        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    s.bind((addr, p))
                finally:
                    s.close()
        except OSError:
            continue
        got.append(p)
    print(" ".join(map(str, got)))
    return 0


def load_yaml(path):
    import yaml

    with open(path) as f:
        return yaml.safe_load(f)


def cmd_binds(args):
    """Prints "host port" for every bind of the edge config."""
    c = load_yaml(args.config)
    for l in c.get("listeners") or []:
        for b in l.get("bind") or []:
            h, p = split_hostport(b)
            print(h, p)
    return 0


def dur_ms(v, default):
    if v is None:
        return default
    v = str(v)
    for suf, mul in (("ms", 1), ("s", 1000), ("m", 60000), ("h", 3600000)):
        if v.endswith(suf) and v[: -len(suf)].replace(".", "").isdigit():
            return int(float(v[: -len(suf)]) * mul)
    return int(v)


def cmd_yaml2haproxy(args):
    """The HAProxy stand-in: the same edge config rendered for HAProxy."""
    c = load_yaml(args.config)
    t = c.get("timeouts") or {}
    out = ["global", "  log stdout format raw local0", "  maxconn 4000"]
    if c.get("user"):
        out.append(f"  user {c['user']}")
    drain = dur_ms(t.get("drain"), 30000)
    out.append(f"  hard-stop-after {drain}ms")
    out += ["defaults", "  mode tcp", "  log global",
            f"  timeout connect {dur_ms(t.get('connect'), 5000)}ms",
            f"  timeout client {dur_ms(t.get('tcp_idle'), 300000)}ms",
            f"  timeout server {dur_ms(t.get('tcp_idle'), 300000)}ms",
            "  log-format \"conn=%pid.%Ts%ms event=close listener=%f client=%ci:%cp route=%b "
            "backend=%si:%sp bytes_in=%U bytes_out=%B dur_ms=%Tt end=%ts\""]
    for l in c.get("listeners") or []:
        out.append(f"frontend {l['name']}")
        for b in l.get("bind") or []:
            h, p = split_hostport(b)
            out.append(f"  bind {'ipv6@' if ':' in h else ''}{h}:{p}")
        if l.get("protocol") == "tls":
            out += ["  tcp-request inspect-delay 5s",
                    "  tcp-request content accept if { req_ssl_hello_type 1 }"]
            for pat, be in (l.get("sni") or {}).items():
                if pat.startswith("*."):
                    out.append(f"  use_backend {be} if {{ req_ssl_sni -m end {pat[1:]} }}")
                else:
                    out.append(f"  use_backend {be} if {{ req_ssl_sni -i {pat} }}")
            if l.get("default"):
                out.append(f"  default_backend {l['default']}")
        if l.get("backend"):
            out.append(f"  default_backend {l['backend']}")
    for name, b in (c.get("backends") or {}).items():
        out.append(f"backend {name}")
        px = {"v1": " send-proxy", "v2": " send-proxy-v2"}.get(str(b.get("proxy_protocol", "")), "")
        for i, s in enumerate(b.get("servers") or []):
            h, p = split_hostport(s)
            out.append(f"  server s{i} {h}:{p}{px}")
    with open(args.out, "w") as f:
        f.write("\n".join(out) + "\n")
    return 0


def main():
    ap = argparse.ArgumentParser(prog="tw.py")
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("serve")
    p.add_argument("--listen", action="append", required=True)
    p.add_argument("--tag", default="srv")
    p.add_argument("--log")
    p.set_defaults(fn=cmd_serve)

    def hp(p):
        p.add_argument("host")
        p.add_argument("port", type=int)
        p.add_argument("--bind")

    p = sub.add_parser("probe")
    hp(p)
    p.add_argument("--sni")
    p.add_argument("--timeout", type=float, default=5)
    p.set_defaults(fn=cmd_probe)

    for name, fn in (("up", cmd_up), ("down", cmd_down)):
        p = sub.add_parser(name)
        hp(p)
        p.add_argument("bytes", type=int)
        p.add_argument("--seed", type=int, default=1)
        p.set_defaults(fn=fn)

    p = sub.add_parser("echo")
    hp(p)
    p.add_argument("bytes", type=int)
    p.add_argument("--rate", type=float, default=0, help="bytes per second, 0: unpaced")
    p.add_argument("--chunk", type=int, default=65536)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--timeout", type=float, default=60)
    p.set_defaults(fn=cmd_echo)

    p = sub.add_parser("many")
    hp(p)
    p.add_argument("n", type=int)
    p.add_argument("bytes", type=int)
    p.add_argument("--parallel-connects", type=int, default=200)
    p.add_argument("--hold", type=float, default=30)
    p.set_defaults(fn=cmd_many)

    p = sub.add_parser("stream")
    hp(p)
    p.add_argument("--conns", type=int, default=100)
    p.add_argument("--chunk", type=int, default=8192)
    p.add_argument("--interval", type=float, default=0.05)
    p.add_argument("--churn", action="append", default=[], help="HOST:PORT[/SNI]")
    p.add_argument("--churn-interval", type=float, default=0.03)
    p.add_argument("--stop-file", required=True)
    p.add_argument("--ready-file", required=True)
    p.set_defaults(fn=cmd_stream)

    p = sub.add_parser("imap")
    hp(p)
    p.add_argument("user")
    p.add_argument("password")
    p.add_argument("--expect", choices=["login", "refused"], default="login")
    p.set_defaults(fn=cmd_imap)

    p = sub.add_parser("tls-fp")
    hp(p)
    p.add_argument("name")
    p.set_defaults(fn=cmd_tls_fp)

    p = sub.add_parser("freeport")
    p.add_argument("n", type=int, nargs="?", default=1)
    p.add_argument("--range", type=int, nargs=2, default=(20000, 32000))
    p.set_defaults(fn=cmd_freeport)

    p = sub.add_parser("binds")
    p.add_argument("config")
    p.set_defaults(fn=cmd_binds)

    p = sub.add_parser("yaml2haproxy")
    p.add_argument("config")
    p.add_argument("out")
    p.set_defaults(fn=cmd_yaml2haproxy)

    args = ap.parse_args()
    sys.exit(args.fn(args) or 0)


if __name__ == "__main__":
    main()
PYEOF
}

# ------------------------------------------------------------------ process accounting
# (added for t_load.sh; the helpers above are unchanged)

# raise_nofile N: this shell's open-file limits (soft and hard) to at least
# N; what it starts from now on inherits them. Raising the hard limit needs
# CAP_SYS_RESOURCE: without it the soft limit goes up to the hard one and
# the call returns 1 (`ulimit -Hn` says how far it got).
raise_nofile() {
	local n=$1 hard
	hard=$(ulimit -Hn)
	if [ "$hard" != unlimited ] && [ "$hard" -lt "$n" ]; then
		ulimit -Hn "$n" 2>/dev/null || {
			ulimit -Sn "$hard"
			return 1
		}
	fi
	[ "$(ulimit -Sn)" = unlimited ] || [ "$(ulimit -Sn)" -ge "$n" ] || ulimit -Sn "$n"
}

# proc_fds PID [KIND]: how many descriptors PID has open; KIND counts only
# those of one kind: socket, pipe, anon_inode, or file (everything else).
proc_fds() {
	local pid=$1 kind=${2:-}
	[ -d "/proc/$pid/fd" ] || {
		echo 0
		return 1
	}
	if [ -z "$kind" ]; then
		find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l
		return 0
	fi
	find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 -printf '%l\n' 2>/dev/null |
		awk -v k="$kind" '{t = $0 ~ /^socket:/ ? "socket" : $0 ~ /^pipe:/ ? "pipe" : $0 ~ /^anon_inode:/ ? "anon_inode" : "file"} t == k {n++} END {print n + 0}'
}

# proc_kb PID FIELD: a /proc/PID/status field in kB (VmRSS, VmHWM, ...).
proc_kb() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status" 2>/dev/null; }

# metric ADMIN-PORT SERIES: the value of one /metrics series, written as it
# appears (e.g. 'tailwart_listener_connections_active{listener="smtp"}').
metric() {
	curl -s -m 5 "http://127.0.0.1:$1/metrics" | awk -v s="$2" 'index($0, s " ") == 1 {print $2; f = 1} END {exit !f}'
}
