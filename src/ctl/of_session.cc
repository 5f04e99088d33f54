// SPDX-License-Identifier: BSD-3-Clause
#include "ctl/of_session.hh"

#include <time.h>

#include <algorithm>
#include <cinttypes>

#include "core/verdict.hh"

namespace nsgate::ctl {

namespace {

constexpr uint16_t kErrHelloFailed = 0, kErrMeterModFailed = 12;
constexpr uint16_t kMeterExists = 1;
// Capped flows are re-added when less than this is left on the switch.
constexpr uint32_t kRefreshMargin_s = 3600;
constexpr TimeNs kRetryFirst = 5 * kNsPerSec, kRetryMax = 300 * kNsPerSec;
constexpr TimeNs kRefreshScan = 60 * kNsPerSec;
// A barrier unanswered this long: the switch is alive (it answers echoes)
// but not taking flows, and what waits for it (learned addresses, held
// responses, the output buffer) grows. OVS took 0.7 s for a bundle of
// 100 000 flows (tools/bench/ofshim); a reconnect starts over cleanly.
constexpr TimeNs kBarrierTimeout = 120 * kNsPerSec;
// A response that taught new addresses waits this long after its flows'
// barrier: Open vSwitch applies a flow change to the datapath's flow cache
// asynchronously (revalidator threads), so a cached "drop" for the same
// destination can outlive the barrier by a few milliseconds; the lab saw a
// resolver's next query hit it.
constexpr TimeNs kReleaseSettle = 10 * 1000 * 1000;
// Held responses: at most this many (beyond, sent on at once), and the
// barrier a response held during a sync waits for until one is known. A
// sync that takes longer than kSyncHoldMax (a switch that answers echoes
// but not the dump) does not hold them longer: they go on then.
constexpr size_t kMaxHeld = 8192;
constexpr uint32_t kAwaitingBatch = 0;
constexpr TimeNs kSyncHoldMax = 2 * kNsPerSec;
// Batches of at least this many flow-mods go in one bundle (when the
// switch takes bundles); smaller ones are not worth the three extra messages.
constexpr size_t kBundleThreshold = 32;

TimeNs wall_now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return TimeNs{ts.tv_sec} * kNsPerSec + ts.tv_nsec;
}

std::string ms(TimeNs t) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f ms", static_cast<double>(t) / 1e6);
  return b;
}

}  // namespace

bool RecordingTable::upsert(const IpAddress& a, TableValue v) {
  if (!inner_.upsert(a, v)) return false;
  changed_.insert(a);
  return true;
}

bool RecordingTable::erase(const IpAddress& a) {
  if (!inner_.erase(a)) return false;
  changed_.insert(a);
  return true;
}

void RecordingTable::touch(const IpAddress& a) { changed_.insert(a); }

std::vector<IpAddress> RecordingTable::take_changes() {
  std::vector<IpAddress> out(changed_.begin(), changed_.end());
  changed_.clear();
  return out;
}

OfSession::OfSession(const Config& config, Learner& learner, RecordingTable& table, EventSink events, LogSink log)
    : config_(config),
      plan_(of::FlowPlan::from(config, 1)),
      learner_(learner),
      table_(table),
      learn_(learner, config.dns_ports),
      events_(std::move(events)),
      log_(std::move(log)) {}

void OfSession::reset(State state) {
  state_ = state;
  held_.clear();  // responses from a switch that is gone
  in_flight_.clear();
  installed_.clear();
  retry_.clear();  // a new connection's sync sends every wanted flow
  stats_.flows_installed = 0;
  stats_.connected = state != State::closed;
  stats_.ready = 0;
  resync_pending_ = false;  // a new connection syncs from scratch
  watched_barrier_ = 0;
}

void OfSession::on_connect(of::Buffer& out, TimeNs now) {
  reset(State::hello);
  bundles_ = true;
  fatal_.clear();
  connected_at_ = last_rx_ = last_echo_ = now;
  ++stats_.connects;
  of::encode_hello(out, next_xid());
}

void OfSession::on_disconnect() {
  reset(State::closed);
  ++stats_.disconnects;
}

