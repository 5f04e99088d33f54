// SPDX-License-Identifier: BSD-3-Clause
// The learner end to end on crafted exchanges: what a resolver following
// delegations teaches, and every way a response must teach nothing.

#include <gtest/gtest.h>
#include <set>
#include <map>

#include <algorithm>
#include <random>

#include "core/learn_session.hh"
#include "core/snapshot.hh"
#include "lab.hh"

namespace nsgate::testing {
namespace {

using S = DnsBuilder;
constexpr uint16_t A = 1, NS = 2, AAAA = 28;

// A root referral to lab. naming one server, a.nic.lab at 198.51.100.9.
DnsBuilder one_server_referral(uint16_t id, uint32_t ns_ttl, uint32_t addr_ttl) {
  DnsBuilder r(id, flags::qr);
  r.question("www.example.lab", A)
      .ns(S::authority, "lab", "a.nic.lab", ns_ttl)
      .addr(S::additional, "a.nic.lab", "198.51.100.9", addr_ttl);
  return r;
}

// Root -> lab. -> example.lab. -> answer, as a resolver walks it.
void walk_example_lab(Lab& lab) {
  lab.exchange(kRoot, 1, "www.example.lab", A, root_referral_for_lab(1, "www.example.lab"));
  DnsBuilder tld(2, flags::qr);
  tld.question("www.example.lab", A)
      .ns(S::authority, "example.lab", "ns1.example.lab", 86400)
      .addr(S::additional, "ns1.example.lab", "203.0.113.10", 3600);
  lab.exchange("198.51.100.1", 2, "www.example.lab", A, tld);
  DnsBuilder zone(3, flags::qr | flags::aa);
  zone.question("www.example.lab", A).addr(S::answer, "www.example.lab", "203.0.113.80", 300);
  lab.exchange("203.0.113.10", 3, "www.example.lab", A, zone);
}

// A referral for `zone` (the question www.ZONE A) to `ns`, without glue.
DnsBuilder glueless(uint16_t id, const std::string& zone, const std::string& ns, uint32_t ttl) {
  DnsBuilder r(id, flags::qr);
  r.question("www." + zone, A).ns(S::authority, zone, ns, ttl);
  return r;
}

// lab.'s referral for other.lab., delegated to ns1.example.lab without glue
// (its address known from walk_example_lab).
DnsBuilder glueless_other_lab(uint16_t id) { return glueless(id, "other.lab", "ns1.example.lab", 86400); }

// example.lab.'s referral for sub.example.lab., delegated to the
// out-of-bailiwick ns.provider.lab without glue: a wait for its address.
DnsBuilder sub_to_provider(uint16_t id) { return glueless(id, "sub.example.lab", "ns.provider.lab", 3600); }

// The resolver asks lab. for ns.provider.lab: referred to provider.lab.,
// served by ns1.provider.lab (203.0.113.20), which can then answer for it.
void walk_to_provider_lab(Lab& lab, uint16_t id) {
  DnsBuilder tld(id, flags::qr);
  tld.question("ns.provider.lab", A)
      .ns(S::authority, "provider.lab", "ns1.provider.lab", 86400)
      .addr(S::additional, "ns1.provider.lab", "203.0.113.20", 86400);
  lab.exchange("198.51.100.1", id, "ns.provider.lab", A, tld);
}

// An authoritative answer for ns.provider.lab: 203.0.113.30 with `ttl`,
// from `server` (by default ns1.provider.lab, which serves its zone).
void answer_provider_ns(Lab& lab, uint16_t id, uint32_t ttl, const std::string& server = "203.0.113.20") {
  DnsBuilder ans(id, flags::qr | flags::aa);
  ans.question("ns.provider.lab", A).addr(S::answer, "ns.provider.lab", "203.0.113.30", ttl);
  lab.exchange(server, id, "ns.provider.lab", A, ans);
}

// example.lab.'s own server answers for its NS records: ns1 at
// 203.0.113.10 (itself) and ns2 at `ns2_address`, all with `ttl`.
void own_ns_answer(Lab& lab, uint16_t id, const std::string& ns2_address, uint32_t ttl) {
  DnsBuilder r(id, flags::qr | flags::aa);
  r.question("example.lab", 2)
      .ns(S::answer, "example.lab", "ns1.example.lab", ttl)
      .ns(S::answer, "example.lab", "ns2.example.lab", ttl)
      .addr(S::additional, "ns1.example.lab", "203.0.113.10", ttl)
      .addr(S::additional, "ns2.example.lab", ns2_address, ttl);
  lab.exchange("203.0.113.10", id, "example.lab", 2, r);
}

// What the two known-address TTL tests start from: the walk done, with
// exact TTLs (no grace, no minimum), 3500 s into ns1.example.lab's 3600 s.
void walk_and_wait_3500s(Lab& lab) {
  walk_example_lab(lab);
  lab.advance_s(3500);
}

LearningSettings exact_ttls() {
  LearningSettings st;
  st.min_ttl_s = 1;
  st.grace_s = 0;
  return st;
}

TEST(LearnerScenario, RefreshesKeepOneExpiryItemPerEntryAndTheEntriesStillExpireOnTime) {
  // An appliance refreshing the same delegations all day must not grow
  // its expiry queue with every refresh.
  LearningSettings st;
  st.grace_s = 0;
  Lab lab(st);
  for (uint16_t i = 1; i <= 200; ++i) {
    lab.exchange(kRoot, i, "www.example.lab", A, root_referral_for_lab(i, "www.example.lab"));
    lab.advance_s(60);
  }
  EXPECT_EQ(lab.events(LearnEvent::added), 3u);
  EXPECT_EQ(lab.events(LearnEvent::refreshed), 3u * 199);
  EXPECT_EQ(lab.learner.expiry_queue_size(), 3u);
  // The last refresh was 60 s ago with TTL 172800: the entries go exactly then.
  lab.advance_s(172800 - 60 - 1);
  EXPECT_TRUE(lab.allowed("198.51.100.1"));
  EXPECT_EQ(lab.events(LearnEvent::expired), 0u);
  lab.advance_s(2);
  EXPECT_FALSE(lab.allowed("198.51.100.1"));
  EXPECT_EQ(lab.events(LearnEvent::expired), 3u);
  EXPECT_EQ(lab.learner.expiry_queue_size(), 0u);
}

TEST(LearnerScenario, AnAaaaOfAnIpv4MappedAddressAllowsNoIpv4Address) {
  Lab lab;
  Bytes mapped(16, std::byte{0});
  mapped[10] = mapped[11] = std::byte{0xff};
  mapped[12] = std::byte{198};
  mapped[13] = std::byte{51};
  mapped[14] = std::byte{100};
  mapped[15] = std::byte{7};
  DnsBuilder r(1, flags::qr);
  r.question("www.example.lab", A)
      .ns(S::authority, "lab", "ns1.nic.lab", 172800)
      .rr(S::additional, "ns1.nic.lab", AAAA, 172800, mapped);
  lab.exchange(kRoot, 1, "www.example.lab", A, r);
  EXPECT_FALSE(lab.allowed("198.51.100.7"));
  EXPECT_EQ(lab.events(LearnEvent::unusable_address), 1u);
  EXPECT_EQ(lab.events(LearnEvent::added), 0u);
}

TEST(LearnerScenario, PrimingDoesNotCostTheRootHintsTheirAuthorityWhenItsEntriesExpire) {
  // A resolver's priming query: the root names itself, with glue for the
  // addresses that are already root hints.
  Lab lab;
  DnsBuilder priming(1, flags::qr | flags::aa);
  priming.question(".", NS)
      .ns(S::answer, ".", "a.root-servers.net", 518400)
      .addr(S::additional, "a.root-servers.net", kRoot, 518400);
  lab.exchange(kRoot, 1, ".", NS, priming);
  // Past the learned root entry's lifetime (max_ttl + grace), no
  // re-priming: the hint still serves the root zone.
  lab.advance_s(172800 + 300 + 60);
  EXPECT_TRUE(lab.allowed(kRoot));
  lab.exchange(kRoot, 2, "www.example.lab", A, root_referral_for_lab(2, "www.example.lab"));
  EXPECT_EQ(lab.events(LearnEvent::ns_out_of_bailiwick), 0u);
  EXPECT_TRUE(lab.allowed("198.51.100.1"));
}

TEST(LearnerScenario, AStaticForALearnedZoneAndItsRemovalKeepTheLearnedAuthority) {
  // 198.51.100.1 learned for lab., then also a static allow for lab.:
  // referrals refresh the one learned entry, and once the static goes,
  // the learned entry still makes that server authoritative for lab.
  Lab lab;
  lab.exchange(kRoot, 1, "www.example.lab", A, root_referral_for_lab(1, "www.example.lab"));
  StaticAllow st;
  st.prefix = *Prefix::parse("198.51.100.1/32");
  st.zone = "lab.";
  lab.learner.replace_statics({st});
  lab.exchange(kRoot, 2, "www.example.lab", A, root_referral_for_lab(2, "www.example.lab"));
  EXPECT_EQ(lab.events(LearnEvent::added), 3u);  // the first referral's three addresses, once
  lab.learner.replace_statics({});
  DnsBuilder tld(3, flags::qr);
  tld.question("www.example.lab", A)
      .ns(S::authority, "example.lab", "ns1.example.lab", 86400)
      .addr(S::additional, "ns1.example.lab", "203.0.113.10", 3600);
  lab.exchange("198.51.100.1", 3, "www.example.lab", A, tld);
  EXPECT_EQ(lab.events(LearnEvent::ns_out_of_bailiwick), 0u);
  EXPECT_TRUE(lab.allowed("203.0.113.10"));
}

// A table that keeps a list of the addresses erased from it.
class ErasureLog final : public AllowTable {
 public:
  explicit ErasureLog(size_t capacity) : inner_(capacity) {}
  std::optional<TableValue> lookup(const IpAddress& a, uint32_t now_s) const override {
    return inner_.lookup(a, now_s);
  }
  bool upsert(const IpAddress& a, TableValue v) override { return inner_.upsert(a, v); }
  bool erase(const IpAddress& a) override {
    erased.push_back(a.to_string());
    return inner_.erase(a);
  }
  size_t size() const override { return inner_.size(); }
  size_t capacity() const override { return inner_.capacity(); }
  void for_each(const std::function<void(const IpAddress&, TableValue)>& fn) const override { inner_.for_each(fn); }
  std::vector<std::string> erased;

