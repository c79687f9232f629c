#!/usr/bin/env bash
# Two edges, one PostgreSQL: one ban list, and a database outage that costs
# no traffic.
#  - a ban added through edge A's admin API is enforced by edge B within its
#    refresh interval, and `tailwart ban list -c B.yaml` shows it;
#  - PostgreSQL stopped and started again under traffic through both edges:
#    no client fails, the edges stay ready and /readyz?verbose reports the
#    store down then ok; a ban added on A during the outage is enforced on A
#    at once, written to PostgreSQL when it is back, then enforced on B;
#  - the edges log the outage (event=store_error) and the recovery
#    (event=store_back).
# The database is a private server (tests/e2e/pg.sh), stopped at exit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg.sh"
e2e_init pg_bans
need_edge
is_tailwart || { skip "pg bans" "tailwart only"; finish; }
need_cmd curl runuser
PGBIN=$(pg_bindir 2>/dev/null) || { skip "two edges on PostgreSQL" "no PostgreSQL server installed"; finish; }

# The socket path DIR/.s.PGSQL.PORT must stay short: not under T_DIR.
PGDIR=$(mktemp -d /tmp/tw-pg.XXXXXX) || bail "mktemp"
pg_cleanup() {
	pg_stop "$PGDIR"
	cp "$PGDIR/server.log" "$T_DIR/pg-server.log" 2>/dev/null
	rm -rf "$PGDIR"
}
defer pg_cleanup
read -r PGPORT AP AAP BP BAP BEP < <(freeport 6)
URL=$(pg_start "$PGDIR" "$PGPORT" 2>"$T_DIR/pg-start.err") || {
	diag_file "$T_DIR/pg-start.err"
	bail "PostgreSQL did not start"
}
psql_q() { _pg_as "$PGBIN/psql" -h "$PGDIR" -p "$PGPORT" -U postgres -d tailwart -tAqc "$1"; }

# The backend: an SMTP-like greeting, then it echoes lines until EOF.
cat >"$T_DIR/backend.py" <<'PY'
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(512)
def h(c):
    try:
        c.sendall(b"220 backend ready\r\n")
        while True:
            d = c.recv(4096)
            if not d:
                break
            c.sendall(d)
    except OSError:
        pass
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=h, args=(c,), daemon=True).start()
PY
spawn "$T_DIR/backend.out" "$PY" "$T_DIR/backend.py" "$BEP"
wait_listen 127.0.0.1 "$BEP" || bail "backend did not listen"

# allow: [] so that loopback clients can be banned (the default allows 127/8).
for e in A B; do
	if [ $e = A ]; then lp=$AP ap=$AAP; else lp=$BP ap=$BAP; fi
	edge_write "$T_DIR/$e.yaml" <<EOF
admin: { bind: "127.0.0.1:$ap" }
state: "$URL"
allow: []
workers: 1
listeners:
  - name: smtp
    bind: ["127.0.0.1:$lp"]
    protocol: smtp
    backend: mail
backends:
  mail: { servers: ["127.0.0.1:$BEP"] }
EOF
done
EDGE_LOG_FILE=$T_DIR/edgeA.log start_edge "$T_DIR/A.yaml" || bail "edge A did not start"
A_PID=$EDGE_PID A_LOG=$EDGE_LOG
EDGE_LOG_FILE=$T_DIR/edgeB.log start_edge "$T_DIR/B.yaml" || bail "edge B did not start"
B_PID=$EDGE_PID B_LOG=$EDGE_LOG
if ! wait_for 10 grep -q 'event=store_open kind=postgresql' "$A_LOG" ||
	! wait_for 10 grep -q 'event=store_open kind=postgresql' "$B_LOG"; then
	diag_file "$A_LOG"
	diag_file "$B_LOG"
	bail "the edges did not open the PostgreSQL store"
fi

