#!/usr/bin/env python3
"""dns_report.py - inputs and report for bench/dns_run (the `tailwart dns` benchmark).

  dns_report.py gen DIR          writes the benchmark's zones and scripts into DIR:
      zone-a.db        the 500-record zone as a zone file (what `dns apply` gets)
      zone-b.db        zone-a with 100 records touched (the change)
      knot-a.zone      zone-a plus SOA and apex NS, for the private Knot DNS
      nsupdate-ab.txt  knsupdate script doing the change in one UPDATE
      nsupdate-ba.txt  the reverse (to reset Knot between runs; not timed)
      state-empty.json the fake's state with example.com present and empty
      naive-a.txt      a per-record client's requests for the first upload
      naive-c.txt      a per-record client's requests for the change
      change.json      what the change touches, by kind
  dns_report.py count LOG.json   request counts by method (+ items) of a fake's /_fake/log
  dns_report.py exec RES CMD...  runs CMD (stdin, stdout, stderr inherited) and writes
                                 "ms=WALL cpu_ms=USER+SYS" to RES, CPU from wait4(2)'s rusage
                                 (what /usr/bin/time reports, at µs resolution; it includes the
                                 children CMD waited for); exits as CMD did. Not RSS: a forked
                                 Python's pre-exec RSS would count; bench/dns_run takes peak RSS
                                 from /usr/bin/time.
  dns_report.py report RAW JSON  raw key=value lines -> table on stdout + JSON file

The zone is generated, not random from run to run (fixed seed), so every run plans the same
calls. Standard library only.
"""

import base64
import json
import os
import time
import random
import statistics
import sys

ORIGIN = "example.com"


class RR:
    """One record: owner relative to the origin ("@" = apex), TTL, type and fields."""

    def __init__(self, name, ttl, rtype, **f):
        self.name, self.ttl, self.type, self.f = name, ttl, rtype, f

    def fqdn(self):
        return ORIGIN + "." if self.name == "@" else "%s.%s." % (self.name, ORIGIN)

    def rdata(self):
        f = self.f
        if self.type in ("A", "AAAA"):
            return f["address"]
        if self.type == "CNAME":
            return f["cname"] + "."
        if self.type == "MX":
            return "%d %s." % (f["preference"], f["exchange"])
        if self.type == "TXT":
            v = f["value"]
            # RFC 1035 3.3.14: character-strings of at most 255 bytes each.
            return " ".join('"%s"' % v[i:i + 255] for i in range(0, len(v), 255))
        if self.type == "SRV":
            return "%d %d %d %s." % (f["priority"], f["weight"], f["port"], f["target"])
        if self.type == "CAA":
            return '%d %s "%s"' % (f["flag"], f["tag"], f["value"])
        raise ValueError(self.type)

    def owner(self):
        """The owner label(s) as in a zone file (SRV: _service._proto[.name])."""
        if self.type == "SRV":
            base = "%s.%s" % (self.f["service"], self.f["protocol"])
            return base if self.name == "@" else base + "." + self.name
        return self.name

    def owner_fqdn(self):
        o = self.owner()
        return ORIGIN + "." if o == "@" else "%s.%s." % (o, ORIGIN)

    def zone_line(self):
        return "%-24s %5d IN %-5s %s" % (self.owner(), self.ttl, self.type, self.rdata())

    def api_item(self, with_ttl=True):
        """The record as a Spaceship API item (targets without the trailing dot)."""
        d = {"type": self.type, "name": self.name}
        d.update(self.f)
        if with_ttl:
            d["ttl"] = self.ttl
        return d

    def key(self):
        return (self.owner(), self.type, self.rdata())


def b64(rng, nbytes):
    return base64.b64encode(bytes(rng.getrandbits(8) for _ in range(nbytes))).decode()


