#!/usr/bin/env bash
# t_tempfail_postfix.sh - the temp-fail contract with a real sending MTA.
#
# A private "sender" Postfix relays everything to the edge
# (relayhost = [127.0.0.1]:EDGE_PORT, smtp_bind_address = 127.0.0.2); the
# edge (smtp listener, PROXY v2, smtp health checks every 250 ms) passes it
# to a receiving Postfix (postscreen + smtpd, upstream PROXY, virtual(8) into
# an mbox file). 200 messages, each with a unique Message-ID, are submitted
# with sendmail(1) while the receiver is stopped and started 4 times (not
# listening for about 3 s each; every second outage is a crash of its SMTP
# processes, cutting open sessions wherever they are), the last 40 while it
# is down for the last time. While it is down the edge answers 421 4.3.2 (no
# healthy server, or the dial failed) and the sender queues and retries.
#
# Asserts: every Message-ID arrives; a duplicate only where a session was cut
# after DATA (RFC 1047: the receiver queued it, the sender never saw the 250;
# Postfix's smtp client says "message may be sent more than once"); nothing
# bounced; the sender's queue is empty; the edge logged end=no_backend or
# end=dial_failed and counted tailwart_listener_tempfail_total, only during
# the outages; the sender saw the 421. Reports the drain time (from the last
# receiver start until all 200 are there) as `# drain: N s`.
#
# The sender's retry settings, and why (Postfix defaults would take hours):
#   queue_run_delay = 1s          the deferred queue is scanned every second
#                                 (default 300s)
#   minimal_backoff_time = 2s     a deferred message is retried 2 s later
#   maximal_backoff_time = 2s     (defaults 300s / 4000s), and a destination
#                                 qmgr declared dead ("delivery temporarily
#                                 suspended") is tried again after 2 s. Not
#                                 1s: qmgr takes a deferred file as due when
#                                 its time stamp is at most 1 s ahead, so a
#                                 message deferred with a 1 s backoff can be
#                                 picked up again while its smtp process
#                                 still holds the queue file's lock; qmgr
#                                 then logs "skipped, still being delivered"
#                                 and parks it for 60 s (seen here once).
#   smtp_connect_timeout = 2s     a dial that hangs gives up fast (the edge
#                                 accepts at once, so this rarely matters)
#   smtp_helo_timeout = 10s       an edge that accepts but never greets would
#                                 otherwise hold a delivery agent for 300 s
#   initial_destination_concurrency = 5, default_destination_concurrency_limit
#                                 = 10: Postfix's slow start, a little more
#                                 parallel than by default
# Everything else is Postfix's own logic: a 421 greeting or a lost connection
# is a temporary failure, the message stays queued and is tried again.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init tempfail_postfix
need_cmd postfix sendmail postqueue curl
need_edge
is_tailwart || { skip "temp-fail contract" "tailwart only (health checks, 421, /metrics)"; finish; }

N_MSG=${N_MSG:-200}
N_OUTAGES=${N_OUTAGES:-4}
DOWN_SECS=${DOWN_SECS:-2}  # plus ~1 s for `postfix start` to listen again
UP_SECS=${UP_SECS:-2}
N_LAST=${N_LAST:-40}      # submitted during the last outage
SUB_SECS=${SUB_SECS:-14}  # the others are spread over this long

read -r PF_PORT EDGE_PORT AP < <(freeport 3)

# ------------------------------------------------------------ the receiver
start_postfix "$T_DIR/rcv" "$PF_PORT" postscreen
RCV_CONF=$PF_CONF
RCV_LOG=$PF_LOG
# `postfix stop` SIGTERMs every process of the instance, virtual(8) in the
# middle of a delivery included. Into an mbox that can leave a stale dotlock
# (every later delivery then waits stale_lock_time, 500 s) or half a
# message; into a Maildir a delivery is a rename, whole or not at all. And
# what the receiver itself has to retry is retried within seconds.
MAILDIR=$T_DIR/rcv/mail/user
postconf -c "$RCV_CONF" -e \
	'virtual_mailbox_maps = inline:{ user@e2e.test=user/ }' \
	'queue_run_delay = 1s' 'minimal_backoff_time = 2s' 'maximal_backoff_time = 2s' || bail "postconf"
timeout 20 postfix -c "$RCV_CONF" reload >"$T_DIR/rcv/reload.out" 2>&1 || bail "receiver postfix reload"

