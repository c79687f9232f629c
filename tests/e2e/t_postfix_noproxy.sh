#!/usr/bin/env bash
# t_postfix_noproxy.sh - a backend that was not told about PROXY.
#
# Postfix smtpd WITHOUT smtpd_upstream_proxy_protocol behind a PROXY v2
# listener: Postfix answers the binary header as bad commands (the v2
# signature ends in "QUIT\n", so smtpd says 221 and hangs up). The edge must
# recognise this and log event=backend_diag naming the setting to add,
# smtpd_upstream_proxy_protocol, instead of leaving the operator to guess.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init postfix_noproxy
need_cmd postfix swaks
need_edge

read -r PF_PORT EDGE_PORT < <(freeport 2)
start_postfix "$T_DIR/postfix" "$PF_PORT" plain

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

# Control: the same Postfix takes mail when spoken to directly.
if swaks_send 127.0.0.1 "$PF_PORT" "direct-$$" --quit-after RCPT; then
	ok "Postfix answers a direct client (the backend itself is fine)"
else
	not_ok "Postfix answers a direct client (the backend itself is fine)" "swaks failed"
	diag "$(tail -n 8 <<<"$SWAKS_OUT")"
fi

token="e2e-noproxy-$$"
if swaks_send 127.0.0.1 "$EDGE_PORT" "$token"; then
	not_ok "mail through the PROXY v2 listener fails" "swaks succeeded: Postfix accepted a PROXY header it was not configured for?"
else
	ok "mail through the PROXY v2 listener fails"
fi
trace "$SWAKS_OUT"

# Postfix's side of the story: the header arrived as garbage.
if wait_for 5 grep -qE "postfix/smtpd\[[0-9]+\]: (connect from [^ ]*\[127\.0\.0\.1\]|.*(improper command pipelining|bad syntax|non-SMTP command))" "$PF_LOG"; then
	ok "Postfix saw the edge (127.0.0.1) send a PROXY header it did not expect"
else
	not_ok "Postfix saw the edge (127.0.0.1) send a PROXY header it did not expect" "no such maillog line"
	diag_file "$PF_LOG" 10
fi

if is_tailwart; then
	if wait_for 5 grep -qE "event=backend_diag.*smtpd_upstream_proxy_protocol" "$EDGE_LOG"; then
		ok "edge logs event=backend_diag naming smtpd_upstream_proxy_protocol"
		diag "$(grep -m1 -E 'event=backend_diag' "$EDGE_LOG")"
	else
		not_ok "edge logs event=backend_diag naming smtpd_upstream_proxy_protocol" "no such line"
		diag_file "$EDGE_LOG" 12
	fi
	line=$(grep -E "event=close .*client=127\.0\.0\.2:[0-9]+" "$EDGE_LOG" | tail -n1)
	if [ -n "$line" ]; then
		ok "edge logs one close line for the failed client"
		diag "$line"
	else
		not_ok "edge logs one close line for the failed client" "none"
	fi
else
	skip "edge logs event=backend_diag naming smtpd_upstream_proxy_protocol" "HAProxy stand-in has no backend diagnosis"
fi
finish
