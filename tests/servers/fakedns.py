#!/usr/bin/env python3
"""fakedns.py - a tiny authoritative UDP DNS server for evfetch tests.

Standard library only.  Listens on 127.0.0.1 only.

  --a NAME=ADDR      answer A queries for NAME with ADDR (repeatable); other
                     query types for NAME get an empty NOERROR answer
  --aaaa NAME=ADDR   answer AAAA queries for NAME with ADDR (repeatable)
  --drop NAME        never answer queries for NAME (for resolver timeouts)
  --drop-aaaa NAME   never answer AAAA queries for NAME (A ones are)
  --drop-a NAME      never answer A queries for NAME (AAAA ones are)
  --delay-a NAME=MS, --delay-aaaa NAME=MS
                     answer A (AAAA) queries for NAME MS milliseconds late
  --servfail NAME    answer SERVFAIL for NAME
  --port P           0 (default) picks a free port
  --port-file FILE   write the port there once bound; without it the port
                     is the first line on stdout
  --log FILE         one line per query (default stderr)
  --ttl SECONDS      TTL of the answers (default 60)

Every other name gets NXDOMAIN.  Names match without regard to case (a
resolver may randomise the case of a query: the question is echoed back
exactly as it came).  SIGTERM or SIGINT: exit 0.
"""

import argparse
import ipaddress
import os
import signal
import socket
import struct
import sys
import threading

TYPE_A, TYPE_AAAA, CLASS_IN = 1, 28, 1
NOERROR, SERVFAIL, NXDOMAIN, NOTIMP = 0, 2, 3, 4
TYPE_NAMES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX",
              16: "TXT", 28: "AAAA", 33: "SRV", 65: "HTTPS"}


def parse_question(packet):
    """Return (id, flags, qname, qtype, qclass, question bytes) or None."""
    if len(packet) < 12:
        return None
    qid, flags, qdcount = struct.unpack("!HHH", packet[:6])
    if flags & 0x8000 or qdcount != 1:
        return None
    pos, labels = 12, []
    while True:
        if pos >= len(packet):
            return None
        n = packet[pos]
        if n & 0xC0:
            return None  # no compression in a question we accept
        pos += 1
        if n == 0:
            break
        labels.append(packet[pos:pos + n].decode("ascii", "replace"))
        pos += n
    if pos + 4 > len(packet):
        return None
    qtype, qclass = struct.unpack("!HH", packet[pos:pos + 4])
    return qid, flags, ".".join(labels), qtype, qclass, packet[12:pos + 4]


def build_reply(qid, qflags, question, rcode, answers, ttl):
    opcode = (qflags >> 11) & 0xF
    if opcode != 0:
        rcode, answers = NOTIMP, []
    # QR, the query's opcode and RD, AA and RA set.
    flags = 0x8000 | (opcode << 11) | 0x0400 | (qflags & 0x0100) | 0x0080 | rcode
    out = [struct.pack("!HHHHHH", qid, flags, 1, len(answers), 0, 0), question]
    for rtype, rdata in answers:
        # 0xC00C points back at the name in the question.
        out.append(struct.pack("!HHHIH", 0xC00C, rtype, CLASS_IN, ttl, len(rdata)))
        out.append(rdata)
    return b"".join(out)


def name_value(spec, family):
    name, sep, addr = spec.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError("expected NAME=ADDR, got %r" % spec)
    ip = ipaddress.ip_address(addr)
    if ip.version != family:
        raise argparse.ArgumentTypeError("%r is not an IPv%d address" % (addr, family))
    return name.lower().rstrip("."), ip.packed


def main():
    p = argparse.ArgumentParser(description="a tiny test DNS server")
    p.add_argument("--a", action="append", default=[],
                   type=lambda s: name_value(s, 4), metavar="NAME=ADDR")
    p.add_argument("--aaaa", action="append", default=[],
                   type=lambda s: name_value(s, 6), metavar="NAME=ADDR")
    p.add_argument("--drop", action="append", default=[])
    p.add_argument("--drop-aaaa", action="append", default=[])
    p.add_argument("--drop-a", action="append", default=[])
    p.add_argument("--delay-a", action="append", default=[], metavar="NAME=MS")
    p.add_argument("--delay-aaaa", action="append", default=[], metavar="NAME=MS")
    p.add_argument("--servfail", action="append", default=[])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--log")
    p.add_argument("--ttl", type=int, default=60)
    args = p.parse_args()

    records = {}
    for name, packed in args.a:
        records.setdefault(name, {}).setdefault(TYPE_A, []).append(packed)
    for name, packed in args.aaaa:
        records.setdefault(name, {}).setdefault(TYPE_AAAA, []).append(packed)
    drop = {n.lower().rstrip(".") for n in args.drop}
    drop_aaaa = {n.lower().rstrip(".") for n in args.drop_aaaa}
    drop_a = {n.lower().rstrip(".") for n in args.drop_a}
    delay = {}
    for qt, specs in ((TYPE_A, args.delay_a), (TYPE_AAAA, args.delay_aaaa)):
        for spec in specs:
            name, _, ms = spec.partition("=")
            delay[(name.lower().rstrip("."), qt)] = int(ms) / 1000.0
    servfail = {n.lower().rstrip(".") for n in args.servfail}
    log = open(args.log, "a", buffering=1) if args.log else sys.stderr

    def stop(_sig, _frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", args.port))
    port = sock.getsockname()[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    else:
        sys.stdout.write("%d\n" % port)
        sys.stdout.flush()
    log.write("listening on 127.0.0.1:%d/udp\n" % port)

    try:
        while True:
            packet, peer = sock.recvfrom(4096)
            q = parse_question(packet)
            if q is None:
                log.write("ignored a malformed packet from %s:%d\n" % peer)
                continue
            qid, qflags, qname, qtype, qclass, question = q
            key = qname.lower().rstrip(".")
            tname = TYPE_NAMES.get(qtype, str(qtype))
            if (key in drop or (key in drop_aaaa and qtype == TYPE_AAAA) or
                    (key in drop_a and qtype == TYPE_A)):
                log.write("%s %s -> (dropped)\n" % (qname, tname))
                continue
            answers, rcode = [], NXDOMAIN
            if key in servfail:
                rcode = SERVFAIL
            elif key in records:
                rcode = NOERROR
                if qclass == CLASS_IN:
                    answers = [(qtype, rd) for rd in records[key].get(qtype, [])]
            log.write("%s %s -> %s\n" % (
                qname, tname,
                {NOERROR: "NOERROR", NXDOMAIN: "NXDOMAIN", SERVFAIL: "SERVFAIL"}[rcode] +
                "".join(" " + str(ipaddress.ip_address(rd)) for _, rd in answers)))
            reply = build_reply(qid, qflags, question, rcode, answers, args.ttl)
            if (key, qtype) in delay:
                threading.Timer(delay[(key, qtype)], sock.sendto, (reply, peer)).start()
            else:
                sock.sendto(reply, peer)
    except SystemExit:
        pass
    finally:
        sock.close()
        log.write("stopped\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
