// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// The configuration model: plain structs that only src/ctl fills from YAML,
// and a pure validator that reports every problem with its path.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/settings.hh"

namespace nsgate {

enum class Mode : uint8_t { enforce, monitor };

struct TrustedSource {
  Prefix prefix;
  std::string note;
};

struct Config {
  Mode mode = Mode::enforce;
  std::vector<uint16_t> dns_ports{53};
  // Packets nsgate cannot decode are forwarded unless this is set.
  bool drop_undecodable = false;
  std::vector<TrustedSource> trusted_sources;
  std::vector<StaticAllow> static_allow;
  std::string root_hints;  // empty: the built-in IANA hints
  LearningSettings learning;
  std::string snapshot_path;
  double snapshot_interval_s = 300;

  // Where each setting came from: path ("static_allow[3].cidr") -> line.
  std::map<std::string, int> lines;
  int line_of(const std::string& path) const;
};

struct ConfigError {
  std::string path;
  int line = 0;  // 0 when unknown
  std::string message;
  std::string to_string() const;
};

// Cross-field and range checks on a filled Config. Every problem is reported.
std::vector<ConfigError> validate(const Config& c);

// The closest of `candidates` to `word` (edit distance ≤ 3), or "".
std::string closest(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace nsgate
