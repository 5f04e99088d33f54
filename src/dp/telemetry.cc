// SPDX-License-Identifier: BSD-3-Clause
#include "dp/telemetry.hh"

#include <rte_telemetry.h>

#include <algorithm>
#include <map>
#include <mutex>

namespace nsgate::dp {

namespace {
std::mutex g_mu;
std::map<std::string, TelemetryHandler>& handlers() {
  static std::map<std::string, TelemetryHandler> h;
  return h;
}

int dispatch(const char* cmd, const char* params, rte_tel_data* d) {
  TelemetryHandler h;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    auto it = handlers().find(cmd);
    if (it == handlers().end()) return -1;
    h = it->second;
  }
  TelemetryReply r = h(params ? params : "");
  rte_tel_data_start_dict(d);
  for (const auto& [k, v] : r.strings) {
    if (v.size() < RTE_TEL_MAX_STRING_LEN) {
      rte_tel_data_add_dict_string(d, k.c_str(), v.c_str());
      continue;
    }
    // DPDK would cut it (and say so only in a return value): an array of
    // pieces instead, which read in order are the whole string.
    rte_tel_data* pieces = rte_tel_data_alloc();
    if (!pieces) continue;
    rte_tel_data_start_array(pieces, RTE_TEL_STRING_VAL);
    for (size_t at = 0; at < v.size();) {
      size_t end = std::min(v.size(), at + RTE_TEL_MAX_STRING_LEN - 1);
      // Not inside a UTF-8 character (a static's note may hold any).
      while (end < v.size() && end > at + 1 && (static_cast<unsigned char>(v[end]) & 0xc0) == 0x80) --end;
      rte_tel_data_add_array_string(pieces, v.substr(at, end - at).c_str());
      at = end;
    }
    rte_tel_data_add_dict_container(d, k.c_str(), pieces, 0);
  }
  for (const auto& [k, v] : r.numbers) rte_tel_data_add_dict_u64(d, k.c_str(), v);
  for (const auto& [k, items] : r.lists) {
    rte_tel_data* arr = rte_tel_data_alloc();
    if (!arr) continue;
    rte_tel_data_start_array(arr, RTE_TEL_STRING_VAL);
    for (const std::string& s : items) rte_tel_data_add_array_string(arr, s.c_str());
    rte_tel_data_add_dict_container(d, k.c_str(), arr, 0);
  }
  return 0;
}
}  // namespace

void clear_telemetry() {
  std::lock_guard<std::mutex> lock(g_mu);
  handlers().clear();
}

bool register_telemetry(const std::string& cmd, const std::string& help, TelemetryHandler handler) {
  {
    std::lock_guard<std::mutex> lock(g_mu);
    handlers()[cmd] = std::move(handler);
  }
  return rte_telemetry_register_cmd(cmd.c_str(), dispatch, help.c_str()) == 0;
}

}  // namespace nsgate::dp
