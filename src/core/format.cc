// SPDX-License-Identifier: BSD-3-Clause
#include "core/format.hh"

#include <cstdio>

namespace nsgate {

namespace {

// Proleptic Gregorian date of a day count since 1970-01-01, by the
// era/day-of-era method (H. Hinnant, "chrono-Compatible Low-Level Date
// Algorithms"): exact, no table, no libc.
struct Date {
  int64_t year;
  unsigned month, day;
};
Date civil_from_days(int64_t z) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  auto doe = static_cast<unsigned>(z - era * 146097);                 // [0, 146096]
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
  unsigned mp = (5 * doy + 2) / 153;                                    // [0, 11], March first
  unsigned day = doy - (153 * mp + 2) / 5 + 1;
  unsigned month = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<int64_t>(yoe) + era * 400 + (month <= 2), month, day};
}

void digits(char* at, unsigned v, int n) {
  for (int i = n - 1; i >= 0; --i) {
    at[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
}

}  // namespace

void append_time(std::string& out, TimeNs t) {
  if (t == INT64_MAX) {
    out += "never";
    return;
  }
  // By hand rather than gmtime_r + snprintf: history output formats three
  // times per row, hundreds of thousands of rows (tools/bench/learn).
  int64_t secs = t / kNsPerSec;
  int64_t micros = (t % kNsPerSec) / 1000;
  if (micros < 0) {
    --secs;
    micros += 1'000'000;
  }
  int64_t days = secs / 86400, rem = secs % 86400;
  if (rem < 0) {
    --days;
    rem += 86400;
  }
  Date d = civil_from_days(days);  // 64-bit nanoseconds span 1677..2262: four-digit years
  char buf[27];  // YYYY-MM-DDTHH:MM:SS.uuuuuuZ
  digits(buf, static_cast<unsigned>(d.year), 4);
  buf[4] = '-';
  digits(buf + 5, d.month, 2);
  buf[7] = '-';
  digits(buf + 8, d.day, 2);
  buf[10] = 'T';
  digits(buf + 11, static_cast<unsigned>(rem / 3600), 2);
  buf[13] = ':';
  digits(buf + 14, static_cast<unsigned>(rem / 60 % 60), 2);
  buf[16] = ':';
  digits(buf + 17, static_cast<unsigned>(rem % 60), 2);
  buf[19] = '.';
  digits(buf + 20, static_cast<unsigned>(micros), 6);
  buf[26] = 'Z';
  out.append(buf, sizeof buf);
}

std::string format_time(TimeNs t) {
  std::string out;
  append_time(out, t);
  return out;
}

namespace {

// The length of the well-formed UTF-8 character at s[i] (2 to 4 bytes:
// no overlong form, no surrogate, nothing past U+10FFFF), or 0.
size_t utf8_length(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u; };
  auto cont = [&](size_t k) { return (b(k) & 0xc0u) == 0x80u; };
  unsigned c = b(0);
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
    return b(1) >= lo && b(1) <= hi && cont(2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
    return b(1) >= lo && b(1) <= hi && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  // Runs that need no escape are appended whole: names rarely hold any, and
  // a character at a time was a third of printing the history (perf,
  // tools/bench/learn). Well-formed UTF-8 (a static's note) goes as it is;
  // any other byte above 0x7e as \u00XX, which keeps every byte and the
  // line valid JSON.
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') continue;
    if (c >= 0x80) {
      if (size_t n = utf8_length(s, i)) {
        i += n - 1;
        continue;
      }
    }
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default: {
        char esc[8];
        std::snprintf(esc, sizeof esc, "\\u%04x", c);
        out += esc;
      }
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

std::string json_string(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  append_json_string(out, s);
  return out;
}

}  // namespace nsgate
