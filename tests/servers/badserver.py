#!/usr/bin/env python3
"""badserver.py - a deliberately misbehaving HTTP/1.1 server for evfetch tests.

Standard library only (asyncio).  Listens on 127.0.0.1 only.  The request
path chooses what the server does, so one server covers every scenario:

  /ok/N                 N bytes (body_bytes(N)), Content-Length, keep-alive
  /chunked/N            N bytes, valid chunked encoding (?ext=1 adds chunk
                        extensions, ?ext=quoted quoted ones with quoted-pairs,
                        BWS and several per line, ?trailer=1 a trailer field)
  /fill/N?c=X           N bytes of the character X (default a); ?chunked=1
  /name/ANYTHING        200, body = the request target as received + "\\n"
  /echo                 200, body = the request head as received
  /stats                200, JSON: connections, requests, active
  /status/N             status N, body "status N\\n" (none for 1xx/204/304)
  /http10/N             an HTTP/1.0 response with Content-Length, then close
  /close-early          Content-Length: 1000, 10 bytes, clean close
  /truncate-chunked     one chunk, no terminating 0 chunk, clean close
  /close-delimited/N    no length, Connection: close, N bytes, clean close
                        (with TLS: close_notify is sent)
  /close-delimited-unclean/N   the same but the TCP connection is closed
                        without close_notify (plain HTTP: same as above)
  /reset                RST right after reading the request (SO_LINGER 0)
  /reset-mid            Content-Length: 100000, 1000 bytes, then RST
  /stall-headers        read the request, never answer
  /stall-body           headers with Content-Length: 1000, then nothing
  /trickle/N?interval=S Content-Length N (default 5), one byte every S
                        seconds (default 2)
  /late/N?wait=S        like /ok/N, but the response starts S seconds
                        (default 1) after the request; ?status=C answers
                        with status C instead of 200
  /headers?NAME=VALUE&...   200, body "headers\n", each pair of the query
                        sent as a response header, in order (a name may
                        repeat)
  /slow-head            a valid response whose head is sent one byte at a
                        time, 5 ms apart
  /bad-chunk            chunk size "zz"
  /huge-chunk-size      chunk size ffffffffffffffffff
  /dup-cl               Content-Length: 5 and Content-Length: 6
  /cl-and-te            Content-Length and Transfer-Encoding: chunked
  /negative-cl          Content-Length: -1
  /huge-cl              Content-Length: 99999999999999999999999
  /no-status-line       a bare body (HTTP/0.9 style), then close
  /garbage-status       "HTTP/1.1 abc Nonsense"
  /long-header          one header line of 1 MiB
  /many-headers         10000 header lines
  /extra-bytes          Content-Length: 5, then 5 bytes followed by a whole
                        fake response ("POISON"), keep-alive; ?delay=S sends
                        the fake response S seconds later
  /100-continue         "100 Continue", then 200 with body "continued\\n"
  /103-early-hints      "103 Early Hints", then 200 with body "hinted\\n"
  /redirect/CODE?to=T   status CODE with Location: T
  /redirect-loop        302 to itself (?n= counts up)
  /redirect-chain/N     302 to /redirect-chain/N-1; /redirect-chain/0 is 200
  /gzip/N               gzip of body_bytes(N), Content-Encoding: gzip
  /deflate/N            zlib stream of body_bytes(N), Content-Encoding: deflate
  /bad-gzip             Content-Encoding: gzip, corrupt data
  /gzip-bomb            Content-Encoding: gzip, ~100 KB expanding to 100 MiB
  /slow-503-then-ok?key=K   503 the first time K is seen, 200 afterwards
  /retry-after[?key=K]  503 with Retry-After: 1 (with a key: only the first
                        time, 200 afterwards); ?after=S sends S instead,
                        ?date=1 sends it as an HTTP-date S seconds ahead
  /rel/ANY/PATH[?to=T&code=C]  with to: status C (default 302) and
                        Location: T exactly as given; without: 200, body =
                        the request target + "\n" (for relative redirects)
  /disposition/NAME     200, body "disposition\n", Content-Disposition:
                        attachment; filename="../../evil" (and filename*)
  /deflate-raw/N        raw deflate (no zlib wrapper) of body_bytes(N),
                        Content-Encoding: deflate
  /gzip-truncated/N     gzip of body_bytes(N) cut after half of its bytes,
                        framed correctly (Content-Length of what is sent)
  (/gzip, /deflate, /deflate-raw and /gzip-bomb take ?chunked=1 for chunked
  framing and ?close=1 for a close-delimited body)
  /seeded/NAME?n=N      200, body = seeded_body(NAME, N) (?chunked=1)
  /flaky/KIND/NAME?key=K&n=N   the first time K is seen, fail as KIND:
                        reset (a partial status line, then RST),
                        stall-head (no answer), stall-body (the head, no
                        body), 503, trunc-head (a partial head, then close),
                        trunc-body (the head and half the body, then close),
                        stall-mid (the head and half the body, then nothing);
                        afterwards like /seeded/NAME?n=N
  /dup-cl-same          Content-Length: 5 twice
  /cl-list              Content-Length: 5, 5
  /cl-plus              Content-Length: +5
  /cl-space-colon       "Content-Length : 5" (whitespace before the colon)
  /huge-status          status code 99999999999999999999
  /four-digit-status    status code 2000
  /chunk-no-crlf        chunk data not followed by CRLF
  /chunk-negative       chunk size -5
  /chunk-bad-ext        a chunk extension whose quoted string never ends
  /header-nul           a NUL byte inside a header value
  /te-unknown           Transfer-Encoding: chunked, then a second header
                        Transfer-Encoding: gzip (chunked not last)
Any request may carry ?idle-close=S: the server then closes the connection
(cleanly) when no next request arrives within S seconds.

Any other path gets a 404 whose body names the request target.  HEAD is honoured by the well-behaved scenarios.

body_bytes(N) is a fixed 63-byte pattern repeated to N bytes; print it with
`badserver.py --print-body N`.  seeded_body(NAME, N) is "NAME\n" followed
by N bytes of the pattern starting at an offset taken from NAME, so every
name has its own body (tests import this file to compute it).

Options:
  --port P              0 (default) picks a free port
  --port-file FILE      write the port there (atomically) once listening;
                        without it the port is the first line on stdout
  --tls CERT KEY        serve TLS
  --tls-max VERSION     TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3 (and --tls-min)
  --tls-next CERT KEY   (repeatable) the first TLS connection presents the
                        --tls certificate, the later ones these in turn
  --no-tickets          give no TLS session tickets (and keep no sessions)
  --handshake-stall     accept TCP connections, then read and send nothing
  --handshake-reset     accept TCP connections, read the first bytes (the
                        ClientHello), then close with a TCP RST
  --log FILE            one line per connection and request (default stderr)

SIGTERM or SIGINT: close everything and exit 0.
"""