 private:
  MapAllowTable inner_;
};

TEST(LearnerScenario, AReloadNeverTakesAStaticThatStaysOutOfTheTable) {
  // Live, the table is what the workers read: a static erased and added
  // again on reload would drop queries to it in between.
  ErasureLog table(100);
  Learner learner({}, table);
  auto st = [](const char* cidr, const char* note = "") {
    StaticAllow s;
    s.prefix = *Prefix::parse(cidr);
    s.note = note;
    return s;
  };
  learner.replace_statics({st("192.0.2.1/32"), st("192.0.2.2/32")});
  table.erased.clear();
  learner.replace_statics({st("192.0.2.1/32"), st("192.0.2.2/32", "a new note"), st("192.0.2.3/32")});
  EXPECT_TRUE(table.erased.empty());
  for (const char* a : {"192.0.2.1", "192.0.2.2", "192.0.2.3"})
    EXPECT_TRUE(table.lookup(*IpAddress::parse(a), 0)) << a;
  learner.replace_statics({st("192.0.2.1/32")});
  EXPECT_EQ(table.erased, (std::vector<std::string>{"192.0.2.2", "192.0.2.3"}));
  // A full table: the static that goes makes room for the one that comes.
  ErasureLog full(27);  // the 26 root hints and one static
  Learner tight({}, full);
  for (const RootHint& h : builtin_root_hints()) tight.add_anchor(h.address, h.name);
  tight.replace_statics({st("192.0.2.1/32")});
  ASSERT_EQ(full.size(), 27u);
  tight.replace_statics({st("192.0.2.9/32")});
  EXPECT_TRUE(full.lookup(*IpAddress::parse("192.0.2.9"), 0));
  EXPECT_FALSE(full.lookup(*IpAddress::parse("192.0.2.1"), 0));
  EXPECT_EQ(tight.counters()[static_cast<size_t>(LearnEvent::table_full)], 0u);
  EXPECT_TRUE(table.lookup(*IpAddress::parse("192.0.2.1"), 0));
  EXPECT_FALSE(table.lookup(*IpAddress::parse("192.0.2.2"), 0));
  EXPECT_FALSE(table.lookup(*IpAddress::parse("192.0.2.3"), 0));
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(learner.statics(), 1u);
}

TEST(LearnerScenario, AStaticTheFullTableHadNoRoomForGoesInAsRoomFrees) {
  // A reload adding statics while learned entries fill the table: the
  // static is counted as table_full, is not allowed (the table, which
  // the workers read, lacks it), and goes in before any new learned entry
  // once learned ones expire.
  Lab lab({}, 50);
  Provenance p;
  p.zone = "lab.";
  p.ns = "ns1.lab.";
  p.ns_ttl = p.addr_ttl = 100;
  p.response_time = lab.now;
  p.expires = lab.now + TimeNs{100} * kNsPerSec;
  p.server = *IpAddress::parse(kRoot);
  for (int i = 0; i < 40; ++i) {
    p.address = *IpAddress::parse(std::string("203.0.113.").append(std::to_string(i)));
    lab.learner.restore(p, lab.now);
  }
  ASSERT_EQ(lab.table.size(), lab.table.capacity());
  uint64_t full_before = lab.events(LearnEvent::table_full);
  StaticAllow st;
  st.prefix = *Prefix::parse("192.0.2.77/32");
  lab.learner.replace_statics({st});
  EXPECT_EQ(lab.events(LearnEvent::table_full), full_before + 1);
  EXPECT_FALSE(lab.allowed("192.0.2.77"));
  EXPECT_FALSE(lab.table.lookup(*IpAddress::parse("192.0.2.77"), 0));
  lab.advance_s(101);
  EXPECT_TRUE(lab.allowed("192.0.2.77"));
  EXPECT_TRUE(lab.table.lookup(*IpAddress::parse("192.0.2.77"), 0));
}

TEST(LearnerScenario, HostStaticsKeepTheirOwnNotesThroughReloads) {
  // The operator's note is what `nsgate check` shows for a static: after a
  // reload each static has its own note, and a static without one has none.
  Lab lab;
  auto st = [](const char* cidr, const char* note) {
    StaticAllow s;
    s.prefix = *Prefix::parse(cidr);
    s.note = note;
    return s;
  };
  auto note_of = [&](const char* a) {
    AllowAnswer ans = lab.learner.lookup(*IpAddress::parse(a), lab.now);
    EXPECT_TRUE(ans.allowed) << a;
    return ans.provenance ? ans.provenance->note : std::string("(no provenance)");
  };
  lab.learner.replace_statics({st("192.0.2.1/32", "first"), st("192.0.2.2/32", "second")});
  EXPECT_EQ(note_of("192.0.2.1"), "first");
  EXPECT_EQ(note_of("192.0.2.2"), "second");
  lab.learner.replace_statics({st("192.0.2.2/32", ""), st("192.0.2.3/32", "third"), st("192.0.2.1/32", "again")});
  EXPECT_EQ(note_of("192.0.2.1"), "again");
  EXPECT_EQ(note_of("192.0.2.2"), "");
  EXPECT_EQ(note_of("192.0.2.3"), "third");
  EXPECT_FALSE(lab.learner.lookup(*IpAddress::parse("192.0.2.4"), lab.now).allowed);
}

TEST(LearnerScenario, AnAddressTtlWithTheTopBitSetCountsAsZeroWhenTheAddressIsReused) {
  // RFC 2181 §8: such a TTL is 0. The glue is learned for the shortest
  // lifetime; a later glueless referral naming the same server must not
  // take the raw TTL (68 years) as what is left of the address.
  Lab lab;
  DnsBuilder first(1, flags::qr);
  first.question("www.example.lab", 1)
      .ns(DnsBuilder::authority, "lab", "ns1.nic.lab", 172800)
      .addr(DnsBuilder::additional, "ns1.nic.lab", "198.51.100.1", 0x80000000u);
  lab.exchange(kRoot, 1, "www.example.lab", 1, first);
  ASSERT_TRUE(lab.allowed("198.51.100.1"));
  lab.advance_s(10);
  DnsBuilder second(2, flags::qr);
  second.question("www.example.test", 1).ns(DnsBuilder::authority, "test", "ns1.nic.lab", 172800);
  lab.exchange(kRoot, 2, "www.example.test", 1, second);
  lab.advance_s(3600);  // past min_ttl + grace of the first
  EXPECT_FALSE(lab.allowed("198.51.100.1"));
}

TEST(LearnerScenario, ARestoredRecordPassesRuleFourAsItStandsNow) {
  // Saved while allow_private was on (or written by hand): a private, a
  // loopback and a multicast address do not come back with it off.
  for (bool allow_private : {false, true}) {
    LearningSettings s;
    s.allow_private = allow_private;
    Lab lab(s);
    Provenance p;
    p.zone = "lab.";
    p.ns = "ns1.lab.";
    p.ns_ttl = p.addr_ttl = 3600;
    p.response_time = lab.now;
    p.server = *IpAddress::parse(kRoot);
    p.expires = lab.now + TimeNs{3600} * kNsPerSec;
    for (const char* a : {"10.0.0.1", "fd00::53", "127.0.0.1", "224.0.0.53", "203.0.113.7"}) {
      p.address = *IpAddress::parse(a);
      bool usable = std::string(a) == "203.0.113.7";
      bool is_private = std::string(a) == "10.0.0.1" || std::string(a) == "fd00::53";
      bool want = usable || (is_private && allow_private);
      EXPECT_EQ(lab.learner.restore(p, lab.now), want) << a << " allow_private " << allow_private;
      EXPECT_EQ(lab.allowed(a), want) << a << " allow_private " << allow_private;
    }
  }
}

TEST(LearnerScenario, ARestoredRecordLivesNoLongerThanTheLimitsAllow) {
  // A snapshot's checksum proves the file intact, not its expiries within
  // the rules: one saved never to expire, or a year on, ends at max_ttl +
  // grace after its response.
  Lab lab;
  Provenance p;
  p.address = *IpAddress::parse("203.0.113.7");
  p.zone = "lab.";
  p.ns = "ns1.lab.";
  p.ns_ttl = 86400;
  p.addr_ttl = 86400;
  p.response_time = lab.now;
  p.server = *IpAddress::parse(kRoot);
  p.expires = kNeverExpires;
  ASSERT_TRUE(lab.learner.restore(p, lab.now));
  p.address = *IpAddress::parse("203.0.113.8");
  p.expires = lab.now + TimeNs{365} * 86400 * kNsPerSec;
  ASSERT_TRUE(lab.learner.restore(p, lab.now));
  p.address = *IpAddress::parse("203.0.113.9");
  p.expires = lab.now + TimeNs{3600} * kNsPerSec;  // within the rules: kept as saved
  ASSERT_TRUE(lab.learner.restore(p, lab.now));
  // A response "a year from now", or none: bounded from the present.
  p.address = *IpAddress::parse("203.0.113.10");
  p.response_time = lab.now + TimeNs{365} * 86400 * kNsPerSec;
  p.expires = p.response_time + TimeNs{3600} * kNsPerSec;
  ASSERT_TRUE(lab.learner.restore(p, lab.now));
  p.address = *IpAddress::parse("203.0.113.11");
  p.response_time = 0;
  p.expires = kNeverExpires;
  ASSERT_TRUE(lab.learner.restore(p, lab.now));
  EXPECT_EQ(lab.provenance("203.0.113.7")->expires, lab.now + TimeNs{172800 + 300} * kNsPerSec);
  lab.advance_s(3601);
  EXPECT_FALSE(lab.allowed("203.0.113.9"));
  EXPECT_TRUE(lab.allowed("203.0.113.7"));
  lab.advance_s(172800 + 300);
  for (const char* a : {"203.0.113.7", "203.0.113.8", "203.0.113.10", "203.0.113.11"}) EXPECT_FALSE(lab.allowed(a)) << a;
}

TEST(LearnerScenario, RecordViewsGiveTheRecordsWithoutAQueryNameAndWithLongNames) {
  // Restored records (a snapshot need not hold a query name) with names
  // short and long: a view's text is what the record holds.
  Lab lab;
  std::string long_zone = std::string(60, 'z') + "." + std::string(50, 'y') + ".lab.";
  Provenance with_name;
  with_name.address = *IpAddress::parse("203.0.113.7");
  with_name.zone = long_zone;
  with_name.ns = "ns1." + long_zone;
  with_name.ns_ttl = 86400;
  with_name.addr_ttl = 3600;
  with_name.expires = lab.now + 3600 * kNsPerSec;
  with_name.query_time = lab.now - kNsPerSec;
  with_name.query_id = 77;
  with_name.query_name = "www.example.lab.";
  with_name.response_time = lab.now;
  with_name.server = *IpAddress::parse(kRoot);
  Provenance without_name = with_name;
  without_name.address = *IpAddress::parse("2001:db8::7");
  without_name.zone = "lab.";
  without_name.ns = "a.lab.";
  without_name.query_name = "";
  ASSERT_TRUE(lab.learner.restore(with_name, lab.now));
  ASSERT_TRUE(lab.learner.restore(without_name, lab.now));
  std::vector<Provenance> records;
  lab.learner.for_each_learned([&](Provenance&& p) { records.push_back(std::move(p)); });
  std::vector<Learner::RecordView> views = lab.learner.learned_views();
  ASSERT_EQ(records.size(), 2u);
  ASSERT_EQ(views.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    Provenance v = views[i].provenance();
    EXPECT_EQ(v.address, records[i].address);
    EXPECT_EQ(v.zone, records[i].zone);
    EXPECT_EQ(v.ns, records[i].ns);
    EXPECT_EQ(v.query_name, records[i].query_name);
    EXPECT_EQ(v.expires, records[i].expires);
    EXPECT_EQ(v.query_id, records[i].query_id);
    EXPECT_EQ(v.server, records[i].server);
  }
  const Provenance& named = records[0].address == with_name.address ? records[0] : records[1];
  const Provenance& unnamed = records[0].address == with_name.address ? records[1] : records[0];
  EXPECT_EQ(named.zone, long_zone);
  EXPECT_EQ(named.query_name, "www.example.lab.");
  EXPECT_EQ(unnamed.query_name, "") << "no query name is no text, not the root's";
}

TEST(LearnerScenario, FullReferralChainFromRootToZoneIsLearned) {
  Lab lab;
  walk_example_lab(lab);
  EXPECT_TRUE(lab.allowed("198.51.100.1"));
  EXPECT_TRUE(lab.allowed("2001:db8::1"));
  EXPECT_TRUE(lab.allowed("198.51.100.2"));
  EXPECT_TRUE(lab.allowed("203.0.113.10"));
  // The final answer is a host, not a name server.
  EXPECT_FALSE(lab.allowed("203.0.113.80"));
  EXPECT_EQ(lab.events(LearnEvent::added), 4u);
  EXPECT_EQ(lab.events(LearnEvent::answer_not_delegation), 1u);
  std::optional<Provenance> p = lab.provenance("203.0.113.10");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->zone, "example.lab.");
  EXPECT_EQ(p->ns, "ns1.example.lab.");
  EXPECT_EQ(p->ns_ttl, 86400u);
  EXPECT_EQ(p->addr_ttl, 3600u);
  EXPECT_EQ(p->query_id, 2);
  EXPECT_EQ(p->query_name, "www.example.lab.");
  EXPECT_EQ(p->server.to_string(), "198.51.100.1");
  EXPECT_EQ(p->response_time - p->query_time, 20'000'000);
}

TEST(LearnerScenario, ResponseWithWrongTransactionIdTeachesNothing) {
  Lab lab;
  lab.query(kRoot, 100, "www.example.lab", A);
  lab.respond(kRoot, root_referral_for_lab(101, "www.example.lab"));
  EXPECT_FALSE(lab.allowed("198.51.100.1"));
  EXPECT_EQ(lab.events(LearnEvent::unmatched_response), 1u);
}

TEST(LearnerScenario, ResponseToWrongClientPortTeachesNothing) {
  Lab lab;
  lab.query(kRoot, 7, "www.example.lab", A);
  lab.respond(kRoot, root_referral_for_lab(7, "www.example.lab"), kResolver, kResolverPort + 1);
  EXPECT_FALSE(lab.allowed("198.51.100.1"));
  EXPECT_EQ(lab.events(LearnEvent::unmatched_response), 1u);
}

TEST(LearnerScenario, ResponseFromWrongServerPortTeachesNothing) {
  Lab lab;
  lab.query(kRoot, 7, "www.example.lab", A);
  Bytes r = root_referral_for_lab(7, "www.example.lab").build();
  lab.frame(udp_frame({kRoot, kResolver, 5353, kResolverPort}, r));
  // Not from port 53: not even DNS to the extractor; nothing learned.
  EXPECT_FALSE(lab.allowed("198.51.100.1"));
}

TEST(LearnerScenario, ResponseForAnotherQuestionNameTeachesNothing) {
  Lab lab;
  lab.query(kRoot, 7, "www.example.lab", A);
  lab.respond(kRoot, root_referral_for_lab(7, "mail.example.lab"));
  EXPECT_FALSE(lab.allowed("198.51.100.1"));
  EXPECT_EQ(lab.events(LearnEvent::unmatched_response), 1u);
}

TEST(LearnerScenario, ResponseForAnotherQuestionTypeTeachesNothing) {
  Lab lab;
  lab.query(kRoot, 7, "www.example.lab", A);
  lab.respond(kRoot, root_referral_for_lab(7, "www.example.lab", AAAA));
  EXPECT_FALSE(lab.allowed("198.51.100.1"));
}

TEST(LearnerScenario, QuestionNameMatchesCaseInsensitively) {
  Lab lab;
  lab.query(kRoot, 7, "WwW.ExAmPlE.LaB", A);
  lab.respond(kRoot, root_referral_for_lab(7, "www.example.lab"));
  EXPECT_TRUE(lab.allowed("198.51.100.1"));
}

TEST(LearnerScenario, UnsolicitedResponseTeachesNothing) {
  Lab lab;
  lab.respond(kRoot, root_referral_for_lab(9, "www.example.lab"));
  EXPECT_FALSE(lab.allowed("198.51.100.1"));
  EXPECT_EQ(lab.events(LearnEvent::unmatched_response), 1u);
}

TEST(LearnerScenario, ResponseAfterTheMatchWindowTeachesNothing) {
  LearningSettings s;
  s.query_match_window_s = 2;
  Lab lab(s);
  lab.query(kRoot, 9, "www.example.lab", A);
  lab.advance_s(3);
  lab.respond(kRoot, root_referral_for_lab(9, "www.example.lab"));
  EXPECT_FALSE(lab.allowed("198.51.100.1"));
}

TEST(LearnerScenario, SecondResponseToOneQueryTeachesNothing) {
  Lab lab;
  lab.exchange(kRoot, 9, "www.example.lab", A, root_referral_for_lab(9, "www.example.lab"));
  DnsBuilder forged(9, flags::qr);
  forged.question("www.example.lab", A)
      .ns(S::authority, "lab", "evil.lab", 172800)
      .addr(S::additional, "evil.lab", "198.51.100.66", 172800);
  lab.respond(kRoot, forged);
  EXPECT_FALSE(lab.allowed("198.51.100.66"));
}

TEST(LearnerScenario, ResponseFromUnknownServerTeachesNothing) {
  Lab lab;
  const char* rogue = "203.0.113.66";
  lab.exchange(rogue, 5, "www.example.lab", A, root_referral_for_lab(5, "www.example.lab"));
  EXPECT_FALSE(lab.allowed("198.51.100.1"));
  EXPECT_EQ(lab.events(LearnEvent::source_not_allowed), 1u);
}

TEST(LearnerScenario, NsOutsideTheServersZoneIsRefused) {
  Lab lab;
  lab.exchange(kRoot, 1, "www.example.lab", A, root_referral_for_lab(1, "www.example.lab"));
  // The lab. server tries to delegate a name under another TLD.
  DnsBuilder bad(2, flags::qr);
  bad.question("www.example.lab", A)
      .ns(S::authority, "victim.test", "ns.victim.test", 86400)
      .addr(S::additional, "ns.victim.test", "203.0.113.99", 86400);
  lab.exchange("198.51.100.1", 2, "www.example.lab", A, bad);
  EXPECT_FALSE(lab.allowed("203.0.113.99"));
  EXPECT_EQ(lab.events(LearnEvent::ns_out_of_bailiwick), 1u);
  EXPECT_EQ(lab.events(LearnEvent::glue_not_ns_target), 1u);
}

TEST(LearnerScenario, GlueForANameNoNsNamesIsIgnored) {
  Lab lab;
  DnsBuilder r = root_referral_for_lab(1, "www.example.lab");
  r.addr(S::additional, "www.example.lab", "198.51.100.77", 172800);
  lab.exchange(kRoot, 1, "www.example.lab", A, r);
  EXPECT_TRUE(lab.allowed("198.51.100.1"));
  EXPECT_FALSE(lab.allowed("198.51.100.77"));
  EXPECT_EQ(lab.events(LearnEvent::glue_not_ns_target), 1u);
}

TEST(LearnerScenario, GlueOutsideTheServersZoneIsIgnored) {
  Lab lab;
  lab.exchange(kRoot, 1, "www.example.lab", A, root_referral_for_lab(1, "www.example.lab"));
  // The lab. server names an out-of-zone NS and offers "glue" for it.
  DnsBuilder r(2, flags::qr);
  r.question("www.example.lab", A)
      .ns(S::authority, "example.lab", "ns.provider.test", 86400)
      .addr(S::additional, "ns.provider.test", "203.0.113.44", 86400);
  lab.exchange("198.51.100.1", 2, "www.example.lab", A, r);
  EXPECT_FALSE(lab.allowed("203.0.113.44"));
  EXPECT_EQ(lab.events(LearnEvent::glue_out_of_bailiwick), 1u);
}

TEST(LearnerScenario, LoopbackZeroMulticastAndLinkLocalGlueIsRefused) {
  Lab lab;
  DnsBuilder r(1, flags::qr);
  r.question("www.example.lab", A)
      .ns(S::authority, "lab", "a.nic.lab", 172800)
      .addr(S::additional, "a.nic.lab", "127.0.0.1", 172800)
      .addr(S::additional, "a.nic.lab", "0.0.0.0", 172800)
      .addr(S::additional, "a.nic.lab", "224.0.0.251", 172800)
      .addr(S::additional, "a.nic.lab", "169.254.1.1", 172800)
      .addr(S::additional, "a.nic.lab", "::1", 172800)
      .addr(S::additional, "a.nic.lab", "ff02::1", 172800)
      .addr(S::additional, "a.nic.lab", "fe80::1", 172800);
  lab.exchange(kRoot, 1, "www.example.lab", A, r);
  EXPECT_EQ(lab.events(LearnEvent::unusable_address), 7u);
  EXPECT_EQ(lab.events(LearnEvent::added), 0u);
  EXPECT_FALSE(lab.allowed("127.0.0.1"));
}

TEST(LearnerScenario, PrivateGlueNeedsAllowPrivate) {
  DnsBuilder r(1, flags::qr);
  r.question("www.example.lab", A)
      .ns(S::authority, "lab", "a.nic.lab", 172800)
      .addr(S::additional, "a.nic.lab", "10.1.2.3", 172800);
  Lab strict;
  strict.exchange(kRoot, 1, "www.example.lab", A, r);
  EXPECT_FALSE(strict.allowed("10.1.2.3"));
  EXPECT_EQ(strict.events(LearnEvent::private_address), 1u);
  LearningSettings s;
  s.allow_private = true;
  Lab lax(s);
  lax.exchange(kRoot, 1, "www.example.lab", A, r);
  EXPECT_TRUE(lax.allowed("10.1.2.3"));
}

TEST(LearnerScenario, FragmentedResponseTeachesNothing) {
  Lab lab;
  lab.query(kRoot, 1, "www.example.lab", A);
  Bytes msg = root_referral_for_lab(1, "www.example.lab").build();
  for (const Bytes& f : udp_fragments_v4({kRoot, kResolver, 53, kResolverPort}, msg, 96)) lab.frame(f);
  EXPECT_FALSE(lab.allowed("198.51.100.1"));
  EXPECT_EQ(lab.events(LearnEvent::fragment), 1u);
}

TEST(LearnerScenario, TruncatedMessageTeachesNothing) {
  Lab lab;
  lab.query(kRoot, 1, "www.example.lab", A);
  Bytes msg = root_referral_for_lab(1, "www.example.lab").build();
  msg.resize(msg.size() - 3);  // the last glue record is cut
  lab.frame(udp_frame({kRoot, kResolver, 53, kResolverPort}, msg));
  EXPECT_FALSE(lab.allowed("198.51.100.1"));
  EXPECT_EQ(lab.events(LearnEvent::malformed), 1u);
}

TEST(LearnerScenario, NsWithoutGlueIsLearnedWhenItsAddressArrivesInTheWindow) {
  Lab lab;
  walk_example_lab(lab);
  // example.lab. delegates sub.example.lab. to an out-of-bailiwick server.
  lab.exchange("203.0.113.10", 10, "www.sub.example.lab", A, sub_to_provider(10));
  EXPECT_EQ(lab.events(LearnEvent::pending), 1u);
  // The resolver resolves ns.provider.lab: lab. refers it to provider.lab.
  walk_to_provider_lab(lab, 11);
  answer_provider_ns(lab, 12, 600);
  EXPECT_TRUE(lab.allowed("203.0.113.30"));
  std::optional<Provenance> p = lab.provenance("203.0.113.30");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->zone, "sub.example.lab.");
  EXPECT_EQ(p->ns, "ns.provider.lab.");
  EXPECT_EQ(p->addr_ttl, 600u);
}

