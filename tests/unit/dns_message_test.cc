// SPDX-License-Identifier: BSD-3-Clause
#include <gtest/gtest.h>

#include <map>

#include <random>

#include "core/allow_table.hh"
#include "core/dns_message.hh"
#include "core/learner.hh"
#include "core/query_event.hh"
#include "support/builder.hh"

namespace nsgate::testing {
namespace {

using dns::Fault;

Bytes raw(std::initializer_list<int> v) {
  Bytes b;
  for (int x : v) b.push_back(std::byte(x));
  return b;
}
Bytes header(uint16_t qd, uint16_t an, uint16_t ns = 0, uint16_t ar = 0) {
  return raw({0x12, 0x34, 0x81, 0x80, 0, qd, 0, an, 0, ns, 0, ar});
}
void add(Bytes& b, const Bytes& more) { b.insert(b.end(), more.begin(), more.end()); }

TEST(DnsMessage, ReferralParsesWithEveryRecordTyped) {
  DnsBuilder d(0x1234, flags::qr);
  d.question("www.Example.lab", 1)
      .ns(DnsBuilder::authority, "lab", "ns1.nic.lab", 172800)
      .addr(DnsBuilder::additional, "ns1.nic.lab", "198.51.100.1", 3600)
      .addr(DnsBuilder::additional, "ns1.nic.lab", "2001:db8::1", 3600)
      .soa(DnsBuilder::authority, "lab", 900)
      .opt(4096);
  Bytes m = d.build();
  dns::Reader r(m);
  dns::Header h;
  ASSERT_EQ(r.open(h), Fault::none);
  EXPECT_EQ(h.id, 0x1234);
  EXPECT_TRUE(h.qr());
  EXPECT_EQ(h.nscount, 2);
  dns::Question q;
  ASSERT_EQ(r.next(q), Fault::none);
  EXPECT_EQ(q.name.to_string(), "www.example.lab.");  // lower-cased
  dns::Record rr;
  ASSERT_EQ(r.next(rr), Fault::none);
  EXPECT_EQ(rr.section, dns::Section::authority);
  EXPECT_EQ(rr.rtype, dns::type::NS);
  EXPECT_EQ(rr.target.to_string(), "ns1.nic.lab.");
  EXPECT_EQ(rr.ttl, 172800u);
  ASSERT_EQ(r.next(rr), Fault::none);
  EXPECT_EQ(rr.rtype, dns::type::SOA);
  EXPECT_EQ(rr.soa.mname.to_string(), "ns.lab.");
  EXPECT_EQ(rr.soa.minimum, 300u);
  ASSERT_EQ(r.next(rr), Fault::none);
  EXPECT_EQ(rr.section, dns::Section::additional);
  EXPECT_EQ(rr.address.to_string(), "198.51.100.1");
  ASSERT_EQ(r.next(rr), Fault::none);
  EXPECT_EQ(rr.address.to_string(), "2001:db8::1");
  ASSERT_EQ(r.next(rr), Fault::none);
  EXPECT_EQ(rr.rtype, dns::type::OPT);
  EXPECT_EQ(rr.opt.udp_size, 4096);
  EXPECT_FALSE(r.more_records());
  EXPECT_EQ(dns::validate(m), Fault::none);
}

TEST(DnsMessage, CompressionPointerBackwardsIsFollowed) {
  Bytes m = header(1, 1);
  add(m, encode_name("example.lab"));  // at offset 12
  add(m, raw({0, 2, 0, 1}));
  add(m, raw({0xc0, 12, 0, 2, 0, 1, 0, 0, 0, 60, 0, 6, 3, 'n', 's', '1', 0xc0, 12}));
  dns::Reader r(m);
  dns::Header h;
  dns::Question q;
  dns::Record rr;
  ASSERT_EQ(r.open(h), Fault::none);
  ASSERT_EQ(r.next(q), Fault::none);
  ASSERT_EQ(r.next(rr), Fault::none);
  EXPECT_EQ(rr.owner.to_string(), "example.lab.");
  EXPECT_EQ(rr.target.to_string(), "ns1.example.lab.");
}

TEST(DnsMessage, ForwardCompressionPointerIsMalformed) {
  Bytes m = header(1, 0);
  add(m, raw({0xc0, 14, 0, 1, 0, 1, 0}));
  EXPECT_EQ(dns::validate(m), Fault::pointer_forward);
}

TEST(DnsMessage, PointerToItselfIsMalformed) {
  Bytes m = header(1, 0);
  add(m, raw({0xc0, 12, 0, 1, 0, 1}));
  EXPECT_EQ(dns::validate(m), Fault::pointer_forward);
}

TEST(DnsMessage, PointerLoopThroughLabelsTerminates) {
  // name at 12: label "a", then a pointer back to 12: a loop that only a
  // "before the label run" rule catches.
  Bytes m = header(1, 0);
  add(m, raw({1, 'a', 0xc0, 12, 0, 1, 0, 1}));
  EXPECT_EQ(dns::validate(m), Fault::pointer_forward);
}

TEST(DnsMessage, PointerIntoHeaderIsMalformed) {
  Bytes m = header(1, 0);
  add(m, raw({0xc0, 2, 0, 1, 0, 1}));
  EXPECT_EQ(dns::validate(m), Fault::pointer_into_header);
}

TEST(DnsMessage, NameLongerThan255OctetsIsMalformed) {
  Bytes m = header(1, 0);
  for (int i = 0; i < 5; ++i) {
    m.push_back(std::byte(63));
    for (int k = 0; k < 63; ++k) m.push_back(std::byte('x'));
  }
  add(m, raw({0, 0, 1, 0, 1}));
  EXPECT_EQ(dns::validate(m), Fault::name_too_long);
}

TEST(DnsMessage, ExtendedLabelTypeIsUnsupported) {
  Bytes m = header(1, 0);
  add(m, raw({0x41, 0, 0, 1, 0, 1}));
  EXPECT_EQ(dns::validate(m), Fault::label_type);
  EXPECT_EQ(dns::kind_of(Fault::label_type), dns::ErrorKind::unsupported);
}

TEST(DnsMessage, ShortHeaderIsTruncated) {
  EXPECT_EQ(dns::validate(raw({1, 2, 3})), Fault::header_truncated);
  EXPECT_EQ(dns::kind_of(Fault::header_truncated), dns::ErrorKind::truncated);
}

TEST(DnsMessage, CountsBeyondTheDataAreTruncated) {
  Bytes m = header(1, 3);
  add(m, encode_name("lab"));
  add(m, raw({0, 1, 0, 1}));
  EXPECT_EQ(dns::validate(m), Fault::name_truncated);
}

TEST(DnsMessage, RdlengthPastTheEndIsTruncated) {
  Bytes m = header(0, 1);
  add(m, raw({0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2}));
  EXPECT_EQ(dns::validate(m), Fault::rdata_truncated);
}

TEST(DnsMessage, ARecordWithWrongLengthIsMalformed) {
  Bytes m = header(0, 1);
  add(m, raw({0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 5, 1, 2, 3, 4, 5}));
  EXPECT_EQ(dns::validate(m), Fault::address_length);
  Bytes m6 = header(0, 1);
  add(m6, raw({0, 0, 28, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4}));
  EXPECT_EQ(dns::validate(m6), Fault::address_length);
}

TEST(DnsMessage, NsTargetNotFillingRdlengthIsMalformed) {
  Bytes m = header(0, 1);
  add(m, raw({0, 0, 2, 0, 1, 0, 0, 0, 60, 0, 6, 2, 'n', 's', 0, 9, 9}));
  EXPECT_EQ(dns::validate(m), Fault::rdlength_mismatch);
}

TEST(DnsMessage, NsTargetRunningPastRdlengthIsTruncatedName) {
  Bytes m = header(0, 1);
  add(m, raw({0, 0, 2, 0, 1, 0, 0, 0, 60, 0, 2, 2, 'n', 's', 0}));
  EXPECT_EQ(dns::validate(m), Fault::name_truncated);
}

TEST(DnsMessage, OptOutsideAdditionalIsMalformed) {
  Bytes m = header(0, 1);
  add(m, raw({0, 0, 41, 16, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(dns::validate(m), Fault::bad_opt);
}

TEST(DnsMessage, OptOptionsOverrunningRdataAreMalformed) {
  Bytes m = header(0, 0, 0, 1);
  add(m, raw({0, 0, 41, 16, 0, 0, 0, 0, 0, 0, 6, 0, 8, 0, 9, 1, 2}));
  EXPECT_EQ(dns::validate(m), Fault::bad_opt);
}

TEST(DnsMessage, UnknownTypesAreSkippedSafely) {
  DnsBuilder d(1, flags::qr);
  d.question("lab", 16).rr(DnsBuilder::answer, "lab", 16, 60, raw({3, 'a', 'b', 'c'}));
  d.rr(DnsBuilder::answer, "lab", 65280, 60, raw({}));
  EXPECT_EQ(dns::validate(d.build()), Fault::none);
}

TEST(DnsMessage, AddressRecordsOfOtherClassesAreNotInterpreted) {
  DnsBuilder d(1, flags::qr);
  d.question("lab", 1).rr(DnsBuilder::answer, "lab", 1, 60, raw({1, 2, 3}), 3);  // CH class
  Bytes m = d.build();
  EXPECT_EQ(dns::validate(m), Fault::none);
}

TEST(DnsMessage, TypeNamesFollowRfc3597ForUnknownTypes) {
  char buf[12];
  EXPECT_STREQ(dns::type_name(28, buf), "AAAA");
  EXPECT_STREQ(dns::type_name(65280, buf), "TYPE65280");
}

TEST(DnsMessage, EveryPrefixOfAValidMessageFailsCleanly) {
  Bytes m = DnsBuilder(1, flags::qr)
                .question("www.example.lab", 1)
                .ns(DnsBuilder::authority, "lab", "ns1.nic.lab", 60)
                .addr(DnsBuilder::additional, "ns1.nic.lab", "198.51.100.1", 60)
                .build();
  for (size_t n = 0; n < m.size(); ++n) {
    Fault f = dns::validate(std::span<const std::byte>(m).first(n));
    EXPECT_EQ(dns::kind_of(f), dns::ErrorKind::truncated) << "prefix " << n << ": " << dns::to_string(f);
  }
}

// The workers' in-place query reader against the Reader it stands in for:
// same acceptance, same id and type, and a name hash equal to the learner's
// hash of the parsed (lower-cased) name, on real-looking queries and on
// random corruptions of them.
TEST(DnsMessage, ReadQueryAcceptsExactlyWhatTheReaderAcceptsAndHashesTheSameName) {
  MapAllowTable table(16);
  Learner learner(LearningSettings{}, table);
  std::vector<Bytes> seeds = {
      DnsBuilder(0x1234, 0).question("www.Example.LAB", 1).build(),
      DnsBuilder(7, 0).question("a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.example.lab", 28).build(),
      DnsBuilder(9, 0).question(".", 2).build(),
      DnsBuilder(11, 0).question(std::string(63, 'Q') + "." + std::string(63, 'r') + ".lab", 16).build(),
  };
  std::mt19937 rng(17);
  size_t accepted = 0, refused = 0;
  for (int round = 0; round < 40000; ++round) {
    Bytes m = seeds[round % seeds.size()];
    int edits = round < 4 ? 0 : 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      switch (rng() % 4) {
        case 0: m[rng() % m.size()] = std::byte(rng() & 0xff); break;                      // any byte
        case 1: m.resize(rng() % (m.size() + 1)); break;                                   // truncated
        case 2: if (m.size() > 12) m[12 + rng() % (m.size() - 12)] = std::byte(0xc0); break;  // a pointer
        default: if (m.size() > 3) m[2] = std::byte(rng() & 0xff); break;                   // flags
      }
      if (m.empty()) break;
    }
    dns::Reader r(m);
    dns::Header h;
    dns::Question q;
    bool slow = r.open(h) == Fault::none && !h.qr() && h.opcode() == 0 && h.qdcount == 1 &&
                r.next(q) == Fault::none;
    dns::QueryView v;
    bool fast = dns::read_query(m, v);
    ASSERT_EQ(fast, slow) << "round " << round;
    // A dropped query's event (read in place when read_query can) carries
    // what the Reader finds: id once the header reads, type and the name
    // (as it came: the Reader's is lower-cased) once the first question does.
    {
      QueryEvent ev;
      pkt::Packet p;
      p.payload = m;
      fill_event(ev, p, false);
      uint16_t want_id = 0, want_type = 0;
      std::vector<uint8_t> want_name;
      dns::Reader r2(m);
      dns::Header h2;
      dns::Question q2;
      if (r2.open(h2) == Fault::none) {
        want_id = h2.id;
        if (h2.qdcount > 0 && r2.next(q2) == Fault::none) {
          want_type = q2.qtype;
          want_name.assign(q2.name.wire(), q2.name.wire() + q2.name.wire_size());
        }
      }
      EXPECT_EQ(ev.dns_id, want_id) << "round " << round;
      EXPECT_EQ(ev.qtype, want_type) << "round " << round;
      ASSERT_EQ(ev.qname_len, want_name.size()) << "round " << round;
      EXPECT_TRUE(std::equal(want_name.begin(), want_name.end(), ev.qname,
                             [](uint8_t want, uint8_t got) { return want == dns_lower(got); }))
          << "round " << round;
    }
    if (!fast) {
      ++refused;
      continue;
    }
    ++accepted;
    EXPECT_EQ(v.id, h.id);
    EXPECT_EQ(v.qtype, q.qtype);
    EXPECT_EQ(v.qclass, q.qclass);
    EXPECT_EQ(v.name_size, q.name.wire_size());
    EXPECT_EQ(learner.name_hash(v.name, v.name_size), learner.name_hash(q.name)) << q.name.to_string();
  }
  EXPECT_GT(accepted, 1000u);  // both outcomes were exercised
  EXPECT_GT(refused, 1000u);
}

TEST(DnsLower8, LowerCasesEachOctetAsDnsLowerDoesAtEveryPosition) {
  std::mt19937_64 rng(3);
  for (int pos = 0; pos < 8; ++pos) {
    for (int b = 0; b < 256; ++b) {
      uint64_t x = rng();
      x = (x & ~(uint64_t{0xff} << (8 * pos))) | uint64_t(b) << (8 * pos);
      uint64_t want = 0;
      for (int k = 0; k < 8; ++k) want |= uint64_t{dns_lower(static_cast<uint8_t>(x >> (8 * k)))} << (8 * k);
      ASSERT_EQ(dns_lower8(x), want) << "octet " << b << " at " << pos;
    }
  }
}

TEST(NameHash, FoldsExactlyTheAsciiCapitalsAtEveryPositionAndLength) {
  // The oracle: the byte lower-cased if in 'A'..'Z'. Every byte must hash
  // like its lower-cased form (no capital missed), and the 230 distinct
  // lower-cased forms must give 230 hashes (nothing else folded).
  MapAllowTable table(16);
  Learner learner(LearningSettings{}, table);
  for (size_t size : {1u, 7u, 8u, 9u, 16u, 23u}) {
    for (size_t at = 0; at < size; ++at) {
      std::map<uint64_t, int> hashes;  // hash -> the lower-cased byte that gave it
      for (int b = 0; b < 256; ++b) {
        std::vector<uint8_t> v(size, 'x'), lower(size, 'x');
        v[at] = static_cast<uint8_t>(b);
        int folded = b >= 'A' && b <= 'Z' ? b + 32 : b;
        lower[at] = static_cast<uint8_t>(folded);
        uint64_t h = learner.name_hash(v.data(), size);
        ASSERT_EQ(h, learner.name_hash(lower.data(), size)) << "size " << size << " at " << at << " byte " << b;
        auto [it, fresh] = hashes.emplace(h, folded);
        ASSERT_TRUE(fresh || it->second == folded)
            << "size " << size << " at " << at << ": bytes " << it->second << " and " << b << " hash alike";
      }
      EXPECT_EQ(hashes.size(), 230u);
    }
  }
}

TEST(NameHash, DependsOnlyOnTheNamesOwnOctets) {
  // The tail is read with a load that may start before it: the octets
  // around the name (hashed already, or not the name's at all) must not
  // leak into the hash.
  MapAllowTable table(16);
  Learner learner(LearningSettings{}, table);
  std::mt19937 rng(5);
  for (size_t size = 1; size <= 40; ++size) {
    std::vector<uint8_t> name(size);
    for (auto& b : name) b = static_cast<uint8_t>('a' + rng() % 26);
    uint64_t alone = learner.name_hash(name.data(), size);
    for (int trial = 0; trial < 8; ++trial) {
      std::vector<uint8_t> framed(size + 16);
      for (auto& b : framed) b = static_cast<uint8_t>(rng());
      std::copy(name.begin(), name.end(), framed.begin() + 8);
      ASSERT_EQ(learner.name_hash(framed.data() + 8, size), alone) << "size " << size;
    }
    // ... and every octet of it counts.
    for (size_t at = 0; at < size; ++at) {
      std::vector<uint8_t> other = name;
      other[at] = other[at] == 'q' ? 'r' : 'q';
      EXPECT_NE(learner.name_hash(other.data(), size), alone) << "size " << size << " at " << at;
    }
  }
}

}  // namespace
}  // namespace nsgate::testing
