#!/usr/bin/python3
"""h2bad.py - a deliberately misbehaving HTTP/2 server for evfetch tests.

Built on python3-h2 (Debian's package; run it with /usr/bin/python3, which
has it) for the parts that are correct HTTP/2, and on frames written
byte by byte for the parts that are not.  One asyncio loop, one thread,
any number of connections.  Listens on 127.0.0.1 only.

With --tls CERT KEY it speaks TLS and picks "h2" by ALPN (--alpn sets the
list it accepts, default h2,http/1.1).  Without --tls it is cleartext and
expects HTTP/2 with prior knowledge: a connection that starts with the
HTTP/2 preface is HTTP/2.  A connection that ends up without h2 (ALPN
http/1.1 or none, or a cleartext one that does not start with the preface)
gets a small HTTP/1.1 server that serves /s/ok/N only (404 otherwise).

The request path chooses what happens to one stream:

  /s/ok/N              200, content-length N, body_bytes(N) in DATA frames
                       as the flow-control windows allow; HEAD: no body
  /s/big/N             the same (for a body much larger than the windows)
  /s/status/CODE       status CODE, body "status CODE\\n"
  /s/stall             read the request, never answer (the stream stays open)
  /s/stall-body/N      headers with content-length N, then nothing
  /s/cl-over/N         content-length N, N + 10 bytes of DATA, END_STREAM
  /s/cl-under/N        content-length N, N/2 bytes, END_STREAM
  /s/forbidden/NAME    a 200 carrying a connection-specific header NAME
                       (connection, keep-alive, transfer-encoding, upgrade,
                       proxy-connection)
  /s/upper-header      a 200 with the header name "X-Upper" (upper case)
  /s/pseudo-after      a 200 whose :status comes after a regular header
  /s/unknown-pseudo    a 200 with an extra pseudo-header ":foo"
  /s/no-status         a response header block without :status
  /s/bad-status/V      :status V (e.g. abc, 99, 1000)
  /s/data-first        DATA before HEADERS on the stream, then a response
  /s/data-after-end    a whole 200 (END_STREAM), then one more DATA frame
  /s/trailer-not-last  HEADERS, DATA, trailer HEADERS without END_STREAM,
                       then DATA with END_STREAM
  /s/push              a PUSH_PROMISE (promised stream 2) on the stream,
                       then a 200: the client disabled push, so this is a
                       connection error
  /s/continuation/N    a valid 200 whose header block is cut into a HEADERS
                       frame and N CONTINUATION frames
  /s/continuation-flood  HEADERS without END_HEADERS, then CONTINUATION
                       frames of 16 KiB of header fields each, never
                       END_HEADERS, until the connection ends (or
                       --flood-seconds / 256 MiB)
  /s/big-header/SIZE   a 200 with one header of SIZE bytes (default 204800)
  /s/many-headers/N    a 200 with N headers (default 5000) x-h-NNNNN: v
  /s/ping-flood/N      N PING frames (default 10000) in one write, then a 200
                       (?noread=1: read nothing from the client meanwhile
                       and for ?hold=S seconds, default 1, after it)
  /s/ping/N            N PINGs (default 10), then a 200 once all are ACKed
  /s/settings-flood/N  N SETTINGS frames (default 10000) in one write, then
                       a 200
  /s/window-overflow   WINDOW_UPDATE 2^31-1 on stream 0: the client's
                       connection send window passes 2^31-1 (connection
                       error); /s/window-overflow/stream does it on the
                       stream (a stream error)
  /s/huge-frame        HEADERS, then one DATA frame one byte larger than the
                       client's SETTINGS_MAX_FRAME_SIZE
  /s/bad-hpack         a HEADERS frame whose block does not decode (index 0)
  /s/goaway[/N]        GOAWAY NO_ERROR with last_stream_id = this stream,
                       then this stream's 200 with N bytes (default 100);
                       streams above are ignored; the connection is closed
                       once every stream up to this one is done
  /s/goaway-error/CODE  GOAWAY CODE (PROTOCOL_ERROR, INTERNAL_ERROR, ...
                       or a number) with last_stream_id = the highest id up
                       to which every stream is done (so not this one), then
                       close the connection
  /s/refuse            RST_STREAM REFUSED_STREAM before anything else
  /s/rst-mid/N[/CODE]  content-length N (default 100000), N/2 bytes, then
                       RST_STREAM CODE (default INTERNAL_ERROR)
  /s/rst-before-headers[/CODE]  RST_STREAM CODE (INTERNAL_ERROR) at once
  /s/close-mid/N       content-length N (default 100000), N/2 bytes, then
                       close the connection (TLS close_notify and FIN;
                       ?rst=1: a TCP RST instead)
  /s/103               103 Early Hints (link), then 200 "hinted\\n"
  /s/trailers/N        200 without content-length, N bytes, then a trailer
                       block (x-checksum, x-bytes) with END_STREAM
  /s/gzip/N            content-encoding: gzip of body_bytes(N)
  /s/redirect/CODE     status CODE (default 302), location ?to= (default
                       /s/ok/10)
  /s/503               503 with retry-after: 1 (?after=S sends S)
  /s/pad/N             200 with N bytes in padded DATA frames

Query parameters, for every scenario:
  once=KEY    act as the scenario the first time KEY is seen by this
              server, afterwards serve /s/ok/N with N = ?n= (default 100)
  delay=S     wait S seconds before acting
  wait=others wait until no other stream of the connection is in progress
              (streams waiting the same way do not count) before acting

Faults of the whole connection, before any request, come from --mode
(repeatable, combinable where it makes sense):
  nosettings          after the TLS handshake send nothing at all (no
                      SETTINGS), read and drop what comes
  garbage-preface     send an HTTP/1.1 response instead of SETTINGS
  goaway-after=K      when the K-th request of a connection arrives, send
                      GOAWAY NO_ERROR with last_stream_id = its stream,
                      serve streams up to it, ignore those above, close
                      the connection when they are done
  goaway-error=CODE:K  once K streams of a connection are done, GOAWAY CODE
                      with last_stream_id = the highest id up to which every
                      stream is done, then close the connection
  refuse-first=N      RST_STREAM REFUSED_STREAM for the first N streams of
                      every connection, but never twice for one path (so a
                      client that retries a refused stream, on this
                      connection or a new one, gets it served)
  mcs=N               advertise SETTINGS_MAX_CONCURRENT_STREAMS N.  A stream
                      beyond N that arrives before the client ACKed the
                      SETTINGS is refused (REFUSED_STREAM, logged
                      "refused-early"); one that arrives after it is a
                      violation: logged "mcs-violation" and answered 500

The log (--log, else stderr) has one line per event, e.g.
  conn=3 open tls=TLSv1.3 alpn=h2 proto=h2
  conn=3 stream=1 req GET /s/ok/10 active=1
  conn=3 stream=1 done status=200 bytes=10
  conn=3 stream=5 client-rst code=PROTOCOL_ERROR
  conn=3 client-goaway code=NO_ERROR last=0
  conn=3 goaway-sent code=NO_ERROR last=9
  conn=3 mcs-violation stream=7 active=1 limit=1
  conn=3 client-error ProtocolError: ...   (h2 rejected what the client sent)
  conn=3 closed proto=h2 requests=21 max_active=21 violations=0 ...
and at exit: stopped: connections=C requests=R violations=V client_errors=E

Options:
  --port P            0 (default): a free port
  --port-file FILE    write the port there (atomically) once listening;
                      without it the port is the first line on stdout
  --log FILE          the event log (default stderr)
  --tls CERT KEY      serve TLS
  --alpn LIST         the ALPN protocols accepted, most preferred first
                      (default h2,http/1.1)
  --mode NAME[=ARG]   see above (repeatable)
  --flood-seconds S   how long an endless flood goes on at most (default 20)
  --print-body N      write body_bytes(N) to stdout and exit

SIGTERM or SIGINT: close everything and exit 0.
"""