def zone_a(rng):
    z = []
    add = lambda *a, **k: z.append(RR(*a, **k))
    # apex: 10
    add("@", 3600, "A", address="192.0.2.10")
    add("@", 3600, "AAAA", address="2001:db8::10")
    add("@", 3600, "MX", preference=10, exchange="mail.example.com")
    add("@", 3600, "MX", preference=20, exchange="mx2.example.com")
    add("@", 3600, "TXT", value="v=spf1 mx a:mx2.example.com ip4:192.0.2.0/24 -all")
    add("@", 3600, "TXT", value="google-site-verification=" + b64(rng, 32).rstrip("="))
    add("@", 3600, "TXT", value="MS=ms%08d" % rng.randrange(10**8))
    add("@", 3600, "CAA", flag=0, tag="issue", value="letsencrypt.org")
    add("@", 3600, "CAA", flag=0, tag="issuewild", value=";")
    add("@", 3600, "CAA", flag=0, tag="iodef", value="mailto:security@example.com")
    # mail policy: 3
    add("_dmarc", 3600, "TXT", value="v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com")
    add("_mta-sts", 3600, "TXT", value="v=STSv1; id=20261101")
    add("_smtp._tls", 3600, "TXT", value="v=TLSRPTv1; rua=mailto:tls@example.com")
    # mail hosts: 4
    add("mail", 3600, "A", address="192.0.2.25")
    add("mail", 3600, "AAAA", address="2001:db8::25")
    add("mx2", 3600, "A", address="192.0.2.26")
    add("mx2", 3600, "AAAA", address="2001:db8::26")
    # SRV: 13
    for svc, proto, port in [("_submission", "_tcp", 587), ("_submissions", "_tcp", 465),
                             ("_imaps", "_tcp", 993), ("_imap", "_tcp", 143),
                             ("_pop3s", "_tcp", 995), ("_autodiscover", "_tcp", 443),
                             ("_caldavs", "_tcp", 443), ("_carddavs", "_tcp", 443),
                             ("_sip", "_tcp", 5060), ("_sip", "_udp", 5060),
                             ("_sips", "_tcp", 5061), ("_xmpp-client", "_tcp", 5222),
                             ("_xmpp-server", "_tcp", 5269)]:
        add("@", 3600, "SRV", service=svc, protocol=proto, priority=0, weight=1, port=port,
            target="mail.example.com")
    # DKIM: 20 (15 RSA-2048, ~410 bytes, split in two strings; 5 ed25519)
    for i in range(1, 21):
        if i <= 15:
            v = "v=DKIM1; k=rsa; p=" + b64(rng, 294)
        else:
            v = "v=DKIM1; k=ed25519; p=" + b64(rng, 32)
        add("s%02d._domainkey" % i, 3600, "TXT", value=v)
    # CNAME: 60
    for i in range(1, 61):
        add("alias%03d" % i, 3600, "CNAME", cname="h%03d.example.com" % i)
    # hosts: 200 A, 150 AAAA
    for i in range(1, 201):
        add("h%03d" % i, 3600, "A", address="203.0.113.%d" % i)
    for i in range(1, 151):
        add("h%03d" % i, 3600, "AAAA", address="2001:db8:1::%x" % i)
    # verification TXT: 25
    for i in range(1, 26):
        add("_verify.h%03d" % i, 3600, "TXT", value="verify-" + b64(rng, 18))
    # sub-domain MX: 10, CAA: 5
    for i in range(1, 11):
        add("sub%02d" % i, 3600, "MX", preference=10, exchange="mail.example.com")
    for i in range(1, 6):
        add("sub%02d" % i, 3600, "CAA", flag=0, tag="issue", value="letsencrypt.org")
    assert len(z) == 500, len(z)
    assert len({r.key() for r in z}) == 500
    return z


