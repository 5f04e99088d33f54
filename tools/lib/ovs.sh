# SPDX-License-Identifier: BSD-3-Clause
# Open vSwitch for tests, benches and the lab: ovsdb-server and ovs-vswitchd
# with the userspace datapath only (no kernel module), every file in one
# directory of the caller's, so several instances and a system OVS never
# meet. Source this file; it sets OVS_RUNDIR/OVS_LOGDIR/OVS_DBDIR, which
# ovs-vsctl and ovs-ofctl then use.

# ovs_start DIR: starts both daemons with their files in DIR.
ovs_start() {
  export OVS_RUNDIR="$1" OVS_LOGDIR="$1" OVS_DBDIR="$1"
  mkdir -p "$1" /var/run/openvswitch
  ovsdb-tool create "$1/conf.db" /usr/share/openvswitch/vswitch.ovsschema || return 1
  ovsdb-server "$1/conf.db" --remote="punix:$1/db.sock" --pidfile="$1/ovsdb-server.pid" \
    --detach --log-file="$1/ovsdb-server.log" 2>/dev/null || return 1
  ovs-vsctl --no-wait init || return 1
  ovs-vswitchd --disable-system --pidfile="$1/ovs-vswitchd.pid" --detach \
    --log-file="$1/ovs-vswitchd.log" "unix:$1/db.sock" 2>/dev/null || return 1
}

# ovs_bridge NAME: a userspace bridge that keeps its flows and forwards
# nothing unjudged when the controller is away, speaking OpenFlow 1.3.
ovs_bridge() {
  ovs-vsctl add-br "$1" -- set bridge "$1" datapath_type=netdev fail_mode=secure protocols=OpenFlow13
}

# ovs_stop: stops the daemons started by ovs_start (safe to call twice).
ovs_stop() {
  [ -n "${OVS_RUNDIR:-}" ] || return 0
  local p b
  # Bridges first: their internal ports are kernel tap devices.
  for b in $(ovs-vsctl --timeout=5 list-br 2>/dev/null); do ovs-vsctl --timeout=5 del-br "$b" 2>/dev/null; done
  for p in "$OVS_RUNDIR/ovs-vswitchd.pid" "$OVS_RUNDIR/ovsdb-server.pid"; do
    [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null
  done
  for _ in $(seq 50); do
    pgrep -f -- "--pidfile=$OVS_RUNDIR/" >/dev/null || break
    sleep 0.1
  done
  pkill -KILL -f -- "--pidfile=$OVS_RUNDIR/" 2>/dev/null
  # The userspace datapath's own tap outlives the daemon; remove it unless
  # another ovs-vswitchd still uses it.
  pgrep -x ovs-vswitchd >/dev/null || ip link del ovs-netdev 2>/dev/null
  return 0
}
