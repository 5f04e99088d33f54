// SPDX-License-Identifier: BSD-3-Clause
#pragma once

#include <cmath>
#include <cstdint>

namespace nsgate {

// Nanoseconds on the clock in use: packet timestamps (Unix epoch) offline, a
// monotonic clock live. The learner never mixes the two.
using TimeNs = int64_t;
inline constexpr TimeNs kNsPerSec = 1'000'000'000;

// A duration from the configuration (seconds, fractions allowed).
inline TimeNs seconds_to_ns(double s) { return static_cast<TimeNs>(std::llround(s * 1e9)); }

// Whole seconds for the table, rounded up so that an entry never expires early.
inline uint32_t table_seconds(TimeNs t) {
  if (t <= 0) return 0;
  int64_t s = (t + kNsPerSec - 1) / kNsPerSec;
  return s >= int64_t{UINT32_MAX} ? UINT32_MAX - 1 : static_cast<uint32_t>(s);
}
// The table's "now" (rounded down: an entry counts as live until its second).
inline uint32_t now_seconds(TimeNs t) {
  if (t <= 0) return 0;
  int64_t s = t / kNsPerSec;
  return s >= int64_t{UINT32_MAX} ? UINT32_MAX - 1 : static_cast<uint32_t>(s);
}

}  // namespace nsgate
