#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The main job on bundled data: set up, build, then
#  1. replay the paper's Table II through the DPDK workers (net_pcap, no NIC,
#     no hugepages): learn from a resolver's capture, push a client's
#     queries through, print each verdict;
#  2. learn the NS-record history from a richer capture (Table I) and ask
#     which destinations a query may reach.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bash tools/build.sh >/dev/null
snap=$(mktemp /tmp/nsgate-demo-XXXXXX.snap)
trap 'rm -f "$snap"' EXIT

echo "== nsgate replay: the paper's Table II through the DPDK data path"
./build/nsgate replay -c conf/nsgate.yaml --learn data/paper/learn.pcap --traffic data/paper/traffic.pcap
echo
capture=data/demo/lab-resolver.pcap
echo "== nsgate learn $capture (the paper's Table I: what the DNS tree vouched for)"
./build/nsgate learn -c conf/nsgate.yaml "$capture" --snapshot "$snap"
echo
echo "== why did the bot's exchange teach nothing? (nsgate learn --explain, excerpt)"
./build/nsgate learn -c conf/nsgate.yaml --explain "$capture" | grep -A1 -E "203\.0\.113\.66:53|203\.0\.113\.10:53 -> 192\.0\.2\.53:40010"
echo
echo "== nsgate check: would a query to these servers pass? (as of the capture)"
./build/nsgate check -c conf/nsgate.yaml --snapshot "$snap" --at snapshot \
  198.41.0.4 203.0.113.10 203.0.113.30 2001:db8:200::53 8.8.4.4 8.8.8.8 203.0.113.66 203.0.113.99
