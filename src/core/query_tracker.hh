// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// Rule 1's memory: the queries seen, each until its response takes it or
// the match window ends.
//
// Why a part of its own: it depends only on the messages (never on what
// was learned), so `nsgate learn` keeps it on the reading thread while the
// learner's own thread applies earlier responses (a tenth of that thread's
// work was this map, tools/bench/learn).
//
// Contract: single-threaded; the owner decides which thread.

#include <cstdint>
#include <optional>

#include "core/flat_map.hh"
#include "core/ip_address.hh"
#include "core/settings.hh"
#include "core/time.hh"

namespace nsgate {

// An outbound query reduced to what response matching needs (rule 1), so a
// forwarding worker can hand it over as 64 bytes instead of the packet.
struct QueryRecord {
  IpAddress client, server;
  uint16_t client_port = 0, server_port = 0, id = 0, qtype = 0;
  uint64_t qname_hash = 0;  // Learner::name_hash of the question name
  TimeNs time = 0;
};
static_assert(sizeof(QueryRecord) % 4 == 0, "ring elements are multiples of 4 bytes");

class QueryTracker {
 public:
  explicit QueryTracker(const LearningSettings& s) : settings_(s) {}

  // Only the match window and max_tracked_queries matter here.
  void set_settings(const LearningSettings& s) { settings_ = s; }
  // See Learner::bound_query_sweep.
  void bound_sweep(size_t buckets) { sweep_budget_ = buckets; }
  void grow_in_steps() { queries_.grow_in_steps(); }
  void reserve() { queries_.reserve(settings_.max_tracked_queries); }

  // Moves the tracker's clock (the latest time seen) forward.
  void advance(TimeNs t) { now_ = t > now_ ? t : now_; }
  // Remembers a query. When the map is full, queries past the window are
  // swept (at most every 100 ms); if it is still full, one tracked query
  // makes room (counted; see evict_one), or, rarely, the new one is not
  // tracked (counted the same). True when it swept: the owner
  // then does the rest of its housekeeping that is due (Learner::on_query).
  bool add(const QueryRecord& q);
  // The time of the query a response answers, if it was seen no longer than
  // the match window before `response.time`; the query is used up. The
  // response's record has its server as `server` and its client as `client`.
  std::optional<TimeNs> take(const QueryRecord& response);
  // Forgets queries older than the window: a full pass every half window (or
  // sooner when full), in slices of the bounded budget.
  void sweep(TimeNs now);

  size_t size() const { return queries_.size(); }
  uint64_t seen() const { return seen_; }
  uint64_t evicted() const { return evicted_; }
  uint64_t not_client() const { return not_client_; }  // from outside LearningSettings::clients

 private:
  struct Key {
    IpAddress client, server;
    uint16_t client_port, server_port, id, qtype;
    // Keyed hash of the lower-cased question name: no allocation per query,
    // and the per-process key keeps collisions from being precomputed.
    uint64_t qname_hash;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const noexcept;
  };
  static Key key_of(const QueryRecord& q) {
    return Key{q.client, q.server, q.client_port, q.server_port, q.id, q.qtype, q.qname_hash};
  }
  TimeNs window() const;
  // Forgets one tracked query to make room for another; false when none
  // was met within kEvictWalk buckets of the cursor.
  bool evict_one();
  static constexpr size_t kEvictWalk = 512;

  LearningSettings settings_;
  FlatMap<Key, TimeNs, KeyHash> queries_;
  TimeNs now_ = 0;
  TimeNs last_sweep_ = 0;
  size_t sweep_budget_ = SIZE_MAX;
  size_t sweep_cursor_ = 0;
  bool sweep_running_ = false;
  size_t evict_cursor_ = 0;
  uint64_t seen_ = 0, evicted_ = 0, not_client_ = 0;
};

}  // namespace nsgate
