// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// The bump in the wire: poll-mode workers forward between the inside and
// the outside port, judge outbound DNS queries against the TTL table, and
// hand DNS packets to the learner thread (the table's only writer) over
// rings. Lifecycle: configure (constructor) -> init() -> start() -> stop().
//
// Threads: workers run on EAL worker lcores; the learner is a std::thread;
// the caller's thread (the main lcore) drains query events (poll_events)
// and decides when to stop. Nothing on a worker allocates, locks or logs.

#include <array>
#include <atomic>
#include <mutex>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/config.hh"
#include "core/learn_delay.hh"
#include "core/learn_session.hh"
#include "core/learner.hh"
#include "core/query_event.hh"
#include "core/snapshot.hh"
#include "core/verdict.hh"
#include "dp/counters.hh"
#include "dp/rte_table.hh"

struct rte_mempool;
struct rte_ring;
struct rte_mbuf;

namespace nsgate::dp {

struct DataplaneOptions {
  Config config;
  // Judge by the capture's clock (mbuf rx timestamps, as net_pcap gives
  // them) instead of the system clock: for replaying captures.
  bool packet_time = false;
  // Report every judged query (passes too), not only drops and alerts.
  bool log_passes = false;
  // Query events buffered per worker before the control thread drains them.
  unsigned event_ring_size = 4096;
  // The wall clock (Unix ns) for drop-log times and snapshots; empty:
  // CLOCK_REALTIME. Tests step it as NTP would.
  std::function<TimeNs()> wall_clock;
  // Bytes of IP a frame sent on any port may carry, larger IPv4 ones going
  // in fragments; 0: only net_af_packet ports fragment, at their kernel
  // interface's MTU (DPDK does not know other devices' link MTU). Tests.
  uint16_t fragment_mtu = 0;
};

struct PortStats {
  std::string role;  // inside, outside, mirror, drop_capture
  std::string name;
  uint64_t ipackets = 0, opackets = 0, ibytes = 0, obytes = 0, ierrors = 0, imissed = 0, oerrors = 0;
  bool link_up = false;
};

class Dataplane {
 public:
  explicit Dataplane(DataplaneOptions opts);
  ~Dataplane();
  Dataplane(const Dataplane&) = delete;
  Dataplane& operator=(const Dataplane&) = delete;

  // Ports, mempool, rings and table. EAL must be initialised. On failure
  // returns false with one message naming what to fix.
  bool init(std::string& error);
  // Seeds the learner (anchors, statics) and loads learned entries whose
  // times are Unix-epoch ns (snapshots, offline learning). Before start().
  size_t load(const std::vector<Provenance>& entries);
  // Offline learning into the same table before start() (replay).
  Learner& learner() { return *learner_; }
  bool start(std::string& error);
  // Stops workers and the learner, then the ports. Idempotent. Snapshots
  // requested before it are written by the time it returns (a copy under
  // way is finished first). With `final_snapshot`, the learned state at
  // shutdown is written there too, after the learner has taken in the
  // workers' last packets; a request for the same file still waiting is
  // that same write.
  void stop(const std::string& final_snapshot = {});

  // Hot reload (control thread): swaps the policy the workers judge by (mode,
  // trusted sources, static CIDRs, DNS ports) without a lost packet, and
  // hands the learning limits and static allows to the learner thread,
  // waiting (up to 10 s) until it has taken them: meanwhile the old static
  // CIDRs still pass, so a static allow that changes between CIDR and host
  // form stays allowed throughout. Learned entries are kept. Settings that
  // need a restart are not touched.
  void apply(const Config& next);

  // Runs `fn` on the learner thread (the only one that may read the
  // learner) and waits for it, at most `timeout_ms`. False on timeout; `fn`
  // may then still run later, so it must own (not borrow) what it writes.
  bool run_on_learner(const std::function<void(const Learner&)>& fn, int timeout_ms = 2000);

  // Drains query events (caller's thread), at most event_ring_size per
  // worker per call. Returns how many were handled.
  size_t poll_events(const std::function<void(const QueryEvent&)>& fn);
  // Asks the learner thread to write a snapshot to `path`; returns at once.
  // A request not yet taken up is replaced by the next (one write for both).
  // Not running: written here, before it returns.
  void request_snapshot(const std::string& path);
  // A request is waiting to be taken up (its copy not yet begun).
  bool snapshot_requested() const;
  // Result of the last snapshot the learner wrote (empty = none yet / ok).
  std::string last_snapshot_error() const;
  uint64_t snapshots_written() const { return snapshots_written_.load(); }
  uint64_t snapshot_failures() const { return snapshot_failures_.load(); }
  // Held responses freed because the release ring was full (none so far:
  // the workers drain it every loop, and it holds twice the hold ring).
  uint64_t held_lost() const { return held_lost_.load(std::memory_order_relaxed); }