# greet FROM PORT: the first line the edge passes or says ("" / ERR on none).
greet() {
	timeout 5 "$PY" -c "
import socket
c=socket.socket(); c.bind(('$1',0)); c.settimeout(3)
try:
    c.connect(('127.0.0.1',$2)); print(c.recv(200).decode(errors='replace').strip())
except OSError as e: print('ERR', e.__class__.__name__)"
}
is_banned() { [[ $(greet "$1" "$2") == "554 5.7.1"* ]]; }
# wait_banned FROM PORT SECONDS: polls; sets WAITED_MS.
wait_banned() {
	local t0
	t0=$(now_ms)
	wait_for "$3" is_banned "$1" "$2"
	local rc=$?
	WAITED_MS=$(($(now_ms) - t0))
	return $rc
}
api_ban() { # EDGE-ADMIN-PORT NET -> HTTP code
	curl -s -m 10 -o "$T_DIR/api.out" -w '%{http_code}' -XPOST \
		-d "{\"net\": \"$2\", \"for\": \"10m\", \"reason\": \"e2e pg\"}" "http://127.0.0.1:$1/api/v1/bans"
}
# store_state ADMIN-PORT: "HTTPCODE ready=BOOL store_ok=BOOL status=TEXT"
store_state() {
	local body code
	code=$(curl -s -m 5 -o "$T_DIR/readyz.json" -w '%{http_code}' "http://127.0.0.1:$1/readyz?verbose")
	body=$(jq -r '"ready=\(.ready) store_ok=\(.store.ok) status=\(.store.status)"' "$T_DIR/readyz.json" 2>/dev/null)
	echo "$code $body"
}
store_is() { [[ $(store_state "$1") == "200 ready=true store_ok=$2 "* ]]; }

# ---------------------------------------------------------------- (a)
pre_b=$(greet 127.0.0.9 "$BP")
code=$(api_ban "$AAP" 127.0.0.9)
if [ "$code" = 201 ] && [[ $pre_b == "220 backend ready" ]] && wait_banned 127.0.0.9 "$BP" 5 && [ "$WAITED_MS" -le 2500 ]; then
	ok "a ban added through A's API (201) is enforced by B in ${WAITED_MS} ms: 554 5.7.1"
else
	not_ok "a ban added through A's API is enforced by B within ~2 s" \
		"code=$code before='$pre_b' waited=${WAITED_MS}ms B now: '$(greet 127.0.0.9 "$BP")' $(cat "$T_DIR/api.out")"
	diag_file "$B_LOG" 10
fi
a_says=$(greet 127.0.0.9 "$AP")
list=$("$TAILWART" ban list -c "$T_DIR/B.yaml" 2>&1)
if [[ $a_says == "554 5.7.1"* ]] && grep -qE '^127\.0\.0\.9/32 +until .* manual +repeat 1 +e2e pg' <<<"$list"; then
	ok "A enforces it too; \`tailwart ban list -c B.yaml\` shows 127.0.0.9/32"
else
	not_ok "A enforces it; ban list -c B.yaml shows it" "A: '$a_says' list: $list"
fi

# ---------------------------------------------------------------- (b)
# traffic.py: per edge, 2 loops of short connections (banner expected) and 2
# long ones exchanging a line every 200 ms, all from 127.0.0.2, until the stop
# file exists. Every failure is recorded with its time.
cat >"$T_DIR/traffic.py" <<'PY'
import asyncio, json, os, sys, time
stop_file, out = sys.argv[1], sys.argv[2]
edges = {name: int(port) for name, port in (a.split("=") for a in sys.argv[3:])}
st = {e: {"short_ok": 0, "short_bad": 0, "long_ok": 0, "long_bad": 0, "lines": 0} for e in edges}
fails = []
t0 = time.time()

def fail(e, kind, why):
    st[e][kind + "_bad"] += 1
    if len(fails) < 20:
        fails.append(f"{e} {kind} t={time.time() - t0:.2f}s {why}")