import argparse
import asyncio
import json
import os
import resource
import signal
import socket
import ssl
import struct
import sys
import time
import warnings
import zlib
from urllib.parse import parse_qs, parse_qsl, urlsplit

PATTERN = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n"
WRITE_PIECE = 64 * 1024
REASONS = {
    100: "Continue", 103: "Early Hints", 200: "OK", 204: "No Content",
    301: "Moved Permanently", 302: "Found", 303: "See Other",
    304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 403: "Forbidden", 404: "Not Found",
    431: "Request Header Fields Too Large", 500: "Internal Server Error",
    502: "Bad Gateway", 503: "Service Unavailable",
}


def body_bytes(n, offset=0):
    """Bytes offset..offset+n of the endless repetition of PATTERN."""
    start = offset % len(PATTERN)
    reps = (start + n) // len(PATTERN) + 1
    return (PATTERN * reps)[start:start + n]


def seeded_body(name, n):
    """The body of /seeded/NAME?n=N: unique to NAME, N + len(NAME) + 1 bytes."""
    offset = zlib.crc32(name.encode("utf-8", "surrogateescape")) % len(PATTERN)
    return name.encode("utf-8", "surrogateescape") + b"\n" + body_bytes(n, offset)


def deflate_raw(data):
    co = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return co.compress(data) + co.flush()


class Request:
    def __init__(self, raw):
        self.raw = raw
        lines = raw.split(b"\r\n")
        parts = lines[0].decode("latin-1").split(" ")
        if len(parts) != 3:
            raise ValueError("bad request line")
        self.method, self.target, self.version = parts
        self.headers = {}
        for line in lines[1:]:
            if not line:
                continue
            name, _, value = line.decode("latin-1").partition(":")
            self.headers[name.strip().lower()] = value.strip()
        split = urlsplit(self.target)
        self.path = split.path
        self.query = {k: v[0] for k, v in parse_qs(split.query).items()}

    def keep_alive(self):
        conn = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in conn
        return "close" not in conn


