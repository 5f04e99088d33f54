#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Installs every build and test dependency of nsgate from Debian 12 packages.
# Idempotent: safe to run again; only missing packages are installed.
# Must run as root (apt-get). Needs nothing but Debian's package archive.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "tools/setup.sh: run as root (it installs Debian packages)" >&2
  exit 1
fi

packages=(
  # build
  build-essential meson ninja-build pkg-config python3
  # dataplane and I/O
  libdpdk-dev dpdk dpdk-dev libpcap-dev libnuma-dev
  # configuration and metrics
  libyaml-cpp-dev prometheus-cpp-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev tshark
  clang libclang-rt-14-dev llvm
  # live tests: namespaces, real DNS software, metrics server, OVS
  iproute2 ethtool iputils-ping dnsutils unbound nsd prometheus openvswitch-switch procps psmisc curl bc
  # deploy checks (systemd-analyze verify, logrotate --debug)
  systemd logrotate
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer once, non-interactively.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts these daemons on install; tests start their own instances.
# Only those installed just now: one this box already ran (a site resolver,
# its Prometheus, the Open vSwitch nsgate ofshim programs) stays as it was.
for svc in unbound nsd prometheus openvswitch-switch; do
  for p in "${missing[@]}"; do
    [ "$p" = "$svc" ] && { systemctl disable --now "$svc" >/dev/null 2>&1 || true; }
  done
done
echo "setup: done"
