// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// Operator commands over DPDK telemetry (dpdk-telemetry.py, or any client
// of the telemetry socket). Handlers run on DPDK's telemetry thread: they
// must be thread-safe and quick.

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace nsgate::dp {

struct TelemetryReply {
  std::vector<std::pair<std::string, std::string>> strings;
  std::vector<std::pair<std::string, uint64_t>> numbers;
  std::vector<std::pair<std::string, std::vector<std::string>>> lists;
};
using TelemetryHandler = std::function<TelemetryReply(const std::string& params)>;

// `cmd` must start with '/', e.g. "/nsgate/stats". False if DPDK refused it.
bool register_telemetry(const std::string& cmd, const std::string& help, TelemetryHandler handler);
// Forgets every handler (the objects they use are going away); commands
// then answer with an error until registered again.
void clear_telemetry();

}  // namespace nsgate::dp
