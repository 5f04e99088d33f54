// SPDX-License-Identifier: BSD-3-Clause
// The forwarding decision, the query event and its EVE line, and the
// per-source rate limiter of the drop log.

#include <gtest/gtest.h>
#include <arpa/inet.h>

#include <cstring>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "core/query_event.hh"
#include "core/verdict.hh"
#include "support/builder.hh"

namespace nsgate::testing {
namespace {

struct Judged {
  pkt::Packet p;
  pkt::DecodeResult r;
  Bytes frame;
};

Judged decode(Bytes f) {
  Judged j{{}, {}, std::move(f)};
  j.r = pkt::decode(pkt::LinkType::ethernet, j.frame, j.p);
  return j;
}

Policy policy(Mode mode = Mode::enforce) {
  Config c;
  c.mode = mode;
  c.trusted_sources.push_back({*Prefix::parse("192.0.2.53/32"), ""});
  c.static_allow.push_back({*Prefix::parse("198.51.100.0/28"), "cidr", ""});
  c.static_allow.push_back({*Prefix::parse("8.8.4.4/32"), "host", ""});
  return Policy::from(c);
}

Bytes query_to(const char* src, const char* dst, uint16_t dport = 53) {
  return udp_frame({src, dst, 40000, dport}, DnsBuilder(7).question("www.example.lab", 1).build());
}

TEST(Verdict, NonDnsTrafficIsForwardedWithoutLookingAtTheTable) {
  auto j = decode(query_to("192.0.2.10", "203.0.113.66", 443));
  EXPECT_EQ(classify(j.r, j.p, policy()), Verdict::forward_not_dns);
}

// Every field of Packet (packet.cc asserts its size, so a new field shows
// up there first).
void expect_same_packet(const pkt::Packet& a, const pkt::Packet& b, size_t trial) {
  EXPECT_EQ(a.ip_version, b.ip_version) << trial;
  EXPECT_EQ(a.src, b.src) << trial;
  EXPECT_EQ(a.dst, b.dst) << trial;
  EXPECT_EQ(a.proto, b.proto) << trial;
  EXPECT_EQ(a.vlan_tags, b.vlan_tags) << trial;
  EXPECT_EQ(a.fragment, b.fragment) << trial;
  EXPECT_EQ(a.later_fragment, b.later_fragment) << trial;
  EXPECT_EQ(a.has_ports, b.has_ports) << trial;
  EXPECT_EQ(a.sport, b.sport) << trial;
  EXPECT_EQ(a.dport, b.dport) << trial;
  EXPECT_EQ(a.tcp_seq, b.tcp_seq) << trial;
  EXPECT_EQ(a.tcp_ack, b.tcp_ack) << trial;
  EXPECT_EQ(a.tcp_flags, b.tcp_flags) << trial;
  EXPECT_EQ(a.cut, b.cut) << trial;
  EXPECT_EQ(a.payload.data(), b.payload.data()) << trial;
  EXPECT_EQ(a.payload.size(), b.payload.size()) << trial;
  EXPECT_EQ(a.frag_id, b.frag_id) << trial;
  EXPECT_EQ(a.frag_offset, b.frag_offset) << trial;
  EXPECT_EQ(a.more_fragments, b.more_fragments) << trial;
  EXPECT_EQ(a.ip_payload.data(), b.ip_payload.data()) << trial;
  EXPECT_EQ(a.ip_payload.size(), b.ip_payload.size()) << trial;
}

// The oracle is the full path: decode() then classify(). On frames of every
// kind, mangled at random, the quick verdict may decline but never differs,
// and a query it reads is read as decode() reads it.
TEST(Verdict, QuickVerdictAgreesWithDecodeAndClassifyOrDeclines) {
  std::mt19937_64 rng(20261127);
  Policy pol = policy();
  pol.dns_ports = {53, 853};
  const uint16_t ports[] = {53, 853, 443, 80, 5353, 0, 65535};
  const char* v4[] = {"192.0.2.10", "203.0.113.66"};
  const char* v6[] = {"2001:db8::10", "2001:db8::66"};
  size_t answered = 0, plain = 0, plain_answered = 0, filled = 0, inbound_answered = 0, trials = 40000;
  for (size_t t = 0; t < trials; ++t) {
    bool ipv6 = rng() % 3 == 0;
    // Sometimes from a DNS port too (a response, as the outside port sees).
    uint16_t sport = rng() % 4 == 0 ? ports[rng() % std::size(ports)] : static_cast<uint16_t>(40000 + rng() % 100);
    Endpoints e{ipv6 ? v6[0] : v4[0], ipv6 ? v6[1] : v4[1], sport, ports[rng() % std::size(ports)]};
    Bytes payload(rng() % 64);
    for (auto& b : payload) b = static_cast<std::byte>(rng());
    Bytes f = rng() % 2 ? udp_frame(e, payload, rng() % 8 == 0 ? 7 : -1)
                        : tcp_frame(e, static_cast<uint32_t>(rng()), pkt::tcp_flag::ack, payload);
    bool mangled = rng() % 4 != 0;
    if (mangled && rng() % 2) {
      // The fields the quick path reads: protocol / next header (extension
      // headers, fragments, no ports) and the IPv4 fragment field.
      const uint8_t protos[] = {0, 1, 6, 17, 43, 44, 51, 59, 60};
      f[ipv6 ? 20 : 23] = static_cast<std::byte>(protos[rng() % std::size(protos)]);
      if (!ipv6 && rng() % 2) {
        const uint16_t frag[] = {0x2000, 0x0001, 0x4000, 0x0100, static_cast<uint16_t>(rng())};
        uint16_t v = frag[rng() % std::size(frag)];
        f[20] = static_cast<std::byte>(v >> 8);
        f[21] = static_cast<std::byte>(v);
      }
    }
    if (mangled && rng() % 2) {
      // Flip header octets (types, lengths, versions, flags, protocols),
      // or cut the frame short, or both.
      for (int k = static_cast<int>(rng() % 4); k >= 0; --k)
        f[rng() % std::min<size_t>(f.size(), 80)] = static_cast<std::byte>(rng() % 3 == 0 ? 0 : rng());
      if (rng() % 3 == 0) f.resize(rng() % (f.size() + 1));
    }
    pkt::Packet p;
    pkt::DecodeResult r = pkt::decode(pkt::LinkType::ethernet, f, p);
    std::optional<Verdict> full = classify(r, p, pol);
    std::optional<Verdict> quick = quick_verdict(f, pol);
    pkt::Packet q;
    bool decoded = false;
    ASSERT_EQ(quick_verdict(f, pol, q, decoded), quick) << "trial " << t;
    if (decoded) {
      ++filled;
      ASSERT_FALSE(quick.has_value()) << "trial " << t;
      ASSERT_EQ(r, pkt::DecodeResult::ok) << "trial " << t;
      expect_same_packet(q, p, t);
    }
    // The outside port's question: is there DNS in it at all?
    bool dns_traffic = r == pkt::DecodeResult::ok && p.has_ports &&
                       (pol.is_dns_port(p.sport) || pol.is_dns_port(p.dport));
    if (quick_not_dns_traffic(f, pol)) {
      ++inbound_answered;
      ASSERT_FALSE(dns_traffic) << "trial " << t;
    } else if (!mangled && r == pkt::DecodeResult::ok && !p.vlan_tags && !dns_traffic) {
      ADD_FAILURE() << "trial " << t << ": a plain frame without DNS ports missed the quick path";
    }
    if (quick) {
      ++answered;
      ASSERT_TRUE(full.has_value()) << "trial " << t << ": quick " << to_string(*quick) << ", full path: a query";
      ASSERT_EQ(*quick, *full) << "trial " << t;
    }
    if (!mangled && r == pkt::DecodeResult::ok && !p.vlan_tags && !pol.is_dns_port(p.dport)) {
      ++plain;
      plain_answered += quick.has_value();
    }
  }
  EXPECT_GT(plain, trials / 10);
  EXPECT_EQ(plain_answered, plain) << "every plain, untagged non-DNS frame takes the quick path";
  EXPECT_GT(answered, trials / 4);
  EXPECT_GT(filled, trials / 10);  // queries read once
  EXPECT_GT(inbound_answered, trials / 5);
}

TEST(Verdict, QueriesFromTrustedResolversPassWhateverTheDestination) {
  auto j = decode(query_to("192.0.2.53", "203.0.113.66"));
  EXPECT_EQ(classify(j.r, j.p, policy()), Verdict::pass_trusted_source);
}

// An IPv6 query whose source or destination is an IPv4-mapped address
// (bytes 8-23 and 24-39 of the IPv6 header patched in).
Judged mapped_query(const char* src_v4, const char* dst_v4) {
  Bytes f = query_to("2001:db8::99", "2001:db8:6::66");
  auto patch = [&f](size_t at, const char* v4) {
    if (!v4) return;
    Bytes mapped(16, std::byte{0});
    mapped[10] = mapped[11] = std::byte{0xff};
    auto a = IpAddress::parse(v4)->bytes();
    std::memcpy(mapped.data() + 12, a.data() + 12, 4);
    std::memcpy(f.data() + 14 + at, mapped.data(), 16);
  };
  patch(8, src_v4);
  patch(24, dst_v4);
  return decode(std::move(f));
}

TEST(Verdict, AnIpv6QueryFromAnIpv4MappedTrustedAddressIsNotTrusted) {
  auto j = mapped_query("192.0.2.53", nullptr);
  ASSERT_EQ(j.r, pkt::DecodeResult::ok);
  ASSERT_EQ(j.p.ip_version, 6);
  EXPECT_EQ(classify(j.r, j.p, policy()), std::nullopt);
  EXPECT_EQ(judge(j.p, std::nullopt, policy()), Verdict::drop_unknown);
}

TEST(Verdict, AnIpv6QueryToAnIpv4MappedAllowedServerIsUnknown) {
  auto host = mapped_query(nullptr, "8.8.4.4");
  auto cidr = mapped_query(nullptr, "198.51.100.9");
  ASSERT_EQ(classify(host.r, host.p, policy()), std::nullopt);
  // The table holds the IPv4 server; its entry does not speak for this packet.
  EXPECT_EQ(judge(host.p, TableValue{TableValue::kNever, 1, EntryKind::static_allow}, policy()), Verdict::drop_unknown);
  EXPECT_EQ(judge(cidr.p, std::nullopt, policy()), Verdict::drop_unknown);
  EXPECT_EQ(judge(cidr.p, std::nullopt, policy(Mode::monitor)), Verdict::alert_unknown);
}

TEST(Verdict, QueryToAnUnknownServerIsDroppedInEnforceAndAlertedInMonitor) {
  auto j = decode(query_to("192.0.2.10", "203.0.113.66"));
  ASSERT_EQ(classify(j.r, j.p, policy()), std::nullopt);
  EXPECT_EQ(judge(j.p, std::nullopt, policy()), Verdict::drop_unknown);
  EXPECT_EQ(judge(j.p, std::nullopt, policy(Mode::monitor)), Verdict::alert_unknown);
  EXPECT_FALSE(forwards(Verdict::drop_unknown));
  EXPECT_TRUE(forwards(Verdict::alert_unknown));
}

TEST(Verdict, TableEntriesPassByTheirKind) {
  auto j = decode(query_to("192.0.2.10", "203.0.113.10"));
  EXPECT_EQ(judge(j.p, TableValue{100, 1, EntryKind::learned}, policy()), Verdict::pass_learned);
  EXPECT_EQ(judge(j.p, TableValue{TableValue::kNever, 1, EntryKind::anchor}, policy()), Verdict::pass_anchor);
  EXPECT_EQ(judge(j.p, TableValue{TableValue::kNever, 1, EntryKind::static_allow}, policy()), Verdict::pass_static);
}

TEST(Verdict, CidrStaticAllowsPassWithoutATableEntry) {
  auto in = decode(query_to("192.0.2.10", "198.51.100.9"));
  auto out = decode(query_to("192.0.2.10", "198.51.100.16"));
  EXPECT_EQ(judge(in.p, std::nullopt, policy()), Verdict::pass_static);
  EXPECT_EQ(judge(out.p, std::nullopt, policy()), Verdict::drop_unknown);
}

TEST(Verdict, UndecodablePacketsFollowThePolicy) {
  Bytes f = query_to("192.0.2.10", "203.0.113.66", 443);
  f[14 + 20 + 4] = std::byte(0x7f);  // UDP length beyond the packet
  auto j = decode(f);
  ASSERT_EQ(j.r, pkt::DecodeResult::truncated_l4);
  Policy lax = policy(), strict = policy();
  strict.drop_undecodable = true;
  EXPECT_EQ(classify(j.r, j.p, lax), Verdict::forward_undecodable);
  EXPECT_EQ(classify(j.r, j.p, strict), Verdict::drop_undecodable);
}

TEST(Verdict, AMalformedTransportHeaderToADnsPortIsJudgedAsAQuery) {
  // Linux takes an IPv6 UDP length of 0 as "up to the end of the packet"
  // (RFC 2675's jumbogram rule) and answers the query: forwarding it as
  // merely undecodable let it reach any server, unlogged.
  Bytes zero = udp_frame({"2001:db8::10", "2001:db8:66::53", 40000, 53},
                         DnsBuilder(7).question("cmd.c2.invalid", 1).build());
  zero[14 + 40 + 4] = zero[14 + 40 + 5] = std::byte(0);
  Bytes long_udp = query_to("192.0.2.10", "203.0.113.66");
  long_udp[14 + 20 + 4] = std::byte(0x7f);  // length beyond the packet
  Bytes tcp = tcp_frame({"192.0.2.10", "203.0.113.66", 40000, 53}, 1, pkt::tcp_flag::syn, {});
  tcp[14 + 20 + 12] = std::byte(0x10);  // data offset 4 bytes: below the header's own 20
  for (const Bytes& f : {zero, long_udp, tcp}) {
    auto j = decode(f);
    EXPECT_NE(j.r, pkt::DecodeResult::ok);
    ASSERT_EQ(classify(j.r, j.p, policy()), std::nullopt) << pkt::to_string(j.r);
    EXPECT_EQ(judge(j.p, std::nullopt, policy()), Verdict::drop_unknown);
    EXPECT_EQ(judge(j.p, std::nullopt, policy(Mode::monitor)), Verdict::alert_unknown);
    Policy strict = policy();
    strict.drop_undecodable = true;
    EXPECT_EQ(classify(j.r, j.p, strict), Verdict::drop_undecodable);
  }
  // To an allowed server it passes as any query would; from a trusted
  // resolver too.
  Bytes to_static = query_to("192.0.2.10", "198.51.100.9");  // a CIDR static
  to_static[14 + 20 + 4] = std::byte(0x7f);
  auto a = decode(to_static);
  ASSERT_EQ(classify(a.r, a.p, policy()), std::nullopt);
  EXPECT_EQ(judge(a.p, std::nullopt, policy()), Verdict::pass_static);
  Bytes from_resolver = query_to("192.0.2.53", "203.0.113.66");
  from_resolver[14 + 20 + 4] = std::byte(0x7f);
  auto t = decode(from_resolver);
  EXPECT_EQ(classify(t.r, t.p, policy()), Verdict::pass_trusted_source);
}

// An IPv4 first fragment (MF set, offset 0) holding only the first
// `l4_bytes` bytes of a TCP SYN from `e`: RFC 1858's tiny fragment.
Bytes tiny_first_tcp_fragment(const Endpoints& e, size_t l4_bytes) {
  Bytes f = tcp_frame(e, 1, pkt::tcp_flag::syn, {});
  size_t ip = 14;
  f.resize(ip + 20 + l4_bytes);
  size_t total = 20 + l4_bytes;
  f[ip + 2] = std::byte(total >> 8);
  f[ip + 3] = std::byte(total & 0xff);
  f[ip + 6] = std::byte(0x20);  // MF, offset 0
  f[ip + 7] = std::byte(0);
  return f;
}

TEST(Verdict, ATinyFirstFragmentOfATcpQueryIsJudgedByItsPorts) {
  // Its ports are in the first 4 bytes; the receiver reassembles the
  // connection as if whole, so nsgate judges it as a query.
  for (size_t bytes : {4u, 8u, 16u}) {
    auto j = decode(tiny_first_tcp_fragment({"192.0.2.10", "203.0.113.66", 40000, 53}, bytes));
    ASSERT_EQ(j.r, pkt::DecodeResult::ok) << bytes;
    EXPECT_TRUE(j.p.fragment);
    EXPECT_EQ(j.p.dport, 53);
    ASSERT_EQ(classify(j.r, j.p, policy()), std::nullopt) << bytes;
    EXPECT_EQ(judge(j.p, std::nullopt, policy()), Verdict::drop_unknown);
  }
  // Fewer than 4 bytes: not even the ports. Dropped, whatever
  // drop_undecodable says.
  auto j = decode(tiny_first_tcp_fragment({"192.0.2.10", "203.0.113.66", 40000, 53}, 2));
  EXPECT_EQ(j.r, pkt::DecodeResult::incomplete_first_fragment);
  EXPECT_EQ(classify(j.r, j.p, policy()), Verdict::drop_undecodable);
}

// An IPv6 frame to port 53 whose payload is `chain` (extension headers
// starting with a fragment header), payload length set to it.
Bytes ipv6_with_chain(const Bytes& chain) {
  Bytes f = udp_frame({"2001:db8::10", "2001:db8:66::53", 40000, 53}, Bytes(8));
  size_t ip = 14;
  f.resize(ip + 40);
  f.insert(f.end(), chain.begin(), chain.end());
  f[ip + 6] = std::byte(44);
  f[ip + 4] = std::byte(chain.size() >> 8);
  f[ip + 5] = std::byte(chain.size() & 0xff);
  return f;
}

TEST(Verdict, AnIpv6FirstFragmentWithoutItsWholeHeaderChainIsDropped) {
  // RFC 7112: the first fragment holds every extension header and the
  // transport header. Here a destination-options header claims 64 bytes
  // and the fragment ends after 16: where the ports are is unknowable.
  Bytes f = ipv6_with_chain({std::byte(60), std::byte(0), std::byte(0), std::byte(1), std::byte(0), std::byte(0),
                             std::byte(0), std::byte(7),  // fragment: next dest-opts, offset 0, M=1
                             std::byte(17), std::byte(7), std::byte(1), std::byte(4), std::byte(0), std::byte(0),
                             std::byte(0), std::byte(0)});  // dest-opts: 64 bytes claimed
  size_t ip = 14;
  auto j = decode(f);
  EXPECT_EQ(j.r, pkt::DecodeResult::incomplete_first_fragment);
  EXPECT_EQ(classify(j.r, j.p, policy()), Verdict::drop_undecodable);
  // The same chain whole, not a fragment: merely undecodable, forwarded.
  f[ip + 40 + 3] = std::byte(0);
  auto whole = decode(f);
  EXPECT_EQ(whole.r, pkt::DecodeResult::bad_ipv6_extension);
  EXPECT_EQ(classify(whole.r, whole.p, policy()), Verdict::forward_undecodable);
}

TEST(Verdict, AnIpv6FirstFragmentEndingInACutFragmentHeaderIsDropped) {
  // Fragment (offset 0, M=1), destination options, then a second fragment
  // header of which only 4 bytes are there: the chain does not end in the
  // first fragment either.
  Bytes f = ipv6_with_chain({std::byte(60), std::byte(0), std::byte(0), std::byte(1), std::byte(0), std::byte(0),
                             std::byte(0), std::byte(7),  // fragment: next dest-opts, offset 0, M=1
                             std::byte(44), std::byte(0), std::byte(1), std::byte(4), std::byte(0), std::byte(0),
                             std::byte(0), std::byte(0),  // dest-opts (8 bytes): next fragment
                             std::byte(17), std::byte(0), std::byte(0), std::byte(0)});  // 4 bytes of a fragment header
  auto j = decode(f);
  EXPECT_EQ(j.r, pkt::DecodeResult::incomplete_first_fragment);
  EXPECT_EQ(classify(j.r, j.p, policy()), Verdict::drop_undecodable);
}

TEST(Verdict, AFirstFragmentWhoseTcpOptionsGoOnIsJudgedByItsPorts) {
  Bytes f = tiny_first_tcp_fragment({"192.0.2.10", "203.0.113.66", 40000, 53}, 24);
  f[14 + 20 + 12] = std::byte(0xf0);  // data offset 60 bytes: the options continue in the next fragment
  auto j = decode(f);
  ASSERT_EQ(j.r, pkt::DecodeResult::ok);
  ASSERT_EQ(classify(j.r, j.p, policy()), std::nullopt);
  EXPECT_EQ(judge(j.p, std::nullopt, policy()), Verdict::drop_unknown);
}

TEST(Verdict, AQueryBehindALongChainOfIpv6ExtensionHeadersIsJudged) {
  Bytes f = udp_frame({"2001:db8::10", "2001:db8:66::53", 40000, 53}, DnsBuilder(7).question("bot.lab", 1).build());
  size_t ip = 14;
  const int headers = 12;
  Bytes chain;
  for (int i = 0; i < headers; ++i) {
    // Destination options, 8 bytes (PadN): next header 60 again, UDP last.
    uint8_t next = i + 1 < headers ? 60 : 17;
    Bytes h{std::byte(next), std::byte(0), std::byte(1), std::byte(4), std::byte(0), std::byte(0), std::byte(0),
            std::byte(0)};
    chain.insert(chain.end(), h.begin(), h.end());
  }
  f.insert(f.begin() + static_cast<long>(ip + 40), chain.begin(), chain.end());
  f[ip + 6] = std::byte(60);
  unsigned plen = (std::to_integer<unsigned>(f[ip + 4]) << 8 | std::to_integer<unsigned>(f[ip + 5])) + 8 * headers;
  f[ip + 4] = std::byte(plen >> 8);
  f[ip + 5] = std::byte(plen & 0xff);
  auto j = decode(f);
  ASSERT_EQ(j.r, pkt::DecodeResult::ok);
  EXPECT_EQ(j.p.dport, 53);
  ASSERT_EQ(classify(j.r, j.p, policy()), std::nullopt);
  EXPECT_EQ(judge(j.p, std::nullopt, policy()), Verdict::drop_unknown);
}

TEST(Verdict, LaterFragmentsCarryNoPortsAndAreForwarded) {
  auto frags = udp_fragments_v4({"192.0.2.10", "203.0.113.66", 40000, 53}, Bytes(300, std::byte(1)), 160);
  auto j = decode(frags[1]);
  EXPECT_EQ(classify(j.r, j.p, policy()), Verdict::forward_later_fragment);
}

TEST(QueryEvent, EveLineCarriesClientServerAndQuestion) {
  auto j = decode(query_to("192.0.2.10", "203.0.113.66"));
  QueryEvent ev;
  ev.time = 1'700'000'000 * kNsPerSec;
  ev.verdict = Verdict::drop_unknown;
  fill_event(ev, j.p, false);
  std::string line = eve_json(ev, 3);
  EXPECT_EQ(line,
            "{\"timestamp\":\"2023-11-14T22:13:20.000000Z\",\"event_type\":\"drop\",\"src_ip\":\"192.0.2.10\","
            "\"src_port\":40000,\"dest_ip\":\"203.0.113.66\",\"dest_port\":53,\"proto\":\"UDP\",\"dns\":{\"id\":7,"
            "\"rrname\":\"www.example.lab.\",\"rrtype\":\"A\"},\"nsgate\":{\"reason\":\"unknown\","
            "\"verdict\":\"drop_unknown\",\"suppressed\":3}}");
}

// The drop log shows the IPv6 packet's mapped address as the IPv6 address
// it is (inet_ntop's form), not as the trusted IPv4 resolver it imitates.
TEST(QueryEvent, AnIpv4MappedAddressOfAnIpv6PacketIsLoggedAsIpv6) {
  auto j = mapped_query("192.0.2.53", nullptr);
  QueryEvent ev;
  ev.verdict = Verdict::drop_unknown;
  fill_event(ev, j.p, false);
  std::string line = eve_json(ev);
  in6_addr raw{};
  std::memcpy(&raw, j.frame.data() + 14 + 8, 16);
  char text[INET6_ADDRSTRLEN];
  ASSERT_NE(inet_ntop(AF_INET6, &raw, text, sizeof text), nullptr);
  EXPECT_NE(line.find(std::string("\"src_ip\":\"") + text + "\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"dest_ip\":\"2001:db8:6::66\""), std::string::npos) << line;
  auto v4 = decode(query_to("192.0.2.53", "203.0.113.66"));
  fill_event(ev, v4.p, false);  // a reused slot
  EXPECT_NE(eve_json(ev).find("\"src_ip\":\"192.0.2.53\""), std::string::npos);
}

TEST(QueryEvent, AMixedCaseNameIsLoggedLowerCased) {
  // 0x20-randomised names (resolvers mix the case of queries) log as one.
  auto j = decode(udp_frame({"192.0.2.10", "203.0.113.66", 40000, 53},
                            DnsBuilder(7).question("wWw.ExAmPlE.LaB", 1).build()));
  QueryEvent ev;
  fill_event(ev, j.p, false);
  EXPECT_EQ(qname_text(ev), "www.example.lab.");
}

TEST(QueryEvent, UnreadableQuestionLeavesTheNameEmpty) {
  auto j = decode(udp_frame({"192.0.2.10", "203.0.113.66", 40000, 53}, Bytes{std::byte(1), std::byte(2)}));
  QueryEvent ev;
  fill_event(ev, j.p, false);
  EXPECT_EQ(ev.qname_len, 0);
  EXPECT_EQ(qname_text(ev), "");
}

TEST(QueryEvent, AReusedEventKeepsNothingOfTheQueryBefore) {
  // Workers fill events in ring slots that earlier events used.
  auto good = decode(query_to("192.0.2.10", "203.0.113.66"));
  auto bad = decode(udp_frame({"192.0.2.10", "203.0.113.66", 40000, 53}, Bytes{std::byte(1), std::byte(2)}));
  QueryEvent ev;
  fill_event(ev, good.p, false);
  ASSERT_EQ(ev.dns_id, 7);
  ASSERT_NE(ev.qtype, 0);
  fill_event(ev, bad.p, false);
  EXPECT_EQ(ev.dns_id, 0);
  EXPECT_EQ(ev.qtype, 0);
  EXPECT_EQ(ev.qname_len, 0);
}

TEST(RateLimiter, BurstThenRateAndSuppressedCountsAreReported) {
  RateLimiter rl(2.0, 3.0);
  auto a = *IpAddress::parse("192.0.2.10"), b = *IpAddress::parse("192.0.2.11");
  uint64_t sup = 0;
  TimeNs t = 0;
  int allowed = 0;
  for (int i = 0; i < 10; ++i) allowed += rl.allow(a, t, sup);
  EXPECT_EQ(allowed, 3);
  EXPECT_TRUE(rl.allow(b, t, sup));  // another source has its own bucket
  t += kNsPerSec;                     // two tokens back
  EXPECT_TRUE(rl.allow(a, t, sup));
  EXPECT_EQ(sup, 7u);
  EXPECT_TRUE(rl.allow(a, t, sup));
  EXPECT_EQ(sup, 0u);
  EXPECT_FALSE(rl.allow(a, t, sup));
}

TEST(RateLimiter, ForgetsTheLeastRecentSourceWhenFull) {
  RateLimiter rl(1.0, 1.0, 2);
  uint64_t sup = 0;
  auto a = *IpAddress::parse("192.0.2.1"), b = *IpAddress::parse("192.0.2.2"), c = *IpAddress::parse("192.0.2.3");
  EXPECT_TRUE(rl.allow(a, 0, sup));
  EXPECT_TRUE(rl.allow(b, 1, sup));
  EXPECT_TRUE(rl.allow(c, 2, sup));  // a is forgotten
  EXPECT_TRUE(rl.allow(a, 3, sup));  // fresh bucket for a again
  EXPECT_FALSE(rl.allow(c, 4, sup));
}

TEST(RateLimiter, ASourceSeenAgainIsNoLongerTheOldest) {
  RateLimiter rl(1.0, 1.0, 2);
  uint64_t sup = 0;
  auto a = *IpAddress::parse("192.0.2.1"), b = *IpAddress::parse("192.0.2.2"), c = *IpAddress::parse("192.0.2.3");
  EXPECT_TRUE(rl.allow(a, 0, sup));
  EXPECT_TRUE(rl.allow(b, 1, sup));
  EXPECT_FALSE(rl.allow(a, 2, sup));  // a again: now the most recent
  EXPECT_TRUE(rl.allow(c, 3, sup));   // b is forgotten, not a
  EXPECT_TRUE(rl.knows(a));
  EXPECT_FALSE(rl.knows(b));
  EXPECT_FALSE(rl.allow(a, 3, sup));  // a kept its empty bucket
}

TEST(RateLimiter, EventsOutOfTimeOrderAreNotCreditedTwice) {
  // Two workers' events reach the control thread one worker after the
  // other, so a source's times can step back.
  RateLimiter rl(1.0, 5.0);
  auto a = *IpAddress::parse("192.0.2.10");
  uint64_t sup = 0;
  TimeNs t = 100 * kNsPerSec;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(rl.allow(a, t, sup));
  EXPECT_FALSE(rl.allow(a, t - kNsPerSec, sup));  // from the other worker, a second earlier
  // One second after t earns one token, not two.
  EXPECT_TRUE(rl.allow(a, t + kNsPerSec, sup));
  EXPECT_FALSE(rl.allow(a, t + kNsPerSec, sup));
}

TEST(RateLimiter, NewLimitsKeepTheSourcesAndWhatTheyHadSuppressed) {
  RateLimiter rl(1.0, 2.0);
  auto a = *IpAddress::parse("192.0.2.10");
  uint64_t sup = 0;
  TimeNs t = 0;
  for (int i = 0; i < 5; ++i) rl.allow(a, t, sup);  // 2 written, 3 suppressed
  rl.set_limits(1.0, 1.0);
  EXPECT_TRUE(rl.knows(a));
  EXPECT_FALSE(rl.allow(a, t, sup));  // still no token: the reload gave none
  t += kNsPerSec;
  EXPECT_TRUE(rl.allow(a, t, sup));
  EXPECT_EQ(sup, 4u);  // the three before the reload and the one after
}

TEST(RateLimiter, AClockSteppedBackADayEarnsTokensFromTheNewTime) {
  RateLimiter rl(1.0, 1.0);
  auto a = *IpAddress::parse("192.0.2.10");
  uint64_t sup = 0;
  TimeNs t = 200'000 * kNsPerSec, back = t - 86'400 * kNsPerSec;
  ASSERT_TRUE(rl.allow(a, t, sup));
  EXPECT_FALSE(rl.allow(a, t, sup));
  EXPECT_FALSE(rl.allow(a, back, sup));  // the step gives no token either
  EXPECT_EQ(rl.token_at(a, back), back + kNsPerSec);
  EXPECT_TRUE(rl.allow(a, back + kNsPerSec, sup));
  EXPECT_EQ(sup, 2u);
}

TEST(RateLimiter, ATokenTooFarAwayForTheClockIsNever) {
  RateLimiter rl(1e-12, 1.0);  // one event per 30 000 years
  auto a = *IpAddress::parse("192.0.2.10");
  uint64_t sup = 0;
  TimeNs t = 1'800'000'000 * kNsPerSec;
  ASSERT_TRUE(rl.allow(a, t, sup));
  EXPECT_EQ(rl.token_at(a, t), RateLimiter::kNever);
  RateLimiter slow(1e-6, 1.0);  // one per 11.6 days: still on the clock
  ASSERT_TRUE(slow.allow(a, t, sup));
  EXPECT_EQ(slow.token_at(a, t), t + 1'000'000 * kNsPerSec);
}

// EventThrottle: events are told apart by seq, clients by src.
QueryEvent event_from(const IpAddress& src, TimeNs t, uint64_t seq) {
  QueryEvent ev;
  ev.src = src;
  ev.time = t;
  ev.seq = seq;
  ev.verdict = Verdict::drop_unknown;
  return ev;
}

struct Lines {
  std::vector<std::pair<uint64_t, uint64_t>> got;  // (seq, suppressed)
  EventThrottle::Write write() {
    return [this](const QueryEvent& ev, uint64_t suppressed) { got.emplace_back(ev.seq, suppressed); };
  }
};

using SeqAndCount = std::vector<std::pair<uint64_t, uint64_t>>;

TEST(EventThrottle, AQuietClientsLastHeldBackEventIsWrittenOnceItHasATokenAgain) {
  EventThrottle th(1.0, 2.0);
  Lines lines;
  auto a = *IpAddress::parse("192.0.2.10");
  for (uint64_t i = 1; i <= 5; ++i) th.offer(event_from(a, 0, i), lines.write());
  EXPECT_EQ(lines.got, (SeqAndCount{{1, 0}, {2, 0}}));
  th.flush(kNsPerSec / 2, lines.write());  // half a token
  EXPECT_EQ(lines.got.size(), 2u);
  th.flush(kNsPerSec, lines.write());
  // The last of the three held back, reporting the two before it.
  EXPECT_EQ(lines.got, (SeqAndCount{{1, 0}, {2, 0}, {5, 2}}));
  EXPECT_EQ(th.held(), 0u);
  // That line took the token: the client's next event waits again.
  th.offer(event_from(a, kNsPerSec, 6), lines.write());
  EXPECT_EQ(lines.got.size(), 3u);
  EXPECT_EQ(th.held(), 1u);
}

TEST(EventThrottle, ALineWithinTheRateReportsTheHeldBackEventsAndEndsTheHold) {
  EventThrottle th(1.0, 1.0);
  Lines lines;
  auto a = *IpAddress::parse("192.0.2.10");
  for (uint64_t i = 1; i <= 4; ++i) th.offer(event_from(a, 0, i), lines.write());
  th.offer(event_from(a, kNsPerSec, 5), lines.write());  // a token came back
  EXPECT_EQ(lines.got, (SeqAndCount{{1, 0}, {5, 3}}));
  th.flush(100 * kNsPerSec, lines.write());
  EXPECT_EQ(lines.got.size(), 2u);  // nothing held any more
}

TEST(EventThrottle, AClientForgottenToMakeRoomHasItsHeldBackEventWrittenAtOnce) {
  EventThrottle th(1.0, 1.0, 2);
  Lines lines;
  auto a = *IpAddress::parse("192.0.2.1"), b = *IpAddress::parse("192.0.2.2"), c = *IpAddress::parse("192.0.2.3");
  th.offer(event_from(a, 0, 1), lines.write());
  th.offer(event_from(a, 0, 2), lines.write());
  th.offer(event_from(a, 0, 3), lines.write());  // 2 and 3 held back
  th.offer(event_from(b, 0, 4), lines.write());
  th.offer(event_from(c, 0, 5), lines.write());  // forgets a
  EXPECT_EQ(lines.got, (SeqAndCount{{1, 0}, {4, 0}, {3, 1}, {5, 0}}));
  EXPECT_EQ(th.held(), 0u);
}

TEST(EventThrottle, FlushAllWritesEveryHeldBackEvent) {
  EventThrottle th(1.0, 1.0);
  Lines lines;
  auto a = *IpAddress::parse("192.0.2.1"), b = *IpAddress::parse("2001:db8::1");
  for (uint64_t i = 1; i <= 3; ++i) th.offer(event_from(a, 0, i), lines.write());
  for (uint64_t i = 4; i <= 5; ++i) th.offer(event_from(b, 0, i), lines.write());
  th.flush_all(lines.write());
  std::sort(lines.got.begin(), lines.got.end());
  EXPECT_EQ(lines.got, (SeqAndCount{{1, 0}, {3, 1}, {4, 0}, {5, 0}}));
  EXPECT_EQ(th.held(), 0u);
}

TEST(EventThrottle, AHeldBackEventIsWrittenSoonAfterTheClockStepsBack) {
  EventThrottle th(1.0, 1.0);
  Lines lines;
  auto a = *IpAddress::parse("192.0.2.10");
  TimeNs t = 200'000 * kNsPerSec, back = t - 86'400 * kNsPerSec;
  th.offer(event_from(a, t, 1), lines.write());
  th.offer(event_from(a, t + kNsPerSec / 10, 2), lines.write());  // held: a token at t + 1 s
  th.flush(t + kNsPerSec / 2, lines.write());
  th.flush(back, lines.write());  // 0.1 of a token: not yet
  EXPECT_EQ(lines.got, (SeqAndCount{{1, 0}}));
  th.flush(back + kNsPerSec, lines.write());  // 0.9 s more on the new clock
  EXPECT_EQ(lines.got, (SeqAndCount{{1, 0}, {2, 0}}));
  // And the client's later events are judged on the new clock.
  th.offer(event_from(a, back + 2 * kNsPerSec, 3), lines.write());
  EXPECT_EQ(lines.got.back(), (std::pair<uint64_t, uint64_t>{3, 0}));
}

TEST(EventThrottle, NewLimitsBringAHeldBackEventForward) {
  EventThrottle th(0.001, 1.0);  // one line per 1000 s
  Lines lines;
  auto a = *IpAddress::parse("192.0.2.10");
  th.offer(event_from(a, 0, 1), lines.write());
  th.offer(event_from(a, 0, 2), lines.write());  // held until 1000 s
  th.set_limits(1.0, 1.0, 0);
  th.flush(kNsPerSec, lines.write());
  EXPECT_EQ(lines.got, (SeqAndCount{{1, 0}, {2, 0}}));
}

TEST(EventThrottle, NoEventIsLostAndEveryClientsLastEventIsWritten) {
  // Random clients, times (stepping back a little, as two workers' events
  // do), flushes, reloads and a small memory: every event is a line or is
  // counted in exactly one line's `suppressed`, and each client's last
  // event has a line.
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    EventThrottle th(static_cast<double>(1 + rng() % 3), static_cast<double>(1 + rng() % 4), 1 + rng() % 6);
    Lines lines;
    std::map<IpAddress, uint64_t> last;
    TimeNs t = 1000 * kNsPerSec;
    uint64_t offered = 0;
    for (uint64_t seq = 1; seq <= 2000; ++seq) {
      auto src = *IpAddress::parse("192.0.2." + std::to_string(rng() % 9));
      t += static_cast<TimeNs>(rng() % (kNsPerSec / 4)) - kNsPerSec / 40;
      th.offer(event_from(src, t, seq), lines.write());
      last[src] = seq;
      ++offered;
      if (rng() % 10 == 0) th.flush(t, lines.write());
      if (rng() % 500 == 0) th.set_limits(static_cast<double>(1 + rng() % 3), static_cast<double>(1 + rng() % 4), t);
    }
    th.flush_all(lines.write());
    uint64_t accounted = 0;
    std::set<uint64_t> written;
    for (auto [seq, suppressed] : lines.got) {
      EXPECT_TRUE(written.insert(seq).second) << "event " << seq << " written twice";
      accounted += 1 + suppressed;
    }
    EXPECT_EQ(accounted, offered) << "round " << round;
    for (auto [src, seq] : last) EXPECT_TRUE(written.count(seq)) << src.to_string() << "'s last event " << seq;
  }
}

}  // namespace
}  // namespace nsgate::testing

#include "core/top_talkers.hh"

namespace nsgate::testing {
namespace {

TEST(TopTalkers, RanksWithinTheWindowAndForgetsOlderBuckets) {
  TopTalkers t(60 * kNsPerSec, 6);
  auto a = *IpAddress::parse("192.0.2.1"), b = *IpAddress::parse("192.0.2.2");
  auto c2 = *IpAddress::parse("203.0.113.66");
  TimeNs t0 = 1000 * kNsPerSec;
  for (int i = 0; i < 5; ++i) t.add(a, c2, t0);
  for (int i = 0; i < 3; ++i) t.add(b, c2, t0 + 30 * kNsPerSec);
  auto top = t.top_sources(10, t0 + 40 * kNsPerSec);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0], std::make_pair(a, uint64_t{5}));
  EXPECT_EQ(top[1], std::make_pair(b, uint64_t{3}));
  EXPECT_EQ(t.top_destinations(1, t0 + 40 * kNsPerSec)[0].second, 8u);
  // 70 s later the first bucket is out of the window.
  top = t.top_sources(10, t0 + 70 * kNsPerSec);
  ASSERT_EQ(top.size(), 1u);
  EXPECT_EQ(top[0].first, b);
}

}  // namespace
}  // namespace nsgate::testing
