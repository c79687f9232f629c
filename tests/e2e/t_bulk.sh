#!/usr/bin/env bash
# t_bulk.sh - the relay moves bytes exactly, in bulk and in number.
#
#  - 1 GiB up through the edge: sha256 computed by the sender and by the
#    backend must match, and the close line must count every byte;
#  - 256 MiB down: every byte checked against the expected pattern;
#  - 1,000 connections open at the same time, each echoing 16 KiB;
#  - the read/write fallback (TAILWART_NO_SPLICE=1, a second edge) moves a
#    smaller transfer exactly too; which path each edge takes is seen with
#    strace (splice calls vs read/write calls) during a paced transfer.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init bulk
need_edge
ulimit -n 20000 2>/dev/null

GIB=1073741824
read -r SP EP EP2 < <(freeport 3)
start_server S "$T_DIR/server.log" "" -- "127.0.0.1:$SP"

edge_conf() {
	cat <<EOF
listeners:
  - name: bulk
    bind: ["127.0.0.1:$1"]
    protocol: tcp
    backend: sink
backends:
  sink:
    servers: ["127.0.0.1:$SP"]
    proxy_protocol: v2
EOF
}
edge_conf "$EP" | edge_write "$T_DIR/edge.yaml"
start_edge "$T_DIR/edge.yaml" || bail "edge did not start"
EDGE1_PID=$EDGE_PID

# 1 GiB up.
t0=$(now_ms)
out=$(timeout 120 "$PY" "$T_DIR/tw.py" up 127.0.0.1 "$EP" "$GIB" --bind "$CLIENT_ADDR" 2>&1)
rc=$?
secs=$((($(now_ms) - t0) / 1000))
sha=$(grep -oE 'sha256=[0-9a-f]{64}' <<<"$out" | head -n1 | cut -d= -f2)
if [ $rc = 0 ] && grep -qE "mode=sink .*src=127\.0\.0\.2:[0-9]+ proxy=v2 bytes=$GIB sha256=$sha" "$T_DIR/server.log"; then
	ok "1 GiB up through the edge in ${secs} s: sha256 equal at both ends (${sha:0:16}...)"
else
	not_ok "1 GiB up through the edge: sha256 equal at both ends" "$out"
	diag_file "$T_DIR/server.log" 3
fi
cport=$(grep -oE 'cport=[0-9]+' <<<"$out" | cut -d= -f2)
line=$(wait_close_line "$cport" 5)
if [ "$(kv "$line" bytes_in)" = $((GIB + 5)) ]; then
	ok "close line counts bytes_in=$((GIB + 5)) (1 GiB + the 5-byte command)"
else
	not_ok "close line counts bytes_in=$((GIB + 5))" "${line:-no close line for port $cport}"
fi

# 256 MiB down.
out=$(timeout 120 "$PY" "$T_DIR/tw.py" down 127.0.0.1 "$EP" 268435456 --bind "$CLIENT_ADDR" 2>&1)
rc=$?
sha=$(grep -oE 'sha256=[0-9a-f]{64}' <<<"$out" | head -n1 | cut -d= -f2)
if [ $rc = 0 ] && grep -qE "mode=source .*bytes=268435456 sha256=$sha" "$T_DIR/server.log"; then
	ok "256 MiB down through the edge: every byte as sent (sha256 equal)"
else
	not_ok "256 MiB down through the edge: every byte as sent" "$out"
fi

# 1,000 at once.
out=$(timeout 120 "$PY" "$T_DIR/tw.py" many 127.0.0.1 "$EP" 1000 16384 --bind "$CLIENT_ADDR" 2>&1)
rc=$?
peak=$(grep -oE '"peak": [0-9]+' <<<"$out" | grep -oE '[0-9]+$')
if [ $rc = 0 ] && [ "${peak:-0}" -ge 1000 ]; then
	ok "1,000 concurrent connections (all open at once) each echoed 16 KiB exactly"
else
	not_ok "1,000 concurrent connections each echoed 16 KiB exactly" "$out"
	diag_file "$EDGE_LOG" 5
fi
sleep 0.5
if pid_alive "$EDGE1_PID"; then
	ok "edge still running after the bulk runs"
