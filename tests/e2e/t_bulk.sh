#!/usr/bin/env bash
# t_bulk.sh - the relay moves bytes exactly, in bulk and in number.
#
#  - 1 GiB up through the edge: sha256 computed by the sender and by the
#    backend must match, and the close line must count every byte;
#  - 256 MiB down: every byte checked against the expected pattern;
#  - 1,000 connections open at the same time, each echoing 16 KiB;
#  - the read/write fallback (TAILWART_NO_SPLICE=1, a second edge) moves a
#    smaller transfer exactly too; whether pipes are in use is read from
#    /proc/PID/fd during a paced transfer on each edge.
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

# pipes PID: how many pipe fds the process holds.
pipes() { find "/proc/$1/fd" -lname 'pipe:*' 2>/dev/null | wc -l; }
# paced_pipes PORT PID: pipe fds of PID sampled in the middle of a 2 s echo.
paced_pipes() {
	local port=$1 pid=$2 bg n
	"$PY" "$T_DIR/tw.py" echo 127.0.0.1 "$port" 50331648 --rate 25165824 --bind "$CLIENT_ADDR" \
		>"$T_DIR/paced.$port.out" 2>&1 &
	bg=$!
	sleep 1
	n=$(pipes "$pid")
	wait "$bg"
	PACED_RC=$?
	echo "$n"
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

if is_tailwart; then
	idle1=$(pipes "$EDGE1_PID")
	busy1=$(paced_pipes "$EP" "$EDGE1_PID")
	rc1=$PACED_RC
	idle2=$(pipes "$EDGE2_PID")
	busy2=$(paced_pipes "$EP2" "$EDGE2_PID")
	rc2=$PACED_RC
	diag "pipe fds: splice edge idle=$idle1 busy=$busy1; no-splice edge idle=$idle2 busy=$busy2"
	if [ "$rc1" = 0 ] && [ "$rc2" = 0 ]; then
		ok "paced echo (48 MiB over 2 s) exact through both edges"
	else
		not_ok "paced echo exact through both edges" "$(cat "$T_DIR"/paced.*.out)"
	fi
	if [ "$busy1" -gt "$idle1" ]; then
		ok "default edge holds pipes during a transfer (splice path)"
	else
		not_ok "default edge holds pipes during a transfer (splice path)" "idle=$idle1 busy=$busy1"
	fi
	if [ "$busy2" -le "$idle2" ]; then
		ok "TAILWART_NO_SPLICE=1 edge holds no extra pipes during a transfer (read/write path)"
	else
		not_ok "TAILWART_NO_SPLICE=1 edge holds no extra pipes during a transfer" "idle=$idle2 busy=$busy2"
	fi
else
	skip "splice vs read/write path seen in /proc/PID/fd" "stand-in"
fi
finish