// The delegation's NS TTL (300 s) is shorter than its server's address TTL
// (86400 s): the entry goes after 600 s (300 + grace), while the resolver
// still holds the address. When its NS record runs out, the parent's next
// referral comes without glue and the resolver queries the address it
// holds at once: that must pass (the address was forgotten with the entry).
TEST(LearnerScenario, AGluelessReferralAfterTheEntryWentUsesTheAddressTheResolverStillHolds) {
  Lab lab;
  walk_example_lab(lab);
  auto referral = [](uint16_t id) { return glueless(id, "sub.example.lab", "ns.provider.lab", 300); };
  lab.exchange("203.0.113.10", 10, "www.sub.example.lab", A, referral(10));
  walk_to_provider_lab(lab, 11);
  answer_provider_ns(lab, 12, 86400);
  ASSERT_TRUE(lab.allowed("203.0.113.30"));
  lab.advance_s(700);
  ASSERT_FALSE(lab.allowed("203.0.113.30")) << "300 s + 300 s grace have passed";
  lab.exchange("203.0.113.10", 13, "www.sub.example.lab", A, referral(13));
  EXPECT_TRUE(lab.allowed("203.0.113.30")) << "the resolver queries the address it still holds";
  // The root referral's three addresses, ns1.example.lab, ns1.provider.lab,
  // and 203.0.113.30 twice.
  EXPECT_EQ(lab.events(LearnEvent::added), 3u + 1u + 1u + 2u);
  // Once the address TTL has run out the resolver asks for the address
  // again: a referral without glue alone teaches nothing any more.
  lab.advance_s(86400);
  walk_example_lab(lab);
  lab.exchange("203.0.113.10", 14, "www.sub.example.lab", A, referral(14));
  EXPECT_FALSE(lab.allowed("203.0.113.30"));
}

// Only class IN is a delegation a resolver follows: a CH-class exchange
// teaches nothing, nor does a CH-class NS record (its IN glue then names
// no accepted NS target).
TEST(LearnerScenario, OnlyClassInTeaches) {
  Lab lab;
  Bytes q = DnsBuilder(1).question("www.example.lab", A, 3).build();
  lab.frame(udp_frame({kResolver, kRoot, kResolverPort, 53}, q));
  DnsBuilder ch(1, flags::qr);
  ch.question("www.example.lab", A, 3)
      .ns(S::authority, "lab", "ns1.nic.lab", 172800)
      .addr(S::additional, "ns1.nic.lab", "198.51.100.1", 172800);
  lab.respond(kRoot, ch);
  EXPECT_FALSE(lab.allowed("198.51.100.1"));
  EXPECT_EQ(lab.events(LearnEvent::not_standard_response), 1u);
  DnsBuilder ns_ch(2, flags::qr);
  ns_ch.question("www.example.lab", A)
      .rr(S::authority, "lab", 2, 172800, encode_name("ns1.nic.lab"), 3)
      .addr(S::additional, "ns1.nic.lab", "198.51.100.1", 172800);
  lab.exchange(kRoot, 2, "www.example.lab", A, ns_ch);
  EXPECT_FALSE(lab.allowed("198.51.100.1"));
  EXPECT_EQ(lab.events(LearnEvent::glue_not_ns_target), 1u);
  lab.exchange(kRoot, 3, "www.example.lab", A, root_referral_for_lab(3, "www.example.lab"));
  EXPECT_TRUE(lab.allowed("198.51.100.1")) << "the same in class IN";
}

