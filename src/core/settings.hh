// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// Plain settings structs filled by the YAML loader (src/ctl) and checked by
// the pure validator (core/config). Defaults are what an operator gets with
// an empty file.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/ip_address.hh"

namespace nsgate {

struct LearningSettings {
  // Rule 1: a response must match a query seen at most this long before.
  double query_match_window_s = 10.0;
  // An NS target without glue waits this long for its address (the paper: 2 s).
  double ns_address_window_s = 2.0;
  uint32_t min_ttl_s = 60;
  uint32_t max_ttl_s = 172800;  // two days, the usual TLD delegation TTL
  // Added to every lifetime: resolvers may hold a delegation slightly longer.
  uint32_t grace_s = 300;
  size_t capacity = 1u << 20;
  size_t per_response_cap = 64;
  size_t per_zone_cap = 1024;
  size_t zones_per_address = 256;
  size_t max_tracked_queries = 1u << 20;
  size_t max_pending_ns = 1u << 16;
  bool allow_private = false;
  // Off only for captures that hold responses without their queries.
  bool require_query_match = true;
  // When not empty, only queries from these clients (the site's resolvers)
  // are tracked, so only responses to them teach. A bot picks its own
  // query's id, port and name: with an accomplice outside that spoofs a
  // server's answer to it, rule 1 is no obstacle for queries from anyone.
  std::vector<Prefix> clients;
};

struct StaticAllow {
  Prefix prefix;
  std::string note;
  // When set, answers from this address teach for this zone ("." = all).
  std::string zone;
};

}  // namespace nsgate
