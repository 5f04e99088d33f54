#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# nsgate ofshim against a real Open vSwitch (userspace datapath, started by
# this script in a temporary directory), real dig clients and real nsd
# servers in network namespaces this script creates. Documentation
# addresses only; nothing is routed out; everything is torn down on exit.
#
#   [ns in] client 192.0.2.10, 2001:db8::10
#      | veth (OpenFlow port 1 = inside)
#   OVS bridge (fail_mode=secure, OpenFlow13) <--- nsgate ofshim (controller)
#      | veth (OpenFlow port 2)
#   [ns out] nsd "root"  192.0.2.30            (the lab's root hint)
#            nsd "lab."  192.0.2.31            (named only by the root's referral)
#                        192.0.2.20            (static_allow)
#                        192.0.2.21, 2001:db8::21  (no delegation names it)
# usage: ofshim_test.sh NSGATE
set -uo pipefail
NSGATE=$(readlink -f "$1")
if [ "$(id -u)" -ne 0 ]; then echo "ofshim test needs root"; exit 77; fi
for tool in ovs-vswitchd ovsdb-server nsd dig; do
  command -v "$tool" >/dev/null || { echo "$tool not found: run tools/setup.sh"; exit 1; }
done
tag="os$(( $$ % 100000 ))"
in_ns="${tag}in" out_ns="${tag}out"
tmp=$(mktemp -d /tmp/nsgate-ofshim-XXXXXX)
. "$(dirname "$0")/../../tools/lib/ovs.sh"
of_port=$(( 20000 + $$ % 20000 ))
metrics_port=$(( 40000 + $$ % 20000 ))
shim_pid=""
passed=0 failed=0

