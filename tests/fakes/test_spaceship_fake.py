#!/usr/bin/env python3
"""test_spaceship_fake.py - tests of the fake Spaceship DNS records API (spaceship_fake.py).

Starts the fake as a subprocess on a free loopback port and talks HTTP to it with urllib, to show
that each documented behaviour (docs: /work/shared/docs/spaceship-api.md, tags SPEC, NC-SDK,
NC-TF, ACMESH, DDNS, seed lesson 14) holds, traps included. Run:

  python3 -m unittest -v test_spaceship_fake        (cwd tests/fakes)
  python3 tests/fakes/test_spaceship_fake.py -v

Python 3.11 standard library only.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "spaceship_fake.py")
KEY = "test-key-0123456789"
SECRET = "test-secret-abcdefghijklmnop"
ZONE = "example.com"
TLSA_HEX = "ab" * 32


def start_fake(tmp, *extra):
    """Starts the fake on port 0; returns (process, base URL)."""
    pf = os.path.join(tmp, "port")
    err = open(os.path.join(tmp, "fake.stderr"), "w")
    p = subprocess.Popen([sys.executable, FAKE, "--port", "0", "--key", KEY, "--secret", SECRET,
                          "--port-file", pf, *extra], stdout=err, stderr=err)
    err.close()
    end = time.time() + 10
    while time.time() < end:
        if os.path.exists(pf):
            with open(pf) as fh:
                return p, f"http://127.0.0.1:{int(fh.read())}"
        if p.poll() is not None:
            break
        time.sleep(0.05)
    p.kill()
    p.wait()
    with open(os.path.join(tmp, "fake.stderr")) as fh:
        raise RuntimeError("fake did not start: " + fh.read())


def stop_fake(p):
    p.terminate()
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


class Resp:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        self.json = json.loads(raw) if raw else None


def http(base, method, path, body=None, raw=None, headers=None, auth=True):
    h = {"X-API-Key": KEY, "X-API-Secret": SECRET} if auth else {}
    h.update(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(base + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return Resp(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return Resp(e.code, e.headers, e.read())


def rec(rtype, name, ttl=3600, group="custom", **data):
    return {"type": rtype, "name": name, "ttl": ttl, "group": {"type": group}, **data}


BASE_STATE = {
    "domains": {
        ZONE: [
            rec("A", "@", address="192.0.2.1"),
            rec("MX", "@", exchange="mx.example.com", preference=10),
            rec("TXT", "@", value="v=spf1 mx -all"),
            rec("TXT", "_dmarc", value="v=DMARC1; p=none"),
            rec("CNAME", "www", cname="example.com"),
            rec("A", "shop", group="product", address="198.51.100.7"),
            rec("NS", "ns", group="personalNs", nameserver="ns1.example.com"),
        ],
        "other.org": [],
    }
}


class FakeCase(unittest.TestCase):
    """One fake for the class; every test starts from BASE_STATE with no faults."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="spaceship-fake-")
        cls.proc, cls.base = start_fake(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        stop_fake(cls.proc)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.ctl("POST", "/_fake/state", BASE_STATE)
        self.ctl("POST", "/_fake/faults", {"faults": []})
        self.ctl("DELETE", "/_fake/log")

    # helpers

    def ctl(self, method, path, body=None):
        r = http(self.base, method, path, body, auth=False)
        self.assertEqual(r.status, 200, r.raw)
        return r.json

    def api(self, method, domain=ZONE, body=None, query="", **kw):
        return http(self.base, method, f"/v1/dns/records/{domain}{query}", body, **kw)

    def records(self, domain=ZONE):
        return self.ctl("GET", "/_fake/state")["domains"][domain]

    def find(self, rtype, name, domain=ZONE):
        return [r for r in self.records(domain)
                if r["type"] == rtype and r["name"].lower() == name.lower()]

    def assertError(self, r, status, code=None, detail=None):
        """SPEC §5: problem+json and both spaceship-* headers on every error."""
        self.assertEqual(r.status, status, r.raw)
        self.assertEqual(r.headers.get("Content-Type"), "application/problem+json")
        ec = r.headers.get("spaceship-error-code")
        self.assertRegex(ec or "", r"^(business|application|infrastructure)(\.[a-zA-Z]+)+$")
        self.assertRegex(r.headers.get("spaceship-operation-id") or "", r"^[a-z0-9]{16}$")
        self.assertIsInstance(r.json.get("detail"), str)
        if code:
            self.assertEqual(ec, code)
        if detail is not None:
            self.assertEqual(r.json["detail"], detail)

    def spf_moments(self):
        """For every mutating request in the log: how many v=spf1 TXT at the apex after it."""
        out = []
        for e in self.ctl("GET", "/_fake/log")["entries"]:
            if e["method"] in ("PUT", "DELETE") and e.get("records_after") is not None:
                out.append(sum(1 for r in e["records_after"] if r["type"] == "TXT"
                               and r["name"] == "@" and r["value"].startswith("v=spf1")))
        return out


class TestAuth(FakeCase):
    def test_good_key_lists(self):
        r = self.api("GET", query="?take=10&skip=0")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["total"], 7)

    def test_wrong_key_401_unauthorized(self):
        r = self.api("GET", query="?take=10&skip=0", auth=False,
                     headers={"X-API-Key": KEY, "X-API-Secret": "wrong"})
        self.assertError(r, 401, "application.unauthorized",
                         "The user's request was not properly authorized.")

    def test_missing_secret_401(self):
        r = self.api("GET", query="?take=10&skip=0", auth=False, headers={"X-API-Key": KEY})
        self.assertError(r, 401, "application.unauthorized")

    def test_header_names_case_insensitive(self):
        r = self.api("GET", query="?take=10&skip=0", auth=False,
                     headers={"x-api-key": KEY, "X-Api-Secret": SECRET})
        self.assertEqual(r.status, 200)

    def test_unauthorized_write_changes_nothing(self):
        before = self.records()
        r = self.api("PUT", body={"items": [{"type": "A", "name": "x", "address": "192.0.2.9"}]},
                     auth=False, headers={"X-API-Key": "nope", "X-API-Secret": "nope"})
        self.assertError(r, 401, "application.unauthorized")
        self.assertEqual(self.records(), before)

    def test_read_only_scope_403_on_write(self):
        st = dict(BASE_STATE, scopes=["dnsrecords:read"])
        self.ctl("POST", "/_fake/state", st)
        self.assertEqual(self.api("GET", query="?take=5&skip=0").status, 200)
        r = self.api("PUT", body={"items": [{"type": "A", "name": "x", "address": "192.0.2.9"}]})
        self.assertError(r, 403)
        r = self.api("DELETE", body=[{"type": "A", "name": "@", "address": "192.0.2.1"}])
        self.assertError(r, 403)
        self.assertEqual(len(self.records()), 7)

    def test_api_access_off_401(self):
        self.ctl("POST", "/_fake/state", dict(BASE_STATE, api_access=False))
        self.assertError(self.api("GET", query="?take=5&skip=0"), 401, "application.unauthorized")

    def test_key_never_in_log(self):
        self.api("GET", query="?take=5&skip=0")
        self.api("GET", query="?take=5&skip=0", auth=False,
                 headers={"X-API-Key": KEY, "X-API-Secret": "bad-" + SECRET})
        dump = json.dumps(self.ctl("GET", "/_fake/log"))
        self.assertNotIn(KEY, dump)
        self.assertNotIn(SECRET, dump)
        self.assertIn('"auth": "wrong"', dump)


