// SPDX-License-Identifier: BSD-3-Clause
#include <gtest/gtest.h>

#include <algorithm>

#include "core/dns_extract.hh"
#include "support/builder.hh"

namespace nsgate::testing {
namespace {

struct Collector {
  DnsExtractor ex;
  std::vector<Bytes> messages;
  void feed(const Bytes& f) {
    ex.feed(pkt::LinkType::ethernet, 0, f, [&](const DnsMessageEvent& ev) {
      messages.emplace_back(ev.message.begin(), ev.message.end());
    });
  }
};

Endpoints down{"198.51.100.1", "192.0.2.53", 53, 40000};

Bytes msg(uint16_t id) {
  return DnsBuilder(id, flags::qr).question("lab", 2).ns(DnsBuilder::answer, "lab", "ns.lab", 60).build();
}

TEST(TcpReassembly, SeveralMessagesInOneSegmentAreAllDelivered) {
  Collector c;
  Bytes stream = tcp_framed(msg(1));
  Bytes second = tcp_framed(msg(2));
  stream.insert(stream.end(), second.begin(), second.end());
  c.feed(tcp_frame(down, 100, pkt::tcp_flag::syn, {}));
  c.feed(tcp_frame(down, 101, pkt::tcp_flag::ack, stream));
  ASSERT_EQ(c.messages.size(), 2u);
  EXPECT_EQ(c.messages[0], msg(1));
  EXPECT_EQ(c.messages[1], msg(2));
}

TEST(TcpReassembly, OutOfOrderAndRetransmittedSegmentsAreReordered) {
  Collector c;
  Bytes s = tcp_framed(msg(7));
  size_t half = s.size() / 2;
  c.feed(tcp_frame(down, 100, pkt::tcp_flag::syn, {}));
  c.feed(tcp_frame(down, static_cast<uint32_t>(101 + half), pkt::tcp_flag::ack,
                   std::span<const std::byte>(s).subspan(half)));
  EXPECT_TRUE(c.messages.empty());
  c.feed(tcp_frame(down, 101, pkt::tcp_flag::ack, std::span<const std::byte>(s).first(half)));
  c.feed(tcp_frame(down, 101, pkt::tcp_flag::ack, std::span<const std::byte>(s).first(half)));
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.messages[0], msg(7));
}

TEST(TcpReassembly, StreamWithoutHandshakeStartsAtItsFirstSegment) {
  Collector c;
  c.feed(tcp_frame(down, 5000, pkt::tcp_flag::ack, tcp_framed(msg(3))));
  ASSERT_EQ(c.messages.size(), 1u);
}

TEST(TcpReassembly, SequenceNumbersWrapAround) {
  Collector c;
  Bytes s = tcp_framed(msg(4));
  c.feed(tcp_frame(down, 0xfffffffeu, pkt::tcp_flag::syn, {}));
  c.feed(tcp_frame(down, 0xffffffffu, pkt::tcp_flag::ack, std::span<const std::byte>(s).first(3)));
  c.feed(tcp_frame(down, 2, pkt::tcp_flag::ack, std::span<const std::byte>(s).subspan(3)));
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.messages[0], msg(4));
}

}  // namespace
}  // namespace nsgate::testing

