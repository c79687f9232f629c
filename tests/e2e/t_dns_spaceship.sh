#!/usr/bin/env bash
# t_dns_spaceship.sh - `tailwart dns` against the Spaceship API fake
# (tests/fakes/spaceship_fake.py, written independently from the client).
#
# Seed lesson 14 replayed: a 26-record zone with one SPF; the file changes
# the SPF value; after apply the fake holds exactly one v=spf1 record with
# the new value, the other 25 records are byte-for-byte unchanged, and the
# fake's request log shows no moment with two SPF records. Then the faults
# (a failure after the DELETE of the old SPF, a failure between the PUT of
# a new A record and the DELETE of the old one, an ambiguous 500, a 429),
# pull -> plan is a no-op, stale plan files, --purge and --ignore,
# snapshots and restore, the lock, bad input, and the secrets: a fresh
# random key and secret per run must appear in no output or snapshot.
. "$(dirname "$0")/lib.sh"
e2e_init dns_spaceship
need_cmd "$PY"
need_cmd curl

KEY="k-$(head -c 12 /dev/urandom | xxd -p)"
SECRET="s-$(head -c 18 /dev/urandom | xxd -p)"
OUT=$T_DIR/out
SNAP=$T_DIR/snapshots
mkdir -p "$OUT"
N=0

# The 26 records of the seed's zone (custom group) and two the registrar owns.
cat >"$T_DIR/state.json" <<'EOF'
{"domains": {"example.com": [
 {"type":"A","name":"@","address":"192.0.2.10","ttl":3600,"group":{"type":"custom"}},
 {"type":"AAAA","name":"@","address":"2001:db8::10","ttl":3600,"group":{"type":"custom"}},
 {"type":"A","name":"mail","address":"192.0.2.25","ttl":3600,"group":{"type":"custom"}},
 {"type":"AAAA","name":"mail","address":"2001:db8::25","ttl":3600,"group":{"type":"custom"}},
 {"type":"A","name":"www","address":"192.0.2.80","ttl":600,"group":{"type":"custom"}},
 {"type":"A","name":"www","address":"192.0.2.81","ttl":600,"group":{"type":"custom"}},
 {"type":"CNAME","name":"autoconfig","cname":"mail.example.com","ttl":3600,"group":{"type":"custom"}},
 {"type":"CNAME","name":"autodiscover","cname":"mail.example.com","ttl":3600,"group":{"type":"custom"}},
 {"type":"CNAME","name":"mta-sts","cname":"mail.example.com","ttl":3600,"group":{"type":"custom"}},
 {"type":"MX","name":"@","exchange":"mail.example.com","preference":10,"ttl":3600,"group":{"type":"custom"}},
 {"type":"TXT","name":"@","value":"v=spf1 mx -all","ttl":3600,"group":{"type":"custom"}},
 {"type":"TXT","name":"@","value":"google-site-verification=abc123","ttl":3600,"group":{"type":"custom"}},
 {"type":"TXT","name":"_dmarc","value":"v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com","ttl":3600,"group":{"type":"custom"}},
 {"type":"TXT","name":"_mta-sts","value":"v=STSv1; id=20261101","ttl":3600,"group":{"type":"custom"}},
 {"type":"TXT","name":"_smtp._tls","value":"v=TLSRPTv1; rua=mailto:tls@example.com","ttl":3600,"group":{"type":"custom"}},
 {"type":"TXT","name":"202611e._domainkey","value":"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=","ttl":3600,"group":{"type":"custom"}},
 {"type":"TXT","name":"202611r._domainkey","value":"v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAv1Yt3fhBdV7xKMfC3bC5Ex0vJmq2hbT8Tr6q1o7H4m2Xzq5h8cL9W2VnR3k7sM6pQ1yX0aZfB4gD2eN8uK5tJ3wA7rC9vE1yH6iL0oP4sU2xF8bG5nQ3mT7kR9dW1jZ6vY0cA4eX2gI8hN5lO3pS7uB9fK1qM6tV0wD2yJ4zC8aE6iG3nL5oR7sU9xF1bH3kP5mT7vY9dW2jZ4cA6eX8gI0hN2lO4pS6uB8fK0qM2tV4wD6yJ8zC0aE2iG4nL6oR8sU0xF2bH4kP6mT8vY0dW3jZ5cA7eX9gI1hN3lO5pS7uB9fK1qM3tV5wD7yJ9zC1aE3iG5nL7oR9sU1xF3bH5kP7mT9vY1dQIDAQAB","ttl":3600,"group":{"type":"custom"}},
 {"type":"SRV","name":"@","service":"_submission","protocol":"_tcp","priority":0,"weight":1,"port":587,"target":"mail.example.com","ttl":3600,"group":{"type":"custom"}},
 {"type":"SRV","name":"@","service":"_imaps","protocol":"_tcp","priority":0,"weight":1,"port":993,"target":"mail.example.com","ttl":3600,"group":{"type":"custom"}},
 {"type":"SRV","name":"@","service":"_submissions","protocol":"_tcp","priority":0,"weight":1,"port":465,"target":"mail.example.com","ttl":3600,"group":{"type":"custom"}},
 {"type":"CAA","name":"@","flag":0,"tag":"issue","value":"letsencrypt.org","ttl":3600,"group":{"type":"custom"}},
 {"type":"CAA","name":"@","flag":0,"tag":"iodef","value":"mailto:security@example.com","ttl":3600,"group":{"type":"custom"}},
 {"type":"TLSA","name":"mail","port":"_25","protocol":"_tcp","usage":3,"selector":1,"matching":1,"associationData":"8d02536c887482bc34ff54e41d2ba659bf85b341a0a20afadb5813dcfbcf286d","ttl":3600,"group":{"type":"custom"}},
 {"type":"A","name":"vpn","address":"192.0.2.44","ttl":300,"group":{"type":"custom"}},
 {"type":"TXT","name":"_acme-challenge","value":"certbot-token-xyz","ttl":60,"group":{"type":"custom"}},
 {"type":"TXT","name":"old","value":"left over","ttl":3600,"group":{"type":"custom"}},
 {"type":"A","name":"parking","address":"192.0.2.200","ttl":3600,"group":{"type":"product"}},
 {"type":"TXT","name":"@","value":"spaceship-product-verification","ttl":3600,"group":{"type":"product"}}
]}}
EOF

