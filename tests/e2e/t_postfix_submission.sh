#!/usr/bin/env bash
# t_postfix_submission.sh - Postfix smtpd (submission style) behind the edge.
#
# smtpd with smtpd_upstream_proxy_protocol = haproxy (no postscreen), the
# edge's submission listener sends PROXY v2. A mail from 127.0.0.2 must be
# delivered and Postfix must log 127.0.0.2 as the client.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init postfix_submission
need_cmd postfix swaks
need_edge

read -r PF_PORT EDGE_PORT < <(freeport 2)
start_postfix "$T_DIR/postfix" "$PF_PORT" submission

edge_write "$T_DIR/edge.yaml" <<EOF
listeners:
  - name: submission
    bind: ["127.0.0.1:$EDGE_PORT"]
    protocol: submission
    backend: mail-submission
backends:
  mail-submission:
    servers: ["127.0.0.1:$PF_PORT"]
    proxy_protocol: v2
EOF
start_edge "$T_DIR/edge.yaml" || bail "edge did not start"

# Control: this smtpd insists on a PROXY header.
if swaks_send 127.0.0.1 "$PF_PORT" "direct-$$" --quit-after RCPT; then
	not_ok "smtpd refuses a client without PROXY header" "swaks succeeded directly"
else
	ok "smtpd refuses a client without PROXY header"
fi

postfix_mail_checks submission submission

if grep -qE "postfix/submission/smtpd\[[0-9]+\]: connect from [^ ]*\[127\.0\.0\.2\]" "$PF_LOG"; then
	ok "the submission service (syslog_name postfix/submission) took the mail"
else
	not_ok "the submission service (syslog_name postfix/submission) took the mail" "no postfix/submission line"
	diag_file "$PF_LOG" 10
fi
finish