class TestList(FakeCase):
    def test_take_skip_missing_400(self):
        for q in ("", "?take=10", "?skip=0", "?take=&skip=0", "?take=x&skip=0"):
            with self.subTest(q=q):
                self.assertError(self.api("GET", query=q), 400)

    def test_take_bounds(self):
        self.assertError(self.api("GET", query="?take=501&skip=0"), 400)
        self.assertError(self.api("GET", query="?take=0&skip=0"), 400)
        self.assertError(self.api("GET", query="?take=5&skip=-1"), 400)
        self.assertEqual(self.api("GET", query="?take=500&skip=0").status, 200)
        self.assertEqual(self.api("GET", query="?take=1&skip=0").status, 200)

    def test_paging_through_total(self):
        seen = []
        skip = 0
        while True:
            r = self.api("GET", query=f"?take=3&skip={skip}")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.json["total"], 7)
            self.assertLessEqual(len(r.json["items"]), 3)
            if not r.json["items"]:
                break
            seen += r.json["items"]
            skip += len(r.json["items"])
            if len(seen) >= r.json["total"]:
                break
        self.assertEqual(len(seen), 7)
        self.assertEqual(seen, self.records())
        r = self.api("GET", query="?take=3&skip=7")
        self.assertEqual((r.json["items"], r.json["total"]), ([], 7))

    def test_order_by(self):
        r = self.api("GET", query="?take=100&skip=0&orderBy=-type")
        types = [i["type"] for i in r.json["items"]]
        self.assertEqual(types, sorted(types, reverse=True))
        r = self.api("GET", query="?take=100&skip=0&orderBy=name")
        names = [i["name"] for i in r.json["items"]]
        self.assertEqual(names, sorted(names))
        self.assertError(self.api("GET", query="?take=5&skip=0&orderBy=ttl"), 400)
        self.assertError(self.api("GET", query="?take=5&skip=0&orderBy=name&orderBy=type"), 400)

    def test_provider_records_listed_with_group(self):
        items = self.api("GET", query="?take=100&skip=0").json["items"]
        groups = {(i["type"], i["name"]): i["group"]["type"] for i in items}
        self.assertEqual(groups[("A", "shop")], "product")
        self.assertEqual(groups[("NS", "ns")], "personalNs")
        self.assertEqual(groups[("MX", "@")], "custom")
        for i in items:
            self.assertIn("ttl", i)

    def test_unknown_domain_404_soa(self):
        r = self.api("GET", domain="nothere.net", query="?take=5&skip=0")
        self.assertError(r, 404, detail="SOA record for domain nothere.net not found.")

    def test_domain_is_case_insensitive(self):
        self.assertEqual(self.api("GET", domain="EXAMPLE.com", query="?take=5&skip=0").status, 200)

    def test_tlsa_port_echoed_as_number_quirk(self):
        st = {"domains": {ZONE: [rec("TLSA", "mx", port="_25", protocol="_tcp", usage=3, selector=1,
                                     matching=1, associationData=TLSA_HEX)]},
              "quirks": {"tlsa_port_as_number": True}}
        self.ctl("POST", "/_fake/state", st)
        item = self.api("GET", query="?take=5&skip=0").json["items"][0]
        self.assertEqual(item["port"], 25)
        # ... and "_25" still matches it for DELETE (NC-SDK normalizeRecordPort).
        r = self.api("DELETE", body=[{"type": "TLSA", "name": "mx", "port": "_25", "protocol": "_tcp",
                                      "usage": 3, "selector": 1, "matching": 1,
                                      "associationData": TLSA_HEX.upper()}])
        self.assertEqual(r.status, 204, r.raw)


