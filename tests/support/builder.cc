// SPDX-License-Identifier: BSD-3-Clause
#include "support/builder.hh"

#include <cstring>
#include <stdexcept>

namespace nsgate::testing {

namespace {
void put8(Bytes& b, unsigned v) { b.push_back(std::byte(v & 0xff)); }
void put16(Bytes& b, unsigned v) {
  put8(b, v >> 8);
  put8(b, v);
}
void put32(Bytes& b, uint32_t v) {
  put16(b, v >> 16);
  put16(b, v & 0xffff);
}
void append(Bytes& b, std::span<const std::byte> s) {
  // resize and copy, not insert(): GCC 12 warns (-Warray-bounds) about
  // the inlined insert into a vector it has seen hold two bytes.
  size_t at = b.size();
  b.resize(at + s.size());
  if (!s.empty()) std::memcpy(b.data() + at, s.data(), s.size());
}

Bytes address_bytes(const IpAddress& a) {
  Bytes b;
  if (a.is_v4())
    for (size_t i = 12; i < 16; ++i) put8(b, a.bytes()[i]);
  else
    for (uint8_t x : a.bytes()) put8(b, x);
  return b;
}

IpAddress must_parse(std::string_view s) {
  auto a = IpAddress::parse(s);
  if (!a) throw std::invalid_argument("bad address " + std::string(s));
  return *a;
}

uint16_t checksum(std::span<const std::byte> data, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < data.size(); i += 2)
    sum += std::to_integer<uint32_t>(data[i]) << 8 | std::to_integer<uint32_t>(data[i + 1]);
  if (data.size() % 2) sum += std::to_integer<uint32_t>(data.back()) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// Ethernet header with optional 802.1Q tag.
Bytes ethernet(bool v6, int vlan) {
  Bytes b;
  for (int i = 0; i < 6; ++i) put8(b, i == 0 ? 0x02 : 0x11);  // dst: locally administered
  for (int i = 0; i < 6; ++i) put8(b, i == 0 ? 0x02 : 0x22);  // src
  if (vlan >= 0) {
    put16(b, 0x8100);
    put16(b, static_cast<unsigned>(vlan));
  }
  put16(b, v6 ? 0x86dd : 0x0800);
  return b;
}

Bytes ip_header(const IpAddress& src, const IpAddress& dst, uint8_t proto, size_t l4_len,
                uint16_t frag_field = 0, uint16_t ident = 1) {
  if (src.is_v4() != dst.is_v4()) throw std::invalid_argument("source and destination of different families");
  Bytes h;
  if (src.is_v4()) {
    put8(h, 0x45);
    put8(h, 0);
    put16(h, static_cast<unsigned>(20 + l4_len));
    put16(h, ident);
    put16(h, frag_field);
    put8(h, 64);
    put8(h, proto);
    put16(h, 0);
    append(h, address_bytes(src));
    append(h, address_bytes(dst));
    uint16_t c = checksum(h);
    h[10] = std::byte(c >> 8);
    h[11] = std::byte(c & 0xff);
  } else {
    put32(h, 0x60000000);
    put16(h, static_cast<unsigned>(l4_len));
    put8(h, proto);
    put8(h, 64);
    append(h, address_bytes(src));
    append(h, address_bytes(dst));
  }
  return h;
}

// Transport checksum over the pseudo-header; tshark validates nothing by
// default, but correct sums keep captures honest for any tool.
void set_l4_checksum(Bytes& l4, const IpAddress& src, const IpAddress& dst, uint8_t proto, size_t at) {
  Bytes pseudo = address_bytes(src);
  append(pseudo, address_bytes(dst));
  if (src.is_v4()) {
    put8(pseudo, 0);
    put8(pseudo, proto);
    put16(pseudo, static_cast<unsigned>(l4.size()));
  } else {
    put32(pseudo, static_cast<uint32_t>(l4.size()));
    put32(pseudo, proto);
  }
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < pseudo.size(); i += 2)
    sum += std::to_integer<uint32_t>(pseudo[i]) << 8 | std::to_integer<uint32_t>(pseudo[i + 1]);
  uint16_t c = checksum(l4, sum);
  if (proto == 17 && c == 0) c = 0xffff;
  l4[at] = std::byte(c >> 8);
  l4[at + 1] = std::byte(c & 0xff);
}
}  // namespace

Bytes encode_name(std::string_view name) {
  Bytes b;
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  while (!name.empty()) {
    auto dot = name.find('.');
    std::string_view label = name.substr(0, dot);
    if (label.empty() || label.size() > 63) throw std::invalid_argument("bad label in name");
    put8(b, static_cast<unsigned>(label.size()));
    for (char c : label) put8(b, static_cast<unsigned char>(c));
    name = dot == std::string_view::npos ? std::string_view{} : name.substr(dot + 1);
  }
  put8(b, 0);
  return b;
}

