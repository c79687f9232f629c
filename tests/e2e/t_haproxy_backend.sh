#!/usr/bin/env bash
# t_haproxy_backend.sh - HAProxy with accept-proxy as the edge's backend.
#
# A real HAProxy (http mode, `bind ... accept-proxy`) answers every request
# with the source address it took from the PROXY header. Through the edge's
# v1 and v2 listeners, from 127.0.0.2 and from ::1, the answer must show the
# client, never the edge.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init haproxy_backend
need_cmd haproxy curl
need_edge

read -r HAP_PORT EDGE_V1 EDGE_V2 EDGE_V2_6 < <(freeport 4)

cat >"$T_DIR/backend-haproxy.cfg" <<EOF
global
  maxconn 200
defaults
  mode http
  timeout connect 5s
  timeout client 10s
  timeout server 10s
frontend accept_proxy
  bind 127.0.0.1:$HAP_PORT accept-proxy
  http-request return status 200 content-type text/plain lf-string "src=%[src] src_port=%[src_port] dst=%[dst] dst_port=%[dst_port]\n"
EOF
start_haproxy "$T_DIR/backend-haproxy.cfg"
wait_listen 127.0.0.1 "$HAP_PORT" || bail "backend HAProxy does not listen"

edge_write "$T_DIR/edge.yaml" <<EOF
listeners:
  - name: v1
    bind: ["127.0.0.1:$EDGE_V1"]
    protocol: tcp
    backend: hap-v1
  - name: v2
    bind: ["127.0.0.1:$EDGE_V2"]
    protocol: tcp
    backend: hap-v2
  - name: v2-ipv6
    bind: ["[::1]:$EDGE_V2_6"]
    protocol: tcp
    backend: hap-v2
backends:
  hap-v1:
    servers: ["127.0.0.1:$HAP_PORT"]
    proxy_protocol: v1
  hap-v2:
    servers: ["127.0.0.1:$HAP_PORT"]
    proxy_protocol: v2
EOF
start_edge "$T_DIR/edge.yaml" || bail "edge did not start"

# Control: HAProxy rejects a request without the header.
if timeout 10 curl -sS -m 5 --interface "$CLIENT_ADDR" "http://127.0.0.1:$HAP_PORT/" >/dev/null 2>&1; then
	not_ok "backend HAProxy refuses a request without PROXY header" "curl succeeded"
else
	ok "backend HAProxy refuses a request without PROXY header"
fi

# curl_src LISTENER-ADDR PORT CLIENT: the body HAProxy returns.
curl_src() {
	local h=$1
	[[ $h == *:* ]] && h="[$h]"
	timeout 10 curl -sS -m 5 --interface "$3" "http://$h:$2/" 2>&1
}

for v in v1 v2; do
	port=EDGE_${v^^}
	port=${!port}
	body=$(curl_src 127.0.0.1 "$port" "$CLIENT_ADDR")
	if [[ $body == "src=127.0.0.2 "*"dst=127.0.0.1 dst_port=$port" ]]; then
		ok "PROXY $v: HAProxy sees src=127.0.0.2, dst=127.0.0.1:$port"
	else
		not_ok "PROXY $v: HAProxy sees src=127.0.0.2, dst=127.0.0.1:$port" "got: $body"
	fi
done

body=$(curl_src ::1 "$EDGE_V2_6" ::1)
if [[ $body == "src=::1 "*"dst=::1 dst_port=$EDGE_V2_6" ]]; then
	ok "PROXY v2 from an IPv6 client: HAProxy sees src=::1 while the edge dials over IPv4"
else
	not_ok "PROXY v2 from an IPv6 client: HAProxy sees src=::1 while the edge dials over IPv4" "got: $body"
fi

# The client's source port must survive too (v1 and v2 carry it).
cport_line=$(timeout 10 curl -sS -m 5 --interface "$CLIENT_ADDR" \
	"http://127.0.0.1:$EDGE_V2/" -w ' curl_local_port=%{local_port}' 2>&1)
sp=$(grep -oE 'src_port=[0-9]+' <<<"$cport_line" | cut -d= -f2)
lp=$(grep -oE 'curl_local_port=[0-9]+' <<<"$cport_line" | cut -d= -f2)
if [ -n "$sp" ] && [ "$sp" = "$lp" ]; then
	ok "PROXY v2 carries the client's source port ($lp)"
else
	not_ok "PROXY v2 carries the client's source port" "$cport_line"
fi

n=$(grep -cE "event=close .*client=127\.0\.0\.2:" "$EDGE_LOG")
if [ "$n" -ge 3 ]; then
	ok "edge logged a close line per client connection ($n)"
else
	not_ok "edge logged a close line per client connection" "found $n, want >= 3"
	diag_file "$EDGE_LOG" 10
fi
finish