PORT_FILE=$T_DIR/fake.port
spawn "$T_DIR/fake.out" "$PY" "$TW_ROOT/tests/fakes/spaceship_fake.py" --port 0 \
	--port-file "$PORT_FILE" --key "$KEY" --secret "$SECRET" --state "$T_DIR/state.json" \
	--log "$T_DIR/fake-requests.jsonl"
wait_for 10 test -s "$PORT_FILE" || bail "the fake did not start: $(cat "$T_DIR/fake.out")"
FAKE="http://127.0.0.1:$(cat "$PORT_FILE")"
API="$FAKE/v1"

export SPACESHIP_API_URL=$API SPACESHIP_API_KEY=$KEY SPACESHIP_API_SECRET=$SECRET

# twdns NAME ARGS...: runs tailwart dns, output to $OUT/NAME.{out,err}; sets RC.
twdns() {
	local name=$1
	shift
	"$TAILWART" dns "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" </dev/null
	RC=$?
	trace "dns $* -> $RC"
}
fake_get() { curl -sf "$FAKE/_fake/$1"; }
fake_post() { curl -sf -X POST -H 'Content-Type: application/json' --data "$2" "$FAKE/_fake/$1" >/dev/null; }
# jq-like checks in Python, reading the fake's state on stdin.
pyjson() { "$PY" -c "$1"; }
spf_count() {
	fake_get state | pyjson 'import json,sys
d=json.load(sys.stdin)["domains"]["example.com"]
print(sum(1 for r in d if r["type"]=="TXT" and r["name"]=="@" and r["value"].lower().startswith("v=spf1")))'
}
show() { diag "$(tail -n "${2:-25}" "$OUT/$1.out")"; diag "$(tail -n 8 "$OUT/$1.err")"; }

