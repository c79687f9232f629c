#!/usr/bin/env bash
# The daemon's own contracts, with a Python backend that reports what it
# received: the client identity (trusted proxy header used, an untrusted
# one relayed as data), maxconn answered with 421 not a reset, EMFILE
# survived without a spin, socket activation, keys that need a restart
# refused on reload, a dual-stack [::] listener.
. "$(dirname "$0")/lib.sh"
e2e_init daemon
need_edge
is_tailwart || { skip "daemon contracts" "tailwart only"; finish; }

read -r EP BP AP SP RP DP < <(freeport 6)
# Backend: greets like SMTP, then reports the first 200 bytes it got (hex).
cat >"$T_DIR/backend.py" <<'PY'
import socket, sys, threading, binascii
port = int(sys.argv[1])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(512)
def h(c):
    try:
        c.sendall(b"220 backend ready\r\n")
        c.settimeout(5)
        data = b""
        while len(data) < 400:
            d = c.recv(4096)
            if not d:
                break
            data += d
            if data.endswith(b"QUIT\r\n"):
                break
        c.sendall(b"GOT " + binascii.hexlify(data) + b"\r\n")
    except OSError:
        pass
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=h, args=(c,), daemon=True).start()
PY
spawn "$T_DIR/backend.log" "$PY" "$T_DIR/backend.py" "$BP"
wait_listen 127.0.0.1 "$BP" || bail "backend did not start"

# client.py HOST PORT BIND PAYLOAD-HEX: prints every line the edge relays.
cat >"$T_DIR/client.py" <<'PY'
import socket, sys, binascii
host, port, bind, payload = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
c = socket.socket(fam); c.settimeout(5)
if bind:
    c.bind((bind, 0))
c.connect((host, port))
c.sendall(binascii.unhexlify(payload) + b"QUIT\r\n")
out = b""
try:
    while True:
        d = c.recv(4096)
        if not d:
            break
        out += d
except OSError as e:
    out += ("ERR %s" % e.__class__.__name__).encode()
print(out.decode(errors="replace"))
PY
client() { "$PY" "$T_DIR/client.py" "$@"; }
# The PROXY v1 header a trusted upstream (here 127.0.0.3) would send.
v1hex=$(printf 'PROXY TCP4 198.51.100.7 127.0.0.1 40000 25\r\n' | od -An -tx1 | tr -d ' \n')

edge_write "$T_DIR/edge.yaml" <<EOF
workers: 2
trusted_proxies: ["127.0.0.3/32"]
listeners:
  - name: smtp
    bind: ["127.0.0.1:$EP"]
    protocol: smtp
    backend: mail
    maxconn: 3
  - name: v6
    bind: ["[::]:$AP"]
    protocol: smtp
    backend: mail
  - name: restricted
    bind: ["127.0.0.1:$RP"]
    protocol: smtp
    backend: mail
    sources: ["127.0.0.4/32"]
  - name: dead
    bind: ["127.0.0.1:$DP"]
    protocol: smtp
    backend: nowhere
    messages: { tempfail: "421 4.3.2 mail.example.test is restarting, try again later" }
backends:
  mail: { servers: ["127.0.0.1:$BP"], proxy_protocol: v1 }
  nowhere: { servers: ["127.0.0.1:1"], connect_timeout: 1s }
EOF
start_edge "$T_DIR/edge.yaml" || bail "edge did not start"

# 1. A trusted upstream's header sets the identity; the edge sends it on.
out=$(client 127.0.0.1 "$EP" 127.0.0.3 "$v1hex")
got=$(grep -o 'GOT [0-9a-f]*' <<<"$out" | cut -d' ' -f2 | xxd -r -p 2>/dev/null)
first=$(head -n1 <<<"$got" | tr -d '\r')
second=$(sed -n 2p <<<"$got" | tr -d '\r')
if [[ $first == "PROXY TCP4 198.51.100.7 127.0.0.1 40000 "* ]] && [[ $second == "QUIT" ]]; then
	ok "a trusted proxy's header becomes the client identity sent on"