# rcv_stop [crash]: `postfix stop`; with "crash", first SIGKILL the
# receiver's postscreen and smtpd processes (found in its master's process
# group), so open sessions die at whatever point they are, DATA included,
# as when an MX host fails; then the rest stops as with a plain stop.
rcv_stop() {
	if [ "${1:-}" = crash ]; then
		local m p
		m=$(tr -d ' ' <"$T_DIR/rcv/queue/pid/master.pid" 2>/dev/null)
		for p in $(pgrep -g "${m:-0}"); do
			case $(cat "/proc/$p/comm" 2>/dev/null) in
			smtpd | postscreen) kill -KILL "$p" 2>/dev/null ;;
			esac
		done
	fi
	timeout 15 postfix -c "$RCV_CONF" stop >>"$T_DIR/rcv/restarts.out" 2>&1
	wait_for 10 sh -c "! postfix -c '$RCV_CONF' status >/dev/null 2>&1"
	# The master closes its listening socket a moment after it stops
	# answering status; on a loaded machine that moment can be long.
	local i
	for ((i = 0; i < 100; i++)); do
		is_listening 127.0.0.1 "$PF_PORT" || return 0
		sleep 0.1
	done
	return 1
}
rcv_start() {
	timeout 30 postfix -c "$RCV_CONF" start >>"$T_DIR/rcv/restarts.out" 2>&1 &&
		wait_listen 127.0.0.1 "$PF_PORT" 10
}

# ------------------------------------------------------------ the edge
edge_write "$T_DIR/edge.yaml" <<EOF
admin: { bind: "127.0.0.1:$AP" }
listeners:
  - name: smtp
    bind: ["127.0.0.1:$EDGE_PORT"]
    protocol: smtp
    backend: mx
backends:
  mx:
    servers: [{ address: "127.0.0.1:$PF_PORT", name: rcv }]
    proxy_protocol: v2
    health: { type: smtp, interval: 250ms, timeout: 250ms, rise: 1, fall: 2 }
EOF
start_edge "$T_DIR/edge.yaml" || bail "edge did not start"
wait_for 5 grep -q 'event=health server=mx/rcv state=up' "$EDGE_LOG" || {
	diag_file "$EDGE_LOG" 10
	bail "the receiver never became healthy"
}

# ------------------------------------------------------------ the sender
SND=$T_DIR/snd
SND_CONF=$SND/conf
SND_LOG=$SND/maillog
mkdir -p "$SND_CONF" "$SND/queue" "$SND/data"
chmod 755 "$SND"
chown postfix "$SND/data"
cat >"$SND_CONF/main.cf" <<EOF
# Private sending Postfix for t_tempfail_postfix: all mail to the edge.
compatibility_level = 3.6
queue_directory = $SND/queue
data_directory = $SND/data
mail_owner = postfix
setgid_group = postdrop
myhostname = sender.e2e.test
mydomain = e2e.test
myorigin = example.net
mydestination =
relay_domains =
local_recipient_maps =
# 127.0.0.2 is not an interface address (Postfix refuses it here);
# the smtp client binds to it below.
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
maillog_file = $SND_LOG
maillog_file_prefixes = $T_DIR
alias_maps =
alias_database =
biff = no
smtputf8_enable = no
smtp_dns_support_level = disabled
relayhost = [127.0.0.1]:$EDGE_PORT
smtp_bind_address = 127.0.0.2
# The retry settings (see the top of this file).
queue_run_delay = 1s
minimal_backoff_time = 2s
maximal_backoff_time = 2s
smtp_connect_timeout = 2s
smtp_helo_timeout = 10s
initial_destination_concurrency = 5
default_destination_concurrency_limit = 10
EOF
cat >"$SND_CONF/master.cf" <<EOF
pickup    unix  n       -       n       1       1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
if ! timeout 30 postfix -c "$SND_CONF" start >"$SND/start.out" 2>&1; then
	diag_file "$SND/start.out"
	bail "sender postfix did not start"
fi
defer "stop_postfix '$SND_CONF' '$SND'"

