#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Oracle test: tshark decodes every capture independently. For DNS on
port 53, per capture:
  - every NS, A and AAAA record tshark finds must also come out of
    `nsgate decode` (same section, owner, type, TTL and data), and nsgate
    must print none that tshark does not find (a misread address would be
    allowed; a referral read as an answer would teach nothing);
  - every message both parse cleanly has the same id, QR flag and question
    (name and type) in both;
  - both count the same DNS messages (nsgate's include those it prints
    with a parse error);
  - no message tshark marks malformed may be a clean parse in nsgate, and
    none tshark reads cleanly may be an error in nsgate (the learner would
    not learn from it);
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

SECTIONS = {"Answers": "answer", "Authoritative nameservers": "authority", "Additional records": "additional"}
TYPES = {"1": "A", "2": "NS", "28": "AAAA"}
# IANA's mnemonics for the question types nsgate names; others TYPEn (RFC 3597).
QTYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV", 41: "OPT",
          43: "DS", 46: "RRSIG", 255: "ANY"}
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


def qtype_name(t):
    return QTYPES.get(t, f"TYPE{t}")


def tshark_records(path):
    """Returns (Counter of (section,name,type,ttl,data), set of malformed
    frame numbers, DNS messages, exit status, the end of stderr, Counter of
    (frame,id,qr,qname,qtype), frames cut short, frames with DNS)."""
    out = subprocess.run(
        ["tshark", "-n", "-r", path, "-T", "json", "--no-duplicate-keys",
         "-J", "frame dns _ws.malformed _ws.expert _ws.short",
         "-Y", "udp.port == 53 || tcp.port == 53"],
        capture_output=True, text=True, check=False)
    if not out.stdout.strip():
        return collections.Counter(), set(), 0, out.returncode, out.stderr[-300:], collections.Counter(), set(), set()
    packets = json.loads(out.stdout)
    records = collections.Counter()
    headers = collections.Counter()
    cut, has_dns = set(), set()
    malformed = set()
    messages = 0
    for p in packets:
        layers = p["_source"]["layers"]
        frame = int(as_list(layers["frame"])[0]["frame.number"])
        if "dns" not in layers:
            continue
        bad = "_ws.malformed" in layers
        # Cut by the capture's snap length: tshark shows what is there
        # without calling it malformed; nsgate reports the cut.
        short = "_ws.short" in layers or "_ws.short" in json.dumps(layers["dns"])
        if short:
            cut.add(frame)
        has_dns.add(frame)
        for dns in as_list(layers["dns"]):
            if not isinstance(dns, dict):
                continue
            messages += 1
            # An UPDATE's question is its zone section (RFC 2136).
            section = dns.get("Queries", dns.get("Zone", {}))
            questions = [f for q in as_list(section) if isinstance(q, dict)
                         for v in q.values() for f in as_list(v) if isinstance(f, dict)]
            if dns.get("dns.id") and dns.get("dns.flags_tree", {}).get("dns.flags.response") is not None:
                for q in questions[:1] or [{}]:
                    qname = norm_name(q["dns.qry.name"]) if "dns.qry.name" in q else None
                    qtype = qtype_name(int(q["dns.qry.type"])) if "dns.qry.type" in q else None
                    headers[(frame, int(dns["dns.id"], 16), int(dns["dns.flags_tree"]["dns.flags.response"]),
                             qname, qtype)] += 1
            if "_ws.malformed" in dns or "_ws.expert" in json.dumps(dns) and "error" in json.dumps(dns.get("_ws.expert", "")):
                bad = True
            for sec, section in SECTIONS.items():
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
                            records[(section, norm_name(f["dns.resp.name"]), t, int(f["dns.resp.ttl"]),
                                     norm_name(d) if t == "NS" else d.lower())] += 1
        if bad:
            malformed.add(frame)
    return records, malformed, messages, out.returncode, out.stderr[-300:], headers, cut, has_dns


def nsgate_records(nsgate, path):
    out = subprocess.run([nsgate, "decode", "--format", "json", path],
                         capture_output=True, text=True, check=False)
    records = collections.Counter()
    headers = collections.Counter()
    clean = collections.defaultdict(lambda: True)
    messages = 0
    for line in out.stdout.splitlines():
        m = json.loads(line)
        messages += 1
        if "error" in m:
            clean[m["frame"]] = False
        else:
            clean.setdefault(m["frame"], True)
            q = (m.get("question") or [{}])[0]
            # tshark shows a label's dot or backslash as it is; nsgate
            # escapes them (RFC 1035 presentation form).
            qname = norm_name(q["name"].replace("\\.", ".").replace("\\\\", "\\")) if "name" in q else None
            headers[(m["frame"], m["id"], m["qr"], qname, q.get("type"))] += 1
        for sec in ("answer", "authority", "additional"):
            for r in m.get(sec, []):
                if r["type"] in ("A", "NS", "AAAA") and r["class"] == 1:
                    data = norm_name(r["data"]) if r["type"] == "NS" else r["data"].lower()
                    records[(sec, norm_name(r["name"]), r["type"], r["ttl"], data)] += 1
    return records, clean, messages, out.returncode, out.stderr[-300:], headers


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
        want, malformed, t_msgs, t_rc, t_err, t_headers, t_cut, t_dns = tshark_records(path)
        got, clean, n_msgs, rc, err, n_headers = nsgate_records(nsgate, path)
        totals["captures"] += 1
        totals["tshark messages"] += t_msgs
        totals["nsgate messages"] += n_msgs
        for rec, n in want.items():
            totals[rec[2]] += n

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
        for frame in sorted(f for f, ok in clean.items() if not ok and f in t_dns and f not in malformed | t_cut):
            key = f"{rel}:strict:{frame}"
            if key in exceptions:
                used_exceptions.add(key)
            else:
                failures.append(f"{rel}: frame {frame} is an error in nsgate but clean for tshark")
        # Headers and questions, of the frames both read cleanly.
        both = {f for f, ok in clean.items() if ok and f not in malformed | t_cut}
        t_h = collections.Counter({k: n for k, n in t_headers.items() if k[0] in both})
        n_h = collections.Counter({k: n for k, n in n_headers.items() if k[0] in both})
        totals["headers"] += sum(t_h.values())
        if t_h != n_h:
            differs("headers", f"ids, QR flags or questions differ, e.g. tshark {list((t_h - n_h).items())[:2]}, "
                    f"nsgate {list((n_h - t_h).items())[:2]}")
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
