#!/usr/bin/env bash
# t_postfix_postscreen.sh - Postfix postscreen behind the edge, PROXY v2.
#
# postscreen_upstream_proxy_protocol = haproxy on a high loopback port; the
# edge's smtp listener sends PROXY v2. A mail from 127.0.0.2 must be
# delivered and Postfix must log the real client (127.0.0.2), not the edge.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init postfix_postscreen
need_cmd postfix swaks
need_edge

read -r PF_PORT EDGE_PORT < <(freeport 2)
start_postfix "$T_DIR/postfix" "$PF_PORT" postscreen

edge_write "$T_DIR/edge.yaml" <<EOF
listeners:
  - name: smtp
    bind: ["127.0.0.1:$EDGE_PORT"]
    protocol: smtp
    backend: mail
backends:
  mail:
    servers: ["127.0.0.1:$PF_PORT"]
    proxy_protocol: v2
EOF
start_edge "$T_DIR/edge.yaml" || bail "edge did not start"

# Control: without the header postscreen must not take mail, so the delivery
# below depends on the edge's PROXY header.
if swaks_send 127.0.0.1 "$PF_PORT" "direct-$$" --quit-after RCPT; then
	not_ok "postscreen refuses a client without PROXY header" "swaks succeeded directly"
else
	ok "postscreen refuses a client without PROXY header"
fi

postfix_mail_checks smtp postscreen
finish
