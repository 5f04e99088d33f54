// SPDX-License-Identifier: BSD-3-Clause
#include "core/query_tracker.hh"

#include "core/mix.hh"

namespace nsgate {


size_t QueryTracker::KeyHash::operator()(const Key& k) const noexcept {
  uint64_t h = k.qname_hash;
  h = mix64(h ^ IpAddressHash{}(k.client));
  h = mix64(h ^ IpAddressHash{}(k.server));
  h = mix64(h ^ (uint64_t{k.client_port} << 48 | uint64_t{k.server_port} << 32 | uint64_t{k.id} << 16 | k.qtype));
  return static_cast<size_t>(h);
}

TimeNs QueryTracker::window() const {
  return seconds_to_ns(settings_.query_match_window_s);
}

bool QueryTracker::add(const QueryRecord& q) {
  ++seen_;
  advance(q.time);
  if (!settings_.clients.empty() && !in_any(settings_.clients, q.client)) {
    ++not_client_;
    return false;
  }
  bool swept = false;
  if (queries_.size() >= settings_.max_tracked_queries && !queries_.find(key_of(q))) {
    // A sweep walks the whole map: a flood of unanswered queries must not
    // make every insert do it.
    if (now_ - last_sweep_ >= kNsPerSec / 10) {
      sweep(now_);
      swept = true;
    }
    if (queries_.size() >= settings_.max_tracked_queries) {
      ++evicted_;                   // an earlier query goes, or else this one
      if (!evict_one()) return swept;
    }
  }
  *queries_.try_emplace(key_of(q)).first = q.time;
  return swept;
}

bool QueryTracker::evict_one() {
  // The next query a rotating cursor comes to: of no particular age, so
  // under a flood of F queries a second every query is kept about
  // max_tracked_queries / F seconds (a million against 200 000 a second:
  // 5 s, where a response takes milliseconds). Refusing new queries instead
  // left every query after the map filled untracked until the flood's own
  // aged out of the window: most of the resolvers' answers taught nothing.
  // The walk is bounded: a full map is at least a third full (reserved
  // for max_tracked_queries at start, which only a restart changes), so
  // an entry is a few buckets away; if none is, the new query goes.
  bool done = false;
  for (size_t walked = 0; !done && walked < kEvictWalk; walked += 8)
    queries_.erase_if_slice(evict_cursor_, 8, [&](const Key&, TimeNs) { return !done && (done = true); });
  return done;
}

std::optional<TimeNs> QueryTracker::take(const QueryRecord& response) {
  Key key = key_of(response);
  const TimeNs* asked = queries_.find(key);
  if (!asked || *asked > response.time || response.time - *asked > window()) return std::nullopt;
  TimeNs t = *asked;
  queries_.erase(key);
  return t;
}

void QueryTracker::sweep(TimeNs now) {
  advance(now);
  TimeNs w = window();
  if (!sweep_running_ && (now_ - last_sweep_ >= w / 2 ||
                          (queries_.size() >= settings_.max_tracked_queries && now_ - last_sweep_ >= kNsPerSec / 10))) {
    sweep_running_ = true;
    sweep_cursor_ = 0;
    last_sweep_ = now_;
  }
  if (sweep_running_) {
    // Unbounded (the default), one slice is the whole map: the pass ends here.
    sweep_running_ = !queries_.erase_if_slice(sweep_cursor_, sweep_budget_,
                                              [&](const Key&, TimeNs asked) { return now_ - asked > w; });
  }
}

}  // namespace nsgate