# --------------------------------------------------------------- check
twdns check_ok check --provider spaceship example.com --resolver 127.0.0.1:9
if [ "$RC" = 0 ] && grep -q "credentials: ok" "$OUT/check_ok.out" &&
	grep -q "write access can't be proven" "$OUT/check_ok.out" &&
	grep -q "delegation: WARNING: not checked" "$OUT/check_ok.out"; then
	ok "check: read access proven, write access said unprovable, unreachable DNS only a warning"
else
	not_ok "check: credentials" "rc=$RC"
	show check_ok
fi

SPACESHIP_API_SECRET=wrong-secret twdns check_bad check --provider spaceship example.com --resolver 127.0.0.1:9
if [ "$RC" = 1 ] && grep -q "application.unauthorized" "$OUT/check_bad.out" &&
	grep -qi "API access" "$OUT/check_bad.out" && grep -qi "IP" "$OUT/check_bad.out"; then
	ok "check: a wrong secret is exit 1 naming application.unauthorized and the possible causes"
else
	not_ok "check: wrong secret" "rc=$RC"
	show check_bad
fi

SPACESHIP_API_URL=http://127.0.0.1:9/v1 twdns check_down check --provider spaceship example.com
if [ "$RC" = 3 ]; then
	ok "check: an unreachable provider is exit 3"
else
	not_ok "check: unreachable provider" "rc=$RC"
	show check_down
fi

SPACESHIP_API_URL=http://192.0.2.1/v1 twdns check_http check --provider spaceship example.com
if [ "$RC" = 2 ] && grep -qi "plain http" "$OUT/check_http.err"; then
	ok "plain http to a non-loopback API URL is refused before any request"
else
	not_ok "plain http refusal" "rc=$RC"
	show check_http
fi

# --------------------------------------------------------------- credentials file
CREDS=$T_DIR/creds.env
printf 'SPACESHIP_API_KEY=%s\nSPACESHIP_API_SECRET=%s\n' "$KEY" "$SECRET" >"$CREDS"
chmod 644 "$CREDS"
env -u SPACESHIP_API_KEY -u SPACESHIP_API_SECRET "$TAILWART" dns check --provider spaceship \
	--credentials "$CREDS" example.com --resolver 127.0.0.1:9 >"$OUT/creds644.out" 2>"$OUT/creds644.err"
RC=$?
if [ "$RC" = 2 ] && grep -q "chmod 600" "$OUT/creds644.err"; then
	ok "a credentials file readable by others is refused (exit 2, says chmod 600)"
else
	not_ok "credentials file mode" "rc=$RC"
	diag "$(cat "$OUT/creds644.err")"
fi
chmod 600 "$CREDS"
env -u SPACESHIP_API_KEY -u SPACESHIP_API_SECRET "$TAILWART" dns check --provider spaceship \
	--credentials "$CREDS" example.com --resolver 127.0.0.1:9 >"$OUT/creds600.out" 2>"$OUT/creds600.err"
RC=$?
[ "$RC" = 0 ] && ok "the same file at mode 0600 works" || {
	not_ok "credentials file 0600" "rc=$RC"
	diag "$(cat "$OUT/creds600.err")"
}

# --------------------------------------------------------------- pull -> plan
twdns pull pull --provider spaceship example.com
cp "$OUT/pull.out" "$T_DIR/zone.db"
if [ "$RC" = 0 ] && grep -q '^\$ORIGIN example.com.' "$T_DIR/zone.db" &&
	grep -q "; unmanaged (spaceship product record)" "$T_DIR/zone.db" &&
	grep -q "^; .*ignored.*_acme-challenge" "$T_DIR/zone.db"; then
	ok "pull: a zone file, product records and _acme-challenge as comments"
else
	not_ok "pull" "rc=$RC"
	show pull 40
fi

twdns plan_noop plan --provider spaceship "$T_DIR/zone.db"
if [ "$RC" = 0 ] && grep -q "No changes" "$OUT/plan_noop.out"; then
	ok "pull -> file -> plan on an unchanged zone plans nothing"
