// SPDX-License-Identifier: BSD-3-Clause
#include "core/top_talkers.hh"

#include <algorithm>

namespace nsgate {

TopTalkers::TopTalkers(TimeNs window, size_t buckets, size_t max_keys)
    : width_(std::max<TimeNs>(1, window / static_cast<TimeNs>(std::max<size_t>(1, buckets)))),
      max_keys_(max_keys),
      buckets_(std::max<size_t>(1, buckets)) {}

TopTalkers::Bucket& TopTalkers::bucket_for(TimeNs now) {
  TimeNs start = now - now % width_;
  Bucket& b = buckets_[static_cast<size_t>(start / width_) % buckets_.size()];
  if (b.start != start) {  // a bucket from a past round: reuse it
    b.start = start;
    b.src.clear();
    b.dst.clear();
  }
  return b;
}

void TopTalkers::add(const IpAddress& src, const IpAddress& dst, TimeNs now) {
  Bucket& b = bucket_for(now);
  if (b.src.size() < max_keys_ || b.src.count(src)) ++b.src[src];
  if (b.dst.size() < max_keys_ || b.dst.count(dst)) ++b.dst[dst];
}

TopTalkers::Ranking TopTalkers::top(bool sources, size_t n, TimeNs now) const {
  TimeNs oldest = now - width_ * static_cast<TimeNs>(buckets_.size());
  std::unordered_map<IpAddress, uint64_t, IpAddressHash> sum;
  for (const Bucket& b : buckets_) {
    if (b.start < 0 || b.start + width_ <= oldest || b.start > now) continue;
    for (const auto& [a, c] : sources ? b.src : b.dst) sum[a] += c;
  }
  Ranking r(sum.begin(), sum.end());
  size_t k = std::min(n, r.size());
  std::partial_sort(r.begin(), r.begin() + static_cast<std::ptrdiff_t>(k), r.end(), [](const auto& x, const auto& y) {
    return x.second != y.second ? x.second > y.second : x.first < y.first;
  });
  r.resize(k);
  return r;
}

TopTalkers::Ranking TopTalkers::top_sources(size_t n, TimeNs now) const { return top(true, n, now); }
TopTalkers::Ranking TopTalkers::top_destinations(size_t n, TimeNs now) const { return top(false, n, now); }

}  // namespace nsgate