cleanup() {
  [ -n "$shim_pid" ] && kill -TERM "$shim_pid" 2>/dev/null && wait "$shim_pid" 2>/dev/null
  for p in "$tmp"/*.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null; done
  ovs_stop
  ip netns pids "$out_ns" 2>/dev/null | xargs -r kill 2>/dev/null
  ip netns pids "$in_ns" 2>/dev/null | xargs -r kill 2>/dev/null
  ip netns del "$in_ns" 2>/dev/null
  ip netns del "$out_ns" 2>/dev/null
  ip link del "${tag}i1" 2>/dev/null
  ip link del "${tag}o1" 2>/dev/null
  for d in d1 d3; do ip link del "${tag}$d" 2>/dev/null; done
  sleep 0.2
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "FAIL $1"; failed=$((failed + 1))
  echo "     --- shim log"; tail -n 15 "$tmp/shim.out" 2>/dev/null | sed 's/^/     /'
  echo "     --- drop log"; tail -n 5 "$tmp/drops.json" 2>/dev/null | sed 's/^/     /'
}
. "$(dirname "$0")/checks.sh"

# ---- Open vSwitch, userspace datapath, in $tmp/ovs
ovs_start "$tmp/ovs" || exit 1
ovs_bridge br0 || exit 1
ofctl() { ovs-ofctl -O OpenFlow13 "$@"; }

# ---- namespaces
ip netns add "$in_ns" && ip netns add "$out_ns" || exit 1
ip link add "${tag}i0" type veth peer name "${tag}i1"
ip link add "${tag}o0" type veth peer name "${tag}o1"
ip link set "${tag}i0" netns "$in_ns"
ip link set "${tag}o0" netns "$out_ns"
ip -n "$in_ns" addr add 192.0.2.10/24 dev "${tag}i0"
ip -n "$in_ns" addr add 2001:db8::10/64 dev "${tag}i0" nodad
for a in 192.0.2.20/24 192.0.2.21/24 192.0.2.30/24 192.0.2.31/24 192.0.2.32/24; do ip -n "$out_ns" addr add "$a" dev "${tag}o0"; done
ip -n "$out_ns" addr add 2001:db8::21/64 dev "${tag}o0" nodad
for ns in "$in_ns" "$out_ns"; do ip -n "$ns" link set lo up; done
ip -n "$in_ns" link set "${tag}i0" up
ip -n "$out_ns" link set "${tag}o0" up
ip link set "${tag}i1" up
ip link set "${tag}o1" up
for dev in "${tag}i1" "${tag}o1"; do ethtool -K "$dev" tx off rx off tso off gso off gro off >/dev/null 2>&1; done
ip netns exec "$in_ns" ethtool -K "${tag}i0" tx off rx off tso off gso off gro off >/dev/null 2>&1
ip netns exec "$out_ns" ethtool -K "${tag}o0" tx off rx off tso off gso off gro off >/dev/null 2>&1
# The operator's script puts the bridge (made above with the userspace
# datapath this machine has) under nsgate: ports 1 and 2, controller, secure.
sh "$(dirname "$0")/../../deploy/ovs/nsgate-bridge.sh" br0 "${tag}i1" "${tag}o1" "tcp:127.0.0.1:$of_port" || exit 1
[ "$(ovs-vsctl get bridge br0 fail_mode)" = secure ] || { echo "nsgate-bridge.sh left fail_mode unset"; exit 1; }
# On a bridge whose port 1 is taken, OVS would number the inside otherwise:
# the script must say so and change nothing.
ovs_bridge br9 || exit 1
ip link add "${tag}d1" type veth peer name "${tag}d2" && ip link add "${tag}d3" type veth peer name "${tag}d4" || exit 1
for d in d1 d2 d3 d4; do ip link set "${tag}$d" up; done
ovs-vsctl add-port br9 "${tag}d3" -- set interface "${tag}d3" ofport_request=1
expect_not "the_bridge_script_refuses_an_inside_port_other_than_1" \
  sh "$(dirname "$0")/../../deploy/ovs/nsgate-bridge.sh" br9 "${tag}d1" "${tag}d2" "tcp:127.0.0.1:$of_port"
cp "$tmp/last.out" "$tmp/bridge9.out"
expect "the_bridge_script_names_the_interface_on_port_1" grep -q "port 1 of br9 is ${tag}d3's; .*nothing changed" "$tmp/bridge9.out"
expect "the_refused_bridge_is_left_as_it_was" test -z "$(ovs-vsctl get-controller br9)" -a "$(ovs-vsctl list-ports br9)" = "${tag}d3"
ovs-vsctl del-br br9

# ---- DNS: a root that delegates lab. to 192.0.2.31, and the lab. server
nsd_conf() {  # nsd_conf NAME ZONE ADDRESS...
  local name=$1 zone=$2; shift 2
  mkdir -p "$tmp/$name"
  {
    echo "server:"
    for a in "$@"; do echo "  ip-address: $a"; done
    cat <<CONF
  port: 53
  username: ""
  chroot: ""
  zonesdir: "$tmp/$name"
  database: ""
  pidfile: "$tmp/nsd-$name.pid"
  xfrdfile: "$tmp/$name/xfrd.state"
  zonelistfile: "$tmp/$name/zone.list"
  logfile: "$tmp/$name/nsd.log"
  server-count: 1
remote-control:
  control-enable: no
zone:
  name: "$zone"
  zonefile: zone
CONF
  } >"$tmp/$name/nsd.conf"
}
nsd_conf root . 192.0.2.30
cat >"$tmp/root/zone" <<'ZONE'
$TTL 300
.          IN SOA a.nic. hostmaster.nic. 1 3600 600 86400 300
.          IN NS  a.nic.
a.nic.     IN A   192.0.2.30
lab.       IN NS  ns1.lab.
ns1.lab.   IN A   192.0.2.31
test.      IN NS  ns1.test.
ns1.test.  IN A   192.0.2.32
ZONE
nsd_conf lab lab. 192.0.2.31 192.0.2.32 192.0.2.20 192.0.2.21 2001:db8::21
cat >>"$tmp/lab/nsd.conf" <<'CONF'
zone:
  name: "test."
  zonefile: test.zone
CONF
cat >"$tmp/lab/test.zone" <<'ZONE'
$TTL 300
@               IN SOA ns1.test. hostmaster.test. 1 3600 600 86400 300
@               IN NS  ns1.test.
ns1             IN A   192.0.2.32
www.example     IN A   192.0.2.80
ZONE
cat >"$tmp/lab/zone" <<'ZONE'
$TTL 300
@               IN SOA ns1.lab. hostmaster.lab. 1 3600 600 86400 300
@               IN NS  ns1.lab.
ns1             IN A   192.0.2.31
www.example     IN A   192.0.2.80
ZONE
for n in root lab; do
  ip netns exec "$out_ns" nsd -c "$tmp/$n/nsd.conf" >"$tmp/$n/nsd.out" 2>&1 || { cat "$tmp/$n/nsd.out"; exit 1; }
done
echo "a.nic. 3600000 A 192.0.2.30" >"$tmp/root.hints"

write_config() {  # write_config MODE STATIC_ALLOW_LINES [MORE_OPENFLOW_KEYS]
  cat >"$tmp/nsgate.yaml" <<CONF
mode: $1
root_hints: $tmp/root.hints
static_allow:
$2
trusted_sources: []
learning: {clients: [192.0.2.10/32, "2001:db8::10/128"]}
openflow: {listen: "tcp:127.0.0.1:$of_port", inside_port: 1, echo_interval: 2${3:-}}
drop_log: {path: $tmp/drops.json}
snapshot: {path: $tmp/table.snap, interval: 1}
metrics: {listen: "127.0.0.1:$metrics_port"}
CONF
}
start_shim() {  # start_shim [ARGS...]: waits until the switch is in sync
  : >"$tmp/shim.out"
  "$NSGATE" ofshim -c "$tmp/nsgate.yaml" "$@" >>"$tmp/shim.out" 2>&1 &
  shim_pid=$!
  for _ in $(seq 100); do grep -q "in sync" "$tmp/shim.out" && return 0; sleep 0.1; done
  echo "the shim did not reach sync:"; cat "$tmp/shim.out"; return 1
}

dig_answer() { dig_gives 192.0.2.80 +norec "$@"; }
# The root's referral for a TLD: no answer, an authority section naming ns1.TLD.
dig_referral() {  # dig_referral TLD DIG_ARGS...
  local tld=$1; shift
  inside dig +time=2 +tries=1 +norec "$@" | grep -q "^$tld\..*IN[[:space:]]*NS[[:space:]]*ns1\.$tld\."
}
# flow_for ADDRESS: 0 with a flow to ADDRESS in table 1, 1 without, 2 when
# the flows could not be read.
flow_for() {
  local d
  d=$(ofctl dump-flows br0 "table=1,ip,nw_dst=$1") || return 2
  grep "nw_dst=$1" <<<"$d"
}
# no_flow_matching REGEX: the bridge has nsgate's flows, none matching REGEX.
no_flow_matching() {
  local d
  d=$(ofctl dump-flows br0) || return 2
  grep -q 'cookie=' <<<"$d" || { echo "no flows at all"; return 2; }
  ! grep -E "$1" <<<"$d"
}
# only_cookie COOKIE: the bridge has flows, and every one carries COOKIE.
only_cookie() {
  local d
  d=$(ofctl dump-flows br0) || return 2
  grep -q 'cookie=' <<<"$d" || { echo "no flows at all"; return 2; }
  ! grep 'cookie=' <<<"$d" | grep -v "cookie=$1"
}
# Packets the bridge sent NORMAL, uncopied, as DNS responses from the inside.
inside_response_packets() {
  ofctl --no-names dump-flows br0 table=0 | sed -n 's/.*n_packets=\([0-9]*\),.*priority=150,udp,in_port=1.*/\1/p' | grep .
}

