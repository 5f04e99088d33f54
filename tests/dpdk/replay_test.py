#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The DPDK data path through `nsgate replay` (net_pcap, no hugepages) and
`nsgate run`: the verdict of every packet, monitor vs enforce, trusted
sources, TTL expiry between two queries, undecodable packets per policy,
counters against what was sent (tshark reads the output captures), the
paper's Table II, a snapshot round trip through run, and startup errors.

usage: replay_test.py NSGATE NSGATE_GEN SOURCE_DIR
"""
import atexit
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

NSGATE, GEN, SRC = sys.argv[1:4]
tmp = tempfile.mkdtemp(prefix="nsgate-dpdk-")
atexit.register(shutil.rmtree, tmp, ignore_errors=True)
passed = failed = 0


def check(fn):
    global passed, failed
    try:
        fn()
        passed += 1
        print(f"ok   {fn.__name__}")
    except AssertionError as e:
        failed += 1
        print(f"FAIL {fn.__name__}: {e}")


def write(name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def replay(*args, ok=True):
    p = subprocess.run([NSGATE, "replay", *args], capture_output=True, text=True, timeout=120)
    if ok:
        assert p.returncode == 0, f"replay {args} exited {p.returncode}: {p.stderr}"
    return p


def events(p):
    return [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]


def counters(text):
    out = {}
    for line in text.splitlines():
        if line.startswith(("counters:", "verdicts:")):
            for kv in line.split()[1:]:
                k, v = kv.split("=")
                out[k] = int(v)
    return out


def tshark_dsts(path):
    t = subprocess.run(["tshark", "-n", "-r", path, "-T", "fields", "-e", "ip.dst", "-e", "ipv6.dst", "-e", "arp.opcode"],
                       capture_output=True, text=True)
    # A missing or unreadable capture is a failure, not "nothing in it".
    assert t.returncode == 0, f"tshark could not read {path}: {t.stderr}"
    out = t.stdout
    return [",".join(x for x in line.split("\t") if x) for line in out.splitlines()]


subprocess.run([GEN, "replay-cases", tmp], check=True, capture_output=True)
subprocess.run([GEN, "paper", tmp], check=True, capture_output=True)
learn_short = os.path.join(tmp, "learn-short.pcap")
cases = os.path.join(tmp, "traffic-cases.pcap")
conf = write("test.yaml", "trusted_sources: [192.0.2.53/32]\nlearning: {min_ttl: 1, grace: 0}\n")


def every_packet_gets_its_verdict_and_counters_match_what_was_sent():
    fwd, drop = os.path.join(tmp, "fwd.pcap"), os.path.join(tmp, "drop.pcap")
    p = replay("-c", conf, "--learn", learn_short, "--traffic", cases, "--forwarded", fwd, "--dropped", drop,
               "--format", "json")
    got = [(e["dest_ip"], e["event_type"], e["nsgate"]["reason"]) for e in events(p)]
    want = [("198.51.100.5", "pass", "learned"), ("2001:db8:5::53", "pass", "learned"),
            ("203.0.113.66", "drop", "unknown"), ("203.0.113.66", "pass", "trusted_source"),
            ("198.41.0.4", "pass", "anchor"), ("203.0.113.67", "drop", "unknown"),
            ("198.51.100.5", "drop", "unknown"),  # after the 5 s TTL
            ("2001:db8:66::53", "drop", "unknown")]  # UDP length 0: malformed, but to port 53
    assert got == want, got
    c = counters(p.stderr)
    assert c["rx_inside"] == 12 and c["tx_outside"] == 8 and c["dropped"] == 4, c
    assert c["forward_not_ip"] == 1 and c["forward_not_dns"] == 1 and c["forward_later_fragment"] == 1, c
    assert c["forward_undecodable"] == 1, c
    # tshark, independently: what left on each side.
    f, d = tshark_dsts(fwd), tshark_dsts(drop)
    assert len(f) == 8 and len(d) == 4, (f, d)
    assert d == ["203.0.113.66", "203.0.113.67", "198.51.100.5", "2001:db8:66::53"], d
    assert "192.0.2.53" not in d and f.count("203.0.113.66") == 4, f


def monitor_mode_forwards_everything_and_alerts():
    fwd, drop = os.path.join(tmp, "mfwd.pcap"), os.path.join(tmp, "mdrop.pcap")
    p = replay("-c", conf, "--mode", "monitor", "--learn", learn_short, "--traffic", cases,
               "--forwarded", fwd, "--dropped", drop, "--format", "json")
    types = [e["event_type"] for e in events(p)]
    assert types.count("alert") == 4 and "drop" not in types, types
    assert len(tshark_dsts(fwd)) == 12 and tshark_dsts(drop) == [], tshark_dsts(drop)


def undecodable_packets_are_dropped_when_configured():
    strict = write("strict.yaml", "trusted_sources: [192.0.2.53/32]\nlearning: {min_ttl: 1, grace: 0}\n"
                                  "drop_undecodable: true\n")
    p = replay("-c", strict, "--learn", learn_short, "--traffic", cases, "--format", "json")
    c = counters(p.stderr)
    assert c.get("drop_undecodable") == 2 and c["dropped"] == 5, c


def paper_table_two_is_reproduced():
    for f in ("learn.pcap", "traffic.pcap"):
        with open(os.path.join(tmp, f), "rb") as a, open(os.path.join(SRC, "data/paper", f), "rb") as b:
            assert a.read() == b.read(), f"data/paper/{f} differs from `nsgate-gen paper`"
    p = replay("-c", os.path.join(SRC, "conf/nsgate.yaml"), "--learn", os.path.join(SRC, "data/paper/learn.pcap"),
               "--traffic", os.path.join(SRC, "data/paper/traffic.pcap"), "--format", "json")
    got = {e["dest_ip"]: (e["event_type"], e["nsgate"]["reason"]) for e in events(p)}
    assert got == {"8.8.8.8": ("drop", "unknown"), "8.8.4.4": ("pass", "static"),
                   "192.26.92.31": ("pass", "learned")}, got


def snapshot_from_learn_loads_into_replay():
    snap = os.path.join(tmp, "short.snap")
    subprocess.run([NSGATE, "learn", "-c", conf, learn_short, "--snapshot", snap], check=True, capture_output=True)
    p = replay("-c", conf, "--snapshot", snap, "--traffic", cases, "--format", "json")
    got = [(e["dest_ip"], e["event_type"]) for e in events(p)]
    # The first query to the learned server passes, the one after its TTL does not.
    assert got[0] == ("198.51.100.5", "pass") and got[-2] == ("198.51.100.5", "drop"), got


def empty_capture():
    """An empty Ethernet pcap, for a port's receive side."""
    path = os.path.join(tmp, "empty.pcap")
    with open(path, "wb") as f:
        f.write(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
    return path


def scrape_until(port, done, seconds=30):
    """Scrapes nsgate's metrics every 0.5 s until done(values) or `seconds`
    pass (a busy machine is slow to start); returns the last values."""
    deadline = time.monotonic() + seconds
    values = {}
    while not done(values) and time.monotonic() < deadline:
        time.sleep(0.5)
        try:
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        except OSError:
            continue  # not listening yet
        values = {l.split(" ")[0]: float(l.split(" ")[1]) for l in body.splitlines() if l and not l.startswith("#")}
    return values


def run_config(tag, n, inside_rx, metrics_port, extra):
    """A config for `nsgate run` on net_pcap devices n (inside, replaying
    `inside_rx`) and n+1 (outside, receiving nothing), with `extra` lines."""
    return write(f"{tag}.yaml", f"""
ports:
  inside: net_pcap{n},rx_pcap={inside_rx},tx_pcap={tmp}/{tag}-in-tx.pcap
  outside: net_pcap{n + 1},rx_pcap={empty_capture()},tx_pcap={tmp}/{tag}-out-tx.pcap
eal: [--no-huge, --no-pci, -m, "512", -l, "0-1", --no-shconf, --file-prefix=nsgate-{tag}-{os.getpid()}, "--log-level=lib.*:error"]
metrics: {{listen: "127.0.0.1:{metrics_port}"}}
{extra}
""")


def run_learns_from_a_mirror_and_saves_its_snapshot_on_sigterm():
    empty = empty_capture()
    snap = os.path.join(tmp, "run.snap")
    drops = os.path.join(tmp, "drops.json")
    metrics_port = 20000 + os.getpid() % 20000
    cfg = write("run.yaml", f"""
static_allow: [8.8.4.4/32]
ports:
  inside: net_pcap10,rx_pcap={os.path.join(SRC, 'data/paper/traffic.pcap')},tx_pcap={tmp}/run-in-tx.pcap
  outside: net_pcap11,rx_pcap={empty},tx_pcap={tmp}/run-out-tx.pcap
  mirror: net_pcap12,rx_pcap={os.path.join(SRC, 'data/paper/learn.pcap')}
eal: [--no-huge, --no-pci, -m, "512", -l, "0-1", --no-shconf, --file-prefix=nsgate-run-{os.getpid()}, "--log-level=lib.*:error"]
snapshot: {{path: {snap}, interval: 60}}
drop_log: {{path: {drops}}}
metrics: {{listen: "127.0.0.1:{metrics_port}"}}
""")
    proc = subprocess.Popen([NSGATE, "run", "-c", cfg], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # A scrape while running, once the three frames are in and learned
        # from (up to 15 s): promtool accepts it, and the counters are there.
        deadline = time.time() + 15
        while True:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
            except OSError:
                body = ""
            values = {l.split(" ")[0]: float(l.split(" ")[1]) for l in body.splitlines() if l and not l.startswith("#")}
            if (values.get("nsgate_rx_inside_total") == 3 and
                    values.get('nsgate_learn_events_total{event="added"}', 0) >= 2) or time.time() > deadline:
                break
            time.sleep(0.1)
        lint = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout + lint.stderr
        assert values["nsgate_rx_inside_total"] == 3, body
        assert values['nsgate_verdicts_total{verdict="drop_unknown"}'] >= 1, body
        assert values['nsgate_learn_events_total{event="added"}'] >= 2, body
        assert values["nsgate_held_lost_total"] == 0, body  # exported, and nothing lost
        # The learn-to-enforce histogram: every teaching response counted once,
        # buckets cumulative up to +Inf.
        buckets = [v for k, v in values.items() if k.startswith("nsgate_learn_to_enforce_seconds_bucket")]
        assert values["nsgate_learn_to_enforce_seconds_count"] >= 1, body
        assert buckets == sorted(buckets) and buckets[-1] == values["nsgate_learn_to_enforce_seconds_count"], body
        assert values['nsgate_learn_to_enforce_seconds_bucket{le="+Inf"}'] == buckets[-1], body
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "snapshot written" in err, err
        p = subprocess.run([NSGATE, "check", "--snapshot", snap, "192.26.92.31", "192.5.6.30", "8.8.8.8"],
                           capture_output=True, text=True)
        lines = p.stdout.splitlines()
        assert lines[0].startswith("192.26.92.31 pass learned") and lines[1].startswith("192.5.6.30 pass learned"), lines
        assert lines[2].startswith("8.8.8.8 block"), lines
        # The traffic raced the mirror: 8.8.8.8 is unknown either way, so it is in the drop log.
        log = [json.loads(l) for l in open(drops)]
        assert any(e["dest_ip"] == "8.8.8.8" and e["event_type"] == "drop" and e["dns"]["rrname"] == "www.google.com."
                   for e in log), log
    finally:
        # A failed check must not leave the appliance running (it polls
        # its ports on both cores until killed).
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def every_failed_snapshot_write_is_counted():
    # The snapshot's folder is a file: every periodic write fails the same way.
    blocker = write("not-a-folder", "")
    metrics_port = 20000 + (os.getpid() + 1) % 20000
    cfg = run_config("fs", 20, empty_capture(), metrics_port, f"snapshot: {{path: {blocker}/run.snap, interval: 1}}")
    proc = subprocess.Popen([NSGATE, "run", "-c", cfg], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Every 1 s interval fails once: wait (up to 30 s on a busy machine)
        # for the metric to count a second failure.
        values = scrape_until(metrics_port, lambda v: v.get('nsgate_snapshots_total{result="error"}', 0) >= 2)
        failed_writes = values.get('nsgate_snapshots_total{result="error"}', 0)
        assert failed_writes >= 2, f"{failed_writes} failures counted in 30 s of 1 s intervals:\n{values}"
        assert values['nsgate_snapshots_total{result="ok"}'] == 0, values
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert "not-a-folder" in err, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def drop_log_lines_that_cannot_be_written_are_counted():
    # /dev/full takes the file open and refuses every write (ENOSPC): the
    # filter goes on, the lines are counted lost, none counted written.
    metrics_port = 20000 + (os.getpid() + 3) % 20000
    traffic = os.path.join(SRC, "data/paper/traffic.pcap")  # one query to 8.8.8.8: blocked
    cfg = run_config("full", 40, traffic, metrics_port, "drop_log: {path: /dev/full}")
    proc = subprocess.Popen([NSGATE, "run", "-c", cfg], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        values = scrape_until(metrics_port, lambda v: v.get("nsgate_drop_log_write_errors_total", 0) >= 1)
        assert values.get("nsgate_drop_log_write_errors_total", 0) >= 1, values
        assert values["nsgate_drop_log_lines_total"] == 0, values
        assert values['nsgate_verdicts_total{verdict="drop_unknown"}'] >= 1, values
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def write_queries(name, client, server, count):
    """A pcap of `count` UDP queries (A q<ID>.bot.lab., ids 1..count), one
    client port each, client -> server."""
    def ip4(a):
        return bytes(int(x) for x in a.split("."))
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(1, count + 1):
            qname = b"".join(bytes([len(l)]) + l for l in [f"q{i}".encode(), b"bot", b"lab"]) + b"\0"
            dns = struct.pack("!HHHHHH", i, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", 1, 1)
            udp = struct.pack("!HHHH", 40000 + i, 53, 8 + len(dns), 0) + dns
            hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0, ip4(client), ip4(server))
            words = sum(struct.unpack("!10H", hdr))
            while words >> 16:
                words = (words & 0xFFFF) + (words >> 16)
            hdr = hdr[:10] + struct.pack("!H", ~words & 0xFFFF) + hdr[12:]
            frame = bytes.fromhex("020000000002" "020000000001" "0800") + hdr + udp
            f.write(struct.pack("<IIII", 1_700_000_000, i, len(frame), len(frame)) + frame)
    return path


def drop_log_counts_every_blocked_query_and_writes_each_clients_last():
    # 40 queries from one client to an unknown server at once, 1 line/s
    # (bursts of 2): most are held back; at stop the last one is written,
    # and the lines' `suppressed` counts add up to every drop.
    sent = 40
    traffic = write_queries("burst.pcap", "192.0.2.62", "203.0.113.66", sent)
    drops = os.path.join(tmp, "burst-drops.json")
    metrics_port = 20000 + (os.getpid() + 2) % 20000
    cfg = run_config("burst", 30, traffic, metrics_port, f"drop_log: {{path: {drops}, rate_limit: 1, burst: 2}}")
    proc = subprocess.Popen([NSGATE, "run", "-c", cfg], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        values = scrape_until(metrics_port, lambda v: v.get('nsgate_verdicts_total{verdict="drop_unknown"}', 0) >= sent)
        assert values.get('nsgate_verdicts_total{verdict="drop_unknown"}') == sent, values
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        log = [json.loads(l) for l in open(drops)]
        assert all(e["src_ip"] == "192.0.2.62" and e["event_type"] == "drop" for e in log), log
        ids = [e["dns"]["id"] for e in log]
        assert len(ids) == len(set(ids)) and len(ids) < sent, ids
        assert sum(1 + e["nsgate"].get("suppressed", 0) for e in log) == sent, log
        assert sent in ids, f"the last query (id {sent}) has no line: {ids}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def hup_caught(pid):
    """Whether the process has a handler for SIGHUP (/proc's SigCgt mask)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            mask = next(l for l in f if l.startswith("SigCgt:")).split()[1]
    except (OSError, StopIteration):
        return False
    return int(mask, 16) & (1 << (signal.SIGHUP - 1)) != 0


def a_reload_sent_during_the_start_is_applied_once_running():
    # systemd counts the unit active at once; a reload can come while a
    # large snapshot loads. The configuration file is a FIFO here, so the
    # start waits, at a known point, for the test to write it.
    metrics_port = 20000 + (os.getpid() + 3) % 20000
    text = open(run_config("hup", 40, empty_capture(), metrics_port, "")).read()
    fifo = os.path.join(tmp, "hup-fifo.yaml")
    os.mkfifo(fifo)
    log = os.path.join(tmp, "hup.err")
    with open(log, "w") as err_file:
        proc = subprocess.Popen([NSGATE, "run", "-c", fifo], stdout=subprocess.DEVNULL, stderr=err_file)

    def wait_for(text):
        deadline = time.time() + 30
        while text not in open(log).read() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        return text in open(log).read()

    def feed_fifo():
        """Writes the configuration once nsgate opens the FIFO to read it
        (up to 30 s): False if it never does, instead of blocking."""
        deadline = time.time() + 30
        while time.time() < deadline and proc.poll() is None:
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO while no reader
            except OSError:
                time.sleep(0.05)
                continue
            os.set_blocking(fd, True)
            os.write(fd, text.encode())
            os.close(fd)
            return True
        return False
    try:
        deadline = time.time() + 10
        while not hup_caught(proc.pid) and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # blocked opening the FIFO
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.2)
        assert proc.poll() is None, f"a SIGHUP during the start ended it ({proc.returncode}): {open(log).read()}"
        assert feed_fifo(), "nsgate did not read its configuration: " + open(log).read()
        assert wait_for("Ctrl-C stops"), open(log).read()
        assert feed_fifo(), "the reload asked for during the start did not come: " + open(log).read()
        assert wait_for(f"reloaded {fifo}"), open(log).read()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        assert proc.returncode == 0, open(log).read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def startup_errors_name_what_to_fix():
    cfg = write("bad.yaml", f"""
ports: {{inside: net_nothing0, outside: net_nothing1}}
metrics: {{listen: ""}}
eal: [--no-huge, --no-pci, -m, "256", -l, "0-1", --no-shconf, --file-prefix=nsgate-bad-{os.getpid()}]
""")
    p = subprocess.run([NSGATE, "run", "-c", cfg], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "net_nothing0" in p.stderr, p.stderr
    p = replay("--traffic", os.path.join(tmp, "missing.pcap"), ok=False)
    assert p.returncode != 0 and "missing.pcap" in p.stderr, p.stderr
    bad_snap = write("bad.snap", "not a snapshot at all, not even close........")
    # Its temporary folder goes too when replay ends on an error.
    own_tmp = tempfile.mkdtemp(dir=tmp)
    p = subprocess.run([NSGATE, "replay", "--snapshot", bad_snap, "--traffic", cases], capture_output=True, text=True,
                       timeout=120, env={**os.environ, "TMPDIR": own_tmp})
    assert p.returncode != 0 and "snapshot refused" in p.stderr, p.stderr
    assert os.listdir(own_tmp) == [], os.listdir(own_tmp)
    # ... which is the one TMPDIR names.
    p = subprocess.run([NSGATE, "replay", "--traffic", cases], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "TMPDIR": os.path.join(tmp, "no-such-folder")})
    assert p.returncode != 0 and "cannot create a temporary folder" in p.stderr, p.stderr


def a_second_run_with_the_same_prefix_leaves_the_first_ones_files():
    # As an operator running `nsgate run` by hand beside the service: the
    # second fails (the prefix's lock is held) and must not remove the
    # first's runtime folder (its lock, telemetry and multi-process sockets).
    prefix = f"nsgate-twice-{os.getpid()}x"
    cfg = write("twice.yaml", f"""
ports: {{inside: "net_null20,no-rx=1", outside: "net_null21,no-rx=1"}}
metrics: {{listen: ""}}
eal: [--no-huge, --no-pci, -m, "256", -l, "0-1", --file-prefix={prefix}, "--log-level=lib.*:error"]
""")
    rundir = os.path.join("/var/run/dpdk", prefix)
    first = subprocess.Popen([NSGATE, "run", "-c", cfg], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 30
        while time.time() < deadline and not all(
                os.path.exists(os.path.join(rundir, f)) for f in ("config", "mp_socket", "dpdk_telemetry.v2")):
            time.sleep(0.1)
        time.sleep(1)  # up and running: nothing more is made there
        before = sorted(os.listdir(rundir))
        assert "config" in before and "dpdk_telemetry.v2" in before, before
        second = subprocess.run([NSGATE, "run", "-c", cfg], capture_output=True, text=True, timeout=60)
        assert second.returncode != 0, second.stderr
        assert sorted(os.listdir(rundir)) == before, (before, second.stderr)
        assert first.poll() is None, "the first run stopped"
    finally:
        first.send_signal(signal.SIGTERM)
        try:
            first.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            first.kill()
            first.wait()
    assert first.returncode == 0, f"the first run exited {first.returncode}"
    shutil.rmtree(rundir, ignore_errors=True)


for fn in [every_packet_gets_its_verdict_and_counters_match_what_was_sent, monitor_mode_forwards_everything_and_alerts,
           undecodable_packets_are_dropped_when_configured, paper_table_two_is_reproduced,
           snapshot_from_learn_loads_into_replay, run_learns_from_a_mirror_and_saves_its_snapshot_on_sigterm,
           every_failed_snapshot_write_is_counted, drop_log_lines_that_cannot_be_written_are_counted,
           drop_log_counts_every_blocked_query_and_writes_each_clients_last,
           a_reload_sent_during_the_start_is_applied_once_running, startup_errors_name_what_to_fix,
           a_second_run_with_the_same_prefix_leaves_the_first_ones_files]:
    check(fn)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed or not passed else 0)
