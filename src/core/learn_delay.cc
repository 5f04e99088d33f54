// SPDX-License-Identifier: BSD-3-Clause
#include "core/learn_delay.hh"

#include <algorithm>
#include <cmath>

namespace nsgate {

void LearnDelay::record(TimeNs d) {
  ++count;
  total += d;
  max = std::max(max, d);
  size_t b = 0;
  while (b + 1 < log2_us.size() && bound(b) <= d) ++b;
  ++log2_us[b];
}

TimeNs LearnDelay::percentile(double p) const {
  if (count == 0) return 0;
  // The rank of the delay that a fraction p of them are at most (1-based).
  auto rank = static_cast<uint64_t>(std::ceil(p * static_cast<double>(count)));
  rank = std::clamp<uint64_t>(rank, 1, count);
  uint64_t seen = 0;
  for (size_t b = 0; b < log2_us.size(); ++b) {
    seen += log2_us[b];
    // The last bucket has no upper bound of its own; a bound above the
    // longest delay says less than the longest delay itself.
    if (seen >= rank) return b + 1 == log2_us.size() ? max : std::min(bound(b), max);
  }
  return max;
}

}  // namespace nsgate