class TestPut(FakeCase):
    def put(self, items, force=True):
        return self.api("PUT", body={"force": force, "items": items})

    def test_naive_spf_update_leaves_two_spf_records(self):
        # seed lesson 14 / doc §2.2 consequence 2: PUT with a new value appends.
        r = self.put([{"type": "TXT", "name": "@", "value": "v=spf1 mx a -all", "ttl": 3600}])
        self.assertEqual(r.status, 204)
        self.assertEqual(r.raw, b"")
        spf = [x["value"] for x in self.find("TXT", "@")]
        self.assertEqual(sorted(spf), ["v=spf1 mx -all", "v=spf1 mx a -all"])
        self.assertEqual(self.spf_moments(), [2])

    def test_log_shows_put_then_delete_has_a_two_spf_moment(self):
        self.put([{"type": "TXT", "name": "@", "value": "v=spf1 mx a -all"}])
        self.api("DELETE", body=[{"type": "TXT", "name": "@", "value": "v=spf1 mx -all"}])
        self.assertEqual(self.spf_moments(), [2, 1])

    def test_delete_then_put_never_two_spf(self):
        r = self.api("DELETE", body=[{"type": "TXT", "name": "@", "value": "v=spf1 mx -all"}])
        self.assertEqual(r.status, 204)
        self.assertEqual(self.put([{"type": "TXT", "name": "@", "value": "v=spf1 mx a -all"}]).status, 204)
        self.assertEqual(self.spf_moments(), [0, 1])
        self.assertEqual([x["value"] for x in self.find("TXT", "@")], ["v=spf1 mx a -all"])

    def test_same_data_new_ttl_updates_in_place(self):
        # NC-SDK TestAccDNSRecord_UpsertUpdatesTTLInPlace
        r = self.put([{"type": "mx", "name": "@", "exchange": "MX.Example.COM", "preference": 10,
                       "ttl": 600}])
        self.assertEqual(r.status, 204)
        mx = self.find("MX", "@")
        self.assertEqual(len(mx), 1)
        self.assertEqual(mx[0]["ttl"], 600)
        self.assertEqual(mx[0]["exchange"], "mx.example.com")
        self.assertEqual(len(self.records()), 7)

    def test_repeat_is_idempotent(self):
        item = {"type": "TXT", "name": "_acme-challenge", "value": "tok1", "ttl": 60}
        self.assertEqual(self.put([item]).status, 204)
        self.assertEqual(self.put([item]).status, 204)
        self.assertEqual(len(self.find("TXT", "_acme-challenge")), 1)

    def test_txt_case_differs_coexist(self):
        # NC-SDK TestAccDNSRecord_TXTCaseSensitiveCoexist
        r = self.put([{"type": "TXT", "name": "case", "value": "Hello"},
                      {"type": "TXT", "name": "CASE", "value": "hello"}])
        self.assertEqual(r.status, 204)
        self.assertEqual(sorted(x["value"] for x in self.find("TXT", "case")), ["Hello", "hello"])

    def test_non_txt_data_case_insensitive(self):
        self.assertEqual(self.put([{"type": "CNAME", "name": "WWW", "cname": "EXAMPLE.COM",
                                    "ttl": 120}]).status, 204)
        cn = self.find("CNAME", "www")
        self.assertEqual(len(cn), 1)
        self.assertEqual(cn[0]["ttl"], 120)

    def test_unnamed_records_untouched_and_new_is_custom(self):
        before = self.records()
        self.assertEqual(self.put([{"type": "AAAA", "name": "@", "address": "2001:db8::1"}]).status, 204)
        after = self.records()
        self.assertEqual(after[:7], before)
        self.assertEqual(after[7]["group"], {"type": "custom"})
        self.assertEqual(after[7]["type"], "AAAA")

    def test_wildcard_and_apex_challenges_coexist(self):
        r = self.put([{"type": "TXT", "name": "_acme-challenge", "value": "a", "ttl": 60}])
        r2 = self.put([{"type": "TXT", "name": "_acme-challenge", "value": "b", "ttl": 60}])
        self.assertEqual((r.status, r2.status), (204, 204))
        self.assertEqual(len(self.find("TXT", "_acme-challenge")), 2)

    def test_duplicates_in_one_body_deduplicated(self):
        it = {"type": "TXT", "name": "dup", "value": "x", "ttl": 300}
        self.assertEqual(self.put([it, dict(it, ttl=900)]).status, 204)
        d = self.find("TXT", "dup")
        self.assertEqual(len(d), 1)
        self.assertEqual(d[0]["ttl"], 900)

    def test_apex_alias_stored_as_cname(self):
        self.ctl("POST", "/_fake/state", {"domains": {ZONE: []}})
        self.assertEqual(self.put([{"type": "ALIAS", "name": "@", "aliasName": "lb.example.net"},
                                   {"type": "ALIAS", "name": "app", "aliasName": "lb.example.net"}]).status, 204)
        recs = self.records()
        self.assertEqual([(r["type"], r["name"]) for r in recs], [("CNAME", "@"), ("ALIAS", "app")])
        self.assertEqual(recs[0]["cname"], "lb.example.net")
        self.assertNotIn("aliasName", recs[0])

    def test_cname_conflict_422_even_with_force(self):
        r = self.put([{"type": "CNAME", "name": "www", "cname": "other.example.net"}], force=True)
        self.assertError(r, 422)
        self.assertEqual(len(self.find("CNAME", "www")), 1)

    def test_all_types_accepted(self):
        self.ctl("POST", "/_fake/state", {"domains": {ZONE: []}})
        items = [
            {"type": "A", "name": "a", "address": "192.0.2.5"},
            {"type": "AAAA", "name": "a", "address": "2001:db8::5"},
            {"type": "CNAME", "name": "c", "cname": "a.example.com"},
            {"type": "ALIAS", "name": "al", "aliasName": "a.example.com"},
            {"type": "MX", "name": "@", "exchange": "mx.example.com", "preference": 0},
            {"type": "TXT", "name": "t", "value": "x" * 2000},
            {"type": "CAA", "name": "@", "flag": 0, "tag": "issue", "value": "letsencrypt.org"},
            {"type": "NS", "name": "sub", "nameserver": "ns1.example.net"},
            {"type": "PTR", "name": "1", "pointer": "host.example.com"},
            {"type": "SRV", "name": "@", "service": "_submission", "protocol": "_tcp", "priority": 0,
             "weight": 1, "port": 587, "target": "mail.example.com"},
            {"type": "TLSA", "name": "mx", "port": "_25", "protocol": "_tcp", "usage": 3,
             "selector": 1, "matching": 1, "associationData": TLSA_HEX},
            {"type": "HTTPS", "name": "@", "svcPriority": 1, "targetName": ".", "svcParams": "alpn=h2"},
            {"type": "SVCB", "name": "s", "svcPriority": 1, "targetName": "a.example.com",
             "svcParams": "", "port": "_443", "scheme": "_https"},
        ]
        r = self.put(items)
        self.assertEqual(r.status, 204, r.raw)
        recs = self.records()
        self.assertEqual(len(recs), len(items))
        for r in recs:
            self.assertEqual(r["group"], {"type": "custom"})
            self.assertEqual(r["ttl"], 3600)

    def test_validation_422(self):
        bad = {
            "ttl too low": {"type": "A", "name": "x", "address": "192.0.2.1", "ttl": 59},
            "ttl too high": {"type": "A", "name": "x", "address": "192.0.2.1", "ttl": 86400},
            "missing address": {"type": "A", "name": "x"},
            "bad v4": {"type": "A", "name": "x", "address": "2001:db8::1"},
            "missing name": {"type": "A", "address": "192.0.2.1"},
            "trailing dot name": {"type": "A", "name": "x.", "address": "192.0.2.1"},
            "bad name": {"type": "A", "name": "bad name", "address": "192.0.2.1"},
            "leading hyphen": {"type": "A", "name": "-x", "address": "192.0.2.1"},
            "unknown type": {"type": "SPF", "name": "@", "value": "v=spf1"},
            "cname @": {"type": "CNAME", "name": "c", "cname": "@"},
            "cname trailing dot": {"type": "CNAME", "name": "c", "cname": "a.example.com."},
            "mx *": {"type": "MX", "name": "@", "exchange": "*", "preference": 1},
            "mx no preference": {"type": "MX", "name": "@", "exchange": "mx.example.com"},
            "mx preference big": {"type": "MX", "name": "@", "exchange": "m.example.com", "preference": 65536},
            "alias @": {"type": "ALIAS", "name": "x", "aliasName": "@"},
            "srv target *": {"type": "SRV", "name": "@", "service": "_sip", "protocol": "_tcp",
                             "priority": 0, "weight": 0, "port": 5060, "target": "*"},
            "srv port 0": {"type": "SRV", "name": "@", "service": "_sip", "protocol": "_tcp",
                           "priority": 0, "weight": 0, "port": 0, "target": "s.example.com"},
            "caa flat": {"type": "CAA", "name": "@", "flat": 0, "tag": "issue", "value": "x"},
            "caa flag 1": {"type": "CAA", "name": "@", "flag": 1, "tag": "issue", "value": "x"},
            "caa tag": {"type": "CAA", "name": "@", "flag": 0, "tag": "issuemail", "value": "x"},
            "txt blank": {"type": "TXT", "name": "t", "value": "   "},
            "txt too long": {"type": "TXT", "name": "t", "value": "é" * 40000},
            "tlsa short hex": {"type": "TLSA", "name": "mx", "port": "_25", "protocol": "_tcp",
                               "usage": 3, "selector": 1, "matching": 1, "associationData": "abcd"},
            "svcb port no scheme": {"type": "SVCB", "name": "s", "svcPriority": 1,
                                    "targetName": "a.example.com", "svcParams": "", "port": "_443"},
            "not an object": "A x 192.0.2.1",
        }
        for what, item in bad.items():
            with self.subTest(what=what):
                r = self.put([item])
                self.assertError(r, 422)
                self.assertIsInstance(r.json.get("data"), list)
                self.assertTrue(r.json["data"])
                for d in r.json["data"]:
                    self.assertEqual(set(d), {"field", "details"})
                    self.assertTrue(d["field"].startswith("items[0]"), d)
        self.assertEqual(len(self.records()), 7)

    def test_body_shape_422(self):
        cases = {
            "items not array": {"force": True, "items": {"type": "A"}},
            "items missing": {"force": True},
            "items empty": {"items": []},
            "items 501": {"items": [{"type": "TXT", "name": "n", "value": str(i)} for i in range(501)]},
            "force not bool": {"force": "yes", "items": [{"type": "A", "name": "x", "address": "192.0.2.1"}]},
            "array body": [{"type": "A", "name": "x", "address": "192.0.2.1"}],
        }
        for what, body in cases.items():
            with self.subTest(what=what):
                self.assertError(self.api("PUT", body=body), 422)
        r = self.api("PUT", body={"items": {"a": 1}})
        self.assertEqual(r.json["detail"], 'Value is "object" but should be "array"')
        self.assertEqual(r.json["data"][0]["field"], "items")

    def test_500_items_accepted(self):
        items = [{"type": "TXT", "name": "n", "value": f"v{i}"} for i in range(500)]
        self.assertEqual(self.api("PUT", body={"items": items}).status, 204)
        self.assertEqual(len(self.find("TXT", "n")), 500)

    def test_one_bad_item_applies_nothing(self):
        r = self.put([{"type": "A", "name": "ok", "address": "192.0.2.1"},
                      {"type": "A", "name": "bad", "address": "192.0.2.1", "ttl": 30}])
        self.assertError(r, 422)
        self.assertEqual(r.json["data"][0]["field"], "items[1].ttl")
        self.assertEqual(self.find("A", "ok"), [])

    def test_put_product_record_refused(self):
        r = self.put([{"type": "A", "name": "shop", "address": "198.51.100.7", "ttl": 60}])
        self.assertError(r, 422)
        self.assertEqual(self.find("A", "shop")[0]["ttl"], 3600)

    def test_put_unknown_domain_404(self):
        r = self.api("PUT", domain="nothere.net", body={"items": [{"type": "A", "name": "x",
                                                                   "address": "192.0.2.1"}]})
        self.assertError(r, 404, detail="SOA record for domain nothere.net not found.")

    def test_bad_json_400(self):
        r = self.api("PUT", raw=b"{not json", headers={"Content-Type": "application/json"})
        self.assertError(r, 400)