  WorkerCounters totals() const;
  std::vector<PortStats> port_stats() const;
  LearnCounters learn_counters() const;
  LearnDelay learn_delay() const;
  // Table entries by kind: anchors, statics (host entries), learned.
  std::array<size_t, 3> entries_by_kind() const;
  // What the learner was fed: DNS parse faults and decode results.
  std::pair<LearnStats, ExtractStats> learn_input_stats() const;
  size_t table_size() const { return table_ ? table_->size() : 0; }
  // Wall-clock minus the data path's clock (0 when judging by packet time),
  // re-read at least every 100 ms while running: the wall clock may be
  // stepped (NTP fixing a box that booted with a wrong clock), and drop-log
  // times and the expiries a snapshot keeps follow it.
  TimeNs wall_offset() const { return wall_offset_.load(std::memory_order_relaxed); }
  TimeNs now() const;

 private:
  struct Worker;
  struct Port {
    std::string spec, name;
    uint16_t id = 0;
    bool opened = false;   // found and configured: ours to close
    bool started = false;
    // Bytes of IP a frame sent here may carry, larger IPv4 frames going in
    // fragments; 0: sent as they are. Set for net_af_packet ports: their
    // kernel socket hands over IPv4 datagrams it reassembled
    // (PACKET_FANOUT_FLAG_DEFRAG, always on in DPDK 22.11), which it will
    // not send whole on an interface of that MTU.
    uint16_t mtu = 0;
  };
  bool open_port(Port& p, const std::string& spec, uint16_t queues, std::string& error);
  static int worker_main(void* arg);
  void learner_main();
  void write_snapshot(const std::string& path);
  void write_frozen(const std::string& path);
  // Learner thread: takes the pending snapshot request, if any, and starts
  // its copy (no write may be going on).
  void begin_requested_copy();
  void begin_copy(const std::string& path);  // learner thread: a snapshot's copy, in slices

  // Read by the workers on every burst, written only at start and stop (and
  // policy_ on a reload)...
  DataplaneOptions opts_;
  // Workers load the pointer once per burst; a replaced policy is freed
  // only after every worker passed a quiescent state (RCU).
  std::atomic<const Policy*> policy_{nullptr};
  std::unique_ptr<Policy> policy_owner_;
  std::atomic<TimeNs> wall_offset_{0};
  void refresh_wall_offset();
  int ts_offset_ = -1;
  uint64_t ts_flag_ = 0;
  int handoff_offset_ = -1;  // mbuf dynfield: when a worker handed the packet off
  rte_mempool* pool_ = nullptr;
  Port inside_, outside_, mirror_, drop_port_;
  rte_mempool* indirect_pool_ = nullptr;  // fragments' data: references into the frame
  bool have_mirror_ = false, have_drop_port_ = false;
  std::unique_ptr<RteAllowTable> table_;
  std::unique_ptr<Learner> learner_;
  std::unique_ptr<LearnSession> session_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> running_{false};

  // ...and, from a cache line of their own on, what the learner thread
  // writes all the time (its mutexes on every loop, the delay for every
  // response). Sharing a line with the fields above made each of those
  // writes a cache miss for every worker (measured in tools/bench/forward).
  alignas(64) std::mutex task_mu_;
  std::vector<std::function<void()>> learner_tasks_;  // run on the learner thread
  LearnDelay delay_;          // learner thread; copied under learn_mu_
  std::atomic<uint64_t> held_lost_{0};  // learner thread: held responses the release ring refused (never seen)
  std::thread learner_thread_;
  std::atomic<bool> learner_stop_{false};
  // Snapshot hand-off between the control thread and the learner thread.
  mutable std::mutex snap_mu_;
  std::string snap_request_, snap_error_;
  std::string final_request_;  // stop()'s final snapshot, for the learner's stop path
  std::atomic<uint64_t> snapshots_written_{0}, snapshot_failures_{0};
  std::thread snap_writer_;  // started by the learner thread, joined by it or stop()
  std::unique_ptr<Learner::Frozen> frozen_;  // the copy it writes, reused
  std::string freezing_path_;  // learner thread: where the copy being made in slices goes
  std::atomic<bool> snap_writing_{false};
  mutable std::mutex learn_mu_;  // guards learn counter copies
  LearnCounters learn_copy_{};
  LearnDelay delay_copy_;
  LearnStats parse_copy_;
  size_t anchors_copy_ = 0, statics_copy_ = 0;
  ExtractStats extract_copy_;
};

}  // namespace nsgate::dp