// A server that answers with referrals without glue, many of them, must not
// take every place a wait needs: once half the places are taken, at most a
// sixteenth of max_pending_ns per answering server; per_response_cap per
// response.
TEST(LearnerScenario, AServerFloodingGluelessReferralsCannotTakeEveryWait) {
  LearningSettings s;
  s.max_pending_ns = 160;  // from 80 taken on, 10 per server
  Lab lab(s);
  walk_example_lab(lab);
  // example.lab.'s server (say, taken over) delegates 40 sub-zones per
  // response, five times, each to a name server without glue.
  for (int r = 0; r < 5; ++r) {
    auto id = static_cast<uint16_t>(100 + r);
    std::string qname = std::string("x").append(std::to_string(r)).append(".example.lab");
    DnsBuilder flood(id, flags::qr);
    flood.question(qname, A);
    for (int k = 0; k < 40; ++k) {
      std::string sub = std::string("s").append(std::to_string(r)).append("-").append(std::to_string(k));
      flood.ns(S::authority, sub + ".example.lab", std::string("ns.").append(sub).append(".elsewhere.lab"), 3600);
    }
    lab.exchange("203.0.113.10", id, qname, A, flood);
  }
  // Its waits fill half the places; then it is past its share: the other
  // 120 are refused.
  EXPECT_EQ(lab.events(LearnEvent::pending), 80u);
  EXPECT_EQ(lab.events(LearnEvent::pending_full), 120u);
  // lab.'s server refers other.lab. to ns.provider.lab without glue: it
  // still gets its wait, and the address answer teaches.
  lab.exchange("198.51.100.1", 200, "www.other.lab", A, glueless(200, "other.lab", "ns.provider.lab", 3600));
  walk_to_provider_lab(lab, 201);
  answer_provider_ns(lab, 202, 600);
  EXPECT_TRUE(lab.allowed("203.0.113.30"));
  // Per response: of 100 targets without glue, per_response_cap (64) wait.
  Lab one;
  walk_example_lab(one);
  DnsBuilder big(300, flags::qr);
  big.question("y.example.lab", A);
  for (int k = 0; k < 100; ++k)
    big.ns(S::authority, std::string("t").append(std::to_string(k)).append(".example.lab"),
           std::string("ns.t").append(std::to_string(k)).append(".elsewhere.lab"), 3600);
  one.exchange("203.0.113.10", 300, "y.example.lab", A, big);
  EXPECT_EQ(one.events(LearnEvent::pending), 64u);
  EXPECT_EQ(one.events(LearnEvent::per_response_cap), 36u);
}

// Captures given out of time order: a referral older than the one an entry
// holds leaves the entry's provenance the newest (the row would show an old
// response with an expiry it cannot have given).
TEST(LearnerScenario, AnOlderReferralLeavesTheNewestProvenance) {
  Lab lab;
  lab.exchange(kRoot, 1, "www.example.lab", A, root_referral_for_lab(1, "www.example.lab"));
  std::optional<Provenance> newest = lab.provenance("198.51.100.1");
  ASSERT_TRUE(newest);
  lab.now -= 100'000 * kNsPerSec;  // the next capture is a day older
  DnsBuilder older = root_referral_for_lab(2, "old.example.lab");
  lab.exchange(kRoot, 2, "old.example.lab", A, older);
  EXPECT_EQ(lab.events(LearnEvent::refreshed), 3u);  // taught again, as before
  lab.now += 100'000 * kNsPerSec;
  std::optional<Provenance> after = lab.provenance("198.51.100.1");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->response_time, newest->response_time);
  EXPECT_EQ(after->query_id, newest->query_id);
  EXPECT_EQ(after->expires, newest->expires);
}

// zones_per_address: a zone's server that names a TLD server's address in
// sub-zones of its own must not push the TLD zone out of that address (the
// TLD's referrals would teach nothing): the new zone replaces one at least
// as deep, or is refused.
TEST(LearnerScenario, SubZonesNamingATldServerCannotPushItsZoneOut) {
  LearningSettings s;
  s.zones_per_address = 4;
  Lab lab(s);
  walk_example_lab(lab);  // 198.51.100.1 serves lab. (learned first: it expires soonest)
  for (int k = 0; k < 5; ++k) {
    auto id = static_cast<uint16_t>(100 + k);
    std::string sub = std::string("s").append(std::to_string(k)).append(".example.lab");
    DnsBuilder r(id, flags::qr);
    r.question("www." + sub, A)
        .ns(S::authority, sub, "h." + sub, 172800)
        .addr(S::additional, "h." + sub, "198.51.100.1", 172800);
    lab.exchange("203.0.113.10", id, "www." + sub, A, r);
  }
  EXPECT_EQ(lab.events(LearnEvent::per_address_zone_cap), 2u);  // s3 and s4 each replaced a sub-zone
  // lab.'s server still refers for lab.
  DnsBuilder other(200, flags::qr);
  other.question("www.other.lab", A)
      .ns(S::authority, "other.lab", "ns1.other.lab", 3600)
      .addr(S::additional, "ns1.other.lab", "203.0.113.40", 3600);
  lab.exchange("198.51.100.1", 200, "www.other.lab", A, other);
  EXPECT_TRUE(lab.allowed("203.0.113.40"));
  // Full of zones shallower than a new one: the new one is refused.
  LearningSettings one_zone;
  one_zone.zones_per_address = 1;
  Lab tight(one_zone);
  walk_example_lab(tight);
  DnsBuilder r(300, flags::qr);
  r.question("www.s.example.lab", A)
      .ns(S::authority, "s.example.lab", "h.s.example.lab", 172800)
      .addr(S::additional, "h.s.example.lab", "198.51.100.1", 172800);
  tight.exchange("203.0.113.10", 300, "www.s.example.lab", A, r);
  EXPECT_EQ(tight.events(LearnEvent::per_address_zone_cap), 1u);
  tight.exchange("198.51.100.1", 200, "www.other.lab", A, other);
  EXPECT_TRUE(tight.allowed("203.0.113.40"));
}

// Ghost domains (CVE-2012-1033): a zone's own server answers for the zone's
// NS records with long TTLs, again and again, after its parent stopped
// delegating to it. What it teaches for its own zone (itself, or a server
// it adds) expires no later than its own entry, which only the parent's
// referral extends.
TEST(LearnerScenario, AZonesOwnServerCannotOutliveItsDelegation) {
  for (bool parent_refers_again : {false, true}) {
    Lab lab;
    walk_example_lab(lab);  // 203.0.113.10 for example.lab: min(86400, 3600) + 300 = 3900 s
    auto own_answer = [&](uint16_t id) { own_ns_answer(lab, id, "203.0.113.11", 86400); };
    own_answer(10);
    EXPECT_TRUE(lab.allowed("203.0.113.11")) << "a server the zone's own server names is learned";
    lab.advance_s(3000);
    own_answer(11);
    if (parent_refers_again) {
      DnsBuilder tld(12, flags::qr);
      tld.question("www.example.lab", A)
          .ns(S::authority, "example.lab", "ns1.example.lab", 86400)
          .addr(S::additional, "ns1.example.lab", "203.0.113.10", 3600);
      lab.exchange("198.51.100.1", 12, "www.example.lab", A, tld);
    }
    lab.advance_s(901);  // 3901 s after the parent's referral
    EXPECT_EQ(lab.allowed("203.0.113.10"), parent_refers_again) << "refers again " << parent_refers_again;
    EXPECT_EQ(lab.allowed("203.0.113.11"), false) << "refers again " << parent_refers_again;
  }
}

// A server named twice at one address (ns1 and ns2): each answer relinks
// its entry from one name to the other, and the name left behind is
// remembered. Remembering it again must not queue another item each time.
TEST(LearnerScenario, AnNsNameRememberedAgainAndAgainKeepsOneItem) {
  Lab lab;
  walk_example_lab(lab);
  for (int i = 0; i < 500; ++i) own_ns_answer(lab, static_cast<uint16_t>(100 + i), "203.0.113.10", 3600);
  EXPECT_GE(lab.learner.remembered_pairs(), 1u) << "the pair left behind is remembered";
  EXPECT_LE(lab.learner.remembered_items(), lab.learner.remembered_pairs());
  EXPECT_LE(lab.learner.remembered_pairs(), 2u);
}

// The limit on a zone's own servers is not the operator's: a static allow
// that teaches for the zone keeps what its server names unlimited. And a
// wait the zone's own server began takes the parent's word when the
// parent's referral for the same name comes while it waits.
TEST(LearnerScenario, OwnZoneLimitsYieldToStaticsAndToTheParent) {
  LearningSettings s;
  Lab with_static(s);
  with_static.learner.add_static({*Prefix::parse("203.0.113.8/30"), "", "example.lab"});  // a CIDR: in no slot
  walk_example_lab(with_static);
  DnsBuilder own(10, flags::qr | flags::aa);
  own.question("example.lab", 2)
      .ns(S::answer, "example.lab", "ns2.example.lab", 86400)
      .addr(S::additional, "ns2.example.lab", "203.0.113.77", 86400);
  with_static.exchange("203.0.113.10", 10, "example.lab", 2, own);
  with_static.advance_s(3901);
  EXPECT_TRUE(with_static.allowed("203.0.113.77")) << "86400 + 300 s: the static's word";

  Lab lab;
  walk_example_lab(lab);  // 203.0.113.10 for example.lab until 3900 s from now
  DnsBuilder child(20, flags::qr | flags::aa);
  child.question("example.lab", 2).ns(S::answer, "example.lab", "ns.provider.lab", 86400);
  lab.exchange("203.0.113.10", 20, "example.lab", 2, child);
  lab.exchange("198.51.100.1", 21, "www.example.lab", A, glueless(21, "example.lab", "ns.provider.lab", 86400));
  walk_to_provider_lab(lab, 22);
  answer_provider_ns(lab, 23, 86400);
  ASSERT_TRUE(lab.allowed("203.0.113.30"));
  lab.advance_s(4000);
  EXPECT_TRUE(lab.allowed("203.0.113.30")) << "the parent named it: 86400 + 300 s";
}

TEST(LearnerScenario, NsWithoutGlueIsDroppedWhenItsAddressArrivesLate) {
  Lab lab;
  walk_example_lab(lab);
  // In-bailiwick target but no glue: must wait.
  lab.exchange("203.0.113.10", 10, "www.sub.example.lab", A, glueless(10, "sub.example.lab", "ns.sub.example.lab.", 3600));
  lab.advance_s(3);  // past the 2 s default window
  EXPECT_EQ(lab.events(LearnEvent::pending_expired), 1u);
  DnsBuilder ans(11, flags::qr | flags::aa);
  ans.question("ns.sub.example.lab", A).addr(S::answer, "ns.sub.example.lab", "203.0.113.31", 600);
  lab.exchange("203.0.113.10", 11, "ns.sub.example.lab", A, ans);
  EXPECT_FALSE(lab.allowed("203.0.113.31"));
  EXPECT_EQ(lab.events(LearnEvent::answer_not_delegation), 2u);
}

// Glueless referrals for zone<i>.example.lab to ns<i>.provider.lab, one
// every 100 ms; housekeeping every 50 ms ends exactly the waits whose 2 s
// have run out, whatever their names.
TEST(LearnerScenario, NsWaitsEndAsTheirWindowsRunOutInTheOrderTheyBegan) {
  Lab lab;
  walk_example_lab(lab);
  constexpr int kWaits = 40;
  std::vector<TimeNs> began;
  for (int i = 0; i < kWaits; ++i) {
    std::string zone = "zone" + std::to_string(i) + ".example.lab";
    auto id = static_cast<uint16_t>(100 + i);
    lab.exchange("203.0.113.10", id, "www." + zone, A,
                 glueless(id, zone, "ns" + std::to_string(i) + ".provider.lab", 3600));
    began.push_back(lab.now);
    lab.advance_ms(80);  // with the exchange's 20: one referral per 100 ms
  }
  ASSERT_EQ(lab.events(LearnEvent::pending), static_cast<uint64_t>(kWaits));
  // The session's own housekeeping (each second of packet time) has ended
  // the first ones already.
  ASSERT_GT(lab.learner.pending_targets(), 0u);
  ASSERT_EQ(lab.events(LearnEvent::pending_expired) + lab.learner.pending_targets(), static_cast<uint64_t>(kWaits));
  for (int step = 0; step < 120; ++step) {
    lab.advance_ms(50);
    lab.learner.housekeeping(lab.now);
    auto ended = static_cast<uint64_t>(
        std::count_if(began.begin(), began.end(), [&](TimeNs t) { return t + 2 * kNsPerSec < lab.now; }));
    ASSERT_EQ(lab.events(LearnEvent::pending_expired), ended) << "step " << step;
    ASSERT_EQ(lab.learner.pending_targets(), kWaits - ended) << "step " << step;
  }
  EXPECT_EQ(lab.learner.pending_targets(), 0u);
}

