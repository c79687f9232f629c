#!/usr/bin/env bash
# Health, readiness and temporary failure instead of lost mail:
#  - the edge starts before its required backend: /readyz, `tailwart
#    health` and sd_notify (a test NOTIFY_SOCKET) say "not ready" until the
#    backend answers its smtp check, then "ready" (READY=1 exactly once);
#  - while no server is healthy an SMTP client gets 421 4.3.2 and an IMAP
#    client * BYE, never a reset; the server back, traffic flows at once;
#  - drain: new connections are refused with 421 while an open one goes on;
#    ready: served again;
#  - /metrics and the status page say so.
. "$(dirname "$0")/lib.sh"
e2e_init health
need_edge
is_tailwart || { skip "health contracts" "tailwart only"; finish; }

read -r SP IP BP AP < <(freeport 4)
cat >"$T_DIR/backend.py" <<'PY'
import socket, sys, threading
port = int(sys.argv[1])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(128)
def h(c):
    try:
        c.sendall(b"220-mx.test ESMTP\r\n220 ready\r\n")
        while True:
            d = c.recv(4096)
            if not d:
                break
            if d.upper().startswith(b"QUIT"):
                c.sendall(b"221 bye\r\n")
                break
            c.sendall(b"250 " + d[:200])
    except OSError:
        pass
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=h, args=(c,), daemon=True).start()
PY
# notify.py SOCKET: a stand-in for systemd's notify socket; logs datagrams.
cat >"$T_DIR/notify.py" <<'PY'
import socket, sys, os
path = sys.argv[1]
try: os.unlink(path)
except OSError: pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(path)
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        d = s.recv(4096).decode(errors="replace")
        f.write(d.replace("\n", " | ") + "\n")
PY
spawn "$T_DIR/notify.out" "$PY" "$T_DIR/notify.py" "$T_DIR/notify.sock" "$T_DIR/notify.log"
wait_for 5 test -S "$T_DIR/notify.sock" || bail "notify socket"

edge_write "$T_DIR/edge.yaml" <<EOF
admin: { bind: "127.0.0.1:$AP" }
listeners:
  - name: smtp
    bind: ["127.0.0.1:$SP"]
    protocol: smtp
    backend: mail
  - name: imap
    bind: ["127.0.0.1:$IP"]
    protocol: imap
    backend: mail
backends:
  mail:
    servers: [{ address: "127.0.0.1:$BP", name: mx1 }]
    health: { type: smtp, interval: 300ms, timeout: 250ms, rise: 1, fall: 1 }
    required: true
EOF
start_edge "$T_DIR/edge.yaml" NOTIFY_SOCKET="$T_DIR/notify.sock" || bail "edge did not start"
sleep 0.8
TW() { "$TAILWART" "$@" -c "$T_DIR/edge.yaml"; }

code=$(curl -s -o "$T_DIR/r1" -w '%{http_code}' "http://127.0.0.1:$AP/readyz")
out=$(TW health 2>&1); rc=$?
if [ "$code" = 503 ] && [ $rc = 1 ] && grep -q 'not ready: backend mail' <<<"$out" && ! grep -q 'READY=1' "$T_DIR/notify.log"; then
	ok "before the backend is up: /readyz 503, tailwart health exit 1 with the reason, no READY=1"
else
	not_ok "before the backend is up: not ready" "code=$code rc=$rc out=$out notify=$(cat "$T_DIR/notify.log")"
fi

