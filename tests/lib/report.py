#!/usr/bin/env python3
"""Queries on an evfetch --report file (one JSON object per line).

Used by tests/lib/common.sh; standard library only.

  report.py get FILE FIELD [URL]   print FIELD of the first record (of URL)
  report.py count FILE EXPR        count records r for which EXPR is true
  report.py check FILE             validate every line; problems on stdout
  report.py urls FILE              print each record's url, one a line
  report.py show FILE [N]          the first N records, one a line, for diag

Values print as JSON would show them, except that strings print bare:
true, false, null, 200, TLSv1.3.  A missing record or field prints
<missing>.  Exit status 2 on an unreadable file or a bad expression.
"""

import json
import re
import sys

KEYS = {
    "url": (str,),
    "ok": (bool,),
    "status": (int, type(None)),   # null when no response arrived
    "bytes": (int,),
    "error": (str, type(None)),
    "error_kind": (str, type(None)),
    "time_total_ms": (int, float),
    "tls_version": (str, type(None)),
    "reused": (bool,),
    "file": (str, type(None)),
    "effective_url": (str,),
    "redirects": (int,),
    "retries": (int,),
    "index": (int,),
    "time": (dict,),
    "queued_ms": (int, float),
    "content_type": (str, type(None)),
    "content_length": (int, type(None)),
    "tls_cipher": (str, type(None)),
    "cert_not_after": (str, type(None)),
    "started_at": (str,),
}

# Keys that a line may have: "http_version" comes with HTTP/2 support, the
# protocol the response came in ("1.0", "1.1" or "2"; null without one).
OPTIONAL_KEYS = {
    "http_version": (str, type(None)),
    # the address connected (Happy Eyeballs); null and 0 without one
    "remote_ip": (str, type(None)),
    "remote_port": (int,),
    # the proxy used, scheme://host:port without credentials, or null
    "proxy": (str, type(None)),
}
HTTP_VERSIONS = ("1.0", "1.1", "2", None)

