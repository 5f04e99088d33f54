// SPDX-License-Identifier: BSD-3-Clause
#include "core/format.hh"

#include <cstdio>
#include <ctime>

namespace nsgate {

void append_time(std::string& out, TimeNs t) {
  if (t == INT64_MAX) {
    out += "never";
    return;
  }
  time_t secs = static_cast<time_t>(t / kNsPerSec);
  long micros = static_cast<long>((t % kNsPerSec) / 1000);
  if (micros < 0) {
    --secs;
    micros += 1'000'000;
  }
  // History output formats hundreds of thousands of times that mostly share
  // their second: keep the last second's text (measured: snprintf was 8% of
  // `nsgate learn`). Thread-local, so callers on any thread are safe.
  thread_local time_t cached_secs = -1;
  thread_local char cached[80];  // room for any int year the compiler can imagine
  thread_local size_t cached_len = 0;
  if (secs != cached_secs) {
    struct tm tm {};
    gmtime_r(&secs, &tm);
    int n = std::snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                          tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_len = n > 0 ? static_cast<size_t>(n) : 0;
    cached_secs = secs;
  }
  out.append(cached, cached_len);
  char frac[8] = {'.', 0, 0, 0, 0, 0, 0, 'Z'};
  for (int i = 6; i >= 1; --i) {
    frac[i] = static_cast<char>('0' + micros % 10);
    micros /= 10;
  }
  out.append(frac, sizeof frac);
}

std::string format_time(TimeNs t) {
  std::string out;
  append_time(out, t);
  return out;
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          char esc[8];
          std::snprintf(esc, sizeof esc, "\\u%04x", c);
          out += esc;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

std::string json_string(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  append_json_string(out, s);
  return out;
}

}  // namespace nsgate