write_config enforce "  - {cidr: 192.0.2.20/32, note: the lab's allowed server}"
start_shim || exit 1

expect "query_to_static_allowed_server_is_answered" dig_answer @192.0.2.20 www.example.lab
expect "tcp_query_to_static_allowed_server_is_answered" dig_answer +tcp @192.0.2.20 www.example.lab
expect_not "query_to_unknown_server_is_dropped" dig_answer @192.0.2.21 www.example.lab
expect_not "tcp_query_to_unknown_server_is_dropped" dig_answer +tcp @192.0.2.21 www.example.lab
expect_not "ipv6_query_to_unknown_server_is_dropped" dig_answer @2001:db8::21 www.example.lab
expect "non_dns_traffic_passes" inside ping -c 1 -W 2 192.0.2.21
expect_not "query_to_the_lab_server_is_dropped_before_any_referral" dig_answer @192.0.2.31 www.example.lab
expect "root_hint_answers_with_a_referral" dig_referral lab @192.0.2.30 www.example.lab
for _ in $(seq 30); do flow_for 192.0.2.31 >/dev/null && break; sleep 0.1; done
expect "referral_installs_a_flow_for_the_glue_address" flow_for 192.0.2.31
expect "learned_server_is_answered_directly" dig_answer @192.0.2.31 www.example.lab
# Queries in fragments: the first fragment carries the ports and is judged
# (OVS's nx-match fragment mode; a TCP first fragment cut inside its header
# has its ports read as 0, judged all the same); later fragments pass.
fragment_checks "${tag}i0" 192.0.2.10 192.0.2.20 192.0.2.21
# A bot inside forging the root's referral for its own server teaches nothing.
# The bridge's counter shows the forgery arrived and went out uncopied; the
# half second after it is what a copy to the shim would need to become a flow.
forged_before=$(inside_response_packets)
expect "a_forged_referral_is_sent" craft forged-referral "${tag}i0" 192.0.2.10 192.0.2.30 bot.example ns.bot.example 192.0.2.21
forged_arrived() { [ "$(inside_response_packets)" -gt "${forged_before:-0}" ]; }
expect "a_forged_referral_reaches_the_bridge" eventually forged_arrived
sleep 0.5
expect_not "a_referral_forged_inside_installs_no_flow" flow_for 192.0.2.21
expect_not "a_referral_forged_inside_allows_nothing" dig_answer @192.0.2.21 www.example.lab
# A reload that drops inside_port while still learning from the bridge (the
# file's learn_from needs a restart to count) is refused whole.
cp "$tmp/nsgate.yaml" "$tmp/nsgate.yaml.good"
sed -i 's|inside_port: 1|inside_port: 0, learn_from: lo|' "$tmp/nsgate.yaml"
kill -HUP "$shim_pid"
expect "a_reload_without_the_inside_port_is_refused" eventually grep -q "openflow.inside_port.*must be set" "$tmp/shim.out"
expect "the_refused_reload_keeps_judging_the_inside_port" bash -c "ovs-ofctl -O OpenFlow13 --no-names dump-flows br0 table=0 | grep -q 'priority=150,udp,in_port=1'"
mv "$tmp/nsgate.yaml.good" "$tmp/nsgate.yaml"
# Flows deleted by hand while still wanted come back (FLOW_REMOVED, send_flow_rem).
ofctl del-flows br0 "table=1,ip,nw_dst=192.0.2.31"
ofctl del-flows br0 "table=1,ip,nw_dst=192.0.2.20"
expect "a_learned_flow_deleted_by_hand_is_put_back" eventually flow_for 192.0.2.31
expect "a_static_flow_deleted_by_hand_is_put_back" eventually flow_for 192.0.2.20
expect "the_static_server_answers_again" dig_answer @192.0.2.20 www.example.lab
expect "drop_log_names_client_server_and_query" eventually python3 -c "
import json
lines = [json.loads(l) for l in open('$tmp/drops.json')]
def hit(dst, proto): return [e for e in lines if e['dest_ip'] == dst and e['proto'] == proto and e['event_type'] == 'drop']
udp = [e for e in hit('192.0.2.21', 'UDP') if e['src_ip'] == '192.0.2.10' and e['dns']['rrname'] == 'www.example.lab.']
assert udp and hit('192.0.2.21', 'TCP') and hit('2001:db8::21', 'UDP'), lines
assert [e for e in udp if e['src_port'] == int('${big_sport:-0}')], ('no line for the query in fragments', lines)
assert [e for e in hit('192.0.2.21', 'TCP') if e['src_port'] == int('${tiny_sport:-0}')], ('no line for the tiny SYN', lines)
assert not [e for e in lines if e['dest_ip'] in ('192.0.2.20', '192.0.2.30')], lines
"
# learning.clients: from the inside port only the client's queries are
# copied to nsgate, from elsewhere only responses to it (OVS takes the
# flows: the sync above would have failed).
ovs-ofctl -O OpenFlow13 --no-names dump-flows br0 table=2 >"$tmp/table2.txt"
expect "learning_copies_are_only_the_clients_queries_and_responses" python3 - "$tmp/table2.txt" <<'PY'
import re, sys
flows = open(sys.argv[1]).read()
def has(pattern): return re.search(pattern, flows) is not None
assert has(r'priority=20,ip,in_port=1,nw_src=192\.0\.2\.10 .*actions=meter:1,CONTROLLER'), flows
assert has(r'priority=10,in_port=1 actions=drop'), flows
assert has(r'priority=5,ip,nw_dst=192\.0\.2\.10 .*actions=meter:1,CONTROLLER'), flows
assert has(r'priority=5,ipv6,ipv6_dst=2001:db8::10 .*actions=meter:1,CONTROLLER'), flows
assert has(r'priority=0 actions=drop'), flows  # nothing else is copied
PY
expect "flows_have_the_expected_shape_and_timeouts" python3 - "$(ofctl dump-flows br0)" <<'PY'
import re, sys
flows = [l.strip() for l in sys.argv[1].splitlines() if 'cookie=' in l]
def find(pattern): return [f for f in flows if re.search(pattern, f)]
assert all(re.search(r'cookie=0x6e736774', f) for f in flows), 'a flow without the nsgate cookie'
assert len(find(r'table=0, .*priority=200,(udp|tcp|udp6|tcp6),in_port=1,tp_dst=53 actions=goto_table:1')) == 4
assert len(find(r'table=0, .*priority=100,(udp|tcp|udp6|tcp6),tp_src=53 actions=NORMAL,goto_table:2')) == 4
assert find(r'table=1, .*priority=0 actions=goto_table:3'), 'enforce: the miss must drop (no output)'
assert find(r'table=2, .*actions=meter:1,CONTROLLER:65535') and find(r'table=3, .*actions=meter:2,CONTROLLER:65535')
learned = find(r'table=1, .*nw_dst=192\.0\.2\.31 ')
m = re.search(r'hard_timeout=(\d+)', learned[0])
# NS/glue TTL 300 + 300 s grace; the table rounds expiry up to the next second
assert m and 550 <= int(m.group(1)) <= 601, learned
anchor = find(r'table=1, .*nw_dst=192\.0\.2\.30 ')
assert anchor and 'hard_timeout' not in anchor[0], anchor  # anchors never time out
print(len(flows), 'flows;', learned[0])
PY
expect "metrics_pass_promtool_and_count_the_learning" eventually bash -c "
  curl -sf http://127.0.0.1:$metrics_port/metrics >'$tmp/metrics.txt' &&
  promtool check metrics <'$tmp/metrics.txt' &&
  grep -q '^nsgate_openflow_in_sync 1' '$tmp/metrics.txt' &&
  grep -Eq '^nsgate_snapshots_total\{result=\"ok\"\} [1-9]' '$tmp/metrics.txt' &&
  grep -q 'enforcer=\"openflow\"' '$tmp/metrics.txt' &&
  grep -Eq '^nsgate_learn_events_total\{event=\"added\"\} [1-9]' '$tmp/metrics.txt'"

