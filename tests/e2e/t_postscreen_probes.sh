#!/usr/bin/env bash
# t_postscreen_probes.sh - the edge's smtp health checks are polite to
# postscreen, even 100 of them in a row.
#
# Postfix: postscreen with postscreen_upstream_proxy_protocol = haproxy, the
# pregreet test enforced (postscreen_greet_action = enforce), a "220-" teaser
# (postscreen_greet_banner) before smtpd's real "220 " line, and
# postscreen_access_list emptied: its default, permit_mynetworks, would
# allowlist loopback and skip every test. The edge's backend sends PROXY v2,
# so its checks open with a v2 LOCAL header (postscreen then judges the real
# peer, 127.0.0.1).
#
#  1. A first check meets the multi-line greeting: postscreen sends the
#     teaser, waits postscreen_greet_wait (1 s) for a client that talks too
#     early, then hands the connection to smtpd, which sends "220 ". The
#     check must wait for that line before its QUIT: it takes >= 1 s, and
#     postscreen logs PASS NEW, not PREGREET. (Its timeout is 1500 ms, as a
#     check with the 100 ms timeout below could not outwait the teaser.)
#  2. Reload to interval 100 ms, timeout 100 ms: postscreen now knows
#     127.0.0.1 (PASS OLD, straight to smtpd). At least 100 more checks,
#     counted with tailwart_health_checks_total from the admin plane; the
#     server is up in every sample and never logged down.
#  3. A real mail from 127.0.0.2 through the edge is delivered afterwards
#     (postscreen runs its pregreet test on that client too).
#  4. The maillog, once the edge stopped, shows no sign of impolite probing:
#       PREGREET                  spoke before the greeting's last line
#       HANGUP ... before SMTP handshake
#                                 hung up during postscreen's tests, i.e.
#                                 gave up inside the teaser
#       COMMAND PIPELINING, NON-SMTP COMMAND, BARE NEWLINE, COMMAND ...
#       LIMIT                     postscreen's deep tests (off here, but a
#                                 check that tripped them would be rude)
#       improper command pipelining
#                                 smtpd: sent a command before its turn (e.g.
#                                 QUIT glued to the PROXY header)
#       lost connection after     closed without QUIT (CONNECT: before or
#                                 right after the greeting)
#       timeout after             sat silent until smtpd gave up
#       too many errors, non-SMTP command, NOQUEUE: reject
#                                 the check's words were not SMTP
#       DENYLISTED/BLACKLISTED, and any warning:/error:/fatal:/panic: line
#                                 (a bad PROXY header shows as
#                                 "warning: haproxy read: ...")
#     and, positively, every smtpd session of a check ends with
#     "disconnect from ...[127.0.0.1] quit=1 commands=1": QUIT, nothing else.
#     Not signs of impoliteness: CONNECT, PASS NEW/OLD, connect/disconnect.
#     The one exception: a check that timed out (the edge counts it in
#     tailwart_health_check_failures_total) closes without QUIT; up to that
#     many "lost connection after CONNECT" lines are reported, not failed.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init postscreen_probes
need_cmd postfix postconf swaks curl
need_edge
is_tailwart || { skip "health check politeness" "tailwart only (health checks, /metrics)"; finish; }

MIN_PROBES=${MIN_PROBES:-100}
read -r PF_PORT EDGE_PORT AP < <(freeport 3)
SERIES_LABELS='{backend="mail",server="pf"}'

# mval NAME: one series of the edge's /metrics, labels SERIES_LABELS.
mval() {
	curl -s -m 5 "http://127.0.0.1:$AP/metrics" |
		awk -v s="$1$SERIES_LABELS" 'index($0, s " ") == 1 {print $2; f = 1} END {exit !f}'
}

# ------------------------------------------------------------ Postfix
start_postfix "$T_DIR/pf" "$PF_PORT" postscreen
# shellcheck disable=SC2016 # $myhostname is for Postfix to expand
postconf -c "$PF_CONF" -e \
	'postscreen_greet_action = enforce' \
	'postscreen_greet_banner = $myhostname teaser (postscreen pregreet test)' \
	'postscreen_greet_wait = 1s' \
	'postscreen_access_list =' || bail "postconf"
timeout 20 postfix -c "$PF_CONF" reload >"$T_DIR/pf/reload.out" 2>&1 || {
	diag_file "$T_DIR/pf/reload.out"
	bail "postfix reload"
}
wait_for 5 grep -q 'reload -- version' "$PF_LOG" || bail "postfix did not log its reload"
sleep 0.5
# The settings took: a client (from 127.0.0.3, with a PROXY v2 LOCAL header
# as postscreen wants one) sees the teaser first; and the control that the
# pregreet test is on: a client that talks during the teaser is logged
# PREGREET (its lines are left out of the analysis at the end).
greet=$("$PY" - "$PF_PORT" <<'PY'
import socket, sys, time
LOCAL = b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x20, 0x00, 0x00, 0x00])
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5, ("127.0.0.3", 0))
c.sendall(LOCAL)
first = c.recv(200).decode(errors="replace").strip()
c.sendall(b"EHLO rude.e2e.test\r\n")   # before the greeting ended: a pregreet
time.sleep(1.5)
c.settimeout(3)
try:
    c.sendall(b"QUIT\r\n")
    while c.recv(4096):
        pass
