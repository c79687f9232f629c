#!/usr/bin/env bash
# t_dovecot_imap.sh - Dovecot IMAP (haproxy = yes) behind the edge.
#
# 1. Through the edge from 127.0.0.2: LOGIN and SELECT INBOX work and
#    Dovecot logs rip=127.0.0.2 (the PROXY v2 source), lip=127.0.0.1.
# 2. With disable_plaintext_auth = yes and no TLS anywhere, a plaintext LOGIN
#    through the edge is still refused: the edge sends no SSL TLV, so Dovecot
#    must not believe the connection is secure.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init dovecot_imap
need_cmd dovecot
need_edge

read -r DV_PORT DV2_PORT EDGE_PORT EDGE2_PORT < <(freeport 4)
start_dovecot "$T_DIR/dovecot" "$DV_PORT"
dv_log=$DV_LOG
start_dovecot "$T_DIR/dovecot-strict" "$DV2_PORT" "disable_plaintext_auth = yes"
dv2_log=$DV_LOG

edge_write "$T_DIR/edge.yaml" <<EOF
listeners:
  - name: imap
    bind: ["127.0.0.1:$EDGE_PORT"]
    protocol: imap
    backend: mail-imap
  - name: imap-strict
    bind: ["127.0.0.1:$EDGE2_PORT"]
    protocol: imap
    backend: mail-imap-strict
backends:
  mail-imap:
    servers: ["127.0.0.1:$DV_PORT"]
    proxy_protocol: v2
  mail-imap-strict:
    servers: ["127.0.0.1:$DV2_PORT"]
    proxy_protocol: v2
EOF
start_edge "$T_DIR/edge.yaml" || bail "edge did not start"

# Control: Dovecot insists on the header on this port.
out=$(timeout 15 "$PY" "$T_DIR/tw.py" imap 127.0.0.1 "$DV_PORT" user secret --bind "$CLIENT_ADDR" 2>&1)
if [ $? -eq 0 ]; then
	not_ok "Dovecot (haproxy = yes) refuses a client without PROXY header" "login worked directly: $out"
else
	ok "Dovecot (haproxy = yes) refuses a client without PROXY header"
fi

out=$(timeout 15 "$PY" "$T_DIR/tw.py" imap 127.0.0.1 "$EDGE_PORT" user secret --bind "$CLIENT_ADDR" 2>&1)
if [ $? -eq 0 ]; then
	ok "IMAP LOGIN + SELECT INBOX through the edge"
else
	not_ok "IMAP LOGIN + SELECT INBOX through the edge" "$out"
	diag_file "$dv_log" 10
fi

if wait_for 5 grep -qE "imap-login: Info: Login: user=<user>, method=PLAIN, rip=127\.0\.0\.2, lip=127\.0\.0\.1" "$dv_log"; then
	ok "Dovecot logs Login ... rip=127.0.0.2, lip=127.0.0.1"
else
	not_ok "Dovecot logs Login ... rip=127.0.0.2, lip=127.0.0.1" "not in its log"
	diag_file "$dv_log" 10
fi

out=$(timeout 15 "$PY" "$T_DIR/tw.py" imap 127.0.0.1 "$EDGE2_PORT" user secret --bind "$CLIENT_ADDR" --expect refused 2>&1)
if [ $? -eq 0 ]; then
	ok "disable_plaintext_auth = yes: plaintext LOGIN through the edge is refused"
	trace "$out"
else
	not_ok "disable_plaintext_auth = yes: plaintext LOGIN through the edge is refused" "$out"
fi
if grep -q "LOGINDISABLED" <<<"$out"; then
	ok "Dovecot advertises LOGINDISABLED through the edge (connection not secured)"
else
	not_ok "Dovecot advertises LOGINDISABLED through the edge (connection not secured)" "$out"
fi
if wait_for 5 grep -qE "rip=127\.0\.0\.2" "$dv2_log"; then
	ok "strict Dovecot also saw rip=127.0.0.2"
else
	not_ok "strict Dovecot also saw rip=127.0.0.2" "not in its log"
	diag_file "$dv2_log" 10
fi

line=$(grep -E "event=close .*listener=imap .*client=127\.0\.0\.2:[0-9]+" "$EDGE_LOG" | tail -n1)
if [ -n "$line" ] && [ "$(kv "$line" backend)" = "127.0.0.1:$DV_PORT" ]; then
	ok "edge close line for the IMAP session names backend 127.0.0.1:$DV_PORT"
else
	not_ok "edge close line for the IMAP session names backend 127.0.0.1:$DV_PORT" "${line:-none}"
	diag_file "$EDGE_LOG" 10
fi
finish