# Kill the shim hard: the bridge keeps judging (fail_mode=secure).
expect "the_learned_server_is_in_a_snapshot" eventually bash -c "'$NSGATE' check --snapshot '$tmp/table.snap' 192.0.2.31 | grep -q '^192.0.2.31 pass learned'"
kill -KILL "$shim_pid"; wait "$shim_pid" 2>/dev/null; shim_pid=""
expect "without_the_shim_allowed_queries_still_pass" dig_answer @192.0.2.20 www.example.lab
expect "without_the_shim_learned_queries_still_pass" dig_answer @192.0.2.31 www.example.lab
expect_not "without_the_shim_unknown_queries_are_still_dropped" dig_answer @192.0.2.21 www.example.lab

# Restart with 192.0.2.20 no longer allowed: its flow is stale and goes.
write_config enforce "  - {cidr: 198.51.100.53/32, note: another allowed server}"
start_shim || exit 1
expect "restart_reconciles_the_stale_static_flow_away" no_flow_matching 'nw_dst=192\.0\.2\.20 '
expect "restart_keeps_the_learned_server_from_the_snapshot" flow_for 192.0.2.31
expect "all_flows_carry_the_new_generation" only_cookie 0x6e73677400000002
expect_not "removed_static_server_is_now_dropped" dig_answer @192.0.2.20 www.example.lab
expect "learned_server_still_answered_after_restart" dig_answer @192.0.2.31 www.example.lab
kill -TERM "$shim_pid"; wait "$shim_pid"; rc=$?; shim_pid=""
expect "sigterm_stops_cleanly" test "$rc" -eq 0

