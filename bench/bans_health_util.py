#!/usr/bin/env python3
"""bench/bans_health_util.py - helpers of bench/bans_health (stdlib only).

  sql N NOW                 SQL that inserts N distinct bans (half IPv4 /32,
                            half IPv6 /64) into the state's `bans` table
  nets N                    the same bans, one CIDR a line
  metric URL NAME...        sum of every sample of each metric NAME at URL
                            (Prometheus text), one "NAME=VALUE" word each
  cpu PID                   CPU and memory of PID: ticks (utime+stime of the
                            whole process from /proc/PID/stat), ns (sum of
                            its threads' schedstat run time), rss_kb,
                            threads, and /proc/stat busy/total ticks of core 1
  window PID BACKEND URL SECS   the health window: CPU of PID and BACKEND,
                            checks and failures from URL, over SECS
  scrapes PID URL N         CPU (schedstat) PID spends per scrape of URL
  first-line ADDR PORT SRC  connect to ADDR:PORT from source address SRC and
                            print the first line the server sends
  report RAW [--doc FILE]   raw key=value lines -> summary table on stdout;
                            --doc writes the docs/benchmarks.md section
  append-doc SECTION DOC    put SECTION at the end of DOC in one rename
                            (replacing an earlier "## Bans and health
                            checks" section); creates DOC when absent

Loopback only: every address it connects to must be in 127.0.0.0/8 or ::1.
"""
import ipaddress
import os
import random
import shlex
import socket
import statistics
import sys
import textwrap
import time
import urllib.request


def loopback(host):
    if not ipaddress.ip_address(host).is_loopback:
        sys.exit(f"bans_health_util: {host} is not a loopback address")


# ---------------------------------------------------------------- sql

def gen_bans(n):
    """Deterministic ban list. A fifth of the IPv4 bans sit in 127.0.0.0/16
    around the clients' 127.0.0.1 (never on it), so a lookup for the
    clients walks a deep path of the trie instead of leaving it at the root;
    127.0.0.2 is always banned (the script checks it is refused)."""
    rnd = random.Random(20261127)
    n4 = n // 2
    n6 = n - n4
    v4 = {"127.0.0.2/32"}
    near = n4 // 5
    while len(v4) < near:
        a = 0x7F000000 | rnd.randrange(0, 1 << 16)
        if a != 0x7F000001:
            v4.add(f"{ipaddress.IPv4Address(a)}/32")
    while len(v4) < n4:
        a = rnd.randrange(0x01000000, 0xE0000000)  # 1.0.0.0 .. 223.255.255.255
        if a >> 24 != 127:
            v4.add(f"{ipaddress.IPv4Address(a)}/32")
    v6 = set()
    while len(v6) < n6:
        hi = rnd.randrange(0x2000 << 48, 0x4000 << 48)  # 2000::/3, global unicast
        v6.add(f"{ipaddress.IPv6Address(hi << 64)}/64")
    return sorted(v4) + sorted(v6)


def cmd_nets(n):
    print("\n".join(gen_bans(n)))


def cmd_sql(n, now):
    until = now + 86400
    out = ["BEGIN;"]
    for net in gen_bans(n):
        out.append("INSERT INTO bans(net, created, until, repeat, source, reason) "
                   f"VALUES('{net}', {now}, {until}, 1, 'manual', 'bench');")
    out.append("COMMIT;")
    print("\n".join(out))


# ---------------------------------------------------------------- probes

def cmd_metric(url, names):
    try:
        sums = scrape(url, names, seen := set())
    except OSError:
        sums = {}
    print(" ".join(f"{n}={sums[n]:.0f}" if n in seen else f"{n}=none" for n in names))


def read_proc_stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # fields 14, 15: utime, stime


def cmd_cpu(pid):
    ticks, ns = proc_sample(pid)
    rss, threads = rss_threads(pid)
    busy, total = core1()
    print(f"ticks={ticks} ns={ns} rss_kb={rss} threads={threads} core1_busy={busy} "
          f"core1_total={total}")


