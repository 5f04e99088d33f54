// SPDX-License-Identifier: BSD-3-Clause
#include <gtest/gtest.h>

#include "core/packet.hh"
#include "support/builder.hh"

namespace nsgate::testing {
namespace {

using pkt::DecodeResult;
using pkt::LinkType;

Bytes payload() { return DnsBuilder(1).question("lab", 1).build(); }

TEST(PacketDecode, EthernetIpv4UdpGivesAddressesPortsAndPayload) {
  Bytes p = payload();
  Bytes f = udp_frame({"192.0.2.1", "198.51.100.7", 40000, 53}, p);
  pkt::Packet k;
  ASSERT_EQ(pkt::decode(LinkType::ethernet, f, k), DecodeResult::ok);
  EXPECT_EQ(k.ip_version, 4);
  EXPECT_EQ(k.src.to_string(), "192.0.2.1");
  EXPECT_EQ(k.dst.to_string(), "198.51.100.7");
  EXPECT_EQ(k.proto, pkt::kProtoUdp);
  EXPECT_EQ(k.sport, 40000);
  EXPECT_EQ(k.dport, 53);
  EXPECT_FALSE(k.fragment);
  ASSERT_EQ(k.payload.size(), p.size());
  EXPECT_TRUE(std::equal(p.begin(), p.end(), k.payload.begin()));
}

TEST(PacketDecode, VlanTaggedFrameIsDecoded) {
  Bytes f = udp_frame({"192.0.2.1", "198.51.100.7", 40000, 53}, payload(), 42);
  pkt::Packet k;
  ASSERT_EQ(pkt::decode(LinkType::ethernet, f, k), DecodeResult::ok);
  EXPECT_EQ(k.vlan_tags, 1);
  EXPECT_EQ(k.dport, 53);
}

TEST(PacketDecode, QinQFrameIsDecoded) {
  Bytes f = udp_frame({"192.0.2.1", "198.51.100.7", 40000, 53}, payload(), 42);
  // Insert an outer 802.1ad tag before the 802.1Q one.
  Bytes outer{std::byte(0x88), std::byte(0xa8), std::byte(0), std::byte(7)};
  f.insert(f.begin() + 12, outer.begin(), outer.end());
  pkt::Packet k;
  ASSERT_EQ(pkt::decode(LinkType::ethernet, f, k), DecodeResult::ok);
  EXPECT_EQ(k.vlan_tags, 2);
  EXPECT_EQ(k.src.to_string(), "192.0.2.1");
}

TEST(PacketDecode, Ipv6UdpIsDecoded) {
  Bytes f = udp_frame({"2001:db8::1", "2001:db8::53", 40000, 53}, payload());
  pkt::Packet k;
  ASSERT_EQ(pkt::decode(LinkType::ethernet, f, k), DecodeResult::ok);
  EXPECT_EQ(k.ip_version, 6);
  EXPECT_EQ(k.dst.to_string(), "2001:db8::53");
  EXPECT_EQ(k.dport, 53);
}

TEST(PacketDecode, Ipv6ExtensionHeadersAreWalked) {
  Bytes f = udp_frame({"2001:db8::1", "2001:db8::53", 40000, 53}, payload());
  // Insert an 8-byte destination-options header (next header UDP).
  Bytes ext{std::byte(17), std::byte(0), std::byte(1), std::byte(4), std::byte(0), std::byte(0),
            std::byte(0), std::byte(0)};
  size_t ip = 14;
  f.insert(f.begin() + static_cast<long>(ip + 40), ext.begin(), ext.end());
  f[ip + 6] = std::byte(60);
  unsigned plen = (std::to_integer<unsigned>(f[ip + 4]) << 8 | std::to_integer<unsigned>(f[ip + 5])) + 8;
  f[ip + 4] = std::byte(plen >> 8);
  f[ip + 5] = std::byte(plen & 0xff);
  pkt::Packet k;
  ASSERT_EQ(pkt::decode(LinkType::ethernet, f, k), DecodeResult::ok);
  EXPECT_EQ(k.proto, pkt::kProtoUdp);
  EXPECT_EQ(k.dport, 53);
}

TEST(PacketDecode, Ipv4FragmentsAreDetectedAndLaterOnesCarryNoPorts) {
  Bytes big(600, std::byte('x'));
  auto frags = udp_fragments_v4({"192.0.2.1", "198.51.100.7", 53, 40000}, big, 256);
  ASSERT_EQ(frags.size(), 3u);
  pkt::Packet k;
  ASSERT_EQ(pkt::decode(LinkType::ethernet, frags[0], k), DecodeResult::ok);
  EXPECT_TRUE(k.fragment);
  EXPECT_FALSE(k.later_fragment);
  EXPECT_TRUE(k.has_ports);
  ASSERT_EQ(pkt::decode(LinkType::ethernet, frags[1], k), DecodeResult::ok);
  EXPECT_TRUE(k.later_fragment);
  EXPECT_FALSE(k.has_ports);
}

TEST(PacketDecode, TcpSegmentGivesSequenceFlagsAndPayload) {
  Bytes data{std::byte(0), std::byte(2), std::byte(1), std::byte(2)};
  Bytes f = tcp_frame({"192.0.2.1", "198.51.100.7", 40000, 53}, 123456, pkt::tcp_flag::ack, data);
  pkt::Packet k;
  ASSERT_EQ(pkt::decode(LinkType::ethernet, f, k), DecodeResult::ok);
  EXPECT_EQ(k.proto, pkt::kProtoTcp);
  EXPECT_EQ(k.tcp_seq, 123456u);
  EXPECT_EQ(k.tcp_flags, pkt::tcp_flag::ack);
  EXPECT_EQ(k.payload.size(), 4u);
}

TEST(PacketDecode, LinuxCookedCapturesAreDecoded) {
  Bytes eth = udp_frame({"192.0.2.1", "198.51.100.7", 40000, 53}, payload());
  Bytes ip(eth.begin() + 14, eth.end());
  Bytes sll(16, std::byte(0));
  sll[14] = std::byte(0x08);
  sll[15] = std::byte(0x00);
  sll.insert(sll.end(), ip.begin(), ip.end());
  pkt::Packet k;
  ASSERT_EQ(pkt::decode(LinkType::linux_sll, sll, k), DecodeResult::ok);
  EXPECT_EQ(k.dport, 53);
  Bytes sll2(20, std::byte(0));
  sll2[0] = std::byte(0x08);
  sll2.insert(sll2.end(), ip.begin(), ip.end());
  ASSERT_EQ(pkt::decode(LinkType::linux_sll2, sll2, k), DecodeResult::ok);
  EXPECT_EQ(k.dport, 53);
  ASSERT_EQ(pkt::decode(LinkType::raw, ip, k), DecodeResult::ok);
  EXPECT_EQ(k.dport, 53);
}

TEST(PacketDecode, EthernetPaddingIsNotPayload) {
  Bytes p = payload();
  Bytes f = udp_frame({"192.0.2.1", "198.51.100.7", 40000, 53}, p);
  f.resize(f.size() + 10, std::byte(0));
  pkt::Packet k;
  ASSERT_EQ(pkt::decode(LinkType::ethernet, f, k), DecodeResult::ok);
  EXPECT_EQ(k.payload.size(), p.size());
}

TEST(PacketDecode, NonIpIsReportedAsSuch) {
  Bytes arp(42, std::byte(0));
  arp[12] = std::byte(0x08);
  arp[13] = std::byte(0x06);
  pkt::Packet k;
  EXPECT_EQ(pkt::decode(LinkType::ethernet, arp, k), DecodeResult::not_ip);
}

TEST(PacketDecode, EveryTruncationOfAFrameFailsCleanly) {
  Bytes f = udp_frame({"2001:db8::1", "2001:db8::53", 40000, 53}, payload(), 5);
  pkt::Packet k;
  for (size_t n = 0; n < f.size(); ++n) {
    DecodeResult r = pkt::decode(LinkType::ethernet, std::span<const std::byte>(f).first(n), k);
    EXPECT_NE(r, DecodeResult::ok) << "length " << n;
  }
}

TEST(PacketDecode, ACutFrameEndingInsideItsIpv4OptionsIsTruncated) {
  // Captured with a short snap length: 24 of a 60-byte header's bytes.
  Bytes f = udp_frame({"192.0.2.1", "198.51.100.7", 40000, 53}, payload());
  f[14] = std::byte(0x4f);  // IHL 15: 60 bytes of header
  f[14 + 2] = std::byte(0);
  f[14 + 3] = std::byte(100);
  f.resize(14 + 24);
  pkt::Packet k;
  EXPECT_EQ(pkt::decode(LinkType::ethernet, f, k, 14 + 100), DecodeResult::truncated_ip);
}

TEST(PacketDecode, ALaterIpv6FragmentsDataIsNotReadAsHeaders) {
  // Fragment header (offset 8, next header "destination options"), then
  // data that is no extension header (its length byte runs far past).
  Bytes f = udp_frame({"2001:db8::1", "2001:db8::53", 40000, 53}, payload());
  size_t ip = 14;
  Bytes frag{std::byte(60), std::byte(0), std::byte(0), std::byte(8 << 3), std::byte(0), std::byte(0),
             std::byte(0), std::byte(9)};
  f.insert(f.begin() + static_cast<long>(ip + 40), frag.begin(), frag.end());
  f[ip + 40 + 8 + 1] = std::byte(0xff);
  f[ip + 6] = std::byte(44);
  unsigned plen = (std::to_integer<unsigned>(f[ip + 4]) << 8 | std::to_integer<unsigned>(f[ip + 5])) + 8;
  f[ip + 4] = std::byte(plen >> 8);
  f[ip + 5] = std::byte(plen & 0xff);
  pkt::Packet k;
  ASSERT_EQ(pkt::decode(LinkType::ethernet, f, k), DecodeResult::ok);
  EXPECT_TRUE(k.later_fragment);
  EXPECT_FALSE(k.has_ports);
  EXPECT_EQ(k.proto, 60);
}

TEST(PacketDecode, BadIpv4HeaderLengthIsRejected) {
  Bytes f = udp_frame({"192.0.2.1", "198.51.100.7", 40000, 53}, payload());
  f[14] = std::byte(0x44);  // IHL 4 < 5
  pkt::Packet k;
  EXPECT_EQ(pkt::decode(LinkType::ethernet, f, k), DecodeResult::bad_ip_header);
}

TEST(PacketDecode, UdpLengthBeyondTheDatagramIsTruncated) {
  Bytes f = udp_frame({"192.0.2.1", "198.51.100.7", 40000, 53}, payload());
  f[14 + 20 + 4] = std::byte(0xff);
  pkt::Packet k;
  EXPECT_EQ(pkt::decode(LinkType::ethernet, f, k), DecodeResult::truncated_l4);
}

}  // namespace
}  // namespace nsgate::testing