// A reload that shortens ns_address_window: waits begun after it end
// before older, longer ones, and are let go on time (held behind the long
// one, they would count against max_pending_ns for up to the old window).
// None ends early, and an answer after a wait ended teaches nothing.
TEST(LearnerScenario, AShortenedNsWindowEndsNewWaitsOnTimeBeforeOlderLongerOnes) {
  Lab lab;
  walk_example_lab(lab);
  auto glueless = [&](uint16_t id, const std::string& zone, const std::string& ns) {
    DnsBuilder ref(id, flags::qr);
    ref.question("www." + zone, A).ns(S::authority, zone, ns, 3600);
    lab.exchange("203.0.113.10", id, "www." + zone, A, ref);
  };
  glueless(20, "long.example.lab", "ns.long-provider.lab");  // 2 s
  LearningSettings shorter;
  shorter.ns_address_window_s = 0.5;
  lab.learner.set_settings(shorter);
  glueless(21, "short.example.lab", "ns.provider.lab");  // 0.5 s
  ASSERT_EQ(lab.events(LearnEvent::pending), 2u);
  ASSERT_EQ(lab.learner.pending_targets(), 2u);
  lab.advance_ms(400);
  lab.learner.housekeeping(lab.now);
  EXPECT_EQ(lab.events(LearnEvent::pending_expired), 0u) << "no wait ends early";
  lab.advance_ms(300);  // the short wait has run out, the long one has not
  lab.learner.housekeeping(lab.now);
  EXPECT_EQ(lab.events(LearnEvent::pending_expired), 1u) << "the short wait ended on time";
  EXPECT_EQ(lab.learner.pending_targets(), 1u);
  walk_to_provider_lab(lab, 22);
  answer_provider_ns(lab, 23, 600);
  EXPECT_FALSE(lab.allowed("203.0.113.30")) << "the answer came after its wait ended";
  lab.advance_s(2);
  EXPECT_EQ(lab.events(LearnEvent::pending_expired), 2u);
  EXPECT_EQ(lab.learner.pending_targets(), 0u);
}

TEST(LearnerScenario, RepeatedNsWithoutGlueWaitsAgainOnceItsFirstWaitEnded) {
  Lab lab;
  walk_example_lab(lab);
  walk_to_provider_lab(lab, 11);
  lab.exchange("203.0.113.10", 12, "www.sub.example.lab", A, sub_to_provider(12));
  // Housekeeping runs at the first frame a second after the last one: here,
  // while the first wait is on; the next runs only after the repeat below,
  // so the ended wait is still held when the referral comes again.
  lab.advance_ms(1100);
  lab.query("203.0.113.10", 13, "unrelated.example.lab", A);
  lab.advance_ms(950);  // the first 2 s wait has ended
  lab.exchange("203.0.113.10", 14, "www.sub.example.lab", A, sub_to_provider(14));
  EXPECT_EQ(lab.events(LearnEvent::pending), 2u) << "an ended wait must not count as one still waiting";
  lab.advance_ms(100);
  answer_provider_ns(lab, 15, 600);
  EXPECT_TRUE(lab.allowed("203.0.113.30"));
}

TEST(LearnerScenario, AddressAnswerFromAServerOutsideTheNamesZoneDoesNotResolveAPendingNs) {
  Lab lab;
  walk_example_lab(lab);
  lab.exchange("203.0.113.10", 10, "www.sub.example.lab", A, sub_to_provider(10));
  // example.lab.'s server answers for provider.lab.: not its zone.
  answer_provider_ns(lab, 11, 600, "203.0.113.10");
  EXPECT_FALSE(lab.allowed("203.0.113.30"));
}

TEST(LearnerScenario, MortoStyleAddressAnswerIsNotADelegation) {
  Lab lab;
  walk_example_lab(lab);
  // c2.example.lab resolves to an address that no delegation names.
  DnsBuilder ans(20, flags::qr | flags::aa);
  ans.question("c2.example.lab", A).addr(S::answer, "c2.example.lab", "203.0.113.66", 60);
  lab.exchange("203.0.113.10", 20, "c2.example.lab", A, ans);
  EXPECT_FALSE(lab.allowed("203.0.113.66"));
}

// The resolver asks example.lab.'s server for ns1.example.lab AAAA.
void ask_ns1_aaaa(Lab& lab, uint16_t id, const std::string& server = "203.0.113.10",
                  const std::string& qname = "ns1.example.lab") {
  DnsBuilder r(id, flags::qr | flags::aa);
  r.question(qname, AAAA).addr(S::answer, qname, "2001:db8:10::10", 86400);
  lab.exchange(server, id, qname, AAAA, r);
}

// The TLD's referral gave ns1.example.lab's A only (walk_example_lab); a
// dual-stack resolver fetches its AAAA from the zone's server and queries
// it over IPv6: that must pass, for as long as the delegation lives.
TEST(LearnerScenario, GlueOfOneFamilyStillLetsTheOtherFamilyBeLearned) {
  Lab lab;
  walk_example_lab(lab);
  lab.advance_s(10);
  ask_ns1_aaaa(lab, 20);
  EXPECT_TRUE(lab.allowed("2001:db8:10::10"));
  std::optional<Provenance> p = lab.provenance("2001:db8:10::10");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->zone, "example.lab.");
  EXPECT_EQ(p->ns, "ns1.example.lab.");
  EXPECT_EQ(p->addr_ttl, 86400u);
  // No longer than the delegation it serves (the A glue's 3600 s + grace),
  // however long the AAAA's own TTL.
  EXPECT_EQ(p->expires, lab.provenance("203.0.113.10")->expires);
  lab.advance_s(3600 + 300);
  EXPECT_FALSE(lab.allowed("2001:db8:10::10"));
  EXPECT_FALSE(lab.allowed("203.0.113.10"));
}

TEST(LearnerScenario, AnAddressAnswerExtendsOnlyLiveDelegationsNamingItFromAServerForTheName) {
  Lab lab;
  walk_example_lab(lab);
  walk_to_provider_lab(lab, 11);  // provider.lab.'s server, 203.0.113.20, serves no example.lab name
  const uint64_t added = lab.events(LearnEvent::added);
  ask_ns1_aaaa(lab, 20, "203.0.113.20");
  EXPECT_FALSE(lab.allowed("2001:db8:10::10"));
  // Not the name the resolver asked for.
  DnsBuilder other(21, flags::qr | flags::aa);
  other.question("www.example.lab", AAAA).addr(S::answer, "ns1.example.lab", "2001:db8:10::10", 86400);
  lab.exchange("203.0.113.10", 21, "www.example.lab", AAAA, other);
  EXPECT_FALSE(lab.allowed("2001:db8:10::10"));
  // Not the type it asked for (an AAAA beside the A asked).
  DnsBuilder a_asked(22, flags::qr | flags::aa);
  a_asked.question("ns1.example.lab", A).addr(S::answer, "ns1.example.lab", "2001:db8:10::10", 86400);
  lab.exchange("203.0.113.10", 22, "ns1.example.lab", A, a_asked);
  EXPECT_FALSE(lab.allowed("2001:db8:10::10"));
  // A name no delegation names.
  ask_ns1_aaaa(lab, 23, "203.0.113.10", "ns9.example.lab");
  EXPECT_FALSE(lab.allowed("2001:db8:10::10"));
  // The delegation has ended, asked of the parent's server (still allowed,
  // and serving the name's zone from above).
  lab.advance_s(3600 + 301);
  ASSERT_TRUE(lab.allowed("198.51.100.1"));
  ask_ns1_aaaa(lab, 24, "198.51.100.1");
  EXPECT_FALSE(lab.allowed("2001:db8:10::10"));
  EXPECT_EQ(lab.events(LearnEvent::added), added);
}

// Learning the answered address for each live zone may make room at that
// address (zones_per_address), freeing a zone the answer still has to
// serve: that zone is learned by its name, never as another (the root).
TEST(LearnerScenario, AnAddressAnswerForManyZonesLearnsEachByItsNameWhenRoomIsMade) {
  LearningSettings s;
  s.zones_per_address = 2;
  Lab lab(s);
  walk_example_lab(lab);  // ns1.example.lab at 203.0.113.10 for example.lab.
  // lab. also delegates b.lab. and c.lab. to ns1.example.lab, with other glue.
  for (const char* zone : {"b", "c"}) {
    DnsBuilder r(30, flags::qr);
    std::string z = std::string(zone) + ".lab";
    r.question("www." + z, A)
        .ns(S::authority, z, "ns1.example.lab", 86400)
        .addr(S::additional, "ns1.example.lab", "203.0.113.99", 86400);
    lab.exchange("198.51.100.1", 30, "www." + z, A, r);
  }
  ASSERT_TRUE(lab.allowed("203.0.113.99"));
  // example.lab.'s server names 203.0.113.99 as ns1.example.lab's address.
  DnsBuilder r(31, flags::qr | flags::aa);
  r.question("ns1.example.lab", A).addr(S::answer, "ns1.example.lab", "203.0.113.99", 600);
  lab.exchange("203.0.113.10", 31, "ns1.example.lab", A, r);
  std::vector<std::string> zones;
  lab.learner.for_each_learned([&](Provenance&& p) {
    if (p.address == *IpAddress::parse("203.0.113.99")) zones.push_back(p.zone);
  });
  EXPECT_EQ(zones.size(), 2u);
  for (const std::string& z : zones) EXPECT_NE(z, ".") << "a zone freed on the way was learned as the root";
}

TEST(LearnerScenario, IpV6GlueAndIpV6TransportAreLearned) {
  Lab lab;
  const char* root6 = "2001:503:ba3e::2:30";  // a.root-servers.net
  lab.query(root6, 1, "www.example.lab", AAAA, "2001:db8:53::1", 41000);
  DnsBuilder r(1, flags::qr);
  r.question("www.example.lab", AAAA)
      .ns(S::authority, "lab", "ns6.nic.lab", 172800)
      .addr(S::additional, "ns6.nic.lab", "2001:db8:100::6", 172800);
  lab.respond(root6, r, "2001:db8:53::1", 41000);
  EXPECT_TRUE(lab.allowed("2001:db8:100::6"));
  EXPECT_EQ(lab.provenance("2001:db8:100::6")->address.family(), 6);
}

TEST(LearnerScenario, LifetimeIsTheSmallerTtlPlusGraceAndThenExpires) {
  LearningSettings s;
  s.grace_s = 30;
  s.min_ttl_s = 10;
  Lab lab(s);
  lab.exchange(kRoot, 1, "www.example.lab", A, one_server_referral(1, 100, 50));
  std::optional<Provenance> p = lab.provenance("198.51.100.9");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->expires - p->response_time, 80 * kNsPerSec);  // min(100, 50) + 30
  lab.advance_s(79);
  EXPECT_TRUE(lab.allowed("198.51.100.9"));
  lab.advance_s(2);
  EXPECT_FALSE(lab.allowed("198.51.100.9"));
  lab.advance_s(1);
  EXPECT_EQ(lab.events(LearnEvent::expired), 1u);
  EXPECT_EQ(lab.table.size(), 26u);  // only the root anchors remain
}

TEST(LearnerScenario, TtlIsClampedToMinAndMax) {
  LearningSettings s;
  s.grace_s = 0;
  s.min_ttl_s = 60;
  s.max_ttl_s = 3600;
  Lab lab(s);
  DnsBuilder r(1, flags::qr);
  r.question("www.example.lab", A)
      .ns(S::authority, "lab", "a.nic.lab", 5)
      .addr(S::additional, "a.nic.lab", "198.51.100.9", 5)
      .ns(S::authority, "lab", "b.nic.lab", 999999)
      .addr(S::additional, "b.nic.lab", "198.51.100.10", 999999);
  lab.exchange(kRoot, 1, "www.example.lab", A, r);
  EXPECT_EQ(lab.provenance("198.51.100.9")->expires - lab.now, 60 * kNsPerSec);
  EXPECT_EQ(lab.provenance("198.51.100.10")->expires - lab.now, 3600 * kNsPerSec);
}

TEST(LearnerScenario, RelearningRefreshesTheExpiry) {
  LearningSettings s;
  s.grace_s = 0;
  s.min_ttl_s = 1;
  Lab lab(s);
  lab.exchange(kRoot, 1, "www.example.lab", A, one_server_referral(1, 100, 100));
  lab.advance_s(90);
  lab.exchange(kRoot, 2, "www.example.lab", A, one_server_referral(2, 100, 100));
  lab.advance_s(90);
  EXPECT_TRUE(lab.allowed("198.51.100.9"));
  EXPECT_EQ(lab.events(LearnEvent::refreshed), 1u);
}

TEST(LearnerScenario, AnchorsNeverExpire) {
  Lab lab;
  lab.advance_s(10LL * 365 * 86400);
  EXPECT_TRUE(lab.allowed(kRoot));
  EXPECT_TRUE(lab.allowed("2001:dc3::35"));
}

