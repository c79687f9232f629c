#!/usr/bin/env bash
# t_happy_eyeballs.sh - a broken IPv6 path must not wedge a dual-stack backend.
#
# Seed lesson 8: a process that tries the AAAA first, gets ENETUNREACH and
# never falls back to the A record loses all mail to dual-stack names.
#
# Two namespaces joined by a veth pair: `edge` (2001:db8::1, 10.200.0.1) and
# `backend` (2001:db8::2, 10.200.0.2) where a test server listens on both.
# Inside the edge namespace /etc/hosts (via /etc/netns/NAME/hosts) gives
# backend.e2e.test both an AAAA and an A. IPv6 is then broken two ways:
#  (a) rejected at once: a policy rule makes TCP to 2001:db8::2 unreachable
#      (connect fails with ENETUNREACH; UDP, which glibc uses to sort
#      addresses, still works, so the AAAA stays first);
#  (b) silently dropped: the backend's replies to 2001:db8::1 are
#      blackholed, so a SYN is never answered.
# Each time a client connection through the edge must reach the backend over
# IPv4 in under 3 s, and the edge must log the failed IPv6 attempt
# (event=dial_fail family=ipv6) before the connection's close line.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init happy_eyeballs
need_cmd ip ss
need_edge

NS_E=tw-he-edge-$$
NS_B=tw-he-back-$$
netns_create "$NS_E"
netns_create "$NS_B"
ip link add "twhe$$e" netns "$NS_E" type veth peer name "twhe$$b" netns "$NS_B" ||
	bail "cannot create the veth pair"
ip -n "$NS_E" addr add 10.200.0.1/24 dev "twhe$$e"
ip -n "$NS_E" addr add 2001:db8::1/64 dev "twhe$$e" nodad
ip -n "$NS_B" addr add 10.200.0.2/24 dev "twhe$$b"
ip -n "$NS_B" addr add 2001:db8::2/64 dev "twhe$$b" nodad
ip -n "$NS_E" link set "twhe$$e" up
ip -n "$NS_B" link set "twhe$$b" up
netns_hosts "$NS_E" <<EOF
127.0.0.1 localhost
::1 localhost
2001:db8::2 backend.e2e.test
10.200.0.2 backend.e2e.test
EOF

BP=8025
EP=2525
start_server dual "$T_DIR/backend.log" "$NS_B" -- "10.200.0.2:$BP" "[2001:db8::2]:$BP"

# direct ADDR [TIMEOUT]: a probe from the edge namespace straight to the backend.
direct() { ip netns exec "$NS_E" "$PY" "$T_DIR/tw.py" probe "$1" "$BP" --timeout "${2:-2}" 2>&1; }
# The first IPv6 connect waits for neighbour discovery; get that done now.
wait_for 10 direct 2001:db8::2 || bail "fixture: no IPv6 path from $NS_E to the backend"
wait_for 10 direct 10.200.0.2 || bail "fixture: no IPv4 path from $NS_E to the backend"

edge_write "$T_DIR/edge.yaml" <<EOF
listeners:
  - name: he
    bind: ["127.0.0.1:$EP"]
    protocol: tcp
    backend: dual
backends:
  dual:
    servers: ["backend.e2e.test:$BP"]
    proxy_protocol: v2
timeouts:
  connect: 5s
EOF
EDGE_NETNS=$NS_E
start_edge "$T_DIR/edge.yaml" || bail "edge did not start"

# via_edge: a probe from 127.0.0.2 in the edge namespace, through the edge.
via_edge() { timeout 20 ip netns exec "$NS_E" "$PY" "$T_DIR/tw.py" probe 127.0.0.1 "$EP" --bind "$CLIENT_ADDR" --timeout 10 2>&1; }

out=$(via_edge)
if [[ $out == *"local=[2001:db8::2]:$BP "*"src=127.0.0.2:"* ]]; then
	ok "healthy: the edge reaches backend.e2e.test over IPv6 first, PROXY src=127.0.0.2"
