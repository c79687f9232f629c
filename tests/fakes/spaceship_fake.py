#!/usr/bin/env python3
"""spaceship_fake.py - an independent fake of the Spaceship DNS records API for tailwart's tests.

It serves GET/PUT/DELETE /v1/dns/records/{domain} the way /work/shared/docs/spaceship-api.md
(kept in the repo research as docs/spaceship-api.md) documents it, traps included, so that
tailwart's Spaceship client, `tailwart dns plan/apply` and the DNS-01 hook can be tested on
loopback. Every behaviour below cites its source with the tags of that document:

  SPEC    Spaceship's OpenAPI document (docs.spaceship.dev)
  NC-SDK  namecheap/go-spaceship-sdk (official Go SDK, live acceptance tests)
  NC-TF   namecheap/terraform-provider-spaceship (dns-records.md, rate-limits.md)
  ACMESH  acme.sh dns_spaceship.sh and issue #6304
  DDNS    qdm12/ddns-updater spaceship provider
  OCTO    muelli/octodns-spaceship
  seed    /work/shared/seeds/000_2bed0bef0b3f2eaf.txt ("seed lesson N")
  OURS    no source says; the fake's own documented choice (see tests/fakes/README.md)

It was written without looking at tailwart's C client on purpose: where the two disagree, the
document decides.

Usage:
  spaceship_fake.py --port P --key K --secret S [--state FILE] [--log FILE] [--port-file FILE]
                    [--scopes LIST] [--fault JSON]... [--fail M:N:STATUS[:applied]]...
                    [--rate-limit M:N[:SECS]]... [--delay M:N:MS]...

Binds 127.0.0.1 only. Port 0 picks a free port; --port-file gets it once listening.
Control endpoints (no auth): GET/POST /_fake/state, GET/POST /_fake/faults, GET/DELETE /_fake/log.
Python 3.11 standard library only.
"""

import argparse
import copy
import ipaddress
import json
import os
import random
import re
import string
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

API_PREFIX = "/v1/dns/records/"

# SPEC info.description: the scopes; dnsrecords:read/write are the ones these endpoints need.
ALL_SCOPES = [
    "domains:read",
    "domains:write",
    "domains:transfer",
    "contacts:read",
    "contacts:write",
    "dnsrecords:read",
    "dnsrecords:write",
    "asyncoperations:read",
]

# SPEC / doc §5: every error has spaceship-error-code matching
# ^(business|application|infrastructure)(\.[a-zA-Z]+)+$. Only application.unauthorized is
# observed (seed lesson 2); the other codes are OURS, chosen to fit that pattern.
ERROR_CODES = {
    400: "application.badRequest",
    401: "application.unauthorized",
    403: "application.forbidden",
    404: "business.notFound",
    422: "application.validationError",
    429: "application.rateLimitExceeded",
    500: "infrastructure.internalError",
}

# ACMESH #6304 (observed 401 body).
UNAUTHORIZED_DETAIL = "The user's request was not properly authorized."
# SPEC 403 description.
FORBIDDEN_DETAIL = "The user's request not allowed to perform this action with the current scopes"

# SPEC hostNameValue. ASCII \w is OURS (the client is expected to send A-labels).
HOSTNAME_RE = re.compile(
    r"^(?!\.)(@|\*|([_*]\.)?(?:(?!-)(?=[^\.]*[^\W_])[\w-]{1,63}(?<!-)($|\.)){1,127}(?<!\.))$",
    re.ASCII,
)

# doc §2.2 data-field table (NC-TF dns-records.md / NC-SDK dns_match.go RecordValueSignature).
IDENTITY_FIELDS = {
    "A": ("address",),
    "AAAA": ("address",),
    "ALIAS": ("aliasName",),
    "CAA": ("flag", "tag", "value"),
    "CNAME": ("cname",),
    "MX": ("exchange", "preference"),
    "NS": ("nameserver",),
    "PTR": ("pointer",),
    "SRV": ("service", "protocol", "priority", "weight", "port", "target"),
    "TLSA": ("port", "protocol", "usage", "selector", "matching", "associationData"),
    "HTTPS": ("svcPriority", "targetName", "svcParams", "port", "scheme"),
    "SVCB": ("svcPriority", "targetName", "svcParams", "port", "scheme"),
    "TXT": ("value",),
}

GROUP_TYPES = ("custom", "product", "personalNs")  # SPEC ResourceRecordsGroup

DEFAULT_TTL = 3600  # OURS: TTL is optional on PUT (SPEC); NC-TF's default is 3600.


def op_id():
    """SPEC: spaceship-operation-id, a 16-char [a-z0-9] id."""
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(16))