except OSError:
    pass
print(first)
PY
)
if [[ $greet == "220-mx.e2e.test teaser (postscreen pregreet test)" ]] &&
	wait_for 5 grep -qE 'postscreen\[[0-9]+\]: PREGREET [0-9]+ after [0-9.]+ from \[127\.0\.0\.3\]' "$PF_LOG"; then
	ok "postscreen set up: '220-' teaser first, a client talking during it (127.0.0.3) is logged PREGREET"
else
	not_ok "postscreen set up: teaser and enforced pregreet test" "first line '$greet'"
	diag_file "$PF_LOG" 8 postscreen
fi
ctl_lines=$(wc -l <"$PF_LOG")

# ------------------------------------------------------------ phase 1
edge_cfg() { # INTERVAL TIMEOUT
	cat <<EOF
admin: { bind: "127.0.0.1:$AP" }
listeners:
  - name: smtp
    bind: ["127.0.0.1:$EDGE_PORT"]
    protocol: smtp
    backend: mail
backends:
  mail:
    servers: [{ address: "127.0.0.1:$PF_PORT", name: pf }]
    proxy_protocol: v2
    health: { type: smtp, interval: $1, timeout: $2, rise: 1, fall: 3 }
EOF
}
edge_cfg 2s 1500ms | edge_write "$T_DIR/edge.yaml"
start_edge "$T_DIR/edge.yaml" || bail "edge did not start"
if wait_for 5 grep -q 'event=health server=mail/pf state=up' "$EDGE_LOG"; then
	lat=$(mval tailwart_health_check_seconds)
	n1=$(mval tailwart_health_checks_total)
	if awk -v l="$lat" 'BEGIN {exit !(l >= 1.0 && l < 1.5)}' &&
		grep -qE 'postscreen\[[0-9]+\]: PASS NEW \[127\.0\.0\.1\]' "$PF_LOG"; then
		ok "first check waited through the '220-' teaser: ${lat} s (postscreen_greet_wait 1 s), postscreen: PASS NEW [127.0.0.1]"
	else
		not_ok "first check waited through the teaser" "latency '$lat' s after $n1 check(s); $(grep -cE 'PASS NEW \[127\.0\.0\.1\]' "$PF_LOG") PASS NEW for 127.0.0.1"
		diag_file "$PF_LOG" 8 '127\.0\.0\.1'
	fi
else
	not_ok "first check waited through the teaser" "server never up"
	diag_file "$EDGE_LOG" 8
	diag_file "$PF_LOG" 8
fi

# ------------------------------------------------------------ phase 2
edge_cfg 100ms 100ms | edge_write "$T_DIR/edge.yaml"
edge_reload
if ! wait_for 5 grep -q 'event=reload ' "$EDGE_LOG" || grep -q 'event=reload_failed' "$EDGE_LOG"; then
	diag_file "$EDGE_LOG" 5 'event=reload'
	bail "the edge did not reload to the 100 ms checks"
fi
base=$(mval tailwart_health_checks_total)
fbase=$(mval tailwart_health_check_failures_total)
t0=$(now_ms)
samples=0
down_samples=0
n=$base
while :; do
	up=$(mval tailwart_server_up)
	samples=$((samples + 1))
	[ "$up" = 1 ] || down_samples=$((down_samples + 1))
	n=$(mval tailwart_health_checks_total)
	[ $((n - base)) -ge "$MIN_PROBES" ] && break
	[ $(($(now_ms) - t0)) -gt 40000 ] && break
	sleep 0.25
done
secs=$(((($(now_ms) - t0) + 500) / 1000))
probes=$((n - base))
fails=$(($(mval tailwart_health_check_failures_total) - fbase))
if [ "$probes" -ge "$MIN_PROBES" ]; then
	ok "$probes checks at 100 ms intervals in ${secs} s (tailwart_health_checks_total $base -> $n), $fails failed"
else
	not_ok "at least $MIN_PROBES checks at 100 ms intervals" "only $probes in ${secs} s"
fi
downs=$(grep -c 'event=health server=mail/pf state=down' "$EDGE_LOG")
if [ "$down_samples" = 0 ] && [ "$downs" = 0 ] && [ "$(mval tailwart_server_up)" = 1 ]; then
	ok "server up throughout: tailwart_server_up 1 in all $samples samples, no state=down in the edge log"
else
	not_ok "server up throughout" "$down_samples of $samples samples not up, $downs state=down lines"
	diag_file "$EDGE_LOG" 5 'event=health'
fi

# ------------------------------------------------------------ real mail
token="probes-$$-$RANDOM"
if swaks_send 127.0.0.1 "$EDGE_PORT" "$token" && wait_for 15 mailbox_has "$token"; then
	ok "a real mail from $CLIENT_ADDR through the edge is delivered after the checks"
else
	not_ok "a real mail through the edge is delivered after the checks" "$(tail -n 5 <<<"$SWAKS_OUT")"
	diag_file "$PF_LOG" 10
