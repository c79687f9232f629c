#!/usr/bin/env bash
# 10,000 connections at once through one edge, then none:
#  - all established from 127.0.0.2-9 (1,250 each, so no source runs out of
#    ephemeral ports) to a backend that holds them open, each relaying a few
#    bytes both ways;
#  - meanwhile /metrics counts 10,000 active and `tailwart health` answers;
#  - all closed: the edge's descriptors return exactly to the baseline
#    measured before the load, and the active counter to 0;
#  - peak RSS and RSS per connection, as a `# rss:` line.
# Sizes: N (default 10000) and LOAD_SECS (deadline of each phase).
. "$(dirname "$0")/lib.sh"
e2e_init load
need_edge
is_tailwart || { skip "load" "tailwart only"; finish; }
need_cmd curl prlimit

N=${LOAD_N:-10000}
SECS=${LOAD_SECS:-45}
# The edge holds 2 descriptors per connection, the backend and the client 1.
NOFILE=65536
raise_nofile "$NOFILE" || echo "# open-file limit stays at $(ulimit -Hn): raising the hard limit needs CAP_SYS_RESOURCE"
NOFILE=$(ulimit -Hn)
[ "$NOFILE" = unlimited ] && NOFILE=1048576
read -r LP BEP AP < <(freeport 3)

# hold.py PORT STATUS: answers "ok " + what it read, keeps every connection
# open until the peer closes it; writes "active N total M" to STATUS 5x/s.
cat >"$T_DIR/hold.py" <<'PY'
import asyncio, socket, sys
port, status = int(sys.argv[1]), sys.argv[2]
st = {"active": 0, "total": 0}

class H(asyncio.Protocol):
    def connection_made(self, t):
        self.t = t
        st["active"] += 1
        st["total"] += 1
    def data_received(self, d):
        self.t.write(b"ok " + d)
    def connection_lost(self, exc):
        st["active"] -= 1

async def report():
    while True:
        with open(status + ".tmp", "w") as f:
            f.write(f"active {st['active']} total {st['total']}\n")
        import os; os.replace(status + ".tmp", status)
        await asyncio.sleep(0.2)

async def main():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port)); s.listen(4096)
    srv = await asyncio.get_running_loop().create_server(H, sock=s, backlog=4096)
    asyncio.create_task(report())
    await srv.serve_forever()

asyncio.run(main())
PY

# load.py PORT N DIR SECS: opens N connections from 127.0.0.2-9 (at most 256
# connecting at once), each sends "cNNNNN\n" and must read "ok cNNNNN\n";
# then writes DIR/ready (JSON), waits for DIR/release, closes all, and
# prints a JSON summary. Exit 0 only when all N were established and echoed.
cat >"$T_DIR/load.py" <<'PY'
import asyncio, json, os, sys, time
port, n, d, secs = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
srcs = [f"127.0.0.{i}" for i in range(2, 10)]
st = {"established": 0, "echoed": 0, "connect_fail": 0, "bad_echo": 0, "lost_early": 0, "errors": {}}
conns = []
closing = False

def err(kind):
    st["errors"][kind] = st["errors"].get(kind, 0) + 1

class C(asyncio.Protocol):
    def __init__(self, i):
        self.msg = b"c%05d\n" % i
        self.want = b"ok " + self.msg
        self.buf = b""
        self.fut = asyncio.get_running_loop().create_future()
    def connection_made(self, t):
        self.t = t
        t.write(self.msg)
    def data_received(self, data):
        self.buf += data
        if len(self.buf) >= len(self.want) and not self.fut.done():
            self.fut.set_result(self.buf == self.want)
    def connection_lost(self, exc):
        if not closing:
            st["lost_early"] += 1
            err("lost:" + (exc.__class__.__name__ if exc else "eof"))
        if not self.fut.done():
            self.fut.set_result(False)

async def one(i, sem):
    loop = asyncio.get_running_loop()
    async with sem:
        try:
            t, p = await asyncio.wait_for(loop.create_connection(
                lambda: C(i), "127.0.0.1", port, local_addr=(srcs[i % len(srcs)], 0)), 20)
        except Exception as e:
            st["connect_fail"] += 1
            err(e.__class__.__name__ + ":" + str(getattr(e, "errno", "")))
            return
        st["established"] += 1
        conns.append(t)
    try:
        good = await asyncio.wait_for(p.fut, 30)
    except asyncio.TimeoutError:
        good = False
        err("echo_timeout")
    if good:
        st["echoed"] += 1
    else:
        st["bad_echo"] += 1

