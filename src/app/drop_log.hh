// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// The drop log shared by `nsgate run` and `nsgate ofshim`: one EVE-shaped
// JSON line per blocked (or alerted) query, rate-limited per source, and
// the most blocked sources/destinations for the operator's commands.
// Written by the control thread only; top() may be called from any thread.

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/config.hh"
#include "core/query_event.hh"
#include "core/top_talkers.hh"

namespace nsgate::app {

// Counters the control thread keeps (drop log, snapshots).
struct ControlStats {
  // drop_log_suppressed: events that got no line of their own, counted when
  // a line reports them (its "suppressed"), so the sum over the log's lines.
  std::atomic<uint64_t> drop_log_written{0}, drop_log_suppressed{0};
  std::atomic<uint64_t> drop_log_write_errors{0};  // lines lost (a full disk): the log is not what it counts
  std::atomic<uint64_t> new_blocked_sources{0};  // inside hosts blocked or alerted for the first time
  std::atomic<uint64_t> snapshots_written{0}, snapshot_failures{0};  // ofshim's own; run counts written in the data plane
  std::atomic<uint64_t> reloads_ok{0}, reloads_failed{0};
  std::atomic<int64_t> snapshot_last_success_unix{0};
  std::atomic<double> snapshot_interval_s{0};  // as configured now (alerts compare the age with it)
};

class DropLog {
 public:
  // Opens drop_log.path for appending ("-" = stdout; empty = no file).
  // Throws Fatal when the file cannot be opened.
  DropLog(const DropLogConfig& c, ControlStats& stats);
  ~DropLog();
  DropLog(const DropLog&) = delete;
  DropLog& operator=(const DropLog&) = delete;
  // A reload: the sources' buckets, suppressed counts and held events carry over.
  void set_limits(const DropLogConfig& c, TimeNs now) { throttle_.set_limits(c.rate, c.burst, now); }
  // On SIGUSR1 and on a reload: opens the file's path anew, so that a log
  // rotated by renaming (logrotate's default) is written afresh under its
  // name. When that fails the old file stays in use and `error` says why.
  bool reopen(std::string& error);
  // The most blocked sources and destinations, "ADDRESS COUNT".
  std::pair<std::vector<std::string>, std::vector<std::string>> top(size_t n, TimeNs now);
  // Passes are ignored; drops and alerts are counted and written if the
  // source's rate allows, else held back (EventThrottle).
  void write(const QueryEvent& ev);
  // Writes the held-back events whose clients' rate allows them by `now`
  // (wall clock, as the events' times); the control loop calls it often.
  void tick(TimeNs now);
  // Writes every held-back event; the destructor does it too.
  void finish();

 private:
  void line(const QueryEvent& ev, uint64_t suppressed);

  std::string path_;  // a file's; empty for stdout or none
  FILE* out_ = nullptr;
  EventThrottle throttle_;
  EventThrottle::Write line_;
  ControlStats& stats_;
  std::mutex top_mu_;
  TopTalkers top_;
};

}  // namespace nsgate::app