class TestDelete(FakeCase):
    def test_object_body_422_exact_text(self):
        # seed lesson 14
        r = self.api("DELETE", body={"items": [{"type": "TXT", "name": "@", "value": "v=spf1 mx -all"}]})
        self.assertError(r, 422, detail='Value is "object" but should be "array"')
        self.assertEqual(len(self.find("TXT", "@")), 1)

    def test_delete_exact_value(self):
        r = self.api("DELETE", body=[{"type": "txt", "name": "@", "value": "v=spf1 mx -all"}])
        self.assertEqual(r.status, 204)
        self.assertEqual(r.raw, b"")
        self.assertEqual(self.find("TXT", "@"), [])
        self.assertEqual(len(self.records()), 6)

    def test_delete_absent_404(self):
        # NC-SDK TestAccDNSRecord_DeleteAbsentIsNoop: the API answers 404.
        r = self.api("DELETE", body=[{"type": "TXT", "name": "@", "value": "v=spf1 nothing"}])
        self.assertError(r, 404)
        self.assertEqual(len(self.records()), 7)

    def test_delete_txt_is_case_sensitive(self):
        r = self.api("DELETE", body=[{"type": "TXT", "name": "@", "value": "V=SPF1 MX -ALL"}])
        self.assertError(r, 404)

    def test_delete_other_data_case_insensitive_no_ttl(self):
        r = self.api("DELETE", body=[{"type": "MX", "name": "@", "exchange": "MX.EXAMPLE.COM",
                                      "preference": 10}])
        self.assertEqual(r.status, 204, r.raw)
        self.assertEqual(self.find("MX", "@"), [])

    def test_batch_with_one_absent_deletes_nothing(self):
        r = self.api("DELETE", body=[{"type": "TXT", "name": "_dmarc", "value": "v=DMARC1; p=none"},
                                     {"type": "A", "name": "@", "address": "192.0.2.99"}])
        self.assertError(r, 404)
        self.assertEqual(len(self.find("TXT", "_dmarc")), 1)

    def test_delete_needs_data_fields(self):
        r = self.api("DELETE", body=[{"type": "MX", "name": "@", "exchange": "mx.example.com"}])
        self.assertError(r, 422)
        self.assertEqual(r.json["data"][0]["field"], "[0].preference")
        self.assertError(self.api("DELETE", body=[{"type": "TXT", "name": "@"}]), 422)

    def test_delete_validated_like_put(self):
        r = self.api("DELETE", body=[{"type": "SVCB", "name": "s", "svcPriority": 1, "targetName": "a.b",
                                      "svcParams": "", "port": "_443"}])
        self.assertError(r, 422)

    def test_delete_empty_or_501(self):
        self.assertError(self.api("DELETE", body=[]), 422)
        many = [{"type": "TXT", "name": "n", "value": str(i)} for i in range(501)]
        self.assertError(self.api("DELETE", body=many), 422)

    def test_provider_records_cannot_be_deleted(self):
        r = self.api("DELETE", body=[{"type": "A", "name": "shop", "address": "198.51.100.7"}])
        self.assertError(r, 422)
        r = self.api("DELETE", body=[{"type": "NS", "name": "ns", "nameserver": "ns1.example.com"}])
        self.assertError(r, 422)
        self.assertEqual(len(self.records()), 7)