async def short(e, port):
    while not os.path.exists(stop_file):
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.2", 0)), 5)
            line = await asyncio.wait_for(r.readline(), 5)
            w.write(b"QUIT\r\n"); await w.drain()
            echo = await asyncio.wait_for(r.readline(), 5)
            w.close()
            if line == b"220 backend ready\r\n" and echo == b"QUIT\r\n":
                st[e]["short_ok"] += 1
            else:
                fail(e, "short", f"got {line!r} {echo!r}")
        except Exception as x:
            fail(e, "short", repr(x))
        await asyncio.sleep(0.04)

async def long(e, port, i):
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.2", 0)), 5)
        if await asyncio.wait_for(r.readline(), 5) != b"220 backend ready\r\n":
            return fail(e, "long", "no banner")
        n = 0
        while not os.path.exists(stop_file):
            msg = f"PING {i} {n}\r\n".encode()
            w.write(msg); await w.drain()
            if await asyncio.wait_for(r.readline(), 5) != msg:
                return fail(e, "long", f"echo lost at line {n}")
            n += 1
            st[e]["lines"] += 1
            await asyncio.sleep(0.2)
        w.close()
        st[e]["long_ok"] += 1
    except Exception as x:
        fail(e, "long", repr(x))

async def main():
    ts = []
    for e, p in edges.items():
        ts += [short(e, p) for _ in range(2)] + [long(e, p, i) for i in range(2)]
    await asyncio.gather(*ts)

asyncio.run(main())
bad = sum(v["short_bad"] + v["long_bad"] for v in st.values())
with open(out, "w") as f:
    json.dump({"stats": st, "fails": fails, "secs": round(time.time() - t0, 1)}, f, sort_keys=True)
print("ok" if bad == 0 else "FAIL", json.dumps(st, sort_keys=True), fails)
PY
rm -f "$T_DIR/traffic.stop"
"$PY" "$T_DIR/traffic.py" "$T_DIR/traffic.stop" "$T_DIR/traffic.json" A="$AP" B="$BP" >"$T_DIR/traffic.out" 2>&1 &
TRAFFIC=$!
defer "touch '$T_DIR/traffic.stop'; sleep 0.5; kill $TRAFFIC"
sleep 1.5

# The outage.
if pg_stop "$PGDIR"; then
	t_down=$(now_ms)
	echo "# PostgreSQL stopped (fast shutdown)"
else
	not_ok "pg_stop" "PostgreSQL did not stop"
	t_down=$(now_ms)
fi
if wait_for 6 store_is "$AAP" false; then
	ok "A during the outage: /readyz?verbose 200, ready, store reported down ($(store_state "$AAP" | cut -d' ' -f4- | cut -c1-90)...)"
else
	not_ok "A reports the store down and stays ready" "$(store_state "$AAP")"
fi
t0=$(now_ms)
code=$(api_ban "$AAP" 127.0.0.10)
t_api=$(($(now_ms) - t0))
if [ "$code" = 201 ] && wait_banned 127.0.0.10 "$AP" 2 && [ "$WAITED_MS" -le 1000 ]; then
	ok "a ban added through A's API while PostgreSQL is down: 201 in ${t_api} ms, enforced by A in ${WAITED_MS} ms"
else
	not_ok "a ban during the outage is enforced by A at once" "code=$code api=${t_api}ms waited=${WAITED_MS}ms $(cat "$T_DIR/api.out")"
fi
b_during=$(greet 127.0.0.10 "$BP")
hout=$("$TAILWART" health -c "$T_DIR/A.yaml" 2>&1)
hrc=$?
bst=$(store_state "$BAP")
if [ $hrc = 0 ] && [[ $bst == "200 ready=true store_ok=false "* ]]; then
	ok "during the outage \`tailwart health\` says ready (exit 0); B ready with its store down"
else
	not_ok "edges stay ready during the outage" "health rc=$hrc out=$hout B: $bst"