def rss_threads(pid):
    rss = threads = 0
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return rss, threads


def scrape(url, names, seen=None):
    """Sums every sample of each metric in names; seen gets the names found."""
    host = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    loopback(host)
    with urllib.request.urlopen(url, timeout=5) as r:
        text = r.read().decode()
    sums = {n: 0.0 for n in names}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in sums:
            sums[name] += float(line.rsplit(" ", 1)[1])
            if seen is not None:
                seen.add(name)
    return sums


def proc_sample(pid):
    ticks = read_proc_stat(pid)
    ns = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/schedstat") as fh:
                ns += int(fh.read().split()[0])
        except OSError:
            pass
    return ticks, ns


def cmd_window(pid, backend, url, secs):
    """The health window in one process, so the scrapes sit right outside
    the CPU window (a few ms) instead of a Python start-up apart."""
    names = ["tailwart_health_checks_total", "tailwart_health_check_failures_total"]
    mt0 = time.monotonic()
    m0 = scrape(url, names)
    t0 = time.monotonic()
    e0, b0 = proc_sample(pid), read_proc_stat(backend)
    c0 = core1()
    time.sleep(secs)
    e1, b1 = proc_sample(pid), read_proc_stat(backend)
    c1 = core1()
    t1 = time.monotonic()
    m1 = scrape(url, names)
    mt1 = time.monotonic()
    rss, threads = rss_threads(pid)
    print(f"secs={t1 - t0:.3f} metric_secs={mt1 - mt0:.3f} ticks={e1[0] - e0[0]} "
          f"ns={e1[1] - e0[1]} checks={m1[names[0]] - m0[names[0]]:.0f} "
          f"failures={m1[names[1]] - m0[names[1]]:.0f} rss_kb={rss} threads={threads} "
          f"backend_ticks={b1 - b0} core1_busy={c1[0] - c0[0]} core1_total={c1[1] - c0[1]}")


def cmd_scrapes(pid, url, n):
    """CPU the edge spends per /metrics scrape (n scrapes back to back)."""
    e0 = proc_sample(pid)
    t0 = time.monotonic()
    for _ in range(n):
        scrape(url, [])
    t1 = time.monotonic()
    e1 = proc_sample(pid)
    print(f"scrapes={n} scrape_wall_us={(t1 - t0) / n * 1e6:.0f} "
          f"scrape_cpu_us={(e1[1] - e0[1]) / n / 1e3:.0f}")


def core1():
    with open("/proc/stat") as fh:
        for line in fh:
            if line.startswith("cpu1 "):
                v = [int(x) for x in line.split()[1:9]]
                return sum(v) - v[3] - v[4], sum(v)
    return 0, 0


def cmd_first_line(addr, port, src):
    loopback(addr)
    loopback(src)
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.settimeout(3)
        s.bind((src, 0))
        s.connect((addr, int(port)))
        buf = b""
        try:
            while b"\n" not in buf:
                d = s.recv(512)
                if not d:
                    break
                buf += d
        except OSError as e:
            print(f"error: {e}")
            return
    print(buf.split(b"\n", 1)[0].decode(errors="replace").rstrip("\r") or "(closed)")


# ---------------------------------------------------------------- report

def parse_raw(path):
    rows = []
    with open(path) as f:
        for line in f:
            words = shlex.split(line)
            if not words:
                continue
            d = {"kind": words[0]}
            for w in words[1:]:
                if "=" in w:
                    k, v = w.split("=", 1)
                    d[k] = v
            rows.append(d)
    return rows


def num(d, k):
    try:
        return float(d[k])
    except (KeyError, ValueError):
        return float("nan")


def mean(xs):
    xs = [x for x in xs if x == x]
    return statistics.fmean(xs) if xs else float("nan")


def f(x, fmt="{:,.0f}"):
    return "n/a" if x != x else fmt.format(x)


