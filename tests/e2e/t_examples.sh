#!/usr/bin/env bash
# Every examples/*.yaml passes `tailwart edge --check`; a broken copy fails
# with file:line; the systemd units pass `systemd-analyze verify`; the CLI
# refuses bad quick-mode input with exit 2.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
TAILWART=$(realpath "${TAILWART:-$root/build/tailwart}")
tmp=$(mktemp -d /tmp/tw-examples.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $1: $2"; fails=$((fails + 1)); }

for f in "$root"/examples/*.yaml; do
	if out=$("$TAILWART" edge --check -c "$f" 2>&1); then
		ok "examples/$(basename "$f") passes --check"
	else
		not_ok "examples/$(basename "$f") passes --check" "$out"
	fi
done

# A typo in a copy of the example: exit 2, the file, the line and the key.
sed 's/^backends:/backendz:/' "$root/examples/tailwart.yaml" >"$tmp/bad.yaml"
line=$(grep -n '^backendz:' "$tmp/bad.yaml" | cut -d: -f1)
out=$("$TAILWART" edge --check -c "$tmp/bad.yaml" 2>&1)
rc=$?
if [ $rc -eq 2 ] && grep -q "bad.yaml:$line:.*backendz" <<<"$out"; then
	ok "an unknown key is refused with exit 2 at bad.yaml:$line"
else
	not_ok "an unknown key is refused with exit 2 at bad.yaml:$line" "rc=$rc out=$out"
fi

# A duration without a unit.
printf 'timeouts:\n  connect: 30\nlisteners: []\nbackends: {}\n' >"$tmp/dur.yaml"
out=$("$TAILWART" edge --check -c "$tmp/dur.yaml" 2>&1)
rc=$?
if [ $rc -eq 2 ] && grep -q 'dur.yaml:2:.*connect' <<<"$out"; then
	ok "a duration without a unit is refused at dur.yaml:2"
else
	not_ok "a duration without a unit is refused at dur.yaml:2" "rc=$rc out=$out"
fi

# Quick mode: bad input is a usage error naming the option.
out=$("$TAILWART" edge --listen 127.0.0.1:99999 --to 127.0.0.1:25 2>&1)
rc=$?
if [ $rc -eq 2 ] && grep -q '99999' <<<"$out"; then
	ok "quick mode refuses a bad --listen with exit 2"
else
	not_ok "quick mode refuses a bad --listen with exit 2" "rc=$rc out=$out"
fi
out=$("$TAILWART" edge --check --listen 127.0.0.1:2525 --to mail.internal:25 --proxy v2 2>&1)
rc=$?
if [ $rc -eq 0 ]; then
	ok "quick mode --check accepts a valid command line"
else
	not_ok "quick mode --check accepts a valid command line" "rc=$rc out=$out"
fi

# --probe: one reachable backend, one refused: exit 1 naming the refused one.
python3 -c '
import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)
s.bind(("127.0.0.1",0)); s.listen(8); print(s.getsockname()[1], flush=True)
sys.stdout.close()
deadline=time.time()+20
s.settimeout(1)
while time.time()<deadline:
    try:
        c,_=s.accept(); c.close()
    except OSError: pass
' >"$tmp/port" &
probe_pid=$!
for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(cat "$tmp/port")
dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$tmp/probe.yaml" <<YAML
listeners:
  - name: a
    bind: ["127.0.0.1:1"]
    protocol: tcp
    backend: up
  - name: b
    bind: ["127.0.0.1:2"]
    protocol: tcp
    backend: down
backends:
  up: { servers: ["127.0.0.1:$port"] }
  down: { servers: ["127.0.0.1:$dead"] }
YAML
out=$("$TAILWART" edge --check --probe -c "$tmp/probe.yaml" 2>&1)
rc=$?
if [ $rc -eq 1 ] && grep -q "backend up .*: ok" <<<"$out" && grep -q "backend down .*refused" <<<"$out"; then
	ok "--check --probe reports the reachable and the refused backend, exit 1"
else
	not_ok "--check --probe reports the reachable and the refused backend, exit 1" "rc=$rc out=$out"
fi
kill $probe_pid 2>/dev/null
wait $probe_pid 2>/dev/null

# systemd units: verify with the binary path pointed at the build.
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$tmp/units"
	sed "s|/usr/local/bin/tailwart|$TAILWART|" "$root/examples/tailwart.service" >"$tmp/units/tailwart.service"
	cp "$root/examples/tailwart.socket" "$tmp/units/tailwart.socket"
	out=$(cd "$tmp/units" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no ./tailwart.service ./tailwart.socket 2>&1)
	rc=$?
	# Lines about units we don't ship (network-online.target and the like
	# missing in a container) are not ours; anything naming our units is.
	ours=$(grep -E 'tailwart\.(service|socket)' <<<"$out")
	if [ $rc -eq 0 ] && [ -z "$ours" ]; then
		ok "examples/tailwart.service and .socket pass systemd-analyze verify"
	else
		not_ok "examples/tailwart.service and .socket pass systemd-analyze verify" "rc=$rc $out"
	fi
else
	not_ok "systemd-analyze verify" "systemd-analyze not installed (package systemd)"
fi
[ $fails -eq 0 ]
