#!/bin/bash
# t_dns_lint_spf.sh - `tailwart dns lint` through the CLI: the offline rules
# on a zone file (two SPF records, lesson 14), an SPF whose includes outside
# the zone are followed through a real Knot DNS server on loopback
# (--resolver) and go over the 10-lookup limit, and the edge config check
# of a mail AAAA without an IPv6 SMTP listener (-c, lesson 13).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init dns_lint_spf
need_cmd knotd
[ -x "$TAILWART" ] || bail "no tailwart binary at $TAILWART"

PORT=$(freeport 1)
KD=$T_DIR/knot
mkdir -p "$KD"
cat >"$KD/knot.conf" <<EOF
server:
    listen: 127.0.0.1@$PORT
    rundir: "$KD"
database:
    storage: "$KD"
log:
  - target: stderr
    any: warning
template:
  - id: default
    storage: "$KD"
    file: "%s.zone"
zone:
  - domain: ext.test
EOF
cat >"$KD/ext.test.zone" <<'EOF'
$ORIGIN ext.test.
$TTL 60
@ SOA ns hostmaster 1 3600 600 86400 60
@ NS ns
ns A 127.0.0.1
big TXT "v=spf1 a mx a mx a mx a mx a -all"
big A 192.0.2.1
big MX 10 ns
small TXT "v=spf1 ip4:192.0.2.0/24 -all"
EOF
spawn "$T_DIR/knotd.log" knotd -c "$KD/knot.conf"
wait_listen 127.0.0.1 "$PORT" || {
	diag_file "$T_DIR/knotd.log"
	bail "knotd did not listen on $PORT"
}

# --- offline: two SPF records at the apex -------------------------------
cat >"$T_DIR/dup.zone" <<'EOF'
$ORIGIN example.com.
$TTL 300
@ IN MX 10 mail
mail IN A 192.0.2.10
@ IN TXT "v=spf1 mx -all"
@ IN TXT "v=spf1 mx include:small.ext.test -all"
EOF
out=$("$TAILWART" dns lint "$T_DIR/dup.zone" --offline 2>&1)
rc=$?
if [ $rc = 1 ] && grep -q "dup.zone:6: example.com. TXT: .*two SPF records are a permerror" <<<"$out"; then
	ok "offline: two SPF records are an error with file and line"
else
	not_ok "offline: two SPF records are an error with file and line" "rc $rc"
	diag "$out"
fi
if grep -q "offline: include:small.ext.test" <<<"$out"; then
	ok "offline: the include outside the zone is counted, not followed, and said so"
else
	not_ok "offline: the include outside the zone is counted, not followed, and said so"
	diag "$out"
fi
out=$("$TAILWART" dns lint "$T_DIR/dup.zone" --offline --json 2>&1)
rc=$?
res=$("$PY" -c 'import json,sys
j=json.loads(sys.stdin.read())
e=j["errors"]
print(len(e), e[0]["line"] if e else "-", e[0]["field"] if e else "-", "SPF" in (e[0]["message"] if e else ""))' <<<"$out" 2>&1)
if [ $rc = 1 ] && [ "$res" = "1 6 example.com. TXT True" ]; then
	ok "--json: the same finding as data (line 6, field, message), exit 1"
else
	not_ok "lint --json" "rc $rc: $res"
	diag "$out"
fi

# --- online: includes followed through Knot ---------------------------------
cat >"$T_DIR/over.zone" <<'EOF'
$ORIGIN example.com.
$TTL 300
@ IN MX 10 mail
mail IN A 192.0.2.10
@ IN TXT "v=spf1 mx include:big.ext.test include:small.ext.test -all"
EOF
out=$("$TAILWART" dns lint "$T_DIR/over.zone" --resolver "127.0.0.1:$PORT" 2>&1)
rc=$?
if [ $rc = 1 ] && grep -q "over.zone:5: .*SPF needs 12 DNS lookups" <<<"$out"; then
	ok "online: nested includes counted through the resolver (3 + 9 = 12 > 10)"
else
	not_ok "online: nested includes counted through the resolver" "rc $rc"
	diag "$out"
fi

cat >"$T_DIR/fine.zone" <<'EOF'
$ORIGIN example.com.
$TTL 300
@ IN MX 10 mail
mail IN A 192.0.2.10
mail IN AAAA 2001:db8::10
@ IN TXT "v=spf1 mx include:small.ext.test -all"
_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.com"
EOF
out=$("$TAILWART" dns lint "$T_DIR/fine.zone" --resolver "127.0.0.1:$PORT" 2>&1)
rc=$?
if [ $rc = 0 ] && grep -q "0 errors, 0 warnings" <<<"$out"; then
	ok "online: a clean mail zone has no findings"
else
	not_ok "online: a clean mail zone has no findings" "rc $rc"
	diag "$out"
fi

# --- -c: mail AAAA but the edge listens for SMTP on IPv4 only -------------
cat >"$T_DIR/edge.yaml" <<'EOF'
listeners:
  - name: smtp
    bind: "0.0.0.0:25"
    protocol: smtp
    backend: mail
backends:
  mail:
    servers: ["192.0.2.99:25"]
EOF
out=$("$TAILWART" dns lint "$T_DIR/fine.zone" --offline -c "$T_DIR/edge.yaml" 2>&1)
rc=$?
if [ $rc = 0 ] && grep -q "fine.zone:5: mail.example.com. AAAA: .*no SMTP listener" <<<"$out"; then
	ok "-c: a mail host AAAA without an IPv6 SMTP listener is a warning"
else
	not_ok "-c: a mail host AAAA without an IPv6 SMTP listener is a warning" "rc $rc"
	diag "$out"
fi
sed -i 's/"0.0.0.0:25"/"[::]:25"/' "$T_DIR/edge.yaml"
out=$("$TAILWART" dns lint "$T_DIR/fine.zone" --offline -c "$T_DIR/edge.yaml" 2>&1)
if ! grep -q "no SMTP listener" <<<"$out"; then
	ok "-c: a dual-stack [::]:25 listener satisfies it"
else
	not_ok "-c: a dual-stack [::]:25 listener satisfies it"
	diag "$out"
fi

finish