else
	not_ok "healthy: the edge reaches backend.e2e.test over IPv6 first, PROXY src=127.0.0.2" "$out"
fi

# he_case LABEL: one client connection with IPv6 broken; checks path, time, log.
he_case() {
	local label=$1 out ms cport line id fail_n close_n
	out=$(via_edge)
	ms=$(grep -oE ' ms=[0-9]+' <<<"$out" | cut -d= -f2)
	cport=$(grep -oE 'cport=[0-9]+' <<<"$out" | cut -d= -f2)
	if [[ $out == *"local=10.200.0.2:$BP "* ]] && [ -n "$ms" ] && [ "$ms" -lt 3000 ]; then
		ok "$label: the client reached the backend over IPv4 in ${ms} ms (< 3 s)"
	elif is_tailwart; then
		not_ok "$label: the client reached the backend over IPv4 in < 3 s" "$out"
		diag_file "$EDGE_LOG" 8
	else
		skip "$label: the client reached the backend over IPv4 in < 3 s" "HAProxy dials one address, no Happy Eyeballs (got: $out)"
	fi
	if ! is_tailwart; then
		skip "$label: edge logs dial_fail family=ipv6 before the close line" "stand-in"
		return
	fi
	line=$(wait_close_line "$cport" 5)
	id=$(kv "$line" conn)
	if [ -z "$id" ]; then
		not_ok "$label: edge logs dial_fail family=ipv6 before the close line" "no close line for client port $cport"
		diag_file "$EDGE_LOG" 8
		return
	fi
	fail_n=$(grep -nE "(^| )conn=$id " "$EDGE_LOG" | grep -E "event=dial_fail" | grep -E "family=ipv6" | head -n1 | cut -d: -f1)
	close_n=$(grep -nE "(^| )conn=$id " "$EDGE_LOG" | grep -E "event=close" | head -n1 | cut -d: -f1)
	if [ -n "$fail_n" ] && [ "$fail_n" -lt "$close_n" ] && [ "$(kv "$line" backend)" = "10.200.0.2:$BP" ]; then
		ok "$label: edge logs dial_fail family=ipv6 before the close line (backend=10.200.0.2:$BP)"
		diag "$(sed -n "${fail_n}p" "$EDGE_LOG")"
	else
		not_ok "$label: edge logs dial_fail family=ipv6 before the close line" "conn=$id dial_fail line ${fail_n:-none}, close line $close_n"
		grep -E "(^| )conn=$id " "$EDGE_LOG" | sed 's/^/#   /'
	fi
}

# (a) IPv6 rejected at once.
ip -n "$NS_E" -6 rule add ipproto tcp to 2001:db8::2 unreachable pref 100 ||
	bail "cannot add the IPv6 unreachable rule (kernel without ipproto rules?)"
out=$(direct '2001:db8::2')
if [[ $out == *"errno=101"* ]]; then
	ok "(a) fixture: a direct IPv6 connect fails at once with ENETUNREACH"
else
	not_ok "(a) fixture: a direct IPv6 connect fails at once with ENETUNREACH" "$out"
fi
he_case "(a) IPv6 unreachable"
ip -n "$NS_E" -6 rule del pref 100

# (b) IPv6 silently dropped: SYNs arrive, SYN-ACKs vanish.
ip -n "$NS_B" -6 route add blackhole 2001:db8::1/128 || bail "cannot add the blackhole route"
t0=$(now_ms)
out=$(direct '2001:db8::2' 1)
t1=$(now_ms)
if [[ $out == *"connect_error=TimeoutError"* ]] && [ $((t1 - t0)) -ge 900 ]; then
	ok "(b) fixture: a direct IPv6 connect hangs (timed out after 1 s)"
else
	not_ok "(b) fixture: a direct IPv6 connect hangs" "$out after $((t1 - t0)) ms"
fi
he_case "(b) IPv6 silently dropped"
ip -n "$NS_B" -6 route del blackhole 2001:db8::1/128

finish