else
	not_ok "edge still running after the bulk runs" "exited"
	diag_file "$EDGE_LOG" 10
fi

# paced_syscalls PORT PID: a 48 MiB echo paced over 2 s through the edge at
# PORT; in the middle, strace counts for one second the data syscalls of
# every thread of PID. Sets PACED_RC, SPLICE_CALLS, RW_CALLS.
paced_syscalls() {
	local port=$1 pid=$2 bg st=$T_DIR/strace.$1
	"$PY" "$T_DIR/tw.py" echo 127.0.0.1 "$port" 50331648 --rate 25165824 --bind "$CLIENT_ADDR" \
		>"$T_DIR/paced.$port.out" 2>&1 &
	bg=$!
	sleep 0.5
	timeout -s INT 1 strace -f -c -e trace=splice,read,write,recvfrom,sendto,recvmsg,sendmsg,readv,writev \
		-p "$pid" >/dev/null 2>"$st"
	wait "$bg"
	PACED_RC=$?
	SPLICE_CALLS=$(awk '$NF == "splice" {print $(NF-2)}' "$st" | head -n1)
	RW_CALLS=$(awk '$NF ~ /^(read|write|recvfrom|sendto|recvmsg|sendmsg|readv|writev)$/ {n += $(NF-2)} END {print n + 0}' "$st")
	SPLICE_CALLS=${SPLICE_CALLS:-0}
}

# The fallback, on a second edge.
edge_conf "$EP2" | edge_write "$T_DIR/edge2.yaml"
EDGE_LOG_FILE=$T_DIR/edge2.log start_edge "$T_DIR/edge2.yaml" TAILWART_NO_SPLICE=1 ||
	bail "edge with TAILWART_NO_SPLICE=1 did not start"
EDGE2_PID=$EDGE_PID
out=$(timeout 60 "$PY" "$T_DIR/tw.py" up 127.0.0.1 "$EP2" 67108864 --bind "$CLIENT_ADDR" 2>&1)
rc1=$?
out2=$(timeout 60 "$PY" "$T_DIR/tw.py" down 127.0.0.1 "$EP2" 67108864 --bind "$CLIENT_ADDR" 2>&1)
rc2=$?
if [ $rc1 = 0 ] && [ $rc2 = 0 ]; then
	ok "TAILWART_NO_SPLICE=1: 64 MiB up and 64 MiB down byte-exact"
else
	not_ok "TAILWART_NO_SPLICE=1: 64 MiB up and 64 MiB down byte-exact" "$out / $out2"
fi

if is_tailwart && command -v strace >/dev/null; then
	paced_syscalls "$EP" "$EDGE1_PID"
	rc1=$PACED_RC s1=$SPLICE_CALLS rw1=$RW_CALLS
	paced_syscalls "$EP2" "$EDGE2_PID"
	rc2=$PACED_RC s2=$SPLICE_CALLS rw2=$RW_CALLS
	diag "syscalls in 1 s: default edge splice=$s1 read/write=$rw1; TAILWART_NO_SPLICE=1 edge splice=$s2 read/write=$rw2"
	if [ "$rc1" = 0 ] && [ "$rc2" = 0 ]; then
		ok "paced echo (48 MiB over 2 s, traced) exact through both edges"
	else
		not_ok "paced echo (48 MiB over 2 s, traced) exact through both edges" "$(cat "$T_DIR"/paced.*.out)"
	fi
	if [ "$s1" -gt 0 ]; then
		ok "default edge relays with splice(2) ($s1 calls in 1 s)"
	else
		not_ok "default edge relays with splice(2)" "no splice calls; read/write calls $rw1"
		diag_file "$T_DIR/strace.$EP" 12
	fi
	if [ "$s2" = 0 ] && [ "$rw2" -gt 0 ]; then
		ok "TAILWART_NO_SPLICE=1 edge relays with read/write only ($rw2 calls, no splice)"
	else
		not_ok "TAILWART_NO_SPLICE=1 edge relays with read/write only" "splice=$s2 read/write=$rw2"
		diag_file "$T_DIR/strace.$EP2" 12
	fi
elif is_tailwart; then
	skip "splice vs read/write path seen with strace" "strace not installed"
else
	skip "splice vs read/write path seen with strace" "stand-in"
fi
finish