# The keys of "time", each a number of milliseconds.
TIME_KEYS = ("dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "total_ms")

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$")

ERROR_KINDS = {
    "url", "dns", "connect", "tls", "timeout", "protocol", "http", "io",
    "too_many_redirects", "redirect", "too_large", "decode", "truncated",
    "network", "resource", "proxy",
}


def load(path):
    records = []
    with open(path, "rb") as f:
        for raw in f:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except ValueError:
                records.append({"_unparsable": line})
    return records


def show(value):
    if isinstance(value, str):
        return value
    return json.dumps(value)


def cmd_get(path, field, url=None):
    for r in load(path):
        if url is not None and r.get("url") != url:
            continue
        return show(r[field]) if field in r else "<missing>"
    return "<missing>"


def cmd_count(path, expr):
    # Parenthesised so that an expression may span lines.
    code = compile("(" + expr + "\n)", "<expr>", "eval")
    n = 0
    for r in load(path):
        if "_unparsable" in r:
            continue
        try:
            if eval(code, {"re": __import__("re")}, {"r": r}):
                n += 1
        except (KeyError, TypeError):
            pass
    return str(n)


def check_record(r):
    problems = []
    if "_unparsable" in r:
        return ["not JSON: %r" % r["_unparsable"][:200]]
    if not isinstance(r, dict):
        return ["not an object: %r" % (r,)]
    for key, types in KEYS.items():
        if key not in r:
            problems.append("missing key %r" % key)
        elif not isinstance(r[key], types) or (
                bool not in types and isinstance(r[key], bool)):
            problems.append("key %r has type %s" % (key, type(r[key]).__name__))
    if problems:
        return problems
    if r["ok"]:
        if r["error_kind"] is not None:
            problems.append("ok but error_kind %r" % r["error_kind"])
    else:
        if r["error_kind"] not in ERROR_KINDS:
            problems.append("failed with error_kind %r" % r["error_kind"])
        if not r["error"]:
            problems.append("failed with no error text")
    if r["redirects"] < 0 or r["retries"] < 0:
        problems.append("negative redirects or retries")
    if r["bytes"] < 0 or r["time_total_ms"] < 0 or r["queued_ms"] < 0:
        problems.append("negative bytes or time")
    if r["index"] < 1:
        problems.append("index %r below 1" % r["index"])
    t = r["time"]
    if list(t) != list(TIME_KEYS):
        problems.append("time has keys %r" % list(t))
    elif any(isinstance(t[k], bool) or not isinstance(t[k], (int, float))
             or t[k] < 0 for k in TIME_KEYS):
        problems.append("time has a value that is not a number >= 0: %r" % t)
    elif t["total_ms"] != r["time_total_ms"]:
        problems.append("time.total_ms differs from time_total_ms")
    if r["content_length"] is not None and r["content_length"] < 0:
        problems.append("negative content_length")
    if not RFC3339.match(r["started_at"]):
        problems.append("started_at %r is not RFC 3339 UTC" % r["started_at"])
    elif not r["started_at"].endswith("Z") or "." not in r["started_at"]:
        problems.append("started_at %r has no milliseconds" % r["started_at"])
    if r["cert_not_after"] is not None and not RFC3339.match(r["cert_not_after"]):
        problems.append("cert_not_after %r is not RFC 3339 UTC" % r["cert_not_after"])
    if (r["tls_version"] is None) != (r["tls_cipher"] is None):
        problems.append("tls_version and tls_cipher disagree")
    # only with --report-header: lower-case names, string or null values
    if "headers" in r:
        h = r["headers"]
        if not isinstance(h, dict) or not h:
            problems.append("headers is not a non-empty object: %r" % (h,))
        elif any(k != k.lower() or not isinstance(v, (str, type(None)))
                 for k, v in h.items()):
            problems.append("headers has a bad name or value: %r" % (h,))
    for key, types in OPTIONAL_KEYS.items():
        if key in r and (not isinstance(r[key], types) or isinstance(r[key], bool)):
            problems.append("key %r has type %s" % (key, type(r[key]).__name__))
    if r.get("http_version") not in HTTP_VERSIONS:
        problems.append("http_version %r is none of %r" % (r["http_version"], HTTP_VERSIONS))
    elif r["ok"] and r["status"] is not None and "http_version" in r and r["http_version"] is None:
        problems.append("a response with http_version null")
    extra = set(r) - set(KEYS) - set(OPTIONAL_KEYS) - {"headers"}
    if extra:
        problems.append("unknown keys %r" % sorted(extra))
    return problems


def cmd_check(path):
    bad = 0
    for i, r in enumerate(load(path), 1):
        for p in check_record(r):
            print("line %d: %s" % (i, p))
            bad += 1
    return bad == 0


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    cmd, path = argv[1], argv[2]
    try:
        if cmd == "get" and len(argv) in (4, 5):
            print(cmd_get(path, argv[3], argv[4] if len(argv) == 5 else None))
        elif cmd == "count" and len(argv) == 4:
            print(cmd_count(path, argv[3]))
        elif cmd == "check" and len(argv) == 3:
            return 0 if cmd_check(path) else 1
        elif cmd == "urls" and len(argv) == 3:
            for r in load(path):
                print(r.get("url", "<missing>"))
        elif cmd == "show" and len(argv) in (3, 4):
            limit = int(argv[3]) if len(argv) == 4 else 20
            for r in load(path)[:limit]:
                print(json.dumps(r, sort_keys=True)[:500])
        else:
            sys.stderr.write(__doc__)
            return 2
    except OSError as e:
        print("<missing>")
        sys.stderr.write("report.py: %s\n" % e)
        return 2
    except SyntaxError as e:
        sys.stderr.write("report.py: bad expression: %s\n" % e)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
