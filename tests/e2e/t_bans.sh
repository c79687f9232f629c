#!/usr/bin/env bash
# One ban list, judged by the one client identity on every listener:
#  - `tailwart ban add` while the edge runs: enforced on SMTP and IMAP
#    within about a second, closed before any byte reaches the backend;
#  - an address in allow: is never banned by any trigger; others are;
#  - reports through the admin API and log_ban lines ban the reported
#    address; early closes ban a pregreeting scanner;
#  - a ban survives an edge restart; `ban del` lifts it.
. "$(dirname "$0")/lib.sh"
e2e_init bans
need_edge
is_tailwart || { skip "bans" "tailwart only"; finish; }

read -r SP IP BP AP < <(freeport 4)
cat >"$T_DIR/backend.py" <<'PY'
import socket, sys, threading, time
port, log = int(sys.argv[1]), sys.argv[2]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(128)
def h(c):
    try:
        # PROXY v1 from the edge names the client; log it.
        f = c.makefile("rb")
        line = f.readline().decode(errors="replace").strip()
        with open(log, "a") as o:
            o.write(line + "\n")
        time.sleep(0.3)   # a slow greeting, so a scanner can close first
        c.sendall(b"220 ready\r\n")
        while c.recv(4096):
            pass
    except OSError:
        pass
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=h, args=(c,), daemon=True).start()
PY
spawn "$T_DIR/backend.out" "$PY" "$T_DIR/backend.py" "$BP" "$T_DIR/backend.log"
wait_listen 127.0.0.1 "$BP" || bail "backend"
touch "$T_DIR/mail.log"
TOKEN=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
edge_write "$T_DIR/edge.yaml" <<EOF
admin: { bind: "127.0.0.1:$AP", token: "$TOKEN" }
allow: ["127.0.0.5/32"]
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
  mail: { servers: ["127.0.0.1:$BP"], proxy_protocol: v1 }
bans:
  time: 10m
  rate: { count: 6, window: 30s }
  early_close: { count: 3, window: 30s }
  reports: { count: 2, window: 1m }
  log_ban:
    - file: $T_DIR/mail.log
      pattern: 'unknown\[<ADDR>\]: SASL LOGIN authentication failed'
EOF
start_edge "$T_DIR/edge.yaml" || bail "edge did not start"
TW() { "$TAILWART" "$@" -c "$T_DIR/edge.yaml"; }
# greet FROM PORT: what the edge answers first ("" on a silent close).
greet() {
	timeout 5 "$PY" -c "
import socket,sys
c=socket.socket(); c.bind(('$1',0)); c.settimeout(3); c.connect(('127.0.0.1',$2))
try: print(c.recv(200).decode().strip())
except OSError as e: print('ERR', e.__class__.__name__)"
}

# 1. A manual ban while the edge runs: both listeners, nothing to the backend.
TW ban add 127.0.0.9 --reason "e2e manual" >/dev/null || not_ok "ban add" "exit $?"
sleep 1.3
s=$(greet 127.0.0.9 "$SP"); i=$(greet 127.0.0.9 "$IP")
sleep 0.4
if [[ $s == "554 5.7.1 "* ]] && [[ $i == "* BYE "* ]] && ! grep -qs ' 127.0.0.9 ' "$T_DIR/backend.log"; then
	ok "a CLI ban is enforced within ~1 s on SMTP and IMAP alike, before any byte reaches the backend"
else
	not_ok "CLI ban on every listener" "smtp='$s' imap='$i' backend=$(grep -cs 127.0.0.9 "$T_DIR/backend.log")"
fi

# 2. The rate trigger: 127.0.0.6 is banned, the allowed 127.0.0.5 never.
for n in $(seq 10); do greet 127.0.0.5 "$SP" >>"$T_DIR/allowed.out"; greet 127.0.0.6 "$SP" >>"$T_DIR/rated.out"; done
sleep 0.6
a=$(greet 127.0.0.5 "$SP"); r=$(greet 127.0.0.6 "$SP")
if [ "$(grep -c '^220 ready' "$T_DIR/allowed.out")" = 10 ] && [[ $a == "220 ready" ]] && [[ $r == "554 5.7.1 "* ]] &&
	TW ban list | grep -q '^127.0.0.6/32 .* rate '; then
	ok "rate trigger bans 127.0.0.6; 127.0.0.5 in allow is never banned"
else
	not_ok "rate trigger and allow" "allowed=$(grep -c '^220' "$T_DIR/allowed.out")/10 a='$a' r='$r'"
fi

# 3. Reports through the admin API (token required) ban the reported address.
code=$(curl -s -o /dev/null -w '%{http_code}' -XPOST -d '{"address":"127.0.0.7"}' "http://127.0.0.1:$AP/api/v1/reports")
for n in 1 2 3; do
	curl -s -o /dev/null -XPOST -H "Authorization: Bearer $TOKEN" \
		-d '{"address":"127.0.0.7","reason":"auth failure"}' "http://127.0.0.1:$AP/api/v1/reports"
done
sleep 0.6
r=$(greet 127.0.0.7 "$IP")
if [ "$code" = 401 ] && [[ $r == "* BYE "* ]]; then
	ok "reports need the token (401 without) and ban the reported address"
else
	not_ok "reports" "code=$code imap='$r'"
fi

# 4. log_ban: the mail server's log lines count as reports.
for n in 1 2 3; do
	echo "Nov 27 07:23:1$n mx postfix/smtpd[2690$n]: warning: unknown[127.0.0.8]: SASL LOGIN authentication failed: UGFzc3dvcmQ6" >>"$T_DIR/mail.log"
done
sleep 1
r=$(greet 127.0.0.8 "$SP")
if [[ $r == "554 5.7.1 "* ]] && grep -q 'event=ban net=127.0.0.8/32' "$EDGE_LOG"; then
	ok "log_ban: failed-auth lines in the mail log ban the address"
else
	not_ok "log_ban" "smtp='$r'"
fi

# 5. early_close: a client that hangs up before the banner, thrice.
for n in 1 2 3 4; do
	"$PY" -c "
import socket; c=socket.socket(); c.bind(('127.0.0.10',0)); c.connect(('127.0.0.1',$SP)); c.close()"
	sleep 0.1
done
sleep 0.8
r=$(greet 127.0.0.10 "$SP")
if [[ $r == "554 5.7.1 "* ]] && grep -q 'event=ban net=127.0.0.10/32 source=early_close' "$EDGE_LOG"; then
	ok "early_close: closing before the backend's banner bans a scanner"
else
	not_ok "early_close" "smtp='$r' $(grep event=ban "$EDGE_LOG" | tail -1)"
fi

# 6. A ban survives a restart; del lifts it.
stop_group "$EDGE_PID" 5
start_edge "$T_DIR/edge.yaml" || bail "edge did not restart"
sleep 0.5
s=$(greet 127.0.0.9 "$SP")
TW ban del 127.0.0.9 >/dev/null
sleep 1.3
s2=$(greet 127.0.0.9 "$SP")
if [[ $s == "554 5.7.1 "* ]] && [[ $s2 == "220 ready" ]]; then
	ok "bans survive an edge restart; ban del lifts one within ~1 s"
else
	not_ok "restart and del" "before='$s' after='$s2'"
fi
if ! grep -rq "$TOKEN" "$T_DIR"/*.log "$T_DIR"/*.out 2>/dev/null; then
	ok "the admin token appears in no log"
else
	not_ok "the admin token appears in no log" "$(grep -rl "$TOKEN" "$T_DIR"/*.log)"
fi
finish
