#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""deploy/ checked by the tools that will load it: promtool (config, rules,
rule unit tests), systemd-analyze verify (the units; the OVS bridge script
runs in ofshim_test.sh), the dashboard as JSON, and every nsgate_* metric that the
rules and the dashboard name must be one a running nsgate exports (a real
scrape of `nsgate run` on virtual devices).

usage: deploy_test.py NSGATE SOURCE_DIR
"""
import atexit
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

NSGATE, SRC = sys.argv[1:3]
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name}: {detail}")


for args in (["check", "config", "deploy/prometheus/prometheus.yml"],
             ["check", "rules", "deploy/prometheus/nsgate-rules.yml"],
             ["test", "rules", "tests/integration/alert_rules_test.yml"]):
    p = subprocess.run(["promtool", *args], cwd=SRC, capture_output=True, text=True)
    check("promtool " + " ".join(args[:2]), p.returncode == 0, p.stdout + p.stderr)

# The systemd units as systemd reads them (nsgate's path made the built
# binary's, which verify requires to exist): any warning counts.
unit_dir = tempfile.mkdtemp(prefix="nsgate-units-")
for unit in sorted(os.listdir(os.path.join(SRC, "deploy/systemd"))):
    text = open(os.path.join(SRC, "deploy/systemd", unit)).read().replace("/usr/local/bin/nsgate", os.path.abspath(NSGATE))
    path = os.path.join(unit_dir, unit)
    open(path, "w").write(text)
    p = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True)
    check(f"systemd_analyze_verify_{unit}", p.returncode == 0 and not (p.stdout + p.stderr).strip(), p.stdout + p.stderr)

# The logrotate rule as logrotate reads it, on a log of its own (--debug
# changes nothing and runs no script): it would rotate, then tell nsgate.
rot_dir = tempfile.mkdtemp(prefix="nsgate-logrotate-")
log_path = os.path.join(rot_dir, "drops.json")
open(log_path, "w").write('{"event_type":"drop"}\n')
rule = os.path.join(rot_dir, "nsgate")
open(rule, "w").write(open(os.path.join(SRC, "deploy/logrotate/nsgate")).read().replace("/var/log/nsgate/drops.json", log_path))
p = subprocess.run(["logrotate", "--debug", "--force", "--state", os.path.join(rot_dir, "state"), rule],
                   capture_output=True, text=True)
out = p.stdout + p.stderr
check("logrotate_rule_rotates_the_drop_log_and_signals_nsgate", p.returncode == 0 and "error" not in out.lower() and
      f"renaming {log_path} to {log_path}.1" in out and "systemctl kill --signal=USR1 --kill-whom=main nsgate.service" in out, out)

dash = json.load(open(os.path.join(SRC, "deploy/grafana/nsgate-dashboard.json")))
exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
check("dashboard_has_panels_with_queries", len(exprs) >= 8, exprs)

# A running nsgate with a little traffic (the Table II client queries).
tmp = tempfile.mkdtemp(prefix="nsgate-deploy-")
port = 30000 + os.getpid() % 20000
cfg = os.path.join(tmp, "n.yaml")
traffic = os.path.join(SRC, "data/paper/traffic.pcap")
open(cfg, "w").write(f"""
ports: {{inside: "net_pcap20,rx_pcap={traffic},tx_pcap={tmp}/in.pcap", outside: "net_null21,no-rx=1"}}
eal: [--no-huge, --no-pci, -m, "256", -l, "0-1", --no-shconf, --file-prefix=nsgate-deploy-{os.getpid()}]
metrics: {{listen: "127.0.0.1:{port}"}}
snapshot: {{path: {tmp}/t.snap, interval: 1}}
""")
started = time.monotonic()
proc = subprocess.Popen([NSGATE, "run", "-c", cfg], stderr=subprocess.PIPE, text=True)
children = [proc]


@atexit.register
def stop_children():
    # Whatever failed on the way, nothing keeps running after the test,
    # and nothing it wrote stays behind.
    for c in children:
        if c.poll() is None:
            c.kill()
            c.wait()
    for d in (unit_dir, rot_dir, tmp):
        shutil.rmtree(d, ignore_errors=True)


def scrape(metrics_port):
    """The exporter's page once it answers (up to 5 s), or ""."""
    for _ in range(50):
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2).read().decode()
        except OSError:
            time.sleep(0.1)
    return ""