void OfSession::malformed(of::Status s, const char* what) {
  ++stats_.malformed[static_cast<size_t>(s)];
  // Rate-limited by nature: one line per distinct reason and message type.
  uint64_t n = stats_.malformed[static_cast<size_t>(s)].load();
  if (n == 1 || n % 1000 == 0)
    log_(std::string("malformed ") + what + " from the switch (" + of::describe(s) + "), skipped; " +
         std::to_string(n) + " so far");
}

void OfSession::on_message(std::span<const std::byte> msg, of::Buffer& out, TimeNs now) {
  // The connection is being dropped: nothing more is acted on (a barrier
  // reply read with the error must not complete a sync that failed).
  if (!fatal_.empty()) return;
  ++stats_.messages_in;
  last_rx_ = now;
  of::Header h;
  if (of::Status s = of::decode_header(msg, h); s != of::Status::ok) return malformed(s, "message");
  if (h.type == of::MsgType::hello) {
    uint32_t bitmap = 0;
    if (of::Status s = of::decode_hello(msg, bitmap); s != of::Status::ok) return malformed(s, "HELLO");
    if (!(bitmap & (1u << of::kVersion))) {
      of::encode(out, h.xid, of::Error{kErrHelloFailed, 0, {}});
      char b[16];
      std::snprintf(b, sizeof b, "0x%" PRIx32, bitmap);
      fatal_ = std::string("the switch does not speak OpenFlow 1.3 (version bitmap ") + b +
               "); allow it with: ovs-vsctl set bridge BRIDGE protocols=OpenFlow13";
      return;
    }
    if (state_ == State::hello) {
      of::encode_empty(out, next_xid(), of::MsgType::features_request);
      state_ = State::features;
    }
    return;
  }
  if (h.version != of::kVersion) return malformed(of::Status::bad_version, of::to_string(h.type));
  switch (h.type) {
    case of::MsgType::echo_request:
      of::encode_echo(out, h.xid, true, msg.subspan(8));
      return;
    case of::MsgType::echo_reply:
      return;
    case of::MsgType::features_reply: {
      of::FeaturesReply f;
      if (of::Status s = of::decode(msg, f); s != of::Status::ok) return malformed(s, "FEATURES_REPLY");
      if (state_ != State::features) return;
      if (f.n_tables <= plan_.stage(of::Stage::log_copy)) {
        fatal_ = "the switch has " + std::to_string(f.n_tables) + " tables; openflow.table " +
                 std::to_string(plan_.table) + " needs tables up to " + std::to_string(plan_.stage(of::Stage::log_copy));
        return;
      }
      char dpid[20];
      std::snprintf(dpid, sizeof dpid, "%016" PRIx64, f.datapath_id);
      log_(std::string("switch datapath ") + dpid + " connected (" + std::to_string(f.n_tables) + " tables)");
      // A query's first fragment carries its ports: judged like any query.
      of::encode(out, next_xid(), of::SwitchConfig{of::frag::nx_match});
      of::AsyncConfig async;
      async.packet_in_mask[0] = 0x3;     // no-match and action: the copies nsgate asked for
      async.flow_removed_mask[0] = 0xf;  // idle, hard, delete, group delete
      of::encode(out, next_xid(), async);
      plan_.meters = true;
      stats_.meters = 1;
      std::vector<of::MeterMod> ms = of::meters(config_.openflow, of::MeterModCommand::add);
      for (size_t i = 0; i < ms.size(); ++i) {
        meter_xids_[i] = next_xid();
        of::encode(out, meter_xids_[i], ms[i]);
      }
      start_sync(out);
      return;
    }
    case of::MsgType::error:
      return on_error(msg, out, now);
    case of::MsgType::packet_in:
      return on_packet_in(msg, out, now);
    case of::MsgType::flow_removed: {
      of::FlowRemoved r;
      if (of::Status s = of::decode(msg, r); s != of::Status::ok) return malformed(s, "FLOW_REMOVED");
      return on_flow_removed(r, now);
    }
    case of::MsgType::multipart_reply: {
      of::MultipartReply r;
      if (of::Status s = of::decode(msg, r); s != of::Status::ok) return malformed(s, "MULTIPART_REPLY");
      if (r.type != of::kMultipartFlow || h.xid != dump_xid_ || state_ != State::dump) return;
      std::vector<of::FlowStats> flows;
      if (of::Status s = of::decode_flow_stats(r.body, flows); s != of::Status::ok) {
        malformed(s, "flow stats");
        // Without the whole dump nsgate cannot tell stale flows: start over.
        fatal_ = std::string("the switch's flow dump could not be read (") + of::describe(s) + ")";
        return;
      }
      uint32_t now_s = now_seconds(now);
      for (const of::FlowStats& f : flows) {
        if (!of::is_nsgate_cookie(f.cookie)) continue;
        uint32_t g = of::generation_of(f.cookie);
        if (std::find(old_generations_.begin(), old_generations_.end(), g) == old_generations_.end())
          old_generations_.push_back(g);
        ++old_flows_;
        // An exact allow flow for an address the table no longer holds is stale.
        bool exact = f.match.ip_dst && f.match.ip_dst->prefix == (f.match.ip_dst->address.is_v4() ? 32 : 128);
        if (f.table == plan_.stage(of::Stage::judge) && f.priority == of::prio::allowed && exact &&
            !table_.lookup(f.match.ip_dst->address, now_s))
          ++stats_.stale_flows_removed;
      }
      if (!(r.flags & of::kMultipartReplyMore)) full_push(out, now);
      return;
    }
    case of::MsgType::barrier_reply:
      return on_barrier_reply(h.xid, out, now);
    default:
      return;  // PORT_STATUS and the like: nothing nsgate acts on
  }
}

