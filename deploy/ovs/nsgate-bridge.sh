#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Puts an Open vSwitch bridge under nsgate ofshim. Run once, as root:
#   deploy/ovs/nsgate-bridge.sh BRIDGE INSIDE_IF OUTSIDE_IF [CONTROLLER]
# CONTROLLER defaults to tcp:127.0.0.1:6653 (openflow.listen).
#
# fail_mode=secure is required: without a controller the bridge keeps the
# flows nsgate installed and forwards nothing unjudged (standalone mode
# would turn into a plain learning switch and let every query out).
# Never remove the controller with del-controller while nsgate's flows
# should stay: OVS flushes a bridge's flows when its last controller is
# removed. Stopping nsgate ofshim is safe; the flows stay and keep judging.
set -eu
[ $# -ge 3 ] || { echo "usage: $0 BRIDGE INSIDE_IF OUTSIDE_IF [CONTROLLER]" >&2; exit 2; }
br=$1 inside=$2 outside=$3 controller=${4:-tcp:127.0.0.1:6653}
# An existing bridge whose port 1 is another interface's: refused before
# anything changes (the bridge may be carrying traffic).
if ovs-vsctl br-exists "$br"; then
  for i in $(ovs-vsctl list-ifaces "$br"); do
    if [ "$i" != "$inside" ] && [ "$(ovs-vsctl get interface "$i" ofport)" = 1 ]; then
      echo "$0: port 1 of $br is $i's; nsgate's inside must be port 1: move $i, or set" \
        "openflow.inside_port to $inside's number and set the bridge up by hand; nothing changed" >&2
      exit 1
    fi
  done
fi
ovs-vsctl --may-exist add-br "$br" \
  -- set bridge "$br" fail_mode=secure protocols=OpenFlow13
# The inside port gets OpenFlow port 1 (openflow.inside_port: 1).
ovs-vsctl --may-exist add-port "$br" "$inside" -- set interface "$inside" ofport_request=1
ovs-vsctl --may-exist add-port "$br" "$outside" -- set interface "$outside" ofport_request=2
# OVS gives another number, silently, when 1 is taken (a bridge that had
# ports): nsgate would then judge queries on a port they never come in on,
# and let them all out. Checked before nsgate takes the bridge.
in_port=$(ovs-vsctl get interface "$inside" ofport)
out_port=$(ovs-vsctl get interface "$outside" ofport)
if [ "$in_port" != 1 ]; then
  echo "$0: $inside got OpenFlow port $in_port, not 1 (taken on $br): free port 1 and run this" \
    "again, or set openflow.inside_port: $in_port and then the controller by hand" \
    "(ovs-vsctl set-controller $br $controller); no controller set" >&2
  exit 1
fi
ovs-vsctl set-controller "$br" "$controller"
# OVS itself probes the controller; nsgate answers echoes.
ovs-vsctl set controller "$br" inactivity_probe=5000
echo "bridge $br: inside $inside (port 1), outside $outside (port $out_port), controller $controller, fail_mode=secure"
