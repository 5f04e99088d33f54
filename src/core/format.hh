// SPDX-License-Identifier: BSD-3-Clause
#pragma once

#include <string>
#include <string_view>

#include "core/time.hh"

namespace nsgate {

// RFC 3339 UTC with microseconds: "2010-02-01T12:00:00.123456Z".
std::string format_time(TimeNs t);
void append_time(std::string& out, TimeNs t);
// A JSON string literal, quotes included; control and non-ASCII bytes escaped.
std::string json_string(std::string_view s);
void append_json_string(std::string& out, std::string_view s);

}  // namespace nsgate
