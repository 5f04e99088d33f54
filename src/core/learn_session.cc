// SPDX-License-Identifier: BSD-3-Clause
#include "core/learn_session.hh"

namespace nsgate {

uint64_t LearnStats::parse_errors(dns::ErrorKind k) const {
  uint64_t n = 0;
  for (size_t i = 0; i < parse_faults.size(); ++i)
    if (dns::kind_of(static_cast<dns::Fault>(i)) == k) n += parse_faults[i];
  return n;
}

DnsContext context_of(const DnsMessageEvent& ev) {
  const pkt::Packet& p = *ev.packet;
  bool response = ev.message.size() > 2 && (std::to_integer<uint8_t>(ev.message[2]) & 0x80);
  DnsContext c;
  if (response) {
    c.server = p.src;
    c.server_port = p.sport;
    c.client = p.dst;
    c.client_port = p.dport;
  } else {
    c.client = p.src;
    c.client_port = p.sport;
    c.server = p.dst;
    c.server_port = p.dport;
  }
  c.tcp = ev.tcp;
  // A cut packet is as incomplete as a fragment: it must not teach.
  c.fragment = p.fragment || p.cut;
  c.time = ev.time;
  return c;
}

LearnSession::LearnSession(Learner& learner, std::vector<uint16_t> dns_ports, ExplainSink explain)
    : learner_(learner), extractor_(std::move(dns_ports)), explain_(std::move(explain)) {}

void LearnSession::feed(pkt::LinkType link, TimeNs time, std::span<const std::byte> frame,
                        size_t wire_length) {
  last_time_ = std::max(last_time_, time);
  if (last_time_ - last_housekeeping_ >= kNsPerSec) {
    learner_.housekeeping(last_time_);
    last_housekeeping_ = last_time_;
  }
  extractor_.feed(link, time, frame, [&](const DnsMessageEvent& ev) {
    DnsContext ctx = context_of(ev);
    bool response = ev.message.size() > 2 && (std::to_integer<uint8_t>(ev.message[2]) & 0x80);
    Explanation ex;
    dns::Fault f = learner_.on_message(ctx, ev.message, explain_ && response ? &ex : nullptr);
    ++stats_.parse_faults[static_cast<size_t>(f)];
    if (explain_ && response) explain_(ev, ctx, ex);
  }, wire_length);
}

size_t restore_snapshot(Learner& learner, const std::vector<Provenance>& entries, TimeNs wall_now, TimeNs offset) {
  size_t n = 0;
  learner.reserve(entries.size());
  for (Provenance p : entries) {
    if (p.expires <= wall_now) continue;
    snapshot::shift_clock(p, -offset);
    n += learner.restore(p);
  }
  return n;
}

namespace {
template <class ForEach>
snapshot::Contents contents(ForEach for_each, TimeNs wall_now, TimeNs offset) {
  snapshot::Contents c;
  c.taken_at = wall_now;
  for_each([&](Provenance&& p) {
    snapshot::shift_clock(p, offset);
    c.entries.push_back(std::move(p));
  });
  return c;
}
}  // namespace

snapshot::Contents snapshot_of(const Learner& learner, TimeNs wall_now, TimeNs offset) {
  return contents([&](const auto& fn) { learner.for_each_learned(fn); }, wall_now, offset);
}

snapshot::Contents snapshot_of(const Learner::Frozen& frozen, TimeNs wall_now, TimeNs offset) {
  return contents([&](const auto& fn) { frozen.for_each(fn); }, wall_now, offset);
}

void LearnSession::finish(TimeNs time) {
  last_time_ = std::max(last_time_, time);
  learner_.housekeeping(last_time_);
}

}  // namespace nsgate
