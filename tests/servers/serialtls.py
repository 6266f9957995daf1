#!/usr/bin/env python3
"""serialtls.py - an HTTPS server that does one thing at a time.

Python's http.server, single-threaded, on a listening socket wrapped by
the ssl module: accept() completes each TLS handshake before it returns,
one connection after the other, in accept order, and a request is served
to the end before the next connection is accepted.  A client that opens a
TCP connection and then holds back its ClientHello stalls this server for
every other connection, which is what the test of that looks for.

GET /N answers 200 with the body "file N\\n" (HTTP/1.0, then close);
GET /slow/S/N does the same after S seconds.

With --threads the server is no longer serial: each connection gets a
thread once accepted (the handshake still runs inside accept()).  With
--no-tickets a TLS 1.3 server sends no session tickets at all.

usage: serialtls.py --port-file F --log F --cert PEM --key PEM
                    [--tls1.2 | --tls1.3] [--threads] [--no-tickets]
"""
import argparse
import http.server
import socketserver
import ssl
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        parts = self.path.split("/")
        if len(parts) == 4 and parts[1] == "slow":
            time.sleep(float(parts[2]))
        body = ("file %s\n" % parts[-1]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        self.server.logf.write("%s\n" % (fmt % args))
        self.server.logf.flush()


class Server(http.server.HTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        self.logf.write("error from %s: %s\n" % (client_address, sys.exc_info()[1]))
        self.logf.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--tls1.2", dest="tls12", action="store_true")
    ap.add_argument("--tls1.3", dest="tls13", action="store_true")
    ap.add_argument("--threads", action="store_true")
    ap.add_argument("--no-tickets", dest="no_tickets", action="store_true")
    a = ap.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    if a.tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if a.tls13:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if a.no_tickets:
        ctx.num_tickets = 0
    cls = Server
    if a.threads:
        cls = type("ThreadingServer", (socketserver.ThreadingMixIn, Server), {})
    srv = cls(("127.0.0.1", 0), Handler)
    srv.logf = open(a.log, "a")
    srv.request_queue_size = 128
    # the handshake runs inside accept(), so connections are handshaken
    # strictly one at a time, in the order the kernel queued them
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(a.port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    import os
    os.rename(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
