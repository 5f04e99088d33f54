// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// Packet decoding from a captured frame: link layer (Ethernet with 802.1Q /
// QinQ tags, Linux cooked SLL and SLL2, BSD loopback, raw IP), IPv4 (options,
// fragments), IPv6 (extension headers, fragments), UDP and TCP. Pure and
// allocation-free; safe on any input (the fuzz target calls it directly).

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/ip_address.hh"
#include "core/x_names.hh"

namespace nsgate::pkt {

// Capture-file link types (LINKTYPE_/DLT_ numbers) nsgate understands.
enum class LinkType : uint32_t {
  null_bsd = 0,     // 4-byte host-order address family
  ethernet = 1,
  raw_dlt12 = 12,   // DLT_RAW as libpcap reports it on Linux
  raw_dlt14 = 14,   // DLT_RAW on OpenBSD
  raw = 101,        // LINKTYPE_RAW
  loop = 108,       // 4-byte network-order address family
  linux_sll = 113,
  ipv4 = 228,
  ipv6 = 229,
  linux_sll2 = 276,
};
bool is_supported(uint32_t linktype);

// Outcomes of decoding; all but `ok` and `not_ip` are counted as errors.
#define NSGATE_DECODE_RESULTS(X)                                          \
  X(ok, "decoded")                                                        \
  X(not_ip, "not IPv4 or IPv6")                                           \
  X(unsupported_link, "link type not supported")                          \
  X(truncated_link, "link-layer header cut short")                        \
  X(truncated_ip, "IP header or payload cut short")                       \
  X(bad_ip_header, "invalid IP header (version, header or total length)") \
  X(bad_ipv6_extension, "IPv6 extension headers cut short")   \
  X(truncated_l4, "UDP or TCP header cut short")                          \
  X(bad_l4_header, "invalid UDP length or TCP data offset")                \
  X(incomplete_first_fragment, "first fragment without its whole IPv6 header chain or its ports (RFC 7112, 1858)")

enum class DecodeResult : uint8_t { NSGATE_DECODE_RESULTS(NSGATE_X_ENUMERATOR) };
inline constexpr size_t kDecodeResultCount = 0 NSGATE_DECODE_RESULTS(NSGATE_X_COUNT);
const char* to_string(DecodeResult r);
const char* describe(DecodeResult r);

inline constexpr uint8_t kProtoTcp = 6, kProtoUdp = 17;

namespace tcp_flag {
inline constexpr uint8_t fin = 0x01, syn = 0x02, rst = 0x04, psh = 0x08, ack = 0x10;
}

struct Packet {
  int ip_version = 0;
  IpAddress src, dst;
  uint8_t proto = 0;        // IP protocol of the transport header found
  uint8_t vlan_tags = 0;
  bool fragment = false;    // any IP fragment (first or later)
  bool later_fragment = false;  // offset > 0: carries no transport header
  bool has_ports = false;   // UDP or TCP header decoded
  uint16_t sport = 0, dport = 0;
  uint32_t tcp_seq = 0;
  uint32_t tcp_ack = 0;
  uint8_t tcp_flags = 0;
  // The capture kept only part of the packet (snap length): lengths in the
  // headers exceed the data, and the payload is what was kept.
  bool cut = false;
  std::span<const std::byte> payload;  // transport payload, bounded by the IP/UDP lengths
  // Fragments: identification, offset in bytes, more-fragments flag, and
  // the IP payload this fragment carries (for offline reassembly).
  uint32_t frag_id = 0;
  uint32_t frag_offset = 0;
  bool more_fragments = false;
  std::span<const std::byte> ip_payload;
};

// `wire_length` is the packet's length on the wire when the capture cut it
// short (0: the frame is whole). Only then may headers claim more than the
// frame holds; the packet is marked `cut`.
DecodeResult decode(LinkType link, std::span<const std::byte> frame, Packet& out,
                    size_t wire_length = 0) noexcept;
// Decodes a UDP or TCP header and payload (for reassembled fragments).
DecodeResult decode_transport(std::span<const std::byte> l4, Packet& p) noexcept;

}  // namespace nsgate::pkt
