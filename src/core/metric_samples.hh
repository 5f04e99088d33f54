// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// What a metrics scrape reports, independent of the exporter library: the
// app fills these from the data path's counters at scrape time, src/ctl
// turns them into Prometheus families. Names follow Prometheus conventions
// (nsgate_ prefix, _total counters, base units, bounded label values).

#include <string>
#include <utility>
#include <vector>

namespace nsgate {

struct MetricSample {
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

struct MetricFamilyData {
  std::string name, help;
  bool counter = true;  // false: gauge
  std::vector<MetricSample> samples;
};

}  // namespace nsgate