def json_type(v):
    """JSON type name of a parsed value, for 'Value is "X" but should be "Y"' (seed lesson 14)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, dict):
        return "object"
    if isinstance(v, list):
        return "array"
    if isinstance(v, str):
        return "string"
    if isinstance(v, int):
        return "integer"
    return "number"


def type_msg(v, want):
    # seed lesson 14: the observed text for an object DELETE body; the same form is used for
    # every other JSON type mismatch (OURS, by analogy).
    return f'Value is "{json_type(v)}" but should be "{want}"'


class ApiError(Exception):
    """An error answer: status, detail, optional ValidationError data (SPEC §5 shapes)."""

    def __init__(self, status, detail, data=None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.data = data


# ------------------------------------------------------------------ record validation


class Validator:
    """Collects {field, details} items for one 422 ValidationError (SPEC ValidationError)."""

    def __init__(self):
        self.errors = []

    def err(self, field, details):
        self.errors.append({"field": field, "details": details})

    def is_int(self, v):
        return isinstance(v, int) and not isinstance(v, bool)

    def int_range(self, item, key, field, lo, hi, required=True):
        if key not in item or item[key] is None:
            if required:
                self.err(field, f"The {key} field is required.")
            return
        v = item[key]
        if not self.is_int(v):
            self.err(field, type_msg(v, "integer"))
        elif not lo <= v <= hi:
            self.err(field, f"The {key} must be between {lo} and {hi}.")

    def string(self, item, key, field, required=True, pattern=None, minlen=1, maxlen=None, msg=None):
        """Returns the string, or None after recording an error."""
        if key not in item or item[key] is None:
            if required:
                self.err(field, f"The {key} field is required.")
            return None
        v = item[key]
        if not isinstance(v, str):
            self.err(field, type_msg(v, "string"))
            return None
        if len(v) < minlen:
            self.err(field, f"The {key} field is required.")
            return None
        if maxlen is not None and len(v) > maxlen:
            self.err(field, f"The {key} must be at most {maxlen} characters.")
            return None
        if pattern is not None and ("\n" in v or not pattern.match(v)):
            self.err(field, msg or f"The {key} field has an invalid format.")
            return None
        return v

    def hostname(self, item, key, field, allow_apex=False):
        """A hostNameValue field (SPEC). Trailing dots are refused (OCTO: 'Spaceship API does NOT
        accept trailing dots'); '@'/'*' as a target are refused at runtime although the schema
        allows them (NC-SDK cname.go, NC-TF tests; doc §4 table)."""
        v = self.string(item, key, field, maxlen=253)
        if v is None:
            return None
        if v.endswith(".") and v != ".":
            self.err(field, f"The {key} must not end with a dot.")
            return None
        if not allow_apex and v in ("@", "*"):
            self.err(field, f"The {key} cannot be '{v}'.")
            return None
        if not HOSTNAME_RE.match(v) or "\n" in v:
            self.err(field, "The domain name contains invalid characters")  # SPEC example text
            return None
        return v


SERVICE_RE = re.compile(r"^_[A-Za-z0-9-]{1,62}$")  # SPEC: service `_sip`, 2..63
PROTO_RE = re.compile(r"^_[A-Za-z0-9-]{1,62}$")  # SPEC: protocol `_tcp`
TLSA_PORT_RE = re.compile(r"^(_[0-9]{1,5}|\*)$")  # SPEC: "_25" style, or "*"
SVC_PORT_RE = re.compile(r"^_[0-9]{1,5}$")  # SPEC: `_443`
SVC_SCHEME_RE = re.compile(r"^_[A-Za-z0-9-]{1,62}$")  # SPEC: `_https`
HEX_RE = re.compile(r"^[0-9a-fA-F]+( [0-9a-fA-F]+)*$")  # SPEC hex with single spaces; uppercase
# accepted live (NC-SDK tlsa.go).
CAA_VALUE_RE = re.compile(r"^[ -~]+$")  # SPEC CAA value


def validate_item(item, idx, v, for_delete):
    """Validates one PUT or DELETE item; returns a normalised copy or None (errors in v).

    SPEC *ResourceRecordCreateOrUpdateItem / ResourceRecordDeleteItem, doc §4. DELETE items are
    validated like PUT items (NC-SDK TestAccDNSRecord_SVCBPortWithoutSchemeRejected comment),
    without ttl (ResourceRecordDeleteItem has none: a ttl sent on DELETE is ignored, OURS)."""
    p = f"items[{idx}]" if not for_delete else f"[{idx}]"
    if not isinstance(item, dict):
        v.err(p, type_msg(item, "object"))
        return None
    n0 = len(v.errors)
    rtype = v.string(item, "type", f"{p}.type")
    if rtype is not None:
        rtype = rtype.upper()  # doc §4: types compare case-insensitively, upper-case in responses
        if rtype not in IDENTITY_FIELDS:
            v.err(f"{p}.type", f"The type '{item['type']}' is not supported.")
            rtype = None
    # SPEC hostNameValue, 1..253; '@' and '*' allowed for the record name.
    name = v.hostname(item, "name", f"{p}.name", allow_apex=True)
    out = {}
    if rtype is not None:
        out["type"] = rtype
    if name is not None:
        out["name"] = name
    if not for_delete and "ttl" in item and item["ttl"] is not None:
        # SPEC ResourceRecordCreateOrUpdateItem.ttl 60..3600 (NC-SDK ValidateTTL, DDNS).
        v.int_range(item, "ttl", f"{p}.ttl", 60, 3600)
        out["ttl"] = item["ttl"]
    if rtype is None:
        return None
    f = lambda k: f"{p}.{k}"  # noqa: E731
    if rtype in ("A", "AAAA"):
        s = v.string(item, "address", f("address"))
        if s is not None:
            try:
                a = ipaddress.ip_address(s)
                if a.version != (4 if rtype == "A" else 6) or "%" in s:
                    raise ValueError
            except ValueError:
                v.err(f("address"), f"The address must be a valid IPv{4 if rtype == 'A' else 6} address.")
    elif rtype == "CNAME":
        v.hostname(item, "cname", f("cname"))
    elif rtype == "ALIAS":
        v.hostname(item, "aliasName", f("aliasName"))  # doc §4: aliasName @/* -> 422
    elif rtype == "MX":
        v.hostname(item, "exchange", f("exchange"))
        v.int_range(item, "preference", f("preference"), 0, 65535)
    elif rtype == "TXT":
        s = v.string(item, "value", f("value"), minlen=0)
        if s is not None:
            if not s.strip():
                v.err(f("value"), "Value field is required")  # NC-SDK txt.go (whitespace-only)
            elif len(s.encode("utf-8")) > 65535:
                v.err(f("value"), "The value must be at most 65535 bytes.")  # SPEC, bytes per NC-SDK
    elif rtype == "CAA":
        fl = item.get("flag")
        if fl is None:
            v.err(f("flag"), "The flag field is required.")
        elif not (isinstance(fl, (int, float)) and not isinstance(fl, bool) and fl in (0, 128)):
            v.err(f("flag"), "The flag must be one of: 0, 128.")  # SPEC enum
        t = v.string(item, "tag", f("tag"))
        if t is not None and t not in ("issue", "issuewild", "iodef"):
            v.err(f("tag"), "The tag must be one of: issue, issuewild, iodef.")  # SPEC enum
        v.string(item, "value", f("value"), maxlen=256, pattern=CAA_VALUE_RE,
                 msg="The value must contain printable ASCII characters only.")
    elif rtype == "NS":
        # OURS: validated as a hostname without a trailing dot (OCTO strips dots from nameserver).
        v.hostname(item, "nameserver", f("nameserver"))
    elif rtype == "PTR":
        s = v.string(item, "pointer", f("pointer"), maxlen=253)
        if s is not None and s.endswith("."):
            v.err(f("pointer"), "The pointer must not end with a dot.")  # OURS, like OCTO's rule
    elif rtype == "SRV":
        v.string(item, "service", f("service"), pattern=SERVICE_RE,
                 msg="The service must look like '_sip' (2..63 characters).")
        v.string(item, "protocol", f("protocol"), pattern=PROTO_RE,
                 msg="The protocol must look like '_tcp'.")
        v.int_range(item, "priority", f("priority"), 0, 65535)
        v.int_range(item, "weight", f("weight"), 0, 65535)
        v.int_range(item, "port", f("port"), 1, 65535)
        v.hostname(item, "target", f("target"))  # doc §4: target @/* -> 422
    elif rtype == "TLSA":
        v.string(item, "port", f("port"), pattern=TLSA_PORT_RE,
                 msg="The port must look like '_25' or '*'.")
        v.string(item, "protocol", f("protocol"), pattern=PROTO_RE,
                 msg="The protocol must look like '_tcp'.")
        for k in ("usage", "selector", "matching"):
            v.int_range(item, k, f(k), 0, 255)
        v.string(item, "associationData", f("associationData"), minlen=64, maxlen=65535,
                 pattern=HEX_RE, msg="The associationData must be hexadecimal.")
    elif rtype in ("HTTPS", "SVCB"):
        v.int_range(item, "svcPriority", f("svcPriority"), 0, 65535)
        v.string(item, "targetName", f("targetName"))
        v.string(item, "svcParams", f("svcParams"), minlen=0)  # OURS: may be empty
        port = v.string(item, "port", f("port"), required=False, pattern=SVC_PORT_RE,
                        msg="The port must look like '_443'.")
        scheme = v.string(item, "scheme", f("scheme"), required=False, pattern=SVC_SCHEME_RE,
                          msg="The scheme must look like '_https'.")
        if port is not None and scheme is None and item.get("scheme") is None:
            # doc §4: a port without a scheme gives 422 live, although the SPEC makes it optional.
            v.err(f("scheme"), "The scheme field is required when port is set.")
    if len(v.errors) != n0:
        return None
    for k in IDENTITY_FIELDS[rtype]:
        if k in item and item[k] is not None:
            out[k] = item[k]
    if rtype == "CAA":
        out["flag"] = int(out["flag"])
    if rtype == "ALIAS" and name == "@":
        # NC-SDK TestAccDNSRecord_ApexAliasBecomesCNAME: an apex ALIAS is stored as a root CNAME.
        out = {"type": "CNAME", "name": name, "cname": out["aliasName"],
               **({"ttl": out["ttl"]} if "ttl" in out else {})}
    return out


def norm_value(rtype, key, val):
    """Identity form of one data field (doc §2.2): case-insensitive, except TXT value (SPEC PUT and
    DELETE descriptions, NC-TF dns-records.md, NC-SDK TestAccDNSRecord_TXTCaseSensitiveCoexist);
    TLSA associationData whitespace-stripped and lowercased and TLSA port "_25" == 25 (NC-SDK
    RecordValueSignature, normalizeRecordPort)."""
    if val is None:
        return None
    if rtype == "TXT" and key == "value":
        return val
    if rtype == "TLSA" and key == "associationData":
        return re.sub(r"\s+", "", str(val)).lower()
    if rtype == "TLSA" and key == "port":
        s = str(val)
        return s if s == "*" else "_" + s.lstrip("_")
    if isinstance(val, str):
        return val.lower()
    if isinstance(val, float) and val.is_integer():
        return int(val)
    return val


def identity(rec):
    """(type, name, data...): TTL is not part of it (doc §2.2)."""
    t = str(rec.get("type", "")).upper()
    return (t, str(rec.get("name", "")).lower()) + tuple(
        norm_value(t, k, rec.get(k)) for k in IDENTITY_FIELDS.get(t, ()))


def group_of(rec):
    g = rec.get("group")
    return g.get("type", "custom") if isinstance(g, dict) else "custom"


# ------------------------------------------------------------------ the fake's state


class Fake:
    """State, faults and the request log; every method runs under self.lock."""

    def __init__(self, key, secret, log_path=None):
        self.key = key
        self.secret = secret
        self.lock = threading.Lock()
        self.log_path = log_path
        self.log_fh = open(log_path, "a", encoding="utf-8") if log_path else None
        self.log = []
        self.seq = 0
        self.set_state({"domains": {}})
        self.set_faults([])

    # -- state

    def set_state(self, doc):
        if not isinstance(doc, dict) or not isinstance(doc.get("domains", {}), dict):
            raise ValueError('state must be {"domains": {"example.com": [records...]}, ...}')
        domains = {}
        for d, items in doc.get("domains", {}).items():
            if not isinstance(items, list):
                raise ValueError(f"domains.{d} must be an array of records")
            recs = []
            for i, r in enumerate(items):
                if not isinstance(r, dict) or "type" not in r or "name" not in r:
                    raise ValueError(f"domains.{d}[{i}] needs type and name")
                r = copy.deepcopy(r)
                r["type"] = str(r["type"]).upper()
                g = r.get("group", "custom")
                if isinstance(g, str):
                    g = {"type": g}
                if not isinstance(g, dict) or g.get("type") not in GROUP_TYPES:
                    raise ValueError(f"domains.{d}[{i}].group must be one of {GROUP_TYPES}")
                r["group"] = g
                recs.append(r)
            domains[d.lower()] = recs
        scopes = doc.get("scopes", ALL_SCOPES)
        if not isinstance(scopes, list):
            raise ValueError("scopes must be an array")
        self.domains = domains
        self.scopes = list(scopes)
        # ACMESH #6304: the account-wide "enable API access" toggle; off = 401 on every call.
        self.api_access = bool(doc.get("api_access", True))
        q = doc.get("quirks", {}) or {}
        # NC-SDK normalizeRecordPort: the API may echo a TLSA port as the JSON number 25.
        self.quirks = {"tlsa_port_as_number": bool(q.get("tlsa_port_as_number", False))}

    def state_doc(self):
        return {"domains": copy.deepcopy(self.domains), "scopes": list(self.scopes),
                "api_access": self.api_access, "quirks": dict(self.quirks)}

    # -- faults

    def set_faults(self, faults):
        if isinstance(faults, dict):
            faults = faults.get("faults", [])
        if not isinstance(faults, list):
            raise ValueError('faults must be an array or {"faults": [...]}')
        out = []
        for i, f in enumerate(faults):
            if not isinstance(f, dict):
                raise ValueError(f"faults[{i}] must be an object")
            m = str(f.get("method", "")).upper()
            if m not in ("GET", "PUT", "DELETE"):
                raise ValueError(f"faults[{i}].method must be GET, PUT or DELETE")
            nth = f.get("nth", 1)
            times = f.get("times", 1)
            status = f.get("status")
            delay = f.get("delay_ms", 0)
            if not isinstance(nth, int) or nth < 1 or not isinstance(times, int) or times < 1:
                raise ValueError(f"faults[{i}]: nth and times must be integers >= 1")
            if status is not None and (not isinstance(status, int) or not 400 <= status <= 599):
                raise ValueError(f"faults[{i}].status must be 400..599")
            if not isinstance(delay, (int, float)) or delay < 0:
                raise ValueError(f"faults[{i}].delay_ms must be >= 0")
            if status is None and not delay:
                raise ValueError(f"faults[{i}] needs status or delay_ms")
            out.append({"method": m, "nth": nth, "times": times, "status": status,
                        "applied": bool(f.get("applied", False)), "delay_ms": delay,
                        "retry_after": int(f.get("retry_after", 1)),
                        "detail": f.get("detail")})
        self.faults = out
        self.counts = {"GET": 0, "PUT": 0, "DELETE": 0}  # counting restarts at every faults POST

    def next_fault(self, method):
        """Counts this request of METHOD and returns the fault for it, if any."""
        if method not in self.counts:
            return None, 0
        self.counts[method] += 1
        n = self.counts[method]
        for f in self.faults:
            if f["method"] == method and f["nth"] <= n < f["nth"] + f["times"]:
                return f, n
        return None, n

    # -- log

    def add_log(self, entry):
        self.seq += 1
        entry = {"seq": self.seq, "time": round(time.time(), 3), **entry}
        self.log.append(entry)
        if self.log_fh:
            self.log_fh.write(json.dumps(entry, sort_keys=True) + "\n")
            self.log_fh.flush()

    # -- the API

    def records_view(self, recs):
        out = []
        for r in recs:
            r = copy.deepcopy(r)
            if r["type"] == "TLSA" and self.quirks["tlsa_port_as_number"]:
                p = str(r.get("port", ""))
                if p.startswith("_") and p[1:].isdigit():
                    r["port"] = int(p[1:])
            out.append(r)
        return out

    def zone(self, domain):
        recs = self.domains.get(domain.lower())
        if recs is None:
            # DDNS getrecord.go: the 404 detail for a domain without a Spaceship-hosted zone.
            raise ApiError(404, f"SOA record for domain {domain} not found.")
        return recs

    def do_get(self, domain, query):
        # SPEC getResourceRecordsList: take (required, 1..500), skip (required, 0..2147483647);
        # DDNS PR #907: "it's mandatory". 400 "The request is invalid" (SPEC) when not.
        def num(name, lo, hi):
            vals = query.get(name)
            if not vals:
                raise ApiError(400, f"The {name} parameter is required.")
            if len(vals) != 1 or not re.fullmatch(r"[0-9]{1,10}", vals[0]):
                raise ApiError(400, f"The {name} parameter must be an integer.")
            n = int(vals[0])
            if not lo <= n <= hi:
                raise ApiError(400, f"The {name} parameter must be between {lo} and {hi}.")
            return n

        take = num("take", 1, 500)
        skip = num("skip", 0, 2147483647)
        order = query.get("orderBy", [])
        # SPEC: orderBy is an array of at most 1 item from type, -type, name, -name.
        if len(order) > 1 or (order and order[0] not in ("type", "-type", "name", "-name")):
            raise ApiError(400, "The orderBy parameter must be one of: type, -type, name, -name.")
        recs = self.zone(domain)
        view = list(recs)
        if order:
            key = order[0].lstrip("-")
            view.sort(key=lambda r: str(r.get(key, "")).lower(), reverse=order[0].startswith("-"))
        # SPEC: {"items": [...], "total": N}, total = all records, whatever the page.
        return {"items": self.records_view(view[skip:skip + take]), "total": len(recs)}

    def check_items(self, items, for_delete):
        """SPEC: 1..500 items; each item validated; any error -> 422 and nothing applied (OURS:
        the body is validated as a whole before anything is written)."""
        field = "" if for_delete else "items"
        if not isinstance(items, list):
            # seed lesson 14: DELETE with an object body -> 422 'Value is "object" but should be
            # "array"'.
            raise ApiError(422, type_msg(items, "array"), [{"field": field, "details": type_msg(items, "array")}])
        if not 1 <= len(items) <= 500:
            msg = f"The {'body' if for_delete else 'items'} must contain 1 to 500 records."
            raise ApiError(422, msg, [{"field": field, "details": msg}])
        v = Validator()
        out = [validate_item(it, i, v, for_delete) for i, it in enumerate(items)]
        if v.errors:
            raise ApiError(422, v.errors[0]["details"], v.errors)
        return out

    def refuse_groups(self, recs, pairs, verb):
        """OURS (assumption): product/personalNs records cannot be written or deleted through the
        API. NC-SDK and NC-TF never touch them (filterCustomDNSRecords; dns-records.md §DNS
        Groups); the fake answers 422 so a client that tries is caught."""
        errs = []
        for i, it in pairs:
            for r in recs:
                if identity(r) == identity(it) and group_of(r) != "custom":
                    errs.append({"field": f"[{i}]" if verb == "delete" else f"items[{i}]",
                                 "details": f"The record belongs to the '{group_of(r)}' group and "
                                            f"cannot be {'deleted' if verb == 'delete' else 'changed'}."})
        if errs:
            raise ApiError(422, errs[0]["details"], errs)

    def do_put(self, domain, body):
        # SPEC Records.RecordsUpdateModel: {"force": bool?, "items": [1..500]}.
        if not isinstance(body, dict):
            raise ApiError(422, type_msg(body, "object"), [{"field": "", "details": type_msg(body, "object")}])
        if "force" in body and not isinstance(body["force"], bool):
            m = type_msg(body["force"], "boolean")
            raise ApiError(422, m, [{"field": "force", "details": m}])
        if "items" not in body:
            raise ApiError(422, "The items field is required.", [{"field": "items", "details": "The items field is required."}])
        items = self.check_items(body["items"], for_delete=False)
        recs = self.zone(domain)
        # Duplicate identities in one body are deduplicated (doc §2.2 consequence 5, NC-TF #115);
        # the last item's TTL wins (OURS).
        uniq = {}
        for i, it in enumerate(items):
            uniq.pop(identity(it), None)
            uniq[identity(it)] = (i, it)
        pairs = list(uniq.values())
        self.refuse_groups(recs, pairs, "put")
        # NC-TF / NC-SDK CreateDNSRecord: a CNAME with a different target at the same hostname is
        # a conflict that gives 422 even with force:true. No source documents other conflicts, so
        # force has no other effect here (OURS).
        cn = {}
        for r in recs:
            if r["type"] == "CNAME":
                cn.setdefault(r["name"].lower(), set()).add(norm_value("CNAME", "cname", r["cname"]))
        for i, it in pairs:
            if it["type"] == "CNAME":
                s = cn.setdefault(it["name"].lower(), set())
                s.add(norm_value("CNAME", "cname", it["cname"]))
                if len(s) > 1:
                    m = f"A CNAME record with a different target already exists at '{it['name']}'."
                    raise ApiError(422, m, [{"field": f"items[{i}].cname", "details": m}])
        # SPEC saveRecords "Add custom DNS resource records or update TTL"; NC-TF dns-records.md:
        # a match only updates the TTL, no match appends, unnamed records are never touched.
        for _, it in pairs:
            cur = next((r for r in recs if identity(r) == identity(it)), None)
            if cur is not None:
                if "ttl" in it:
                    cur["ttl"] = it["ttl"]  # NC-SDK TestAccDNSRecord_UpsertUpdatesTTLInPlace
            else:
                rec = dict(it)
                rec.setdefault("ttl", DEFAULT_TTL)
                rec["group"] = {"type": "custom"}  # NC-SDK DNSRecord.Group: API writes are custom
                recs.append(rec)
        return None

    def do_delete(self, domain, body):
        # SPEC ResourceRecordsListDeleteItem: a bare array (seed lesson 14 for the object case).
        items = self.check_items(body, for_delete=True)
        recs = self.zone(domain)
        uniq = {}
        for i, it in enumerate(items):
            uniq.setdefault(identity(it), (i, it))
        pairs = list(uniq.values())
        self.refuse_groups(recs, pairs, "delete")
        # NC-SDK TestAccDNSRecord_DeleteAbsentIsNoop: an absent record is a 404. With one absent
        # record in a batch nothing is deleted (OURS: no source says).
        absent = [i for i, it in pairs if not any(identity(r) == identity(it) for r in recs)]
        if absent:
            raise ApiError(404, f"DNS resource record not found (item {absent[0]}).")
        gone = set(uniq)
        recs[:] = [r for r in recs if identity(r) not in gone]
        return None


# ------------------------------------------------------------------ HTTP


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "spaceship-fake/1"
    fake: Fake = None  # set by serve()

    def log_message(self, fmt, *args):  # quiet: the JSON log is the record
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                line = self.rfile.readline()
                n = int(line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(n)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send(self, status, body=None, ctype="application/json", headers=None):
        self.send_response(status)
        for k, val in (headers or {}).items():
            self.send_header(k, str(val))
        if status == 204 or body is None:
            if status != 204:
                self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = json.dumps(body).encode()
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error_parts(self, status, detail, data=None, extra=None):
        """SPEC §5: problem+json; every error has spaceship-error-code and spaceship-operation-id."""
        h = {"spaceship-error-code": ERROR_CODES.get(status, "infrastructure.unexpected"),
             "spaceship-operation-id": op_id()}
        h.update(extra or {})
        b = {"detail": detail}
        if data is not None:
            b["data"] = data
        return status, b, h

    # -- dispatch

    def do_GET(self):
        self.dispatch("GET")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_POST(self):
        self.dispatch("POST")

    def dispatch(self, method):
        u = urlsplit(self.path)
        raw = self.read_body()
        if u.path.startswith("/_fake/"):
            return self.control(method, u.path, raw)
        fake = self.fake
        query = parse_qs(u.query, keep_blank_values=True)
        body, body_ok = None, True
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body, body_ok = raw.decode("utf-8", "replace"), False
        with fake.lock:
            fault, nth = fake.next_fault(method)
        if fault and fault["delay_ms"]:
            time.sleep(fault["delay_ms"] / 1000.0)  # outside the lock: others keep going
        with fake.lock:
            status, rbody, headers, applied, domain = self.api(method, u.path, query, body, body_ok, fault)
            entry = {"method": method, "path": u.path, "query": query, "status": status,
                     "body": body, "auth": self.auth_state()}
            if fault:
                entry["fault"] = {"nth": nth, "status": fault["status"], "applied": fault["applied"],
                                  "delay_ms": fault["delay_ms"]}
            if rbody is not None and status >= 400:
                entry["response"] = rbody
            if method in ("PUT", "DELETE"):
                entry["domain"] = domain
                entry["applied"] = applied
                recs = fake.domains.get((domain or "").lower())
                entry["records_after"] = copy.deepcopy(recs) if recs is not None else None
            fake.add_log(entry)
        self.send(status, rbody, "application/problem+json" if status >= 400 else "application/json",
                  headers)

    def auth_state(self):
        k = self.headers.get("X-API-Key")  # header names are case-insensitive (doc §1)
        s = self.headers.get("X-API-Secret")
        if k is None or s is None:
            return "missing"
        return "ok" if (k == self.fake.key and s == self.fake.secret) else "wrong"

    def api(self, method, path, query, body, body_ok, fault):
        """Returns (status, body, headers, applied, domain)."""
        fake = self.fake
        domain = None
        if path.startswith(API_PREFIX):
            domain = unquote(path[len(API_PREFIX):])
        if fault and fault["status"] == 429:
            # SPEC 429 headers; NC-TF rate-limits.md: integer seconds, rejected before execution.
            ra = fault["retry_after"]
            st, b, h = self.error_parts(429, fault["detail"] or "Too many requests.", extra={
                "Retry-After": ra, "X-RateLimit-Limit": 300, "X-RateLimit-Remaining": 0,
                "X-RateLimit-Reset": int(time.time()) + ra})
            return st, b, h, False, domain
        if fault and fault["status"] and not fault["applied"]:
            st, b, h = self.error_parts(fault["status"], fault["detail"] or "The infrastructure encountered an error")
            return st, b, h, False, domain
        applied = False
        try:
            # doc §1: both headers, plain values; ACMESH #6304: API access off -> 401 everywhere.
            if self.auth_state() != "ok" or not fake.api_access:
                raise ApiError(401, UNAUTHORIZED_DETAIL)
            if domain is None or "/" in domain or not domain or method not in ("GET", "PUT", "DELETE"):
                raise ApiError(404, "The requested object was not found")
            need = "dnsrecords:read" if method == "GET" else "dnsrecords:write"
            if need not in fake.scopes:
                raise ApiError(403, FORBIDDEN_DETAIL)  # SPEC; DDNS maps 403 to a missing scope
            if not 4 <= len(domain) <= 255:  # SPEC: {domain} 4..255
                raise ApiError(400, "The domain parameter must be 4 to 255 characters.")
            if not body_ok:
                raise ApiError(400, "The request body is not valid JSON.")  # OURS
            if method == "GET":
                out = fake.do_get(domain, query)
                status, rbody, headers = 200, out, {}
            elif method == "PUT":
                fake.do_put(domain, body)
                status, rbody, headers, applied = 204, None, {}, True  # SPEC: 204, empty body
            else:
                fake.do_delete(domain, body)
                status, rbody, headers, applied = 204, None, {}, True
        except ApiError as e:
            status, rbody, headers = self.error_parts(e.status, e.detail, e.data)
        if fault and fault["status"]:
            # The ambiguous case: the change is applied, then the answer is an error anyway.
            st, b, h = self.error_parts(fault["status"], fault["detail"] or "The infrastructure encountered an error")
            return st, b, h, applied, domain
        return status, rbody, headers, applied, domain

    def control(self, method, path, raw):
        """/_fake/ endpoints: no auth, not logged."""
        fake = self.fake
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return self.send(400, {"error": "body is not valid JSON"})
        try:
            with fake.lock:
                if path == "/_fake/state" and method == "GET":
                    return self.send(200, fake.state_doc())
                if path == "/_fake/state" and method == "POST":
                    fake.set_state(body if body is not None else {"domains": {}})
                    return self.send(200, fake.state_doc())
                if path == "/_fake/faults" and method == "GET":
                    return self.send(200, {"faults": fake.faults, "counts": fake.counts})
                if path == "/_fake/faults" and method == "POST":
                    fake.set_faults(body if body is not None else [])
                    return self.send(200, {"faults": fake.faults, "counts": fake.counts})
                if path == "/_fake/log" and method == "GET":
                    return self.send(200, {"entries": fake.log})
                if path == "/_fake/log" and method == "DELETE":
                    fake.log.clear()
                    return self.send(200, {"entries": []})
        except ValueError as e:
            return self.send(400, {"error": str(e)})
        return self.send(404, {"error": f"no control endpoint {method} {path}"})


def parse_fault_flags(args):
    """--fault JSON, --fail M:N:STATUS[:applied], --rate-limit M:N[:SECS], --delay M:N:MS."""
    out = [json.loads(j) for j in args.fault]
    for s in args.fail:
        p = s.split(":")
        out.append({"method": p[0], "nth": int(p[1]), "status": int(p[2]),
                    "applied": len(p) > 3 and p[3] == "applied"})
    for s in args.rate_limit:
        p = s.split(":")
        out.append({"method": p[0], "nth": int(p[1]), "status": 429,
                    "retry_after": int(p[2]) if len(p) > 2 else 1})
    for s in args.delay:
        p = s.split(":")
        out.append({"method": p[0], "nth": int(p[1]), "delay_ms": int(p[2])})
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description="Fake Spaceship DNS records API (127.0.0.1 only).")
    ap.add_argument("--port", type=int, required=True, help="0 picks a free port")
    ap.add_argument("--key", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--state", help='JSON file {"domains": {"example.com": [records...]}}')
    ap.add_argument("--log", help="JSON-lines request log (appended)")
    ap.add_argument("--port-file", help="gets the port once listening")
    ap.add_argument("--scopes", help="comma-separated key scopes (default: all)")
    ap.add_argument("--fault", action="append", default=[], help="a fault object as JSON")
    ap.add_argument("--fail", action="append", default=[], help="METHOD:N:STATUS[:applied]")
    ap.add_argument("--rate-limit", action="append", default=[], help="METHOD:N[:RETRY_AFTER]")
    ap.add_argument("--delay", action="append", default=[], help="METHOD:N:MS")
    args = ap.parse_args(argv)

    fake = Fake(args.key, args.secret, args.log)
    try:
        if args.state:
            with open(args.state, encoding="utf-8") as fh:
                doc = json.load(fh)
        else:
            doc = {"domains": {}}
        if args.scopes is not None:
            doc["scopes"] = [s for s in args.scopes.split(",") if s]
        fake.set_state(doc)
        fake.set_faults(parse_fault_flags(args))
    except (OSError, ValueError, IndexError) as e:
        print(f"spaceship_fake: {e}", file=sys.stderr)
        return 2

    Handler.fake = fake
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)  # loopback only
    port = srv.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as fh:
            fh.write(f"{port}\n")
        os.replace(tmp, args.port_file)  # readers never see a half-written file
    print(f"spaceship_fake: listening on 127.0.0.1:{port}", file=sys.stderr, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
