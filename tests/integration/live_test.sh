#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Live test: nsgate run between two network namespaces on net_af_packet,
# real dig against a real nsd. Everything lives in namespaces and veths this
# script creates (documentation range 192.0.2.0/24, nothing routed out) and
# is torn down on exit, also on failure.
#
#   client 192.0.2.10 [ns in] --veth-- nsgate --veth-- [ns out] nsd on 192.0.2.20 (static_allow)
#                                                              and 192.0.2.21 (unknown)
# usage: live_test.sh NSGATE
set -uo pipefail
NSGATE=$1
if [ "$(id -u)" -ne 0 ]; then echo "live test needs root"; exit 77; fi
tag="ng$(( $$ % 100000 ))"
in_ns="${tag}in" out_ns="${tag}out"
tmp=$(mktemp -d /tmp/nsgate-live-XXXXXX)
nsgate_pid="" nsd_pid=""
passed=0 failed=0

cleanup() {
  [ -n "$nsgate_pid" ] && kill -TERM "$nsgate_pid" 2>/dev/null && wait "$nsgate_pid" 2>/dev/null
  [ -n "$nsd_pid" ] && kill "$nsd_pid" 2>/dev/null
  ip netns pids "$out_ns" 2>/dev/null | xargs -r kill 2>/dev/null
  ip netns pids "$in_ns" 2>/dev/null | xargs -r kill 2>/dev/null
  ip netns del "$in_ns" 2>/dev/null
  ip netns del "$out_ns" 2>/dev/null
  ip link del "${tag}i1" 2>/dev/null
  ip link del "${tag}o1" 2>/dev/null
  rm -rf "$tmp" "/var/run/dpdk/${tag}"
}
trap cleanup EXIT

fail() { echo "FAIL $1"; failed=$((failed + 1)); }
. "$(dirname "$0")/checks.sh"
# reload: SIGHUP, then wait until nsgate has said what it made of the file.
reload() {
  local before; before=$(grep -c "reloaded\|reload of .* refused" "$tmp/nsgate.out")
  kill -HUP "$nsgate_pid"
  for _ in $(seq 50); do
    [ "$(grep -c "reloaded\|reload of .* refused" "$tmp/nsgate.out")" -gt "$before" ] && return 0
    sleep 0.1
  done
  echo "nsgate did not answer the reload"; return 1
}

ip netns add "$in_ns" && ip netns add "$out_ns" || exit 1
ip link add "${tag}i0" type veth peer name "${tag}i1"
ip link add "${tag}o0" type veth peer name "${tag}o1"
ip link set "${tag}i0" netns "$in_ns"
ip link set "${tag}o0" netns "$out_ns"
ip -n "$in_ns" addr add 192.0.2.10/24 dev "${tag}i0"
ip -n "$out_ns" addr add 192.0.2.20/24 dev "${tag}o0"
ip -n "$out_ns" addr add 192.0.2.21/24 dev "${tag}o0"
for ns in "$in_ns" "$out_ns"; do ip -n "$ns" link set lo up; done
ip -n "$in_ns" link set "${tag}i0" up
ip -n "$out_ns" link set "${tag}o0" up
ip link set "${tag}i1" up
ip link set "${tag}o1" up
# Frames cross a packet socket: checksums must be complete on the wire.
ip netns exec "$in_ns" ethtool -K "${tag}i0" tx off rx off tso off gso off gro off >/dev/null 2>&1
ip netns exec "$out_ns" ethtool -K "${tag}o0" tx off rx off tso off gso off gro off >/dev/null 2>&1
ethtool -K "${tag}i1" tx off rx off tso off gso off gro off >/dev/null 2>&1
ethtool -K "${tag}o1" tx off rx off tso off gso off gro off >/dev/null 2>&1

# An authoritative server for example.lab on both outside addresses.
cat >"$tmp/example.lab.zone" <<ZONE
\$TTL 300
@   IN SOA ns.example.lab. hostmaster.example.lab. 1 3600 600 86400 300
@   IN NS  ns.example.lab.
ns  IN A   192.0.2.20
www IN A   192.0.2.80
ZONE
cat >"$tmp/nsd.conf" <<CONF
server:
  ip-address: 192.0.2.20
  ip-address: 192.0.2.21
  port: 53
  username: ""
  chroot: ""
  zonesdir: "$tmp"
  database: ""
  pidfile: "$tmp/nsd.pid"
  xfrdfile: "$tmp/xfrd.state"
  zonelistfile: "$tmp/zone.list"
  logfile: "$tmp/nsd.log"
  server-count: 1
  verbosity: 1
remote-control:
  control-enable: no
zone:
  name: example.lab
  zonefile: example.lab.zone
CONF
ip netns exec "$out_ns" nsd -d -c "$tmp/nsd.conf" >"$tmp/nsd.out" 2>&1 &
nsd_pid=$!

