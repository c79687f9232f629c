#!/usr/bin/env bash
# t_nginx_sni.sh - TLS passed through by SNI to nginx, never terminated.
#
# nginx serves two names, each on its own port with its own self-signed
# certificate (a.e2e.test expects PROXY v2, b.e2e.test plain TLS). One edge
# listener (protocol tls) routes by SNI: each name must reach its own site
# and present the backend's own certificate (curl verifies it against that
# certificate; the sha256 of the DER is compared too). A wildcard route is
# followed; an unknown name with no default is closed without reaching nginx.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init nginx_sni
need_cmd nginx curl openssl
need_edge

read -r PA PB EP < <(freeport 3)
start_nginx_sni "$T_DIR/nginx" "a.e2e.test=$PA=proxy" "b.e2e.test=$PB"
fp_a=$(openssl x509 -in "$NGX_DIR/a.e2e.test.crt" -outform DER | sha256sum | cut -d' ' -f1)
fp_b=$(openssl x509 -in "$NGX_DIR/b.e2e.test.crt" -outform DER | sha256sum | cut -d' ' -f1)

edge_write "$T_DIR/edge.yaml" <<EOF
listeners:
  - name: https
    bind: ["127.0.0.1:$EP"]
    protocol: tls
    sni:
      "a.e2e.test": site-a
      "b.e2e.test": site-b
      "*.w.e2e.test": site-b
backends:
  site-a:
    servers: ["127.0.0.1:$PA"]
    proxy_protocol: v2
  site-b:
    servers: ["127.0.0.1:$PB"]
EOF
start_edge "$T_DIR/edge.yaml" || bail "edge did not start"

# fetch NAME: curl through the edge, verifying the name's own certificate.
fetch() {
	local name=$1 ca=${2:-$NGX_DIR/$1.crt}
	timeout 15 curl -sS -m 10 --interface "$CLIENT_ADDR" --resolve "$name:$EP:127.0.0.1" \
		--cacert "$ca" "https://$name:$EP/" 2>&1
}

for name in a.e2e.test b.e2e.test; do
	body=$(fetch "$name")
	if [ "$body" = "site $name" ]; then
		ok "curl https://$name through the edge: its own site, its own certificate verified"
	else
		not_ok "curl https://$name through the edge: its own site, its own certificate verified" "got: $body"
	fi
done

for pair in "a.e2e.test:$fp_a" "b.e2e.test:$fp_b" "x.w.e2e.test:$fp_b"; do
	name=${pair%%:*}
	want=${pair#*:}
	got=$(timeout 15 "$PY" "$T_DIR/tw.py" tls-fp 127.0.0.1 "$EP" "$name" --bind "$CLIENT_ADDR" 2>&1)
	if [ "$got" = "$want" ]; then
		ok "certificate seen for $name is the backend's (sha256 ${want:0:16}...)"
	else
		not_ok "certificate seen for $name is the backend's" "got '$got', want $want"
	fi
done

if grep -qE "pp=127\.0\.0\.2:[0-9]+ sni=a\.e2e\.test" "$NGX_ACCESS"; then
	ok "nginx (proxy_protocol listener) logged the client 127.0.0.2 for a.e2e.test"
else
	not_ok "nginx (proxy_protocol listener) logged the client 127.0.0.2 for a.e2e.test" "not in access log"
	diag_file "$NGX_ACCESS" 5
fi

before=$(wc -l <"$NGX_ACCESS")
body=$(fetch c.e2e.test "$NGX_DIR/a.e2e.test.crt")
rc=$?
if [ $rc -ne 0 ] && ! grep -q "^site" <<<"$body"; then
	ok "unknown name c.e2e.test (no default route) is closed: curl fails"
	trace "$body"
else
	not_ok "unknown name c.e2e.test (no default route) is closed" "curl rc=$rc: $body"
fi
got=$(timeout 15 "$PY" "$T_DIR/tw.py" tls-fp 127.0.0.1 "$EP" c.e2e.test --bind "$CLIENT_ADDR" 2>&1)
if [[ $got == handshake_failed* ]]; then
	ok "unknown name: no TLS handshake completes"
else
	not_ok "unknown name: no TLS handshake completes" "got $got"
fi
sleep 0.3
after=$(wc -l <"$NGX_ACCESS")
if [ "$before" = "$after" ] && ! grep -q "c\.e2e\.test" "$NGX_ERROR"; then
	ok "unknown name never reached nginx"
else
	not_ok "unknown name never reached nginx" "access log grew $before -> $after"
fi

n=$(grep -cE "event=close .*listener=https .*client=127\.0\.0\.2:" "$EDGE_LOG")
if [ "$n" -ge 5 ]; then
	ok "edge logged close lines for the TLS connections ($n)"
else
	not_ok "edge logged close lines for the TLS connections" "found $n"
	diag_file "$EDGE_LOG" 10
fi
finish
