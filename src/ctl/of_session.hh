// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// The OpenFlow controller side of nsgate ofshim: one switch connection's
// protocol state, the learner fed from packet-ins, and the flows that keep
// the switch's allow list equal to the learner's table.
//
// No sockets here: the caller feeds whole messages in and sends what the
// session appends to its output buffer (src/ctl/of_socket does the I/O), so
// tests can play the switch. Single-threaded: every call from one thread;
// stats() may be read from any thread.
//
// Connection life: HELLO (1.3 only) -> FEATURES -> SET_CONFIG, SET_ASYNC,
// meters -> flow-stats dump of nsgate's cookie -> everything re-added under
// a new generation -> BARRIER -> older generations deleted -> BARRIER ->
// ready. While ready: learned changes are pushed in batches, each followed
// by a barrier; an address counts as installed when its barrier returns.

#include <atomic>
#include <array>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/allow_table.hh"
#include "core/learn_session.hh"
#include "core/learner.hh"
#include "core/of_flows.hh"
#include "core/openflow.hh"
#include "core/query_event.hh"

namespace nsgate::ctl {

// The learner's table, wrapped so the session sees every change.
class RecordingTable final : public AllowTable {
 public:
  explicit RecordingTable(size_t capacity) : inner_(capacity) {}
  std::optional<TableValue> lookup(const IpAddress& a, uint32_t now_s) const override { return inner_.lookup(a, now_s); }
  bool upsert(const IpAddress& a, TableValue v) override;
  bool erase(const IpAddress& a) override;
  size_t size() const override { return inner_.size(); }
  size_t capacity() const override { return inner_.capacity(); }
  void for_each(const std::function<void(const IpAddress&, TableValue)>& fn) const override { inner_.for_each(fn); }
  // Marks `a` changed (to push it again).
  void touch(const IpAddress& a);
  void clear_changes() { changed_.clear(); }
  // Addresses upserted or erased since the last call.
  std::vector<IpAddress> take_changes();

 private:
  MapAllowTable inner_;
  std::unordered_set<IpAddress, IpAddressHash> changed_;
};

// Counters for metrics and the exit summary. Written by the session thread.
struct SessionStats {
  std::atomic<uint64_t> connects{0}, disconnects{0};
  std::atomic<uint64_t> messages_in{0}, messages_out{0};
  std::array<std::atomic<uint64_t>, of::kStatusCount> malformed{};  // by of::Status
  std::atomic<uint64_t> switch_errors{0};     // OFPT_ERROR received
  std::atomic<uint64_t> packet_in_learn{0}, packet_in_log{0}, packet_in_held{0}, packet_in_other{0};
  std::atomic<uint64_t> flow_mods{0}, barriers{0}, bundles{0};
  std::atomic<uint64_t> flows_installed{0};   // addresses confirmed by a barrier and not since removed
  std::atomic<uint64_t> flows_refreshed{0};   // capped flows re-added before they ran out
  std::atomic<uint64_t> flows_restored{0};    // wanted flows the switch removed (del-flows, eviction), re-added
  std::atomic<uint64_t> flows_retried{0};     // allow flows the switch refused (table full), sent again
  std::atomic<uint64_t> stale_flows_removed{0};  // nsgate flows of older generations seen at reconcile
  std::atomic<uint64_t> reconciles{0};
  std::atomic<int64_t> last_reconcile_ns{0};  // connect to the final barrier reply
  std::atomic<int> connected{0}, ready{0}, meters{0};
};

class OfSession {
 public:
  using EventSink = std::function<void(const QueryEvent&)>;
  using LogSink = std::function<void(const std::string&)>;

  // `learner` writes into `table`. `events` receives the drop-log copies
  // (verdict drop_unknown in enforce, alert_unknown in monitor).
  OfSession(const Config& config, Learner& learner, RecordingTable& table, EventSink events, LogSink log);

  // A new connection: resets the protocol state and says HELLO.
  void on_connect(of::Buffer& out, TimeNs now);
  void on_disconnect();
  // One whole message (length already checked by the framer).
  void on_message(std::span<const std::byte> msg, of::Buffer& out, TimeNs now);
  // A frame from a mirror capture (openflow.learn_from).
  void on_mirror_frame(pkt::LinkType link, TimeNs now, std::span<const std::byte> frame, size_t wire_length) {
    learn_.feed(link, now, frame, wire_length);
  }
  // Timed work: learner housekeeping, echo keepalive, pushing learned
  // changes, refreshing capped flows. Call every few ms to 100 ms.
  void tick(of::Buffer& out, TimeNs now);
  // Replaces policy (hot reload). Takes effect with a full re-sync (after
  // the one under way, if any); changed meter rates are modified at once.
  void apply(const Config& config, of::Buffer& out, TimeNs now);