def change(za, rng):
    """zone-b from zone-a, touching 100 records; also returns the per-record ops."""
    zb, ops = [], []  # ops: ("put", rr) / ("delete", rr), as a per-record client does them
    kinds = {"value": 0, "ttl": 0, "spf": 0, "txt": 0, "deleted": 0, "added": 0}
    for r in za:
        n = r
        if r.type == "A" and r.name.startswith("h") and int(r.name[1:]) <= 40:
            n = RR(r.name, r.ttl, "A", address="198.51.100.%d" % int(r.name[1:]))
            kinds["value"] += 1
        elif r.type == "AAAA" and r.name.startswith("h") and int(r.name[1:]) <= 15:
            n = RR(r.name, 300, "AAAA", **r.f)
            kinds["ttl"] += 1
        elif r.type == "TXT" and r.name == "@" and r.f["value"].startswith("v=spf1"):
            n = RR("@", r.ttl, "TXT", value="v=spf1 mx a:mx2.example.com ip4:192.0.2.0/24 "
                   "include:_spf.mailhost.example -all")
            kinds["spf"] += 1
        elif r.type == "TXT" and r.name in ("s01._domainkey", "s02._domainkey"):
            n = RR(r.name, r.ttl, "TXT", value="v=DKIM1; k=rsa; p=" + b64(rng, 294))
            kinds["txt"] += 1
        elif r.type == "TXT" and r.name in ("_verify.h001", "_verify.h002"):
            n = RR(r.name, r.ttl, "TXT", value="verify-" + b64(rng, 18))
            kinds["txt"] += 1
        elif r.type == "CNAME" and int(r.name[5:]) > 40:
            n = None
            kinds["deleted"] += 1
        if n is None:
            ops.append(("delete", r))
            continue
        zb.append(n)
        if n is r:
            continue
        if n.rdata() == r.rdata():  # TTL only: a PUT updates it in place
            ops.append(("put", n))
        elif n.type == "TXT" and n.name == "@":  # SPF: never two at once
            ops += [("delete", r), ("put", n)]
        else:  # the new value first, so the name is never without one
            ops += [("put", n), ("delete", r)]
    for i in range(1, 21):
        n = RR("n%03d" % i, 600, "A", address="192.0.2.%d" % (100 + i))
        zb.append(n)
        ops.append(("put", n))
        kinds["added"] += 1
    assert sum(kinds.values()) == 100, kinds
    return zb, ops, kinds


def write_zone(path, z, extra=""):
    with open(path, "w") as f:
        f.write("$ORIGIN %s.\n%s" % (ORIGIN, extra))
        for r in z:
            f.write(r.zone_line() + "\n")


def nsupdate(path, za, zb):
    """One UPDATE: delete what goes, add what comes (a TTL change: delete + add)."""
    ka = {r.key() + (r.ttl,): r for r in za}
    kb = {r.key() + (r.ttl,): r for r in zb}
    with open(path, "w") as f:
        f.write("zone %s.\norigin %s.\n" % (ORIGIN, ORIGIN))
        for k, r in ka.items():
            if k not in kb:
                f.write("update delete %s %s %s\n" % (r.owner_fqdn(), r.type, r.rdata()))
        for k, r in kb.items():
            if k not in ka:
                f.write("update add %s %d %s %s\n" % (r.owner_fqdn(), r.ttl, r.type, r.rdata()))
        f.write("send\nanswer\n")


def gen(d):
    rng = random.Random(20261127)
    za = zone_a(rng)
    zb, ops, kinds = change(za, rng)
    write_zone(d + "/zone-a.db", za)
    write_zone(d + "/zone-b.db", zb)
    soa = ("$TTL 3600\n@ 3600 IN SOA ns1.example.net. hostmaster.example.com. 1 3600 900 "
           "604800 300\n@ 3600 IN NS ns1.example.net.\n@ 3600 IN NS ns2.example.net.\n")
    write_zone(d + "/knot-a.zone", za, soa)
    nsupdate(d + "/nsupdate-ab.txt", za, zb)
    nsupdate(d + "/nsupdate-ba.txt", zb, za)
    with open(d + "/state-empty.json", "w") as f:
        json.dump({"domains": {ORIGIN: []}}, f)
    with open(d + "/naive-a.txt", "w") as f:
        for r in za:
            f.write("PUT " + json.dumps({"force": True, "items": [r.api_item()]}) + "\n")
    with open(d + "/naive-c.txt", "w") as f:
        for op, r in ops:
            if op == "put":
                f.write("PUT " + json.dumps({"force": True, "items": [r.api_item()]}) + "\n")
            else:
                f.write("DELETE " + json.dumps([r.api_item(with_ttl=False)]) + "\n")
    with open(d + "/change.json", "w") as f:
        json.dump({"records": len(za), "touched": kinds,
                   "naive_requests_a": len(za), "naive_requests_c": len(ops)}, f)