def cmd_report(path, doc):
    rows = parse_raw(path)
    one = {r["kind"]: r for r in rows if r["kind"] in ("machine", "params", "end")}
    m, p, e = one.get("machine", {}), one.get("params", {}), one.get("end", {})
    hz = num(p, "hz") or 100.0
    nb = int(num(p, "n_bans"))
    nbk = int(num(p, "n_backends"))
    bans = [r for r in rows if r["kind"] == "bans"]

    def per_case(c):
        rate = [r for r in bans if r.get("case") == c and r.get("test") == "rate"]
        lat = [r for r in bans if r.get("case") == c and r.get("test") == "latency"]
        mem = [r for r in bans if r.get("case") == c and r.get("test") == "mem"]
        cpu = [num(r, "proxy_cpu_s") * 1e6 / num(r, "conns") for r in rate]
        return {
            "rounds": [num(r, "rate") for r in rate],
            "rate": mean([num(r, "rate") for r in rate]),
            "p50": mean([num(r, "p50_us") for r in rate]),
            "p99": mean([num(r, "p99_us") for r in rate]),
            "lat_p50": mean([num(r, "p50_us") for r in lat]),
            "lat_p99": mean([num(r, "p99_us") for r in lat]),
            "cpu_rounds": cpu,
            "cpu_us": mean(cpu),
            "core": mean([num(r, "proxy_cpu_s") / num(r, "secs") for r in rate]),
            "foreign": mean([num(r, "core1_foreign") for r in rate]),
            "errors": sum(int(num(r, "errors")) for r in rate + lat),
            "rss": mean([num(r, "rss_kb") for r in mem]),
            "rss_loaded": mean([num(r, "rss_loaded_kb") for r in mem]),
            "scrape": mean([num(r, "scrape_cpu_us") for r in mem]),
            "load_ms": mean([num(r, "load_ms") for r in mem]),
            "refused": ", ".join(sorted({r.get("banned_probe", "?") for r in mem})),
        }

    b0, b1 = per_case("0"), per_case(str(nb))
    look = {(r.get("bans"), r.get("client")): r for r in rows if r["kind"] == "lookup"}

    def lk(n, client, key="ns"):
        return num(look.get((str(n), client), {}), key)

    health = {r.get("case"): r for r in rows if r["kind"] == "health"}
    hon, hoff = health.get("on", {}), health.get("off", {})

    def share(r, key, scale):
        return num(r, key) / scale / num(r, "secs")

    checks = num(hon, "checks")
    cpu_on, cpu_off = share(hon, "ticks", hz), share(hoff, "ticks", hz)
    ns_on, ns_off = share(hon, "ns", 1e9), share(hoff, "ns", 1e9)
    secs = num(hon, "secs")
    per_check = (cpu_on - cpu_off) * secs / checks * 1e6 if checks else float("nan")
    per_check_ns = (ns_on - ns_off) * secs / checks * 1e6 if checks else float("nan")
    be_per_check = num(hon, "backend_ticks") / hz / checks * 1e6 if checks else float("nan")
    rss_per_server = (num(hon, "rss_kb") - num(hoff, "rss_kb")) / nbk

    def ratio(a, b, fmt="{:.3f}"):
        return f(a / b, fmt) if b and b == b and a == a else "n/a"

    def spread(xs):
        xs = [x for x in xs if x == x]
        return f"{min(xs):,.1f}–{max(xs):,.1f}" if xs else "n/a"

    nbs = f"{nb:,}"
    t1 = [
        ("conn/s, 64 clients (mean of rounds)", f(b0["rate"]), f(b1["rate"]),
         ratio(b1["rate"], b0["rate"])),
        ("… each round", " / ".join(f(x) for x in b0["rounds"]),
         " / ".join(f(x) for x in b1["rounds"]), ""),
        ("p50 / p99 latency under that load, µs", f"{f(b0['p50'])} / {f(b0['p99'])}",
         f"{f(b1['p50'])} / {f(b1['p99'])}",
         f"{ratio(b1['p50'], b0['p50'])} / {ratio(b1['p99'], b0['p99'])}"),
        ("p50 / p99 latency, one client, µs", f"{f(b0['lat_p50'])} / {f(b0['lat_p99'])}",
         f"{f(b1['lat_p50'])} / {f(b1['lat_p99'])}",
         f"{ratio(b1['lat_p50'], b0['lat_p50'])} / {ratio(b1['lat_p99'], b0['lat_p99'])}"),
        ("edge CPU per connection, µs (mean)", f(b0["cpu_us"], "{:.1f}"),
         f(b1["cpu_us"], "{:.1f}"), ratio(b1["cpu_us"], b0["cpu_us"])),
        ("… range over the rounds", spread(b0["cpu_rounds"]), spread(b1["cpu_rounds"]), ""),
        ("edge share of core 1 during the rate test", f(b0["core"], "{:.2f}"),
         f(b1["core"], "{:.2f}"), ""),
        ("other work on core 1 (`core1_foreign`)", f(b0["foreign"], "{:.2f}"),
         f(b1["foreign"], "{:.2f}"), ""),
        ("client errors", str(b0["errors"]), str(b1["errors"]), ""),
        ("tw_banset_check() for 127.0.0.1 (not banned), ns", f(lk(0, "127.0.0.1"), "{:.1f}"),
         f(lk(nb, "127.0.0.1"), "{:.1f}"), ""),
        ("… for 127.0.0.2 (banned), ns", f(lk(0, "127.0.0.2"), "{:.1f}"),
         f(lk(nb, "127.0.0.2"), "{:.1f}"), ""),
        ("… for ::1 (not banned), ns", f(lk(0, "::1"), "{:.1f}"), f(lk(nb, "::1"), "{:.1f}"), ""),
        ("ban snapshot (trie + copies) heap, KiB", f(lk(0, "127.0.0.1", "heap_bytes") / 1024),
         f(lk(nb, "127.0.0.1", "heap_bytes") / 1024), ""),
        ("edge RSS once loaded, KiB", f(b0["rss_loaded"]), f(b1["rss_loaded"]),
         f"+{f(b1['rss_loaded'] - b0['rss_loaded'])}"),
        ("edge RSS after the tests and 50 scrapes, KiB", f(b0["rss"]), f(b1["rss"]),
         f"+{f(b1['rss'] - b0['rss'])}"),
        ("edge CPU per `/metrics` scrape, µs", f(b0["scrape"]), f(b1["scrape"]),
         ratio(b1["scrape"], b0["scrape"], "{:.1f}")),
        ("start until `/metrics` shows them, ms", f(b0["load_ms"]), f(b1["load_ms"]), ""),
        ("reply to a client from 127.0.0.2", b0["refused"], b1["refused"], ""),
    ]
    t2 = [
        ("CPU window, s", f(num(hoff, "secs"), "{:.2f}"), f(num(hon, "secs"), "{:.2f}")),
        ("checks (change of Σ `tailwart_health_checks_total`)", f(num(hoff, "checks")),
         f(checks)),
        ("… counted from scrape to scrape, s", f(num(hoff, "metric_secs"), "{:.2f}"),
         f(num(hon, "metric_secs"), "{:.2f}")),
        ("check failures", f(num(hoff, "failures")), f(num(hon, "failures"))),
        ("mean `tailwart_health_check_seconds`, ms", "",
         f(num(hon, "check_seconds") * 1e3, "{:.1f}")),
        ("edge CPU, % of one core (utime+stime)", f(cpu_off * 100, "{:.2f}"),
         f(cpu_on * 100, "{:.2f}")),
        ("edge CPU, % of one core (schedstat)", f(ns_off * 100, "{:.3f}"),
         f(ns_on * 100, "{:.3f}")),
        ("edge RSS, KiB", f(num(hoff, "rss_kb")), f(num(hon, "rss_kb"))),
        ("edge threads", f(num(hoff, "threads")), f(num(hon, "threads"))),
        ("backend (`twbench serve`) CPU, % of one core",
         f(share(hoff, "backend_ticks", hz) * 100, "{:.2f}"),
         f(share(hon, "backend_ticks", hz) * 100, "{:.2f}")),
        ("core 1 busy, all processes, %",
         f(num(hoff, "core1_busy") / num(hoff, "core1_total") * 100, "{:.0f}"),
         f(num(hon, "core1_busy") / num(hon, "core1_total") * 100, "{:.0f}")),
    ]
    derived = [
        ("edge CPU per check, µs (utime+stime, minus the no-checks CPU)", f(per_check, "{:.0f}")),
        ("edge CPU per check, µs (schedstat, minus the no-checks CPU)",
         f(per_check_ns, "{:.0f}")),
        ("backend CPU per check, µs (utime+stime)", f(be_per_check, "{:.0f}")),
        (f"edge RSS for {nbk} checked servers, KiB (per server)",
         f"{num(hon, 'rss_kb') - num(hoff, 'rss_kb'):+,.0f} ({rss_per_server:+.1f})"),
    ]

    def table(head, rows_):
        w = [max(len(str(r[i])) if i < len(r) else 0 for r in [head] + rows_)
             for i in range(len(head))]
        out = []
        for r in [head] + rows_:
            r = list(r) + [""] * (len(head) - len(r))
            out.append("  ".join(str(c).replace("`", "").ljust(w[i])
                                 for i, c in enumerate(r)).rstrip())
        return "\n".join(out)

    print(f"machine: nproc={m.get('nproc')} cpu={m.get('cpu')} kernel={m.get('kernel')}")
    print(f"load (1/5/15 min): start {p.get('load_start')}, end {e.get('load_end')}")
    print(f"\nBan list admission ({p.get('rate_conc')} clients x {p.get('rate_secs')} s, "
          f"{p.get('rounds')} rounds alternating; edge: workers 1 on core 1)")
    print(table(("", "0 bans", f"{nbs} bans", f"{nbs} / 0"), t1))
    print(f"\nHealth checks: {nbk} backends x 1 server, smtp, interval 1s, "
          f"timeout 500ms; edge idle otherwise")
    print(table(("", "no checks", "checks"), t2))
    print()
    print(table(("derived", ""), derived))

    if not doc:
        return

    def md(head, rows_):
        lines = ["| " + " | ".join(head) + " |", "|---|" + "--:|" * (len(head) - 1)]
        for r in rows_:
            r = list(r) + [""] * (len(head) - len(r))
            lines.append("| " + " | ".join(str(c) for c in r) + " |")
        return "\n".join(lines)

    def para(*parts):
        return textwrap.fill(" ".join(parts), width=100, break_long_words=False,
                             break_on_hyphens=False)

    d_cpu = (b1["cpu_us"] / b0["cpu_us"] - 1) * 100
    r0 = [x for x in b0["cpu_rounds"] if x == x]
    r1 = [x for x in b1["cpu_rounds"] if x == x]
    overlap = bool(r0 and r1) and min(r1) <= max(r0) and min(r0) <= max(r1)
    sec = "\n\n".join([
        HEADING,
        para(f"`bash bench/bans_health` (about 2½ minutes; knobs at the top of the script)",
             "measures what the ban list costs at accept and what active health checks cost",
             f"on an otherwise idle edge. Recorded run: {p.get('date')}, `{p.get('version')}`",
             f"(commit {p.get('commit')})."),
        para(f"**Machine.** {m.get('nproc')} cores ({m.get('cpu')}), Linux {m.get('kernel')}.",
             f"Load average (1/5/15 min) {p.get('load_start')} at the start and",
             f"{e.get('load_end')} at the end. The machine is shared with other people's",
             "builds, tests and fuzzers; the `other work on core 1` row (twbench's",
             "`core1_foreign`: busy time of core 1 no process of the benchmark was charged",
             "for) and `core 1 busy` show how much of it ran beside the edge. The two cases of",
             "each part run interleaved under the same conditions, and CPU time per unit of",
             "work, which other work inflates far less than it moves rates, is the figure to",
             "compare."),
        f"### Ban list: 0 vs {nbs} bans",
        para("**Method.** `tailwart edge` with `workers: 1`, `allow: []`, `log: {level: warn}`,",
             "one `smtp` listener, pinned to core 1 (`taskset -c 1`); the load generator and the",
             "backend (`twbench rate` and `twbench serve`, built from `bench/twbench.c`) on",
             "core 0. The exchange is the one of `bench/run`: connect, read `220 ready`, send",
             "`QUIT`, read `221 bye` (latency stops here), read the close.",
             f"The {nbs} bans ({nb // 2:,} IPv4 /32, {nb - nb // 2:,} IPv6 /64 in 2000::/3;",
             "a fifth of the IPv4 ones in 127.0.0.0/16 around the clients' 127.0.0.1, so each",
             "lookup walks a deep path of the trie instead of leaving it near the root) are",
             "written straight into the state file's `bans` table with the `sqlite3` CLI",
             "while the edge is stopped, in the schema the edge created on a first start.",
             f"The edge loads them when it starts; the script waits for `tailwart_bans {nb}`",
             "on `/metrics` and checks that a client from 127.0.0.2 (one of the bans) is",
             "refused. The clients come from 127.0.0.1, which no ban covers, so every",
             "connection pays the lookup and is admitted. Per case and round: a fresh edge,",
             f"a 1 s warm-up, one client for {p.get('lat_secs')} s (latency), then",
             f"{p.get('rate_conc')} clients for {p.get('rate_secs')} s (rate, p50/p99 under",
             "load, edge CPU from `/proc/PID/stat` per connection);",
             f"{p.get('rounds')} rounds with the cases alternating, means shown. Because one",
             "lookup is far below what a connection costs end to end, the script also times",
             "`tw_banset_check()` itself (`bench/bans_health_lookup.c`, built with the edge's",
             "own `bans.c` and `cidr_trie.c`, the same ban list, 2 million calls per address",
             "on core 1) and weighs the snapshot's heap (`mallinfo2`)."),
        md(("", "0 bans", f"{nbs} bans", f"{nbs} / 0"), t1),
        para(f"**Reading.** Edge CPU per connection differs by {d_cpu:+.1f} % between the",
             "cases, inside the round-to-round spread (the ranges overlap);" if overlap else
             "cases, outside the round-to-round spread (the ranges do not overlap: run it again"
             " before believing it);", "the lookup itself adds",
             f"{lk(nb, '127.0.0.1') - lk(0, '127.0.0.1'):.0f} ns for 127.0.0.1 (the deep",
             f"path), {lk(nb, '127.0.0.1') / 1e3 / b0['cpu_us'] * 100:.2f} % of the",
             f"{b0['cpu_us']:.0f} µs a connection costs the edge. At this size the ban list's",
             "admission cost is not measurable end to end. Its price is memory: the RSS",
             f"difference is {(b1['rss_loaded'] - b0['rss_loaded']) / nb * 1024:,.0f} bytes",
             f"per ban once loaded, of which the published snapshot is",
             f"{(lk(nb, '127.0.0.1', 'heap_bytes') - lk(0, '127.0.0.1', 'heap_bytes')) / nb:,.0f}",
             "bytes (`tw_ban_t` copies and trie nodes); the rest is the control thread's own",
             "list (`tw_store_ban_t`, 384 bytes each: fixed-size text fields), SQLite's page",
             "cache (the state file is about 100 bytes per ban), and a copy of the whole list",
             "that each `/metrics` scrape makes to count it (`tw_banmgr_list()`), which the",
             "allocator keeps resident once freed; that copy is also why a scrape costs more",
             "with bans."),
        f"### Health checks: {nbk} backends",
        para("**Method.** The same edge settings with one `tls` listener whose `sni` routes",
             f"`bNNN.example.net` to each of {nbk} backends (routed, so the config without",
             "checks really has none: a backend no listener routes to is a dependency and",
             "gets a `tcp` check), each backend one server, all on the same `twbench serve`",
             "greeting port on core 0. With checks: `health: {type: smtp, interval: 1s,",
             "timeout: 500ms}` on every backend; without: the same file minus `health`. After",
             "start the script waits until every server was checked once, and 3 s more, then",
             "samples the edge's utime+stime (`/proc/PID/stat`, 10 ms ticks) and the sum of",
             f"its threads' `schedstat` run time (ns) across a {secs:.0f} s window in which",
             "nothing else talks to the edge. Checks are the change of the sum of",
             "`tailwart_health_checks_total`, scraped just outside the window. Per-check",
             "cost = (CPU with checks − CPU without) / checks."),
        md(("", "no checks", "checks"), t2),
        md(("derived", ""), derived),
        para(f"**Reading.** {nbk} smtp checks a second cost the edge",
             f"{(ns_on - ns_off) * 100:.2f} % of one core (schedstat;",
             f"{(cpu_on - cpu_off) * 100:.2f} % by ticks), about {per_check_ns:.0f} µs per",
             "check: a dial, the greeting read, `QUIT`, the `221` and the close, all on the",
             "control thread. The scheduler starts every server's first check at once and",
             "re-arms each check `interval` after its verdict, so all servers stay in step:",
             f"the {nbk} checks of a round go out as one burst each second (the check count",
             "moves in whole rounds)."),
    ]) + "\n"
    with open(doc, "w") as fh:
        fh.write(sec)


