#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Sets up, builds and runs every test suite: unit, dpdk, integration, then
# the fuzz targets (clang, ASan+UBSan) for a bounded time each.
#   NSGATE_FUZZ_SECONDS=60   seconds per fuzz target (0 skips fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared=${NSGATE_SHARED_DIR:-$root/../shared}
fuzz_seconds=${NSGATE_FUZZ_SECONDS:-60}

bash tools/setup.sh
bash tools/build.sh

echo "== core purity: src/core includes no DPDK, libpcap, yaml-cpp or prometheus headers"
if grep -rnE '#include *[<"](rte_|pcap|yaml-cpp|prometheus/)' src/core; then
  echo "src/core must stay pure" >&2
  exit 1
fi

echo "== meson test (unit, dpdk, integration)"
meson test -C build --print-errorlogs --num-processes 2

if [ "$fuzz_seconds" -gt 0 ]; then
  echo "== fuzz: ${fuzz_seconds}s per target"
  if [ ! -f build-fuzz/build.ninja ]; then
    CXX=clang++ meson setup build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined \
      -Db_lundef=false --buildtype=debugoptimized >/dev/null
  fi
  ninja -C build-fuzz >/dev/null
  for t in packet dns snapshot openflow; do
    seeds=build-fuzz/seeds-$t
    rm -rf "$seeds" && mkdir -p "$seeds"
    inputs="$shared/pcaps"
    [ "$t" = openflow ] && inputs=tests/data/openflow  # the codec's golden messages
    ./build/tests/fuzz/fuzz_replay_$t $t --write-seeds "$seeds" "$inputs" tests/fuzz/crashes/$t >/dev/null
    mkdir -p build-fuzz/crashes/$t
    if ! ./build-fuzz/tests/fuzz/fuzz_$t -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="build-fuzz/crashes/$t/" "$seeds" \
        >build-fuzz/fuzz-$t.log 2>&1; then
      tail -40 build-fuzz/fuzz-$t.log
      echo "fuzz_$t found a crash: see build-fuzz/crashes/$t/ (copy it to tests/fuzz/crashes/$t/ with the fix)" >&2
      exit 1
    fi
    grep -E "stat::number_of_executed_units|Done" build-fuzz/fuzz-$t.log | tail -1 | sed "s/^/fuzz_$t: /"
  done
  echo "fuzz: 4 passed, 0 failed"
fi