class TestFaults(FakeCase):
    ITEM = {"type": "TXT", "name": "_acme-challenge", "value": "tok", "ttl": 60}

    def test_500_not_applied(self):
        self.ctl("POST", "/_fake/faults", {"faults": [{"method": "PUT", "nth": 1, "status": 500,
                                                       "applied": False}]})
        r = self.api("PUT", body={"force": True, "items": [self.ITEM]})
        self.assertError(r, 500)
        self.assertEqual(self.find("TXT", "_acme-challenge"), [])
        # Only the Nth: the retry goes through.
        self.assertEqual(self.api("PUT", body={"force": True, "items": [self.ITEM]}).status, 204)
        self.assertEqual(len(self.find("TXT", "_acme-challenge")), 1)

    def test_500_applied(self):
        self.ctl("POST", "/_fake/faults", [{"method": "PUT", "nth": 1, "status": 500, "applied": True}])
        r = self.api("PUT", body={"force": True, "items": [self.ITEM]})
        self.assertError(r, 500)
        self.assertEqual(len(self.find("TXT", "_acme-challenge")), 1)
        log = self.ctl("GET", "/_fake/log")["entries"]
        self.assertEqual(log[-1]["applied"], True)
        self.assertEqual(log[-1]["status"], 500)

    def test_nth_counts_per_method(self):
        self.ctl("POST", "/_fake/faults", [{"method": "DELETE", "nth": 2, "status": 500}])
        self.assertEqual(self.api("GET", query="?take=5&skip=0").status, 200)
        d = [{"type": "TXT", "name": "_dmarc", "value": "v=DMARC1; p=none"}]
        self.assertEqual(self.api("DELETE", body=d).status, 204)
        self.assertEqual(self.api("PUT", body={"items": d}).status, 204)
        self.assertError(self.api("DELETE", body=d), 500)
        self.assertEqual(len(self.find("TXT", "_dmarc")), 1)
        self.assertEqual(self.api("DELETE", body=d).status, 204)

    def test_429_retry_after(self):
        self.ctl("POST", "/_fake/faults", [{"method": "GET", "nth": 1, "status": 429}])
        r = self.api("GET", query="?take=5&skip=0")
        self.assertError(r, 429)
        self.assertEqual(r.headers.get("Retry-After"), "1")
        for h in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
            self.assertRegex(r.headers.get(h) or "", r"^[0-9]+$", h)
        self.assertEqual(self.api("GET", query="?take=5&skip=0").status, 200)

    def test_429_write_not_applied(self):
        self.ctl("POST", "/_fake/faults", [{"method": "PUT", "nth": 1, "status": 429}])
        self.assertError(self.api("PUT", body={"items": [self.ITEM]}), 429)
        self.assertEqual(self.find("TXT", "_acme-challenge"), [])

    def test_delay(self):
        self.ctl("POST", "/_fake/faults", [{"method": "GET", "nth": 1, "delay_ms": 700}])
        t0 = time.monotonic()
        r = self.api("GET", query="?take=5&skip=0")
        t1 = time.monotonic()
        self.assertEqual(r.status, 200)
        self.assertGreaterEqual(t1 - t0, 0.65)
        r = self.api("GET", query="?take=5&skip=0")
        self.assertEqual(r.status, 200)
        self.assertLess(time.monotonic() - t1, 0.5)

    def test_faults_post_resets_counting(self):
        self.api("GET", query="?take=5&skip=0")
        self.ctl("POST", "/_fake/faults", [{"method": "GET", "nth": 1, "status": 503}])
        self.assertError(self.api("GET", query="?take=5&skip=0"), 503)

    def test_bad_fault_refused(self):
        r = http(self.base, "POST", "/_fake/faults", [{"method": "PATCH", "nth": 1, "status": 500}],
                 auth=False)
        self.assertEqual(r.status, 400)


