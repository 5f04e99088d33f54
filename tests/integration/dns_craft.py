#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""DNS packets a well-behaved resolver never sends, for the live tests.
Run inside the test's own namespace; lab addresses only.

  dns_craft.py big-query SERVER NAME
      a UDP query padded (EDNS padding option) past the link MTU, so the
      kernel sends it in fragments; exit 0 if any answer arrives within 2 s,
      1 if none does.
  dns_craft.py forged-referral IFACE CLIENT SERVER ZONE NS GLUE
      from IFACE, raw frames: a query from CLIENT to SERVER (an allowed
      server) for www.ZONE, to an Ethernet address nobody has (so no real
      answer can come back), then a forged "response" from SERVER naming
      NS for ZONE with glue GLUE, as a bot inside could send.
"""
import os
import random
import socket
import struct
import sys


def name(n):
    out = b""
    for label in n.strip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def question(qid, qname, flags=0, counts=(1, 0, 0, 0)):
    return struct.pack("!6H", qid, flags, *counts) + name(qname) + struct.pack("!HH", 1, 1)


def big_query(server, qname):
    qid = random.randrange(1, 0xFFFF)
    pad = 1600
    opt = b"\0" + struct.pack("!HHIH", 41, 1232, 0, 4 + pad) + struct.pack("!HH", 12, pad) + bytes(pad)
    msg = question(qid, qname, counts=(1, 0, 0, 1)) + opt
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, 10, 0)  # IP_MTU_DISCOVER = IP_PMTUDISC_DONT: fragment, no DF
    s.settimeout(2)
    s.sendto(msg, (server, 53))
    try:
        data, _ = s.recvfrom(65535)
    except socket.timeout:
        return 1
    return 0 if len(data) >= 12 and struct.unpack("!H", data[:2])[0] == qid else 1


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def ipv4_udp(src, dst, sport, dport, payload):
    udp = struct.pack("!4H", sport, dport, 8 + len(payload), 0) + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), random.randrange(0xFFFF), 0, 64, 17, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return hdr + udp


def forged_referral(iface, client, server, zone, ns, glue):
    mac = bytes.fromhex(open(f"/sys/class/net/{iface}/address").read().strip().replace(":", ""))
    nobody = bytes.fromhex("020000000099")  # no host has it: the real server never sees the query
    qid, port, qname = random.randrange(1, 0xFFFF), random.randrange(20000, 60000), "www." + zone
    query = question(qid, qname)
    answer = question(qid, qname, flags=0x8000, counts=(1, 0, 1, 1))
    answer += name(zone) + struct.pack("!HHIH", 2, 1, 86400, len(name(ns))) + name(ns)
    answer += name(ns) + struct.pack("!HHIH", 1, 1, 86400, 4) + socket.inet_aton(glue)
    eth = nobody + mac + b"\x08\x00"
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    s.send(eth + ipv4_udp(client, server, port, 53, query))
    s.send(eth + ipv4_udp(server, client, 53, port, answer))
    return 0


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "big-query":
        return big_query(sys.argv[2], sys.argv[3])
    if len(sys.argv) == 8 and sys.argv[1] == "forged-referral":
        return forged_referral(*sys.argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
