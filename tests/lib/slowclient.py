#!/usr/bin/env python3
"""slowclient.py - an HTTP/1.1 GET client that reads its response slowly.

Used by tests/integration/example.sh to stand for a client on a slow link:
the receive buffer is kept small and the socket is read at a fixed rate, so
the server's output backs up (curl's --limit-rate is not reliable enough
for that in every version).

    slowclient.py URL --rate BYTES_PER_SEC [--out FILE] [--stop-after SECS]

Prints the response status on stdout.  Exit status: 0 when the whole
response (Content-Length, or chunked up to the last chunk, or until close)
arrived; 1 when it was cut short; 3 after --stop-after gave up on purpose
(the connection is then reset, as a client that vanishes would).
"""
import argparse
import socket
import struct
import sys
import time
import urllib.parse


def dechunk(data):
    """Decode a chunked body; returns (body, complete)."""
    body = bytearray()
    pos = 0
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return bytes(body), False
        size = int(data[pos:eol].split(b";")[0], 16)
        pos = eol + 2
        if size == 0:
            return bytes(body), True
        if pos + size + 2 > len(data):
            body += data[pos:pos + size]
            return bytes(body), False
        body += data[pos:pos + size]
        pos += size + 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--rate", type=int, required=True)
    ap.add_argument("--out")
    ap.add_argument("--stop-after", type=float)
    ap.add_argument("--rcvbuf", type=int, default=16384)
    a = ap.parse_args()

    u = urllib.parse.urlsplit(a.url)
    target = u.path + ("?" + u.query if u.query else "")
    s = socket.socket()
    # before connect, so that the window the server sees stays small
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
    s.connect((u.hostname, u.port))
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
               % (target, u.netloc)).encode())
    raw = bytearray()
    start = time.monotonic()
    while True:
        now = time.monotonic()
        if a.stop_after is not None and now - start >= a.stop_after:
            # RST rather than FIN: unread data is dropped at once
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
            s.close()
            print("gave up after %d bytes" % len(raw))
            return 3
        # stay at or below the rate: sleep until the bytes read are due
        ahead = len(raw) / a.rate - (now - start)
        if ahead > 0:
            time.sleep(min(ahead, 0.05))
            continue
        chunk = s.recv(4096)
        if not chunk:
            break
        raw += chunk
    s.close()

    head, sep, rest = bytes(raw).partition(b"\r\n\r\n")
    if not sep:
        print("no response head")
        return 1
    lines = head.split(b"\r\n")
    status = lines[0].split()[1].decode()
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower()] = v.strip().lower()
    if headers.get(b"transfer-encoding") == b"chunked":
        body, complete = dechunk(rest)
    elif b"content-length" in headers:
        n = int(headers[b"content-length"])
        body, complete = rest[:n], len(rest) >= n
    else:
        body, complete = rest, True
    if a.out:
        with open(a.out, "wb") as f:
            f.write(body)
    print(status)
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