class TestControlAndLog(FakeCase):
    def test_state_roundtrip(self):
        st = self.ctl("GET", "/_fake/state")
        self.assertEqual(st["domains"][ZONE], BASE_STATE["domains"][ZONE])
        new = {"domains": {"z.test": [{"type": "txt", "name": "@", "value": "x", "ttl": 60}]}}
        self.ctl("POST", "/_fake/state", new)
        got = self.ctl("GET", "/_fake/state")["domains"]
        self.assertEqual(list(got), ["z.test"])
        self.assertEqual(got["z.test"][0]["group"], {"type": "custom"})
        self.assertEqual(got["z.test"][0]["type"], "TXT")

    def test_log_entries(self):
        self.api("GET", query="?take=5&skip=0")
        self.api("PUT", body={"force": True, "items": [{"type": "A", "name": "n", "address": "192.0.2.3"}]})
        self.api("DELETE", body=[{"type": "A", "name": "nope", "address": "192.0.2.3"}])
        e = self.ctl("GET", "/_fake/log")["entries"]
        self.assertEqual([x["method"] for x in e], ["GET", "PUT", "DELETE"])
        self.assertEqual([x["status"] for x in e], [200, 204, 404])
        self.assertEqual(e[0]["query"], {"take": ["5"], "skip": ["0"]})
        self.assertNotIn("records_after", e[0])
        self.assertEqual(e[1]["body"]["items"][0]["name"], "n")
        self.assertEqual(len(e[1]["records_after"]), 8)
        self.assertEqual(len(e[2]["records_after"]), 8)
        self.assertEqual(e[2]["applied"], False)
        self.assertEqual(e[1]["path"], "/v1/dns/records/example.com")

    def test_unknown_api_path_404(self):
        r = http(self.base, "GET", "/v1/domains?take=5&skip=0")
        self.assertError(r, 404)


