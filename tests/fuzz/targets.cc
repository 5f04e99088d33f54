// SPDX-License-Identifier: BSD-3-Clause
#include "targets.hh"

#include <algorithm>
#include <cstdlib>
#include <span>
#include <vector>

#include "core/learn_session.hh"
#include "core/openflow.hh"
#include "core/root_hints.hh"
#include "core/snapshot.hh"

namespace nsgate::fuzz {

namespace {
struct World {
  MapAllowTable table{4096};
  Learner learner;
  explicit World(bool relaxed) : learner(settings(relaxed), table) {
    for (const RootHint& h : builtin_root_hints()) learner.add_anchor(h.address, h.name);
  }
  static LearningSettings settings(bool relaxed) {
    LearningSettings s;
    s.require_query_match = !relaxed;
    s.capacity = 4000;
    return s;
  }
};
}  // namespace

void packet_target(const uint8_t* data, size_t size) {
  if (size < 1) return;
  auto link = static_cast<pkt::LinkType>(kLinkTypes[data[0] % std::size(kLinkTypes)]);
  std::span<const std::byte> frame(reinterpret_cast<const std::byte*>(data + 1), size - 1);
  // The rest of the first byte: the frame as captured with a snap length,
  // that many 16-byte units shorter than it was on the wire (0: whole).
  size_t cut = data[0] / std::size(kLinkTypes);
  size_t wire_length = cut ? frame.size() + cut * 16 : 0;
  World w(false);
  LearnSession session(w.learner, {53});
  // Twice: the second time the query half of an exchange may already be known.
  session.feed(link, 1, frame, wire_length);
  session.feed(link, 2, frame, wire_length);
  session.finish(3);
}

void dns_target(const uint8_t* data, size_t size) {
  std::span<const std::byte> msg(reinterpret_cast<const std::byte*>(data), size);
  dns::Reader r(msg);
  dns::Header h;
  if (r.open(h) == dns::Fault::none) {
    dns::Question q;
    while (r.more_questions() && r.next(q) == dns::Fault::none) {
      (void)q.name.to_string();
    }
    dns::Record rr;
    while (r.more_records() && r.next(rr) == dns::Fault::none) {
      (void)rr.owner.to_string();
      (void)rr.target.is_at_or_below(rr.owner);
    }
  }
  World w(true);
  DnsContext ctx;
  ctx.server = *IpAddress::parse("198.41.0.4");
  ctx.client = *IpAddress::parse("192.0.2.53");
  ctx.server_port = 53;
  ctx.client_port = 40000;
  ctx.time = 1;
  Explanation ex;
  w.learner.on_message(ctx, msg, &ex);
  // What the learner took from one message (a fresh learner, the root as
  // its source) is among the message's address records, and usable (rule
  // 4); and only a message that parses whole teaches (rule 5).
  std::vector<IpAddress> in_message;
  dns::Reader walk(msg);
  dns::Header wh;
  bool whole = walk.open(wh) == dns::Fault::none;
  if (whole) {
    dns::Question q;
    while (walk.more_questions() && walk.next(q) == dns::Fault::none) {
    }
    dns::Record rr;
    while (walk.more_records() && walk.next(rr) == dns::Fault::none)
      if (rr.is_address()) in_message.push_back(rr.address);
    whole = walk.check_rest() == dns::Fault::none;
  }
  w.learner.for_each_learned([&](Provenance&& p) {
    if (!whole || std::find(in_message.begin(), in_message.end(), p.address) == in_message.end()) std::abort();
    if (rules::refuse_address(p.address, p.address.is_v4() ? dns::type::A : dns::type::AAAA, false)) std::abort();
  });
  w.learner.housekeeping(10 * kNsPerSec);
}

void snapshot_target(const uint8_t* data, size_t size) {
  std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  snapshot::Contents c;
  std::string error;
  if (!snapshot::decode(in, c, error)) {
    if (error.empty()) std::abort();  // a refusal must say why
    return;
  }
  std::vector<std::byte> again = snapshot::encode(c);
  if (again.size() != size || !std::equal(again.begin(), again.end(), in.begin())) std::abort();
}

std::vector<uint8_t> snapshot_seed() {
  snapshot::Contents c;
  c.taken_at = 1'700'000'000 * kNsPerSec;
  for (const char* a : {"198.51.100.1", "2001:db8::53"}) {
    Provenance p;
    p.address = *IpAddress::parse(a);
    p.zone = "lab.";
    p.ns = "ns.nic.lab.";
    p.ns_ttl = p.addr_ttl = 3600;
    p.expires = c.taken_at + 3600 * kNsPerSec;
    p.query_name = "www.example.lab.";
    p.server = *IpAddress::parse("198.41.0.4");
    c.entries.push_back(p);
  }
  std::vector<std::byte> b = snapshot::encode(c);
  std::vector<uint8_t> out;
  for (std::byte x : b) out.push_back(std::to_integer<uint8_t>(x));
  return out;
}

namespace {
// What the encoder writes for a decoded message decodes again, to what
// encodes to the same bytes: encode(decode(x)) is a fixed point.
template <class M>
void round_trip(std::span<const std::byte> msg) {
  M m;
  if (of::decode(msg, m) != of::Status::ok) return;
  of::Buffer a;
  of::encode(a, 1, m);
  M again;
  if (of::decode(std::span<const std::byte>(a), again) != of::Status::ok) std::abort();
  of::Buffer b;
  of::encode(b, 1, again);
  if (a != b) std::abort();
}
}  // namespace

void openflow_target(const uint8_t* data, size_t size) {
  std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  while (in.size() >= 8) {
    of::Header h;
    if (of::decode_header(in, h) != of::Status::ok) return;  // a stream with a bad length is dropped
    std::span<const std::byte> msg = in.first(std::min<size_t>(h.length, in.size()));
    in = in.subspan(msg.size());
    uint32_t bitmap = 0;
    (void)of::decode_hello(msg, bitmap);
    of::FeaturesReply fr;
    (void)of::decode(msg, fr);
    of::SwitchConfig sc;
    (void)of::decode(msg, sc);
    of::Error e;
    if (of::decode(msg, e) == of::Status::ok) (void)of::describe(e);
    of::PacketIn pi;
    if (of::decode(msg, pi) == of::Status::ok && !pi.data.empty())
      (void)std::to_integer<uint8_t>(pi.data.back());  // the span must lie inside the message
    of::FlowRemoved fr2;
    (void)of::decode(msg, fr2);
    of::FlowMod fm;
    (void)of::decode(msg, fm);
    of::PacketOut po;
    (void)of::decode(msg, po);
    of::MeterMod mm;
    (void)of::decode(msg, mm);
    of::BundleCtrl bc;
    (void)of::decode(msg, bc);
    round_trip<of::SwitchConfig>(msg);
    round_trip<of::FeaturesReply>(msg);
    round_trip<of::Error>(msg);
    round_trip<of::PacketIn>(msg);
    round_trip<of::FlowRemoved>(msg);
    round_trip<of::FlowMod>(msg);
    round_trip<of::PacketOut>(msg);
    round_trip<of::MeterMod>(msg);
    round_trip<of::BundleCtrl>(msg);
    of::MultipartReply mr;
    if (of::decode(msg, mr) == of::Status::ok) {
      std::vector<of::FlowStats> stats;
      (void)of::decode_flow_stats(mr.body, stats);
    }
  }
}

}  // namespace nsgate::fuzz
