// SPDX-License-Identifier: BSD-3-Clause
#include "core/root_hints.hh"

#include <algorithm>
#include <cctype>

#include "core/dns_name.hh"

namespace nsgate {

std::vector<RootHint> builtin_root_hints() {
  // From named.root as published by IANA (B changed address in 2023).
  static const char* const kHints[][3] = {
      {"a", "198.41.0.4", "2001:503:ba3e::2:30"},   {"b", "170.247.170.2", "2801:1b8:10::b"},
      {"c", "192.33.4.12", "2001:500:2::c"},        {"d", "199.7.91.13", "2001:500:2d::d"},
      {"e", "192.203.230.10", "2001:500:a8::e"},    {"f", "192.5.5.241", "2001:500:2f::f"},
      {"g", "192.112.36.4", "2001:500:12::d0d"},    {"h", "198.97.190.53", "2001:500:1::53"},
      {"i", "192.36.148.17", "2001:7fe::53"},       {"j", "192.58.128.30", "2001:503:c27::2:30"},
      {"k", "193.0.14.129", "2001:7fd::1"},         {"l", "199.7.83.42", "2001:500:9f::42"},
      {"m", "202.12.27.33", "2001:dc3::35"},
  };
  std::vector<RootHint> out;
  for (const auto& h : kHints) {
    std::string name = std::string(h[0]) + ".root-servers.net.";
    out.push_back({name, *IpAddress::parse(h[1])});
    out.push_back({name, *IpAddress::parse(h[2])});
  }
  return out;
}

std::vector<RootHint> parse_root_hints(std::string_view text, std::vector<RootHintsError>& errors) {
  std::vector<RootHint> out;
  int line_no = 0;
  while (!text.empty()) {
    ++line_no;
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (auto c = line.find(';'); c != std::string_view::npos) line = line.substr(0, c);
    std::vector<std::string> tok;
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
      size_t j = i;
      while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j]))) ++j;
      if (j > i) tok.emplace_back(line.substr(i, j - i));
      i = j;
    }
    if (tok.empty()) continue;
    // NAME [TTL] [CLASS] TYPE RDATA
    std::string type, rdata;
    for (size_t k = 1; k < tok.size(); ++k) {
      std::string up = tok[k];
      std::transform(up.begin(), up.end(), up.begin(), [](unsigned char c) { return std::toupper(c); });
      if (up == "A" || up == "AAAA" || up == "NS") {
        type = up;
        if (k + 1 < tok.size()) rdata = tok[k + 1];
        break;
      }
    }
    if (type.empty() || rdata.empty()) {
      errors.push_back({line_no, "expected 'NAME [TTL] [IN] A|AAAA|NS DATA'"});
      continue;
    }
    if (type == "NS") continue;
    DnsName name;
    if (!DnsName::from_text(tok[0], name)) {
      errors.push_back({line_no, "'" + tok[0] + "' is not a domain name"});
      continue;
    }
    auto addr = IpAddress::parse(rdata);
    if (!addr || (type == "A") != addr->is_v4()) {
      errors.push_back({line_no, "'" + rdata + "' is not an " + type + " address"});
      continue;
    }
    out.push_back({name.to_string(), *addr});
  }
  if (out.empty() && errors.empty()) errors.push_back({0, "no A or AAAA records found"});
  return out;
}

}  // namespace nsgate