TEST(LearnerScenario, PerResponseCapLimitsNewAddresses) {
  LearningSettings s;
  s.per_response_cap = 2;
  Lab lab(s);
  lab.exchange(kRoot, 1, "www.example.lab", A, root_referral_for_lab(1, "www.example.lab"));
  EXPECT_EQ(lab.events(LearnEvent::added), 2u);
  EXPECT_EQ(lab.events(LearnEvent::per_response_cap), 1u);
}

// A parsed message holds each name once, found among the latest few
// distinct names (ParsedMessage::kNameReuse); glue for a target named long
// before must still be matched to it, by its octets.
TEST(LearnerScenario, GlueFarBehindItsNsRecordInALargeReferralIsLearned) {
  constexpr int kServers = 3 * static_cast<int>(ParsedMessage::kNameReuse);
  DnsBuilder r(1, flags::qr);
  r.question("www.example.lab", A);
  for (int i = 0; i < kServers; ++i) r.ns(S::authority, "lab", "ns" + std::to_string(i) + ".nic.lab", 172800);
  for (int i = 0; i < kServers; ++i)
    r.addr(S::additional, "ns" + std::to_string(i) + ".nic.lab", "198.51.100." + std::to_string(10 + i), 3600);
  Lab lab;
  lab.exchange(kRoot, 1, "www.example.lab", A, r);
  EXPECT_EQ(lab.events(LearnEvent::added), static_cast<uint64_t>(kServers));
  EXPECT_EQ(lab.events(LearnEvent::glue_not_ns_target), 0u);
  for (int i = 0; i < kServers; ++i) EXPECT_TRUE(lab.allowed("198.51.100." + std::to_string(10 + i))) << i;
}

TEST(LearnerScenario, PerZoneCapLimitsAddressesOfOneZone) {
  LearningSettings s;
  s.per_zone_cap = 2;
  Lab lab(s);
  lab.exchange(kRoot, 1, "www.example.lab", A, root_referral_for_lab(1, "www.example.lab"));
  EXPECT_EQ(lab.events(LearnEvent::per_zone_cap), 1u);
}

TEST(LearnerScenario, FullTableRefusesNewEntriesAndKeepsAnchors) {
  Lab lab({}, 28);  // 26 anchors + 2
  lab.exchange(kRoot, 1, "www.example.lab", A, root_referral_for_lab(1, "www.example.lab"));
  EXPECT_EQ(lab.events(LearnEvent::added), 2u);
  EXPECT_EQ(lab.events(LearnEvent::table_full), 1u);
  EXPECT_TRUE(lab.allowed(kRoot));
  EXPECT_EQ(lab.table.size(), 28u);
}

// A static allow added while the table is full (a reload) does not get into
// it at once: the first room that frees is the static's, and the room the
// learner counts is what the table holds (a static refused took none, one
// that went in takes one, and its removal gives it back).
TEST(LearnerScenario, AStaticTheFullTableRefusedTakesTheFirstRoomAndOnlyThen) {
  LearningSettings s;
  s.grace_s = 0;
  s.min_ttl_s = 10;
  Lab lab(s, 27);  // 26 anchors + 1
  lab.exchange(kRoot, 1, "www.example.lab", A, one_server_referral(1, 100, 100));
  ASSERT_EQ(lab.events(LearnEvent::added), 1u);
  ASSERT_EQ(lab.table.size(), 27u);
  StaticAllow st{*Prefix::parse("192.0.2.99/32"), "added while full", ""};
  lab.learner.replace_statics({st});
  EXPECT_EQ(lab.table.size(), 27u) << "the full table refuses it";
  EXPECT_EQ(lab.events(LearnEvent::table_full), 1u);
  lab.advance_s(101);
  ASSERT_EQ(lab.events(LearnEvent::expired), 1u);
  EXPECT_EQ(lab.table.size(), 27u) << "the freed room went to the static";
  EXPECT_TRUE(lab.allowed("192.0.2.99"));
  auto other = [](uint16_t id) {  // a referral naming a second server for lab.
    DnsBuilder b(id, flags::qr);
    b.question("www.other.lab", A)
        .ns(S::authority, "lab", "b.nic.lab", 100)
        .addr(S::additional, "b.nic.lab", "198.51.100.10", 100);
    return b;
  };
  lab.exchange(kRoot, 2, "www.other.lab", A, other(2));
  EXPECT_EQ(lab.events(LearnEvent::table_full), 2u);
  EXPECT_FALSE(lab.allowed("198.51.100.10"));
  lab.learner.replace_statics({});
  ASSERT_EQ(lab.table.size(), 26u);
  lab.exchange(kRoot, 3, "www.other.lab", A, other(3));
  EXPECT_EQ(lab.events(LearnEvent::added), 2u);
  EXPECT_TRUE(lab.allowed("198.51.100.10"));
}

// A full query table forgets a tracked query to take the new one: under a
// flood the resolver's latest queries are tracked (each kept about
// max_tracked_queries / flood rate), where refusing them left every query
// after the table filled untracked until the flood's aged out.
TEST(LearnerScenario, AFullQueryTableForgetsAnEarlierQueryToTrackTheNewOne) {
  LearningSettings s;
  s.max_tracked_queries = 2;
  Lab lab(s);
  lab.query(kRoot, 1, "a.example.lab", A);
  lab.query(kRoot, 2, "b.example.lab", A);
  lab.query(kRoot, 3, "www.example.lab", A);  // the table is full: 1 or 2 makes room
  EXPECT_EQ(lab.events(LearnEvent::query_evicted), 1u);
  lab.query(kRoot, 3, "www.example.lab", A);  // a repeat takes no more room
  EXPECT_EQ(lab.events(LearnEvent::query_evicted), 1u);
  lab.respond(kRoot, root_referral_for_lab(3, "www.example.lab"));
  EXPECT_TRUE(lab.allowed("198.51.100.1"));
  lab.respond(kRoot, root_referral_for_lab(1, "a.example.lab"));
  lab.respond(kRoot, root_referral_for_lab(2, "b.example.lab"));
  EXPECT_EQ(lab.events(LearnEvent::unmatched_response), 1u);  // the one forgotten
}

// Under a flood far larger than the table, a query answered soon after it
// was sent is still matched: eviction picks queries of any age.
TEST(LearnerScenario, AResolversQueryIsMatchedDuringAFloodThatOverflowsTheQueryTable) {
  LearningSettings s;
  s.max_tracked_queries = 1000;
  Lab lab(s);
  int matched = 0, sent = 0;
  for (int round = 0; round < 50; ++round) {
    auto flood = [&](int n, uint16_t first_port) {  // a bot's queries to a root server, never answered
      for (int i = 0; i < n; ++i) {
        std::string name = "x";  // appended piece by piece: GCC 12 warns wrongly on "x" + to_string()
        name += std::to_string(++sent);
        name += ".lab";
        lab.query(kRoot, static_cast<uint16_t>(i), name, A, "192.0.2.66", static_cast<uint16_t>(first_port + i));
      }
    };
    flood(200, 1024);
    uint16_t id = static_cast<uint16_t>(5000 + round);
    lab.query(kRoot, id, "www.example.lab", A);
    flood(20, 2048);  // more while the answer is on its way
    uint64_t before = lab.events(LearnEvent::unmatched_response);
    lab.respond(kRoot, root_referral_for_lab(id, "www.example.lab"));
    matched += lab.events(LearnEvent::unmatched_response) == before;
  }
  // The rotating cursor reaches a given query within the next 20 evictions
  // about 2 % of the time: about one of the 50 is lost; 40 is far below
  // (refusing new queries instead matched only the first few rounds').
  EXPECT_GE(matched, 40);
  EXPECT_GT(lab.events(LearnEvent::query_evicted), 0u);
}

TEST(LearnerScenario, AnAddressForAWaitThatEndedButIsNotSweptYetCountsAsNoDelegation) {
  Lab lab;
  walk_example_lab(lab);
  walk_to_provider_lab(lab, 11);
  lab.exchange("203.0.113.10", 12, "www.sub.example.lab", A, sub_to_provider(12));
  lab.advance_ms(1100);
  lab.query("203.0.113.10", 13, "unrelated.example.lab", A);  // housekeeping: the wait goes on
  lab.advance_ms(950);  // the 2 s wait has ended; the next housekeeping is 0.05 s away
  uint64_t before = lab.events(LearnEvent::answer_not_delegation);
  answer_provider_ns(lab, 14, 600);
  EXPECT_FALSE(lab.allowed("203.0.113.30"));
  EXPECT_EQ(lab.events(LearnEvent::answer_not_delegation), before + 1) << "the late answer must be counted";
}

TEST(LearnerScenario, AnAwaitedAddressFromAServerOutsideItsZoneCountsAsOutOfBailiwick) {
  Lab lab;
  walk_example_lab(lab);
  lab.exchange("203.0.113.10", 10, "www.sub.example.lab", A, sub_to_provider(10));
  ASSERT_EQ(lab.events(LearnEvent::pending), 1u);
  uint64_t before = lab.events(LearnEvent::answer_not_delegation);
  // example.lab.'s server answers for provider.lab. while the wait is on.
  answer_provider_ns(lab, 11, 600, "203.0.113.10");
  EXPECT_FALSE(lab.allowed("203.0.113.30"));
  EXPECT_EQ(lab.events(LearnEvent::glue_out_of_bailiwick), 1u);
  EXPECT_EQ(lab.events(LearnEvent::answer_not_delegation), before);
}

TEST(LearnerScenario, AReferralRepeatedWhileItsWaitIsOnIsStillWaitingEvenWhenAllPlacesAreTaken) {
  LearningSettings s;
  s.max_pending_ns = 1;
  Lab lab(s);
  walk_example_lab(lab);
  lab.exchange("203.0.113.10", 10, "www.sub.example.lab", A, sub_to_provider(10));
  lab.advance_ms(100);
  lab.exchange("203.0.113.10", 11, "www.sub.example.lab", A, sub_to_provider(11));
  EXPECT_EQ(lab.events(LearnEvent::pending), 2u);
  EXPECT_EQ(lab.events(LearnEvent::pending_full), 0u) << "the repeat needs no new place";
  // Another target does find the one place taken.
  lab.exchange("203.0.113.10", 12, "www.sub2.example.lab", A, glueless(12, "sub2.example.lab", "ns.other.lab", 3600));
  EXPECT_EQ(lab.events(LearnEvent::pending_full), 1u);
}

TEST(LearnerScenario, SweepOfAFullQueryTableAlsoEndsNsWaitsThatRanOut) {
  LearningSettings s;
  s.max_tracked_queries = 3;
  s.max_pending_ns = 1;
  s.query_match_window_s = 1.0;
  Lab lab(s);
  walk_example_lab(lab);
  auto glueless = [](uint16_t id, const std::string& zone, const std::string& ns) {
    DnsBuilder ref(id, flags::qr);
    ref.question("www." + zone, A).ns(S::authority, zone, ns, 3600);
    return ref;
  };
  lab.exchange("203.0.113.10", 12, "www.sub.example.lab", A, glueless(12, "sub.example.lab", "ns.provider.lab"));
  ASSERT_EQ(lab.events(LearnEvent::pending), 1u);
  lab.advance_ms(1300);
  lab.query("203.0.113.10", 13, "unanswered.example.lab", A);  // housekeeping runs here; the wait goes on
  lab.advance_ms(730);  // the 2 s wait has run out; the next housekeeping is 0.27 s away
  lab.query("203.0.113.10", 14, "unanswered2.example.lab", A);
  lab.query("203.0.113.10", 16, "more.example.lab", A);  // the table is full now
  lab.advance_ms(10);
  // Full: swept, and so are waits that ran out; one of the three queries
  // before (none past its window) makes room.
  lab.query("203.0.113.10", 15, "www.sub2.example.lab", A);
  EXPECT_EQ(lab.events(LearnEvent::query_evicted), 1u);
  EXPECT_EQ(lab.events(LearnEvent::pending_expired), 1u);
  lab.advance_ms(10);
  lab.respond("203.0.113.10", glueless(15, "sub2.example.lab", "ns.other.lab"));
  EXPECT_EQ(lab.events(LearnEvent::pending), 2u) << "the one place for a wait is free again";
  EXPECT_EQ(lab.events(LearnEvent::pending_full), 0u);
}

