// SPDX-License-Identifier: BSD-3-Clause
#pragma once

#include <atomic>
#include <vector>

#include "core/metric_samples.hh"
#include "dp/dataplane.hh"

namespace nsgate::app {

// Counters the control thread keeps (drop log, snapshots).
struct ControlStats {
  std::atomic<uint64_t> drop_log_written{0}, drop_log_suppressed{0};
  std::atomic<uint64_t> new_blocked_sources{0};  // inside hosts blocked or alerted for the first time
  std::atomic<uint64_t> snapshot_failures{0};
  std::atomic<uint64_t> reloads_ok{0}, reloads_failed{0};
  std::atomic<int64_t> snapshot_last_success_unix{0};
};

// Everything a scrape reports, summed from the per-worker counters at the
// time of the call. Thread-safe (called from the exporter's threads).
std::vector<MetricFamilyData> run_metrics(const dp::Dataplane& d, const ControlStats& c, size_t capacity);

}  // namespace nsgate::app