namespace nsgate::testing {
namespace {

TEST(TcpReassembly, UncapturedSegmentAckedByThePeerIsSkippedAndTheNextMessageDelivered) {
  Collector c;
  Endpoints up{"192.0.2.53", "198.51.100.1", 40000, 53};
  Bytes first = tcp_framed(msg(1)), lost = tcp_framed(msg(2)), third = tcp_framed(msg(3));
  c.feed(tcp_frame(down, 100, pkt::tcp_flag::syn, {}));
  c.feed(tcp_frame(down, 101, pkt::tcp_flag::ack, first));
  auto next = static_cast<uint32_t>(101 + first.size() + lost.size());
  c.feed(tcp_frame(down, next, pkt::tcp_flag::ack, third));  // `lost` never captured
  ASSERT_EQ(c.messages.size(), 1u);
  // The client acknowledges everything: the hole will never be filled.
  Bytes ack_frame = tcp_frame(up, 1, pkt::tcp_flag::ack, {});
  uint32_t ack = next + static_cast<uint32_t>(third.size());
  for (int i = 0; i < 4; ++i) ack_frame[14 + 20 + 8 + static_cast<size_t>(i)] = std::byte(ack >> (24 - 8 * i));
  std::vector<std::string> srcs;
  c.ex.feed(pkt::LinkType::ethernet, 0, ack_frame, [&](const DnsMessageEvent& ev) {
    c.messages.emplace_back(ev.message.begin(), ev.message.end());
    srcs.push_back(ev.packet->src.to_string());
  });
  ASSERT_EQ(c.messages.size(), 2u);
  EXPECT_EQ(c.messages[1], msg(3));
  // Attributed to the direction it travelled, not to the ACK's.
  ASSERT_EQ(srcs.size(), 1u);
  EXPECT_EQ(srcs[0], "198.51.100.1");
  EXPECT_EQ(c.ex.stats().tcp_gaps, 1u);
}

// A response of about 30 * `records` bytes.
Bytes big_msg(uint16_t id, int records) {
  DnsBuilder b(id, flags::qr);
  b.question("lab", 2);
  for (int i = 0; i < records; ++i) b.ns(DnsBuilder::answer, "lab", "ns" + std::to_string(i) + ".lab", 60);
  return b.build();
}

struct SmallExtractor {
  DnsExtractor ex;
  std::vector<Bytes> messages;
  SmallExtractor(size_t streams, size_t bytes) : ex({53}, streams, bytes) {}
  void feed(const Bytes& f) {
    ex.feed(pkt::LinkType::ethernet, 0, f, [&](const DnsMessageEvent& ev) {
      messages.emplace_back(ev.message.begin(), ev.message.end());
    });
  }
  bool got(const Bytes& m) const { return std::find(messages.begin(), messages.end(), m) != messages.end(); }
};

// Segments from port 53 anyone can send, each the start of a message that
// never ends, fill the table; a resolver's new stream still gets in (the
// least recently seen one makes room), and a recent one goes on.
TEST(TcpReassembly, AFullStreamTableMakesRoomForANewStreamByDroppingTheLeastRecent) {
  SmallExtractor c(8, DnsExtractor::kMaxTcpBytes);
  std::vector<Bytes> junk;
  for (int i = 0; i < 8; ++i) {
    Endpoints e{"203.0.113." + std::to_string(i + 1), "192.0.2.53", 53, static_cast<uint16_t>(41000 + i)};
    Bytes framed = tcp_framed(msg(static_cast<uint16_t>(100 + i)));
    c.feed(tcp_frame(e, 5000, pkt::tcp_flag::ack, std::span<const std::byte>(framed).first(10)));
    junk.push_back(tcp_frame(e, 5010, pkt::tcp_flag::ack, std::span<const std::byte>(framed).subspan(10)));
  }
  ASSERT_TRUE(c.messages.empty());
  c.feed(tcp_frame(down, 100, pkt::tcp_flag::syn, {}));
  c.feed(tcp_frame(down, 101, pkt::tcp_flag::ack, tcp_framed(msg(1))));
  EXPECT_TRUE(c.got(msg(1)));
  EXPECT_EQ(c.ex.stats().tcp_streams_evicted, 1u);
  c.feed(junk[7]);  // the most recent of the eight was kept
  EXPECT_TRUE(c.got(msg(107)));
}

// A resolver's stream, its SYN seen, outlives segments begun mid-way that
// arrive after it: those go first, however recent.
TEST(TcpReassembly, StreamsBegunWithoutASynAreDroppedBeforeOnesWithIt) {
  SmallExtractor c(4, DnsExtractor::kMaxTcpBytes);
  Bytes framed = tcp_framed(msg(1));
  c.feed(tcp_frame(down, 100, pkt::tcp_flag::syn | pkt::tcp_flag::ack, {}));
  c.feed(tcp_frame(down, 101, pkt::tcp_flag::ack, std::span<const std::byte>(framed).first(10)));
  for (int i = 0; i < 6; ++i) {
    Endpoints e{"203.0.113." + std::to_string(i + 1), "192.0.2.53", 53, static_cast<uint16_t>(41000 + i)};
    c.feed(tcp_frame(e, 5000, pkt::tcp_flag::ack, std::span<const std::byte>(tcp_framed(msg(9))).first(10)));
  }
  EXPECT_EQ(c.ex.stats().tcp_streams_evicted, 3u);
  c.feed(tcp_frame(down, 111, pkt::tcp_flag::ack, std::span<const std::byte>(framed).subspan(10)));
  EXPECT_TRUE(c.got(msg(1)));
}

// Unconsumed data is bounded in all: past the budget the least recently
// seen streams go, and what they held with them.
TEST(TcpReassembly, BufferedBytesBeyondTheBudgetEvictTheLeastRecentStreams) {
  SmallExtractor c(64, 1000);
  std::vector<Bytes> rests;
  for (int i = 0; i < 3; ++i) {
    Endpoints e{"198.51.100." + std::to_string(i + 1), "192.0.2.53", 53, static_cast<uint16_t>(42000 + i)};
    Bytes framed = tcp_framed(big_msg(static_cast<uint16_t>(200 + i), 40));
    ASSERT_GT(framed.size(), 800u);
    c.feed(tcp_frame(e, 100, pkt::tcp_flag::syn, {}));
    c.feed(tcp_frame(e, 101, pkt::tcp_flag::ack, std::span<const std::byte>(framed).first(400)));
    rests.push_back(tcp_frame(e, 501, pkt::tcp_flag::ack, std::span<const std::byte>(framed).subspan(400)));
  }
  EXPECT_EQ(c.ex.stats().tcp_streams_evicted, 1u);  // 1200 bytes held: the first stream went
  c.feed(rests[2]);
  EXPECT_TRUE(c.got(big_msg(202, 40)));
  c.feed(rests[0]);  // its start went with its stream
  EXPECT_FALSE(c.got(big_msg(200, 40)));
}

// First fragments that never get the rest, from many sources, fill the
// reassembler: the oldest make room, so a real fragmented response that
// follows is still put together.
TEST(FragmentReassembly, AFloodOfUnfinishedDatagramsLeavesRoomForARealOne) {
  Collector c;
  Bytes m = big_msg(300, 20);
  for (int i = 0; i < 5000; ++i) {
    Endpoints e{"198.18." + std::to_string(i / 256) + "." + std::to_string(i % 256), "192.0.2.53", 53, 40000};
    c.feed(udp_fragments_v4(e, m, 256)[0]);
  }
  EXPECT_TRUE(c.messages.empty());
  EXPECT_GE(c.ex.stats().fragments_dropped, 5000u - 4096u);
  auto pieces = udp_fragments_v4(down, m, 256);
  ASSERT_GT(pieces.size(), 1u);
  for (const Bytes& f : pieces) c.feed(f);
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.messages[0], m);
}

TEST(DnsExtractor, NewDnsPortsTakeEffectForTheNextPacket) {
  Collector c;
  Endpoints mdns{"198.51.100.1", "192.0.2.53", 5353, 40000};
  c.feed(udp_frame(mdns, msg(1)));
  EXPECT_TRUE(c.messages.empty());  // 5353 is not a DNS port yet
  c.ex.set_dns_ports({53, 5353});
  c.feed(udp_frame(mdns, msg(2)));
  c.ex.set_dns_ports({5353});
  c.feed(udp_frame(down, msg(3)));  // 53 no longer
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.messages[0], msg(2));
}

}  // namespace
}  // namespace nsgate::testing