import argparse
import asyncio
import os
import resource
import signal
import socket
import ssl
import struct
import sys
import time
import zlib
from urllib.parse import parse_qs, urlsplit

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import h2.stream

PATTERN = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n"
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# frame types and flags
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, \
    GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS, PADDED = 0x1, 0x1, 0x4, 0x8

ERROR_CODES = [
    "NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
    "SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR",
    "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR",
    "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
]
MAX_WINDOW = 2 ** 31 - 1


def code_name(code):
    if 0 <= code < len(ERROR_CODES):
        return ERROR_CODES[code]
    return "0x%x" % code


def code_value(text):
    text = text.upper()
    if text in ERROR_CODES:
        return ERROR_CODES.index(text)
    return int(text, 0)


def body_bytes(n, offset=0):
    """Bytes offset..offset+n of the endless repetition of PATTERN."""
    start = offset % len(PATTERN)
    reps = (start + n) // len(PATTERN) + 1
    return (PATTERN * reps)[start:start + n]


def frame(ftype, flags, stream_id, payload=b""):
    """One HTTP/2 frame: the 9-byte header and the payload."""
    return (struct.pack(">I", len(payload))[1:] + bytes((ftype, flags)) +
            struct.pack(">I", stream_id & 0x7FFFFFFF) + payload)


def hpack_int(value, prefix_bits, first=0):
    """An HPACK integer with an N-bit prefix; first holds the flag bits."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((first | value,))
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_literal(name, value):
    """A literal header field, never indexed, new name, no Huffman: it
    leaves the dynamic tables alone, so h2's own encoder stays in step."""
    if isinstance(name, str):
        name = name.encode()
    if isinstance(value, str):
        value = value.encode()
    return (b"\x10" + hpack_int(len(name), 7) + name +
            hpack_int(len(value), 7) + value)


def hpack_block(headers):
    return b"".join(hpack_literal(n, v) for n, v in headers)


def gzip_bytes(data):
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


class Mode:
    """The --mode options, parsed."""

    def __init__(self, specs):
        self.nosettings = False
        self.garbage_preface = False
        self.goaway_after = None
        self.goaway_error = None        # (code, K)
        self.refuse_first = 0
        self.mcs = None
        for spec in specs or ():
            name, _, arg = spec.partition("=")
            if name == "nosettings":
                self.nosettings = True
            elif name == "garbage-preface":
                self.garbage_preface = True
            elif name == "goaway-after":
                self.goaway_after = int(arg)
            elif name == "goaway-error":
                code, _, k = arg.partition(":")
                self.goaway_error = (code_value(code), int(k or "1"))
            elif name == "refuse-first":
                self.refuse_first = int(arg)
            elif name == "mcs":
                self.mcs = int(arg)
            else:
                raise SystemExit("h2bad: unknown --mode %r" % spec)


class Stream:
    """What the server knows of one request stream."""

    def __init__(self, sid, method, path, headers):
        self.id = sid
        self.method = method
        self.path = path
        self.headers = headers
        self.task = None
        self.done = False          # the server sent its last frame for it
        self.reset_by_client = False
        self.waiting = False       # in wait=others
        self.ignored = False
        self.status = None
        self.bytes = 0


