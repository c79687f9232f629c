#!/usr/bin/env bash
# t_dns_query.sh - `tailwart dns check` reads the delegation from the parent
# zone's own servers (tw_dns_parent_ns in src/dns/query.c), which must be on
# port 53, so everything runs inside a private network namespace:
#
#   127.0.0.2@53  Knot, zone test.: NS ns.test., delegates example.test. to
#                 ns1/ns2.example.test. with glue (127.0.0.3)
#   127.0.0.3@53  Knot, zone example.test.: apex NS ns1/ns2, TSIG for AXFR
#
# tailwart lists the zone from 127.0.0.3 (rfc2136 provider) and asks
# 127.0.0.2 as the resolver. Checked: the delegation line names ns1/ns2 and
# says ok; after the parent delegates to other names (the child's own apex
# NS set unchanged), the parent's names are shown and the check says WRONG
# with exit 1 (the parent's referral is read, not the child's NS set); a
# resolver that is down is reported as unreachable within seconds; the
# TSIG secret appears in no output. Then the spaceship provider against the
# API fake (in the namespace too): the parent delegating elsewhere is WRONG
# (exit 1), delegating to launch1/launch2.spaceship.net is ok.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/knot.sh
. "$(dirname "$0")/knot.sh"
e2e_init dns_query
need_cmd ip knotd knotc kdig
[ -x "$TAILWART" ] || bail "tailwart binary '$TAILWART' not found (build it)"
"$TAILWART" dns 2>&1 | grep -q 'tailwart dns check' ||
	bail "'$TAILWART' has no 'dns check' command"

NS=tw-dnsq-$$
netns_create "$NS"

PARENT=$T_DIR/parent
CHILD=$T_DIR/child
mkdir -p "$PARENT/zones" "$CHILD/zones"

write_parent() { # NS-NAME... : the delegation of example.test.
	local n
	{
		cat <<EOF
\$ORIGIN test.
\$TTL 300
@	SOA	ns hostmaster $1 3600 900 604800 300
@	NS	ns
ns	A	127.0.0.2
EOF
		shift
		for n in "$@"; do echo "example	NS	$n"; done
		echo "ns1.example	A	127.0.0.3"
		echo "ns2.example	A	127.0.0.3"
	} >"$PARENT/zones/test.zone"
}
write_parent 1 ns1.example.test. ns2.example.test.

cat >"$CHILD/zones/example.test.zone" <<'EOF'
$ORIGIN example.test.
$TTL 300
@	SOA	ns1 hostmaster 1 3600 900 604800 300
@	NS	ns1
@	NS	ns2
ns1	A	127.0.0.3
ns2	A	127.0.0.3
@	TXT	"v=spf1 mx -all"
www	A	192.0.2.10
EOF

# knot_start in the namespace: knotd outlives the short bash there, its pid
# is in DIR/knotd.pid for knot_stop (pids are global).
knot_in_ns() { # DIR ADDR ZONE [VAR=VALUE...]
	local dir=$1 addr=$2 zone=$3
	shift 3
	# shellcheck disable=SC2016 # (expanded by the inner bash)
	ip netns exec "$NS" env "$@" bash -c '. "$1"; knot_start "$2" "$3" 53 "$4"' _ \
		"$E2E_LIB_DIR/knot.sh" "$dir" "$addr" "$zone" >"$dir/start.out" 2>&1
}
knot_in_ns "$PARENT" 127.0.0.2 test. KNOT_KEY_ALG=none || {
	diag_file "$PARENT/start.out"
	bail "the parent Knot did not start on 127.0.0.2@53"
}
defer "knot_stop '$PARENT'"
knot_in_ns "$CHILD" 127.0.0.3 example.test. || {
	diag_file "$CHILD/start.out"
	bail "the child Knot did not start on 127.0.0.3@53"
}
defer "knot_stop '$CHILD'"
KEYFILE=$(knot_keyfile "$CHILD")
SECRET=$(sed -n 's/.*secret "\(.*\)".*/\1/p' "$KEYFILE")
[ -n "$SECRET" ] || bail "no TSIG secret in $KEYFILE"

