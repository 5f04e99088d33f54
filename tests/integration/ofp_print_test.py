#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Open vSwitch is the oracle for nsgate's OpenFlow bytes: every golden
message in tests/data/openflow (the bytes the unit test requires the
encoder to produce) is decoded by `ovs-ofctl ofp-parse`, and what OVS says
it means must equal NAME.print, reviewed by hand against the intent in
tests/unit/openflow_test.cc. A changed encoder that OVS reads differently,
or cannot read, fails here.

usage: ofp_print_test.py SOURCE_DIR
"""
import os
import shutil
import subprocess
import sys
import tempfile

SRC = sys.argv[1]
DIR = os.path.join(SRC, "tests", "data", "openflow")

if not shutil.which("ovs-ofctl"):
    print("ovs-ofctl not found: run tools/setup.sh (package openvswitch-switch)")
    sys.exit(1)

names = sorted(f[:-4] for f in os.listdir(DIR) if f.endswith(".hex"))
failed = 0
with tempfile.TemporaryDirectory() as tmp:
    for name in names:
        data = bytes.fromhex(open(os.path.join(DIR, name + ".hex")).read().strip())
        path = os.path.join(tmp, name + ".bin")
        with open(path, "wb") as f:
            f.write(data)
        p = subprocess.run(["ovs-ofctl", "ofp-parse", path], capture_output=True, text=True, timeout=30)
        want = open(os.path.join(DIR, name + ".print")).read()
        problems = []
        if p.returncode != 0:
            problems.append(f"ovs-ofctl exited {p.returncode}: {p.stderr.strip()}")
        if "decode error" in p.stdout or "OFPBRC" in p.stdout:
            problems.append("OVS could not decode it")
        if p.stdout != want:
            problems.append("OVS reads it differently:\n--- expected\n" + want + "--- ovs-ofctl\n" + p.stdout)
        if problems:
            failed += 1
            print(f"FAIL {name}: " + "; ".join(problems))
        else:
            first = p.stdout.splitlines()[0] if p.stdout else ""
            print(f"ok   {name}: {first[:110]}")
if len(names) < 20:
    print(f"FAIL only {len(names)} golden messages found in {DIR}")
    failed += 1
print(f"\nofp_print: {len(names) - failed} of {len(names)} golden messages read by OVS as intended")
sys.exit(1 if failed else 0)
