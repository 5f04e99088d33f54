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

namespace {
uint16_t be16(const uint8_t* b) { return static_cast<uint16_t>(b[0] << 8 | b[1]); }

// decode_l4's checks on a whole, unfragmented datagram, and classify's
// port test: the transport `l4` (bounded by the IP lengths) of `proto`.
std::optional<Verdict> quick_transport(const uint8_t* l4, size_t size, uint8_t proto, const Policy& policy) {
  if (proto == pkt::kProtoUdp) {
    if (size < 8) return std::nullopt;
    size_t len = be16(l4 + 4);
    if (len < 8 || len > size) return std::nullopt;
  } else if (proto == pkt::kProtoTcp) {
    if (size < 20) return std::nullopt;
    size_t off = (size_t{l4[12]} >> 4) * 4;
    if (off < 20 || off > size) return std::nullopt;
  } else {
    return Verdict::forward_not_dns;  // no ports: not DNS whatever it is
  }
  if (policy.is_dns_port(be16(l4 + 2))) return std::nullopt;
  return Verdict::forward_not_dns;
}
}  // namespace

std::optional<Verdict> quick_verdict(std::span<const std::byte> frame, const Policy& policy) {
  const auto* f = reinterpret_cast<const uint8_t*>(frame.data());
  size_t size = frame.size();
  if (size < 14) return std::nullopt;
  uint16_t type = be16(f + 12);
  const uint8_t* ip = f + 14;
  size_t room = size - 14;
  if (type == 0x0800) {
    if (room < 20 || (ip[0] >> 4) != 4) return std::nullopt;
    size_t ihl = size_t{ip[0] & 0x0fu} * 4;
    size_t total = be16(ip + 2);
    if (ihl < 20 || total < ihl || total > room) return std::nullopt;
    if (be16(ip + 6) & 0x3fff) return std::nullopt;  // MF or an offset: a fragment
    return quick_transport(ip + ihl, total - ihl, ip[9], policy);
  }
  if (type == 0x86dd) {
    if (room < 40 || (ip[0] >> 4) != 6) return std::nullopt;
    size_t plen = be16(ip + 4);
    if (plen == 0 || 40 + plen > room) return std::nullopt;
    switch (uint8_t next = ip[6]) {
      case 0: case 43: case 44: case 51: case 60:  // extension headers: decode() walks them
        return std::nullopt;
      default:
        return quick_transport(ip + 40, plen, next, policy);
    }
  }
  if (type == 0x8100 || type == 0x88a8 || type == 0x9100) return std::nullopt;  // tagged
  return Verdict::forward_not_ip;
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
