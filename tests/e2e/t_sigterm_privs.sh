#!/usr/bin/env bash
# t_sigterm_privs.sh - SIGTERM drains; privileges dropped to one capability.
#
# Drain (timeouts.drain = 3s): a connection that finishes within the bound
# completes byte-exact; a new connection after SIGTERM is refused; one that
# outlives the bound is cut, and only its close line says end=shutdown; the
# process exits 0 at about the bound.
#
# Privileges (user: nobody): every thread runs as nobody with exactly
# CAP_NET_BIND_SERVICE (CapPrm = CapEff = 0x400), and a listener on a port
# below 1024, added by editing the config + SIGHUP, still works.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init sigterm_privs
need_edge

read -r SP EP HP < <(freeport 3)
start_server S "$T_DIR/server.log" "" -- "127.0.0.1:$SP"

edge_write "$T_DIR/edge.yaml" <<EOF
listeners:
  - name: drain
    bind: ["127.0.0.1:$EP"]
    protocol: tcp
    backend: s
backends:
  s:
    servers: ["127.0.0.1:$SP"]
    proxy_protocol: v2
timeouts:
  drain: 3s
EOF
start_edge "$T_DIR/edge.yaml" || bail "edge did not start"

# A: 40 MiB at 20 MiB/s (2 s), B: 400 MiB at 20 MiB/s (20 s, outlives the drain).
"$PY" "$T_DIR/tw.py" echo 127.0.0.1 "$EP" 41943040 --rate 20971520 --bind "$CLIENT_ADDR" >"$T_DIR/a.out" 2>&1 &
pid_a=$!
"$PY" "$T_DIR/tw.py" echo 127.0.0.1 "$EP" 419430400 --rate 20971520 --bind "$CLIENT_ADDR" --timeout 30 >"$T_DIR/b.out" 2>&1 &
pid_b=$!
defer "kill $pid_a $pid_b"
sleep 0.5
t_term=$(now_ms)
edge_graceful_stop
sleep 0.3

out=$(timeout 10 "$PY" "$T_DIR/tw.py" probe 127.0.0.1 "$EP" --bind "$CLIENT_ADDR" --timeout 3 2>&1)
if [[ $out != tag=* ]]; then
	ok "after SIGTERM a new connection is refused ($out)"
else
	not_ok "after SIGTERM a new connection is refused" "it was served: $out"
fi

wait "$pid_a"
rc_a=$?
if [ $rc_a = 0 ]; then
	ok "in-flight connection A (40 MiB, paced) finished byte-exact during the drain"
else
	not_ok "in-flight connection A finished byte-exact during the drain" "$(cat "$T_DIR/a.out")"
fi

for _ in $(seq 1 100); do
	pid_alive "$EDGE_PID" || break
	sleep 0.1
done
t_exit=$(now_ms)
if pid_alive "$EDGE_PID"; then
	not_ok "edge exits by itself after the drain bound" "still running $(((t_exit - t_term) / 1000)) s after SIGTERM"
	rc_edge=none
else
	wait "$EDGE_PID"
	rc_edge=$?
	took=$((t_exit - t_term))
	if [ "$took" -ge 2500 ] && [ "$took" -le 6000 ]; then
		ok "edge exited $took ms after SIGTERM (drain bound 3 s, one connection outlived it)"
	else
		not_ok "edge exited at about the drain bound (3 s)" "after $took ms"
	fi
fi
if [ "$rc_edge" = 0 ]; then
	ok "edge exit status 0"
else
	not_ok "edge exit status 0" "status $rc_edge"
	diag_file "$EDGE_LOG" 8
fi
wait "$pid_b"
rc_b=$?
if [ $rc_b != 0 ]; then
	ok "connection B, past the drain bound, was cut"
else
	not_ok "connection B, past the drain bound, was cut" "it completed"
fi

if is_tailwart; then
	port_a=$(grep -oE 'cport=[0-9]+' "$T_DIR/a.out" | cut -d= -f2)
	port_b=$(grep -oE 'cport=[0-9]+' "$T_DIR/b.out" | cut -d= -f2)
	la=$(edge_close_line "$port_a")
	lb=$(edge_close_line "$port_b")
	if [ -n "$la" ] && [ "$(kv "$la" end)" != shutdown ]; then
		ok "A's close line does not say end=shutdown (end=$(kv "$la" end))"
	else
		not_ok "A's close line does not say end=shutdown" "${la:-no close line}"
	fi
	if [ "$(kv "$lb" end)" = shutdown ]; then
		ok "B's close line says end=shutdown"
	else
		not_ok "B's close line says end=shutdown" "${lb:-no close line}"
	fi
	n=$(grep -c "end=shutdown" "$EDGE_LOG")
	if [ "$n" = 1 ]; then
		ok "exactly one close line with end=shutdown"
	else
		not_ok "exactly one close line with end=shutdown" "$n"
		diag_file "$EDGE_LOG" 10 "event=close"
	fi