void OfSession::start_sync(of::Buffer& out) {
  old_generations_.clear();
  old_flows_ = 0;
  of::FlowStatsRequest r;
  r.cookie = of::kCookieMagic;
  r.cookie_mask = of::kCookieMagicMask;
  dump_xid_ = next_xid();
  of::encode(out, dump_xid_, r);
  state_ = State::dump;
  stats_.ready = 0;
}

void OfSession::open_batch(of::Buffer& out, Batch& batch, size_t expected_flows) {
  batch.first_xid = xid_ + 1;
  if (bundles_ && expected_flows >= kBundleThreshold) {
    batch.bundle_id = ++bundle_seq_;
    of::encode(out, next_xid(), of::BundleCtrl{batch.bundle_id, of::BundleCtrlType::open_request});
    ++stats_.messages_out;
  }
}

void OfSession::send_flow(of::Buffer& out, const of::FlowMod& f, Batch& batch, const IpAddress* a) {
  uint32_t xid = next_xid();
  if (batch.bundle_id)
    of::encode_bundle_add(out, xid, batch.bundle_id, of::bundle_flags::atomic | of::bundle_flags::ordered, f);
  else
    of::encode(out, xid, f);
  ++stats_.flow_mods;
  ++stats_.messages_out;
  if (a) batch.xids.emplace_back(xid, *a);
}

void OfSession::send_barrier(of::Buffer& out, Batch batch) {
  if (batch.bundle_id) {
    of::encode(out, next_xid(), of::BundleCtrl{batch.bundle_id, of::BundleCtrlType::commit_request});
    ++stats_.bundles;
  }
  batch.barrier_xid = next_xid();
  of::encode_empty(out, batch.barrier_xid, of::MsgType::barrier_request);
  ++stats_.barriers;
  in_flight_.push_back(std::move(batch));
}

