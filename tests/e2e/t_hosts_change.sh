#!/usr/bin/env bash
# t_hosts_change.sh - backends are names, re-resolved after resolve_cache.
#
# Seed lesson 6: an ephemeral backend changes its address; anything that
# pinned the old address goes "Network is unreachable". Here the edge runs
# in its own namespace whose /etc/hosts (via /etc/netns/NAME/hosts) maps
# backend.e2e.test to 127.0.0.11 (server A). The file is changed to
# 127.0.0.12 (server B); once resolve_cache (1 s) has expired, every new
# connection must go to B, with no restart and no signal. Then A is
# stopped: every new connection must still succeed.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init hosts_change
need_cmd ip ss
need_edge

NS=tw-hc-$$
netns_create "$NS"
hosts() {
	netns_hosts "$NS" <<EOF
127.0.0.1 localhost
$1 backend.e2e.test
EOF
}
hosts 127.0.0.11

BP=8025
EP=2525
start_server A "$T_DIR/a.log" "$NS" -- "127.0.0.11:$BP"
PID_A=$SPAWN_PID
start_server B "$T_DIR/b.log" "$NS" -- "127.0.0.12:$BP"

edge_write "$T_DIR/edge.yaml" <<EOF
listeners:
  - name: hc
    bind: ["127.0.0.1:$EP"]
    protocol: tcp
    backend: named
backends:
  named:
    servers: ["backend.e2e.test:$BP"]
    proxy_protocol: v2
resolve_cache: 1s
EOF
EDGE_NETNS=$NS
start_edge "$T_DIR/edge.yaml" || bail "edge did not start"
edge_pid=$EDGE_PID

via_edge() { timeout 15 ip netns exec "$NS" "$PY" "$T_DIR/tw.py" probe 127.0.0.1 "$EP" --bind "$CLIENT_ADDR" 2>&1; }
tag_of() { grep -oE '^tag=[A-Z]+' <<<"$1" | cut -d= -f2; }

out=$(via_edge)
if [ "$(tag_of "$out")" = A ]; then
	ok "before the change: backend.e2e.test -> 127.0.0.11 (server A)"
else
	not_ok "before the change: backend.e2e.test -> 127.0.0.11 (server A)" "$out"
	diag_file "$EDGE_LOG" 8
fi

hosts 127.0.0.12
t0=$(now_ms)
if [ "$(ip netns exec "$NS" getent hosts backend.e2e.test | awk '{print $1}')" = 127.0.0.12 ]; then
	ok "fixture: inside the namespace backend.e2e.test now resolves to 127.0.0.12"
else
	not_ok "fixture: inside the namespace backend.e2e.test now resolves to 127.0.0.12" "$(ip netns exec "$NS" getent hosts backend.e2e.test)"
fi
switched=""
while [ $(($(now_ms) - t0)) -lt 8000 ]; do
	out=$(via_edge)
	if [ "$(tag_of "$out")" = B ]; then
		switched=$(($(now_ms) - t0))
		break
	fi
	sleep 0.2
done
if [ -n "$switched" ] && [ "$switched" -le 4000 ]; then
	ok "after the hosts change new connections go to 127.0.0.12 (server B) within ${switched} ms (cache 1 s)"
elif [ -n "$switched" ]; then
	not_ok "after the hosts change new connections go to server B within 4 s" "took $switched ms (resolve_cache is 1 s)"
elif is_tailwart; then
	not_ok "after the hosts change new connections go to server B within 4 s" "still: $out"
	diag_file "$EDGE_LOG" 8
else
	skip "after the hosts change new connections go to server B" "HAProxy resolves server names once at start (lesson 6 reproduced: $out)"
fi

if [ "$EDGE_PID" = "$edge_pid" ] && pid_alive "$edge_pid"; then
	ok "same edge process (pid $edge_pid), no restart"
else
	not_ok "same edge process, no restart" "pid $edge_pid gone"
fi

# Each worker may hold its own cache entry: only once resolve_cache has run
# out since the change must every new connection go to B. A is still up
# here, so a stale answer shows as tag A rather than as a failure.
while [ $(($(now_ms) - t0)) -lt 1500 ]; do sleep 0.1; done
tags=""
for _ in 1 2 3 4 5 6 7 8 9 10; do
	tags+="$(tag_of "$(via_edge)")"
done
if [ "$tags" = BBBBBBBBBB ]; then
	ok "1.5 s after the change (cache 1 s), 10 of 10 new connections go to server B"
elif is_tailwart; then
	not_ok "1.5 s after the change (cache 1 s), 10 of 10 new connections go to server B" "servers reached: '$tags'"
	diag_file "$EDGE_LOG" 12
else
	skip "1.5 s after the change, 10 of 10 new connections go to server B" "stand-in (servers reached: '$tags')"
fi

stop_pid "$PID_A" 3 TERM
fails=0
tags=""
for _ in 1 2 3 4 5; do
	out=$(via_edge)
	tags+="$(tag_of "$out")"
	[ "$(tag_of "$out")" = B ] || fails=$((fails + 1))
done
if [ "$fails" = 0 ]; then
	ok "with the old address gone, 5 of 5 new connections reach server B"
elif is_tailwart; then
	not_ok "with the old address gone, 5 of 5 new connections reach server B" "$fails failed (tags: '$tags')"
else
	skip "with the old address gone, 5 of 5 new connections reach server B" "stand-in pinned the old address ($fails failed)"
fi

if is_tailwart; then
	line=$(grep -E "event=close .*backend=127\.0\.0\.12:$BP" "$EDGE_LOG" | tail -n1)
	if [ -n "$line" ]; then
		ok "edge close lines name backend=127.0.0.12:$BP"
	else
		not_ok "edge close lines name backend=127.0.0.12:$BP" "none"
		diag_file "$EDGE_LOG" 8
	fi
fi
finish
