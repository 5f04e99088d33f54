// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// The only place that sees yaml-cpp: reads a YAML file into the plain
// Config structs, recording each setting's line for error messages.

#include <string>
#include <vector>

#include "core/config.hh"

namespace nsgate::ctl {

struct LoadResult {
  Config config;
  std::vector<ConfigError> errors;  // syntax, type, unknown-key and validation errors
  bool ok() const { return errors.empty(); }
};

// Parses and validates. On any error `config` must not be applied. An
// empty file is every default.
LoadResult load_config_file(const std::string& path);
// The same for a reload, except that an empty file is refused: that is an
// editor caught between truncating and writing, and its defaults would drop
// every static allow and trusted source (`{}` still means every default).
LoadResult load_config_file_for_reload(const std::string& path);
LoadResult load_config_text(const std::string& text);

}  // namespace nsgate::ctl
