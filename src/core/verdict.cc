// SPDX-License-Identifier: BSD-3-Clause
#include "core/verdict.hh"

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
  p.learn_clients = c.learning.clients;
  for (const auto& t : c.trusted_sources) p.trusted_sources.push_back(t.prefix);
  for (const auto& s : c.static_allow)
    if (s.prefix.length != (s.prefix.address.is_v4() ? 32 : 128)) p.static_prefixes.push_back(s.prefix);
  return p;
}

namespace {
// An IPv4-mapped address (::ffff:0:0/96) in an IPv6 header. IpAddress
// holds IPv4 addresses in that form, so it would read as the IPv4 host;
// but no IPv4 host sends or receives that packet (mapped addresses are
// not for the wire, RFC 4291 2.5.5.2), and a bot could forge one to pass
// as a trusted resolver or to reach a server allowed only over IPv4.
bool mapped_v4(const pkt::Packet& p, const IpAddress& a) { return p.ip_version == 6 && a.is_v4(); }
}  // namespace

std::optional<Verdict> classify(pkt::DecodeResult r, const pkt::Packet& p, const Policy& policy) {
  if (r == pkt::DecodeResult::not_ip) return Verdict::forward_not_ip;
  // A first fragment without its header chain or ports could carry a query
  // nsgate cannot judge to a receiver that reassembles it anyway (RFC 7112
  // tells receivers to drop it; not every one does): dropped.
  if (r == pkt::DecodeResult::incomplete_first_fragment) return Verdict::drop_undecodable;
  bool to_dns_port = p.has_ports && policy.is_dns_port(p.dport);
  if (r != pkt::DecodeResult::ok) {
    // Transparent for what it cannot read: a broken packet is the
    // endpoints' business, and dropping it would make nsgate visible.
    // Except towards a DNS port, where some receivers take what nsgate
    // calls broken (Linux reads an IPv6 UDP length of 0 as "up to the end",
    // RFC 2675): judged as a query, so no header trick gets one past.
    if (policy.drop_undecodable) return Verdict::drop_undecodable;
    if (!to_dns_port) return Verdict::forward_undecodable;
  }
  if (p.later_fragment) return Verdict::forward_later_fragment;
  if (!to_dns_port) return Verdict::forward_not_dns;
  if (!mapped_v4(p, p.src) && policy.trusted(p.src)) return Verdict::pass_trusted_source;
  return std::nullopt;
}

