#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Configures (once) and builds nsgate in ./build (release, warnings on).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ]; then
  meson setup build --buildtype=release
fi
# The public test captures, when not in ../shared beside the tree.
if [ -n "${NSGATE_SHARED_DIR:-}" ]; then
  meson configure build -Dshared_dir="$(cd "$NSGATE_SHARED_DIR" && pwd)" >/dev/null
fi
ninja -C build
