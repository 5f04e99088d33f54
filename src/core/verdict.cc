// SPDX-License-Identifier: BSD-3-Clause
#include "core/verdict.hh"

#include <algorithm>

#include "core/x_names.hh"

namespace nsgate {

NSGATE_DEFINE_NAMES(Verdict, NSGATE_VERDICTS)

const char* reason_word(Verdict v) {
  switch (v) {
    case Verdict::pass_trusted_source: return "trusted_source";
    case Verdict::pass_anchor: return "anchor";
    case Verdict::pass_static: return "static";
    case Verdict::pass_learned: return "learned";
    case Verdict::drop_unknown:
    case Verdict::alert_unknown: return "unknown";
    default: return to_string(v);
  }
}

Policy Policy::from(const Config& c) {
  Policy p;
  p.mode = c.mode;
  p.dns_ports = c.dns_ports;
  p.drop_undecodable = c.drop_undecodable;
  for (const auto& t : c.trusted_sources) p.trusted_sources.push_back(t.prefix);
  for (const auto& s : c.static_allow)
    if (s.prefix.length != (s.prefix.address.is_v4() ? 32 : 128)) p.static_prefixes.push_back(s.prefix);
  return p;
}

bool Policy::trusted(const IpAddress& a) const {
  return std::any_of(trusted_sources.begin(), trusted_sources.end(),
                     [&](const Prefix& p) { return p.contains(a); });
}

bool Policy::static_cidr(const IpAddress& a) const {
  return std::any_of(static_prefixes.begin(), static_prefixes.end(),
                     [&](const Prefix& p) { return p.contains(a); });
}

std::optional<Verdict> classify(pkt::DecodeResult r, const pkt::Packet& p, const Policy& policy) {
  if (r == pkt::DecodeResult::not_ip) return Verdict::forward_not_ip;
  // Transparent for what it cannot read: a broken packet is the endpoints'
  // business, and dropping it would make nsgate visible.
  if (r != pkt::DecodeResult::ok)
    return policy.drop_undecodable ? Verdict::drop_undecodable : Verdict::forward_undecodable;
  if (p.later_fragment) return Verdict::forward_later_fragment;
  if (!p.has_ports || !policy.is_dns_port(p.dport)) return Verdict::forward_not_dns;
  if (policy.trusted(p.src)) return Verdict::pass_trusted_source;
  return std::nullopt;
}

Verdict judge(const pkt::Packet& p, const std::optional<TableValue>& entry, const Policy& policy) {
  if (entry) {
    switch (entry->kind) {
      case EntryKind::anchor: return Verdict::pass_anchor;
      case EntryKind::static_allow: return Verdict::pass_static;
      case EntryKind::learned: return Verdict::pass_learned;
    }
  }
  if (policy.static_cidr(p.dst)) return Verdict::pass_static;
  return policy.mode == Mode::enforce ? Verdict::drop_unknown : Verdict::alert_unknown;
}

}  // namespace nsgate