else
	not_ok "pull -> plan no-op" "rc=$RC"
	show plan_noop 40
fi
twdns diff_same diff --provider spaceship "$T_DIR/zone.db"
[ "$RC" = 0 ] && ok "diff: exit 0 when the same" || {
	not_ok "diff same" "rc=$RC"
	show diff_same
}

# --------------------------------------------------------------- seed lesson 14
fake_get state >"$T_DIR/state-before.json"
sed 's/"v=spf1 mx -all"/"v=spf1 mx include:_spf.mailhost.example -all"/' "$T_DIR/zone.db" >"$T_DIR/zone-spf.db"
twdns diff_spf diff --provider spaceship "$T_DIR/zone-spf.db"
[ "$RC" = 1 ] && ok "diff: exit 1 when the SPF differs" || {
	not_ok "diff differs" "rc=$RC"
	show diff_spf
}
twdns plan_spf plan --provider spaceship "$T_DIR/zone-spf.db"
if [ "$RC" = 0 ] && grep -q "^~ @ TXT (change)" "$OUT/plan_spf.out" &&
	awk '/calls, in order/{f=1} f' "$OUT/plan_spf.out" | grep -q "1. DELETE 1 record" &&
	awk '/calls, in order/{f=1} f' "$OUT/plan_spf.out" | grep -q "2. PUT 1 record"; then
	ok "plan: the SPF change is DELETE old then PUT new, in that order"
else
	not_ok "plan spf" "rc=$RC"
	show plan_spf 40
fi

twdns apply_noyes apply --provider spaceship "$T_DIR/zone-spf.db" --snapshots "$SNAP" --no-verify
if [ "$RC" = 2 ] && grep -q -- "--yes" "$OUT/apply_noyes.err" && [ "$(spf_count)" = 1 ] &&
	fake_get state | cmp -s - "$T_DIR/state-before.json"; then
	ok "apply without a terminal and without --yes refuses (exit 2) and writes nothing"
else
	not_ok "apply without --yes" "rc=$RC"
	show apply_noyes
fi

curl -sf -X DELETE "$FAKE/_fake/log" >/dev/null
twdns apply_spf apply --provider spaceship "$T_DIR/zone-spf.db" --yes --snapshots "$SNAP" --no-verify
fake_get state >"$T_DIR/state-after.json"
fake_get log >"$T_DIR/log-spf.json"
if [ "$RC" = 0 ]; then
	ok "apply of the SPF change: exit 0"
else
	not_ok "apply spf" "rc=$RC"
	show apply_spf 40
fi
res=$("$PY" - "$T_DIR/state-before.json" "$T_DIR/state-after.json" "$T_DIR/log-spf.json" <<'EOF'
import json, sys
b = json.load(open(sys.argv[1]))["domains"]["example.com"]
a = json.load(open(sys.argv[2]))["domains"]["example.com"]
log = json.load(open(sys.argv[3]))["entries"]
def spf(recs):
    return [r for r in recs if r["type"] == "TXT" and r["name"] == "@" and r["value"].lower().startswith("v=spf1")]
problems = []
s = spf(a)
if len(s) != 1 or s[0]["value"] != "v=spf1 mx include:_spf.mailhost.example -all":
    problems.append("after: SPF records %r" % s)
key = lambda r: json.dumps(r, sort_keys=True)
others_b = sorted(key(r) for r in b if r not in spf(b))
others_a = sorted(key(r) for r in a if r not in spf(a))
if others_b != others_a:
    problems.append("the other records changed: %r" % (set(others_b) ^ set(others_a)))
if len(others_a) != 27:  # 25 custom + 2 product
    problems.append("expected 27 other records, got %d" % len(others_a))
muts = [e for e in log if e["method"] in ("PUT", "DELETE")]
for e in muts:
    n = len(spf(e.get("records_after") or []))
    if n > 1:
        problems.append("request %d (%s) left %d SPF records" % (e["seq"], e["method"], n))
if [e["method"] for e in muts] != ["DELETE", "PUT"]:
    problems.append("mutating requests were %r" % [e["method"] for e in muts])
print("; ".join(problems) or "ok")
EOF
)
if [ "$res" = ok ]; then
	ok "seed lesson 14: one v=spf1 with the new value, the other 25 byte-for-byte unchanged, never two SPF records"
