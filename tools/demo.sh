#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The main job on bundled data: set up, build, learn the NS-record history
# from a resolver's capture, then ask which destinations a query may reach.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bash tools/build.sh >/dev/null
capture=data/demo/lab-resolver.pcap
snap=$(mktemp /tmp/nsgate-demo-XXXXXX.snap)
trap 'rm -f "$snap"' EXIT

echo "== nsgate learn $capture (the paper's Table I: what the DNS tree vouched for)"
./build/nsgate learn -c conf/nsgate.yaml "$capture" --snapshot "$snap"
echo
echo "== why did the bot's exchange teach nothing? (nsgate learn --explain, excerpt)"
./build/nsgate learn -c conf/nsgate.yaml --explain "$capture" | grep -A1 -E "203\.0\.113\.66:53|203\.0\.113\.10:53 -> 192\.0\.2\.53:40010"
echo
echo "== nsgate check: would a query to these servers pass? (as of the capture)"
./build/nsgate check -c conf/nsgate.yaml --snapshot "$snap" --at snapshot \
  198.41.0.4 203.0.113.10 203.0.113.30 2001:db8:200::53 8.8.4.4 8.8.8.8 203.0.113.66 203.0.113.99