def head(status, headers=(), reason=None, version="HTTP/1.1"):
    if reason is None:
        reason = REASONS.get(status, "Status")
    lines = ["%s %d %s" % (version, status, reason)]
    lines += ["%s: %s" % h for h in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


# Valid chunk extensions (RFC 9112, 7.1.1) that llhttp 8 alone refuses.
QUOTED_EXTS = (b';name="q;uo\\"ted"', b' ; a = "x\\\\y" ;\tb', b';c=d;e="\\\x80"',
               b'', b'; f="" ;g=h')


def chunked(data, sizes=(1, 10, 100, 1000, 4096), ext=None, trailer=False):
    """ext: None, "1" (a token extension on every other chunk) or "quoted"
    (QUOTED_EXTS in turn, on the last chunk too)."""
    out, i, k = [], 0, 0
    while i < len(data):
        n = sizes[k % len(sizes)]
        piece = data[i:i + n]
        size = b"%x" % len(piece)
        if ext == "quoted":
            size += QUOTED_EXTS[k % len(QUOTED_EXTS)]
        elif ext == "1" and k % 2 == 0:
            size += b";evf=%d" % k
        out.append(size + b"\r\n" + piece + b"\r\n")
        i += n
        k += 1
    last = b'0;end="\\"ok\\""' if ext == "quoted" else b"0"
    out.append(last + (b"\r\nX-Trailer: yes\r\n\r\n" if trailer else b"\r\n\r\n"))
    return b"".join(out)


def rst(transport):
    """Close the connection with a TCP RST instead of a FIN."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
        except OSError:
            pass
    transport.abort()


# What a handler returns: keep the connection for the next request, close it
# cleanly (with close_notify under TLS), or nothing left to do (it already
# aborted the connection).
KEEP, CLOSE, DONE = "keep", "close", "done"


class BadServer:
    def __init__(self, args):
        self.args = args
        self.log_file = open(args.log, "a", buffering=1) if args.log else sys.stderr
        self.connections = 0
        self.requests = 0
        self.active = 0
        self.seen_keys = set()
        self.tasks = set()
        self.stalled = set()
        self.bomb = None

    def log(self, msg):
        try:
            self.log_file.write(msg + "\n")
        except (OSError, ValueError):
            pass

    # ------------------------------------------------------------ plumbing

    async def send(self, writer, data):
        for i in range(0, len(data), WRITE_PIECE):
            writer.write(data[i:i + WRITE_PIECE])
            await writer.drain()

    async def wait_for_eof(self, reader):
        """Hold the connection until the client closes it."""
        while await reader.read(65536):
            pass

    async def read_request(self, reader):
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        req = Request(raw[:-4])
        length = int(req.headers.get("content-length", "0") or 0)
        if length > 0:
            await reader.readexactly(length)
        return req

    async def handle(self, reader, writer):
        task = asyncio.current_task()
        self.tasks.add(task)
        self.connections += 1
        self.active += 1
        conn = self.connections
        self.log("conn=%d open" % conn)
        outcome = CLOSE
        try:
            n = 0
            idle = None
            while True:
                try:
                    if idle is None:
                        req = await self.read_request(reader)
                    else:
                        req = await asyncio.wait_for(self.read_request(reader), idle)
                except asyncio.TimeoutError:
                    self.log("conn=%d idle for %gs: closing" % (conn, idle))
                    break
                except asyncio.LimitOverrunError:
                    await self.send(writer, head(431, [("Content-Length", "0"),
                                                       ("Connection", "close")]))
                    break
                except ValueError:
                    await self.send(writer, head(400, [("Content-Length", "0"),
                                                       ("Connection", "close")]))
                    break
                if req is None:
                    break
                n += 1
                self.requests += 1
                self.log("conn=%d req=%d %s %s" % (conn, n, req.method, req.target))
                outcome = await self.dispatch(req, reader, writer, conn, n)
                idle = float(req.query["idle-close"]) if "idle-close" in req.query else None
                if outcome != KEEP or not req.keep_alive():
                    break
        except (ConnectionError, OSError, ssl.SSLError,
                asyncio.IncompleteReadError) as e:
            self.log("conn=%d error %s" % (conn, e.__class__.__name__))
            outcome = DONE
            writer.transport.abort()
        except asyncio.CancelledError:
            outcome = DONE
            writer.transport.abort()
        finally:
            self.active -= 1
            self.tasks.discard(task)
            if outcome != DONE and not writer.is_closing():
                writer.close()
                try:
                    await asyncio.wait_for(writer.wait_closed(), 5)
                except (Exception, asyncio.CancelledError):
                    writer.transport.abort()
            self.log("conn=%d closed" % conn)

    async def dispatch(self, req, reader, writer, conn, n):
        parts = req.path.split("/")
        name = parts[1] if len(parts) > 1 else ""
        arg = "/".join(parts[2:])
        fn = getattr(self, "h_" + name.replace("-", "_"), None) if name else None
        if fn is None:
            fn = self.h_not_found
        try:
            return await fn(req, arg, reader, writer, conn=conn, n=n)
        except ValueError:
            await self.send(writer, head(400, [("Content-Length", "0")]))
            return CLOSE

    async def reply(self, writer, req, status, body=b"", headers=(), **kw):
        """A well-formed response with Content-Length; HEAD gets no body."""
        hdrs = list(headers)
        if status >= 200 and status not in (204, 304):
            hdrs.append(("Content-Length", str(len(body))))
        else:
            body = b""
        if not req.keep_alive():
            hdrs.append(("Connection", "close"))
        await self.send(writer, head(status, hdrs, **kw))
        if req.method != "HEAD" and body:
            await self.send(writer, body)
        return KEEP

    # ------------------------------------------------------ good behaviour

    async def h_ok(self, req, arg, reader, writer, **_):
        size = int(arg)
        hdrs = [("Content-Length", str(size)), ("Content-Type", "text/plain")]
        if not req.keep_alive():
            hdrs.append(("Connection", "close"))
        await self.send(writer, head(200, hdrs))
        if req.method != "HEAD":
            for off in range(0, size, WRITE_PIECE):
                writer.write(body_bytes(min(WRITE_PIECE, size - off), off))
                await writer.drain()
        return KEEP

    async def h_late(self, req, arg, reader, writer, **kw):
        await asyncio.sleep(float(req.query.get("wait", "1")))
        if "status" in req.query:
            return await self.reply(writer, req, int(req.query["status"]),
                                    body_bytes(int(arg)))
        return await self.h_ok(req, arg, reader, writer, **kw)

    async def h_headers(self, req, arg, reader, writer, **_):
        pairs = parse_qsl(urlsplit(req.target).query, keep_blank_values=True)
        return await self.reply(writer, req, 200, b"headers\n", headers=pairs)

    async def h_chunked(self, req, arg, reader, writer, **_):
        data = body_bytes(int(arg))
        hdrs = [("Transfer-Encoding", "chunked"), ("Content-Type", "text/plain")]
        if req.method == "HEAD":
            await self.send(writer, head(200, hdrs))
            return KEEP
        await self.send(writer, head(200, hdrs) + chunked(
            data, ext=req.query.get("ext"),
            trailer=req.query.get("trailer") == "1"))
        return KEEP

    async def h_fill(self, req, arg, reader, writer, **_):
        size = int(arg)
        c = req.query.get("c", "a").encode("latin-1")[:1] or b"a"
        data = c * size
        if req.query.get("chunked") == "1":
            await self.send(writer, head(200, [("Transfer-Encoding", "chunked")]))
            if req.method != "HEAD":
                await self.send(writer, chunked(data, sizes=(7000, 333, 20000)))
            return KEEP
        return await self.reply(writer, req, 200, data)

    async def h_name(self, req, arg, reader, writer, **_):
        return await self.reply(writer, req, 200,
                                req.target.encode("latin-1") + b"\n")

    async def h_echo(self, req, arg, reader, writer, **_):
        return await self.reply(writer, req, 200, req.raw + b"\r\n")

    async def h_stats(self, req, arg, reader, writer, **_):
        body = json.dumps({"connections": self.connections,
                           "requests": self.requests,
                           "active": self.active}).encode() + b"\n"
        return await self.reply(writer, req, 200, body)

    async def h_not_found(self, req, arg, reader, writer, **_):
        return await self.reply(writer, req, 404, b"no such scenario: %s\n" %
                                req.target.encode("latin-1"))

    async def h_status(self, req, arg, reader, writer, **_):
        code = int(arg)
        if not 100 <= code <= 999:
            raise ValueError(code)
        if code < 200:
            # An informational response alone would leave the client
            # waiting; follow it with a final one.
            await self.send(writer, head(code))
            return await self.reply(writer, req, 200, b"after %d\n" % code)
        return await self.reply(writer, req, code, b"status %d\n" % code)

    async def h_http10(self, req, arg, reader, writer, **_):
        data = body_bytes(int(arg))
        await self.send(writer, head(200, [("Content-Length", str(len(data)))],
                                     version="HTTP/1.0") + data)
        return CLOSE

    async def h_slow_head(self, req, arg, reader, writer, **_):
        data = head(200, [("Content-Length", "6"), ("X-Slow", "yes")]) + b"slow!\n"
        for i in range(len(data)):
            writer.write(data[i:i + 1])
            await writer.drain()
            await asyncio.sleep(0.005)
        return KEEP

    async def h_100_continue(self, req, arg, reader, writer, **_):
        await self.send(writer, head(100))
        return await self.reply(writer, req, 200, b"continued\n")

    async def h_103_early_hints(self, req, arg, reader, writer, **_):
        await self.send(writer, head(103, [("Link", "</style.css>; rel=preload")]))
        return await self.reply(writer, req, 200, b"hinted\n")

    async def h_redirect(self, req, arg, reader, writer, **_):
        code = int(arg or "302")
        return await self.reply(writer, req, code, b"redirect\n",
                                [("Location", req.query.get("to", "/ok/5"))])

    async def h_stall_redirect(self, req, arg, reader, writer, **_):
        # a 302 that announces a body and never sends it
        await self.send(writer, head(302, [("Content-Length", "100"),
                                           ("Location", "/ok/5")]))
        await self.wait_for_eof(reader)
        return CLOSE

    async def h_close_redirect(self, req, arg, reader, writer, **_):
        # a 302 whose body only the close ends
        await self.send(writer, head(302, [("Connection", "close"),
                                           ("Location", "/ok/5")]) + b"x" * 5000)
        return CLOSE

    async def h_redirect_loop(self, req, arg, reader, writer, **_):
        n = int(req.query.get("n", "0")) + 1
        return await self.reply(writer, req, 302, b"again\n",
                                [("Location", "/redirect-loop?n=%d" % n)])

    async def h_redirect_chain(self, req, arg, reader, writer, **_):
        left = int(arg)
        if left <= 0:
            return await self.reply(writer, req, 200, b"done\n")
        return await self.reply(writer, req, 302, b"next\n",
                                [("Location", "/redirect-chain/%d" % (left - 1))])

    async def encoded(self, req, writer, data, coding):
        """data with Content-Encoding coding, framed as the query asks."""
        hdrs = [("Content-Encoding", coding)]
        if req.query.get("chunked") == "1":
            await self.send(writer, head(200, hdrs + [("Transfer-Encoding", "chunked")]))
            if req.method != "HEAD":
                await self.send(writer, chunked(data, sizes=(1, 7, 300, 5000, 16384)))
            return KEEP
        if req.query.get("close") == "1":
            await self.send(writer, head(200, hdrs + [("Connection", "close")]))
            if req.method != "HEAD":
                await self.send(writer, data)
            return CLOSE
        return await self.reply(writer, req, 200, data, hdrs)

    async def h_gzip(self, req, arg, reader, writer, **_):
        co = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        data = co.compress(body_bytes(int(arg))) + co.flush()
        return await self.encoded(req, writer, data, "gzip")

    async def h_deflate(self, req, arg, reader, writer, **_):
        data = zlib.compress(body_bytes(int(arg)))
        return await self.encoded(req, writer, data, "deflate")

    async def h_deflate_raw(self, req, arg, reader, writer, **_):
        return await self.encoded(req, writer, deflate_raw(body_bytes(int(arg))),
                                  "deflate")

    async def h_gzip_truncated(self, req, arg, reader, writer, **_):
        co = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        data = co.compress(body_bytes(int(arg))) + co.flush()
        return await self.encoded(req, writer, data[:len(data) // 2], "gzip")

    async def h_bad_gzip(self, req, arg, reader, writer, **_):
        data = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"not deflate data" * 8
        return await self.reply(writer, req, 200, data,
                                [("Content-Encoding", "gzip")])

    async def h_gzip_bomb(self, req, arg, reader, writer, **_):
        if self.bomb is None:
            co = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
            zeros = bytes(1 << 20)
            self.bomb = b"".join(co.compress(zeros) for _ in range(100)) + co.flush()
        return await self.encoded(req, writer, self.bomb, "gzip")

    async def h_slow_503_then_ok(self, req, arg, reader, writer, **_):
        key = req.query.get("key", "")
        if key not in self.seen_keys:
            self.seen_keys.add(key)
            return await self.reply(writer, req, 503, b"try again\n")
        return await self.reply(writer, req, 200, b"ok %s\n" % key.encode())

    async def h_retry_after(self, req, arg, reader, writer, **_):
        key = req.query.get("key")
        if key is not None and key in self.seen_keys:
            return await self.reply(writer, req, 200, b"ok %s\n" % key.encode())
        if key is not None:
            self.seen_keys.add(key)
        after = req.query.get("after", "1")
        if req.query.get("date") == "1":
            # An HTTP-date has whole seconds: round up so the client never
            # sees less than asked.
            when = time.time() + float(after) + 1
            after = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(when))
        return await self.reply(writer, req, 503, b"later\n",
                                [("Retry-After", after)])

    async def h_rel(self, req, arg, reader, writer, **_):
        if "to" in req.query:
            return await self.reply(writer, req, int(req.query.get("code", "302")),
                                    b"redirect\n", [("Location", req.query["to"])])
        return await self.reply(writer, req, 200, req.target.encode("latin-1") + b"\n")

    async def h_disposition(self, req, arg, reader, writer, **_):
        return await self.reply(writer, req, 200, b"disposition\n", [
            ("Content-Disposition", 'attachment; filename="../../evil"; '
             "filename*=UTF-8''..%2F..%2Fevil2")])

    async def h_seeded(self, req, arg, reader, writer, **_):
        data = seeded_body(arg, int(req.query.get("n", "0")))
        if req.query.get("chunked") == "1":
            await self.send(writer, head(200, [("Transfer-Encoding", "chunked")]))
            if req.method != "HEAD":
                await self.send(writer, chunked(data, sizes=(1000, 1, 4096, 77)))
            return KEEP
        return await self.reply(writer, req, 200, data)

    async def h_flaky(self, req, arg, reader, writer, **kw):
        kind, _, name = arg.partition("/")
        key = req.query.get("key", "")
        if key in self.seen_keys:
            return await self.h_seeded(req, name, reader, writer, **kw)
        self.seen_keys.add(key)
        data = seeded_body(name, int(req.query.get("n", "0")))
        if kind == "reset":
            await self.send(writer, b"HTTP/1.1 2")
            await asyncio.sleep(0.05)
            rst(writer.transport)
            return DONE
        if kind == "stall-head":
            await self.wait_for_eof(reader)
            return CLOSE
        if kind == "stall-body":
            await self.send(writer, head(200, [("Content-Length", str(len(data)))]))
            await self.wait_for_eof(reader)
            return CLOSE
        if kind == "503":
            return await self.reply(writer, req, 503, b"flaky\n")
        if kind == "trunc-head":
            await self.send(writer, b"HTTP/1.1 200 OK\r\nContent-Le")
            return CLOSE
        if kind == "stall-mid":
            await self.send(writer, head(200, [("Content-Length", str(len(data)))]) +
                            data[:len(data) // 2])
            await self.wait_for_eof(reader)
            return CLOSE
        if kind == "trunc-body":
            await self.send(writer, head(200, [("Content-Length", str(len(data)))]) +
                            data[:len(data) // 2])
            return CLOSE
        raise ValueError(kind)

    # ------------------------------------------------------- bad behaviour

    async def h_close_early(self, req, arg, reader, writer, **_):
        await self.send(writer, head(200, [("Content-Length", "1000")]) + b"0123456789")
        return CLOSE

    async def h_truncate_chunked(self, req, arg, reader, writer, **_):
        await self.send(writer, head(200, [("Transfer-Encoding", "chunked")]) +
                        b"a\r\n0123456789\r\n")
        return CLOSE

    async def h_close_delimited(self, req, arg, reader, writer, **_):
        size = int(arg)
        await self.send(writer, head(200, [("Connection", "close")]))
        for off in range(0, size, WRITE_PIECE):
            writer.write(body_bytes(min(WRITE_PIECE, size - off), off))
            await writer.drain()
        return CLOSE

    async def h_close_delimited_unclean(self, req, arg, reader, writer, **_):
        await self.h_close_delimited(req, arg, reader, writer)
        # Give the TLS layer time to hand everything to the kernel, then
        # drop the TCP connection with a FIN but no close_notify.
        await asyncio.sleep(0.2)
        sock = writer.get_extra_info("socket")
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        await asyncio.sleep(0.1)
        writer.transport.abort()
        return DONE

    async def h_reset(self, req, arg, reader, writer, **_):
        rst(writer.transport)
        return DONE

    async def h_reset_mid(self, req, arg, reader, writer, **_):
        await self.send(writer, head(200, [("Content-Length", "100000")]) +
                        body_bytes(1000))
        await asyncio.sleep(0.2)
        rst(writer.transport)
        return DONE

    async def h_stall_headers(self, req, arg, reader, writer, **_):
        await self.wait_for_eof(reader)
        return CLOSE

    async def h_stall_body(self, req, arg, reader, writer, **_):
        await self.send(writer, head(200, [("Content-Length", "1000")]))
        await self.wait_for_eof(reader)
        return CLOSE

    async def h_trickle(self, req, arg, reader, writer, **_):
        size = int(arg or "5")
        interval = float(req.query.get("interval", "2"))
        await self.send(writer, head(200, [("Content-Length", str(size))]))
        data = body_bytes(size)
        for i in range(size):
            await asyncio.sleep(interval)
            await self.send(writer, data[i:i + 1])
        return KEEP

    async def h_bad_chunk(self, req, arg, reader, writer, **_):
        await self.send(writer, head(200, [("Transfer-Encoding", "chunked")]) +
                        b"zz\r\nhello\r\n0\r\n\r\n")
        return CLOSE

    async def h_huge_chunk_size(self, req, arg, reader, writer, **_):
        await self.send(writer, head(200, [("Transfer-Encoding", "chunked")]) +
                        b"ffffffffffffffffff\r\n" + body_bytes(1000))
        await asyncio.sleep(0.5)
        return CLOSE

    async def h_dup_cl(self, req, arg, reader, writer, **_):
        await self.send(writer, head(200, [("Content-Length", "5"),
                                           ("Content-Length", "6")]) + b"hello!")
        return CLOSE

    async def h_cl_and_te(self, req, arg, reader, writer, **_):
        await self.send(writer, head(200, [("Content-Length", "5"),
                                           ("Transfer-Encoding", "chunked")]) +
                        b"5\r\nhello\r\n0\r\n\r\n")
        return CLOSE

    async def h_negative_cl(self, req, arg, reader, writer, **_):
        await self.send(writer, head(200, [("Content-Length", "-1")]) + b"hello")
        return CLOSE

    async def h_huge_cl(self, req, arg, reader, writer, **_):
        await self.send(writer, head(200, [("Content-Length",
                                            "99999999999999999999999")]) + b"hello")
        return CLOSE

    async def h_no_status_line(self, req, arg, reader, writer, **_):
        await self.send(writer, b"this is not an HTTP response\n" * 4)
        return CLOSE

    async def h_garbage_status(self, req, arg, reader, writer, **_):
        await self.send(writer, b"HTTP/1.1 abc Nonsense\r\nContent-Length: 2\r\n\r\nhi")
        return CLOSE

    async def h_long_header(self, req, arg, reader, writer, **_):
        await self.send(writer, b"HTTP/1.1 200 OK\r\nX-Long: " +
                        b"a" * (1 << 20) + b"\r\nContent-Length: 2\r\n\r\nhi")
        return CLOSE

    async def h_many_headers(self, req, arg, reader, writer, **_):
        hdrs = [("X-Header-%d" % i, "v%d" % i) for i in range(10000)]
        await self.send(writer, head(200, hdrs + [("Content-Length", "2")]) + b"hi")
        return CLOSE

    async def raw(self, writer, data):
        """Send data as the whole response and close."""
        await self.send(writer, data)
        return CLOSE

    async def h_dup_cl_same(self, req, arg, reader, writer, **_):
        return await self.raw(writer, head(200, [("Content-Length", "5"),
                                                 ("Content-Length", "5")]) + b"hello")

    async def h_cl_list(self, req, arg, reader, writer, **_):
        return await self.raw(writer, head(200, [("Content-Length", "5, 5")]) + b"hello")

    async def h_cl_plus(self, req, arg, reader, writer, **_):
        return await self.raw(writer, head(200, [("Content-Length", "+5")]) + b"hello")

    async def h_cl_space_colon(self, req, arg, reader, writer, **_):
        return await self.raw(writer, b"HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello")

    async def h_huge_status(self, req, arg, reader, writer, **_):
        return await self.raw(writer, b"HTTP/1.1 99999999999999999999 OK\r\n"
                              b"Content-Length: 2\r\n\r\nhi")

    async def h_four_digit_status(self, req, arg, reader, writer, **_):
        return await self.raw(writer, b"HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nhi")

    async def h_chunk_no_crlf(self, req, arg, reader, writer, **_):
        return await self.raw(writer, head(200, [("Transfer-Encoding", "chunked")]) +
                              b"5\r\nhelloXX5\r\nworld\r\n0\r\n\r\n")

    async def h_chunk_negative(self, req, arg, reader, writer, **_):
        return await self.raw(writer, head(200, [("Transfer-Encoding", "chunked")]) +
                              b"-5\r\nhello\r\n0\r\n\r\n")

    async def h_chunk_bad_ext(self, req, arg, reader, writer, **_):
        return await self.raw(writer, head(200, [("Transfer-Encoding", "chunked")]) +
                              b'5;a="hello\r\nhello\r\n0\r\n\r\n')

    async def h_header_nul(self, req, arg, reader, writer, **_):
        return await self.raw(writer, b"HTTP/1.1 200 OK\r\nX-Nul: a\x00b\r\n"
                              b"Content-Length: 2\r\n\r\nhi")

    async def h_te_unknown(self, req, arg, reader, writer, **_):
        return await self.raw(writer, head(200, [("Transfer-Encoding", "chunked"),
                                                 ("Transfer-Encoding", "gzip")]) +
                              b"5\r\nhello\r\n0\r\n\r\n")

    async def h_extra_bytes(self, req, arg, reader, writer, **_):
        fake = head(200, [("Content-Length", "6")]) + b"POISON"
        delay = float(req.query.get("delay", "0"))
        await self.send(writer, head(200, [("Content-Length", "5")]) + b"hello" +
                        (b"" if delay else fake))
        if delay:
            await asyncio.sleep(delay)
            await self.send(writer, fake)
        return KEEP

    # ------------------------------------------------------------ stalling

    class StallProtocol(asyncio.Protocol):
        def __init__(self, server):
            self.server = server
            self.transport = None

        def connection_made(self, transport):
            # Leave the ClientHello (or request) unread in the kernel.
            transport.pause_reading()
            self.transport = transport
            self.server.connections += 1
            self.server.stalled.add(transport)
            self.server.log("conn=%d stalled" % self.server.connections)
            asyncio.get_running_loop().call_later(
                self.server.args.stall_max, transport.abort)

        def connection_lost(self, exc):
            self.server.stalled.discard(self.transport)

    class ResetProtocol(asyncio.Protocol):
        def __init__(self, server):
            self.server = server
            self.transport = None

        def connection_made(self, transport):
            self.transport = transport
            self.server.connections += 1

        def data_received(self, data):
            self.server.log("conn=%d reset after %d bytes" % (
                self.server.connections, len(data)))
            rst(self.transport)

    # ----------------------------------------------------------- lifecycle

    def tls_context(self):
        if not self.args.tls:
            return None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.args.tls[0], self.args.tls[1])
        versions = {"TLSv1": ssl.TLSVersion.TLSv1,
                    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
                    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
                    "TLSv1.3": ssl.TLSVersion.TLSv1_3}
        # Old versions are what this option is for; do not warn about them.
        warnings.simplefilter("ignore", DeprecationWarning)
        old = {ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1}
        if self.args.tls_max or self.args.tls_min:
            lo = versions[self.args.tls_min] if self.args.tls_min else None
            hi = versions[self.args.tls_max] if self.args.tls_max else None
            try:
                if hi in old or lo in old:
                    # Versions before 1.2 need the legacy security level.
                    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
                    ctx.minimum_version = ssl.TLSVersion.TLSv1
                if lo is not None:
                    ctx.minimum_version = lo
                if hi is not None:
                    ctx.maximum_version = hi
            except (ValueError, ssl.SSLError) as e:
                # A system that cannot offer old versions at all still
                # makes a server that clients cannot agree with.
                self.log("warning: TLS version limits: %s" % e)
        if self.args.no_tickets:
            ctx.num_tickets = 0
            ctx.options |= ssl.OP_NO_TICKET
        if self.args.tls_next:
            # The server name callback runs on every handshake, with or
            # without SNI: switch the connection to the next certificate.
            others = []
            for cert, key in self.args.tls_next:
                o = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                o.load_cert_chain(cert, key)
                others.append(o)
            seen = [0]

            def pick(sslobj, server_name, _ctx):
                n = seen[0]
                seen[0] += 1
                if n > 0:
                    sslobj.context = others[(n - 1) % len(others)]
                return None
            ctx.sni_callback = pick
        return ctx

    async def run(self):
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.set_exception_handler(
            lambda _loop, ctx: self.log("asyncio: %s %s" % (
                ctx.get("message"), ctx.get("exception", ""))))
        if self.args.handshake_stall or self.args.handshake_reset:
            proto = (BadServer.StallProtocol if self.args.handshake_stall
                     else BadServer.ResetProtocol)
            server = await loop.create_server(
                lambda: proto(self), "127.0.0.1", self.args.port, backlog=4096)
        else:
            ctx = self.tls_context()
            extra = {"ssl": ctx, "ssl_handshake_timeout": 30} if ctx else {}
            server = await asyncio.start_server(
                self.handle, "127.0.0.1", self.args.port, backlog=4096,
                limit=256 * 1024, **extra)
        port = server.sockets[0].getsockname()[1]
        if self.args.port_file:
            tmp = self.args.port_file + ".tmp"
            with open(tmp, "w") as f:
                f.write("%d\n" % port)
            os.replace(tmp, self.args.port_file)
        else:
            sys.stdout.write("%d\n" % port)
            sys.stdout.flush()
        self.log("listening on 127.0.0.1:%d%s" % (
            port, " (TLS)" if self.args.tls else ""))
        await stop.wait()
        server.close()
        for t in list(self.tasks):
            t.cancel()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=5)
        for tr in list(self.stalled):
            tr.abort()
        self.log("stopped: %d connections, %d requests" % (
            self.connections, self.requests))


def send_handshake_alerts():
    """Make asyncio send the TLS alert of a failed handshake.

    asyncio's SSLProtocol (Python 3.11 and later) aborts the connection as
    soon as the server's handshake fails, dropping the alert that OpenSSL
    wrote (protocol_version, handshake_failure, ...), so the client sees a
    bare EOF.  Hand the pending bytes to the socket first.  Without those
    private methods (other Python versions) nothing changes.
    """
    try:
        from asyncio import sslproto
    except ImportError:
        return
    proto = getattr(sslproto, "SSLProtocol", None)
    again = getattr(sslproto, "SSLAgainErrors", None)
    if (again is None or not hasattr(proto, "_do_handshake") or
            not hasattr(proto, "_process_outgoing") or
            not hasattr(proto, "_on_handshake_complete")):
        return

    # The method as Python 3.11 has it, plus the flush before failing.
    def _do_handshake(self):
        try:
            self._sslobj.do_handshake()
        except again:
            self._process_outgoing()
        except ssl.SSLError as exc:
            try:
                self._process_outgoing()
            except Exception:
                pass
            self._on_handshake_complete(exc)
        else:
            self._on_handshake_complete(None)

    proto._do_handshake = _do_handshake


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft == resource.RLIM_INFINITY or soft >= want:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ValueError, OSError):
        pass


def main():
    p = argparse.ArgumentParser(description="a misbehaving HTTP/1.1 server")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--tls-max", choices=["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"])
    p.add_argument("--tls-min", choices=["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"])
    p.add_argument("--tls-next", nargs=2, action="append", metavar=("CERT", "KEY"))
    p.add_argument("--no-tickets", action="store_true")
    p.add_argument("--handshake-stall", action="store_true")
    p.add_argument("--handshake-reset", action="store_true")
    p.add_argument("--stall-max", type=float, default=300.0,
                   help="seconds a stalled connection is held at most")
    p.add_argument("--log")
    p.add_argument("--print-body", type=int, metavar="N",
                   help="write body_bytes(N) to stdout and exit")
    args = p.parse_args()
    if args.print_body is not None:
        sys.stdout.buffer.write(body_bytes(args.print_body))
        return 0
    raise_fd_limit()
    if args.tls:
        send_handshake_alerts()
    server = BadServer(args)
    try:
        asyncio.run(server.run())
    except (ssl.SSLError, OSError) as e:
        sys.stderr.write("badserver: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