async def main():
    global closing
    sem = asyncio.Semaphore(256)
    t0 = time.monotonic()
    try:
        await asyncio.wait_for(asyncio.gather(*(one(i, sem) for i in range(n))), secs)
    except asyncio.TimeoutError:
        err("phase_timeout")
    st["establish_secs"] = round(time.monotonic() - t0, 2)
    st["open_now"] = sum(1 for t in conns if not t.is_closing())
    with open(os.path.join(d, "ready.tmp"), "w") as f:
        json.dump(st, f, sort_keys=True)
    os.replace(os.path.join(d, "ready.tmp"), os.path.join(d, "ready"))
    end = time.monotonic() + secs
    while not os.path.exists(os.path.join(d, "release")) and time.monotonic() < end:
        await asyncio.sleep(0.05)
    st["open_at_release"] = sum(1 for t in conns if not t.is_closing())
    closing = True
    for t in conns:
        t.close()
    await asyncio.sleep(0.2)

asyncio.run(main())
print(json.dumps(st, sort_keys=True))
ok = st["echoed"] == n and st["open_at_release"] == n and not st["errors"]
sys.exit(0 if ok else 1)
PY

# maxconn within what the limit allows, so the edge has no reason to warn.
MAXCONN=$(((NOFILE - 64) / 2))
[ "$MAXCONN" -gt 20000 ] && MAXCONN=20000
edge_write "$T_DIR/edge.yaml" <<EOF
admin: { bind: "127.0.0.1:$AP" }
maxconn: $MAXCONN
listeners:
  - name: load
    bind: ["127.0.0.1:$LP"]
    protocol: tcp
    backend: hold
backends:
  hold: { servers: ["127.0.0.1:$BEP"] }
EOF
spawn "$T_DIR/hold.out" "$PY" "$T_DIR/hold.py" "$BEP" "$T_DIR/hold.status"
HOLD_PID=$SPAWN_PID
wait_listen 127.0.0.1 "$BEP" || bail "backend did not listen"
start_edge "$T_DIR/edge.yaml" || bail "edge did not start"
prlimit --pid "$EDGE_PID" --nofile="$NOFILE:$NOFILE" || bail "prlimit on the edge failed"
lim=$(awk '/^Max open files/ {print $4}' "/proc/$EDGE_PID/limits")
ACTIVE='tailwart_listener_connections_active{listener="load"}'
active() { metric "$AP" "$ACTIVE"; }
active_is() { [ "$(active)" = "$1" ]; }

# Warm up (a few connections through each worker), then the baseline.
warm=()
for _ in 1 2 3 4 5 6 7 8; do
	twpy probe 127.0.0.1 "$LP" --bind 127.0.0.2 >/dev/null 2>&1 &
	warm+=($!)
done
wait "${warm[@]}"
wait_for 5 active_is 0
sleep 1
base_fds=$(proc_fds "$EDGE_PID")
base_socks=$(proc_fds "$EDGE_PID" socket)
base_pipes=$(proc_fds "$EDGE_PID" pipe)
base_rss=$(proc_kb "$EDGE_PID" VmRSS)
echo "# baseline: $base_fds fds ($base_socks sockets, $base_pipes pipes), VmRSS ${base_rss} kB, nofile $lim"
# What fits under the edge's limit (a margin for the admin plane and pipes).
fit=$(((lim - base_fds - 32) / 2 / 100 * 100))
if [ "$N" -gt "$fit" ]; then
	skip "$N connections at once" "the edge's open-file limit is $lim (2 per connection + $base_fds): $fit instead"
	N=$fit
fi

t0=$(now_ms)
"$PY" "$T_DIR/load.py" "$LP" "$N" "$T_DIR" "$SECS" >"$T_DIR/load.out" 2>&1 &
LOAD=$!
defer "kill $LOAD"
if ! wait_for $((SECS + 10)) test -e "$T_DIR/ready"; then
	not_ok "the client set up its connections" "no ready file after $((SECS + 10)) s"
	touch "$T_DIR/release"
fi
t_est=$(($(now_ms) - t0))
ready=$(cat "$T_DIR/ready" 2>/dev/null)
echoed=$(jq -r '.echoed' <<<"$ready" 2>/dev/null)
open_now=$(jq -r '.open_now' <<<"$ready" 2>/dev/null)
peak_fds=$(proc_fds "$EDGE_PID")
act=$(active)
held() { cut -d' ' -f2 "$T_DIR/hold.status" 2>/dev/null; }
held_is() { [ "$(held)" = "$1" ]; }
wait_for 3 held_is "$N"
held=$(held)
if [ "$echoed" = "$N" ] && [ "$open_now" = "$N" ] && [ "$held" = "$N" ]; then
	ok "$N connections established from 127.0.0.2-9, each relayed bytes both ways, in ${t_est} ms; the backend holds $held"
else
	not_ok "$N connections established and relaying" "client=$ready backend=$held"
	diag_file "$EDGE_LOG" 8 'event=(accept_paused|refused|dial_fail|fd_limit)'
fi
if [ "$act" = "$N" ]; then
	ok "during the load /metrics says $ACTIVE $act"