TEST(LearnerScenario, QueryRecordsMoveTheLearnersClock) {
  // The appliance on packet time hands queries over as records and runs
  // housekeeping at the last frame the learner itself read: a later query
  // record is a later time all the same.
  LearningSettings s;
  s.grace_s = 0;
  s.min_ttl_s = 5;
  Lab lab(s);
  lab.exchange(kRoot, 1, "www.example.lab", A, one_server_referral(1, 5, 5));
  ASSERT_TRUE(lab.allowed("198.51.100.9"));
  DnsName qname;
  ASSERT_TRUE(DnsName::from_text("later.example.lab", qname));
  lab.learner.on_query(QueryRecord{*IpAddress::parse(kResolver), *IpAddress::parse(kRoot), kResolverPort, 53, 2, A,
                                   lab.learner.name_hash(qname), lab.now + 10 * kNsPerSec});
  lab.learner.housekeeping(lab.now);
  EXPECT_EQ(lab.events(LearnEvent::expired), 1u);
}

TEST(LearnerScenario, TcpResponseInOneByteSegmentsTeachesTheSameAsWhole) {
  auto run = [](size_t segment) {
    Lab lab;
    Bytes q = tcp_framed(DnsBuilder(1).question("www.example.lab", A).build());
    Bytes r = tcp_framed(root_referral_for_lab(1, "www.example.lab").build());
    Endpoints up{kResolver, kRoot, kResolverPort, 53}, down{kRoot, kResolver, 53, kResolverPort};
    lab.frame(tcp_frame(up, 1000, pkt::tcp_flag::syn, {}));
    lab.frame(tcp_frame(down, 5000, pkt::tcp_flag::syn | pkt::tcp_flag::ack, {}));
    lab.frame(tcp_frame(up, 1001, pkt::tcp_flag::ack | pkt::tcp_flag::psh, q));
    for (size_t off = 0; off < r.size(); off += segment) {
      size_t n = std::min(segment, r.size() - off);
      lab.frame(tcp_frame(down, static_cast<uint32_t>(5001 + off), pkt::tcp_flag::ack,
                          std::span<const std::byte>(r).subspan(off, n)));
    }
    std::vector<std::string> learned;
    lab.learner.for_each_learned([&](const Provenance& p) { learned.push_back(p.address.to_string()); });
    std::sort(learned.begin(), learned.end());
    return learned;
  };
  auto whole = run(100000);
  EXPECT_EQ(whole.size(), 3u);
  EXPECT_EQ(run(1), whole);
  EXPECT_EQ(run(7), whole);
}

// A snapshot is built from a frozen copy on another thread while the
// learner goes on: the copy must not see what happens after it was taken,
// even when every name it refers to is released and its id reused.
TEST(LearnerScenario, FrozenCopyKeepsTheRecordsAsTheyWereWhenTaken) {
  Lab lab;
  walk_example_lab(lab);
  snapshot::Contents before = snapshot_of(lab.learner, lab.now, 0);
  ASSERT_EQ(before.entries.size(), 4u);
  Learner::Frozen frozen;
  lab.learner.freeze(frozen);
  EXPECT_EQ(frozen.size(), 4u);

  // Everything expires (its names are released), then other zones are
  // learned under new names that take the freed ids.
  lab.advance_s(3 * 86400);
  EXPECT_FALSE(lab.allowed("203.0.113.10"));
  DnsBuilder other(9, flags::qr);
  other.question("www.other.test", A)
      .ns(S::authority, "test", "a.nic.test", 172800)
      .addr(S::additional, "a.nic.test", "198.51.100.77", 172800);
  lab.exchange(kRoot, 9, "www.other.test", A, other);
  EXPECT_TRUE(lab.allowed("198.51.100.77"));

  snapshot::Contents after = snapshot_of(frozen, lab.now - 3 * 86400 * kNsPerSec - 20'000'000, 0);
  after.taken_at = before.taken_at;
  EXPECT_EQ(snapshot::encode(after), snapshot::encode(before)) << "the frozen copy changed";
}

// The live learner copies for a snapshot a slice at a time while it goes
// on learning and forgetting. Whatever happens between slices, each copied
// record is one the learner held, with its own names: here every record
// copied before the learner forgot everything keeps its names although
// their ids (and its slot) were reused by records learned after it.
TEST(LearnerScenario, FrozenCopyMadeInSlicesHoldsRecordsAsTheyWereWithTheirOwnNames) {
  Lab lab;
  struct Truth {
    std::string zone, ns, query_name;
  };
  std::map<std::string, Truth> truth;  // address -> what taught it
  uint16_t id = 1;
  auto teach = [&](const std::string& tag, int i) {
    std::string tld = tag + std::to_string(i), ns = "a.nic." + tld, addr = "198.51.100." + std::to_string(i);
    if (tag == "new") addr = "203.0.113." + std::to_string(i);
    DnsBuilder ref(id, flags::qr);
    ref.question("www.example." + tld, A).ns(S::authority, tld, ns, 3600).addr(S::additional, ns, addr, 3600);
    lab.exchange(kRoot, id++, "www.example." + tld, A, ref);
    ASSERT_TRUE(lab.allowed(addr));
    truth[addr] = {tld + ".", ns + ".", "www.example." + tld + "."};
  };
  for (int i = 1; i <= 40; ++i) teach("old", i);
  Learner::Frozen frozen;
  lab.learner.freeze_begin(frozen);
  // The root hints' slots come first: past them, 20 of the 40.
  ASSERT_FALSE(lab.learner.freeze_some(frozen, lab.learner.anchors() + 20));
  size_t first_slice = frozen.size();
  ASSERT_EQ(first_slice, 20u);
  // Everything learned expires (slots and names freed), then new records
  // take the freed slots and name ids, behind the cursor and ahead of it.
  lab.advance_s(2 * 3600);
  for (int i = 1; i <= 40; ++i) ASSERT_FALSE(lab.allowed("198.51.100." + std::to_string(i)));
  for (int i = 1; i <= 60; ++i) teach("new", i);
  while (!lab.learner.freeze_some(frozen, 7)) {
  }
  size_t old_seen = 0, new_seen = 0;
  std::set<std::string> seen;
  frozen.for_each([&](Provenance&& p) {
    std::string a = p.address.to_string();
    ASSERT_TRUE(truth.count(a)) << a << " was never learned";
    EXPECT_EQ(p.zone, truth[a].zone) << a;
    EXPECT_EQ(p.ns, truth[a].ns) << a;
    EXPECT_EQ(p.query_name, truth[a].query_name) << a;
    EXPECT_TRUE(seen.insert(a).second) << a << " copied twice";
    (a.starts_with("198.51.100.") ? old_seen : new_seen) += 1;
  });
  EXPECT_EQ(old_seen, first_slice) << "the first slice's records, as they were";
  EXPECT_GT(new_seen, 0u) << "records learned ahead of the cursor are in the copy";
  // All at once, the copy is what the learner holds now: the new ones only.
  lab.learner.freeze(frozen);
  EXPECT_EQ(frozen.size(), 60u);
}

// Enough records that the copy's names fill more than one block, with
// names shared between records: the copy, whole or in slices of 7, is the
// learner's history byte for byte.
TEST(LearnerScenario, FrozenCopyOfManyRecordsIsTheLearnersHistory) {
  Lab lab({}, 100000);
  for (int i = 0; i < 3000; ++i) {
    std::string tld = "t" + std::to_string(i);
    DnsBuilder ref(static_cast<uint16_t>(i + 1), flags::qr);
    ref.question("a-rather-long-query-name-" + std::to_string(i) + ".example." + tld, A);
    for (int k = 0; k < 8; ++k) {
      std::string ns = "ns" + std::to_string(k) + ".a-long-name-server-name-" + std::to_string(i) + "." + tld;
      ref.ns(S::authority, tld, ns, 3600)
          .addr(S::additional, ns, "2001:db8::" + std::to_string(i) + ":" + std::to_string(k + 1), 3600);
    }
    lab.exchange(kRoot, static_cast<uint16_t>(i + 1), "a-rather-long-query-name-" + std::to_string(i) + ".example." + tld,
                 A, ref);
  }
  snapshot::Contents own = snapshot_of(lab.learner, lab.now, 0);
  ASSERT_EQ(own.entries.size(), 24000u);
  Learner::Frozen frozen;
  for (size_t slice : {SIZE_MAX, size_t{7}}) {
    lab.learner.freeze_begin(frozen);
    while (!lab.learner.freeze_some(frozen, slice)) {
    }
    snapshot::Contents copy = snapshot_of(frozen, lab.now, 0);
    EXPECT_EQ(snapshot::encode(copy), snapshot::encode(own)) << "slices of " << slice;
  }
}

// The data path hands queries over as records (the worker parsed them and
// hashed the name): each must match its response exactly as the query
// message would.
TEST(LearnerScenario, QueriesHandedOverAsRecordsMatchTheirResponses) {
  Lab lab;
  DnsName qname;
  ASSERT_TRUE(DnsName::from_text("www.example.lab", qname));
  std::vector<QueryRecord> batch;
  for (uint16_t k = 0; k < 40; ++k) {
    QueryRecord r{*IpAddress::parse(kResolver), *IpAddress::parse(kRoot), static_cast<uint16_t>(kResolverPort + k),
                  53, static_cast<uint16_t>(100 + k), A, lab.learner.name_hash(qname), lab.now};
    batch.push_back(r);
  }
  for (const QueryRecord& r : batch) lab.learner.on_query(r);
  EXPECT_EQ(lab.learner.tracked_queries(), 40u);
  lab.advance_ms(20);
  // Three of them are answered.
  for (int k : {0, 8, 39})
    lab.respond(kRoot, root_referral_for_lab(static_cast<uint16_t>(100 + k), "www.example.lab"), kResolver,
                static_cast<uint16_t>(kResolverPort + k));
  EXPECT_EQ(lab.events(LearnEvent::unmatched_response), 0u);
  EXPECT_TRUE(lab.allowed("198.51.100.1"));
  EXPECT_EQ(lab.learner.tracked_queries(), 37u) << "a matched query is used up";
  // A response whose query record said another id stays unsolicited.
  lab.respond(kRoot, root_referral_for_lab(99, "www.example.lab"), kResolver, kResolverPort);
  EXPECT_EQ(lab.events(LearnEvent::unmatched_response), 1u);
}

TEST(LearnerScenario, StaticAllowWithoutZoneIsAllowedButTeachesNothing) {
  Lab lab;
  lab.learner.add_static({*Prefix::parse("8.8.4.4"), "public resolver", ""});
  EXPECT_TRUE(lab.allowed("8.8.4.4"));
  lab.exchange("8.8.4.4", 1, "www.example.lab", A, root_referral_for_lab(1, "www.example.lab"));
  EXPECT_FALSE(lab.allowed("198.51.100.1"));
  EXPECT_EQ(lab.events(LearnEvent::source_teaches_nothing), 1u);
}

TEST(LearnerScenario, StaticAllowWithZoneTeachesForThatZone) {
  Lab lab;
  lab.learner.add_static({*Prefix::parse("192.0.2.0/28"), "forwarders", "lab."});
  EXPECT_TRUE(lab.allowed("192.0.2.5"));
  EXPECT_FALSE(lab.allowed("192.0.2.16"));
  lab.exchange("192.0.2.5", 1, "www.example.lab", A, root_referral_for_lab(1, "www.example.lab"));
  // "lab" is at the zone itself, so the delegation of lab. is in bailiwick.
  EXPECT_TRUE(lab.allowed("198.51.100.1"));
}

TEST(LearnerScenario, OutOfBailiwickTargetWithKnownAddressIsLearnedForTheNewZoneAtOnce) {
  Lab lab;
  walk_example_lab(lab);
  // other.lab. is delegated to ns1.example.lab, whose address is known.
  lab.exchange("198.51.100.1", 30, "www.other.lab", A, glueless_other_lab(30));
  // ns1.example.lab now answers for other.lab. too: its referral teaches.
  DnsBuilder sub(31, flags::qr);
  sub.question("www.deep.other.lab", A)
      .ns(S::authority, "deep.other.lab", "ns.deep.other.lab", 3600)
      .addr(S::additional, "ns.deep.other.lab", "203.0.113.50", 3600);
  lab.exchange("203.0.113.10", 31, "www.deep.other.lab", A, sub);
  EXPECT_TRUE(lab.allowed("203.0.113.50"));
}

TEST(LearnerScenario, AKnownAddressServesANewZoneOnlyForWhatIsLeftOfItsTtl) {
  Lab lab(exact_ttls());
  walk_and_wait_3500s(lab);  // ns1.example.lab at 203.0.113.10, address TTL 3600
  // other.lab. is delegated to ns1.example.lab 3500 s later: the resolver
  // holds that address for 100 s more, and so does the entry for other.lab.
  lab.exchange("198.51.100.1", 30, "www.other.lab", A, glueless_other_lab(30));
  std::optional<Provenance> p = lab.provenance("203.0.113.10");
  ASSERT_TRUE(p.has_value());
  EXPECT_LE(p->expires, lab.now + 100 * kNsPerSec);  // the latest of its two zones
  lab.advance_s(101);
  EXPECT_FALSE(lab.allowed("203.0.113.10"));
}