else
	not_ok "a trusted proxy's header becomes the client identity sent on" "first='$first' second='$second'"
fi

# 2. The same bytes from an untrusted peer are data after our header.
out=$(client 127.0.0.1 "$EP" 127.0.0.2 "$v1hex")
got=$(grep -o 'GOT [0-9a-f]*' <<<"$out" | cut -d' ' -f2 | xxd -r -p 2>/dev/null)
first=$(head -n1 <<<"$got" | tr -d '\r')
second=$(sed -n 2p <<<"$got" | tr -d '\r')
if [[ $first == "PROXY TCP4 127.0.0.2 127.0.0.1 "* ]] && [[ $second == "PROXY TCP4 198.51.100.7 "* ]]; then
	ok "an untrusted peer cannot spoof its address: its header is relayed as data"
else
	not_ok "an untrusted peer cannot spoof its address" "first='$first' second='$second'"
fi

# 3. Garbage from a trusted proxy: proto_error, nothing reaches the backend.
out=$(client 127.0.0.1 "$EP" 127.0.0.3 "$(printf 'HELLO\r\n' | od -An -tx1 | tr -d ' \n')")
sleep 0.3
if grep -q 'event=close listener=smtp client=127.0.0.3:.* end=proto_error' "$EDGE_LOG" && ! grep -q '220 backend' <<<"$out"; then
	ok "a trusted proxy without a valid header is closed with end=proto_error"
else
	not_ok "a trusted proxy without a valid header is closed" "$out"
fi

# 4. maxconn 3: the fourth concurrent client gets 421, not a reset.
cat >"$T_DIR/hold.py" <<'PY'
import socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
held = []
for i in range(n):
    c = socket.socket(); c.bind(("127.0.0.2", 0)); c.settimeout(5); c.connect((host, port))
    held.append(c)
    time.sleep(0.05)
for c in held:
    try:
        print(c.recv(200).decode(errors="replace").strip())
    except OSError as e:
        print("ERR", e)
PY
out=$("$PY" "$T_DIR/hold.py" 127.0.0.1 "$EP" 4)
if [ "$(grep -c '^220 backend' <<<"$out")" = 3 ] && grep -q '^421 4.3.2 ' <<<"$out"; then
	ok "over maxconn an SMTP client gets 421 4.3.2, not a reset"
else
	not_ok "over maxconn an SMTP client gets 421 4.3.2" "$out"
fi

# 5. [::]:P alone is dual-stack: IPv4 and IPv6 clients both get through,
#    and the IPv4 one is logged (and sent on) as plain IPv4.
out4=$(client 127.0.0.1 "$AP" 127.0.0.2 "")
out6=$(client ::1 "$AP" "" "")
sleep 0.3
if grep -q 'GOT' <<<"$out4" && grep -q 'GOT' <<<"$out6" &&
	grep -q 'event=close listener=v6 client=127.0.0.2:' "$EDGE_LOG" &&
	grep -q 'event=close listener=v6 client=\[::1\]:' "$EDGE_LOG"; then
	ok "[::]:P alone is dual-stack; v4-mapped clients are logged as IPv4"
else
	not_ok "[::]:P alone is dual-stack" "v4='$out4' v6='$out6'"
	diag_file "$EDGE_LOG" 5 'listener=v6'
fi

# 5b. sources: only 127.0.0.4 may connect to the restricted listener.
outok=$(client 127.0.0.1 "$RP" 127.0.0.4 "")
outno=$(client 127.0.0.1 "$RP" 127.0.0.2 "")
sleep 0.3
if grep -q GOT <<<"$outok" && ! grep -q '220' <<<"$outno" &&
	grep -q 'event=close listener=restricted client=127.0.0.2:.* end=banned' "$EDGE_LOG"; then
	ok "listener sources: an address outside them is closed before any backend byte"
else
	not_ok "listener sources" "ok='$outok' no='$outno'"
fi

