// SPDX-License-Identifier: BSD-3-Clause
#pragma once

#include <string>
#include <vector>

namespace nsgate::dp {

// Initialises the DPDK EAL once per process. `args` are EAL arguments
// without the program name. Returns false with a message on failure.
bool init_eal(const std::vector<std::string>& args, std::string& error);

// EAL arguments for tools that only need DPDK's libraries, not devices:
// no hugepages, no PCI, in-memory, quiet, with a per-process file prefix.
std::vector<std::string> offline_eal_args(size_t memory_mb = 512);

}  // namespace nsgate::dp