DnsBuilder& DnsBuilder::question(std::string_view name, uint16_t qtype, uint16_t qclass) {
  append(question_, encode_name(name));
  put16(question_, qtype);
  put16(question_, qclass);
  ++qdcount_;
  return *this;
}

DnsBuilder& DnsBuilder::rr(Section s, std::string_view owner, uint16_t type, uint32_t ttl,
                           const Bytes& rdata, uint16_t rclass) {
  Bytes& b = sections_[s];
  append(b, encode_name(owner));
  put16(b, type);
  put16(b, rclass);
  put32(b, ttl);
  put16(b, static_cast<unsigned>(rdata.size()));
  append(b, rdata);
  ++counts_[s];
  return *this;
}

DnsBuilder& DnsBuilder::ns(Section s, std::string_view owner, std::string_view target, uint32_t ttl) {
  return rr(s, owner, 2, ttl, encode_name(target));
}

DnsBuilder& DnsBuilder::addr(Section s, std::string_view owner, std::string_view address, uint32_t ttl) {
  IpAddress a = must_parse(address);
  return rr(s, owner, a.is_v4() ? 1 : 28, ttl, address_bytes(a));
}

DnsBuilder& DnsBuilder::cname(Section s, std::string_view owner, std::string_view target, uint32_t ttl) {
  return rr(s, owner, 5, ttl, encode_name(target));
}

DnsBuilder& DnsBuilder::soa(Section s, std::string_view owner, uint32_t ttl) {
  Bytes r = encode_name(std::string("ns.") + std::string(owner == "." ? "" : owner));
  append(r, encode_name(std::string("hostmaster.") + std::string(owner == "." ? "" : owner)));
  for (uint32_t v : {2026112701u, 7200u, 3600u, 1209600u, 300u}) put32(r, v);
  return rr(s, owner, 6, ttl, r);
}

DnsBuilder& DnsBuilder::opt(uint16_t udp_size) { return rr(additional, ".", 41, 0, {}, udp_size); }

Bytes DnsBuilder::build() const {
  Bytes b;
  put16(b, id_);
  put16(b, flags_);
  put16(b, qdcount_);
  for (uint16_t c : counts_) put16(b, c);
  append(b, question_);
  for (const Bytes& s : sections_) append(b, s);
  return b;
}

// UDP header and payload with its checksum.
Bytes udp_datagram(const Endpoints& e, const IpAddress& src, const IpAddress& dst,
                   std::span<const std::byte> payload) {
  Bytes l4;
  put16(l4, e.sport);
  put16(l4, e.dport);
  put16(l4, static_cast<unsigned>(8 + payload.size()));
  put16(l4, 0);
  append(l4, payload);
  set_l4_checksum(l4, src, dst, 17, 6);
  return l4;
}

Bytes udp_frame(const Endpoints& e, std::span<const std::byte> payload, int vlan) {
  IpAddress src = must_parse(e.src), dst = must_parse(e.dst);
  Bytes l4 = udp_datagram(e, src, dst, payload);
  Bytes f = ethernet(!src.is_v4(), vlan);
  append(f, ip_header(src, dst, 17, l4.size()));
  append(f, l4);
  return f;
}

Bytes tcp_frame(const Endpoints& e, uint32_t seq, uint8_t tcp_flags, std::span<const std::byte> payload) {
  IpAddress src = must_parse(e.src), dst = must_parse(e.dst);
  Bytes l4;
  put16(l4, e.sport);
  put16(l4, e.dport);
  put32(l4, seq);
  put32(l4, 0);       // ack
  put8(l4, 5 << 4);   // data offset
  put8(l4, tcp_flags);
  put16(l4, 65535);   // window
  put16(l4, 0);       // checksum
  put16(l4, 0);       // urgent
  append(l4, payload);
  set_l4_checksum(l4, src, dst, 6, 16);
  Bytes f = ethernet(!src.is_v4(), -1);
  append(f, ip_header(src, dst, 6, l4.size()));
  append(f, l4);
  return f;
}

std::vector<Bytes> udp_fragments_v4(const Endpoints& e, std::span<const std::byte> payload,
                                    size_t mtu_payload) {
  IpAddress src = must_parse(e.src), dst = must_parse(e.dst);
  Bytes l4 = udp_datagram(e, src, dst, payload);
  std::vector<Bytes> out;
  for (size_t off = 0; off < l4.size(); off += mtu_payload) {
    size_t len = std::min(mtu_payload, l4.size() - off);
    bool more = off + len < l4.size();
    auto field = static_cast<uint16_t>((more ? 0x2000 : 0) | (off / 8));
    Bytes f = ethernet(false, -1);
    append(f, ip_header(src, dst, 17, len, field, 0x4242));
    append(f, std::span<const std::byte>(l4).subspan(off, len));
    out.push_back(std::move(f));
  }
  return out;
}

Bytes tcp_framed(std::span<const std::byte> msg) {
  Bytes b;
  put16(b, static_cast<unsigned>(msg.size()));
  append(b, msg);
  return b;
}

}  // namespace nsgate::testing
