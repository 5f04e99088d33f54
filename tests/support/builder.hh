// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// Builds DNS messages and captured frames for tests, the scenario-capture
// generator and the benchmark generator. Independent of the parser: it
// encodes from the RFCs directly, so a parser bug is not mirrored here.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/ip_address.hh"

namespace nsgate::testing {

using Bytes = std::vector<std::byte>;

// Uncompressed wire form of a presentation name ("example.com", "." = root).
Bytes encode_name(std::string_view name);

namespace flags {
inline constexpr uint16_t qr = 0x8000, aa = 0x0400, tc = 0x0200, rd = 0x0100, ra = 0x0080;
}

class DnsBuilder {
 public:
  enum Section { answer = 0, authority = 1, additional = 2 };
  explicit DnsBuilder(uint16_t id, uint16_t flags = 0) : id_(id), flags_(flags) {}
  DnsBuilder& question(std::string_view name, uint16_t qtype, uint16_t qclass = 1);
  DnsBuilder& rr(Section s, std::string_view owner, uint16_t type, uint32_t ttl, const Bytes& rdata,
                 uint16_t rclass = 1);
  DnsBuilder& ns(Section s, std::string_view owner, std::string_view target, uint32_t ttl);
  // A or AAAA by the address's family.
  DnsBuilder& addr(Section s, std::string_view owner, std::string_view address, uint32_t ttl);
  DnsBuilder& cname(Section s, std::string_view owner, std::string_view target, uint32_t ttl);
  DnsBuilder& soa(Section s, std::string_view owner, uint32_t ttl);
  DnsBuilder& opt(uint16_t udp_size = 1232);
  DnsBuilder& rcode(int rc) {
    flags_ = static_cast<uint16_t>((flags_ & ~0xf) | (rc & 0xf));
    return *this;
  }
  Bytes build() const;

 private:
  uint16_t id_, flags_;
  Bytes question_;
  uint16_t qdcount_ = 0;
  Bytes sections_[3];
  uint16_t counts_[3] = {0, 0, 0};
};

struct Endpoints {
  std::string src, dst;  // IPv4 or IPv6 text; both of the same family
  uint16_t sport = 0, dport = 0;
};

// Ethernet (optionally 802.1Q-tagged) + IPv4/IPv6 + UDP.
Bytes udp_frame(const Endpoints& e, std::span<const std::byte> payload, int vlan = -1);
// Ethernet + IPv4/IPv6 + TCP with the given sequence number and flags.
Bytes tcp_frame(const Endpoints& e, uint32_t seq, uint8_t tcp_flags, std::span<const std::byte> payload);
// IPv4 UDP datagram split into fragments of at most `mtu_payload` bytes of
// IP payload (a multiple of 8); returns one Ethernet frame per fragment.
std::vector<Bytes> udp_fragments_v4(const Endpoints& e, std::span<const std::byte> payload,
                                    size_t mtu_payload);
// Prefixes a DNS message with its 2-byte TCP length.
Bytes tcp_framed(std::span<const std::byte> msg);

}  // namespace nsgate::testing