fi
# Keep the database away for a while under traffic.
while [ $(($(now_ms) - t_down)) -lt 4000 ]; do sleep 0.2; done
pg_start "$PGDIR" "$PGPORT" >/dev/null 2>"$T_DIR/pg-restart.err" || {
	diag_file "$T_DIR/pg-restart.err"
	bail "PostgreSQL did not start again"
}
t_up=$(now_ms)
echo "# PostgreSQL down for $((t_up - t_down)) ms, started again"
if wait_for 10 store_is "$AAP" true; then
	ok "A after the restart: store ok again in $(($(now_ms) - t_up)) ms, still ready"
else
	not_ok "A reports the store ok again" "$(store_state "$AAP")"
fi
pg_has() { [ "$(psql_q "SELECT count(*) FROM bans WHERE net = '$1'")" = 1 ]; }
wait_for 10 pg_has 127.0.0.10/32
row=$(psql_q "SELECT net, source, reason FROM bans WHERE net = '127.0.0.10/32'")
if [ "$row" = "127.0.0.10/32|manual|e2e pg" ]; then
	ok "the ban made during the outage is written to PostgreSQL when it returns"
else
	not_ok "the outage ban reaches PostgreSQL" "row='$row' all: $(psql_q 'SELECT net FROM bans' | xargs)"
fi
if [[ $b_during == "220 backend ready" ]] && wait_banned 127.0.0.10 "$BP" 10; then
	ok "B, which could not know it during the outage, enforces it $(($(now_ms) - t_up)) ms after the restart"
else
	not_ok "B enforces the outage ban after the restart" "B during: '$b_during' now: '$(greet 127.0.0.10 "$BP")'"
fi
list=$("$TAILWART" ban list -c "$T_DIR/B.yaml" 2>&1)
if wait_for 5 store_is "$BAP" true && grep -q '^127\.0\.0\.10/32 ' <<<"$list" && grep -q '^127\.0\.0\.9/32 ' <<<"$list"; then
	ok "B's store ok again; \`tailwart ban list -c B.yaml\` shows both bans"
else
	not_ok "B after the restart" "$(store_state "$BAP") list: $list"
fi
sleep 1
touch "$T_DIR/traffic.stop"
wait_for 15 sh -c "! kill -0 $TRAFFIC" || true
wait "$TRAFFIC"
trc=$?
nshort=$(jq '[.stats[].short_ok] | add' "$T_DIR/traffic.json" 2>/dev/null)
nlong=$(jq '[.stats[].long_ok] | add' "$T_DIR/traffic.json" 2>/dev/null)
if [ "$trc" = 0 ] && [ "${nshort:-0}" -gt 50 ] && [ "${nlong:-0}" = 4 ]; then
	ok "no client failed across the outage: $nshort short connections got the banner, 4 long ones kept echoing"
else
	not_ok "traffic across the outage" "rc=$trc $(jq -c '.stats' "$T_DIR/traffic.json" 2>/dev/null || head -c 300 "$T_DIR/traffic.out")"
	diag "$(jq -r '.fails[]' "$T_DIR/traffic.json" 2>/dev/null | head -n 8)"
	diag_file "$A_LOG" 10
fi

# ---------------------------------------------------------------- (c)
# first_line FILE ERE: the number of the first line matching, or 0.
first_line() { grep -nE -m1 "$2" "$1" | cut -d: -f1 | grep . || echo 0; }
for e in A B; do
	[ $e = A ] && log=$A_LOG || log=$B_LOG
	le=$(first_line "$log" 'event=store_error')
	lb=$(first_line "$log" 'event=store_back')
	if [ "$le" -gt 0 ] && [ "$lb" -gt "$le" ]; then
		ok "edge $e logged the store error, then its recovery"
		diag "$(sed -n "${le}p;${lb}p" "$log")"
	else
		not_ok "edge $e logs event=store_error then event=store_back" "error at line $le, back at line $lb"
		diag_file "$log" 15
	fi
done
for e in A B; do
	[ $e = A ] && pid=$A_PID || pid=$B_PID
	pid_alive "$pid" || not_ok "edge $e still running" "it exited"
done
finish