else
	not_ok "seed lesson 14 replay" "$res"
fi

before=$(ls "$SNAP"/example.com-*-before.zone 2>/dev/null | head -n1)
after=$(ls "$SNAP"/example.com-*-after.zone 2>/dev/null | head -n1)
if [ -n "$before" ] && [ -n "$after" ] && [ "$(stat -c %a "$before")" = 600 ] &&
	[ "$(stat -c %a "$after")" = 600 ] && grep -q '"v=spf1 mx -all"' "$before" &&
	grep -q 'include:_spf.mailhost.example' "$after"; then
	ok "snapshots before and after, mode 0600, holding the old and the new SPF"
else
	not_ok "snapshots" "before=$before after=$after"
	ls -l "$SNAP" | sed 's/^/#   /'
fi

twdns diff_after diff --provider spaceship "$T_DIR/zone-spf.db"
[ "$RC" = 0 ] && ok "after apply, diff says the same" || {
	not_ok "diff after apply" "rc=$RC"
	show diff_after
}

# --------------------------------------------------------------- restore
twdns restore restore --provider spaceship "$before" --yes --snapshots "$SNAP" --no-verify
fake_get state >"$T_DIR/state-restored.json"
res=$("$PY" - "$T_DIR/state-before.json" "$T_DIR/state-restored.json" <<'EOF'
import json, sys
k = lambda r: json.dumps({x: y for x, y in r.items()}, sort_keys=True)
b = sorted(k(r) for r in json.load(open(sys.argv[1]))["domains"]["example.com"])
a = sorted(k(r) for r in json.load(open(sys.argv[2]))["domains"]["example.com"])
print("ok" if a == b else "differs: %r" % (set(a) ^ set(b)))
EOF
)
if [ "$RC" = 0 ] && [ "$res" = ok ]; then
	ok "restore from the before snapshot gives back the original zone exactly"
else
	not_ok "restore" "rc=$RC $res"
	show restore 40
fi

# --------------------------------------------------------------- fault: SPF, failure after the DELETE
fake_post faults '[{"method":"PUT","nth":1,"status":500,"applied":false}]'
twdns fault_spf apply --provider spaceship "$T_DIR/zone-spf.db" --yes --snapshots "$SNAP" --no-verify
n=$(spf_count)
if [ "$RC" = 3 ] && grep -q "APPLY STOPPED at call 2 of 2" "$OUT/fault_spf.out" &&
	grep -A1 "1. DELETE 1 record: applied" "$OUT/fault_spf.out" | grep -q "v=spf1 mx -all" &&
	grep -q "2. PUT 1 record: FAILED.*the read-back shows it NOT applied" "$OUT/fault_spf.out" &&
	grep -q "Snapshot before:" "$OUT/fault_spf.out" && [ "$n" = 0 ]; then
	ok "SPF fault after the DELETE: exit 3, says the DELETE was applied and the PUT not, zone has no SPF (never two)"
else
	not_ok "SPF fault report" "rc=$RC spf=$n"
	show fault_spf 40
fi
fake_post faults '[]'
twdns fault_spf2 apply --provider spaceship "$T_DIR/zone-spf.db" --yes --snapshots "$SNAP" --no-verify
n=$(spf_count)
if [ "$RC" = 0 ] && [ "$n" = 1 ]; then
	ok "a second apply converges: exactly one SPF"
else
	not_ok "SPF converge" "rc=$RC spf=$n"
	show fault_spf2 40
fi

