// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// How long a response took from the worker that received it to the table
// (after which the next query to a server it named passes): the
// learn-to-enforce delay, for responses that added or refreshed entries.
// Power-of-two microsecond buckets: recorded on the learner thread without
// allocation, exported as a Prometheus histogram.

#include <array>
#include <cstddef>
#include <cstdint>

#include "core/time.hh"

namespace nsgate {

struct LearnDelay {
  uint64_t count = 0;
  TimeNs total = 0, max = 0;
  std::array<uint64_t, 24> log2_us{};  // bucket b: delay < bound(b); the last holds all longer ones
  static TimeNs bound(size_t b) { return (TimeNs{1} << b) * 1000; }  // 2^b microseconds
  void record(TimeNs d);
  // The nearest-rank p-quantile (0 < p <= 1) rounded up to its bucket's
  // upper bound: no more than that, and no more than `max`, for at least
  // a fraction p of the delays. 0 with no delays recorded.
  TimeNs percentile(double p) const;
};

}  // namespace nsgate