# Monitor mode over an active connection to the bridge's management socket.
ovs-vsctl del-controller br0
write_config monitor "  []"
: >"$tmp/drops.json"
start_shim --connect "unix:$OVS_RUNDIR/br0.mgmt" || exit 1
expect "monitor_mode_lets_the_unknown_server_answer" dig_answer @192.0.2.21 www.example.lab
# What enforce mode left unanswered is answered now: its silence was nsgate's.
expect "monitor_mode_lets_the_unknown_server_answer_tcp" dig_answer +tcp @192.0.2.21 www.example.lab
expect "monitor_mode_lets_the_unknown_server_answer_ipv6" dig_answer @2001:db8::21 www.example.lab
expect "monitor_mode_lets_the_fragmented_query_through" craft big-query 192.0.2.21 www.example.lab
expect "monitor_mode_lets_the_tiny_fragment_syn_through" craft tiny-syn "${tag}i0" 192.0.2.10 192.0.2.21
expect "monitor_mode_alerts_over_a_service_connection" eventually python3 -c "
import json
lines = [json.loads(l) for l in open('$tmp/drops.json')]
assert [e for e in lines if e['dest_ip'] == '192.0.2.21' and e['event_type'] == 'alert'], lines
assert not [e for e in lines if e['event_type'] == 'drop'], lines
"
kill -TERM "$shim_pid"; wait "$shim_pid"; shim_pid=""