def count(path):
    with open(path) as f:
        log = json.load(f)["entries"]
    c = {"GET": 0, "PUT": 0, "DELETE": 0, "PUT_items": 0, "DELETE_items": 0, "errors": 0}
    for e in log:
        m = e["method"]
        c[m] = c.get(m, 0) + 1
        b = e.get("body")
        if m == "PUT" and isinstance(b, dict):
            c["PUT_items"] += len(b.get("items", []))
        elif m == "DELETE" and isinstance(b, list):
            c["DELETE_items"] += len(b)
        if e.get("status", 200) >= 400:
            c["errors"] += 1
    # the order of the writes, e.g. "DELETE(21) PUT(80) DELETE(44)"
    seq = [("%s(%d)" % (e["method"], len(e["body"]["items"] if e["method"] == "PUT"
                                         else e["body"])))
           for e in log if e["method"] in ("PUT", "DELETE")]
    if len(seq) > 6:  # a per-record client: say how many, not each
        seq = ["%dx%s(1)_interleaved" % (c[m], m) for m in ("PUT", "DELETE") if c[m]]
    print(" ".join("%s=%d" % kv for kv in c.items()) + " writes=" + (",".join(seq) or "-"))


def run(res, cmd):
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    t1 = time.perf_counter()
    with open(res, "w") as f:
        f.write("ms=%.1f cpu_ms=%.1f\n" % ((t1 - t0) * 1000, (ru.ru_utime + ru.ru_stime) * 1000))
    sys.exit(os.waitstatus_to_exitcode(status) & 0xff)


# ------------------------------------------------------------------------------ report

def parse(raw):
    """Lines 'case key=value ...' -> {case: {key: [values...]}} (repeated keys append)."""
    out, meta = {}, {}
    with open(raw) as f:
        for line in f:
            p = line.split()
            if not p:
                continue
            if p[0] == "meta":
                k, _, v = line[5:].strip().partition("=")
                meta[k] = v
                continue
            d = out.setdefault(p[0], {})
            for kv in p[1:]:
                k, _, v = kv.partition("=")
                d.setdefault(k, []).append(v)
    return out, meta


def med(vals):
    return statistics.median(float(v) for v in vals)


