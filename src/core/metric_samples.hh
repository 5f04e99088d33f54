// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// What a metrics scrape reports, independent of the exporter library: the
// app fills these from the data path's counters at scrape time, src/ctl
// turns them into Prometheus families. Names follow Prometheus conventions
// (nsgate_ prefix, _total counters, base units, bounded label values).

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace nsgate {

struct MetricSample {
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

// A histogram with one series: cumulative counts by upper bound (ascending;
// the last bound is +infinity), their sum and count.
struct MetricHistogram {
  std::vector<std::pair<double, uint64_t>> buckets;
  double sum = 0;
  uint64_t count = 0;
};

struct MetricFamilyData {
  std::string name, help;
  bool counter = true;  // false: gauge (unless histogram is set)
  std::vector<MetricSample> samples;
  std::optional<MetricHistogram> histogram;  // set: a histogram, samples unused
};

}  // namespace nsgate