# Responses held by nsgate: learned, flow installed, then sent on.
ovs-vsctl set-controller br0 "tcp:127.0.0.1:$of_port"
write_config enforce "  - {cidr: 192.0.2.20/32}" ", hold_responses: true"
start_shim || exit 1
expect "held_responses_still_reach_the_client" dig_answer @192.0.2.20 www.example.lab
referral_then_direct() { dig_referral test @192.0.2.30 www.example.test && dig_answer @192.0.2.32 www.example.test; }
expect "held_referral_is_learned_before_it_is_sent_on" referral_then_direct
expect "held_responses_are_counted" eventually bash -c "curl -sf http://127.0.0.1:$metrics_port/metrics |
  grep -Eq '^nsgate_openflow_packet_ins_total\{copy=\"held_response\"\} [1-9]'"
kill -TERM "$shim_pid"; wait "$shim_pid"; shim_pid=""

# Learning from a mirror capture instead of packet-in copies: a fresh table
# (no snapshot), the referral seen on the outside port by libpcap.
rm -f "$tmp/table.snap"
write_config enforce "  []"
start_shim --learn-from "${tag}o1" || exit 1
expect_not "mirror_learning_starts_with_the_lab_server_unknown" dig_answer @192.0.2.31 www.example.lab
expect "mirror_root_referral" dig_referral lab @192.0.2.30 www.example.lab
for _ in $(seq 30); do flow_for 192.0.2.31 >/dev/null && break; sleep 0.1; done
expect "mirror_learning_installs_the_glue_flow" flow_for 192.0.2.31
expect "mirror_learned_server_answers" dig_answer @192.0.2.31 www.example.lab
expect "mirror_mode_installs_no_learning_copies" bash -c "curl -sf http://127.0.0.1:$metrics_port/metrics |
  grep -Eq '^nsgate_openflow_packet_ins_total\{copy=\"learn\"\} 0$' &&
  ! ovs-ofctl -O OpenFlow13 dump-flows br0 | grep -q 'goto_table:2'"