class Server:
    def __init__(self, args):
        self.args = args
        self.mode = Mode(args.mode)
        self.logf = open(args.log, "a") if args.log else sys.stderr
        self.conn_seq = 0
        self.connections = 0
        self.requests = 0
        self.violations = 0
        self.client_errors = 0
        self.seen_keys = set()
        self.refused_paths = set()
        self.conns = set()

    def log(self, msg):
        self.logf.write(msg + "\n")
        self.logf.flush()


class H1:
    """The HTTP/1.1 fallback: /s/ok/N, anything else 404."""

    def __init__(self, conn):
        self.conn = conn
        self.buf = b""

    def feed(self, data):
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > 65536:
                    self.conn.transport.close()
                return
            head, self.buf = self.buf[:end], self.buf[end + 4:]
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            parts = line.split(" ")
            if len(parts) != 3:
                self.conn.transport.close()
                return
            method, target = parts[0], parts[1]
            c = self.conn
            c.requests += 1
            c.server.requests += 1
            c.log("http1 req %s %s" % (method, target))
            segs = urlsplit(target).path.split("/")
            if len(segs) == 4 and segs[1] == "s" and segs[2] == "ok" and \
                    segs[3].isdigit():
                status, body = 200, body_bytes(int(segs[3]))
            else:
                status = 404
                body = b"h2bad: over HTTP/1.1 only /s/ok/N is served\n"
            hdr = ("HTTP/1.1 %d %s\r\ncontent-length: %d\r\n"
                   "content-type: application/octet-stream\r\n\r\n" % (
                       status, "OK" if status == 200 else "Not Found",
                       len(body))).encode()
            c.transport.write(hdr + (b"" if method == "HEAD" else body))


