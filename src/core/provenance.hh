// SPDX-License-Identifier: BSD-3-Clause
#pragma once

#include <cstdint>
#include <string>

#include "core/allow_table.hh"
#include "core/dns_name.hh"
#include "core/ip_address.hh"
#include "core/time.hh"

namespace nsgate {

// Why an address is allowed for one zone: the paper's Table I columns plus
// the family and the server that taught it. Names are kept in presentation
// form (compact; the learner re-parses the few it compares).
struct Provenance {
  IpAddress address;
  EntryKind kind = EntryKind::learned;
  std::string zone;        // "com." ; "." for root anchors
  std::string ns;          // NS target name that this address serves as
  uint32_t ns_ttl = 0;
  uint32_t addr_ttl = 0;
  TimeNs expires = 0;      // on the learner's clock; INT64_MAX for anchors
  TimeNs query_time = 0;
  uint16_t query_id = 0;
  std::string query_name;
  TimeNs response_time = 0;
  IpAddress server;        // who taught it (unset for anchors and static)
  std::string note;        // operator's note for static entries
};

inline constexpr TimeNs kNeverExpires = INT64_MAX;

}  // namespace nsgate