  // Held responses waiting for their flows: the main loop should call tick()
  // again within a millisecond or two.
  bool releases_pending() const { return !held_.empty(); }
  // The peer must be dropped (protocol failure or echo timeout); why.
  const std::string& fatal() const { return fatal_; }
  bool ready() const { return state_ == State::ready; }
  const SessionStats& stats() const { return stats_; }
  const ExtractStats& extract_stats() const { return learn_.extract_stats(); }
  const LearnStats& learn_stats() const { return learn_.stats(); }

 private:
  enum class State { closed, hello, features, dump, adding, removing, ready };
  struct Installed {
    uint32_t flow_expires_s = 0;  // 0: permanent on the switch
  };
  // One batch of flow changes awaiting its barrier: xids first_xid ..
  // barrier_xid, optionally one atomic bundle.
  struct Batch {
    uint32_t first_xid = 0, barrier_xid = 0;
    uint32_t bundle_id = 0;    // 0: flow-mods applied one by one
    bool failed = false;       // an error named one of its messages (a bundle: nothing applied)
    bool reconcile = false;    // the full push of a (re)connect
    bool removes_old = false;  // deletes the older generations
    std::vector<std::pair<IpAddress, uint32_t>> added;  // address, flow expiry (0 = permanent)
    std::vector<IpAddress> removed;
    std::vector<std::pair<uint32_t, IpAddress>> xids;  // flow-mod xid -> address, for errors
    std::vector<IpAddress> refused;  // sorted: flows the switch refused
  };

  uint32_t next_xid() { return ++xid_; }
  // Forgets everything about the switch's flows (a new or lost connection).
  void reset(State state);
  void on_flow_removed(const of::FlowRemoved& r, TimeNs now);
  void open_batch(of::Buffer& out, Batch& batch, size_t expected_flows);
  void send_flow(of::Buffer& out, const of::FlowMod& f, Batch& batch, const IpAddress* a);
  void send_barrier(of::Buffer& out, Batch batch);
  void start_sync(of::Buffer& out);
  void full_push(of::Buffer& out, TimeNs now);
  void push_changes(of::Buffer& out, TimeNs now);
  void refresh_capped(of::Buffer& out, TimeNs now);
  // Refused allow flows are sent again after a back-off (5 s, doubling to
  // 5 min) while their address is allowed: until then its queries drop.
  void retry_refused(TimeNs now);
  void on_packet_in(std::span<const std::byte> msg, of::Buffer& out, TimeNs now);
  void send_packet_out(of::Buffer& out, uint32_t in_port, std::span<const std::byte> frame);
  void on_error(std::span<const std::byte> msg, of::Buffer& out, TimeNs now);
  void on_barrier_reply(uint32_t xid, of::Buffer& out, TimeNs now);
  void malformed(of::Status s, const char* what);

  Config config_;
  of::FlowPlan plan_;
  Learner& learner_;
  RecordingTable& table_;
  LearnSession learn_;
  EventSink events_;
  LogSink log_;
  SessionStats stats_;

  State state_ = State::closed;
  std::string fatal_;
  uint32_t xid_ = 0;
  bool bundles_ = true;  // the switch takes ONF bundles (until one is refused)
  // A reload came while a sync was pushing the old configuration: another
  // sync follows as soon as that one ends.
  bool resync_pending_ = false;
  uint32_t bundle_seq_ = 0;
  uint32_t meter_xids_[2]{};
  uint32_t dump_xid_ = 0;
  std::vector<uint32_t> old_generations_;
  size_t old_flows_ = 0;
  TimeNs connected_at_ = 0;
  TimeNs last_rx_ = 0, last_echo_ = 0, last_housekeeping_ = 0, last_refresh_ = 0;
  // The oldest barrier in flight and since when tick() has seen it there.
  uint32_t watched_barrier_ = 0;
  TimeNs watched_since_ = 0;
  std::vector<Batch> in_flight_;
  std::unordered_map<IpAddress, Installed, IpAddressHash> installed_;
  struct Retry {
    TimeNs at = 0;  // 0: sent again, awaiting its barrier
    TimeNs backoff = 0;
  };
  std::unordered_map<IpAddress, Retry, IpAddressHash> retry_;
  // Held responses that taught something: sent on once their batch's
  // barrier returned and the switch had time to revalidate its caches.
  struct HeldResponse {
    uint32_t barrier_xid = 0;
    TimeNs release_at = 0;  // 0 until the barrier reply
    uint32_t in_port = 0;
    std::vector<std::byte> frame;
    TimeNs held_at = 0;
  };
  std::vector<HeldResponse> held_;
  uint64_t event_seq_ = 0;
};

}  // namespace nsgate::ctl