void OfSession::full_push(of::Buffer& out, TimeNs now) {
  uint32_t gen = 1;
  for (uint32_t g : old_generations_) gen = std::max(gen, g + 1);
  bool meters = plan_.meters;
  plan_ = of::FlowPlan::from(config_, gen);
  plan_.meters = meters;
  table_.clear_changes();  // everything is pushed now
  Batch batch;
  batch.reconcile = true;
  open_batch(out, batch, SIZE_MAX);  // always one transaction: the switch never sees half a swap
  // Allows first, then the pipeline: a flow in the judge table is ready
  // before the classify table sends queries there.
  uint32_t now_s = now_seconds(now);
  table_.for_each([&](const IpAddress& a, TableValue v) {
    auto hard = of::hard_timeout_for(v, now_s);
    if (!hard) return;
    send_flow(out, of::allow_address(plan_, a, *hard), batch, &a);
    batch.added.emplace_back(a, *hard ? now_s + *hard : 0);
  });
  for (const of::FlowMod& f : of::pipeline_flows(plan_)) send_flow(out, f, batch, nullptr);
  if (batch.bundle_id) {
    // One atomic transaction: the switch swaps the old generation for the
    // new one at once. ADDs replaced the flows that are still wanted, so
    // what is left of older generations is stale.
    for (uint32_t g : old_generations_)
      if (g != plan_.generation) send_flow(out, of::remove_generation(g), batch, nullptr);
    batch.removes_old = true;
  }
  send_barrier(out, std::move(batch));
  state_ = State::adding;
}

void OfSession::push_changes(of::Buffer& out, TimeNs now) {
  std::vector<IpAddress> changed = table_.take_changes();
  if (changed.empty()) return;
  uint32_t now_s = now_seconds(now);
  Batch batch;
  open_batch(out, batch, changed.size());
  for (const IpAddress& a : changed) {
    std::optional<TableValue> v = table_.lookup(a, now_s);
    std::optional<uint16_t> hard = v ? of::hard_timeout_for(*v, now_s) : std::nullopt;
    if (hard) {
      send_flow(out, of::allow_address(plan_, a, *hard), batch, &a);
      batch.added.emplace_back(a, *hard ? now_s + *hard : 0);
      continue;
    }
    auto it = installed_.find(a);
    if (it == installed_.end()) continue;
    if (it->second.flow_expires_s != 0 && it->second.flow_expires_s <= now_s) {
      installed_.erase(it);  // the switch timed it out already
      continue;
    }
    send_flow(out, of::forget_address(plan_, a), batch, &a);
    batch.removed.push_back(a);
  }
  if (!batch.xids.empty() || batch.bundle_id) send_barrier(out, std::move(batch));
  stats_.flows_installed = installed_.size();
}

void OfSession::refresh_capped(of::Buffer& out, TimeNs now) {
  uint32_t now_s = now_seconds(now);
  std::vector<std::pair<IpAddress, uint16_t>> due;
  for (auto& [a, inst] : installed_) {
    if (inst.flow_expires_s == 0 || inst.flow_expires_s > now_s + kRefreshMargin_s) continue;
    std::optional<TableValue> v = table_.lookup(a, now_s);
    if (!v || v->expires_s <= inst.flow_expires_s) continue;  // the flow outlives the entry: nothing to do
    if (auto hard = of::hard_timeout_for(*v, now_s)) due.emplace_back(a, *hard);
  }
  if (due.empty()) return;
  Batch batch;
  open_batch(out, batch, due.size());
  for (const auto& [a, hard] : due) {
    send_flow(out, of::allow_address(plan_, a, hard), batch, &a);
    batch.added.emplace_back(a, hard ? now_s + hard : 0);
    ++stats_.flows_refreshed;
  }
  send_barrier(out, std::move(batch));
}

void OfSession::retry_refused(TimeNs now) {
  uint32_t now_s = now_seconds(now);
  for (auto it = retry_.begin(); it != retry_.end();) {
    Retry& r = it->second;
    if (r.at == 0 || r.at > now) {
      ++it;
    } else if (!table_.lookup(it->first, now_s)) {
      it = retry_.erase(it);  // no longer allowed: nothing to install
    } else {
      table_.touch(it->first);  // push_changes sends it
      r.at = 0;
      ++stats_.flows_retried;
      ++it;
    }
  }
}

