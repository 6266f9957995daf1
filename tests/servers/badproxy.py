#!/usr/bin/env python3
"""badproxy.py - a small HTTP proxy for evfetch tests, well or badly behaved.

Standard library only (asyncio).  Listens on 127.0.0.1 only, and every
target it reaches is on 127.0.0.1 too, whatever name the request gives.

CONNECT host:port: the host name chooses the behaviour:

  s407.test, s403.test, s502.test   that status, with a small body
  big407.test           407 with Content-Length 100 MB, its body streamed
                        (a client must not read it)
  close.test            half a status line, then close
  garbage.test          "SSH-2.0-nonsense" and blank lines, then stall
  body.test             200 with Content-Length: 10 and ten bytes of body
  hugehead.test         a 200 whose head never ends (10 MB of fields)
  stall.test            never answer
  midclose.test         a real tunnel that closes after 3000 bytes from
                        the target
  anything else         a real tunnel to 127.0.0.1:port

Any other method with an absolute-form target (GET http://host:port/x):
the request is passed, unchanged, to 127.0.0.1:port, and the connection
piped both ways from then on.

Options: --tls CERT KEY (TLS to the proxy itself), --auth USER:PASS
(407 with Proxy-Authenticate unless the request carries those
credentials), --port-file, --log (one line per request head: the method
and target, and "auth=yes/no").
"""
import argparse
import asyncio
import base64
import ssl
import sys

LOG = None


def log(line):
    if LOG:
        LOG.write(line + "\n")
        LOG.flush()


async def pipe(reader, writer, limit=None):
    sent = 0
    try:
        while True:
            data = await reader.read(16384)
            if not data:
                break
            if limit is not None and sent + len(data) > limit:
                writer.write(data[: limit - sent])
                break
            writer.write(data)
            sent += len(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def tunnel(reader, writer, port, first=b"", limit=None):
    try:
        ur, uw = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
        writer.close()
        return
    if first:
        uw.write(first)
    else:
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
    await asyncio.gather(pipe(reader, uw), pipe(ur, writer, limit))


def refuse(writer, status, reason, extra=b""):
    body = b"refused by badproxy\n"
    writer.write(b"HTTP/1.1 %d %s\r\nContent-Length: %d\r\n%s\r\n%s"
                 % (status, reason, len(body), extra, body))


async def handle(reader, writer, args):
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError,
            ssl.SSLError):
        writer.close()
        return
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        writer.close()
        return
    method, target = parts[0], parts[1]
    auth = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "proxy-authorization":
            auth = value.strip()
    log("%s %s auth=%s" % (method, target, "yes" if auth else "no"))
    if args.auth:
        want = "Basic " + base64.b64encode(args.auth.encode()).decode()
        if auth != want:
            refuse(writer, 407, b"Proxy Authentication Required",
                   b'Proxy-Authenticate: Basic realm="badproxy"\r\n')
            await writer.drain()
            writer.close()
            return
    if method != "CONNECT":
        # absolute form: http://host:port/path
        rest = target.split("://", 1)[-1]
        hostport = rest.split("/", 1)[0]
        port = int(hostport.rsplit(":", 1)[1]) if ":" in hostport.rsplit("]", 1)[-1] else 80
        await tunnel(reader, writer, port, first=head)
        return
    host, _, port = target.rpartition(":")
    port = int(port)
    if host in ("s407.test", "s403.test", "s502.test"):
        code = int(host[1:4])
        reason = {407: b"Proxy Authentication Required", 403: b"Forbidden",
                  502: b"Bad Gateway"}[code]
        refuse(writer, code, reason)
        await writer.drain()
        await asyncio.sleep(0.5)
        writer.close()
    elif host == "big407.test":
        writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                     b"Content-Length: 100000000\r\n\r\n")
        try:
            for _ in range(100000):
                writer.write(b"x" * 1000)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        writer.close()
    elif host == "close.test":
        writer.write(b"HTTP/1.1 2")
        await writer.drain()
        writer.close()
    elif host == "garbage.test":
        writer.write(b"SSH-2.0-nonsense\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(30)
        writer.close()
    elif host == "body.test":
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789")
        await writer.drain()
        await asyncio.sleep(30)
        writer.close()
    elif host == "hugehead.test":
        writer.write(b"HTTP/1.1 200 OK\r\n")
        try:
            for i in range(100000):
                writer.write(b"X-Filler-%d: %s\r\n" % (i, b"y" * 100))
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        writer.close()
    elif host == "stall.test":
        await asyncio.sleep(60)
        writer.close()
    elif host == "midclose.test":
        await tunnel(reader, writer, port, limit=3000)
    else:
        await tunnel(reader, writer, port)


async def main():
    global LOG
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--auth")
    args = ap.parse_args()
    if args.log:
        LOG = open(args.log, "a")
    ctx = None
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls[0], args.tls[1])
    server = await asyncio.start_server(lambda r, w: handle(r, w, args), "127.0.0.1", 0,
                                        ssl=ctx)
    port = server.sockets[0].getsockname()[1]
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % port)
    import os
    os.rename(args.port_file + ".tmp", args.port_file)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
