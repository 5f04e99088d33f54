#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""DNS packets a well-behaved resolver never sends, for the live tests.
Run inside the test's own namespace; lab addresses only.

  dns_craft.py big-query SERVER NAME [PADDING]
      a UDP query padded (EDNS padding option, 1600 bytes by default) past
      the link MTU, so the kernel sends it in fragments; exit 0 if the
      answer arrives within 2 s, 1 if none does.
  dns_craft.py tiny-syn IFACE CLIENT SERVER
      from IFACE, a TCP SYN to SERVER port 53 in two IPv4 fragments, the
      first holding only 8 bytes of the TCP header (RFC 1858); exit 0 if
      the server's SYN-ACK arrives within 2 s (the server reassembled
      it: it got through), 1 if none does.
  dns_craft.py forged-referral IFACE CLIENT SERVER ZONE NS GLUE
      from IFACE, raw frames: a query from CLIENT to SERVER (an allowed
      server) for www.ZONE, to an Ethernet address nobody has (so no real
      answer can come back), then a forged "response" from SERVER naming
      NS for ZONE with glue GLUE, as a bot inside could send; exit 0
      once both are sent.

big-query and tiny-syn print "sport=N" (the source port used) before they
wait, so that a test can find their drop-log lines. Exit status 1 means
only "no answer": anything that goes wrong (no ARP entry, a socket error,
bad arguments) exits 2 or more, so a test that expects no answer cannot
pass because the packet was never sent.
"""
import os
import random
import socket
import struct
import sys
import time


def name(n):
    out = b""
    for label in n.strip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def question(qid, qname, flags=0, counts=(1, 0, 0, 0)):
    return struct.pack("!6H", qid, flags, *counts) + name(qname) + struct.pack("!HH", 1, 1)


def big_query(server, qname, pad=1600):
    qid = random.randrange(1, 0xFFFF)
    opt = b"\0" + struct.pack("!HHIH", 41, 1232, 0, 4 + pad) + struct.pack("!HH", 12, pad) + bytes(pad)
    msg = question(qid, qname, counts=(1, 0, 0, 1)) + opt
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, 10, 0)  # IP_MTU_DISCOVER = IP_PMTUDISC_DONT: fragment, no DF
    s.settimeout(2)
    s.bind(("0.0.0.0", 0))
    print(f"sport={s.getsockname()[1]}", flush=True)
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


def mac_of(address):
    """The Ethernet address the kernel resolved for `address` (a datagram
    to it first makes it ARP)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"", (address, 9))  # discard port: nothing answers, ARP resolves
    for _ in range(20):
        for line in open("/proc/net/arp").read().splitlines()[1:]:
            f = line.split()
            if f[0] == address and f[3] != "00:00:00:00:00:00":
                return bytes.fromhex(f[3].replace(":", ""))
        time.sleep(0.1)
    raise RuntimeError(f"no ARP entry for {address}")


def tiny_syn(iface, client, server):
    mac = bytes.fromhex(open(f"/sys/class/net/{iface}/address").read().strip().replace(":", ""))
    eth = mac_of(server) + mac + b"\x08\x00"
    sport, seq = random.randrange(20000, 60000), random.randrange(1 << 32)
    tcp = struct.pack("!HHIIBBHHH", sport, 53, seq, 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = socket.inet_aton(client) + socket.inet_aton(server) + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ident = random.randrange(0xFFFF)

    def fragment(offset8, more, data):
        hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(data), ident, (0x2000 if more else 0) | offset8, 64, 6, 0,
                          socket.inet_aton(client), socket.inet_aton(server))
        return eth + hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:] + data

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    s.bind((iface, 0))
    s.settimeout(0.2)
    print(f"sport={sport}", flush=True)
    s.send(fragment(0, True, tcp[:8]))
    s.send(fragment(1, False, tcp[8:]))
    deadline = time.time() + 2
    while time.time() < deadline:
        try:
            f = s.recv(65535)
        except socket.timeout:
            continue
        ip = f[14:]
        if len(ip) < 40 or ip[9] != 6 or ip[12:16] != socket.inet_aton(server):
            continue
        t = ip[(ip[0] & 0x0F) * 4:]
        if struct.unpack("!HH", t[:4]) == (53, sport) and t[13] & 0x12 == 0x12:
            return 0
    return 1


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
    if len(sys.argv) in (4, 5) and sys.argv[1] == "big-query":
        return big_query(sys.argv[2], sys.argv[3], *(int(a) for a in sys.argv[4:]))
    if len(sys.argv) == 5 and sys.argv[1] == "tiny-syn":
        return tiny_syn(*sys.argv[2:])
    if len(sys.argv) == 8 and sys.argv[1] == "forged-referral":
        return forged_referral(*sys.argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        status = main()
    except Exception as e:  # noqa: BLE001 -- any failure must not read as "no answer"
        print(f"dns_craft.py: {type(e).__name__}: {e}", file=sys.stderr)
        status = 3
    sys.exit(status)