# 5c. No server reachable: the configured temporary failure, then close.
out=$(client 127.0.0.1 "$DP" 127.0.0.2 "")
if grep -q '^421 4.3.2 mail.example.test is restarting' <<<"$out"; then
	ok "messages.tempfail replaces the 421 text when no server can be reached"
else
	not_ok "messages.tempfail" "$out"
fi

# 6. A key that needs a restart is refused on reload; routes stay.
sed -i 's/^workers: 2/workers: 3/' "$T_DIR/edge.yaml"
edge_reload
sleep 0.5
out=$(client 127.0.0.1 "$EP" 127.0.0.2 "")
if grep -q 'event=reload_failed.*workers.*needs a restart' "$EDGE_LOG" && grep -q GOT <<<"$out"; then
	ok "changing workers on reload is refused with a message; traffic goes on"
else
	not_ok "changing workers on reload is refused" "$(grep reload "$EDGE_LOG" | tail -2)"
fi
sed -i 's/^workers: 3/workers: 2/' "$T_DIR/edge.yaml"

# 7. EMFILE: with a tiny fd limit the edge pauses accepting, then recovers.
stop_group "$EDGE_PID" 3
printf 'listeners:\n  - name: t\n    bind: ["127.0.0.1:%s"]\n    protocol: smtp\n    backend: m\nbackends:\n  m: { servers: ["127.0.0.1:%s"] }\nworkers: 1\n' "$SP" "$BP" >"$T_DIR/fd.yaml"
EDGE_LOG_FILE=$T_DIR/edge-fd.log start_edge "$T_DIR/fd.yaml" || true
prlimit --pid "$EDGE_PID" --nofile=40:40
"$PY" - "$SP" <<'PY' >"$T_DIR/fd.out" 2>&1
import socket, sys, time
port = int(sys.argv[1]); held = []
for i in range(60):
    try:
        c = socket.socket(); c.bind(("127.0.0.2", 0)); c.settimeout(0.5); c.connect(("127.0.0.1", port)); held.append(c)
    except OSError:
        pass
time.sleep(1.0)
for c in held: c.close()
time.sleep(0.5)
c = socket.socket(); c.bind(("127.0.0.2", 0)); c.settimeout(3); c.connect(("127.0.0.1", port))
print("after:", c.recv(100).decode().strip())
PY
cpu=$(awk '{print $14+$15}' "/proc/$EDGE_PID/stat" 2>/dev/null)
if pid_alive "$EDGE_PID" && grep -q 'event=accept_paused' "$T_DIR/edge-fd.log" && grep -q 'after: 220 backend' "$T_DIR/fd.out"; then
	ok "out of file descriptors: accept paused (logged), no crash, service resumes (cpu ticks $cpu)"
else
	not_ok "out of file descriptors: accept paused and resumes" "$(cat "$T_DIR/fd.out") $(tail -3 "$T_DIR/edge-fd.log")"
fi
stop_group "$EDGE_PID" 3

# 8. Socket activation: the edge adopts a socket systemd would pass.
if command -v systemd-socket-activate >/dev/null; then
	spawn "$T_DIR/edge-sa.log" systemd-socket-activate -l "127.0.0.1:$SP" "$TAILWART" edge -c "$T_DIR/fd.yaml"
	# The socket listens before the edge runs (that is the point); wait for
	# the edge itself, which may take a while under a sanitizer and load.
	wait_for 15 grep -q 'event=start' "$T_DIR/edge-sa.log"
	out=$(client 127.0.0.1 "$SP" 127.0.0.2 "")
	sleep 0.3
	if grep -q GOT <<<"$out" && grep -q 'event=start' "$T_DIR/edge-sa.log"; then
		ok "socket activation: the listener uses the socket from LISTEN_FDS"
	else
		not_ok "socket activation" "$out $(tail -3 "$T_DIR/edge-sa.log")"
	fi
else
	not_ok "socket activation" "systemd-socket-activate missing (package systemd)"
fi
finish
