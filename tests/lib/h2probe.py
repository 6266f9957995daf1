#!/usr/bin/python3
"""h2probe.py - a raw HTTP/2 client that writes down every frame it gets.

Used by tests/integration/h2faults.sh to show that tests/servers/h2bad.py
sends what each scenario says, including what a real client would refuse.
It parses frames by hand and decodes header blocks with the hpack module
(python3-hpack, which python3-h2 depends on), so nothing is rejected:
everything is recorded.

usage: h2probe.py --port P [--tls CAFILE] [--alpn LIST] [--window N]
                  [--no-update] [--no-ping-ack] [--timeout S] [--linger S]
                  [--check EXPR] REQUEST...

REQUEST is a path (GET) or "METHOD PATH".  All requests are sent at once,
on one connection, right after the preface and SETTINGS (ENABLE_PUSH 0,
INITIAL_WINDOW_SIZE --window, default 65535).  The probe acknowledges
SETTINGS and PINGs (unless --no-ping-ack) and gives back the flow-control
window for every DATA frame (unless --no-update).  It stops at EOF, after
--timeout seconds (default 5), or --linger seconds (default 0.3) after
every stream has ended.

Output: one JSON object.  With --check EXPR, nothing is printed unless
EXPR (Python, with r = that object, s = r["streams"], body(N) the body of
/s/ok/N, sha(BYTES), gunzip(BYTES), raw(STREAM) the body of a stream of
up to 64 KiB as bytes) is false: then the object goes to
standard error and the exit status is 1.

  r["alpn"], r["eof"], r["timed_out"], r["frames"] {"DATA": n, ...},
  r["goaway"] [{"last", "code", "debug"}], r["server_settings"] [{...}],
  r["settings_acks"], r["pings"], r["push_promises"] [{"stream",
  "promised", "headers"}], r["window_updates"] [{"stream", "inc"}],
  r["flow_violation"], r["big_frames"] (frames larger than 16384),
  r["hpack_error"], r["errors"]
  s[i]: {"path", "id", "status", "informational" [..], "headers" {..},
  "header_list" [[n, v], ...], "header_bytes", "blocks", "trailers",
  "data" (bytes), "body_sha", "body_head" (first 64 bytes, latin-1),
  "body_b64" (up to 64 KiB), "padded" (padded DATA frames),
  "end", "rst", "order" ["HEADERS", "DATA", "DATA+END", ...],
  "continuations", "block_unfinished", "data_after_end"}
"""

import argparse
import base64
import gzip
import hashlib
import json
import select
import socket
import ssl
import struct
import sys
import time

import hpack

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
NAMES = ["DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS",
         "PUSH_PROMISE", "PING", "GOAWAY", "WINDOW_UPDATE", "CONTINUATION"]
CODES = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
         "SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR",
         "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR",
         "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"]
PATTERN = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n"
BLOCK_CAP = 4 * 1024 * 1024     # header bytes kept per block, at most
SMALL_BODY = 65536              # bodies up to this size are kept whole