void OfSession::on_barrier_reply(uint32_t xid, of::Buffer& out, TimeNs now) {
  auto it = std::find_if(in_flight_.begin(), in_flight_.end(), [&](const Batch& b) { return b.barrier_xid == xid; });
  if (it == in_flight_.end()) return;
  // Barriers complete in order: anything older was answered too.
  bool redo_full = false, removed_old = false;
  for (auto b = in_flight_.begin(); b != it + 1; ++b) {
    if (b->failed && b->bundle_id) {
      // Nothing of a failed atomic bundle was applied. Fall back to single
      // flow-mods for good: a switch that refused one bundle may refuse more.
      if (bundles_) log_("the switch refused a bundle; sending flow-mods one by one from now on");
      bundles_ = false;
      if (b->reconcile) redo_full = true;
      for (const auto& [a, exp] : b->added) table_.touch(a);
      for (const IpAddress& a : b->removed) table_.touch(a);
      continue;
    }
    // A sync re-adds every wanted flow and deletes the older generations:
    // what it added is what the switch has (a static removed by the reload
    // that began it is among neither).
    if (b->reconcile) installed_.clear();
    for (auto& [a, exp] : b->added) {
      if (!std::binary_search(b->refused.begin(), b->refused.end(), a)) {
        installed_[a].flow_expires_s = exp;
        retry_.erase(a);
        continue;
      }
      // Refused (a full table, say): its queries drop until it is in.
      Retry& r = retry_[a];
      r.backoff = r.backoff == 0 ? kRetryFirst : std::min(2 * r.backoff, kRetryMax);
      r.at = now + r.backoff;
    }
    for (const IpAddress& a : b->removed) installed_.erase(a);
    removed_old |= b->removes_old;
  }
  for (HeldResponse& h : held_)
    if (h.release_at == 0 && h.barrier_xid != kAwaitingBatch && h.barrier_xid <= xid)
      h.release_at = now + kReleaseSettle;  // xids grow
  in_flight_.erase(in_flight_.begin(), it + 1);
  stats_.flows_installed = installed_.size();
  if (state_ == State::adding && redo_full) {
    full_push(out, now);
  } else if (state_ == State::adding && in_flight_.empty() && !removed_old) {
    // Everything is in place under the new generation; what is left of the
    // older ones is stale.
    Batch batch;
    for (uint32_t g : old_generations_)
      if (g != plan_.generation) send_flow(out, of::remove_generation(g), batch, nullptr);
    batch.removes_old = true;
    send_barrier(out, std::move(batch));
    state_ = State::removing;
  } else if ((state_ == State::removing || state_ == State::adding) && in_flight_.empty()) {
    state_ = State::ready;
    stats_.ready = 1;
    ++stats_.reconciles;
    stats_.last_reconcile_ns = now - connected_at_;
    log_("in sync: " + std::to_string(installed_.size()) + " allowed addresses on the switch (generation " +
         std::to_string(plan_.generation) + ", " + std::to_string(old_flows_) + " nsgate flows found, " +
         std::to_string(stats_.stale_flows_removed.load()) + " stale allows removed so far" +
         (bundles_ ? ", one bundle" : ", flow-mods one by one") + ") in " + ms(now - connected_at_) +
         (plan_.meters ? "" : "; packet-ins NOT metered"));
    if (resync_pending_) {
      resync_pending_ = false;
      connected_at_ = now;
      log_("re-synchronising for the configuration reloaded during that sync");
      start_sync(out);
    }
  }
}

void OfSession::on_error(std::span<const std::byte> msg, of::Buffer& out, TimeNs now) {
  of::Error e;
  if (of::Status s = of::decode(msg, e); s != of::Status::ok) return malformed(s, "ERROR");
  of::Header req;
  bool has_req = of::decode_header(e.data, req) == of::Status::ok;
  for (size_t i = 0; i < 2; ++i) {
    if (!has_req || req.xid != meter_xids_[i] || meter_xids_[i] == 0) continue;
    if (e.type == kErrMeterModFailed && e.code == kMeterExists) {
      // Left from an earlier run: take it over with the configured rate.
      of::encode(out, next_xid(), of::meters(config_.openflow, of::MeterModCommand::modify)[i]);
      return;
    }
    plan_.meters = false;
    stats_.meters = 0;
    log_("the switch refused meter " + std::to_string(i + 1) + " (" + of::describe(e) +
         "); packet-ins to nsgate are not rate-limited: set controller_rate_limit on the Controller record");
    return;
  }
  ++stats_.switch_errors;
  std::string what;
  bool quiet = false;
  if (has_req) {
    for (Batch& b : in_flight_) {
      if (req.xid < b.first_xid || req.xid > b.barrier_xid) continue;
      if (b.bundle_id) b.failed = true;
      auto it = std::lower_bound(b.xids.begin(), b.xids.end(), std::make_pair(req.xid, IpAddress{}),
                                 [](const auto& x, const auto& y) { return x.first < y.first; });
      if (it != b.xids.end() && it->first == req.xid) {
        // Said once per address: a full table refuses its retries too.
        if (retry_.count(it->second)) quiet = true;
        what = " for address " + it->second.to_string();
        b.refused.insert(std::upper_bound(b.refused.begin(), b.refused.end(), it->second), it->second);
      } else if (b.reconcile && !b.bundle_id) {
        // A pipeline flow of a sync sent one by one: with the older
        // generations deleted next, the bridge would be left without it.
        // Drop the connection before that; the next sync tries again.
        fatal_ = "the switch refused a pipeline flow (" + of::describe(e) +
                 "); the older generation's flows stay until a sync succeeds";
      }
    }
  }
  if (!quiet) log_("switch error: " + of::describe(e) + what);
  (void)now;
}