# A note longer than a DPDK telemetry string (127 characters).
long_note="kept for the telemetry test: $(printf 'a note of some length %.0s' 1 2 3 4 5 6)end"
cat >"$tmp/nsgate.yaml" <<CONF
mode: enforce
static_allow:
  - {cidr: 192.0.2.20/32, note: the lab's allowed server}
  - {cidr: 192.0.2.22/32, note: "$long_note"}
ports:
  # Frames of 4 KB: the sockets hand over datagrams reassembled, as large
  # as a frame (a 2 KB frame would cut the 3 KB query below).
  inside: net_af_packet0,iface=${tag}i1,framesz=4096,blocksz=4096
  outside: net_af_packet1,iface=${tag}o1,framesz=4096,blocksz=4096
eal: [--no-huge, --no-pci, -m, "512", -l, "0-1", --file-prefix=${tag}, "--log-level=lib.*:error", "--log-level=pmd.*:error"]
drop_log: {path: $tmp/drops.json}
snapshot: {path: $tmp/table.snap, interval: 60}
metrics: {listen: "127.0.0.1:$(( 40000 + $$ % 20000 ))"}
CONF
"$NSGATE" run -c "$tmp/nsgate.yaml" >"$tmp/nsgate.out" 2>&1 &
nsgate_pid=$!
for _ in $(seq 50); do grep -q "Ctrl-C stops" "$tmp/nsgate.out" && break; sleep 0.1; done
if ! grep -q "Ctrl-C stops" "$tmp/nsgate.out"; then
  echo "nsgate did not start:"; cat "$tmp/nsgate.out"; exit 1
fi
sleep 0.5

dig_answer() { dig_gives 192.0.2.80 "$@"; }

expect "ping_passes_both_ways" inside ping -c 2 -W 2 192.0.2.21
expect "ping_from_outside_passes" ip netns exec "$out_ns" ping -c 1 -W 2 192.0.2.10
expect "query_to_static_allowed_server_is_answered" dig_answer @192.0.2.20 www.example.lab
expect_not "query_to_unknown_server_times_out" dig_answer @192.0.2.21 www.example.lab
expect "tcp_query_to_static_allowed_server_is_answered" dig_answer +tcp @192.0.2.20 www.example.lab
expect_not "tcp_query_to_unknown_server_fails" dig_answer +tcp @192.0.2.21 www.example.lab
fragment_checks "${tag}i0" 192.0.2.10 192.0.2.20 192.0.2.21
expect "query_of_3000_bytes_in_fragments_is_answered" craft big-query 192.0.2.20 www.example.lab 3000
# A TCP connection to a non-DNS port passes both ways (an echo service).
ip netns exec "$out_ns" python3 -c '
import socket; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.0.2.21", 8080)); s.listen(1); s.settimeout(10); c, _ = s.accept(); c.sendall(c.recv(64)); c.close()' &
sleep 0.3
expect "tcp_connection_to_other_port_passes" inside python3 -c '
import socket; s = socket.create_connection(("192.0.2.21", 8080), timeout=3); s.sendall(b"hello nsgate")
assert s.recv(64) == b"hello nsgate"'
# Each drop above has its line: the plain queries, the query in fragments
# and the tiny SYN by their source ports (written off the data path: polled).
expect "drop_log_names_client_server_and_query" eventually python3 -c "
import json, sys
lines = [json.loads(l) for l in open('$tmp/drops.json')]
hits = [e for e in lines if e['dest_ip'] == '192.0.2.21' and e['src_ip'] == '192.0.2.10' and e['event_type'] == 'drop']
udp = [e for e in hits if e['proto'] == 'UDP' and e['dns']['rrname'] == 'www.example.lab.']
tcp = [e for e in hits if e['proto'] == 'TCP' and e['dest_port'] == 53]  # dig's SYN: no question yet
assert len(udp) >= 2 and tcp, lines
assert [e for e in udp if e['src_port'] == int('${big_sport:-0}')], ('no line for the query in fragments', lines)
assert [e for e in tcp if e['src_port'] == int('${tiny_sport:-0}')], ('no line for the tiny SYN', lines)
assert not [e for e in lines if e['dest_ip'] == '192.0.2.20'], lines
"
# Operator commands over DPDK telemetry.
telemetry() { echo "$1" | timeout 10 dpdk-telemetry.py -f "$tag" 2>/dev/null | grep '^{'; }
expect "telemetry_top_blocked_names_the_client_and_the_server" python3 -c "
import json, sys
r = json.loads(sys.argv[1])['/nsgate/top_blocked']
assert r['sources'][0].startswith('192.0.2.10 ') and r['destinations'][0].startswith('192.0.2.21 '), r
" "$(telemetry /nsgate/top_blocked)"
expect "telemetry_lookup_explains_a_verdict" python3 -c "
import json, sys
a = json.loads(sys.argv[1])['/nsgate/lookup']; b = json.loads(sys.argv[2])['/nsgate/lookup']
assert a['verdict'] == 'block' and b['verdict'] == 'pass' and b['reason'] == 'static', (a, b)
" "$(telemetry /nsgate/lookup,192.0.2.21)" "$(telemetry /nsgate/lookup,192.0.2.20)"
expect "telemetry_lookup_sends_a_long_detail_whole" python3 -c "
import json, sys
r = json.loads(sys.argv[1])['/nsgate/lookup']
assert isinstance(r['detail'], list) and ''.join(r['detail']) == 'static_allow (' + sys.argv[2] + ')', r
" "$(telemetry /nsgate/lookup,192.0.2.22)" "$long_note"

# Hot reload: allow the second server, then an invalid file (refused, the
# running config stays), then take the allowance back.
cp "$tmp/nsgate.yaml" "$tmp/nsgate.yaml.orig"
sed -i 's|^  - {cidr: 192.0.2.20/32, note: the lab.s allowed server}|&\n  - {cidr: 192.0.2.21/32, note: allowed by reload}|' "$tmp/nsgate.yaml"
expect "reload_is_taken" reload
expect "reload_adds_a_static_allow_without_restart" dig_answer @192.0.2.21 www.example.lab
cp "$tmp/nsgate.yaml" "$tmp/nsgate.yaml.good"
sed -i 's/^mode: enforce/mode: sometimes/' "$tmp/nsgate.yaml"
expect "invalid_reload_is_answered" reload
expect "invalid_reload_names_the_error" grep -q 'mode (line .*): "sometimes" is not one of enforce, monitor' "$tmp/nsgate.out"
expect "invalid_reload_is_refused_and_changes_nothing" dig_answer @192.0.2.21 www.example.lab
cp "$tmp/nsgate.yaml.orig" "$tmp/nsgate.yaml"
expect "reload_back_is_taken" reload
expect_not "reload_removes_the_static_allow_again" dig_answer @192.0.2.21 www.example.lab
# Log rotation as deploy/logrotate/nsgate does it: rename, then SIGUSR1;
# the next drop goes to a new file under the old name, none to the renamed
# one.
mv "$tmp/drops.json" "$tmp/drops.json.1"
kill -USR1 "$nsgate_pid"
expect "sigusr1_reopens_the_drop_log" eventually grep -q "drop log reopened" "$tmp/nsgate.out"
rotated_lines=$(wc -l <"$tmp/drops.json.1")
expect_not "query_after_rotation_is_dropped" craft big-query 192.0.2.21 www.example.lab
rotated_sport=$(last_sport)
expect "a_rotated_drop_log_is_written_afresh" eventually python3 -c "
import json
lines = [json.loads(l) for l in open('$tmp/drops.json')]
assert [e for e in lines if e['src_port'] == int('${rotated_sport:-0}') and e['dest_ip'] == '192.0.2.21'], lines
"
expect "the_renamed_drop_log_gets_nothing_more" test "$(wc -l <"$tmp/drops.json.1")" -eq "$rotated_lines"
kill -TERM "$nsgate_pid"
wait "$nsgate_pid"; rc=$?
nsgate_pid=""
expect "sigterm_stops_cleanly_and_saves_the_snapshot" test "$rc" -eq 0 -a -s "$tmp/table.snap"
grep -E "^(counters|verdicts):" "$tmp/nsgate.out"

# Monitor mode on the same wire: the unknown server now answers (so the
# timeout above was nsgate's doing), and the query is alerted.
sed -i 's/^mode: enforce/mode: monitor/' "$tmp/nsgate.yaml"
: >"$tmp/drops.json"
"$NSGATE" run -c "$tmp/nsgate.yaml" >"$tmp/nsgate.out" 2>&1 &
nsgate_pid=$!
for _ in $(seq 50); do grep -q "Ctrl-C stops" "$tmp/nsgate.out" && break; sleep 0.1; done
sleep 0.5
expect "monitor_mode_lets_the_unknown_server_answer" dig_answer @192.0.2.21 www.example.lab
expect "monitor_mode_lets_the_unknown_server_answer_tcp" dig_answer +tcp @192.0.2.21 www.example.lab
# The crafted packets the unknown server did not answer in enforce mode: it
# answers them now, so their silence then was nsgate's doing.
expect "monitor_mode_lets_the_fragmented_query_through" craft big-query 192.0.2.21 www.example.lab
expect "monitor_mode_lets_the_tiny_fragment_syn_through" craft tiny-syn "${tag}i0" 192.0.2.10 192.0.2.21
expect "monitor_mode_alerts_instead_of_dropping" eventually python3 -c "
import json
lines = [json.loads(l) for l in open('$tmp/drops.json')]
assert [e for e in lines if e['dest_ip'] == '192.0.2.21' and e['event_type'] == 'alert'], lines
assert not [e for e in lines if e['event_type'] == 'drop'], lines
"
kill -TERM "$nsgate_pid"; wait "$nsgate_pid"; nsgate_pid=""
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