body = scrape(port)
# Until a periodic snapshot (interval 1 s) is reported, up to 10 s.
deadline = time.time() + 10
while True:
    body2 = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    if re.search(r'^nsgate_snapshots_total\{result="ok"\} [1-9]', body2, re.M) or time.time() > deadline:
        break
    time.sleep(0.1)
running_for = time.monotonic() - started

# A real Prometheus server on loopback scrapes nsgate; the counter comes
# back through its HTTP API.
prom_port = port + 1
prom_cfg = os.path.join(tmp, "prometheus.yml")
open(prom_cfg, "w").write(f"""
global: {{scrape_interval: 1s}}
scrape_configs:
  - job_name: nsgate
    static_configs: [{{targets: ["127.0.0.1:{port}"]}}]
""")
prom = subprocess.Popen(["prometheus", f"--config.file={prom_cfg}", f"--storage.tsdb.path={tmp}/tsdb",
                         f"--web.listen-address=127.0.0.1:{prom_port}"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
children.append(prom)
value = None
deadline = time.time() + 30
while time.time() < deadline and value is None:
    time.sleep(1)
    try:
        q = urllib.request.urlopen(f"http://127.0.0.1:{prom_port}/api/v1/query?query=nsgate_rx_inside_total",
                                   timeout=2).read().decode()
        result = json.loads(q)["data"]["result"]
        if result:
            value = float(result[0]["value"][1])
    except (OSError, KeyError, ValueError):
        pass
prom.terminate()
prom.wait(timeout=30)
check("prometheus_scrapes_nsgate_and_serves_the_counter", value == 3, f"nsgate_rx_inside_total via Prometheus: {value}")
proc.send_signal(signal.SIGTERM)
proc.communicate(timeout=30)
exported = set(re.findall(r"^(nsgate_[a-z0-9_]+)", body2, re.M))
lint = subprocess.run(["promtool", "check", "metrics"], input=body2, capture_output=True, text=True)
check("scrape_passes_promtool_check_metrics", lint.returncode == 0 and exported, lint.stdout + lint.stderr)

# nsgate ofshim's metrics (no switch needed to export them): the rules
# for the switch connection name them.
shim_cfg = os.path.join(tmp, "shim.yaml")
open(shim_cfg, "w").write(f"""
openflow: {{listen: "tcp:127.0.0.1:{port + 2}", inside_port: 1}}
metrics: {{listen: "127.0.0.1:{port + 3}"}}
""")
shim = subprocess.Popen([NSGATE, "ofshim", "-c", shim_cfg], stderr=subprocess.PIPE, text=True)
children.append(shim)
shim_body = scrape(port + 3)
shim.send_signal(signal.SIGTERM)
shim.communicate(timeout=30)
shim_exported = set(re.findall(r"^(nsgate_[a-z0-9_]+)", shim_body, re.M))
lint = subprocess.run(["promtool", "check", "metrics"], input=shim_body, capture_output=True, text=True)
check("ofshim_scrape_passes_promtool_check_metrics", lint.returncode == 0 and shim_exported, lint.stdout + lint.stderr)
rules = open(os.path.join(SRC, "deploy/prometheus/nsgate-rules.yml")).read()
named = set(re.findall(r"\b(nsgate_[a-z0-9_]+)", rules + "\n".join(exprs)))
check("every_metric_in_rules_and_dashboard_is_exported", named and named <= exported | shim_exported,
      sorted(named - exported - shim_exported))
check("the_switch_alerts_name_the_shims_metrics",
      {"nsgate_openflow_connected", "nsgate_openflow_in_sync"} <= named & shim_exported, sorted(named & shim_exported))
age = re.search(r"^nsgate_snapshot_age_seconds (\S+)", body2, re.M)
# Taken since nsgate started, so no older than the time it had run when
# scraped (a wrong clock or a stale file would show a larger age).
check("periodic_snapshot_is_reported", age and re.search(r'^nsgate_snapshots_total\{result="ok"\} [1-9]', body2, re.M)
      and 0 <= float(age.group(1)) <= running_for, (age.group(0) if age else body2[:500], running_for))
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed or not passed else 0)
