// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// The most blocked sources (likely infected hosts) and destinations (likely
// C&C servers) over a recent window, for the operator's telemetry. Counts
// live in time buckets; a bucket older than the window is forgotten whole.
// Bounded: each bucket remembers at most `max_keys` addresses per side.
// Not thread-safe: the caller serialises (the control thread owns it).

#include <unordered_map>
#include <utility>
#include <vector>

#include "core/ip_address.hh"
#include "core/time.hh"

namespace nsgate {

class TopTalkers {
 public:
  explicit TopTalkers(TimeNs window = 300 * kNsPerSec, size_t buckets = 5, size_t max_keys = 10000);
  void add(const IpAddress& src, const IpAddress& dst, TimeNs now);
  using Ranking = std::vector<std::pair<IpAddress, uint64_t>>;
  Ranking top_sources(size_t n, TimeNs now) const;
  Ranking top_destinations(size_t n, TimeNs now) const;

 private:
  struct Bucket {
    TimeNs start = -1;
    std::unordered_map<IpAddress, uint64_t, IpAddressHash> src, dst;
  };
  Bucket& bucket_for(TimeNs now);
  Ranking top(bool sources, size_t n, TimeNs now) const;

  TimeNs width_;
  size_t max_keys_;
  std::vector<Bucket> buckets_;
};

}  // namespace nsgate