void OfSession::send_packet_out(of::Buffer& out, uint32_t in_port, std::span<const std::byte> frame) {
  of::PacketOut po;
  po.in_port = in_port;
  po.actions = {of::output(of::port::normal)};
  po.data = frame;
  of::encode(out, next_xid(), po);
  ++stats_.messages_out;
}

void OfSession::on_packet_in(std::span<const std::byte> msg, of::Buffer& out, TimeNs now) {
  of::PacketIn p;
  if (of::Status s = of::decode(msg, p); s != of::Status::ok) return malformed(s, "PACKET_IN");
  if (p.table == plan_.stage(of::Stage::classify) && plan_.hold_responses && p.reason == 1) {
    // A held response: learn, install what it taught (the switch applies
    // messages in order), then let the response go on.
    ++stats_.packet_in_held;
    learn_.feed(pkt::LinkType::ethernet, now, p.data, p.total_len > p.data.size() ? p.total_len : 0);
    if (state_ == State::ready) push_changes(out, now);
    if (p.data.size() < p.total_len) return;  // cut short by the switch: cannot be sent on
    uint32_t in_port = p.match.in_port.value_or(of::port::controller);
    // Held until every flow change sent so far is in: what this response
    // taught, or what an earlier one taught for the same server that may
    // still be on its way. During a sync, until the changes pushed after
    // it are in (tick()): the sync's own flows were planned before.
    if (held_.size() < kMaxHeld && (state_ != State::ready || !in_flight_.empty())) {
      uint32_t barrier = state_ == State::ready ? in_flight_.back().barrier_xid : kAwaitingBatch;
      held_.push_back({barrier, 0, in_port, {p.data.begin(), p.data.end()}, now});
      return;
    }
    send_packet_out(out, in_port, p.data);
    return;
  }
  if (p.table == plan_.stage(of::Stage::learn_copy)) {
    ++stats_.packet_in_learn;
    // Copies of the inside port's queries (the judge's): a host there may
    // send a forged "response" from port 53 to port 53, which the query
    // flows take; from the inside only queries count.
    bool inside = plan_.inside_port != 0 && p.match.in_port == plan_.inside_port;
    learn_.feed(pkt::LinkType::ethernet, now, p.data, p.total_len > p.data.size() ? p.total_len : 0,
                inside ? Origin::inside : Origin::unknown);
    return;
  }
  if (p.table != plan_.stage(of::Stage::log_copy)) {
    ++stats_.packet_in_other;
    return;
  }
  ++stats_.packet_in_log;
  pkt::Packet pk;
  if (pkt::decode(pkt::LinkType::ethernet, p.data, pk) != pkt::DecodeResult::ok || !pk.has_ports) return;
  QueryEvent ev;
  ev.time = wall_now();
  ev.seq = ++event_seq_;
  fill_event(ev, pk, pk.proto == pkt::kProtoTcp);
  ev.verdict = config_.mode == Mode::enforce ? Verdict::drop_unknown : Verdict::alert_unknown;
  events_(ev);
}