kill -TERM "$shim_pid"; wait "$shim_pid"; shim_pid=""

# Malformed messages from a "switch": refused and counted, no crash.
expect "malformed_messages_are_counted_not_fatal" python3 - "$NSGATE" "$tmp" <<'PY'
import socket, subprocess, sys, time, os
nsgate, tmp = sys.argv[1], sys.argv[2]
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
port = srv.getsockname()[1]
log = open(os.path.join(tmp, "fake.out"), "w")
conf = os.path.join(tmp, "fake.yaml")
open(conf, "w").write("openflow: {inside_port: 1}\n")
p = subprocess.Popen([nsgate, "ofshim", "-c", conf, "--connect", f"tcp:127.0.0.1:{port}"], stderr=log, stdout=log)
try:
    srv.settimeout(8)
    c, _ = srv.accept(); c.settimeout(3)
    c.recv(64)  # its HELLO
    c.sendall(bytes.fromhex("0400001000000001" "00010008" "00000010"))  # HELLO, 1.3 bitmap
    # A PACKET_IN whose match length runs past the message, then one too short,
    # then a good ECHO_REQUEST: the shim must still answer it.
    c.sendall(bytes.fromhex("040a0020000000020000000000000000" "0000000000000000" "0001ff00" "00000000"))
    c.sendall(bytes.fromhex("040a000c00000003" "00000000"))
    c.sendall(bytes.fromhex("0402000800000004"))
    deadline = time.time() + 3; got = b""
    while time.time() < deadline and b"\x04\x03\x00\x08\x00\x00\x00\x04" not in got:
        got += c.recv(4096)
    assert b"\x04\x03\x00\x08\x00\x00\x00\x04" in got, got.hex()
    assert p.poll() is None, "the shim exited"
finally:
    p.terminate(); p.wait(5); log.close()
out = open(os.path.join(tmp, "fake.out")).read()
assert "malformed PACKET_IN" in out, out
PY

# Active connection: the switch is not there yet, then goes away: the shim
# retries with backoff and connects again each time.
expect "connect_mode_retries_with_backoff_and_reconnects" python3 - "$NSGATE" "$tmp" <<'PY'
import socket, subprocess, sys, time, os
nsgate, tmp = sys.argv[1], sys.argv[2]
probe = socket.socket(); probe.bind(("127.0.0.1", 0)); port = probe.getsockname()[1]; probe.close()
log = open(os.path.join(tmp, "reconnect.out"), "w")
conf = os.path.join(tmp, "fake.yaml")
open(conf, "w").write("openflow: {inside_port: 1}\n")
p = subprocess.Popen([nsgate, "ofshim", "-c", conf, "--connect", f"tcp:127.0.0.1:{port}"], stderr=log, stdout=log)
try:
    time.sleep(1.5)  # nothing listens: at least one refused attempt
    srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port)); srv.listen(1); srv.settimeout(8)
    for round in range(2):
        c, _ = srv.accept(); c.settimeout(3)
        hello = c.recv(64)
        assert hello[:2] == b"\x04\x00", hello.hex()  # OpenFlow 1.3 HELLO
        c.close()  # the switch goes away; the shim must come back
    assert p.poll() is None, "the shim exited"
finally:
    p.terminate(); p.wait(5); log.close()
out = open(os.path.join(tmp, "reconnect.out")).read()
assert "retrying with backoff" in out and out.count("switch connection closed") >= 1, out
PY

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
