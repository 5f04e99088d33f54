// SPDX-License-Identifier: BSD-3-Clause
#pragma once

#include <atomic>
#include <vector>

#include "app/drop_log.hh"
#include "core/metric_samples.hh"
#include "dp/dataplane.hh"

namespace nsgate::app {


// Everything a scrape reports, summed from the per-worker counters at the
// time of the call. Thread-safe (called from the exporter's threads).
std::vector<MetricFamilyData> run_metrics(const dp::Dataplane& d, const ControlStats& c, size_t capacity);

}  // namespace nsgate::app
