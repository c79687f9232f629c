#!/usr/bin/env python3
"""bench/report.py - turns bench/run's raw key=value lines into a table and JSON.

Usage: report.py RAW [--json OUT]

Prints Markdown tables (they read fine in a terminal) and, with --json, writes
every raw number plus the derived ones. The targets compare "tailwart" (the
default, splice) with the best peer of the same run; peers are HAProxy with
and without splice and nginx stream.
"""
import json
import shlex
import sys
from statistics import median

PEERS = ["haproxy-splice", "haproxy", "nginx"]
HAPROXY = ["haproxy-splice", "haproxy"]
ORDER = ["direct", "tailwart", "tailwart-nosplice", "haproxy-splice", "haproxy", "nginx"]


def num(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return int(f) if f.is_integer() and "." not in str(v) else f


def parse(path):
    meta, cases = {}, {}
    with open(path) as f:
        for line in f:
            words = shlex.split(line.strip())
            if not words:
                continue
            kv = {}
            head = None
            for w in words:
                if "=" in w:
                    k, v = w.split("=", 1)
                    kv[k] = num(v)
                elif w == "ready":
                    continue
                elif head is None:
                    head = w
            if "case" in kv:
                c = cases.setdefault(kv.pop("case"), {})
                c[kv.pop("test")] = kv
            else:
                meta[head or "misc"] = kv
    return meta, cases


def derive(cases):
    """Per case: the numbers the tables and the targets use."""
    d = {}
    direct = cases.get("direct", {})
    for name, c in cases.items():
        if "skipped" in c:
            d[name] = {"skipped": True}
            continue
        r = {}
        lat, rate, idle = (c.get(k, {}) for k in ("latency", "rate", "idle"))
        r["rate_cps"] = rate.get("rate")
        r["rate_errors"] = sum(rate.get(k, 0) or 0 for k in ("errors", "timeouts", "stalled"))
        r["rate_p50_us"], r["rate_p99_us"] = rate.get("p50_us"), rate.get("p99_us")
        r["lat_p50_us"], r["lat_p99_us"] = lat.get("p50_us"), lat.get("p99_us")
        r["lat_errors"] = sum(lat.get(k, 0) or 0 for k in ("errors", "timeouts", "stalled"))
        dl = direct.get("latency", {})
        if name != "direct" and dl and lat:
            r["added_p50_us"] = lat["p50_us"] - dl["p50_us"]
            r["added_p99_us"] = lat["p99_us"] - dl["p99_us"]
        r["core0_busy_rate"], r["core1_busy_rate"] = rate.get("core0_busy"), rate.get("core1_busy")
        if "proxy_cpu_s" in rate and rate.get("conns"):
            r["cpu_s_per_1k_conns"] = rate["proxy_cpu_s"] / rate["conns"] * 1000
            r["proxy_core_util_rate"] = rate["proxy_cpu_s"] / rate["secs"]
        rounds = [v for k, v in sorted(c.items()) if k.startswith("bulk") and v.get("secs")]
        if rounds:
            g = sorted(x["gbps"] for x in rounds)
            r["bulk_gbps"] = median(g)
            r["bulk_gbps_min"], r["bulk_gbps_max"] = g[0], g[-1]
            r["bulk_rounds"] = len(rounds)
            r["bulk_verified"] = (f'{sum(x["verified"] for x in rounds)}/'
                                  f'{sum(x["streams"] for x in rounds)}')
            r["bulk_stalled"] = sum(x.get("stalled", 0) for x in rounds)
            if all("proxy_cpu_s" in x and x["bytes"] for x in rounds):
                per = sorted(x["proxy_cpu_s"] / (x["bytes"] / 1e9) for x in rounds)
                r["cpu_s_per_gb"] = median(per)
                r["cpu_s_per_gb_min"], r["cpu_s_per_gb_max"] = per[0], per[-1]
                r["proxy_core_util_bulk"] = (sum(x["proxy_cpu_s"] for x in rounds) /
                                             sum(x["secs"] for x in rounds))
        n = idle.get("open") or 0
        if n:
            r["idle_open"] = n
            r["idle_errors"] = idle.get("errors")
            kern = (idle["held_slab_bytes"] - idle["before_slab_bytes"]) + 4096 * (
                idle["held_tcp_mem_pages"] - idle["before_tcp_mem_pages"])
            r["kernel_bytes_per_conn"] = kern / n
            if name != "direct":
                r["rss_bytes_per_conn"] = (idle["held_rss_kb"] - idle["before_rss_kb"]) * 1024 / n
                r["fds_per_conn"] = (idle["held_fds"] - idle["before_fds"]) / n
                r["fds_left_after_close"] = idle["after_fds"] - idle["before_fds"]
        start, end = c.get("start", {}), c.get("end", {})
        if name != "direct" and start and end:
            r["fds_start"], r["fds_end"] = start.get("fds"), end.get("fds")
            r["rss_kb_end"] = end.get("rss_kb")
        # share of a core that went to other work on the machine during a test
        # (direct uses core 0 only)
        r["foreign"] = max((c.get(k, {}).get(f"core{i}_foreign") or 0)
                           for k in c if k in ("latency", "rate") or k.startswith("bulk")
                           for i in ((0,) if name == "direct" else (0, 1)))
        alive = [v.get("proxy_alive") for k, v in c.items()
                 if k in ("latency", "rate") or k.startswith("bulk")]
        r["crashed"] = name != "direct" and any(a == 0 for a in alive)
        r["stop_ok"] = c.get("stop", {}).get("stopped", 1) == 1
        d[name] = r
    dk = d.get("direct", {}).get("kernel_bytes_per_conn")
    for name, r in d.items():
        if name != "direct" and dk is not None and "kernel_bytes_per_conn" in r:
            r["kernel_share_per_conn"] = r["kernel_bytes_per_conn"] - dk
            r["mem_per_conn"] = r["rss_bytes_per_conn"] + r["kernel_share_per_conn"]
    return d


def targets(d, tw="tailwart"):
    """The five targets for case tw against the best peer (or HAProxy) of the run."""
    t = d.get(tw, {})
    peers = {p: d[p] for p in PEERS if p in d and not d[p].get("skipped")}
    out = []

    def best(key, higher):
        vals = [(p, r[key]) for p, r in peers.items() if r.get(key) is not None]
        if not vals:
            return None, None
        return (max if higher else min)(vals, key=lambda x: x[1])

    def add(name, key, higher, goal, peers_of=None):
        if peers_of is not None:
            vals = [(p, d[p][key]) for p in peers_of if p in d and d[p].get(key) is not None]
            bp, bv = min(vals, key=lambda x: x[1]) if vals else (None, None)
        else:
            bp, bv = best(key, higher)
        v = t.get(key)
        row = {"target": name, "key": key, "tailwart": v, "peer": bp, "peer_value": bv,
               "goal": goal, "ratio": None, "met": None}
        if v is not None and bv not in (None, 0) and (bv > 0 or higher):
            row["ratio"] = v / bv
            row["met"] = row["ratio"] >= goal if higher else row["ratio"] <= goal
        elif v is not None and bv is not None and not higher and bv <= 0:
            row["met"] = v <= 0  # the peer added nothing: only adding nothing matches
        out.append(row)

    add("connection rate", "rate_cps", True, 1.1)
    add("added latency p99", "added_p99_us", False, 0.8)
    add("bulk throughput", "bulk_gbps", True, 1.2)
    dg = d.get("direct", {}).get("bulk_gbps")
    row = {"target": "bulk vs direct", "key": "bulk_gbps", "tailwart": t.get("bulk_gbps"),
           "peer": "direct", "peer_value": dg, "goal": 0.5, "ratio": None, "met": None}
    if dg and t.get("bulk_gbps") is not None:
        row["ratio"] = t["bulk_gbps"] / dg
        row["met"] = row["ratio"] >= 0.5
    out.append(row)
    add("CPU per GB", "cpu_s_per_gb", False, 0.8)
    add("memory per idle connection (vs HAProxy)", "mem_per_conn", False, 0.5, HAPROXY)
    # not a target of its own: the user-space part alone, the part a proxy controls
    add("  user space (RSS) alone", "rss_bytes_per_conn", False, 0.5, HAPROXY)
    return out


def fmt(v, nd=1):
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def table(headers, rows):
    w = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "| " + " | ".join(str(c).rjust(w[i]) if i else str(c).ljust(w[i])
                                           for i, c in enumerate(cells)) + " |"
    out = [line(headers), "|" + "|".join("-" * (x + 2) for x in w) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit("usage: report.py RAW [--json OUT]")
    raw, out = args[0], None
    if "--json" in args:
        out = args[args.index("--json") + 1]
    meta, cases = parse(raw)
    d = derive(cases)
    names = [n for n in ORDER if n in d] + [n for n in d if n not in ORDER]
    live = [n for n in names if not d[n].get("skipped")]

    m, v, p = meta.get("machine", {}), meta.get("versions", {}), meta.get("params", {})
    print(f'machine: {m.get("nproc")} cores, {m.get("cpu")}, kernel {m.get("kernel")}, '
          f'{m.get("mem_gib")} GiB; load {p.get("load_start")} at start, '
          f'{meta.get("end", {}).get("load_end")} at end')
    print(f'versions: {v.get("tailwart")} ({v.get("commit")}), HAProxy {v.get("haproxy")}, '
          f'nginx {v.get("nginx")}')
    print()
    rows = []
    for n in live:
        r = d[n]
        rows.append([n, fmt(r.get("rate_cps"), 0), fmt(r.get("cpu_s_per_1k_conns"), 3),
                     fmt(r.get("proxy_core_util_rate"), 2), fmt(r.get("lat_p50_us"), 0),
                     fmt(r.get("lat_p99_us"), 0), fmt(r.get("added_p50_us"), 0),
                     fmt(r.get("added_p99_us"), 0), fmt(r.get("rate_p99_us"), 0),
                     fmt(r.get("rate_errors")), fmt(r.get("foreign"), 2)])
    print(table(["case", "conn/s", "CPU s/1k conn", "proxy core", "p50 us", "p99 us",
                 "added p50", "added p99", "p99 loaded", "errors", "foreign"], rows))
    print()
    rows = []
    for n in live:
        r = d[n]
        rng = (f'{fmt(r.get("bulk_gbps_min"), 2)}-{fmt(r.get("bulk_gbps_max"), 2)}'
               if "bulk_gbps_min" in r else "-")
        rows.append([n, fmt(r.get("bulk_gbps"), 2), rng, fmt(r.get("cpu_s_per_gb"), 3),
                     fmt(r.get("proxy_core_util_bulk"), 2), r.get("bulk_verified", "-"),
                     fmt(r.get("rss_bytes_per_conn"), 0), fmt(r.get("kernel_bytes_per_conn"), 0),
                     fmt(r.get("kernel_share_per_conn"), 0), fmt(r.get("mem_per_conn"), 0),
                     fmt(r.get("fds_left_after_close")),
                     f'{fmt(r.get("fds_start"))}->{fmt(r.get("fds_end"))}' if n != "direct" else "-"])
    print(table(["case", "bulk GB/s", "rounds range", "CPU s/GB", "proxy core", "verified", "RSS B/conn",
                 "kernel B/conn", "kernel share", "total B/conn", "fds left", "fds start->end"],
                rows))
    skipped = [n for n in names if d[n].get("skipped")]
    if skipped:
        print(f"\nskipped (not installed or did not start): {', '.join(skipped)}")
    # ~0.02-0.07 is accounting noise (interrupt and softirq time is charged
    # to no process); above 0.10 something else ran
    noisy = [n for n in live if (d[n].get("foreign") or 0) > 0.10]
    if noisy:
        print(f"\nWARNING: other work took more than 10% of a core during a test of "
              f"{', '.join(noisy)} (column foreign): those numbers are disturbed")
    bad = [n for n in live if d[n].get("crashed") or not d[n].get("stop_ok")]
    if bad:
        print(f"\nWARNING: crashed or did not stop on SIGTERM: {', '.join(bad)}")

    tg = {}
    for tw in ("tailwart", "tailwart-nosplice"):
        if tw in live:
            tg[tw] = targets(d, tw)
    if "tailwart" in tg:
        print("\ntargets (tailwart, splice, vs the best peer of this run):")
        rows = []
        for t in tg["tailwart"]:
            rows.append([t["target"], fmt(t["tailwart"], 3), f'{fmt(t["peer_value"], 3)} ({t["peer"]})',
                         ("≥ " if t["key"] in ("rate_cps", "bulk_gbps") else "≤ ") + f'{t["goal"]}x',
                         fmt(t["ratio"], 2) + "x" if t["ratio"] is not None else "-",
                         {True: "met", False: "NOT met", None: "-"}[t["met"]]])
        print(table(["target", "tailwart", "best peer", "goal", "ratio", ""], rows))
    if out:
        with open(out, "w") as f:
            json.dump({"meta": meta, "raw": cases, "derived": d, "targets": tg}, f, indent=1,
                      sort_keys=True)
            f.write("\n")
        print(f"\nresults: {out}")


if __name__ == "__main__":
    main()