class Conn(asyncio.Protocol):
    def __init__(self, server):
        self.server = server
        self.mode = server.mode
        self.transport = None
        self.h2 = None
        self.h1 = None
        self.proto = "none"
        self.sniff = b""
        self.streams = {}
        self.active = set()
        self.requests = 0
        self.max_active = 0
        self.violations = 0
        self.refused_early = 0
        self.settings_acked = False
        self.goaway_last = None
        self.pings_sent = 0
        self.pings_acked = 0
        self.settings_acks = 0
        self.window_waits = 0
        self.frames_in = 0
        self.in_buf = b""
        self.in_skip = len(PREFACE)
        self.flow_waiters = []
        self.drain_waiter = None
        self.paused = False
        self.closed = False
        self.hold = False          # h2's output held back (a flood is on)
        self.tasks = set()

    # ------------------------------------------------------------ plumbing
    def log(self, msg):
        self.server.log("conn=%d %s" % (self.id, msg))

    def connection_made(self, transport):
        self.transport = transport
        self.server.conn_seq += 1
        self.server.connections += 1
        self.id = self.server.conn_seq
        self.server.conns.add(self)
        sslobj = transport.get_extra_info("ssl_object")
        tls = sslobj.version() if sslobj else "none"
        alpn = (sslobj.selected_alpn_protocol() if sslobj else None) or "none"
        if sslobj is None:
            self.proto = "sniff"
        elif alpn == "h2":
            self.proto = "h2"
        else:
            self.proto = "http/1.1"
            self.h1 = H1(self)
        self.log("open tls=%s alpn=%s proto=%s" % (
            tls, alpn, self.proto if self.proto != "sniff" else "cleartext"))
        if self.proto == "h2":
            self.start_h2()

    def connection_lost(self, exc):
        self.closed = True
        self.server.conns.discard(self)
        for t in list(self.tasks):
            t.cancel()
        self.wake_flow()
        if self.drain_waiter and not self.drain_waiter.done():
            self.drain_waiter.set_result(None)
        self.log("closed proto=%s requests=%d max_active=%d violations=%d "
                 "refused_early=%d pings_sent=%d pings_acked=%d "
                 "settings_acks=%d window_waits=%d%s" % (
                     self.proto, self.requests, self.max_active,
                     self.violations, self.refused_early, self.pings_sent,
                     self.pings_acked, self.settings_acks,
                     self.window_waits,
                     " error=%s" % exc.__class__.__name__ if exc else ""))

    def pause_writing(self):
        self.paused = True

    def resume_writing(self):
        self.paused = False
        if self.drain_waiter and not self.drain_waiter.done():
            self.drain_waiter.set_result(None)

    async def drain(self):
        # Always give the loop a turn: a flood must notice that the peer
        # has gone (connection_lost) and must not starve the other streams.
        await asyncio.sleep(0)
        while self.paused and not self.closed:
            self.drain_waiter = asyncio.get_running_loop().create_future()
            await self.drain_waiter
        self.check_open()

    def flush(self):
        if self.hold or self.transport.is_closing():
            return
        if self.h2 is not None and not self.closed:
            data = self.h2.data_to_send()
            if data:
                self.transport.write(data)

    def raw(self, data):
        """Write bytes after whatever h2 has queued."""
        self.check_open()
        self.flush()
        self.transport.write(data)

    def wake_flow(self):
        waiters, self.flow_waiters = self.flow_waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)

    async def wait_flow(self, count=True):
        if count:
            self.window_waits += 1
        w = asyncio.get_running_loop().create_future()
        self.flow_waiters.append(w)
        await w
        self.check_open()

    def spawn(self, coro):
        t = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)
        return t

    # ------------------------------------------------------------ start
    def start_h2(self):
        if self.mode.nosettings:
            self.log("mode nosettings: sending nothing")
            return
        if self.mode.garbage_preface:
            self.log("mode garbage-preface")
            self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n"
                                 b"\r\nhello")
            return
        cfg = h2.config.H2Configuration(client_side=False,
                                        header_encoding=None)
        self.h2 = h2.connection.H2Connection(config=cfg)
        mcs = self.mode.mcs if self.mode.mcs is not None else 100
        SC = h2.settings.SettingCodes
        self.h2.local_settings = h2.settings.Settings(
            client=False, initial_values={
                SC.MAX_CONCURRENT_STREAMS: mcs,
                SC.MAX_HEADER_LIST_SIZE: 65536,
            })
        self.h2.initiate_connection()
        # The limit is checked here, not by h2, which would count the
        # streams finished with raw frames as open.
        self.h2.local_settings._settings[SC.MAX_CONCURRENT_STREAMS][0] = \
            2 ** 31 - 1
        self.flush()

    # ------------------------------------------------------------ input
    def data_received(self, data):
        if self.proto == "sniff":
            self.sniff += data
            if self.sniff[:len(PREFACE)] != PREFACE[:len(self.sniff)]:
                self.proto = "http/1.1"
                self.log("cleartext: not the HTTP/2 preface, HTTP/1.1")
                self.h1 = H1(self)
                data, self.sniff = self.sniff, b""
            elif len(self.sniff) >= len(PREFACE):
                self.proto = "h2"
                self.log("cleartext: HTTP/2 preface")
                data, self.sniff = self.sniff, b""
                self.start_h2()
            else:
                return
        if self.h1 is not None:
            self.h1.feed(data)
            return
        self.scan_frames(data)
        if self.h2 is None or self.closed:
            return   # nosettings / garbage-preface: drop it
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as e:
            self.server.client_errors += 1
            self.log("client-error %s: %s" % (e.__class__.__name__, e))
            self.flush()
            self.transport.close()
            return
        for ev in events:
            self.on_event(ev)
        self.flush()

    def scan_frames(self, data):
        """Log what the client says beside requests, frame by frame,
        independently of h2's view of the streams."""
        self.in_buf += data
        if self.in_skip:
            n = min(self.in_skip, len(self.in_buf))
            self.in_buf = self.in_buf[n:]
            self.in_skip -= n
        while len(self.in_buf) >= 9:
            length = int.from_bytes(self.in_buf[:3], "big")
            if len(self.in_buf) < 9 + length:
                break
            ftype, flags = self.in_buf[3], self.in_buf[4]
            sid = int.from_bytes(self.in_buf[5:9], "big") & 0x7FFFFFFF
            payload = self.in_buf[9:9 + length]
            self.in_buf = self.in_buf[9 + length:]
            self.frames_in += 1
            if ftype == RST_STREAM and length == 4:
                code = int.from_bytes(payload, "big")
                self.log("stream=%d client-rst code=%s" % (sid, code_name(code)))
                st = self.streams.get(sid)
                if st is not None:
                    st.reset_by_client = True
                    self.active.discard(sid)
                    if st.task is not None and not st.done:
                        st.task.cancel()
            elif ftype == GOAWAY and length >= 8:
                last = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
                code = int.from_bytes(payload[4:8], "big")
                self.log("client-goaway code=%s last=%d%s" % (
                    code_name(code), last,
                    " debug=%r" % payload[8:80] if length > 8 else ""))
            elif ftype == SETTINGS and flags & ACK:
                self.settings_acks += 1
                if self.settings_acks == 1:
                    self.settings_acked = True
                    self.log("settings-ack")
            elif ftype == SETTINGS:
                vals = []
                for i in range(0, length - length % 6, 6):
                    k, v = struct.unpack(">HI", payload[i:i + 6])
                    vals.append("%d=%d" % (k, v))
                self.log("client-settings %s" % (" ".join(vals) or "(empty)"))
            elif ftype == PING and flags & ACK:
                self.pings_acked += 1
                self.wake_flow()

    def on_event(self, ev):
        E = h2.events
        if isinstance(ev, E.RequestReceived):
            self.on_request(ev)
        elif isinstance(ev, E.DataReceived):
            if ev.flow_controlled_length:
                self.h2.acknowledge_received_data(ev.flow_controlled_length,
                                                  ev.stream_id)
        elif isinstance(ev, (E.WindowUpdated, E.RemoteSettingsChanged)):
            self.wake_flow()
        elif isinstance(ev, E.StreamReset):
            pass    # logged by scan_frames

    # ------------------------------------------------------------ requests
    def on_request(self, ev):
        hdrs = dict(ev.headers)
        method = hdrs.get(b":method", b"?").decode("latin-1")
        path = hdrs.get(b":path", b"?").decode("latin-1")
        sid = ev.stream_id
        st = Stream(sid, method, path, hdrs)
        self.streams[sid] = st
        self.requests += 1
        self.server.requests += 1
        if self.goaway_last is not None and sid > self.goaway_last:
            st.ignored = True
            st.done = True
            self.log("stream=%d req %s %s ignored (after GOAWAY last=%d)" % (
                sid, method, path, self.goaway_last))
            return
        limit = self.mode.mcs
        if limit is not None and len(self.active) >= limit:
            if not self.settings_acked:
                self.refused_early += 1
                self.log("stream=%d req %s %s refused-early active=%d "
                         "limit=%d" % (sid, method, path, len(self.active),
                                       limit))
                self.close_stream_h2(sid, rst=h2.errors.ErrorCodes.REFUSED_STREAM)
                st.done = True
                return
            self.violations += 1
            self.server.violations += 1
            self.log("mcs-violation stream=%d active=%d limit=%d" % (
                sid, len(self.active), limit))
            self.active.add(sid)
            self.max_active = max(self.max_active, len(self.active))
            st.task = self.spawn(self.run_stream(st, violation=True))
            return
        self.active.add(sid)
        self.max_active = max(self.max_active, len(self.active))
        self.log("stream=%d req %s %s active=%d" % (
            sid, method, path, len(self.active)))
        if self.requests <= self.mode.refuse_first and \
                path not in self.server.refused_paths:
            self.server.refused_paths.add(path)
            self.log("stream=%d refused (refuse-first=%d)" % (
                sid, self.mode.refuse_first))
            self.h2.reset_stream(sid, h2.errors.ErrorCodes.REFUSED_STREAM)
            self.finish(st)
            return
        if self.mode.goaway_after is not None and \
                self.requests == self.mode.goaway_after:
            self.send_goaway(0, sid)
        st.task = self.spawn(self.run_stream(st))

    def close_stream_h2(self, sid, rst=None):
        """Reset a stream through h2 (rst), or tell h2 that raw frames
        have ended it."""
        if self.h2 is None:
            return
        if rst is not None:
            try:
                self.h2.reset_stream(sid, rst)
            except (h2.exceptions.ProtocolError, KeyError):
                pass
            return
        s = self.h2.streams.get(sid)
        if s is not None and not s.closed:
            s.state_machine.state = h2.stream.StreamState.CLOSED
            s.state_machine.stream_closed_by = \
                h2.stream.StreamClosedBy.SEND_END_STREAM

    def finish(self, st):
        if not st.done:
            st.done = True
            self.active.discard(st.id)
            if st.status is not None:
                self.log("stream=%d %s status=%s bytes=%d" % (
                    st.id, "cut" if self.gone() else "done", st.status,
                    st.bytes))
        self.after_stream()

    def gone(self):
        return self.closed or self.transport.is_closing()

    def check_open(self):
        if self.gone():
            raise ConnectionError("connection closed")

    def prefix_done(self):
        """The highest stream id up to which every stream is done."""
        last = 0
        for sid in sorted(self.streams):
            if not self.streams[sid].done:
                break
            last = sid
        return last

    def after_stream(self):
        if self.gone():
            return
        if self.goaway_last is not None:
            pending = [s for s in self.streams.values()
                       if s.id <= self.goaway_last and not s.done]
            if not pending:
                self.log("all streams up to %d done: closing" %
                         self.goaway_last)
                self.flush()
                self.transport.close()
                return
        ge = self.mode.goaway_error
        if ge is not None and self.goaway_last is None:
            done = sum(1 for s in self.streams.values()
                       if s.done and not s.ignored)
            if done >= ge[1]:
                self.send_goaway(ge[0], self.prefix_done())
                self.flush()
                self.transport.close()

    def send_goaway(self, code, last, debug=b""):
        self.goaway_last = last
        self.log("goaway-sent code=%s last=%d" % (code_name(code), last))
        self.raw(frame(GOAWAY, 0, 0, struct.pack(">II", last, code) + debug))

    # ------------------------------------------------------------ sending
    def remote_max_frame(self):
        return self.h2.max_outbound_frame_size

    async def send_body(self, st, data, end_stream=True, pad=None):
        """DATA frames as the windows allow."""
        view = memoryview(data)
        while True:
            self.check_open()
            window = self.h2.local_flow_control_window(st.id)
            room = self.remote_max_frame() - (pad + 1 if pad else 0)
            n = min(len(view), window - (pad + 1 if pad else 0), room)
            if len(view) and n <= 0:
                self.flush()
                await self.wait_flow()
                continue
            n = max(n, 0)
            last = n == len(view)
            self.h2.send_data(st.id, bytes(view[:n]),
                              end_stream=end_stream and last,
                              pad_length=pad)
            st.bytes += n
            view = view[n:]
            self.flush()
            if last:
                return
            await self.drain()

    def send_headers(self, st, status, headers=(), end_stream=False):
        self.check_open()
        hdrs = [(b":status", str(status).encode())]
        hdrs += [(k.encode() if isinstance(k, str) else k,
                  v.encode() if isinstance(v, str) else v) for k, v in headers]
        self.h2.send_headers(st.id, hdrs, end_stream=end_stream)
        if not (100 <= status < 200):
            st.status = status
        self.flush()

    async def respond(self, st, status, body, headers=(), pad=None):
        hdrs = list(headers)
        if not any(k == "content-length" for k, _ in hdrs):
            hdrs.append(("content-length", str(len(body))))
        head_only = st.method == "HEAD" or not body
        self.send_headers(st, status, hdrs, end_stream=head_only)
        if not head_only:
            await self.send_body(st, body, pad=pad)

    def raw_data(self, sid, data, flags=0):
        """A DATA frame written by hand; h2's view of the send windows is
        kept right so that its own DATA frames stay within them."""
        self.raw(frame(DATA, flags, sid, data))
        self.h2.outbound_flow_control_window -= len(data)
        s = self.h2.streams.get(sid)
        if s is not None:
            s.outbound_flow_control_window -= len(data)

    def raw_headers(self, sid, headers, end_stream=False):
        flags = END_HEADERS | (END_STREAM if end_stream else 0)
        block = hpack_block(headers)
        self.raw(frame(HEADERS, flags, sid, block))

    # ------------------------------------------------------------ scenarios
    async def run_stream(self, st, violation=False):
        try:
            if violation:
                await self.respond(st, 500, b"mcs violation\n")
            else:
                await self.dispatch(st)
        except asyncio.CancelledError:
            pass
        except ConnectionError:
            pass
        except h2.exceptions.ProtocolError as e:
            # the client reset the stream or the connection is closing
            self.log("stream=%d h2 refused to send: %s" % (st.id, e))
        finally:
            if not self.closed:
                self.flush()
            self.finish(st)

    async def dispatch(self, st):
        u = urlsplit(st.path)
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        segs = u.path.split("/")[1:]
        if len(segs) < 2 or segs[0] != "s":
            await self.respond(st, 404, ("no scenario: %s\n" % st.path).encode())
            return
        name, args = segs[1], segs[2:]
        key = q.get("once")
        if key is not None:
            if key in self.server.seen_keys:
                name, args = "ok", [q.get("n", "100")]
            else:
                self.server.seen_keys.add(key)
        if "delay" in q:
            await asyncio.sleep(float(q["delay"]))
        if q.get("wait") == "others":
            st.waiting = True
            deadline = time.monotonic() + 60
            while any(s.id != st.id and not s.done and not s.waiting and
                      not s.reset_by_client for s in self.streams.values()):
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.02)
            st.waiting = False
        if self.goaway_last is not None and st.id > self.goaway_last:
            # the GOAWAY said this stream would not be processed
            self.log("stream=%d dropped (after GOAWAY last=%d)" % (
                st.id, self.goaway_last))
            st.ignored = True
            return
        handler = getattr(self, "s_" + name.replace("-", "_"), None)
        if name == "103":
            handler = self.s_early_hints
        if handler is None:
            await self.respond(st, 404, ("unknown scenario %s\n" % name).encode())
            return
        if name != "ok":
            self.log("stream=%d scenario %s" % (st.id, "/".join([name] + args)))
        await handler(st, args, q)

    @staticmethod
    def arg(args, i, default):
        return args[i] if len(args) > i and args[i] != "" else default

    async def s_ok(self, st, args, q):
        n = int(self.arg(args, 0, "100"))
        await self.respond(st, 200, body_bytes(n),
                           [("content-type", "application/octet-stream")])

    s_big = s_ok

    async def s_status(self, st, args, q):
        code = int(self.arg(args, 0, "200"))
        await self.respond(st, code, ("status %d\n" % code).encode())

    async def s_stall(self, st, args, q):
        await asyncio.Future()      # until the client resets or leaves

    async def s_stall_body(self, st, args, q):
        n = int(self.arg(args, 0, "1000"))
        self.send_headers(st, 200, [("content-length", str(n))])
        await asyncio.Future()

    async def s_cl_over(self, st, args, q):
        n = int(self.arg(args, 0, "1000"))
        self.raw_headers(st.id, [(":status", "200"),
                                 ("content-length", str(n))])
        self.raw_data(st.id, body_bytes(n + 10), END_STREAM)
        self.close_stream_h2(st.id)

    async def s_cl_under(self, st, args, q):
        n = int(self.arg(args, 0, "1000"))
        self.raw_headers(st.id, [(":status", "200"),
                                 ("content-length", str(n))])
        self.raw_data(st.id, body_bytes(n // 2), END_STREAM)
        self.close_stream_h2(st.id)

    async def bad_head(self, st, headers):
        """A response whose header block is malformed, with a body."""
        self.raw_headers(st.id, headers)
        self.raw_data(st.id, b"malformed\n", END_STREAM)
        self.close_stream_h2(st.id)

    async def s_forbidden(self, st, args, q):
        name = self.arg(args, 0, "connection")
        value = {"connection": "keep-alive", "keep-alive": "timeout=5",
                 "transfer-encoding": "chunked", "upgrade": "h2c",
                 "proxy-connection": "keep-alive", "te": "gzip"}.get(name, "x")
        await self.bad_head(st, [(":status", "200"), (name, value),
                                 ("content-length", "10")])

    async def s_upper_header(self, st, args, q):
        await self.bad_head(st, [(":status", "200"), ("X-Upper", "1"),
                                 ("content-length", "10")])

    async def s_pseudo_after(self, st, args, q):
        await self.bad_head(st, [("content-length", "10"), (":status", "200")])

    async def s_unknown_pseudo(self, st, args, q):
        await self.bad_head(st, [(":status", "200"), (":foo", "bar"),
                                 ("content-length", "10")])

    async def s_no_status(self, st, args, q):
        await self.bad_head(st, [("content-type", "text/plain"),
                                 ("content-length", "10")])

    async def s_bad_status(self, st, args, q):
        await self.bad_head(st, [(":status", self.arg(args, 0, "abc")),
                                 ("content-length", "10")])

    async def s_data_first(self, st, args, q):
        self.raw_data(st.id, b"early")
        self.raw_headers(st.id, [(":status", "200"), ("content-length", "5")])
        self.raw_data(st.id, b"after", END_STREAM)
        self.close_stream_h2(st.id)

    async def s_data_after_end(self, st, args, q):
        self.raw_headers(st.id, [(":status", "200"), ("content-length", "10")])
        self.raw_data(st.id, body_bytes(10), END_STREAM)
        self.raw_data(st.id, b"too late\n")
        self.close_stream_h2(st.id)

    async def s_trailer_not_last(self, st, args, q):
        self.raw_headers(st.id, [(":status", "200")])
        self.raw_data(st.id, b"first\n")
        self.raw_headers(st.id, [("x-trailer", "1")])
        self.raw_data(st.id, b"second\n", END_STREAM)
        self.close_stream_h2(st.id)

    async def s_push(self, st, args, q):
        auth = st.headers.get(b":authority", b"127.0.0.1")
        block = hpack_block([(":method", "GET"), (":scheme", "https"),
                             (":authority", auth), (":path", "/pushed")])
        self.raw(frame(PUSH_PROMISE, END_HEADERS, st.id,
                       struct.pack(">I", 2) + block))
        await self.respond(st, 200, body_bytes(100))

    async def s_continuation(self, st, args, q):
        n = max(1, int(self.arg(args, 0, "5")))
        block = hpack_block([(":status", "200"), ("content-length", "100"),
                             ("content-type", "application/octet-stream"),
                             ("x-split", "a header block in %d pieces" % (n + 1))])
        size = max(1, len(block) // (n + 1))
        pieces = [block[i * size:(i + 1) * size] for i in range(n)]
        pieces.append(block[n * size:])
        out = [frame(HEADERS, 0, st.id, pieces[0])]
        for i, p in enumerate(pieces[1:]):
            out.append(frame(CONTINUATION, END_HEADERS if i == n - 1 else 0,
                             st.id, p))
        self.raw(b"".join(out))
        self.raw_data(st.id, body_bytes(100), END_STREAM)
        self.close_stream_h2(st.id)
        st.status, st.bytes = 200, 100

    async def s_continuation_flood(self, st, args, q):
        self.raw(frame(HEADERS, 0, st.id, hpack_block([(":status", "200")])))
        field = hpack_literal("x-flood", "f" * 1000)
        payload = field * (16000 // len(field))
        one = frame(CONTINUATION, 0, st.id, payload)
        deadline = time.monotonic() + self.server.args.flood_seconds
        sent = 0
        # Nothing else may come between the frames of a header block.
        self.hold = True
        try:
            while time.monotonic() < deadline and sent < 2 ** 28:
                self.raw(one * 16)
                sent += 16 * len(payload)
                await self.drain()
        finally:
            self.hold = False
            self.log("stream=%d continuation-flood sent=%d bytes" % (st.id, sent))

    async def s_big_header(self, st, args, q):
        size = int(self.arg(args, 0, "204800"))
        self.send_big_block(st, [(":status", "200"), ("content-length", "10"),
                                 ("x-big", "b" * size)])
        self.raw_data(st.id, body_bytes(10), END_STREAM)
        self.close_stream_h2(st.id)

    async def s_many_headers(self, st, args, q):
        n = int(self.arg(args, 0, "5000"))
        hdrs = [(":status", "200"), ("content-length", "10")]
        hdrs += [("x-h-%05d" % i, "v%d" % i) for i in range(n)]
        self.send_big_block(st, hdrs)
        self.raw_data(st.id, body_bytes(10), END_STREAM)
        self.close_stream_h2(st.id)

    def send_big_block(self, st, headers):
        block = hpack_block(headers)
        size = self.remote_max_frame()
        pieces = [block[i:i + size] for i in range(0, len(block), size)]
        out = []
        for i, p in enumerate(pieces):
            flags = END_HEADERS if i == len(pieces) - 1 else 0
            out.append(frame(HEADERS if i == 0 else CONTINUATION, flags,
                             st.id, p))
        self.raw(b"".join(out))
        self.log("stream=%d header block %d bytes, %d frames" % (
            st.id, len(block), len(pieces)))

    async def s_ping_flood(self, st, args, q):
        n = int(self.arg(args, 0, "10000"))
        noread = q.get("noread") == "1"
        if noread:
            # the client's ACKs back up on its side, as in CVE-2019-9512
            self.transport.pause_reading()
        self.raw(b"".join(frame(PING, 0, 0, struct.pack(">Q", i))
                          for i in range(n)))
        self.pings_sent += n
        self.log("stream=%d sent %d PINGs%s" % (
            st.id, n, " without reading" if noread else ""))
        if noread:
            await asyncio.sleep(float(q.get("hold", "1")))
            self.check_open()
            self.transport.resume_reading()
        await self.respond(st, 200, body_bytes(100))

    async def s_ping(self, st, args, q):
        n = int(self.arg(args, 0, "10"))
        base = self.pings_acked
        self.raw(b"".join(frame(PING, 0, 0, struct.pack(">Q", 1000 + i))
                          for i in range(n)))
        self.pings_sent += n
        deadline = time.monotonic() + 10
        while self.pings_acked - base < n and time.monotonic() < deadline:
            await self.wait_flow(count=False)
        self.log("stream=%d %d of %d PINGs acked" % (
            st.id, self.pings_acked - base, n))
        await self.respond(st, 200, body_bytes(100))

    async def s_settings_flood(self, st, args, q):
        n = int(self.arg(args, 0, "10000"))
        one = frame(SETTINGS, 0, 0, struct.pack(">HI", 3, 100))
        self.raw(one * n)
        self.log("stream=%d sent %d SETTINGS" % (st.id, n))
        await self.respond(st, 200, body_bytes(100))

    async def s_window_overflow(self, st, args, q):
        target = st.id if self.arg(args, 0, "") == "stream" else 0
        self.raw(frame(WINDOW_UPDATE, 0, target, struct.pack(">I", MAX_WINDOW)))
        self.log("stream=%d WINDOW_UPDATE %d on stream %d" % (
            st.id, MAX_WINDOW, target))
        await self.respond(st, 200, body_bytes(100))

    async def s_huge_frame(self, st, args, q):
        n = self.remote_max_frame() + 1
        self.raw_headers(st.id, [(":status", "200"),
                                 ("content-length", str(n))])
        self.raw(frame(DATA, END_STREAM, st.id, body_bytes(n)))
        self.close_stream_h2(st.id)
        self.log("stream=%d DATA frame of %d bytes" % (st.id, n))

    async def s_bad_hpack(self, st, args, q):
        self.raw(frame(HEADERS, END_HEADERS, st.id, b"\x80"))
        self.close_stream_h2(st.id)

    async def s_goaway(self, st, args, q):
        self.send_goaway(0, st.id)
        await self.respond(st, 200, body_bytes(int(self.arg(args, 0, "100"))))

    async def s_goaway_error(self, st, args, q):
        code = code_value(self.arg(args, 0, "PROTOCOL_ERROR"))
        st.done = True          # not answered: the prefix stops before it
        self.active.discard(st.id)
        last = 0
        for sid in sorted(self.streams):
            if sid >= st.id or not self.streams[sid].done:
                break
            last = sid
        self.send_goaway(code, last, b"h2bad goaway-error")
        self.flush()
        self.transport.close()

    async def s_refuse(self, st, args, q):
        self.h2.reset_stream(st.id, h2.errors.ErrorCodes.REFUSED_STREAM)

    async def s_rst_mid(self, st, args, q):
        n = int(self.arg(args, 0, "100000"))
        code = code_value(self.arg(args, 1, "INTERNAL_ERROR"))
        self.send_headers(st, 200, [("content-length", str(n))])
        await self.send_body(st, body_bytes(n // 2), end_stream=False)
        self.h2.reset_stream(st.id, code)
        self.log("stream=%d reset %s after %d bytes" % (
            st.id, code_name(code), st.bytes))

    async def s_rst_before_headers(self, st, args, q):
        code = code_value(self.arg(args, 0, "INTERNAL_ERROR"))
        self.h2.reset_stream(st.id, code)

    async def s_close_mid(self, st, args, q):
        n = int(self.arg(args, 0, "100000"))
        self.send_headers(st, 200, [("content-length", str(n))])
        await self.send_body(st, body_bytes(n // 2), end_stream=False)
        self.log("stream=%d closing the connection after %d bytes%s" % (
            st.id, st.bytes, " (RST)" if q.get("rst") == "1" else ""))
        if q.get("rst") == "1":
            await asyncio.sleep(0.2)     # let the bytes leave first
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                struct.pack("ii", 1, 0))
            self.transport.abort()
        else:
            self.transport.close()

    async def s_early_hints(self, st, args, q):
        self.send_headers(st, 103, [("link", "</style.css>; rel=preload")])
        await self.respond(st, 200, b"hinted\n")

    async def s_trailers(self, st, args, q):
        n = int(self.arg(args, 0, "1000"))
        body = body_bytes(n)
        self.send_headers(st, 200, [("content-type", "application/octet-stream"),
                                    ("trailer", "x-checksum, x-bytes")])
        await self.send_body(st, body, end_stream=False)
        self.h2.send_headers(st.id, [(b"x-checksum", b"%08x" % zlib.crc32(body)),
                                     (b"x-bytes", str(n).encode())],
                             end_stream=True)

    async def s_gzip(self, st, args, q):
        n = int(self.arg(args, 0, "10000"))
        await self.respond(st, 200, gzip_bytes(body_bytes(n)),
                           [("content-encoding", "gzip"),
                            ("content-type", "application/octet-stream")])

    async def s_redirect(self, st, args, q):
        code = int(self.arg(args, 0, "302"))
        to = q.get("to", "/s/ok/10")
        await self.respond(st, code, b"redirect\n", [("location", to)])

    async def s_503(self, st, args, q):
        await self.respond(st, 503, b"busy\n",
                           [("retry-after", q.get("after", "1"))])

    async def s_pad(self, st, args, q):
        n = int(self.arg(args, 0, "1000"))
        self.send_headers(st, 200, [("content-length", str(n))])
        await self.send_body(st, body_bytes(n), pad=200)


async def serve(server):
    args = server.args
    ctx = None
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls[0], args.tls[1])
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_alpn_protocols([p for p in args.alpn.split(",") if p])
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(lambda: Conn(server), "127.0.0.1",
                                   args.port, ssl=ctx, backlog=512)
    port = srv.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    else:
        sys.stdout.write("%d\n" % port)
        sys.stdout.flush()
    server.log("listening on 127.0.0.1:%d%s alpn=%s modes=%s" % (
        port, " (TLS)" if args.tls else " (cleartext)",
        args.alpn if args.tls else "-", ",".join(args.mode or []) or "-"))
    await stop.wait()
    srv.close()
    for c in list(server.conns):
        c.transport.abort()
    await asyncio.sleep(0.05)
    server.log("stopped: connections=%d requests=%d violations=%d "
               "client_errors=%d" % (server.connections, server.requests,
                                     server.violations, server.client_errors))


def more_files():
    """As many open files as the hard limit allows: many connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 65536
    if soft != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass


def main():
    p = argparse.ArgumentParser(description="a misbehaving HTTP/2 server")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--log")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--alpn", default="h2,http/1.1")
    p.add_argument("--mode", action="append")
    p.add_argument("--flood-seconds", type=float, default=20.0)
    p.add_argument("--print-body", type=int, metavar="N")
    args = p.parse_args()
    if args.print_body is not None:
        sys.stdout.buffer.write(body_bytes(args.print_body))
        return 0
    more_files()
    server = Server(args)
    try:
        asyncio.run(serve(server))
    except (ssl.SSLError, OSError) as e:
        sys.stderr.write("h2bad: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