void OfSession::on_flow_removed(const of::FlowRemoved& r, TimeNs now) {
  // Expiry and nsgate's own deletes end flows nobody wants any more, and
  // older generations' flows are gone on purpose: only a current flow for
  // an address the table still allows was lost (ovs-ofctl del-flows, an
  // eviction). Pushed again with the next changes.
  if (state_ != State::ready || r.cookie != plan_.cookie() || !r.match.ip_dst) return;
  const IpAddress& a = r.match.ip_dst->address;
  auto it = installed_.find(a);
  if (it == installed_.end()) return;
  std::optional<TableValue> v = table_.lookup(a, now_seconds(now));
  if (!v || !of::hard_timeout_for(*v, now_seconds(now))) return;
  installed_.erase(it);
  stats_.flows_installed = installed_.size();
  table_.touch(a);
  ++stats_.flows_restored;
}

void OfSession::tick(of::Buffer& out, TimeNs now) {
  if (now - last_housekeeping_ >= kNsPerSec) {
    learn_.finish(now);
    last_housekeeping_ = now;
  }
  if (state_ == State::closed) return;
  if (!held_.empty()) {
    for (HeldResponse& h : held_)
      if (h.barrier_xid == kAwaitingBatch && h.release_at == 0 && now - h.held_at >= kSyncHoldMax) h.release_at = now;
    auto due = [&](const HeldResponse& h) { return h.release_at != 0 && h.release_at <= now; };
    for (const HeldResponse& h : held_)
      if (due(h)) send_packet_out(out, h.in_port, h.frame);
    held_.erase(std::remove_if(held_.begin(), held_.end(), due), held_.end());
  }
  TimeNs interval = static_cast<TimeNs>(config_.openflow.echo_interval_s * 1e9);
  if (now - last_rx_ > 3 * interval) {
    fatal_ = "the switch sent nothing for " + ms(now - last_rx_) + " (3 echo intervals)";
    return;
  }
  if (now - last_echo_ >= interval) {
    of::encode_echo(out, next_xid(), false);
    last_echo_ = now;
  }
  if (in_flight_.empty()) {
    watched_barrier_ = 0;
  } else if (in_flight_.front().barrier_xid != watched_barrier_) {
    watched_barrier_ = in_flight_.front().barrier_xid;
    watched_since_ = now;
  } else if (now - watched_since_ > kBarrierTimeout) {
    fatal_ = "the switch has not answered a barrier for " + ms(now - watched_since_) +
             " (it answers echoes but takes no flows)";
    return;
  }
  if (state_ != State::ready) return;
  retry_refused(now);
  push_changes(out, now);
  for (HeldResponse& h : held_) {  // held during a sync: the first changes after it
    if (h.barrier_xid != kAwaitingBatch || h.release_at != 0) continue;
    if (in_flight_.empty())
      h.release_at = now + kReleaseSettle;
    else
      h.barrier_xid = in_flight_.back().barrier_xid;
  }
  if (now - last_refresh_ >= kRefreshScan) {
    refresh_capped(out, now);
    last_refresh_ = now;
  }
}

void OfSession::apply(const Config& config, of::Buffer& out, TimeNs now) {
  bool rates_changed = config.openflow.learn_rate != config_.openflow.learn_rate ||
                       config.openflow.drop_log_rate != config_.openflow.drop_log_rate;
  config_ = config;
  learn_.set_dns_ports(config.dns_ports);
  // Before the features reply nothing is on the switch yet.
  if (state_ == State::closed || state_ == State::hello || state_ == State::features) return;
  if (rates_changed && plan_.meters) {
    std::vector<of::MeterMod> ms = of::meters(config_.openflow, of::MeterModCommand::modify);
    for (size_t i = 0; i < ms.size(); ++i) {
      meter_xids_[i] = next_xid();
      of::encode(out, meter_xids_[i], ms[i]);
    }
  }
  if (state_ == State::dump) return;  // its push is built from config_ when the dump ends
  if (state_ != State::ready) {
    resync_pending_ = true;  // the flows being pushed are the old configuration's
    return;
  }
  connected_at_ = now;  // the reconciliation time then measures the re-sync
  start_sync(out);  // re-push under a new generation
}

}  // namespace nsgate::ctl