# No healthy server: the client's protocol's temporary failure.
smtp=$(echo | timeout 5 "$PY" -c "
import socket; c=socket.socket(); c.bind(('127.0.0.2',0)); c.connect(('127.0.0.1',$SP)); print(c.recv(200).decode().strip())")
imap=$(timeout 5 "$PY" -c "
import socket; c=socket.socket(); c.bind(('127.0.0.2',0)); c.connect(('127.0.0.1',$IP)); print(c.recv(200).decode().strip())")
if [[ $smtp == "421 4.3.2 "* ]] && [[ $imap == "* BYE "* ]]; then
	ok "no healthy server: SMTP gets 421 4.3.2, IMAP gets * BYE (mail deferred, not lost)"
else
	not_ok "no healthy server: temporary failures" "smtp='$smtp' imap='$imap'"
fi

# The backend comes up: ready, READY=1 once, traffic flows at once.
spawn "$T_DIR/backend.log" "$PY" "$T_DIR/backend.py" "$BP"
t0=$(now_ms)
wait_for 5 sh -c "curl -sf http://127.0.0.1:$AP/readyz >/dev/null" || true
t1=$(now_ms)
out=$(TW health 2>&1); rc=$?
smtp=$(timeout 5 "$PY" -c "
import socket; c=socket.socket(); c.bind(('127.0.0.2',0)); c.connect(('127.0.0.1',$SP)); print(c.recv(200).decode().strip().replace(chr(13),'').replace(chr(10),' '))")
if [ $rc = 0 ] && [ "$(grep -c 'READY=1' "$T_DIR/notify.log")" = 1 ] && [[ $smtp == "220-mx.test"* ]]; then
	ok "backend up: ready in $((t1 - t0)) ms, READY=1 sent once, the SMTP banner flows"
else
	not_ok "backend up: ready" "rc=$rc out=$out smtp='$smtp' notify=$(cat "$T_DIR/notify.log")"
fi

# A reload keeps the health state of unchanged servers: still ready at
# once, the check count carries on instead of starting over.
before=$(curl -s "http://127.0.0.1:$AP/metrics" | sed -n 's/^tailwart_health_checks_total{backend="mail",server="mx1"} //p')
sed -i 's/^  - name: imap$/  - name: imap\n    maxconn: 500/' "$T_DIR/edge.yaml"
kill -HUP "$EDGE_PID"
sleep 0.1
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$AP/readyz")
after=$(curl -s "http://127.0.0.1:$AP/metrics" | sed -n 's/^tailwart_health_checks_total{backend="mail",server="mx1"} //p')
gen=$(curl -s "http://127.0.0.1:$AP/metrics" | sed -n 's/^tailwart_config_generation //p')
if [ "$code" = 200 ] && [ "${after:-0}" -ge "${before:-1}" ] && [ "${gen:-0}" -ge 2 ]; then
	ok "a reload keeps health state: ready at once, checks $before -> $after, generation $gen"
else
	not_ok "a reload keeps health state" "code=$code before=$before after=$after gen=$gen"
fi

# Drain: an open connection goes on, new ones get 421; ready: served again.
"$PY" - "$SP" >"$T_DIR/long.out" 2>&1 <<'PY' &
import socket, sys, time
c = socket.socket(); c.bind(("127.0.0.2", 0)); c.connect(("127.0.0.1", int(sys.argv[1])))
c.recv(200)
time.sleep(1.5)
c.sendall(b"NOOP\r\n"); print("long:", c.recv(200).decode().strip())
PY
lp=$!
sleep 0.3
dout=$(TW server drain mail/mx1 2>&1); drc=$?
sleep 0.2
smtp=$(timeout 5 "$PY" -c "
import socket; c=socket.socket(); c.bind(('127.0.0.2',0)); c.connect(('127.0.0.1',$SP)); print(c.recv(200).decode().strip())")
hout=$(TW health 2>&1); hrc=$?
wait $lp
if [ $drc = 0 ] && [[ $smtp == "421 4.3.2 "* ]] && grep -q '^long: 250 NOOP' "$T_DIR/long.out" && [ $hrc = 1 ] && grep -q drained <<<"$hout"; then
	ok "drain: new connections get 421, the open one finishes, readiness says drained"
else
	not_ok "drain" "drc=$drc dout=$dout smtp='$smtp' long=$(cat "$T_DIR/long.out") hrc=$hrc hout=$hout"
fi
TW server ready mail/mx1 >/dev/null 2>&1
sleep 0.2
smtp=$(timeout 5 "$PY" -c "
import socket; c=socket.socket(); c.bind(('127.0.0.2',0)); c.connect(('127.0.0.1',$SP)); print(c.recv(200).decode().strip()[:11])")
out=$(TW server drain mail/nosuch 2>&1); rc=$?
if [[ $smtp == "220-mx.test" ]] && [ $rc = 2 ] && grep -q 'no server' <<<"$out"; then
	ok "ready again: served; draining an unknown server is an error naming it"
else
	not_ok "ready again" "smtp='$smtp' rc=$rc out=$out"
fi

# The backend dies: a failed dial marks it down (passive), 421 again.
stop_group "$(pgrep -f "backend.py $BP" | head -1)" 2
sleep 1
smtp=$(timeout 5 "$PY" -c "
import socket; c=socket.socket(); c.bind(('127.0.0.2',0)); c.connect(('127.0.0.1',$SP)); print(c.recv(200).decode().strip())")
if [[ $smtp == "421 4.3.2 "* ]] && grep -q 'event=health server=mail/mx1 state=down' "$EDGE_LOG"; then
	ok "backend gone: marked down, clients get 421"
else
	not_ok "backend gone" "smtp='$smtp' $(grep event=health "$EDGE_LOG" | tail -2)"
fi

# Metrics and the status page.
m=$(curl -s "http://127.0.0.1:$AP/metrics")
if grep -q '^tailwart_listener_tempfail_total{listener="smtp"} [1-9]' <<<"$m" &&
	grep -q '^tailwart_server_up{backend="mail",server="mx1"} 0' <<<"$m" &&
	grep -q '^tailwart_dial_seconds_count [1-9]' <<<"$m"; then
	ok "/metrics counts temporary failures by listener and shows the server down"
else
	not_ok "/metrics" "$(grep -E 'tempfail|server_up|dial_seconds_count' <<<"$m")"
fi
curl -s "http://127.0.0.1:$AP/" >"$T_DIR/status.html"
if command -v chromium >/dev/null; then
	timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$T_DIR/chrome" --dump-dom "http://127.0.0.1:$AP/" >"$T_DIR/dom.html" 2>"$T_DIR/chrome.log"
	how="headless Chromium's DOM"
	page=$T_DIR/dom.html
else
	how="the raw page (chromium not installed)"
	page=$T_DIR/status.html
fi
if grep -q 'id="servers"' "$page" && grep -q '<td>mx1</td><td>down</td>' "$page" && grep -q 'Not ready' "$page" &&
	! grep -qi '<script' "$page"; then
	ok "status page ($how): listeners, the server down, not ready, no script"
else
	not_ok "status page ($how)" "$(head -c 600 "$page")"
fi
finish
