#!/usr/bin/env python3
"""hangup.py - a client that gives up on a request of examples/fetchd.

Used by tests/integration/example.sh: sends one GET to fetchd, waits until
fetchd's /stats shows the request's upstream transfers running, then
closes its connection (a FIN, or with --reset an RST) and measures how
long fetchd takes to end those transfers.

    hangup.py BASE PATH --running N [--reset] [--give-up SECS] [--fields F,...]

BASE is the server's http://127.0.0.1:PORT, PATH the request to give up
on (fetchd's /fetch?url=... or /proxy?url=..., the aggregator's /agg?n=K).
Prints one line:

    gone_ms=M left=V,...

M is the time from the close until every one of the --fields of /stats
was 0 (or -1 when that did not happen within --give-up seconds, default
5), and V,... their values as last seen; the default fields are
fetchd's transfers_active, transfers_queued, fetch_jobs_active and
proxies_active.
Exit status 0, or 2 when the transfers never started (N were not seen
running within --give-up seconds).
"""
import argparse
import json
import socket
import struct
import sys
import time
import urllib.parse

FIELDS = "transfers_active,transfers_queued,fetch_jobs_active,proxies_active"


def stats(host, port):
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(b"GET /stats HTTP/1.1\r\nHost: fetchd\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    body = data.split(b"\r\n\r\n", 1)[1]
    return json.loads(body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("path")
    ap.add_argument("--running", type=int, required=True)
    ap.add_argument("--reset", action="store_true")
    ap.add_argument("--give-up", type=float, default=5.0)
    ap.add_argument("--fields", default=FIELDS)
    a = ap.parse_args()
    fields = a.fields.split(",")
    u = urllib.parse.urlsplit(a.base)
    host, port = u.hostname, u.port

    s = socket.create_connection((host, port), timeout=5)
    s.sendall(("GET %s HTTP/1.1\r\nHost: fetchd\r\n\r\n" % a.path).encode())
    end = time.monotonic() + a.give_up
    st = stats(host, port)
    while st["transfers_active"] < a.running:
        if time.monotonic() > end:
            print("the transfers did not start: %s" % json.dumps(st), file=sys.stderr)
            return 2
        time.sleep(0.01)
        st = stats(host, port)

    if a.reset:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    t0 = time.monotonic()
    end = t0 + a.give_up
    gone = -1
    while True:
        st = stats(host, port)
        if all(st[f] == 0 for f in fields):
            gone = (time.monotonic() - t0) * 1000
            break
        if time.monotonic() > end:
            break
        time.sleep(0.005)
    print("gone_ms=%d left=%s" % (gone, ",".join(str(st[f]) for f in fields)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