# The referral really is what the parent serves (the setup, not tailwart).
if ip netns exec "$NS" kdig +norec +time=2 @127.0.0.2 example.test. NS 2>&1 |
	grep -qE '^example\.test\..*NS.*ns1\.example\.test\.'; then
	ok "setup: 127.0.0.2 refers example.test. to ns1/ns2.example.test."
else
	not_ok "setup: 127.0.0.2 refers example.test. to ns1/ns2.example.test."
	diag "$(ip netns exec "$NS" kdig +norec @127.0.0.2 example.test. NS 2>&1)"
fi

OUTS=()
# check_run NAME [RESOLVER]: tailwart dns check in the namespace; sets OUT, RC.
check_run() {
	local name=$1 resolver=${2:-127.0.0.2}
	OUT=$T_DIR/$name.out
	OUTS+=("$OUT")
	local t0
	t0=$(now_ms)
	timeout 60 ip netns exec "$NS" "$TAILWART" dns check --provider rfc2136 \
		--server 127.0.0.3:53 --tsig-file "$KEYFILE" --resolver "$resolver" example.test \
		>"$OUT" 2>&1
	RC=$?
	MS=$(($(now_ms) - t0))
}

check_run good
want="delegation: the parent zone delegates example.test. to: ns1.example.test. ns2.example.test."
if grep -qxF "$want" "$OUT"; then
	ok "dns check lists the parent's delegation: ns1/ns2.example.test."
else
	not_ok "dns check lists the parent's delegation: ns1/ns2.example.test." "exit $RC"
	diag_file "$OUT" 20
fi
if [ "$RC" = 0 ] && grep -qx 'delegation: ok' "$OUT"; then
	ok "dns check: delegation ok, exit 0"
else
	not_ok "dns check: delegation ok, exit 0" "exit $RC"
	diag_file "$OUT" 20
fi

# The parent now delegates elsewhere; the child still names ns1/ns2 at its
# apex. Only the parent's referral can show the new names.
write_parent 2 ns-a.elsewhere.test. ns-b.elsewhere.test.
knotc -c "$PARENT/knot.conf" zone-reload test. >"$T_DIR/reload.out" 2>&1 ||
	bail "knotc zone-reload failed: $(cat "$T_DIR/reload.out")"
wait_for 10 bash -c "ip netns exec '$NS' kdig +norec +short @127.0.0.2 test. SOA | grep -q ' 2 '" ||
	bail "the parent did not load serial 2"
check_run moved
want="delegation: the parent zone delegates example.test. to: ns-a.elsewhere.test. ns-b.elsewhere.test."
if grep -qxF "$want" "$OUT" && grep -q '^delegation: WRONG' "$OUT" && [ "$RC" = 1 ]; then
	ok "after the parent's change: its names, not the child's, and WRONG with exit 1"
else
	not_ok "after the parent's change: its names, not the child's, and WRONG with exit 1" "exit $RC"
	diag_file "$OUT" 20
fi

# The Spaceship provider's nameservers are launch1/launch2.spaceship.net
# (docs/spaceship-api.md section 6): with the fake API in the namespace, the
# same parent first delegates elsewhere (writes would change nothing: exit 1),
# then to Spaceship (ok).
SS_KEY="k-$(head -c 12 /dev/urandom | xxd -p)"
SS_SECRET="s-$(head -c 18 /dev/urandom | xxd -p)"
printf '%s\n' '{"domains": {"example.test": [' \
	'{"type":"A","name":"www","address":"192.0.2.10","ttl":300,"group":{"type":"custom"}}]}}' \
	>"$T_DIR/ss-state.json"
SPAWN_NS=$NS spawn "$T_DIR/fake.out" "$PY" "$TW_ROOT/tests/fakes/spaceship_fake.py" --port 0 \
	--port-file "$T_DIR/fake.port" --key "$SS_KEY" --secret "$SS_SECRET" --state "$T_DIR/ss-state.json"