HEADING = "## Bans and health checks"


def cmd_append_doc(section, doc):
    with open(section) as fh:
        sec = fh.read()
    try:
        with open(doc) as fh:
            old = fh.read()
    except FileNotFoundError:
        old = ""
    lines = old.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.rstrip() == HEADING), None)
    if start is not None:
        end = next((i for i in range(start + 1, len(lines))
                    if lines[i].startswith("## ")), len(lines))
        lines = lines[:start] + lines[end:]
    old = "".join(lines).rstrip("\n")
    new = (old + "\n\n" if old else "") + sec.rstrip("\n") + "\n"
    d = os.path.dirname(os.path.abspath(doc))
    tmp = os.path.join(d, f".{os.path.basename(doc)}.bans_health.{os.getpid()}.tmp")
    with open(tmp, "w") as fh:
        fh.write(new)
    os.replace(tmp, doc)


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    if a[0] == "sql" and len(a) == 3:
        cmd_sql(int(a[1]), int(a[2]))
    elif a[0] == "nets" and len(a) == 2:
        cmd_nets(int(a[1]))
    elif a[0] == "metric" and len(a) >= 3:
        cmd_metric(a[1], a[2:])
    elif a[0] == "cpu" and len(a) == 2:
        cmd_cpu(int(a[1]))
    elif a[0] == "window" and len(a) == 5:
        cmd_window(int(a[1]), int(a[2]), a[3], float(a[4]))
    elif a[0] == "scrapes" and len(a) == 4:
        cmd_scrapes(int(a[1]), a[2], int(a[3]))
    elif a[0] == "first-line" and len(a) == 4:
        cmd_first_line(a[1], a[2], a[3])
    elif a[0] == "report" and len(a) in (2, 4) and (len(a) == 2 or a[2] == "--doc"):
        cmd_report(a[1], a[3] if len(a) == 4 else None)
    elif a[0] == "append-doc" and len(a) == 3:
        cmd_append_doc(a[1], a[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
