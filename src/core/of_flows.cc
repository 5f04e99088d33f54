// SPDX-License-Identifier: BSD-3-Clause
#include "core/of_flows.hh"

#include <algorithm>

namespace nsgate::of {

namespace {

constexpr uint16_t kEthIpv4 = 0x0800, kEthIpv6 = 0x86dd;

FlowMod base(const FlowPlan& p, Stage s, uint16_t priority) {
  FlowMod f;
  f.cookie = p.cookie();
  f.table = p.stage(s);
  f.priority = priority;
  return f;
}

Instructions normal_then(std::optional<uint8_t> next) {
  Instructions i;
  i.apply = {output(port::normal)};
  i.apply_present = true;
  i.goto_table = next;
  return i;
}

IpMatch ip_match(const Prefix& pre) { return {pre.address, pre.length}; }

uint16_t eth_type_of(const IpAddress& a) { return a.is_v4() ? kEthIpv4 : kEthIpv6; }

}  // namespace

FlowPlan FlowPlan::from(const Config& c, uint32_t generation) {
  FlowPlan p;
  p.table = static_cast<uint8_t>(c.openflow.table);
  p.generation = generation;
  p.mode = c.mode;
  p.dns_ports = c.dns_ports;
  p.inside_port = c.openflow.inside_port;
  p.hold_responses = c.openflow.hold_responses;
  p.learn_copies = c.openflow.learn_from.empty();
  p.learn_clients = c.learning.clients;
  for (const TrustedSource& t : c.trusted_sources) p.trusted.push_back(t.prefix);
  for (const StaticAllow& s : c.static_allow) {
    int full = s.prefix.address.is_v4() ? 32 : 128;
    if (s.prefix.length < full) p.static_prefixes.push_back(s.prefix);  // hosts are table entries
  }
  return p;
}

std::vector<FlowMod> pipeline_flows(const FlowPlan& p) {
  std::vector<FlowMod> out;
  uint8_t judge = p.stage(Stage::judge), log = p.stage(Stage::log_copy);
  std::optional<uint8_t> learn;  // where a learning copy goes, if nsgate learns from copies
  if (p.learn_copies) learn = p.stage(Stage::learn_copy);

  // Classify: for each family, transport and DNS port, queries and responses.
  for (uint16_t eth : {kEthIpv4, kEthIpv6}) {
    for (uint8_t proto : {uint8_t{17}, uint8_t{6}}) {
      for (uint16_t dns_port : p.dns_ports) {
        FlowMod q = base(p, Stage::classify, prio::query);
        q.match.eth_type = eth;
        q.match.ip_proto = proto;
        (proto == 17 ? q.match.udp_dst : q.match.tcp_dst) = dns_port;
        if (p.inside_port) q.match.in_port = p.inside_port;
        q.instructions.goto_table = judge;
        out.push_back(q);

        FlowMod r = base(p, Stage::classify, prio::response);
        r.match.eth_type = eth;
        r.match.ip_proto = proto;
        (proto == 17 ? r.match.udp_src : r.match.tcp_src) = dns_port;
        bool hold = p.hold_responses && p.learn_copies;
        if (hold && !p.learn_clients.empty()) {
          // Only responses to the clients can teach: only they are held
          // (unmetered, they would otherwise let anyone sending from port
          // 53 flood nsgate); the rest go on, as the learn-copy table
          // would not copy them either.
          for (const Prefix& c : p.learn_clients) {
            if (eth_type_of(c.address) != eth) continue;
            FlowMod held = base(p, Stage::classify, prio::client_held_response);
            held.match = r.match;
            held.match.ip_dst = ip_match(c);
            held.instructions.apply = {output(port::controller)};
            held.instructions.apply_present = true;
            out.push_back(held);
          }
          r.instructions = normal_then(std::nullopt);
        } else if (hold) {
          r.instructions.apply = {output(port::controller)};
          r.instructions.apply_present = true;
        } else {
          r.instructions = normal_then(learn);
        }
        out.push_back(r);

        if (p.inside_port) {
          FlowMod in = base(p, Stage::classify, prio::inside_response);
          in.match = r.match;
          in.match.in_port = p.inside_port;
          in.instructions = normal_then(std::nullopt);
          out.push_back(in);
        }
      }
    }
  }
  for (uint16_t eth : {kEthIpv4, kEthIpv6}) {
    for (uint8_t proto : {uint8_t{6}, uint8_t{17}}) {
      FlowMod f = base(p, Stage::classify, prio::tiny_fragment);
      f.match.eth_type = eth;
      f.match.ip_proto = proto;
      (proto == 17 ? f.match.udp_dst : f.match.tcp_dst) = 0;  // what OVS reads when the header is cut short
      f.match.first_fragment = true;
      if (p.inside_port) f.match.in_port = p.inside_port;
      f.instructions.goto_table = judge;
      out.push_back(f);
    }
  }
  FlowMod other = base(p, Stage::classify, prio::miss);
  other.instructions = normal_then(std::nullopt);
  out.push_back(other);

  // Judge: trusted sources, CIDR statics, and the miss (enforce or monitor).
  for (const Prefix& t : p.trusted) {
    FlowMod f = base(p, Stage::judge, prio::trusted);
    f.match.eth_type = eth_type_of(t.address);
    f.match.ip_src = ip_match(t);
    f.instructions = normal_then(learn);
    out.push_back(f);
  }
  for (const Prefix& s : p.static_prefixes) {
    FlowMod f = base(p, Stage::judge, prio::allowed);
    f.match.eth_type = eth_type_of(s.address);
    f.match.ip_dst = ip_match(s);
    f.instructions = normal_then(learn);
    out.push_back(f);
  }
  FlowMod miss = base(p, Stage::judge, prio::miss);
  if (p.mode == Mode::monitor) {
    miss.instructions = normal_then(log);
  } else {
    miss.instructions.goto_table = log;  // no output: dropped, but copied to the drop log
  }
  out.push_back(miss);

  // The metered copies.
  auto copy = [&](Stage stage, uint16_t priority, uint32_t meter) {
    FlowMod c = base(p, stage, priority);
    if (p.meters) c.instructions.meter = meter;
    c.instructions.apply = {output(port::controller)};
    c.instructions.apply_present = true;
    return c;
  };
  bool only_clients = learn && p.inside_port && !p.learn_clients.empty();
  if (only_clients) {
    for (const Prefix& c : p.learn_clients) {
      FlowMod query = copy(Stage::learn_copy, prio::client_copy, kLearnMeter);
      query.match.in_port = p.inside_port;
      query.match.eth_type = eth_type_of(c.address);
      query.match.ip_src = ip_match(c);
      out.push_back(query);
      FlowMod response = copy(Stage::learn_copy, prio::client_response_copy, kLearnMeter);
      response.match.eth_type = eth_type_of(c.address);
      response.match.ip_dst = ip_match(c);
      out.push_back(response);
    }
    FlowMod none = base(p, Stage::learn_copy, prio::inside_no_copy);  // no instructions: no copy
    none.match.in_port = p.inside_port;
    out.push_back(none);
    out.push_back(base(p, Stage::learn_copy, prio::miss));
  } else {
    out.push_back(copy(Stage::learn_copy, prio::miss, kLearnMeter));
  }
  out.push_back(copy(Stage::log_copy, prio::miss, kDropLogMeter));
  return out;
}

FlowMod allow_address(const FlowPlan& p, const IpAddress& a, uint16_t hard_timeout) {
  FlowMod f = base(p, Stage::judge, prio::allowed);
  f.match.eth_type = eth_type_of(a);
  f.match.ip_dst = IpMatch{a, a.is_v4() ? 32 : 128};
  f.hard_timeout = hard_timeout;
  // The switch reports the flow's removal: one deleted by hand or evicted
  // while still wanted is put back (OfSession, FLOW_REMOVED).
  f.flags = flow_flags::send_flow_rem;
  f.instructions = normal_then(p.learn_copies ? std::optional<uint8_t>(p.stage(Stage::learn_copy)) : std::nullopt);
  return f;
}

FlowMod forget_address(const FlowPlan& p, const IpAddress& a) {
  FlowMod f = allow_address(p, a, 0);
  f.command = FlowModCommand::remove_strict;
  f.cookie = kCookieMagic;
  f.cookie_mask = kCookieMagicMask;  // only nsgate's flow, whatever its generation
  f.flags = 0;
  f.instructions = {};
  return f;
}

FlowMod remove_generation(uint32_t generation) {
  FlowMod f;
  f.command = FlowModCommand::remove;
  f.table = kTableAll;
  f.cookie = cookie_of(generation);
  f.cookie_mask = ~uint64_t{0};
  return f;
}

std::vector<MeterMod> meters(const OpenflowConfig& c, MeterModCommand command) {
  std::vector<MeterMod> out;
  for (auto [id, rate] : {std::pair{kLearnMeter, c.learn_rate}, std::pair{kDropLogMeter, c.drop_log_rate}}) {
    MeterMod m;
    m.command = command;
    m.meter_id = id;
    m.bands.push_back({rate, std::max<uint32_t>(1, rate / 10)});
    out.push_back(m);
  }
  return out;
}

std::optional<uint16_t> hard_timeout_for(TableValue v, uint32_t now_s) {
  if (v.kind != EntryKind::learned || v.expires_s == TableValue::kNever) return uint16_t{0};
  if (v.expires_s <= now_s) return std::nullopt;
  uint32_t left = v.expires_s - now_s;
  return static_cast<uint16_t>(std::min<uint32_t>(left, kMaxTimeout));
}

}  // namespace nsgate::of
