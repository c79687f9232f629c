#!/usr/bin/env bash
# demo.sh - `make demo`: a real Postfix and a real nginx behind tailwart edge,
# all on loopback, in about ten seconds.
#
#   client 127.0.0.2 ──smtp──▶ tailwart 127.0.0.1 ──PROXY v2──▶ Postfix (postscreen)
#   client 127.0.0.2 ──https─▶ tailwart 127.0.0.1 ──TLS by SNI─▶ nginx (its own cert)
#
# Sends one mail with swaks and fetches one page with curl, shows what each
# side logged, prints a summary, stops everything it started and exits 0
# (1 if a step failed). Nothing leaves the machine: every address is on
# loopback, and the system's own Postfix and nginx are not touched.
# Env: TAILWART (default build/tailwart), DEMO_KEEP=1 keeps the logs.
set -u -o pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(cd "$(dirname "$0")" && pwd)/../tests/e2e/lib.sh"

if [ -t 1 ]; then
	B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' D=$'\e[2m' N=$'\e[0m'
else
	B="" G="" R="" D="" N=""
fi
FAILED=0
step() { printf '%s▸%s %s\n' "$B" "$N" "$*"; }
good() { printf '  %s✓%s %s\n' "$G" "$N" "$*"; }
bad() {
	printf '  %s✗ %s%s\n' "$R" "$*" "$N"
	FAILED=1
}
show() { sed "s/^/      $D/; s/\$/$N/"; }
# The library's bail is for test scenarios; here a setup failure reads plainly.
bail() {
	bad "$*"
	exit 1
}

_demo_exit() {
	local rc=$? i
	trap - EXIT INT TERM
	[ -n "${WATCHDOG:-}" ] && { pkill -P "$WATCHDOG" 2>/dev/null; kill "$WATCHDOG" 2>/dev/null; }
	for ((i = ${#_E2E_CLEANUP[@]} - 1; i >= 0; i--)); do
		eval "${_E2E_CLEANUP[i]}" >/dev/null 2>&1 || true
	done
	[ "$rc" = 0 ] && [ "$FAILED" = 1 ] && rc=1
	if [ -n "$T_DIR" ] && [ -d "$T_DIR" ]; then
		if [ "$rc" != 0 ] || [ "${DEMO_KEEP:-0}" = 1 ]; then
			echo "Logs kept in $T_DIR"
		else
			rm -rf "$T_DIR"
		fi
	fi
	if [ "$rc" = 0 ]; then
		echo "${G}Demo finished: everything it started is stopped.${N}"
	else
		echo "${R}Demo failed (exit $rc).${N}"
	fi
	exit "$rc"
}

[ "$(id -u)" = 0 ] || {
	echo "demo.sh: run as root (it starts private Postfix and nginx instances)" >&2
	exit 2
}
[ -x "$TAILWART" ] || {
	echo "demo.sh: $TAILWART not found; build it first (make)" >&2
	exit 2
}
for c in postfix nginx swaks curl openssl ss; do
	command -v "$c" >/dev/null || {
		echo "demo.sh: '$c' missing; run: bash scripts/deps.sh demo" >&2
		exit 2
	}
done

T_NAME=demo
T_DIR=$(mktemp -d /tmp/tailwart-demo.XXXXXX)
chmod 755 "$T_DIR"
trap _demo_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# Whatever happens, the demo ends by itself.
# (Its output goes nowhere, so it never holds the caller's pipe open.)
(
	sleep 45
	kill -TERM $$ 2>/dev/null
) >/dev/null 2>&1 </dev/null &
WATCHDOG=$!

echo
echo "${B}tailwart demo${N} - a real Postfix and nginx behind ${B}tailwart edge${N}, on loopback"
echo "${D}work dir $T_DIR${N}"
echo

read -r PF_PORT NGX_PORT SMTP_PORT HTTPS_PORT < <(freeport_sh 4)

step "Postfix with postscreen on 127.0.0.1:$PF_PORT (postscreen_upstream_proxy_protocol = haproxy)"
start_postfix "$T_DIR/postfix" "$PF_PORT" postscreen
good "running; mail for user@e2e.test goes to $PF_MAILBOX"

step "nginx serving https://mta-sts.demo.test on 127.0.0.1:$NGX_PORT with its own self-signed certificate"
start_nginx_sni "$T_DIR/nginx" "mta-sts.demo.test=$NGX_PORT"
good "running"

cat >"$T_DIR/tailwart.yaml" <<EOF
listeners:
  - name: smtp
    bind: ["127.0.0.1:$SMTP_PORT"]
    protocol: smtp
    backend: mail
  - name: https
    bind: ["127.0.0.1:$HTTPS_PORT"]
    protocol: tls
    sni:
      "mta-sts.demo.test": web
backends:
  mail:
    servers: ["127.0.0.1:$PF_PORT"]
    proxy_protocol: v2
  web:
    servers: ["127.0.0.1:$NGX_PORT"]
EOF
chmod 644 "$T_DIR/tailwart.yaml"
step "tailwart edge with this configuration:"
show <"$T_DIR/tailwart.yaml"
EDGE_LOG=$T_DIR/edge.log
spawn "$EDGE_LOG" "$TAILWART" edge -c "$T_DIR/tailwart.yaml"
EDGE_PID=$SPAWN_PID
if wait_listen 127.0.0.1 "$SMTP_PORT" 10 && wait_listen 127.0.0.1 "$HTTPS_PORT" 10; then
	good "listening on 127.0.0.1:$SMTP_PORT (smtp) and 127.0.0.1:$HTTPS_PORT (https), pid $EDGE_PID"
else
	tail -n 5 "$EDGE_LOG" | show
	bail "the edge did not start"
fi
echo

step "Sending a mail with swaks from $CLIENT_ADDR to the edge's smtp listener"
token="tailwart demo $(date +%H:%M:%S)"
if swaks_send 127.0.0.1 "$SMTP_PORT" "$token"; then
	queued=$(grep -oE '250 2\.0\.0 Ok: queued as [0-9A-F]+' <<<"$SWAKS_OUT" | head -n1)
	good "accepted: ${queued:-250}"
else
	tail -n 6 <<<"$SWAKS_OUT" | show
	bad "swaks failed"
fi
if wait_for 15 mailbox_has "$token"; then
	good "delivered to the mailbox (Subject: $token)"
else
	bad "not delivered to $PF_MAILBOX"
fi
pf_line=$(grep -E "postfix/smtpd\[[0-9]+\]: connect from [^ ]*\[127\.0\.0\.2\]" "$PF_LOG" | tail -n1)
if [ -n "$pf_line" ]; then
	good "Postfix logged the real client, not the edge:"
	echo "$pf_line" | show
else
	bad "Postfix did not log the client 127.0.0.2"
	tail -n 5 "$PF_LOG" | show
fi
wait_for 5 grep -qE "event=close .*listener=smtp .*client=127\.0\.0\.2:" "$EDGE_LOG"
edge_smtp=$(grep -E "event=close .*listener=smtp .*client=127\.0\.0\.2:" "$EDGE_LOG" | tail -n1)
if [ -n "$edge_smtp" ]; then
	good "the edge logged the connection when it closed:"
	echo "$edge_smtp" | show
else
	bad "no close line from the edge for the SMTP connection"
fi
echo

step "Fetching https://mta-sts.demo.test through the edge (routed by SNI, TLS not terminated)"
body=$(timeout 15 curl -sS -m 10 --interface "$CLIENT_ADDR" \
	--resolve "mta-sts.demo.test:$HTTPS_PORT:127.0.0.1" --cacert "$NGX_DIR/mta-sts.demo.test.crt" \
	"https://mta-sts.demo.test:$HTTPS_PORT/" 2>&1)
if [ "$body" = "site mta-sts.demo.test" ]; then
	good "nginx answered \"$body\"; curl verified nginx's own certificate end to end"
else
	bad "curl got: $body"
fi
wait_for 5 grep -qE "event=close .*listener=https .*client=127\.0\.0\.2:" "$EDGE_LOG"
edge_https=$(grep -E "event=close .*listener=https .*client=127\.0\.0\.2:" "$EDGE_LOG" | tail -n1)
if [ -n "$edge_https" ]; then
	good "the edge logged:"
	echo "$edge_https" | show
else
	bad "no close line from the edge for the HTTPS connection"
fi
echo

step "Stopping the edge with SIGTERM (it drains open connections, then exits)"
kill -TERM "$EDGE_PID"
for _ in $(seq 1 100); do
	pid_alive "$EDGE_PID" || break
	sleep 0.1
done
if pid_alive "$EDGE_PID"; then
	bad "the edge is still running 10 s after SIGTERM"
else
	wait "$EDGE_PID"
	rc=$?
	[ "$rc" = 0 ] && good "exited with status 0" || bad "exited with status $rc"
fi
echo

echo "${B}Summary${N}"
printf '  %-34s %s\n' "mail from 127.0.0.2 via the edge:" "$( [ -n "$pf_line" ] && mailbox_has "$token" && echo "delivered, Postfix saw 127.0.0.2" || echo FAILED)"
printf '  %-34s %s\n' "edge -> Postfix:" "PROXY v2, route=$(kv "$edge_smtp" route) backend=$(kv "$edge_smtp" backend) bytes_in=$(kv "$edge_smtp" bytes_in)"
printf '  %-34s %s\n' "https by SNI via the edge:" "$( [ "$body" = "site mta-sts.demo.test" ] && echo "served by nginx with its own certificate" || echo FAILED)"
printf '  %-34s %s\n' "edge -> nginx:" "route=$(kv "$edge_https" route) backend=$(kv "$edge_https" backend) bytes_out=$(kv "$edge_https" bytes_out)"
echo
[ "$FAILED" = 0 ]
