// SPDX-License-Identifier: BSD-3-Clause
#include "targets.hh"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nsgate::fuzz::openflow_target(data, size);
  return 0;
}
