#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The nsgate command line end to end, on captures the generator writes and
on the shared real captures: learn (table/json/csv, explain, snapshot),
check, decode, config check, and the errors an operator sees.

usage: cli_test.py NSGATE NSGATE_GEN SOURCE_DIR PCAPS_DIR
"""
import atexit
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile

NSGATE, GEN, SRC, PCAPS = sys.argv[1:5]
passed = failed = 0


def run(*args, ok=True):
    p = subprocess.run([NSGATE, *args], capture_output=True, text=True, timeout=120)
    if ok and p.returncode != 0:
        raise AssertionError(f"nsgate {' '.join(args)} exited {p.returncode}: {p.stderr}")
    return p


def check(name, fn):
    global passed, failed
    try:
        fn()
        passed += 1
        print(f"ok   {name}")
    except Exception as e:  # noqa: BLE001 -- an error in a check fails that check, not the run
        failed += 1
        print(f"FAIL {name}: {type(e).__name__}: {e}")


tmp = tempfile.mkdtemp(prefix="nsgate-cli-")
atexit.register(shutil.rmtree, tmp, ignore_errors=True)
demo = os.path.join(tmp, "demo.pcap")
subprocess.run([GEN, "demo", demo], check=True, capture_output=True)
conf = os.path.join(SRC, "conf", "nsgate.yaml")


def bundled_demo_capture_matches_the_generator():
    with open(demo, "rb") as a, open(os.path.join(SRC, "data/demo/lab-resolver.pcap"), "rb") as b:
        assert a.read() == b.read(), "data/demo/lab-resolver.pcap differs from `nsgate-gen demo`"


def learn_json_lists_exactly_the_delegated_servers():
    out = run("learn", "-c", conf, "--format", "json", demo).stdout
    rows = [json.loads(l) for l in out.splitlines()]
    got = {r["address"] for r in rows}
    want = {"198.51.100.1", "198.51.100.2", "2001:db8:100::1", "203.0.113.10", "203.0.113.11",
            "203.0.113.20", "203.0.113.30", "2001:db8:200::53", "203.0.113.40"}
    assert got == want, f"learned {sorted(got)}"
    keys = {"address", "family", "zone", "ns", "ns_ttl", "addr_ttl", "expires", "query_time",
            "query_id", "query_name", "response_time", "server"}
    for r in rows:
        assert set(r) == keys, f"keys {sorted(r)}"
    shop = next(r for r in rows if r["address"] == "203.0.113.30")
    assert shop["zone"] == "shop.example.lab." and shop["ns"] == "ns.hoster.lab.", shop
    assert next(r for r in rows if r["address"] == "2001:db8:200::53")["family"] == 6


def learn_csv_has_the_table_one_columns():
    out = run("learn", "--format", "csv", demo).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 9, len(rows)
    assert rows[0]["query_name"] == "www.example.lab.", rows[0]


def learn_summary_counts_refusals_by_reason():
    out = run("learn", demo).stdout
    assert "source_not_allowed=1" in out, out
    assert "answer_not_delegation=2" in out, out
    assert "dns messages: 20 (udp 18, tcp 2)" in out, out


def explain_names_the_rule_for_each_refusal():
    out = run("learn", "--explain", demo).stdout
    assert "taught nothing: source_not_allowed (rule 2" in out, out
    assert "update.example.lab. A 203.0.113.99: answer_not_delegation" in out, out
    assert "shop.example.lab. NS ns.hoster.lab.: pending for zone shop.example.lab." in out, out


def snapshot_then_check_gives_verdicts_and_reasons():
    snap = os.path.join(tmp, "t.snap")
    run("learn", "-c", conf, demo, "--snapshot", snap)
    out = run("check", "-c", conf, "--snapshot", snap, "--at", "snapshot", "--format", "json",
              "203.0.113.10", "8.8.4.4", "198.41.0.4", "203.0.113.66").stdout
    v = {j["address"]: j for j in map(json.loads, out.splitlines())}
    assert v["203.0.113.10"]["verdict"] == "pass" and v["203.0.113.10"]["reason"] == "learned", v
    assert v["203.0.113.10"]["zone"] == "example.lab.", v
    assert v["8.8.4.4"]["reason"] == "static", v
    assert v["198.41.0.4"]["reason"] == "anchor", v
    assert v["203.0.113.66"]["verdict"] == "block", v
    # At wall-clock now the 2025 capture's entries have expired.
    out = run("check", "--snapshot", snap, "203.0.113.10").stdout
    assert out.startswith("203.0.113.10 block expired"), out
    # A time that is no time is refused, not read as the epoch.
    for bad in ["nan", "inf", "-1", "1e300", "soon"]:
        p = run("check", "--snapshot", snap, "--at", bad, "203.0.113.10", ok=False)
        assert p.returncode != 0 and "--at must be" in p.stderr, (bad, p.stdout, p.stderr)


def corrupt_snapshot_is_refused_clearly():
    snap = os.path.join(tmp, "t.snap")
    run("learn", demo, "--snapshot", snap)
    data = bytearray(open(snap, "rb").read())
    data[60] ^= 0xFF
    bad = os.path.join(tmp, "bad.snap")
    open(bad, "wb").write(data)
    p = run("check", "--snapshot", bad, "192.0.2.1", ok=False)
    assert p.returncode != 0 and "checksum" in p.stderr and bad in p.stderr, p.stderr
    open(bad, "wb").write(data[:30])
    p = run("check", "--snapshot", bad, "192.0.2.1", ok=False)
    assert p.returncode != 0 and "truncated" in p.stderr, p.stderr


def missing_and_truncated_captures_are_named():
    p = run("learn", os.path.join(tmp, "nope.pcap"), ok=False)
    assert p.returncode != 0 and "nope.pcap" in p.stderr, p.stderr
    data = open(demo, "rb").read()
    cut = os.path.join(tmp, "cut.pcap")
    open(cut, "wb").write(data[:-20])
    p = run("learn", cut, ok=False)
    assert p.returncode != 0 and "cut.pcap" in p.stderr and "frame 30" in p.stderr, p.stderr
    garbage = os.path.join(tmp, "garbage.pcap")
    open(garbage, "wb").write(b"this is not a capture at all")
    p = run("learn", garbage, ok=False)
    assert p.returncode != 0 and "garbage.pcap" in p.stderr, p.stderr


def a_failed_learn_leaves_the_earlier_snapshot():
    snap = os.path.join(tmp, "keep.snap")
    run("learn", demo, "--snapshot", snap)
    before = open(snap, "rb").read()
    # The demo's first 12 frames: a snapshot of its own would differ.
    data, records, at = open(demo, "rb").read(), [], 24
    while at < len(data) and len(records) < 12:
        incl = int.from_bytes(data[at + 8:at + 12], "little")
        records.append(data[at:at + 16 + incl])
        at += 16 + incl
    part = os.path.join(tmp, "part.pcap")
    open(part, "wb").write(data[:24] + b"".join(records))
    p = run("learn", part, os.path.join(tmp, "nope.pcap"), "--snapshot", snap, ok=False)
    assert p.returncode != 0 and "snapshot not written" in p.stderr, p.stderr
    assert open(snap, "rb").read() == before, "the earlier snapshot was replaced"


def output_that_cannot_be_written_is_an_error():
    snap = os.path.join(tmp, "t.snap")
    run("learn", demo, "--snapshot", snap)
    for args in (["learn", "--format", "json", demo], ["learn", demo], ["decode", "--format", "json", demo],
                 ["check", "--snapshot", snap, "192.0.2.1"]):
        with open("/dev/full", "w") as full:
            p = subprocess.run([NSGATE, *args], stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
        assert p.returncode != 0 and "writing the output failed" in p.stderr, (args, p.returncode, p.stderr)


def check_refuses_what_it_cannot_answer_before_answering():
    snap = os.path.join(tmp, "t.snap")
    run("learn", demo, "--snapshot", snap)
    p = run("check", "--snapshot", snap, "192.0.2.1", "bogus", "192.0.2.2", ok=False)
    assert p.returncode != 0 and "'bogus' is not an IPv4 or IPv6 address" in p.stderr and p.stdout == "", p
    p = run("check", "192.0.2.1", ok=False)
    assert p.returncode != 0 and "--snapshot FILE is required" in p.stderr, p.stderr
    p = run("check", "--snapshot", tmp, "192.0.2.1", ok=False)
    assert p.returncode == 1 and "is a folder, not a snapshot file" in p.stderr, (p.returncode, p.stderr)


def a_time_stamp_past_2261_is_a_corrupt_frame_and_one_past_2038_a_time():
    # pcapng keeps 64-bit time stamps: 2^62 microseconds is beyond what
    # nanoseconds in 64 bits hold (it wrapped to 1970 and was learned with).
    import struct
    frame = open(demo, "rb").read()[24 + 16:]  # the first frame of the demo capture, and more
    def block(kind, body):
        body += b"\0" * (-len(body) % 4)
        return struct.pack("<II", kind, len(body) + 12) + body + struct.pack("<I", len(body) + 12)
    shb = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb = block(1, struct.pack("<HHI", 1, 0, 65535))
    t = 1 << 62
    epb = block(6, struct.pack("<IIIII", 0, t >> 32, t & 0xFFFFFFFF, 60, 60) + frame[:60])
    path = os.path.join(tmp, "future.pcapng")
    open(path, "wb").write(shb + idb + epb)
    for cmd in (["decode", "--format", "json"], ["learn"]):
        p = run(*cmd, path, ok=False)
        assert p.returncode != 0 and "future.pcapng: frame 1: its time stamp" in p.stderr, (cmd, p.stderr)
    # Classic pcap's 32 unsigned bits of seconds run to 2106: a time past
    # 2038 (where they no longer fit a signed 32-bit number) is a time.
    import datetime
    seconds = 0x85F5E100
    later = os.path.join(tmp, "2041.pcap")
    raw = bytearray(open(demo, "rb").read())
    raw[24:28] = seconds.to_bytes(4, "little")  # the first frame's seconds
    open(later, "wb").write(raw)
    first = json.loads(run("decode", "--format", "json", later).stdout.splitlines()[0])
    want = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    assert first["time"].startswith(want), (first["time"], want)


def decode_prints_long_record_data_whole():
    # A response with a 606-byte TXT record (three strings): its RFC 3597
    # form holds every byte (it stopped at 512).
    import struct
    txt = b"".join(bytes([200]) + bytes([65 + k]) * 200 for k in range(3)) + bytes([3]) + b"end"
    dns = struct.pack("!6H", 7, 0x8400, 1, 1, 0, 0) + b"\x03txt\x03lab\x00" + struct.pack("!HH", 16, 1)
    dns += b"\xc0\x0c" + struct.pack("!HHIH", 16, 1, 300, len(txt)) + txt
    udp = struct.pack("!HHHH", 53, 40000, 8 + len(dns), 0) + dns
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, bytes([198, 51, 100, 1]),
                     bytes([192, 0, 2, 53])) + udp
    frame = bytes(6) + bytes(6) + b"\x08\x00" + ip
    path = os.path.join(tmp, "txt.pcap")
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        f.write(struct.pack("<IIII", 1_700_000_000, 0, len(frame), len(frame)) + frame)
    [msg] = [json.loads(l) for l in run("decode", "--format", "json", path).stdout.splitlines()]
    [rr] = msg["answer"]
    assert rr["data"] == "\\# %d %s" % (len(txt), txt.hex()), rr["data"][:80]


def stdin_capture_is_read():
    with open(demo, "rb") as f:
        p = subprocess.run([NSGATE, "learn", "--format", "json", "-"], stdin=f, capture_output=True, timeout=60)
    assert p.returncode == 0 and len(p.stdout.splitlines()) == 9, p.stderr


def real_referral_capture_teaches_the_net_delegation():
    path = os.path.join(PCAPS, "dnscap/src/test/edns.pcap")
    rows = [json.loads(l) for l in run("learn", "--format", "json", path).stdout.splitlines()]
    net = {r["address"] for r in rows if r["zone"] == "net."}
    # tshark's view of the same capture: every A and AAAA in the .net
    # referral (its glue for the 13 gtld-servers.net names).
    t = subprocess.run(["tshark", "-n", "-r", path, "-Y", 'dns.flags.response == 1 && dns.qry.name == "net"',
                        "-T", "fields", "-e", "dns.a", "-e", "dns.aaaa", "-E", "occurrence=a", "-E", "separator=,"],
                       capture_output=True, text=True)
    assert t.returncode == 0, t.stderr
    glue = {a for line in t.stdout.splitlines() for a in line.split(",") if a}
    assert len(glue) == 26, sorted(glue)  # 13 servers, IPv4 and IPv6
    assert net == glue, (sorted(net - glue), sorted(glue - net))


def learn_with_and_without_explain_gives_one_history():
    # Without --explain, learn reads and learns on two threads; with it, on
    # one. Same history and summary, on every shared capture together and on
    # a generated capture big enough to keep both threads busy.
    shared = sorted(os.path.join(d, f) for d, _, fs in os.walk(PCAPS) for f in fs
                    if f.endswith((".pcap", ".pcapng")) and "_tshark" not in d)
    bench = os.path.join(tmp, "bench.pcap")
    subprocess.run([GEN, "bench", bench, "--mb", "5"], check=True, capture_output=True)
    summary = lambda err: err[err.index("summary:"):]

    def compare(inputs):
        two = run("learn", "--format", "json", "--no-query-match", *inputs, ok=False)
        one = run("learn", "--format", "json", "--no-query-match", "--explain", *inputs, ok=False)
        assert two.returncode == one.returncode, (inputs, two.returncode, one.returncode)
        assert two.stdout == one.stdout, (inputs, len(two.stdout), len(one.stdout))
        assert summary(two.stderr) == summary(one.stderr), (inputs, summary(two.stderr), summary(one.stderr))
        return two.stdout.count("\n")

    # All shared captures together (they span years: what they teach has
    # expired by the end, so the summaries tell), then each on its own
    # (its history is what is left at its own end).
    compare(shared)
    rows = sum(compare([c]) for c in shared)
    assert rows >= 20, rows  # about 46 today: the floor keeps the comparison from going empty
    assert compare([bench]) >= 1000


def decode_prints_one_object_per_message():
    out = run("decode", "--format", "json", demo).stdout.splitlines()
    assert len(out) == 20, len(out)
    first = json.loads(out[0])
    assert first["question"][0]["name"] == "www.example.lab." and first["qr"] == 0, first


def several_captures_are_named_with_frames_counted_in_each():
    copy = os.path.join(tmp, "again.pcap")
    open(copy, "wb").write(open(demo, "rb").read())
    one = [json.loads(l) for l in run("decode", "--format", "json", demo).stdout.splitlines()]
    both = [json.loads(l) for l in run("decode", "--format", "json", demo, copy).stdout.splitlines()]
    assert "capture" not in one[0], one[0]
    assert [m["capture"] for m in both] == [demo] * len(one) + [copy] * len(one), [m["capture"] for m in both]
    assert [m["frame"] for m in both] == [m["frame"] for m in one] * 2
    # learn --explain: the second capture's explanations name it, frames counted from 1 in it
    single = run("learn", "--no-query-match", "--explain", demo).stdout
    double = run("learn", "--no-query-match", "--explain", demo, copy).stdout
    frames = [l.split()[1] for l in single.splitlines() if l.startswith("frame ")]
    assert frames, single
    named = [l.split() for l in double.splitlines() if l.startswith((demo + " frame ", copy + " frame "))]
    assert [n[2] for n in named if n[0] == demo] == frames, named
    assert [n[2] for n in named if n[0] == copy] == frames, named


def csv_cells_that_start_like_a_formula_are_not_formulas():
    # A bot chooses its query names: one that starts with "=" reaches the
    # history's query_name through a real referral from a root server.
    import struct
    def name(text):
        return b"".join(bytes([len(l)]) + l.encode() for l in text.split(".")) + b"\0"
    qname = "=2+3.example.lab"
    dns = struct.pack("!6H", 9, 0x8000, 1, 0, 1, 1) + name(qname) + struct.pack("!HH", 1, 1)
    ns = name("ns1.example.lab")
    dns += name("example.lab") + struct.pack("!HHIH", 2, 1, 3600, len(ns)) + ns
    dns += ns + struct.pack("!HHIH", 1, 1, 3600, 4) + bytes([203, 0, 113, 70])
    udp = struct.pack("!HHHH", 53, 40000, 8 + len(dns), 0) + dns
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, bytes([198, 41, 0, 4]),
                     bytes([192, 0, 2, 53])) + udp
    frame = bytes(12) + b"\x08\x00" + ip
    path = os.path.join(tmp, "formula.pcap")
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        f.write(struct.pack("<IIII", 1_700_000_000, 0, len(frame), len(frame)) + frame)
    out = run("learn", "--no-query-match", "--format", "csv", path).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["address"] for r in rows] == ["203.0.113.70"], out
    assert rows[0]["query_name"] == "'" + qname + ".", rows[0]
    assert rows[0]["zone"] == "example.lab.", rows[0]  # other cells as they are


def config_check_reports_errors_with_lines():
    bad = os.path.join(tmp, "bad.yaml")
    open(bad, "w").write("mode: enforce\nstatic_allow:\n  - cidr: 10.0.0.0/33\nlerning: {}\n")
    p = run("config", "check", bad, ok=False)
    assert p.returncode == 1, p
    assert "static_allow[0].cidr (line 3)" in p.stdout and 'did you mean "learning"' in p.stdout, p.stdout
    assert run("config", "check", conf).stdout.strip().endswith(": ok")
    # --ofshim: also what the OpenFlow shim needs (the inside port).
    shim = os.path.join(tmp, "shim.yaml")
    open(shim, "w").write("openflow:\n  listen: tcp:127.0.0.1:6653\n")
    assert run("config", "check", shim).stdout.strip().endswith(": ok")
    p = run("config", "check", "--ofshim", shim, ok=False)
    assert p.returncode == 1 and "openflow.inside_port" in p.stdout, p.stdout
    assert run("config", "check", "--ofshim", os.path.join(SRC, "conf", "ofshim.yaml")).stdout.strip().endswith(": ok")


def learn_refuses_an_invalid_config_with_every_error():
    bad = os.path.join(tmp, "bad2.yaml")
    open(bad, "w").write("mode: x\nlearning:\n  grace: -1\n")
    p = run("learn", "-c", bad, demo, ok=False)
    assert p.returncode != 0 and "mode (line 1)" in p.stderr and "learning.grace (line 3)" in p.stderr, p.stderr


for name, fn in list(globals().items()):
    if callable(fn) and name[0].islower() and name not in ("run", "check") and fn.__module__ == "__main__":
        check(name, fn)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed or not passed else 0)
