#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Oracle test: tshark decodes every capture independently. For DNS on
port 53, per capture:
  - every NS, A and AAAA record tshark finds must also come out of
    `nsgate decode` (same owner, type, TTL and data), and nsgate must print
    none that tshark does not find (a misread address would be allowed);
  - both count the same DNS messages (nsgate's include those it prints
    with a parse error);
  - no message tshark marks malformed may be a clean parse in nsgate;
  - both tools exit 0.
Any difference fails unless tests/integration/oracle_exceptions.txt names
it with its reason.

usage: tshark_oracle.py NSGATE PCAPS_DIR EXCEPTIONS_FILE
"""
import collections
import json
import os
import subprocess
import sys

SECTIONS = ("Answers", "Authoritative nameservers", "Additional records")
TYPES = {"1": "A", "2": "NS", "28": "AAAA"}
DATA_FIELD = {"A": "dns.a", "NS": "dns.ns", "AAAA": "dns.aaaa"}


def is_capture(path):
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError:
        return False
    return magic in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1",
                     b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a")


def norm_name(name):
    name = name.lower()
    if name in ("<root>", "."):
        return "."
    return name.rstrip(".")


def as_list(v):
    return v if isinstance(v, list) else [v]


def tshark_records(path):
    """Returns (Counter of (name,type,ttl,data), set of malformed frame
    numbers, DNS messages, exit status, the end of stderr)."""
    out = subprocess.run(
        ["tshark", "-n", "-r", path, "-T", "json", "--no-duplicate-keys",
         "-J", "frame dns _ws.malformed _ws.expert",
         "-Y", "udp.port == 53 || tcp.port == 53"],
        capture_output=True, text=True, check=False)
    if not out.stdout.strip():
        return collections.Counter(), set(), 0, out.returncode, out.stderr[-300:]
    packets = json.loads(out.stdout)
    records = collections.Counter()
    malformed = set()
    messages = 0
    for p in packets:
        layers = p["_source"]["layers"]
        frame = int(as_list(layers["frame"])[0]["frame.number"])
        if "dns" not in layers:
            continue
        bad = "_ws.malformed" in layers
        for dns in as_list(layers["dns"]):
            if not isinstance(dns, dict):
                continue
            messages += 1
            if "_ws.malformed" in dns or "_ws.expert" in json.dumps(dns) and "error" in json.dumps(dns.get("_ws.expert", "")):
                bad = True
            for sec in SECTIONS:
                entries = dns.get(sec)
                if not isinstance(entries, dict):
                    continue
                for _label, fields in entries.items():
                    for f in as_list(fields):
                        if not isinstance(f, dict):
                            continue
                        t = TYPES.get(str(f.get("dns.resp.type", "")))
                        if t is None or f.get("dns.resp.class") != "0x0001":
                            continue
                        data = f.get(DATA_FIELD[t])
                        if data is None or "dns.resp.ttl" not in f:
                            continue
                        for d in as_list(data):
                            records[(norm_name(f["dns.resp.name"]), t, int(f["dns.resp.ttl"]),
                                     norm_name(d) if t == "NS" else d.lower())] += 1
        if bad:
            malformed.add(frame)
    return records, malformed, messages, out.returncode, out.stderr[-300:]


def nsgate_records(nsgate, path):
    out = subprocess.run([nsgate, "decode", "--format", "json", path],
                         capture_output=True, text=True, check=False)
    records = collections.Counter()
    clean = collections.defaultdict(lambda: True)
    messages = 0
    for line in out.stdout.splitlines():
        m = json.loads(line)
        messages += 1
        if "error" in m:
            clean[m["frame"]] = False
        else:
            clean.setdefault(m["frame"], True)
        for sec in ("answer", "authority", "additional"):
            for r in m.get(sec, []):
                if r["type"] in ("A", "NS", "AAAA") and r["class"] == 1:
                    data = norm_name(r["data"]) if r["type"] == "NS" else r["data"].lower()
                    records[(norm_name(r["name"]), r["type"], r["ttl"], data)] += 1
    return records, clean, messages, out.returncode, out.stderr[-300:]


def main():
    nsgate, pcaps, exceptions_file = sys.argv[1:4]
    exceptions = {}
    with open(exceptions_file) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, _, reason = line.partition(" ")
            exceptions[key] = reason.strip()
    captures = sorted(os.path.join(d, n) for d, _, files in os.walk(pcaps) for n in files
                      if is_capture(os.path.join(d, n)))
    if not captures:
        print(f"no captures under {pcaps}")
        return 1
    failures = []
    totals = collections.Counter()
    used_exceptions = set()
    for path in captures:
        rel = os.path.relpath(path, pcaps)
        want, malformed, t_msgs, t_rc, t_err = tshark_records(path)
        got, clean, n_msgs, rc, err = nsgate_records(nsgate, path)
        totals["captures"] += 1
        totals["tshark messages"] += t_msgs
        totals["nsgate messages"] += n_msgs
        for rec, n in want.items():
            totals[rec[1]] += n

        def differs(what, message):
            key = f"{rel}:{what}"
            if key in exceptions:
                used_exceptions.add(key)
            else:
                failures.append(f"{rel}: {message}")

        if t_rc != 0:
            differs("tshark", f"tshark exited {t_rc}: {t_err}")
        if rc != 0:
            differs("nsgate", f"nsgate decode exited {rc}: {err}")
        if missing := want - got:
            differs("records", f"{sum(missing.values())} record(s) tshark found are missing, e.g. "
                    f"{list(missing.items())[:3]}")
        if extra := got - want:
            differs("extra", f"{sum(extra.values())} record(s) tshark does not find, e.g. {list(extra.items())[:3]}")
        if t_msgs != n_msgs:
            differs("messages", f"tshark finds {t_msgs} DNS message(s), nsgate {n_msgs}")
        for frame in sorted(malformed):
            if frame in clean and clean[frame]:
                key = f"{rel}:{frame}"
                if key in exceptions:
                    used_exceptions.add(key)
                else:
                    failures.append(f"{rel}: frame {frame} is malformed for tshark but parses cleanly in nsgate")
    unused = set(exceptions) - used_exceptions
    for key in sorted(unused):
        failures.append(f"exception no longer needed (remove it): {key}")
    print("compared: " + ", ".join(f"{k} {v}" for k, v in sorted(totals.items())))
    for f in failures:
        print("FAIL " + f)
    ok = not failures and totals["NS"] > 0 and totals["A"] > 0 and totals["AAAA"] > 0
    print(f"{totals['captures'] - len(failures) if ok else 0} passed, {len(failures)} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
