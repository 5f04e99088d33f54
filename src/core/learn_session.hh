// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// Offline learning: frames in capture order go through the extractor into
// the learner, with housekeeping driven by the frames' own timestamps.

#include <array>
#include <functional>
#include <memory>

#include "core/dns_extract.hh"
#include "core/learner.hh"
#include "core/snapshot.hh"

namespace nsgate {

struct LearnStats {
  std::array<uint64_t, dns::kFaultCount> parse_faults{};  // by Fault
  uint64_t parse_errors(dns::ErrorKind k) const;
};

class LearnSession {
 public:
  // Called after each response with what happened to it (only if set).
  using ExplainSink = std::function<void(const DnsMessageEvent&, const DnsContext&, const Explanation&)>;

  // Pipelined (ignored with an explain sink): feed() reads, extracts,
  // parses and matches responses with queries (Learner::track) on the
  // caller's thread while a second thread applies the parsed responses to
  // the learner, in input order and with the housekeeping at the same
  // points, so the result is the one-thread result. The learner belongs to
  // those threads until finish() returns: touch it only after.
  LearnSession(Learner& learner, std::vector<uint16_t> dns_ports, ExplainSink explain = {},
               bool pipelined = false);
  ~LearnSession();
  LearnSession(const LearnSession&) = delete;
  LearnSession& operator=(const LearnSession&) = delete;
  // `origin`: Origin::inside for frames from the inside port, whose
  // responses must never teach (DnsContext::origin).
  void feed(pkt::LinkType link, TimeNs time, std::span<const std::byte> frame, size_t wire_length = 0,
            Origin origin = Origin::unknown);
  // Applies everything fed so far, then runs housekeeping at `time` (end of
  // input). Rethrows what the applying thread threw, if anything.
  void finish(TimeNs time);

  // New DNS ports (a reload). Caller's (feeding) thread.
  void set_dns_ports(std::vector<uint16_t> ports) { extractor_.set_dns_ports(std::move(ports)); }
  const ExtractStats& extract_stats() const { return extractor_.stats(); }
  const LearnStats& stats() const { return stats_; }
  TimeNs last_time() const { return last_time_; }

 private:
  class Pipeline;
  void housekeeping(TimeNs time);

  Learner& learner_;
  std::unique_ptr<Pipeline> pipeline_;
  DnsExtractor extractor_;
  ExplainSink explain_;
  LearnStats stats_;
  TimeNs last_housekeeping_ = 0;
  TimeNs last_time_ = 0;
};

// Snapshots hold wall-clock times; a live learner runs on its own clock.
// `offset` = wall clock - learner clock (0 when the learner runs on packet
// times). Entries already expired at `wall_now` are skipped (0: the time
// is not known yet, nothing is); returns how many the learner took.
size_t restore_snapshot(Learner& learner, const std::vector<Provenance>& entries, TimeNs wall_now, TimeNs offset);
// The learner's learned entries on the wall clock, taken at `wall_now`.
snapshot::Contents snapshot_of(const Learner& learner, TimeNs wall_now, TimeNs offset);
// The same from a frozen copy (Learner::freeze), on any thread.
snapshot::Contents snapshot_of(const Learner::Frozen& frozen, TimeNs wall_now, TimeNs offset);

// Builds the context of a message from its packet: the QR bit says which
// end is the client.
DnsContext context_of(const DnsMessageEvent& ev);

}  // namespace nsgate