fi
if grep -qE 'postscreen\[[0-9]+\]: PASS NEW \[127\.0\.0\.2\]' "$PF_LOG"; then
	ok "postscreen ran its pregreet test on the real client and passed it (PASS NEW [127.0.0.2])"
else
	not_ok "postscreen passed the real client" "no PASS NEW [127.0.0.2]"
	diag_file "$PF_LOG" 8 '127\.0\.0\.2'
fi

# ------------------------------------------------------------ the maillog
# Quiesce the checks before the log is read: a reload to a 60 s interval
# lets the check under way finish (the new interval applies from its
# verdict on), and only then the edge stops. (Stopping it during a check
# cuts that check off before its QUIT: a "lost connection after CONNECT" in
# about 1 of 20 stops. That is the edge exiting, not how it probes, so it
# is kept out of this scenario's log.)
reloads=$(grep -c 'event=reload ' "$EDGE_LOG")
edge_cfg 60s 2s | edge_write "$T_DIR/edge.yaml"
edge_reload
wait_for 5 sh -c "[ \$(grep -c 'event=reload ' '$EDGE_LOG') -gt $reloads ]" || diag "no reload to the 60 s interval seen"
sleep 1
edge_graceful_stop
wait_for 10 sh -c "! kill -0 $EDGE_PID 2>/dev/null" || true
sleep 0.3
# Everything after the control client, without its (deliberately rude) lines.
tail -n +"$((ctl_lines + 1))" "$PF_LOG" | grep -vF '[127.0.0.3]' >"$T_DIR/probes.log"
L=$T_DIR/probes.log

connects=$(grep -cE 'postscreen\[[0-9]+\]: CONNECT from \[127\.0\.0\.1\]' "$L")
echo "# postscreen saw $connects connections from [127.0.0.1]; the edge counted $n checks before the mail"
rude_re='PREGREET|HANGUP after|COMMAND PIPELINING|NON-SMTP COMMAND|BARE NEWLINE|COMMAND (TIME|COUNT|LENGTH) LIMIT|improper command pipelining|lost connection after|timeout after|too many errors|non-SMTP command|NOQUEUE: reject|DENYLISTED|BLACKLISTED|(warning|error|fatal|panic):'
rude=$(grep -E "$rude_re" "$L")
lost_connect=$(grep -cE 'smtpd\[[0-9]+\]: lost connection after CONNECT from [^ ]*\[127\.0\.0\.1\]' "$L")
other=$(grep -E "$rude_re" "$L" | grep -vE 'smtpd\[[0-9]+\]: lost connection after CONNECT from [^ ]*\[127\.0\.0\.1\]')
if [ -z "$rude" ]; then
	ok "maillog: no PREGREET, HANGUP, pipelining, lost connection, PROXY or other warning for $connects checks"
elif [ -z "$other" ] && [ "$lost_connect" -le "$fails" ]; then
	ok "maillog: no PREGREET, HANGUP, pipelining, PROXY or other warning; $lost_connect 'lost connection after CONNECT' from checks that timed out ($fails failed)"
else
	not_ok "maillog shows no sign of impolite probing" "$(grep -cE "$rude_re" "$L") lines"
	grep -E "$rude_re" "$L" | sed -E 's/^.*(postfix\/)/\1/; s/\[[0-9]+\]:/:/; s/[0-9]+/N/g' | sort | uniq -c | sort -rn | head -8 | sed 's/^/#   /'
fi
sess=$(grep -cE 'smtpd\[[0-9]+\]: connect from [^ ]*\[127\.0\.0\.1\]' "$L")
polite=$(grep -cE 'smtpd\[[0-9]+\]: disconnect from [^ ]*\[127\.0\.0\.1\] quit=1 commands=1$' "$L")
if [ "$sess" -gt "$MIN_PROBES" ] && [ "$polite" -eq $((sess - lost_connect)) ]; then
	ok "every check's smtpd session ends 'quit=1 commands=1' ($polite of $sess; QUIT and nothing else)"
else
	not_ok "every check's smtpd session ends 'quit=1 commands=1'" "$polite of $sess sessions"
	grep -E 'smtpd\[[0-9]+\]: disconnect from [^ ]*\[127\.0\.0\.1\]' "$L" | grep -v 'quit=1 commands=1$' | head -3 | sed 's/^/#   /'
fi
if [ "$connects" -ge "$probes" ]; then
	ok "postscreen counted every check: $connects connections from [127.0.0.1] (PROXY LOCAL: the real peer)"
else
	not_ok "postscreen counted every check" "$connects connections < $probes checks"
fi

# The edge's own view: a backend that expects PROXY is not reported as one
# that does not (event=backend_diag is for misconfigured backends only).
if grep -q 'event=backend_diag' "$EDGE_LOG"; then
	not_ok "edge logs no PROXY misconfiguration diagnosis for a backend that expects PROXY" "$(grep -m1 'event=backend_diag' "$EDGE_LOG" | cut -c1-220)"
else
	ok "edge logs no PROXY misconfiguration diagnosis for a backend that expects PROXY"
fi
finish