class TestCli(unittest.TestCase):
    """--state, --log, --scopes and the fault flags, each on its own fake."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="spaceship-fake-cli-")
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            stop_fake(p)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, *args):
        p, base = start_fake(self.tmp, *args)
        self.procs.append(p)
        return base

    def test_state_file_and_log_file(self):
        sf = os.path.join(self.tmp, "state.json")
        lf = os.path.join(self.tmp, "log.jsonl")
        with open(sf, "w") as fh:
            json.dump(BASE_STATE, fh)
        base = self.start("--state", sf, "--log", lf)
        r = http(base, "GET", f"/v1/dns/records/{ZONE}?take=100&skip=0")
        self.assertEqual(r.json["total"], 7)
        r = http(base, "PUT", f"/v1/dns/records/{ZONE}",
                 {"force": True, "items": [{"type": "TXT", "name": "@", "value": "v=spf1 -all"}]})
        self.assertEqual(r.status, 204)
        with open(lf) as fh:
            lines = [json.loads(x) for x in fh]
        self.assertEqual([x["method"] for x in lines], ["GET", "PUT"])
        self.assertEqual(len(lines[1]["records_after"]), 8)
        with open(lf) as fh:
            text = fh.read()
        self.assertNotIn(KEY, text)
        self.assertNotIn(SECRET, text)

    def test_fault_flags(self):
        base = self.start("--fail", "PUT:1:500:applied", "--rate-limit", "GET:2",
                          "--delay", "DELETE:1:400")
        ctl = http(base, "POST", "/_fake/state", {"domains": {ZONE: []}}, auth=False)
        self.assertEqual(ctl.status, 200)
        p = f"/v1/dns/records/{ZONE}"
        self.assertEqual(http(base, "GET", p + "?take=5&skip=0").status, 200)
        r = http(base, "GET", p + "?take=5&skip=0")
        self.assertEqual((r.status, r.headers.get("Retry-After")), (429, "1"))
        r = http(base, "PUT", p, {"items": [{"type": "TXT", "name": "a", "value": "b"}]})
        self.assertEqual(r.status, 500)
        st = http(base, "GET", "/_fake/state", auth=False).json
        self.assertEqual(len(st["domains"][ZONE]), 1)
        t0 = time.monotonic()
        r = http(base, "DELETE", p, [{"type": "TXT", "name": "a", "value": "b"}])
        self.assertEqual(r.status, 204)
        self.assertGreaterEqual(time.monotonic() - t0, 0.35)

    def test_scopes_flag(self):
        base = self.start("--scopes", "dnsrecords:write")  # no domains: 403 comes before 404
        self.assertEqual(http(base, "GET", "/_fake/state", auth=False).json["scopes"],
                         ["dnsrecords:write"])
        r = http(base, "GET", f"/v1/dns/records/{ZONE}?take=5&skip=0")
        self.assertEqual(r.status, 403)
        self.assertEqual(r.headers.get("spaceship-error-code"), "application.forbidden")

    def test_port_file_and_loopback_only(self):
        base = self.start()
        self.assertRegex(base, r"^http://127\.0\.0\.1:[0-9]+$")
        port = int(base.rsplit(":", 1)[1])
        self.assertGreater(port, 0)
        self.assertEqual(http(base, "GET", "/_fake/state", auth=False).status, 200)

    def test_bad_state_file_exits_2(self):
        sf = os.path.join(self.tmp, "bad.json")
        with open(sf, "w") as fh:
            fh.write('{"domains": {"x.com": "nope"}}')
        p = subprocess.run([sys.executable, FAKE, "--port", "0", "--key", "k", "--secret", "s",
                            "--state", sf], capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 2)
        self.assertIn("domains.x.com", p.stderr)


if __name__ == "__main__":
    unittest.main()
