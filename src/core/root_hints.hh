// SPDX-License-Identifier: BSD-3-Clause
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/ip_address.hh"

namespace nsgate {

struct RootHint {
  std::string name;  // e.g. "a.root-servers.net."
  IpAddress address;
};

// The IANA root hints (named.root), IPv4 and IPv6 of a. to m.root-servers.net.
std::vector<RootHint> builtin_root_hints();

struct RootHintsError {
  int line = 0;
  std::string message;
};

// Parses a root hints file in master-file form ("A.ROOT-SERVERS.NET. 3600000
// A 198.41.0.4"; ';' comments; NS lines ignored). Every bad line is reported.
std::vector<RootHint> parse_root_hints(std::string_view text, std::vector<RootHintsError>& errors);

}  // namespace nsgate