else
	skip "close lines end=shutdown only past the drain bound" "stand-in"
fi

# ---- privileges
EDGE_LOG_FILE=$T_DIR/edge-privs.log
conf_privs() {
	cat <<EOF
user: nobody
listeners:
  - name: high
    bind: ["127.0.0.1:$HP"]
    protocol: tcp
    backend: s
EOF
	if [ -n "${1:-}" ]; then
		cat <<EOF
  - name: low
    bind: ["127.0.0.1:$1"]
    protocol: tcp
    backend: s
EOF
	fi
	cat <<EOF
backends:
  s:
    servers: ["127.0.0.1:$SP"]
    proxy_protocol: v2
EOF
}
conf_privs | edge_write "$T_DIR/privs.yaml"
start_edge "$T_DIR/privs.yaml" || bail "edge (user: nobody) did not start"

# The process whose credentials matter: tailwart itself, HAProxy's worker.
cred_pid=$EDGE_PID
if ! is_tailwart; then
	cred_pid=$(pgrep -P "$EDGE_PID" haproxy | head -n1)
fi
nobody_uid=$(id -u nobody)
bad=""
for st in /proc/"$cred_pid"/task/*/status; do
	uid=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "$st")
	prm=$(awk '/^CapPrm:/ {print $2}' "$st")
	eff=$(awk '/^CapEff:/ {print $2}' "$st")
	amb=$(awk '/^CapAmb:/ {print $2}' "$st")
	tid=$(basename "$(dirname "$st")")
	[ "$uid" = "$nobody_uid $nobody_uid $nobody_uid $nobody_uid" ] || bad+=" task $tid uid '$uid';"
	[ "$prm" = 0000000000000400 ] && [ "$eff" = 0000000000000400 ] ||
		bad+=" task $tid CapPrm=$prm CapEff=$eff;"
	case $amb in 0000000000000000 | 0000000000000400) ;; *) bad+=" task $tid CapAmb=$amb;" ;; esac
done
ntask=$(ls -d /proc/"$cred_pid"/task/* 2>/dev/null | wc -l)
if is_tailwart; then
	if [ -z "$bad" ] && [ "$ntask" -gt 0 ]; then
		ok "all $ntask threads: uid nobody, CapPrm = CapEff = 0x400 (CAP_NET_BIND_SERVICE only), CapAmb $amb"
	else
		not_ok "all threads: uid nobody, only CAP_NET_BIND_SERVICE" "$bad"
		grep -E '^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' "/proc/$cred_pid/status" | sed 's/^/#   /'
	fi
	groups=$(awk '/^Groups:/ {$1=""; print}' "/proc/$cred_pid/status" | xargs)
	gid=$(awk '/^Gid:/ {print $2}' "/proc/$cred_pid/status")
	if [ "$gid" != 0 ] && [[ " $groups " != *" 0 "* ]]; then
		ok "no root group left (gid $gid, groups '${groups:-none}')"
	else
		not_ok "no root group left" "gid $gid groups '$groups'"
	fi
else
	skip "uid nobody with only CAP_NET_BIND_SERVICE" "HAProxy keeps no capability (worker: ${bad:-ok})"
fi

out=$(timeout 10 "$PY" "$T_DIR/tw.py" probe 127.0.0.1 "$HP" --bind "$CLIENT_ADDR" 2>&1)
if [[ $out == "tag=S "*"src=127.0.0.2:"* ]]; then
	ok "unprivileged edge relays with PROXY v2 src=127.0.0.2"
else
	not_ok "unprivileged edge relays with PROXY v2 src=127.0.0.2" "$out"
fi

LOW=$(twpy freeport 1 --range 900 1024)
conf_privs "$LOW" | edge_write "$T_DIR/privs.yaml"
edge_reload
if wait_listen 127.0.0.1 "$LOW" 5; then
	out=$(timeout 10 "$PY" "$T_DIR/tw.py" probe 127.0.0.1 "$LOW" --bind "$CLIENT_ADDR" 2>&1)
	if [[ $out == "tag=S "* ]]; then
		ok "listener on 127.0.0.1:$LOW (< 1024) added by edit + SIGHUP while unprivileged, and used"
	else
		not_ok "listener on 127.0.0.1:$LOW added while unprivileged is used" "$out"
	fi
else
	not_ok "listener on 127.0.0.1:$LOW (< 1024) added by edit + SIGHUP while unprivileged" "not listening"
	diag_file "$EDGE_LOG" 8
fi
if is_tailwart; then
	uid=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$EDGE_PID/status")
	if [ "$uid" = "$nobody_uid $nobody_uid $nobody_uid $nobody_uid" ]; then
		ok "still nobody after the reload (no way back to root)"
	else
		not_ok "still nobody after the reload" "Uid: $uid"
	fi
fi
finish