# --------------------------------------------------------------- fault: A set, failure between PUT and DELETE
sed 's/192\.0\.2\.44/192.0.2.45/' "$T_DIR/zone-spf.db" >"$T_DIR/zone-a.db"
fake_post faults '[{"method":"DELETE","nth":1,"status":500,"applied":false}]'
twdns fault_a apply --provider spaceship "$T_DIR/zone-a.db" --yes --snapshots "$SNAP" --no-verify
vpn=$(fake_get state | pyjson 'import json,sys
d=json.load(sys.stdin)["domains"]["example.com"]
print(" ".join(sorted(r["address"] for r in d if r["type"]=="A" and r["name"]=="vpn")))')
if [ "$RC" = 3 ] && grep -q "1. PUT 1 record: applied" "$OUT/fault_a.out" &&
	grep -q "2. DELETE 1 record: FAILED.*the read-back shows it NOT applied" "$OUT/fault_a.out" &&
	[ "$vpn" = "192.0.2.44 192.0.2.45" ] && grep -q "192.0.2.44" "$OUT/fault_a.out"; then
	ok "A fault between PUT and DELETE: exit 3, reports the PUT applied and the DELETE not; both addresses live (never none)"
else
	not_ok "A fault report" "rc=$RC vpn=$vpn"
	show fault_a 40
fi
fake_post faults '[]'
twdns fault_a2 apply --provider spaceship "$T_DIR/zone-a.db" --yes --snapshots "$SNAP" --no-verify
vpn=$(fake_get state | pyjson 'import json,sys
d=json.load(sys.stdin)["domains"]["example.com"]
print(" ".join(sorted(r["address"] for r in d if r["type"]=="A" and r["name"]=="vpn")))')
[ "$RC" = 0 ] && [ "$vpn" = 192.0.2.45 ] && ok "a second apply converges: only the new address" || {
	not_ok "A converge" "rc=$RC vpn=$vpn"
	show fault_a2 40
}

# --------------------------------------------------------------- ambiguous 500, 429
sed 's/"v=spf1 mx include:_spf.mailhost.example -all"/"v=spf1 mx -all"/' "$T_DIR/zone-a.db" >"$T_DIR/zone-b.db"
fake_post faults '[{"method":"PUT","nth":1,"status":500,"applied":true}]'
twdns fault_amb apply --provider spaceship "$T_DIR/zone-b.db" --yes --snapshots "$SNAP" --no-verify
n=$(spf_count)
if [ "$RC" = 3 ] && grep -q "2. PUT 1 record: FAILED: outcome unknown.*the read-back shows it APPLIED" "$OUT/fault_amb.out" &&
	[ "$n" = 1 ] && grep -A6 "The zone now" "$OUT/fault_amb.out" | grep -q "v=spf1 mx -all"; then
	ok "a 500 after the change was made: the answer can't tell, the read-back shows it applied"
else
	not_ok "ambiguous 500" "rc=$RC spf=$n"
	show fault_amb 40
fi
fake_post faults '[{"method":"GET","nth":1,"status":429,"retry_after":1}]'
start=$(now_ms)
twdns diff_429 diff --provider spaceship "$T_DIR/zone-b.db"
el=$(($(now_ms) - start))
if [ "$RC" = 0 ] && [ "$el" -ge 900 ]; then
	ok "a 429 with Retry-After: 1 is waited out and retried (${el} ms)"
else
	not_ok "429 retry" "rc=$RC after ${el} ms"
	show diff_429
fi
fake_post faults '[]'

# --------------------------------------------------------------- stale plan file
sed 's/192\.0\.2\.45/192.0.2.46/' "$T_DIR/zone-b.db" >"$T_DIR/zone-c.db"
twdns planfile plan --provider spaceship "$T_DIR/zone-c.db" -o "$T_DIR/c.plan"
[ "$RC" = 0 ] && [ -s "$T_DIR/c.plan" ] || not_ok "plan -o" "rc=$RC"
# Someone changes the zone between plan and apply.
curl -sf -X PUT -H "X-API-Key: $KEY" -H "X-API-Secret: $SECRET" -H 'Content-Type: application/json' \
	--data '{"force":true,"items":[{"type":"A","name":"intruder","address":"192.0.2.99","ttl":300}]}' \
	"$API/dns/records/example.com" >/dev/null || diag "intruder PUT failed"
twdns stale apply --provider spaceship "$T_DIR/c.plan" --yes --snapshots "$SNAP" --no-verify
if [ "$RC" = 1 ] && grep -q "changed since" "$OUT/stale.out"; then
	ok "a saved plan is refused when the live zone changed since (exit 1, nothing written)"
else
	not_ok "stale plan" "rc=$RC"
	show stale
fi
curl -sf -X DELETE -H "X-API-Key: $KEY" -H "X-API-Secret: $SECRET" -H 'Content-Type: application/json' \
	--data '[{"type":"A","name":"intruder","address":"192.0.2.99"}]' "$API/dns/records/example.com" >/dev/null
twdns planfile_ok apply --provider spaceship "$T_DIR/c.plan" --yes --snapshots "$SNAP" --no-verify
vpn=$(fake_get state | pyjson 'import json,sys
d=json.load(sys.stdin)["domains"]["example.com"]
print(" ".join(sorted(r["address"] for r in d if r["type"]=="A" and r["name"]=="vpn")))')
[ "$RC" = 0 ] && [ "$vpn" = 192.0.2.46 ] && ok "the same plan file applies once the zone is back as planned" || {
	not_ok "plan file apply" "rc=$RC vpn=$vpn"
	show planfile_ok
}

# --------------------------------------------------------------- purge and ignore
grep -v '^old' "$T_DIR/zone-c.db" | grep -v '^vpn' >"$T_DIR/zone-d.db"
twdns left apply --provider spaceship "$T_DIR/zone-d.db" --yes --snapshots "$SNAP" --no-verify
if [ "$RC" = 0 ] && grep -q "Nothing to apply\|No changes" "$OUT/left.out"; then
	ok "records not in the file are left alone without --purge"
else
	not_ok "left alone" "rc=$RC"
	show left
fi
twdns purge apply --provider spaceship "$T_DIR/zone-d.db" --yes --purge --ignore 'vpn:A' \
	--snapshots "$SNAP" --no-verify
res=$(fake_get state | pyjson 'import json,sys
d=json.load(sys.stdin)["domains"]["example.com"]
names={(r["name"],r["type"]) for r in d}
print(("old","TXT") in names, ("vpn","A") in names, ("_acme-challenge","TXT") in names, ("parking","A") in names)')
if [ "$RC" = 0 ] && [ "$res" = "False True True True" ]; then
	ok "--purge deletes what the file lacks, but not --ignore'd, _acme-challenge or provider-owned records"
else
	not_ok "purge/ignore" "rc=$RC $res"
	show purge 40
fi

# --------------------------------------------------------------- terminal prompt, --json, -c, aliases
need_cmd script
sed 's/192\.0\.2\.80/192.0.2.82/' "$T_DIR/zone-d.db" >"$T_DIR/zone-e.db"
printf 'no\n' | script -qefc "$TAILWART dns apply --provider spaceship $T_DIR/zone-e.db --snapshots $SNAP --no-verify" /dev/null >"$OUT/tty_no.out" 2>&1
RC=$?
if [ "$RC" = 1 ] && grep -q "Type yes" "$OUT/tty_no.out" && grep -q "Not applied" "$OUT/tty_no.out" &&
	! fake_get state | grep -q 192.0.2.82; then
	ok "on a terminal apply asks first; answering no writes nothing (exit 1)"
else
	not_ok "terminal prompt: no" "rc=$RC"
	diag "$(tail -n 8 "$OUT/tty_no.out")"
fi
printf 'yes\n' | script -qefc "$TAILWART dns apply --provider spaceship $T_DIR/zone-e.db --snapshots $SNAP --no-verify --verbose" /dev/null >"$OUT/tty_yes.out" 2>&1
RC=$?
if [ "$RC" = 0 ] && fake_get state | grep -q 192.0.2.82 && grep -q "PUT .*dns/records" "$OUT/tty_yes.out"; then
	ok "answering yes applies; --verbose traces each request"
else
	not_ok "terminal prompt: yes" "rc=$RC"
	diag "$(tail -n 12 "$OUT/tty_yes.out")"
fi
sed 's/192\.0\.2\.82/192.0.2.83/' "$T_DIR/zone-e.db" >"$T_DIR/zone-f.db"
twdns json plan --provider spaceship "$T_DIR/zone-f.db" --json
res=$("$PY" -c 'import json,sys
j=json.load(open(sys.argv[1]))
c=j["changes"]
print(j["provider"], j["origin"], len(c), c[0]["op"] if c else "-", [x["kind"] for x in j["calls"]])' "$OUT/json.out" 2>&1)
if [ "$RC" = 0 ] && [ "$res" = "spaceship example.com. 1 change ['PUT', 'DELETE']" ]; then
	ok "plan --json: the changes and the calls as data"
else
	not_ok "plan --json" "rc=$RC $res"
fi
printf '%s\n' 'listeners:' \
	'  - { name: smtp, bind: ["127.0.0.1:2525"], protocol: smtp, backend: mail }' \
	'backends:' '  mail: { servers: ["127.0.0.1:2526"] }' 'dns:' '  ignore: ["mail:AAAA"]' \
	"  snapshots: $T_DIR/cfg-snapshots" >"$T_DIR/tw.yaml"
grep -v '^mail.*AAAA' "$T_DIR/zone-f.db" >"$T_DIR/zone-g.db"
env -u SPACESHIP_API_KEY -u SPACESHIP_API_SECRET SPACESHIP_KEY="$KEY" SPACESHIP_SECRET="$SECRET" \
	"$TAILWART" dns apply --provider spaceship -c "$T_DIR/tw.yaml" "$T_DIR/zone-g.db" --purge --yes \
	--no-verify >"$OUT/cfg.out" 2>"$OUT/cfg.err" </dev/null
RC=$?
if [ "$RC" = 0 ] && fake_get state | grep -q '2001:db8::25' &&
	ls "$T_DIR/cfg-snapshots"/example.com-*-before.zone >/dev/null 2>&1; then
	ok "-c FILE: dns.ignore protects a record from --purge, dns.snapshots is used; SPACESHIP_KEY/SECRET accepted"
else
	not_ok "config dns section" "rc=$RC"
	show cfg 30
fi

# --------------------------------------------------------------- bad input
printf '$ORIGIN example.com.\n$TTL 3600\n@ MX 10 mail\nwww A 1.2.3\n' >"$T_DIR/bad.db"
twdns bad plan --provider spaceship "$T_DIR/bad.db"
if [ "$RC" = 2 ] && grep -q "bad.db:4" "$OUT/bad.err"; then
	ok "a bad zone file line is exit 2 with file:line"
else
	not_ok "bad zone line" "rc=$RC"
	show bad
fi
printf '$ORIGIN example.com.\n@ 86400 MX 10 mail\n' >"$T_DIR/ttl.db"
twdns ttl plan --provider spaceship "$T_DIR/ttl.db"
if [ "$RC" = 2 ] && grep -q "ttl.db:2" "$OUT/ttl.err" && grep -q "60..3600" "$OUT/ttl.err"; then
	ok "a TTL outside Spaceship's 60..3600 is a plan-time error with file:line"
else
	not_ok "ttl bounds" "rc=$RC"
	show ttl
fi

# --------------------------------------------------------------- lock
lockf="$SNAP/.example.com.lock"
exec 9>>"$lockf"
flock -n 9
twdns locked apply --provider spaceship "$T_DIR/zone-spf.db" --yes --snapshots "$SNAP" --no-verify
exec 9>&-
if [ "$RC" = 3 ] && grep -q "holds the lock" "$OUT/locked.out"; then
	ok "a second apply on the same zone is refused while the lock is held (exit 3)"
else
	not_ok "lock" "rc=$RC"
	show locked
fi

# --------------------------------------------------------------- secrets
leaks=$(grep -rlF -e "$KEY" -e "$SECRET" "$OUT" "$SNAP" "$T_DIR/cfg-snapshots" "$T_DIR"/*.db "$T_DIR"/*.plan 2>/dev/null | grep -v creds.env)
if [ -z "$leaks" ]; then
	ok "neither the API key nor the secret appears in any output, plan or snapshot"
else
	not_ok "secrets leaked" "$leaks"
fi

finish