# submit I: one message with Message-ID <tw-I.PID@sender.e2e.test>.
TAGP="tw-$$"
submit() {
	printf 'From: sender@example.net\nTo: user@e2e.test\nSubject: tempfail %s\nMessage-ID: <%s.%s@sender.e2e.test>\n\nbody %s\n' \
		"$1" "$TAGP" "$1" "$1" |
		timeout 20 sendmail -C "$SND_CONF" -f sender@example.net -oi user@e2e.test
}
# Message numbers that arrived, one line per copy (a file in the Maildir).
arrived() {
	find "$MAILDIR/new" "$MAILDIR/cur" -type f -print0 2>/dev/null |
		xargs -0 -r grep -h -m1 -oE "^Message-ID: <$TAGP\.[0-9]+@" | grep -oE '\.[0-9]+@' | tr -d '.@'
}
# copies_of N: the receiver queue ids of the copies of message N, one a line
# (from the receiver's Received: header, "with ESMTP id QID").
copies_of() {
	local f
	# shellcheck disable=SC2013 # Maildir file names have no spaces
	for f in $(grep -l -m1 -E "^Message-ID: <$TAGP\.$1@" "$MAILDIR"/new/* "$MAILDIR"/cur/* 2>/dev/null); do
		grep -m1 -oE 'with ESMTP id [0-9A-F]+' "$f" | awk '{print $4}'
	done
}
n_unique() { arrived | sort -u | wc -l; }
# shellcheck disable=SC2317 # called through wait_for
all_arrived() { [ "$(n_unique)" -ge "$N_MSG" ]; }

# ------------------------------------------------------------ the run
# Messages 1..N_MSG-N_LAST are submitted spread over SUB_SECS, so mail
# reaches the sender while the receiver is up and while it is down; the
# last N_LAST are submitted while the receiver is down for the last time,
# so at its last start a backlog waits in the sender's queue and the drain
# below measures the sender's retries, not our submission speed.
t_begin=$(now_ms)
submit_range() { # FROM TO SPREAD-SECS (0: as fast as sendmail goes)
	local i due now t0
	t0=$(now_ms)
	for ((i = $1; i <= $2; i++)); do
		due=$((t0 + (i - $1 + 1) * $3 * 1000 / ($2 - $1 + 1)))
		now=$(now_ms)
		[ "$due" -gt "$now" ] && sleep "$(printf '%d.%03d' $(((due - now) / 1000)) $(((due - now) % 1000)))"
		submit "$i" || echo "submit $i failed" >>"$T_DIR/submit.err"
	done
}
submit_range 1 $((N_MSG - N_LAST)) "$SUB_SECS" &
SUB_PID=$!
defer "kill $SUB_PID"

# rel MS: milliseconds since the start, as seconds with one decimal.
rel() { printf '%d.%d' $((($1 - t_begin) / 1000)) $((($1 - t_begin) % 1000 / 100)); }
sleep 1.5
outages_ok=0
windows=()
for ((k = 1; k <= N_OUTAGES; k++)); do
	t_stop=$(now_ms)
	how=stop
	[ $((k % 2)) = 0 ] && how=crash
	if ! rcv_stop "$how"; then
		diag_file "$T_DIR/rcv/restarts.out" 5
		bail "receiver did not stop (outage $k)"
	fi
	t_down=$(now_ms)
	echo "# outage $k ($how): receiver down at +$(rel "$t_down") s ($(n_unique) delivered so far)"
	if [ "$k" = "$N_OUTAGES" ]; then
		wait "$SUB_PID"
		submit_range $((N_MSG - N_LAST + 1)) "$N_MSG" 0 &
		SUB_PID=$!
		sleep "$DOWN_SECS"
		wait "$SUB_PID"
		t_submitted=$(now_ms)
		echo "# all $N_MSG submitted at +$(rel "$t_submitted") s, $N_LAST of them during this outage"
	else
		sleep "$DOWN_SECS"
	fi
	rcv_start || {
		diag_file "$T_DIR/rcv/restarts.out" 5
		diag_file "$RCV_LOG" 10
		bail "receiver did not start again (outage $k)"
	}
	t_up=$(now_ms)
	t_last_start=$t_up
	outages_ok=$((outages_ok + 1))
	windows+=("$t_stop" "$t_up")
	echo "# outage $k: receiver up again at +$(rel "$t_up") s (not listening for $(rel $((t_begin + t_up - t_down))) s)"
	[ "$k" -lt "$N_OUTAGES" ] && sleep "$UP_SECS"
done
before_last=$(n_unique)
ok "receiver stopped and started $N_OUTAGES times ($before_last of $N_MSG delivered before the last start)"
if [ -s "$T_DIR/submit.err" ]; then
	not_ok "sendmail accepted all $N_MSG submissions" "$(head -3 "$T_DIR/submit.err")"
else
	ok "sendmail accepted all $N_MSG submissions (over $(rel "$t_submitted") s, during the outages)"
fi

# ------------------------------------------------------------ drain
DRAIN_LIMIT=${DRAIN_LIMIT:-45}
if wait_for "$DRAIN_LIMIT" all_arrived; then
	t_done=$(now_ms)
else
	t_done=
fi
got=$(n_unique)
if [ -n "$t_done" ]; then
	drain_ms=$((t_done - t_last_start))
	drain=$(printf '%d.%d' $((drain_ms / 1000)) $((drain_ms % 1000 / 100)))
	echo "# drain: $drain s"
	ok "all $N_MSG Message-IDs arrived at the receiver; drain: $drain s after the last receiver start (total run $(((t_done - t_begin) / 1000)) s)"
else
	not_ok "all $N_MSG Message-IDs arrived at the receiver" "only $got, ${DRAIN_LIMIT} s after the last receiver start"
	missing=$(comm -23 <(seq 1 "$N_MSG" | sort) <(arrived | sort -u) | sort -n | head -10 | xargs)
	diag "missing (first 10): $missing"
	postqueue -c "$SND_CONF" -p 2>&1 | head -20 | sed 's/^/#   /'
	diag_file "$SND_LOG" 10 'status='
	diag "sender qmgr parked $(grep -c 'skipped, still being delivered' "$SND_LOG") message(s) for 60 s ('skipped, still being delivered')"
fi

# The sender's queue must be empty once everything arrived: no mail parked.
sleep 0.5
q=$(postqueue -c "$SND_CONF" -p 2>&1)
if grep -q 'Mail queue is empty' <<<"$q"; then
	ok "sender queue empty at the end"
else
	not_ok "sender queue empty at the end" "$(head -5 <<<"$q")"
fi

# Nothing bounced (a 5xx anywhere would have bounced: the edge must only
# ever answer 4xx while the receiver is away).
if grep -q 'status=bounced' "$SND_LOG"; then
	not_ok "no message bounced (sender maillog has no status=bounced)" "$(grep -c 'status=bounced' "$SND_LOG") bounced"
	diag_file "$SND_LOG" 5 'status=bounced'
else
	ok "no message bounced ($(grep -c 'status=sent' "$SND_LOG") status=sent, $(grep -c 'status=deferred' "$SND_LOG") status=deferred in the sender's maillog)"
fi

# ------------------------------------------------------------ duplicates
# A duplicate is allowed only for RFC 1047's case: the receiver queued the
# message but the session was cut before the sender saw the 250, so the
# sender sent it again. Such copies carry different receiver queue ids; for
# a message that crossed the wire N times, both logs must show N-1 cuts:
#  - receiver: N-1 of the sessions that queued it did not go on normally:
#    that smtpd's next line is "lost connection after DATA/END-OF-MESSAGE",
#    or the master's "pid P killed by signal", or it has none before the
#    next master start (it died with the stop);
#  - sender: N-1 deferrals of it say "message may be sent more than once"
#    (Postfix's smtp client's own RFC 1047 diagnosis: the connection was
#    lost after the end of data, before the reply).
# Two copies with the same receiver queue id are no transmission at all: the
# stop killed virtual(8) after its delivery but before qmgr heard of it, and
# the receiver delivered its own queue file again. They are reported apart.
# session_after QID: what the receiver logged for QID's smtpd next.
session_after() {
	local q=$1 p
	p=$(grep -E "postfix/smtpd\[[0-9]+\]: $q: client=" "$RCV_LOG" | grep -oE 'smtpd\[[0-9]+\]' | head -n1)
	[ -n "$p" ] || return 0
	awk -v q="$p: $q: client=" -v p="$p: " -v k="pid ${p//[^0-9]/} killed by signal" '
		found && (index($0, p) || index($0, k)) { print; exit }
		found && /postfix\/master\[[0-9]+\]: daemon started/ { print "<no more lines before the receiver restarted>"; exit }
		index($0, q) { found = 1 }
		END { if (found) print "<still open at the end>" }' "$RCV_LOG" | head -n1
}
dups=$(arrived | sort | uniq -d | sort -n)
n_dup=$(wc -w <<<"$dups")
unjustified=0
local_redeliveries=0
for id in $dups; do
	mid="$TAGP.$id@sender.e2e.test"
	qids=$(copies_of "$id")
	copies=$(wc -l <<<"$qids")
	wire=$(sort -u <<<"$qids" | wc -l)
	local_redeliveries=$((local_redeliveries + copies - wire))
	[ "$wire" -gt 1 ] || {
		echo "# duplicate <$mid> x$copies: one transmission, delivered again by the receiver from its own queue (id $(head -n1 <<<"$qids")) after the stop killed virtual(8)"
		continue
	}
	cut=0
	why=""
	for q in $(sort -u <<<"$qids" | xargs); do
		after=$(session_after "$q")
		why+=" [$q: ${after:-no smtpd session}]"
		grep -qE 'lost connection after (DATA|END-OF-MESSAGE)|killed by signal|^<no more lines' <<<"$after" && cut=$((cut + 1))
	done
	sq=$(grep -F "message-id=<$mid>" "$SND_LOG" | grep -oE 'cleanup\[[0-9]+\]: [0-9A-F]+' | awk '{print $2}' | head -n1)
	more=$(grep -cE "smtp\[[0-9]+\]: ${sq:-none}: .*status=deferred .*may be sent more than once" "$SND_LOG")
	if [ "$cut" -ge $((wire - 1)) ] && [ "$more" -ge $((wire - 1)) ]; then
		echo "# duplicate <$mid> x$copies justified (RFC 1047): sender deferred it $more time(s) 'message may be sent more than once'; receiver:$why"
	else
		unjustified=$((unjustified + 1))
		echo "# duplicate <$mid> x$copies NOT justified: $cut cut session(s), $more 'may be sent more than once' deferral(s); receiver:$why"
	fi
done
extra=""
[ "$local_redeliveries" -gt 0 ] && extra="; $local_redeliveries receiver-local redelivery(ies), see above"
if [ "$unjustified" = 0 ]; then
	ok "duplicates: $n_dup, each sent twice only after a session cut after DATA (RFC 1047)$extra"
else
	not_ok "duplicates only for sessions cut after DATA" "$unjustified of $n_dup duplicates without that evidence"
fi
lost=$(grep -cE 'status=deferred \(lost connection' "$SND_LOG")
echo "# sessions the sender lost mid-way: $lost ($(grep -c 'may be sent more than once' "$SND_LOG") after the end of data)"

# ------------------------------------------------------------ the edge
tf_lines=$(grep -cE 'event=close .* end=(no_backend|dial_failed)' "$EDGE_LOG")
nb=$(grep -cE 'event=close .* end=no_backend' "$EDGE_LOG")
df=$(grep -cE 'event=close .* end=dial_failed' "$EDGE_LOG")
metric=$(curl -s --max-time 5 "http://127.0.0.1:$AP/metrics" | grep -E '^tailwart_listener_tempfail_total\{listener="smtp"\} ' | awk '{print $2}')
if [ "$tf_lines" -gt 0 ] && [ "${metric:-0}" -gt 0 ] 2>/dev/null; then
	ok "edge answered 421 during outages: $nb end=no_backend + $df end=dial_failed close lines, tailwart_listener_tempfail_total{listener=\"smtp\"} $metric"
else
	not_ok "edge answered 421 during outages" "close lines no_backend=$nb dial_failed=$df, tempfail metric='${metric:-none}'"
	diag_file "$EDGE_LOG" 10 'event=close'
fi
# ... and only then: every 421 falls between a `postfix stop` and 2 s after
# the receiver listened again (the health check's rise, and the first smtpd
# of a fresh master being slow to greet), never while it was plainly up.
outside=$("$PY" - "$EDGE_LOG" "${windows[@]}" <<'PY2'
import sys, datetime
log, w = sys.argv[1], [int(x) for x in sys.argv[2:]]
wins = [(w[i], w[i + 1] + 2000) for i in range(0, len(w), 2)]
for line in open(log, errors="replace"):
    if "event=close" not in line or not (" end=no_backend" in line or " end=dial_failed" in line):
        continue
    t = datetime.datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")
    ms = int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
    if not any(a <= ms <= b for a, b in wins):
        print(line.strip())
PY2
)
if [ -z "$outside" ]; then
	ok "every 421 fell inside an outage (from postfix stop to 2 s after it listened again)"
else
	not_ok "every 421 fell inside an outage" "$(wc -l <<<"$outside") outside, first: $(head -n1 <<<"$outside")"
fi
s421=$(grep -cE 'status=deferred \(host .*refused to talk to me: 421 4\.3\.2' "$SND_LOG")
susp=$(grep -cE 'status=deferred \(delivery temporarily suspended: .*421 4\.3\.2' "$SND_LOG")
if [ "$s421" -gt 0 ]; then
	ok "the sender saw the 421 4.3.2 and deferred ($s421 times greeted with it, $susp more deferred while qmgr held the destination)"
else
	not_ok "the sender saw the 421 4.3.2 and deferred" "no 'status=deferred ... 421 4.3.2' line"
	diag_file "$SND_LOG" 5 'status=deferred'
fi
# Every close line is from the sender (127.0.0.2), and nothing the edge did
# looked like an error of its own.
bad=$(grep -E 'event=close' "$EDGE_LOG" | grep -vE 'end=(client_close|backend_close|no_backend|dial_failed)' | head -3)
if [ -z "$bad" ]; then
	ok "edge close reasons are only client_close, backend_close, no_backend, dial_failed"
else
	not_ok "edge close reasons" "$bad"
fi
finish