namespace {
uint16_t be16(const uint8_t* b) { return static_cast<uint16_t>(b[0] << 8 | b[1]); }
uint32_t be32(const uint8_t* b) { return uint32_t{be16(b)} << 16 | be16(b + 2); }

// decode_l4's checks on a whole, unfragmented datagram, and classify's
// port test: the transport `l4` (bounded by the IP lengths) of `proto`.
// With `p`, a frame to a DNS port gets its transport fields filled as
// decode_l4 would, and `*decoded` set.
std::optional<Verdict> quick_transport(const uint8_t* l4, size_t size, uint8_t proto, const Policy& policy,
                                       bool either_port, pkt::Packet* p, bool* decoded) {
  size_t header = 0, end = size;
  if (proto == pkt::kProtoUdp) {
    if (size < 8) return std::nullopt;
    size_t len = be16(l4 + 4);
    if (len < 8 || len > size) return std::nullopt;
    header = 8;
    end = len;
  } else if (proto == pkt::kProtoTcp) {
    if (size < 20) return std::nullopt;
    size_t off = (size_t{l4[12]} >> 4) * 4;
    if (off < 20 || off > size) return std::nullopt;
    header = off;
  } else {
    return Verdict::forward_not_dns;  // no ports: not DNS whatever it is
  }
  if (!policy.is_dns_port(be16(l4 + 2)) && !(either_port && policy.is_dns_port(be16(l4))))
    return Verdict::forward_not_dns;
  if (p) {
    p->proto = proto;
    p->has_ports = true;
    p->sport = be16(l4);
    p->dport = be16(l4 + 2);
    bool tcp = proto == pkt::kProtoTcp;
    p->tcp_seq = tcp ? be32(l4 + 4) : 0;
    p->tcp_ack = tcp ? be32(l4 + 8) : 0;
    p->tcp_flags = tcp ? l4[13] : 0;
    p->payload = {reinterpret_cast<const std::byte*>(l4) + header, end - header};
    *decoded = true;
  }
  return std::nullopt;
}

static_assert(sizeof(pkt::Packet) == 112, "Packet changed: fill the new field in quick() as decode() does");

// The fields decode() sets before the transport, for an untagged frame
// with no fragment and no IPv6 extension header.
void fill_ip(pkt::Packet& p, int version, const uint8_t* l4, size_t l4_size) {
  p.ip_version = version;
  p.vlan_tags = 0;
  p.fragment = p.later_fragment = p.more_fragments = false;
  p.cut = false;
  p.frag_offset = 0;
  p.ip_payload = {reinterpret_cast<const std::byte*>(l4), l4_size};
}

// `either_port`: a DNS port at either end keeps the frame (inbound
// traffic: responses come from port 53).
std::optional<Verdict> quick(std::span<const std::byte> frame, const Policy& policy, bool either_port,
                             pkt::Packet* p, bool* decoded) {
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
    auto v = quick_transport(ip + ihl, total - ihl, ip[9], policy, either_port, p, decoded);
    if (p && *decoded) {
      fill_ip(*p, 4, ip + ihl, total - ihl);
      p->src = IpAddress::v4(std::span<const std::byte, 4>(reinterpret_cast<const std::byte*>(ip + 12), 4));
      p->dst = IpAddress::v4(std::span<const std::byte, 4>(reinterpret_cast<const std::byte*>(ip + 16), 4));
      p->frag_id = be16(ip + 4);
    }
    return v;
  }
  if (type == 0x86dd) {
    if (room < 40 || (ip[0] >> 4) != 6) return std::nullopt;
    size_t plen = be16(ip + 4);
    if (plen == 0 || 40 + plen > room) return std::nullopt;
    switch (uint8_t next = ip[6]) {
      case 0: case 43: case 44: case 51: case 60:  // extension headers: decode() walks them
        return std::nullopt;
      default: {
        auto v = quick_transport(ip + 40, plen, next, policy, either_port, p, decoded);
        if (p && *decoded) {
          fill_ip(*p, 6, ip + 40, plen);
          p->src = IpAddress::v6(std::span<const std::byte, 16>(reinterpret_cast<const std::byte*>(ip + 8), 16));
          p->dst = IpAddress::v6(std::span<const std::byte, 16>(reinterpret_cast<const std::byte*>(ip + 24), 16));
          p->frag_id = 0;
        }
        return v;
      }
    }
  }
  if (type == 0x8100 || type == 0x88a8 || type == 0x9100) return std::nullopt;  // tagged
  return Verdict::forward_not_ip;
}
}  // namespace

std::optional<Verdict> quick_verdict(std::span<const std::byte> frame, const Policy& policy) {
  return quick(frame, policy, false, nullptr, nullptr);
}

bool quick_not_dns_traffic(std::span<const std::byte> frame, const Policy& policy) {
  return quick(frame, policy, true, nullptr, nullptr).has_value();
}

std::optional<Verdict> quick_verdict(std::span<const std::byte> frame, const Policy& policy, pkt::Packet& query,
                                     bool& decoded) {
  decoded = false;
  return quick(frame, policy, false, &query, &decoded);
}

Verdict judge(const pkt::Packet& p, const std::optional<TableValue>& entry, const Policy& policy) {
  // The table's entry, or a static prefix, speaks for the IPv4 host only.
  bool mapped = mapped_v4(p, p.dst);
  if (entry && !mapped) {
    switch (entry->kind) {
      case EntryKind::anchor: return Verdict::pass_anchor;
      case EntryKind::static_allow: return Verdict::pass_static;
      case EntryKind::learned: return Verdict::pass_learned;
    }
  }
  if (!mapped && policy.static_cidr(p.dst)) return Verdict::pass_static;
  return policy.mode == Mode::enforce ? Verdict::drop_unknown : Verdict::alert_unknown;
}

}  // namespace nsgate