else
	not_ok "during the load /metrics says $ACTIVE $N" "got '${act}' ($(curl -s -m 5 -o /dev/null -w 'HTTP %{http_code} %{errormsg}' "http://127.0.0.1:$AP/metrics"))"
	diag_file "$EDGE_LOG" 3 'FD_SETSIZE'
fi
if [ "$peak_fds" -ge $((base_fds + 2 * N)) ]; then
	ok "under load the edge holds $peak_fds descriptors (baseline $base_fds + 2 x $N)"
else
	not_ok "under load the edge holds 2 descriptors per connection" "$peak_fds fds, baseline $base_fds"
fi
h0=$(now_ms)
hout=$(timeout 15 "$TAILWART" health -c "$T_DIR/edge.yaml" 2>&1)
hrc=$?
h_ms=$(($(now_ms) - h0))
if [ $hrc = 0 ] && [ "$hout" = ready ] && [ "$h_ms" -le 5000 ]; then
	ok "during the load \`tailwart health\` answers: ready, in $h_ms ms"
else
	not_ok "tailwart health during the load" "rc=$hrc in ${h_ms} ms: $hout"
	diag_file "$EDGE_LOG" 3 'FD_SETSIZE'
fi
cur_rss=$(proc_kb "$EDGE_PID" VmRSS)

# Release: everything closes.
t1=$(now_ms)
touch "$T_DIR/release"
wait "$LOAD"
lrc=$?
summary=$(tail -n1 "$T_DIR/load.out")
fds_back() { [ "$(proc_fds "$EDGE_PID")" = "$base_fds" ]; }
wait_for 5 fds_back
t_close=$(($(now_ms) - t1))
end_fds=$(proc_fds "$EDGE_PID")
end_socks=$(proc_fds "$EDGE_PID" socket)
end_pipes=$(proc_fds "$EDGE_PID" pipe)
if [ $lrc = 0 ]; then
	ok "the client saw no error, no early close, all $N open until released ($(jq -c '{establish_secs, open_at_release}' <<<"$summary" 2>/dev/null))"
else
	not_ok "client summary" "rc=$lrc $summary"
fi
if [ "$end_fds" = "$base_fds" ]; then
	ok "all closed: the edge's descriptors are back to the baseline, exactly $base_fds, ${t_close} ms after the release"
else
	not_ok "all closed: descriptors back to the baseline $base_fds" \
		"$end_fds after 5 s ($end_socks sockets, $end_pipes pipes; baseline $base_socks sockets, $base_pipes pipes)"
	find "/proc/$EDGE_PID/fd" -mindepth 1 -printf '%l\n' | sed 's/:.*//' | sort | uniq -c | sed 's/^/#   /'
fi
wait_for 5 active_is 0
a_end=$(active)
closes=$(grep -c 'event=close .*listener=load' "$EDGE_LOG")
if [ "$a_end" = 0 ] && wait_for 5 held_is 0; then
	ok "/metrics: $ACTIVE back to 0; the backend's side of every connection closed too"
else
	not_ok "active counters back to 0" "metrics=$a_end backend=$(cat "$T_DIR/hold.status")"
fi
if [ "$closes" -ge "$N" ]; then
	ok "the edge logged a close line for each of them ($closes)"
else
	not_ok "a close line per connection" "$closes < $N"
fi
# The relay's pipes and buffers held by connections: back to zero.
m=$(curl -s -m 5 "http://127.0.0.1:$AP/metrics")
pool=$(grep -E '^tailwart_relay_in_use\{' <<<"$m")
if [ "$(wc -l <<<"$pool")" = 2 ] && awk '{s += $2} END {exit s != 0}' <<<"$pool"; then
	ok "/metrics: relay pipes and buffers in use are back to 0"
else
	not_ok "relay pools' in-use counters back to 0" "${pool:-no tailwart_relay_in_use gauge}"
fi
if pid_alive "$EDGE_PID" && ! grep -qE 'event=(accept_paused|fd_limit|worker_exit)' "$EDGE_LOG"; then
	ok "the edge is still running; no accept pause, fd-limit warning or worker exit logged"
else
	not_ok "edge healthy after the load" "$(grep -E 'event=(accept_paused|fd_limit|worker_exit)' "$EDGE_LOG" | head -3)"
fi

hwm=$(proc_kb "$EDGE_PID" VmHWM)
per=$(((hwm - base_rss) * 1024 / N))
echo "# rss: edge peak VmHWM $((hwm / 1024)) MiB (${hwm} kB), baseline VmRSS ${base_rss} kB, at $N conns ${cur_rss} kB: ~${per} B per connection ($(basename "$(dirname "$TAILWART")"))"
if [ -n "$hwm" ] && [ "$hwm" -gt 0 ]; then
	ok "peak RSS ${hwm} kB, ~$((per / 1024)) KiB per connection (${per} B)"
else
	not_ok "peak RSS" "no VmHWM for pid $EDGE_PID"
fi
stop_group "$HOLD_PID" 3
finish
