#!/usr/bin/env python3
"""warcq.py - queries on check.mjs's JSON for tests/integration/warc.sh.

  warcq.py common JSON      what every WARC file of evfetch must satisfy;
                            prints one line per violation, exit 1 if any
  warcq.py q JSON EXPR      print the value of the Python expression EXPR
                            (a string as it is, anything else as JSON)

Names EXPR can use: d (the whole output), R (the records), F (the files),
of(TYPE) (the records of a type), pairs() ([request, response] records
paired by WARC-Concurrent-To), hdr(REC, NAME) (the values of an HTTP
header of the record's block), sha(PATH) (sha256 of a file), fileb(PATH)
(its bytes), sha256(BYTES).
"""

import hashlib
import json
import re
import sys


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def fileb(path):
    with open(path, "rb") as f:
        return f.read()


def sha(path):
    return sha256(fileb(path))


def load(path):
    with open(path) as f:
        return json.load(f)


def hdr(rec, name):
    h = rec.get("http") or {}
    return [v for n, v in h.get("headers", []) if n.lower() == name.lower()]


def common(d):
    """The violations of the rules every evfetch WARC keeps."""
    bad = []
    recs = d["records"]
    by_id = {r["record_id"]: r for r in recs}
    for f in d["files"]:
        first = next((r for r in recs if r["file"] == f["file"]), None)
        if not first or first["type"] != "warcinfo":
            bad.append("%s: the first record is %s, not warcinfo"
                       % (f["file"], first and first["type"]))
    for n, r in enumerate(recs):
        where = "record %d (%s %s)" % (n, r["type"], r["target_uri"])
        if r["version"] != "WARC/1.1":
            bad.append("%s: version %s" % (where, r["version"]))
        for p in r["problems"]:
            bad.append("%s: %s" % (where, p))
        if r["type"] == "warcinfo":
            if r["content_type"] != "application/warc-fields":
                bad.append("%s: Content-Type %s" % (where, r["content_type"]))
            continue
        if r["type"] not in ("request", "response"):
            bad.append("%s: unexpected type" % where)
            continue
        other = "response" if r["type"] == "request" else "request"
        if not re.fullmatch(r"application/http; ?msgtype=%s" % r["type"], r["content_type"] or ""):
            bad.append("%s: Content-Type %s" % (where, r["content_type"]))
        u = r["target_uri"] or ""
        if not re.fullmatch(r"https?://[^\s<>]+", u):
            bad.append("%s: WARC-Target-URI %r" % (where, u))
        if r["ip"] != "127.0.0.1":
            bad.append("%s: WARC-IP-Address %r" % (where, r["ip"]))
        if not r["block_digest"]:
            bad.append("%s: no WARC-Block-Digest" % where)
        if r["type"] == "response" and not r["payload_digest"]:
            bad.append("%s: no WARC-Payload-Digest" % where)
        mates = [by_id.get(c) for c in r["concurrent_to"]]
        mates = [m for m in mates if m and m["type"] == other]
        if len(mates) != 1:
            bad.append("%s: WARC-Concurrent-To %s names %d %s records"
                       % (where, r["concurrent_to"], len(mates), other))
        elif r["record_id"] not in mates[0]["concurrent_to"]:
            bad.append("%s: its %s does not name it back" % (where, other))
        elif mates[0]["target_uri"] != u:
            bad.append("%s: its %s is for %s" % (where, other, mates[0]["target_uri"]))
        protos = [p for p in r["protocol"] if p in ("http/1.1", "h2")]
        if len(protos) != 1:
            bad.append("%s: WARC-Protocol %s" % (where, r["protocol"]))
        tls = [p for p in r["protocol"] if p.startswith("tls/")]
        if u.startswith("https:") != (tls in (["tls/1.3"], ["tls/1.2"])):
            bad.append("%s: WARC-Protocol %s for %s" % (where, r["protocol"], u))
        h = r["http"]
        if not h:
            bad.append("%s: no HTTP head in the block" % where)
            continue
        if r["type"] == "request":
            if not re.fullmatch(r"[A-Z]+ \S+ HTTP/1\.1", h["first_line"]):
                bad.append("%s: request line %r" % (where, h["first_line"]))
            if len(hdr(r, "host")) != 1:
                bad.append("%s: Host lines %s" % (where, hdr(r, "host")))
        else:
            if not re.fullmatch(r"HTTP/1\.1 \d{3}( .*)?", h["first_line"]):
                bad.append("%s: status line %r" % (where, h["first_line"]))
            if r["warcio_status"] != h.get("status"):
                bad.append("%s: warcio reads status %s" % (where, r["warcio_status"]))
            if not r["payload_complete"] and not r["truncated"]:
                bad.append("%s: the body is shorter than its framing says, "
                           "and no WARC-Truncated" % where)
        if r["truncated"] not in (None, "length", "time", "disconnect", "unspecified"):
            bad.append("%s: WARC-Truncated %r" % (where, r["truncated"]))
    return bad


def main(argv):
    if len(argv) >= 3 and argv[1] == "common":
        bad = common(load(argv[2]))
        for b in bad:
            print(b)
        return 1 if bad else 0
    if len(argv) == 4 and argv[1] == "q":
        d = load(argv[2])
        R, F = d["records"], d["files"]

        def of(t):
            return [r for r in R if r["type"] == t]

        def pairs():
            by_id = {r["record_id"]: r for r in R}
            return [[by_id.get(c), r] for r in of("response")
                    for c in r["concurrent_to"][:1]]

        env = dict(d=d, R=R, F=F, of=of, pairs=pairs, hdr=hdr, sha=sha,
                   fileb=fileb, sha256=sha256, re=re, len=len, sorted=sorted,
                   set=set)
        v = eval(argv[3], env)
        print(v if isinstance(v, str) else json.dumps(v))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