def body(n):
    return (PATTERN * (n // len(PATTERN) + 1))[:n]


def sha(b):
    return hashlib.sha256(b).hexdigest()


def gunzip(b):
    return gzip.decompress(b)


def raw(st):
    """The whole body of a stream (SMALL_BODY bytes at most), as bytes."""
    return base64.b64decode(st["body_b64"] or "")


def code_name(c):
    return CODES[c] if c < len(CODES) else "0x%x" % c


def frame(ftype, flags, sid, payload=b""):
    return (struct.pack(">I", len(payload))[1:] + bytes((ftype, flags)) +
            struct.pack(">I", sid) + payload)


class Probe:
    def __init__(self, a):
        self.a = a
        self.enc = hpack.Encoder()
        self.dec = hpack.Decoder(max_header_list_size=1 << 30)
        self.dec.max_allowed_table_size = 65536
        self.out = b""
        self.r = {"alpn": None, "eof": False, "timed_out": False,
                  "frames": {}, "goaway": [], "server_settings": [],
                  "settings_acks": 0, "pings": 0, "push_promises": [],
                  "window_updates": [], "flow_violation": False,
                  "big_frames": 0, "hpack_error": None, "errors": [],
                  "streams": []}
        self.by_id = {}
        self.conn_window = 65535
        self.block = None        # (sid, kind, bytearray, frames)
        self.bodies = {}
        self.small = {}         # the bodies of up to SMALL_BODY bytes

    def connect(self):
        a = self.a
        sock = socket.create_connection(("127.0.0.1", a.port), timeout=5)
        if a.tls:
            ctx = ssl.create_default_context(cafile=a.tls)
            ctx.set_alpn_protocols(a.alpn.split(","))
            sock = ctx.wrap_socket(sock, server_hostname="127.0.0.1")
            self.r["alpn"] = sock.selected_alpn_protocol()
        sock.setblocking(False)
        self.sock = sock

    def send_all(self):
        data, self.out = self.out, b""
        view = memoryview(data)
        deadline = time.monotonic() + 5
        while view:
            try:
                n = self.sock.send(view)
                view = view[n:]
            except (BlockingIOError, ssl.SSLWantWriteError,
                    ssl.SSLWantReadError):
                if time.monotonic() > deadline:
                    self.r["errors"].append("send stalled")
                    return
                select.select([], [self.sock], [], 0.05)
            except OSError as e:
                self.r["errors"].append("send: %s" % e)
                return

    def start(self, requests):
        settings = struct.pack(">HIHIHI", 2, 0, 4, self.a.window, 3, 100)
        self.out += PREFACE + frame(4, 0, 0, settings)
        sid = 1
        for req in requests:
            method, _, path = req.partition(" ")
            if not path:
                method, path = "GET", req
            block = self.enc.encode([(":method", method), (":scheme",
                                     "https" if self.a.tls else "http"),
                                     (":authority", "127.0.0.1:%d" % self.a.port),
                                     (":path", path),
                                     ("user-agent", "h2probe")])
            self.out += frame(1, 0x5, sid, block)
            st = {"path": path, "method": method, "id": sid, "status": None,
                  "informational": [], "headers": {}, "header_list": [],
                  "header_bytes": 0, "blocks": 0, "trailers": None,
                  "data": 0, "body_sha": None, "body_head": "",
                  "end": False, "rst": None, "order": [],
                  "continuations": 0, "block_unfinished": False,
                  "data_after_end": 0, "window": self.a.window,
                  "final": False, "header_count": 0, "padded": 0,
                  "body_b64": None}
            self.r["streams"].append(st)
            self.by_id[sid] = st
            self.bodies[sid] = hashlib.sha256()
            sid += 2
        self.send_all()

    def note(self, st, what):
        if st is not None and len(st["order"]) < 40:
            st["order"].append(what)

    def on_block_done(self):
        sid, kind, buf, nframes, end_stream = self.block
        self.block = None
        st = self.by_id.get(sid)
        if kind == "PUSH_PROMISE":
            promised = struct.unpack(">I", bytes(buf[:4]))[0] & 0x7FFFFFFF
            buf = buf[4:]
        if len(buf) >= BLOCK_CAP:
            if st is not None:
                st["block_unfinished"] = True
            return
        try:
            hdrs = self.dec.decode(bytes(buf), raw=True)
        except Exception as e:      # any decoding failure is the point
            self.r["hpack_error"] = "%s: %s" % (e.__class__.__name__, e)
            return
        hdrs = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in hdrs]
        if kind == "PUSH_PROMISE":
            self.r["push_promises"].append({"stream": sid, "promised": promised,
                                            "headers": hdrs[:20]})
            return
        if st is None:
            return
        st["blocks"] += 1
        st["header_bytes"] = max(st["header_bytes"], len(buf))
        status = dict(hdrs).get(":status")
        if not st["final"]:
            if status is not None and len(status) == 3 and status[0] == "1":
                st["informational"].append(status)
            else:
                st["final"] = True
                st["status"] = status
                st["header_count"] = len(hdrs)
                st["header_list"] = [list(h) for h in hdrs[:50]]
                for n, v in hdrs:
                    st["headers"].setdefault(n, v)
        else:
            st["trailers"] = dict(hdrs)

    def on_frame(self, ftype, flags, sid, payload):
        name = NAMES[ftype] if ftype < len(NAMES) else "TYPE%d" % ftype
        fr = self.r["frames"]
        fr[name] = fr.get(name, 0) + 1
        if len(payload) > 16384:
            self.r["big_frames"] += 1
        st = self.by_id.get(sid)
        if self.block is not None and ftype != 9:
            self.r["errors"].append("%s inside a header block" % name)
            self.block = None
        if ftype == 0:                                       # DATA
            data = payload
            if flags & 0x8 and data:
                pad = data[0]
                data = data[1:len(data) - pad] if pad < len(data) else b""
                if st is not None:
                    st["padded"] += 1
            self.conn_window -= len(payload)
            if st is not None:
                st["window"] -= len(payload)
                if st["window"] < 0:
                    self.r["flow_violation"] = True
                if st["end"]:
                    st["data_after_end"] += len(data)
                else:
                    st["data"] += len(data)
                    self.bodies[sid].update(data)
                    if st["data"] <= SMALL_BODY:
                        self.small[sid] = self.small.get(sid, b"") + data
                    if len(st["body_head"]) < 64:
                        st["body_head"] += data[:64 - len(st["body_head"])].decode("latin-1")
            if self.conn_window < 0:
                self.r["flow_violation"] = True
            self.note(st, "DATA+END" if flags & 1 else "DATA")
            if flags & 1 and st is not None:
                st["end"] = True
            if not self.a.no_update and payload:
                self.conn_window += len(payload)
                self.out += frame(8, 0, 0, struct.pack(">I", len(payload)))
                if st is not None and not st["end"]:
                    st["window"] += len(payload)
                    self.out += frame(8, 0, sid, struct.pack(">I", len(payload)))
        elif ftype in (1, 5):                                # HEADERS, PUSH
            data = payload
            if flags & 0x8 and data:
                pad = data[0]
                data = data[1:len(data) - pad]
            if ftype == 1 and flags & 0x20:
                data = data[5:]
            kind = "HEADERS" if ftype == 1 else "PUSH_PROMISE"
            self.note(st, kind + ("+END" if flags & 1 and ftype == 1 else ""))
            self.block = (sid, kind, bytearray(data), 1, bool(flags & 1))
            if flags & 0x4:
                self.on_block_done()
            if ftype == 1 and flags & 1 and st is not None:
                st["end"] = True
        elif ftype == 9:                                     # CONTINUATION
            if st is not None:
                st["continuations"] += 1
            if self.block is None:
                self.r["errors"].append("CONTINUATION without HEADERS")
                return
            buf = self.block[2]
            if len(buf) < BLOCK_CAP:
                buf += payload[:BLOCK_CAP - len(buf)]
            if flags & 0x4:
                self.on_block_done()
        elif ftype == 3:                                     # RST_STREAM
            code = struct.unpack(">I", payload[:4])[0] if len(payload) >= 4 else -1
            self.note(st, "RST_STREAM")
            if st is not None:
                st["rst"] = code_name(code)
        elif ftype == 4:                                     # SETTINGS
            if flags & 1:
                self.r["settings_acks"] += 1
            else:
                vals = {}
                for i in range(0, len(payload) - len(payload) % 6, 6):
                    k, v = struct.unpack(">HI", payload[i:i + 6])
                    vals[str(k)] = v
                if len(self.r["server_settings"]) < 5:
                    self.r["server_settings"].append(vals)
                self.r["server_settings_count"] = \
                    self.r.get("server_settings_count", 0) + 1
                self.out += frame(4, 1, 0)
        elif ftype == 6:                                     # PING
            if not flags & 1:
                self.r["pings"] += 1
                if not self.a.no_ping_ack:
                    self.out += frame(6, 1, 0, payload)
        elif ftype == 7:                                     # GOAWAY
            last, code = struct.unpack(">II", payload[:8])
            self.r["goaway"].append({"last": last & 0x7FFFFFFF,
                                     "code": code_name(code),
                                     "debug": payload[8:80].decode("latin-1")})
        elif ftype == 8:                                     # WINDOW_UPDATE
            inc = struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF
            if len(self.r["window_updates"]) < 20:
                self.r["window_updates"].append({"stream": sid, "inc": inc})

    def finished(self):
        return all(s["end"] or s["rst"] for s in self.r["streams"])

    def run(self):
        buf = b""
        start = time.monotonic()
        deadline = start + self.a.timeout
        done_at = None
        while True:
            now = time.monotonic()
            if now > deadline:
                self.r["timed_out"] = True
                break
            if self.finished():
                if done_at is None:
                    done_at = now
                elif now - done_at > self.a.linger:
                    break
            try:
                ready = select.select([self.sock], [], [], 0.05)[0]
                pending = self.sock.pending() if hasattr(self.sock, "pending") else 0
                if not ready and not pending:
                    continue
                chunk = self.sock.recv(262144)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                continue
            except OSError as e:
                self.r["errors"].append("recv: %s" % e)
                self.r["eof"] = True
                break
            if not chunk:
                self.r["eof"] = True
                break
            buf += chunk
            while len(buf) >= 9:
                length = int.from_bytes(buf[:3], "big")
                if len(buf) < 9 + length:
                    break
                ftype, flags = buf[3], buf[4]
                sid = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
                self.on_frame(ftype, flags, sid, buf[9:9 + length])
                buf = buf[9 + length:]
            if self.out:
                self.send_all()
        self.r["elapsed_ms"] = int((time.monotonic() - start) * 1000)
        if buf and not self.r["frames"]:
            self.r["errors"].append("not HTTP/2: %r" % buf[:60])
        self.r["leftover"] = len(buf)
        for s in self.r["streams"]:
            if s["data"]:
                s["body_sha"] = self.bodies[s["id"]].hexdigest()
            if 0 < s["data"] <= SMALL_BODY:
                s["body_b64"] = base64.b64encode(self.small[s["id"]]).decode()
        try:
            self.sock.close()
        except OSError:
            pass
        return self.r


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tls", metavar="CAFILE")
    p.add_argument("--alpn", default="h2")
    p.add_argument("--window", type=int, default=65535)
    p.add_argument("--no-update", action="store_true")
    p.add_argument("--no-ping-ack", action="store_true")
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("--linger", type=float, default=0.3)
    p.add_argument("--check")
    p.add_argument("requests", nargs="+")
    a = p.parse_args()
    probe = Probe(a)
    try:
        probe.connect()
        probe.start(a.requests)
        r = probe.run()
    except (OSError, ssl.SSLError) as e:
        r = probe.r
        r["errors"].append("connect: %s" % e)
    text = json.dumps(r, sort_keys=True)
    if a.check is None:
        print(text)
        return 0
    env = {"r": r, "s": r["streams"], "body": body, "sha": sha,
           "gunzip": gunzip, "raw": raw}
    try:
        good = eval(a.check, env)
    except Exception as e:
        sys.stderr.write("check %r raised %s: %s\n" % (a.check, e.__class__.__name__, e))
        good = False
    if good:
        return 0
    sys.stderr.write("check failed: %s\n%s\n" % (a.check, text[:3000]))
    return 1


if __name__ == "__main__":
    sys.exit(main())