def report(raw, jpath):
    cases, meta = parse(raw)
    res = {"meta": meta, "cases": {}}
    for name, d in cases.items():
        c = {}
        if "ms" in d:
            c["ms_runs"] = [float(v) for v in d["ms"]]
            c["ms_median"] = med(d["ms"])
        if "cpu_ms" in d:
            c["cpu_ms_runs"] = [float(v) for v in d["cpu_ms"]]
            c["cpu_ms_median"] = med(d["cpu_ms"])
        if "server_cpu_ms" in d:
            c["server_cpu_ms_runs"] = [float(v) for v in d["server_cpu_ms"]]
            c["server_cpu_ms_median"] = med(d["server_cpu_ms"])
        if "rss_kb" in d:
            c["rss_kb_max"] = max(int(v) for v in d["rss_kb"])
        for k in ("GET", "PUT", "DELETE", "PUT_items", "DELETE_items", "errors", "AXFR",
                  "UPDATE", "min", "writes", "ok", "note"):
            if k in d:
                v = d[k][-1]
                c[k] = int(v) if v.isdigit() else v
        if "GET" in c:
            c["requests"] = c["GET"] + c.get("PUT", 0) + c.get("DELETE", 0)
        elif "AXFR" in c:
            c["requests"] = c["AXFR"] + c.get("UPDATE", 0)
        res["cases"][name] = c
    C = res["cases"]

    def ratio(a, b, k):
        if a in C and b in C and k in C[a] and k in C[b] and C[b][k]:
            return C[a][k] / C[b][k]
        return None

    res["ratios"] = {
        "a_requests_tailwart_over_naive": ratio("ss_a", "naive_a", "requests"),
        "a_time_tailwart_over_naive": ratio("ss_a", "naive_a", "ms_median"),
        "a_server_cpu_tailwart_over_naive": ratio("ss_a", "naive_a", "server_cpu_ms_median"),
        "a_client_cpu_tailwart_over_naive": ratio("ss_a", "naive_a", "cpu_ms_median"),
        "c_requests_tailwart_over_naive": ratio("ss_c", "naive_c", "requests"),
        "c_time_tailwart_over_naive": ratio("ss_c", "naive_c", "ms_median"),
        "c_server_cpu_tailwart_over_naive": ratio("ss_c", "naive_c", "server_cpu_ms_median"),
        "c_client_cpu_tailwart_over_naive": ratio("ss_c", "naive_c", "cpu_ms_median"),
        "knot_time_tailwart_over_knsupdate": ratio("knot_tw", "knot_nsu", "ms_median"),
        "knot_time_tailwart_over_knsupdate_tcp": ratio("knot_tw", "knot_nsu_tcp", "ms_median"),
        "knot_cpu_tailwart_over_knsupdate": ratio("knot_tw", "knot_nsu", "cpu_ms_median"),
        "knot_messages_tailwart_over_knsupdate": ratio("knot_tw", "knot_nsu", "requests"),
    }
    with open(jpath, "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)

    def fmt(v, spec="{:,.0f}"):
        return "-" if v is None else spec.format(v)

    print("load average: %s at start, %s at end; %s s" % (meta.get("load_start", "?"),
                                                          meta.get("load_end", "?"),
                                                          meta.get("seconds", "?")))
    what = {"ss_a": "(a) apply 500 onto empty", "ss_pull": "(b) pull",
            "ss_b": "(b) plan, unchanged", "ss_c": "(c) apply 100-record change",
            "naive_a": "per-record: 500 onto empty", "naive_c": "per-record: the change",
            "knot_tw": "tailwart apply (c)", "knot_nsu": "knsupdate, one UPDATE, UDP",
            "knot_nsu_tcp": "knsupdate -v, one UPDATE, TCP"}

    def table(head, names, cols):
        rows = [("case", "what", "median ms", "runs ms", "CPU ms", "server CPU ms") +
                tuple(h for h, _ in cols) + ("requests", "expected", "peak RSS KiB", "ok")]
        for name in names:
            c = C.get(name)
            if not c:
                continue
            rows.append((name, what[name], fmt(c.get("ms_median"), "{:,.1f}"),
                         " ".join("%.0f" % v for v in c.get("ms_runs", [])),
                         fmt(c.get("cpu_ms_median"), "{:,.1f}"),
                         # /proc ticks are 10 ms: 0 means under one tick
                         "<10" if c.get("server_cpu_ms_median") == 0
                         else fmt(c.get("server_cpu_ms_median"))) +
                        tuple(f(c) for _, f in cols) +
                        (fmt(c.get("requests")), fmt(c.get("min")), fmt(c.get("rss_kb_max")),
                         str(c.get("ok", "-"))))
        if len(rows) == 1:
            return
        print(head)
        w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for i, r in enumerate(rows):
            print("| " + " | ".join(x.ljust(w[j]) if j < 2 else x.rjust(w[j])
                                    for j, x in enumerate(r)) + " |")
            if i == 0:
                print("|" + "|".join("-" * (x + 2) for x in w) + "|")
        print()

    table("Spaceship API fake (requests from its log):",
          ("ss_a", "ss_pull", "ss_b", "ss_c", "naive_a", "naive_c"),
          [("GET", lambda c: fmt(c.get("GET"))),
           ("PUT(items)", lambda c: "%s(%s)" % (c.get("PUT", "-"), c.get("PUT_items", "-"))),
           ("DELETE(items)",
            lambda c: "%s(%s)" % (c.get("DELETE", "-"), c.get("DELETE_items", "-")))])
    table("RFC 2136, private Knot DNS (messages from its log):", ("knot_tw", "knot_nsu", "knot_nsu_tcp"),
          [("AXFR", lambda c: fmt(c.get("AXFR"))), ("UPDATE", lambda c: fmt(c.get("UPDATE")))])
    if "knot" in meta and meta["knot"].startswith("skipped"):
        print("RFC 2136: %s\n" % meta["knot"])
    if "tw_start" in C:
        c = C["tw_start"]
        print("tailwart --version (start-up alone): median %.1f ms, CPU %.1f ms, peak RSS %s KiB"
              % (c["ms_median"], c["cpu_ms_median"], fmt(c.get("rss_kb_max"))))
    for k in ("ss_a", "ss_c"):
        if k in C and "writes" in C[k]:
            print("%s writes in order: %s" % (k, C[k]["writes"]))
    print()
    for k, v in res["ratios"].items():
        print("%-38s %s" % (k, fmt(v, "{:.3f}")))
    print("JSON: %s" % jpath)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "gen":
        gen(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "count":
        count(sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == "exec":
        run(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) == 4 and sys.argv[1] == "report":
        report(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