TEST(LearnerScenario, GluelessReferralsRepeatedWithinASecondDoNotKeepAKnownAddressAlive) {
  // Whole seconds left, rounded: rounding up would move the address's end
  // later with every referral less than a second after the one before.
  Lab lab(exact_ttls());
  TimeNs address_end = lab.now + 3600 * kNsPerSec;
  walk_and_wait_3500s(lab);
  lab.advance_ms(300);
  for (uint16_t id = 100; lab.now < address_end + 100 * kNsPerSec; ++id) {
    lab.exchange("198.51.100.1", id, "www.other.lab", A, glueless_other_lab(id));
    lab.advance_ms(480);
  }
  EXPECT_FALSE(lab.allowed("203.0.113.10"));
}

// A random world of referrals (glue in and out of bailiwick, NS without glue
// answered later, repeated and foreign owners, unknown servers, short TTLs
// so that housekeeping expires things): frames and their times. Learn it
// with min_ttl_s = 1 and grace_s = 0.
struct RandomWorld {
  std::vector<Bytes> frames;
  std::vector<TimeNs> times;
};
RandomWorld random_world(unsigned seed) {
  RandomWorld world;
  std::vector<Bytes>& frames = world.frames;
  std::vector<TimeNs>& times = world.times;
  std::mt19937 rng(seed);
  TimeNs now = TimeNs{1'700'000'000} * kNsPerSec;
  std::vector<std::string> servers = {kRoot};
  auto frame = [&](const Bytes& f) {
    frames.push_back(f);
    times.push_back(now);
  };
  for (int k = 0; k < 6000; ++k) {
    // Mostly the root or a recently named server (TTLs are seconds), some unknown.
    unsigned pick = static_cast<unsigned>(rng() % 10);
    std::string server = pick < 3   ? std::string(kRoot)
                         : pick < 9 ? servers[servers.size() - 1 - rng() % std::min<size_t>(20, servers.size())]
                                    : std::string("203.0.113.9");
    std::string zone = "z" + std::to_string(rng() % 300) + (rng() % 2 ? ".lab" : ".sub.lab");
    std::string qname = "www." + zone;
    auto id = static_cast<uint16_t>(k);
    frame(udp_frame({kResolver, server, kResolverPort, 53}, DnsBuilder(id).question(qname, 1).build()));
    now += 2'000'000;
    DnsBuilder r(id, flags::qr);
    r.question(qname, 1);
    std::string owner = rng() % 8 ? zone : "elsewhere.lab";
    int nsc = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < nsc; ++i) {
      bool foreign = rng() % 4 == 0;
      std::string target = foreign ? "ns" + std::to_string(rng() % 50) + ".host.lab" : "ns" + std::to_string(i) + "." + zone;
      // Seconds, so that housekeeping expires much; the last referrals live
      // on, so that records are left at the end.
      auto ttl = k >= 5000 ? 3600u : static_cast<uint32_t>(1 + rng() % 5);
      r.ns(DnsBuilder::authority, owner, target, ttl);
      if (rng() % 3) {
        std::string a = "198.51.100." + std::to_string(1 + rng() % 250);
        r.addr(DnsBuilder::additional, target, a, k >= 5000 ? 3600u : static_cast<uint32_t>(1 + rng() % 5));
        if (rng() % 2) servers.push_back(a);
      }
    }
    frame(udp_frame({server, kResolver, 53, kResolverPort}, r.build()));
    if (rng() % 5 == 0) {  // an answer for an NS name that came without glue
      std::string target = "ns" + std::to_string(rng() % 50) + ".host.lab";
      auto aid = static_cast<uint16_t>(k + 30000);
      frame(udp_frame({kResolver, servers[0], kResolverPort, 53}, DnsBuilder(aid).question(target, 1).build()));
      DnsBuilder ans(aid, flags::qr);
      ans.question(target, 1).addr(DnsBuilder::answer, target, "203.0.113." + std::to_string(1 + rng() % 250), 3);
      frame(udp_frame({servers[0], kResolver, 53, kResolverPort}, ans.build()));
    }
    now += static_cast<TimeNs>(rng() % 400) * 1'000'000;
    if (servers.size() > 400) servers.erase(servers.begin() + 1, servers.begin() + 200);
  }
  return world;
}

// The world fed to sessions: one thread, and pipelined. The oracle is the
// one-thread session; everything either learner or session reports must be
// equal.
TEST(LearnSession, PipelinedOrGrowingInStepsLearnsExactlyWhatOneThreadLearns) {
  LearningSettings settings;
  settings.min_ttl_s = 1;
  settings.grace_s = 0;
  auto [frames, times] = random_world(21);
  struct Run {
    MapAllowTable table{100000};
    Learner learner;
    LearnSession session;
    Run(const LearningSettings& s, bool pipelined)
        : learner(s, table), session(learner, {53}, {}, pipelined) {
      for (const RootHint& h : builtin_root_hints()) learner.add_anchor(h.address, h.name);
    }
  };
  // And a third, one thread whose maps grow in steps as the live learner's
  // do (every insert then may move other entries).
  Run one(settings, false), two(settings, true), three(settings, false);
  three.learner.grow_in_steps();
  for (size_t i = 0; i < frames.size(); ++i) {
    one.session.feed(pkt::LinkType::ethernet, times[i], frames[i]);
    two.session.feed(pkt::LinkType::ethernet, times[i], frames[i]);
    three.session.feed(pkt::LinkType::ethernet, times[i], frames[i]);
  }
  one.session.finish(one.session.last_time());
  two.session.finish(two.session.last_time());
  three.session.finish(three.session.last_time());
  auto row = [](const Provenance& p) {
    return p.address.to_string() + " " + p.zone + " " + p.ns + " " + std::to_string(p.expires) + " " +
           std::to_string(p.ns_ttl) + " " + std::to_string(p.addr_ttl) + " " + p.query_name + " " +
           std::to_string(p.query_id) + " " + std::to_string(p.query_time) + " " +
           std::to_string(p.response_time) + " " + p.server.to_string();
  };
  auto history = [&](const Learner& l) {
    std::vector<std::string> rows;
    l.for_each_learned([&](Provenance&& p) { rows.push_back(row(p)); });
    std::sort(rows.begin(), rows.end());
    return rows;
  };
  // Record views built on any number of threads: the same records in the
  // same order as for_each_learned.
  std::vector<std::string> in_order;
  two.learner.for_each_learned([&](Provenance&& p) { in_order.push_back(row(p)); });
  EXPECT_GT(in_order.size(), 20u) << "records left at the end to compare";
  for (unsigned threads : {1u, 2u, 3u, 7u}) {
    std::vector<std::string> viewed;
    for (const Learner::RecordView& v : two.learner.learned_views(threads)) viewed.push_back(row(v.provenance()));
    EXPECT_EQ(viewed, in_order) << threads << " threads, views";
  }
  EXPECT_GT(one.learner.counters()[static_cast<size_t>(LearnEvent::added)], 1000u);
  EXPECT_GT(one.learner.counters()[static_cast<size_t>(LearnEvent::expired)], 500u) << "housekeeping must matter here";
  EXPECT_GT(one.learner.counters()[static_cast<size_t>(LearnEvent::source_not_allowed)], 100u);
  EXPECT_EQ(history(one.learner), history(two.learner));
  EXPECT_EQ(one.learner.counters(), two.learner.counters());
  EXPECT_EQ(one.learner.queries_seen(), two.learner.queries_seen());
  EXPECT_EQ(one.learner.responses_taught(), two.learner.responses_taught());
  EXPECT_EQ(one.learner.tracked_queries(), two.learner.tracked_queries());
  EXPECT_EQ(one.session.stats().parse_faults, two.session.stats().parse_faults);
  EXPECT_EQ(one.session.extract_stats().frames, two.session.extract_stats().frames);
  EXPECT_EQ(history(one.learner), history(three.learner));
  EXPECT_EQ(one.learner.counters(), three.learner.counters());
  EXPECT_EQ(one.learner.tracked_queries(), three.learner.tracked_queries());
}

// The learner answers rule 2 and lookup() from its own records, not from
// the table it writes for the data path: the two must agree on every
// address at all times. Checked through the random world, every 250
// frames, for every address it names, at times on both sides of the
// expiries.
TEST(LearnSession, TheLearnersOwnAnswersAreWhatItsTableHolds) {
  LearningSettings settings;
  settings.min_ttl_s = 1;
  settings.grace_s = 0;
  auto [frames, times] = random_world(5);
  MapAllowTable table(100000);
  Learner learner(settings, table);
  for (const RootHint& h : builtin_root_hints()) learner.add_anchor(h.address, h.name);
  LearnSession session(learner, {53}, {}, false);
  std::vector<IpAddress> addresses;
  for (const RootHint& h : builtin_root_hints()) addresses.push_back(h.address);
  for (int i = 1; i <= 250; ++i) {
    addresses.push_back(*IpAddress::parse("198.51.100." + std::to_string(i)));
    addresses.push_back(*IpAddress::parse("203.0.113." + std::to_string(i)));
  }
  size_t checked = 0, allowed = 0, learned = 0;
  auto compare = [&](TimeNs at) {
    for (const IpAddress& a : addresses) {
      std::optional<TableValue> v = table.lookup(a, now_seconds(at));
      AllowAnswer ans = learner.lookup(a, at);
      ASSERT_EQ(ans.allowed, v.has_value()) << a.to_string() << " at " << at;
      ++checked;
      if (!v) continue;
      ++allowed;
      learned += v->kind == EntryKind::learned;
      EXPECT_EQ(ans.kind, v->kind) << a.to_string();
      ASSERT_TRUE(ans.provenance) << a.to_string();
      EXPECT_EQ(ans.provenance->address, a);
      if (v->kind == EntryKind::learned) {
        EXPECT_EQ(table_seconds(ans.provenance->expires), v->expires_s) << a.to_string();
      }
    }
  };
  for (size_t i = 0; i < frames.size(); ++i) {
    session.feed(pkt::LinkType::ethernet, times[i], frames[i]);
    if (i % 250 == 0) {
      compare(times[i]);
      compare(times[i] + 3 * kNsPerSec);  // most short TTLs over, nothing swept yet
    }
  }
  session.finish(session.last_time());
  compare(session.last_time());
  EXPECT_GT(learned, 1000u) << "learned entries must be among those compared";
  EXPECT_LT(allowed, checked) << "unknown and expired addresses too";
}

// Rule 1 with learning.clients: a bot picks its own query's id, port and
// name, and an accomplice outside answers it "from" the root; only the
// site's resolvers' queries are tracked, so that answer matches nothing.
TEST(LearningClients, ASpoofedAnswerToABotsQueryTeachesNothingWhenOnlyResolversAreListed) {
  const std::string bot = "192.0.2.77";
  for (bool listed : {false, true}) {
    LearningSettings s;
    if (listed) s.clients = {*Prefix::parse(std::string(kResolver) + "/32")};
    Lab lab(s);
    lab.query(kRoot, 0x1337, "c2.bot.lab", 1, bot, 33333);
    lab.advance_ms(20);
    lab.respond(kRoot, root_referral_for_lab(0x1337, "c2.bot.lab"), bot, 33333);
    EXPECT_EQ(lab.allowed("198.51.100.1"), !listed) << "listed " << listed;
    EXPECT_EQ(lab.events(LearnEvent::query_not_from_client), listed ? 1u : 0u);
    // The resolver's own exchange teaches either way.
    lab.exchange(kRoot, 7, "www.example.lab", 1, root_referral_for_lab(7, "www.example.lab"));
    EXPECT_TRUE(lab.allowed("198.51.100.2")) << "listed " << listed;
  }
}

// From the inside port only queries count: the same referral, matched and
// from an anchor, teaches nothing when it came in from the inside.
TEST(Origin, AResponseFromTheInsideTeachesNothingEvenWhenItMatches) {
  for (Origin origin : {Origin::unknown, Origin::inside}) {
    Lab lab;
    lab.query(kRoot, 7, "www.example.lab", 1);
    lab.advance_ms(20);
    Bytes f = udp_frame({kRoot, kResolver, 53, kResolverPort}, root_referral_for_lab(7, "www.example.lab").build());
    lab.session.feed(pkt::LinkType::ethernet, lab.now, f, 0, origin);
    bool inside = origin == Origin::inside;
    EXPECT_EQ(lab.allowed("198.51.100.1"), !inside);
    EXPECT_EQ(lab.events(LearnEvent::response_from_inside), inside ? 1u : 0u);
  }
}

}  // namespace
}  // namespace nsgate::testing
