#!/usr/bin/env bash
# t_reload.sh - routes are data: edits are picked up, bad edits refused.
#
# Seed lesson 12: a route change the process only reads at start-up is
# invisible until a restart. Here:
#  1. a new SNI route added by editing the file (written to a temp file and
#     renamed over it, as editors do), no signal: it is used;
#  2. a new listener added by rewriting the file in place, no signal: used;
#  3. an invalid edit is refused, the log names file:line, and every old
#     route and listener keeps working (also after an explicit SIGHUP);
#  4. 50 reloads (file rewrite + SIGHUP) while 100 long-lived connections
#     stream data and short connections keep arriving on three routes: no
#     connection broken, no byte lost or changed.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init reload
need_edge

read -r PA PB P_PLAIN P_SNI P_EXTRA P_EXTRA2 < <(freeport 6)
start_server A "$T_DIR/a.log" "" -- "127.0.0.1:$PA"
start_server B "$T_DIR/b.log" "" -- "127.0.0.1:$PB"
CONF=$T_DIR/edge.yaml

# conf [b-route] [extra] [churn]: the config with the optional parts.
conf() {
	local want=" $* "
	cat <<EOF
listeners:
  - name: plain
    bind: ["127.0.0.1:$P_PLAIN"]
    protocol: tcp
    backend: a
  - name: sni
    bind: ["127.0.0.1:$P_SNI"]
    protocol: tls
    sni:
      "a.e2e.test": a
EOF
	[[ $want == *" b-route "* ]] && echo '      "b.e2e.test": b'
	[[ $want == *" churn "* ]] && echo '      "c.e2e.test": b'
	if [[ $want == *" extra "* ]]; then
		cat <<EOF
  - name: extra
    bind: ["127.0.0.1:$P_EXTRA"]
    protocol: tcp
    backend: b
EOF
	fi
	if [[ $want == *" churn "* ]]; then
		cat <<EOF
  - name: extra2
    bind: ["127.0.0.1:$P_EXTRA2"]
    protocol: tcp
    backend: a
EOF
	fi
	cat <<EOF
timeouts:
  drain: 120s
backends:
  a:
    servers: ["127.0.0.1:$PA"]
    proxy_protocol: v2
  b:
    servers: ["127.0.0.1:$PB"]
    proxy_protocol: v1
EOF
}

conf | edge_write "$CONF"
start_edge "$CONF" || bail "edge did not start"
edge_pid=$EDGE_PID

# probe PORT [SNI]: prints the tag of the server reached ("" if none).
probe() {
	timeout 10 "$PY" "$T_DIR/tw.py" probe 127.0.0.1 "$1" --bind "$CLIENT_ADDR" ${2:+--sni "$2"} 2>&1 |
		grep -oE '^tag=[A-Z]+' | cut -d= -f2
}
probe_is() { [ "$(probe "$1" "${3:-}")" = "$2" ]; }
# Without inotify (the stand-in), the edit needs the signal.
nudge() { is_tailwart || edge_reload; }

if probe_is "$P_SNI" A a.e2e.test && ! probe_is "$P_SNI" B b.e2e.test; then
	ok "start: a.e2e.test -> A, b.e2e.test has no route yet"
else
	not_ok "start: a.e2e.test -> A, b.e2e.test has no route yet" "a -> '$(probe "$P_SNI" a.e2e.test)', b -> '$(probe "$P_SNI" b.e2e.test)'"
fi

# 1. New route, file renamed over the old one, no signal.
conf b-route | edge_write "$CONF" rename
nudge
if wait_for 5 probe_is "$P_SNI" B b.e2e.test; then
	ok "1. route b.e2e.test -> B added by editing the file (rename) is used$(is_tailwart && echo ' without a signal')"
else
	not_ok "1. route b.e2e.test -> B added by editing the file (rename) is used" "b.e2e.test -> '$(probe "$P_SNI" b.e2e.test)' after 5 s"
	diag_file "$EDGE_LOG" 8
fi

# 2. New listener, file rewritten in place, no signal.
conf b-route extra | edge_write "$CONF" inplace
nudge
if wait_listen 127.0.0.1 "$P_EXTRA" 5 && wait_for 3 probe_is "$P_EXTRA" B; then
	ok "2. listener 'extra' (127.0.0.1:$P_EXTRA -> B) added by rewriting the file in place is used"
else
	not_ok "2. listener 'extra' added by rewriting the file in place is used" "port $P_EXTRA: '$(probe "$P_EXTRA")'"
	diag_file "$EDGE_LOG" 8
fi