wait_for 10 test -s "$T_DIR/fake.port" || bail "the Spaceship fake did not start: $(cat "$T_DIR/fake.out")"
ss_check() { # NAME
	OUT=$T_DIR/$1.out
	OUTS+=("$OUT")
	timeout 60 ip netns exec "$NS" env SPACESHIP_API_URL="http://127.0.0.1:$(cat "$T_DIR/fake.port")/v1" \
		SPACESHIP_API_KEY="$SS_KEY" SPACESHIP_API_SECRET="$SS_SECRET" \
		"$TAILWART" dns check --provider spaceship --resolver 127.0.0.2 example.test >"$OUT" 2>&1
	RC=$?
}
ss_check ss_elsewhere
if [ "$RC" = 1 ] && grep -q '^credentials: ok' "$OUT" &&
	grep -q '^delegation: WRONG: none of spaceship.s nameservers (launch1.spaceship.net., launch2.spaceship.net.)' "$OUT"; then
	ok "spaceship: credentials ok, but the parent delegates elsewhere: WRONG naming launch1/launch2, exit 1"
else
	not_ok "spaceship: delegation elsewhere" "exit $RC"
	diag_file "$OUT" 20
fi
write_parent 3 launch1.spaceship.net. launch2.spaceship.net.
knotc -c "$PARENT/knot.conf" zone-reload test. >"$T_DIR/reload3.out" 2>&1 ||
	bail "knotc zone-reload failed: $(cat "$T_DIR/reload3.out")"
wait_for 10 bash -c "ip netns exec '$NS' kdig +norec +short @127.0.0.2 test. SOA | grep -q ' 3 '" ||
	bail "the parent did not load serial 3"
ss_check ss_good
if [ "$RC" = 0 ] && grep -qx 'delegation: ok' "$OUT" &&
	grep -q 'delegates example.test. to: launch1.spaceship.net. launch2.spaceship.net.' "$OUT"; then
	ok "spaceship: the parent delegates to launch1/launch2.spaceship.net: ok, exit 0"
else
	not_ok "spaceship: delegation ok" "exit $RC"
	diag_file "$OUT" 20
fi
timeout 60 ip netns exec "$NS" env SPACESHIP_API_URL="http://127.0.0.1:$(cat "$T_DIR/fake.port")/v1" \
	SPACESHIP_API_KEY="$SS_KEY" SPACESHIP_API_SECRET="$SS_SECRET" \
	"$TAILWART" dns check --provider spaceship --resolver 127.0.0.2 example.test --json >"$T_DIR/ss_json.out" 2>&1
RC=$?
res=$("$PY" -c 'import json,sys
j=json.load(open(sys.argv[1]))
print(j["credentials"]["ok"], j["credentials"]["write_proven"], j["delegation"]["verdict"], j["delegation"]["parent_ns"], j["exit"])' "$T_DIR/ss_json.out" 2>&1)
if [ "$RC" = 0 ] && [ "$res" = "True False ok ['launch1.spaceship.net.', 'launch2.spaceship.net.'] 0" ]; then
	ok "spaceship: check --json gives the same verdicts as data"
else
	not_ok "check --json" "exit $RC: $res"
	diag_file "$T_DIR/ss_json.out" 20
fi
if grep -qF -e "$SS_KEY" -e "$SS_SECRET" "$T_DIR/ss_elsewhere.out" "$T_DIR/ss_good.out" "$T_DIR/ss_json.out"; then
	not_ok "the Spaceship key and secret appear in no output"
else
	ok "the Spaceship key and secret appear in no output"
fi

# No resolver there: reported, quickly, as unreachable.
check_run noresolver 127.0.0.9
if grep -q '^delegation: WARNING: not checked: cannot reach DNS resolver 127.0.0.9' "$OUT" &&
	[ "$MS" -lt 10000 ]; then
	ok "a resolver that is down: 'cannot reach DNS resolver 127.0.0.9' (${MS} ms)"
else
	not_ok "a resolver that is down: 'cannot reach DNS resolver 127.0.0.9'" "exit $RC after $MS ms"
	diag_file "$OUT" 20
fi

if grep -qF -- "$SECRET" "${OUTS[@]}"; then
	not_ok "the TSIG secret appears in no output" "found in $(grep -lF -- "$SECRET" "${OUTS[@]}" | xargs)"
else
	ok "the TSIG secret appears in no output"
fi

finish