all_routes_work() {
	probe_is "$P_PLAIN" A && probe_is "$P_SNI" A a.e2e.test && probe_is "$P_SNI" B b.e2e.test &&
		probe_is "$P_EXTRA" B
}

# 3. An invalid edit: refused with file:line, nothing changes.
if is_tailwart; then
	conf b-route extra | sed 's/proxy_protocol: v1/proxy_protocol: v7/' | edge_write "$CONF" inplace
	bad_line=$(grep -n 'proxy_protocol: v7' "$CONF" | cut -d: -f1)
	if wait_for 5 grep -qE "edge\.yaml:$bad_line([^0-9]|\$)" "$EDGE_LOG"; then
		ok "3. invalid edit refused, the log names edge.yaml:$bad_line"
		diag "$(grep -m1 -E "edge\.yaml:$bad_line([^0-9]|\$)" "$EDGE_LOG")"
	else
		not_ok "3. invalid edit refused, the log names edge.yaml:$bad_line" "no such log line"
		diag_file "$EDGE_LOG" 8
	fi
	kill -HUP "$EDGE_PID"
	sleep 0.5
	if pid_alive "$EDGE_PID" && all_routes_work; then
		ok "3. after the invalid edit (and a SIGHUP) every old route and listener still works"
	else
		not_ok "3. after the invalid edit every old route and listener still works" \
			"plain '$(probe "$P_PLAIN")' sni-a '$(probe "$P_SNI" a.e2e.test)' sni-b '$(probe "$P_SNI" b.e2e.test)' extra '$(probe "$P_EXTRA")'"
		diag_file "$EDGE_LOG" 8
	fi
	if grep -q "src=127.0.0.2" "$T_DIR/a.log" && grep -q "proxy=v1" "$T_DIR/b.log"; then
		ok "3. backends still get PROXY v2 (A) and v1 (B) headers with src=127.0.0.2"
	else
		not_ok "3. backends still get PROXY v2 (A) and v1 (B) headers" "see a.log / b.log"
	fi
else
	skip "3. invalid edit refused with file:line, old routes keep working" "HAProxy stand-in reads another file"
fi

# 4. 50 reloads under load.
conf b-route extra | edge_write "$CONF"
nudge
wait_for 5 all_routes_work || not_ok "4. routes work before the reload storm" "no"
stop_file=$T_DIR/stream.stop
ready_file=$T_DIR/stream.ready
"$PY" "$T_DIR/tw.py" stream 127.0.0.1 "$P_PLAIN" --bind "$CLIENT_ADDR" --conns 100 \
	--churn "127.0.0.1:$P_PLAIN" --churn "127.0.0.1:$P_SNI/a.e2e.test" --churn "127.0.0.1:$P_EXTRA" \
	--stop-file "$stop_file" --ready-file "$ready_file" >"$T_DIR/stream.out" 2>&1 &
stream_pid=$!
defer "kill $stream_pid"
wait_for 10 test -e "$ready_file" || not_ok "4. stream client ready" "no ready file"
t0=$(now_ms)
for i in $(seq 1 50); do
	if ((i % 2)); then
		conf b-route extra churn | edge_write "$CONF"
	else
		conf b-route extra | edge_write "$CONF"
	fi
	edge_reload
	sleep 0.15
done
reload_ms=$(($(now_ms) - t0))
sleep 1
touch "$stop_file"
if timeout 90 tail --pid="$stream_pid" -f /dev/null; then :; fi
wait "$stream_pid"
rc=$?
res=$(cat "$T_DIR/stream.out")
if [ $rc = 0 ]; then
	ok "4. 50 reloads in ${reload_ms} ms: 100 long-lived streams intact, every new connection served"
else
	not_ok "4. 50 reloads under load: no connection broken or truncated" "$res"
fi
diag "$res"
churn_ok=$(grep -oE '"churn_ok": [0-9]+' <<<"$res" | grep -oE '[0-9]+$')
if [ "${churn_ok:-0}" -ge 100 ]; then
	ok "4. new connections kept arriving during the reloads ($churn_ok served)"
else
	not_ok "4. new connections kept arriving during the reloads" "only ${churn_ok:-0}"
fi
if [ "$EDGE_PID" = "$edge_pid" ] && pid_alive "$edge_pid" && all_routes_work; then
	ok "4. same edge process afterwards, all routes work"
else
	not_ok "4. same edge process afterwards, all routes work" "pid $edge_pid alive: $(pid_alive "$edge_pid" && echo yes || echo no)"
	diag_file "$EDGE_LOG" 10
fi
if is_tailwart; then
	diag "edge log lines mentioning reload: $(grep -ciE 'reload' "$EDGE_LOG")"
fi
finish
