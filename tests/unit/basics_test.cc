// SPDX-License-Identifier: BSD-3-Clause
// Addresses, names, rule predicates, root hints and the map table.

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <cstdio>
#include <ctime>
#include <cmath>
#include <map>
#include <random>

#include "core/allow_table.hh"
#include "core/dns_name.hh"
#include "core/format.hh"
#include "core/learn_delay.hh"
#include "core/learner.hh"
#include "core/name_pool.hh"
#include "core/root_hints.hh"

namespace nsgate {
namespace {

DnsName name(const char* s) {
  DnsName n;
  EXPECT_TRUE(DnsName::from_text(s, n)) << s;
  return n;
}

// Oracle: libc's gmtime_r and snprintf, which format_time used to call.
std::string libc_time(TimeNs t) {
  time_t secs = static_cast<time_t>(t / kNsPerSec);
  long micros = static_cast<long>((t % kNsPerSec) / 1000);
  if (micros < 0) {
    --secs;
    micros += 1'000'000;
  }
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
  return buf;
}

TEST(FormatTime, AgreesWithGmtimeOverTheWholeRangeOfNanosecondTimes) {
  // 64-bit nanoseconds reach from 1677 to 2262: centuries, leap days, the
  // epoch and negative times are all in there.
  std::vector<TimeNs> samples = {0, -1, 1, INT64_MIN, INT64_MAX - 1, 951782400LL * kNsPerSec,
                                 951868799LL * kNsPerSec + 999'999'999, 4107542399LL * kNsPerSec,
                                 -2208988800LL * kNsPerSec, 1709164800LL * kNsPerSec};
  std::mt19937_64 rng(5);
  for (int i = 0; i < 20000; ++i) samples.push_back(static_cast<TimeNs>(rng() >> 1) * (i % 2 ? 1 : -1));
  for (TimeNs t : samples) EXPECT_EQ(format_time(t), libc_time(t)) << t;
  EXPECT_EQ(format_time(INT64_MAX), "never");
}

TEST(IpAddress, ParsesAndPrintsBothFamilies) {
  EXPECT_EQ(IpAddress::parse("192.0.2.1")->to_string(), "192.0.2.1");
  EXPECT_EQ(IpAddress::parse("2001:DB8::1")->to_string(), "2001:db8::1");
  EXPECT_TRUE(IpAddress::parse("192.0.2.1")->is_v4());
  EXPECT_FALSE(IpAddress::parse("2001:db8::1")->is_v4());
  EXPECT_FALSE(IpAddress::parse("192.0.2.256"));
  EXPECT_FALSE(IpAddress::parse("example"));
  EXPECT_FALSE(IpAddress::parse(""));
}

TEST(IpAddress, PrintsWhatInetNtopPrints) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 20000; ++i) {
    uint64_t r = rng();
    std::array<std::byte, 16> b6;
    for (size_t k = 0; k < 16; ++k) b6[k] = std::byte(rng() >> (k % 2 ? 40 : 8));
    if (i % 3 == 0) std::fill(b6.begin() + 4, b6.begin() + 12, std::byte{0});  // runs of zeros for "::"
    uint32_t v4 = static_cast<uint32_t>(r >> (i % 4 * 8));  // small octets too
    char want[INET6_ADDRSTRLEN];
    uint32_t net = htonl(v4);
    ASSERT_TRUE(inet_ntop(AF_INET, &net, want, sizeof want));
    EXPECT_EQ(IpAddress::v4(v4).to_string(), want);
    ASSERT_TRUE(inet_ntop(AF_INET6, b6.data(), want, sizeof want));
    EXPECT_EQ(IpAddress::v6(b6).to_string(), want);
  }
}

// The code point of the UTF-8 character at q[i] and its length, decoded
// bit by bit; {0, 0} unless it is well-formed (shortest form, no
// surrogate, at most U+10FFFF).
std::pair<uint32_t, size_t> utf8_at(const std::string& q, size_t i) {
  auto c = static_cast<unsigned char>(q[i]);
  size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
  if (n == 0 || c >= 0xf8 || i + n > q.size()) return {0, 0};
  uint32_t cp = c & (0x7fu >> n);
  for (size_t k = 1; k < n; ++k) {
    auto d = static_cast<unsigned char>(q[i + k]);
    if ((d >> 6) != 2) return {0, 0};
    cp = cp << 6 | (d & 0x3fu);
  }
  uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < least[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return {0, 0};
  return {cp, n};
}

// A JSON string decoder for the test: the escapes append_json_string may
// write and well-formed UTF-8, anything else in the output is a failure.
std::optional<std::string> json_unquote(const std::string& q) {
  if (q.size() < 2 || q.front() != '"' || q.back() != '"') return std::nullopt;
  std::string out;
  for (size_t i = 1; i + 1 < q.size(); ++i) {
    auto c = static_cast<unsigned char>(q[i]);
    if (c >= 0x80) {
      auto [cp, n] = utf8_at(q.substr(0, q.size() - 1), i);
      if (n == 0) return std::nullopt;  // a byte that is not UTF-8 must have been escaped
      out += q.substr(i, n);
      i += n - 1;
      continue;
    }
    if (c < 0x20 || c == 0x7f || c == '"') return std::nullopt;  // must have been escaped
    if (c != '\\') {
      out += q[i];
      continue;
    }
    if (++i + 1 >= q.size()) return std::nullopt;
    switch (q[i]) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case 'u': {
        if (i + 4 >= q.size() - 1 || q.compare(i + 1, 2, "00") != 0) return std::nullopt;
        out += static_cast<char>(std::stoi(q.substr(i + 3, 2), nullptr, 16));
        i += 4;
        break;
      }
      default: return std::nullopt;
    }
  }
  return out;
}

TEST(JsonString, WellFormedUtf8GoesAsItIsAndOtherHighBytesAreEscaped) {
  EXPECT_EQ(json_string("Z\xc3\xbcrich"), "\"Z\xc3\xbcrich\"");                       // U+00FC
  EXPECT_EQ(json_string("\xe2\x82\xac \xf0\x9f\x98\x80"), "\"\xe2\x82\xac \xf0\x9f\x98\x80\"");  // 3 and 4 bytes
  EXPECT_EQ(json_string("\xc3"), "\"\\u00c3\"");                                 // cut short
  EXPECT_EQ(json_string("\xc0\xaf"), "\"\\u00c0\\u00af\"");                      // overlong '/'
  EXPECT_EQ(json_string("\xed\xa0\x80"), "\"\\u00ed\\u00a0\\u0080\"");           // a surrogate
  EXPECT_EQ(json_string("\xf4\x90\x80\x80"), "\"\\u00f4\\u0090\\u0080\\u0080\"");  // past U+10FFFF
}

TEST(JsonString, EveryByteRoundTripsAndNothingUnescapedLeaks) {
  std::mt19937 rng(3);
  std::vector<std::string> inputs = {"", "example.com.", "a\"b", "back\\slash", "tab\tnl\ncr\r"};
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  inputs.push_back(all);
  for (int i = 0; i < 5000; ++i) {
    std::string s(rng() % 40, '\0');
    for (char& ch : s) ch = static_cast<char>(rng() % 4 ? 'a' + rng() % 26 : rng() % 256);
    inputs.push_back(s);
  }
  // Well-formed characters of every length, whole and cut, among others.
  for (const char* u : {"\xc3\xbc", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf"}) {
    std::string w(u);
    inputs.push_back("a" + w + "b");
    inputs.push_back(w.substr(0, w.size() - 1) + "z");
    inputs.push_back(w + w.substr(1));
  }
  for (const std::string& s : inputs) {
    std::string prefix = "x";
    std::string out = prefix;
    append_json_string(out, s);
    ASSERT_EQ(out.substr(0, 1), prefix);
    EXPECT_EQ(json_unquote(out.substr(1)), s);
    EXPECT_EQ(json_string(s), out.substr(1));
  }
}

TEST(Prefix, RejectsHostBitsAndBadLengths) {
  std::string why;
  EXPECT_TRUE(Prefix::parse("10.0.0.0/8"));
  EXPECT_FALSE(Prefix::parse("10.0.0.0/33", &why));
  EXPECT_NE(why.find("prefix"), std::string::npos);
  EXPECT_FALSE(Prefix::parse("10.0.0.1/8", &why));
  EXPECT_NE(why.find("host bits"), std::string::npos);
  EXPECT_FALSE(Prefix::parse("2001:db8::/129"));
  EXPECT_TRUE(Prefix::parse("2001:db8::/32"));
  EXPECT_EQ(Prefix::parse("8.8.4.4")->length, 32);
}

TEST(Prefix, ContainsAndOverlapsRespectFamilies) {
  auto p = *Prefix::parse("192.0.2.0/24");
  EXPECT_TRUE(p.contains(*IpAddress::parse("192.0.2.200")));
  EXPECT_FALSE(p.contains(*IpAddress::parse("192.0.3.1")));
  EXPECT_FALSE(p.contains(*IpAddress::parse("::ffff:192.0.3.1")));
  EXPECT_TRUE(p.overlaps(*Prefix::parse("192.0.2.128/25")));
  EXPECT_FALSE(p.overlaps(*Prefix::parse("2001:db8::/32")));
  EXPECT_TRUE(Prefix::parse("::/0")->contains(*IpAddress::parse("2001:db8::1")));
}

TEST(AddressClass, UnusableAndPrivateRangesAreRecognised) {
  auto cls = [](const char* s) { return classify(*IpAddress::parse(s)); };
  EXPECT_EQ(cls("0.1.2.3"), AddressClass::unspecified);
  EXPECT_EQ(cls("127.0.0.53"), AddressClass::loopback);
  EXPECT_EQ(cls("239.1.1.1"), AddressClass::multicast);
  EXPECT_EQ(cls("255.255.255.255"), AddressClass::reserved);
  EXPECT_EQ(cls("169.254.0.1"), AddressClass::link_local);
  EXPECT_EQ(cls("172.20.0.1"), AddressClass::private_use);
  EXPECT_EQ(cls("100.64.0.1"), AddressClass::private_use);
  EXPECT_EQ(cls("192.0.2.1"), AddressClass::usable);
  EXPECT_EQ(cls("::"), AddressClass::unspecified);
  EXPECT_EQ(cls("::1"), AddressClass::loopback);
  EXPECT_EQ(cls("ff05::2"), AddressClass::multicast);
  EXPECT_EQ(cls("fe80::1"), AddressClass::link_local);
  EXPECT_EQ(cls("fd00::1"), AddressClass::private_use);
  EXPECT_EQ(cls("::192.0.2.1"), AddressClass::reserved);
  EXPECT_EQ(cls("2001:db8::1"), AddressClass::usable);
}

TEST(DnsName, ComparesCaseInsensitivelyAndKnowsAncestors) {
  EXPECT_EQ(name("WWW.Example.COM"), name("www.example.com."));
  EXPECT_TRUE(name("www.example.com").is_at_or_below(name("com")));
  EXPECT_TRUE(name("www.example.com").is_at_or_below(name(".")));
  EXPECT_TRUE(name("example.com").is_at_or_below(name("example.com")));
  EXPECT_FALSE(name("example.com").is_at_or_below(name("www.example.com")));
  EXPECT_FALSE(name("badexample.com").is_at_or_below(name("example.com")));
  EXPECT_EQ(name(".").to_string(), ".");
}

TEST(DnsName, RejectsEmptyLabelsAndOverlongNames) {
  DnsName n;
  EXPECT_FALSE(DnsName::from_text("a..b", n));
  EXPECT_FALSE(DnsName::from_text(std::string(64, 'x'), n));
  std::string longname;
  for (int i = 0; i < 5; ++i) longname += std::string(60, 'x') + ".";
  EXPECT_FALSE(DnsName::from_text(longname, n));
}

TEST(DnsName, EscapesRoundTrip) {
  DnsName n;
  ASSERT_TRUE(DnsName::from_text("a\\.b.c\\032d.lab", n));
  EXPECT_EQ(n.label_count(), 3);
  EXPECT_EQ(n.to_string(), "a\\.b.c\\032d.lab.");
}

// The presentation form as RFC 1035 §5.1 spells it, a character at a time:
// the reference for DnsName::to_string and NamePool::text_of.
std::string reference_text(const DnsName& n) {
  if (n.is_root()) return ".";
  std::string s;
  const uint8_t* w = n.wire();
  for (size_t at = 0; w[at] != 0; at += 1 + w[at]) {
    for (size_t i = 1; i <= w[at]; ++i) {
      uint8_t c = w[at + i];
      char buf[8];
      if (c == '.' || c == '\\')
        std::snprintf(buf, sizeof buf, "\\%c", c);
      else if (c < 0x21 || c > 0x7e)
        std::snprintf(buf, sizeof buf, "\\%03u", c);
      else
        std::snprintf(buf, sizeof buf, "%c", c);
      s += buf;
    }
    s += '.';
  }
  return s;
}

TEST(DnsName, PresentationFormMatchesTheReferenceForAnyOctets) {
  std::mt19937 rng(17);
  for (int k = 0; k < 20000; ++k) {
    DnsName n;
    int labels = static_cast<int>(rng() % 6);
    for (int l = 0; l < labels; ++l) {
      uint8_t label[63];
      size_t len = 1 + rng() % (k % 5 == 0 ? 63 : 12);
      for (size_t i = 0; i < len; ++i)
        label[i] = static_cast<uint8_t>(rng() % 3 ? 'a' + rng() % 26 : rng() % 256);
      if (!n.append_label(label, len)) break;
    }
    std::string want = reference_text(n);
    EXPECT_EQ(n.to_string(), want);
    EXPECT_EQ(NamePool::text_of(NamePool::wire_view(n)), want);
    DnsName back;
    ASSERT_TRUE(DnsName::from_text(want, back)) << want;
    EXPECT_EQ(back, n) << want;
  }
}

TEST(LearnRules, BailiwickAcceptsOwnersAtOrBelowAServedZone) {
  std::vector<DnsName> com{name("com")};
  EXPECT_TRUE(rules::in_bailiwick(name("example.com"), com));
  EXPECT_TRUE(rules::in_bailiwick(name("com"), com));
  EXPECT_FALSE(rules::in_bailiwick(name("example.net"), com));
  EXPECT_FALSE(rules::in_bailiwick(name("example.net"), {}));
  std::vector<DnsName> root{name(".")};
  EXPECT_TRUE(rules::in_bailiwick(name("anything.at.all"), root));
}

TEST(LearnRules, UnusableAddressesAreRefusedAndPrivateOnlyWhenAllowed) {
  EXPECT_EQ(rules::refuse_address(*IpAddress::parse("127.0.0.1"), dns::type::A, true), LearnEvent::unusable_address);
  EXPECT_EQ(rules::refuse_address(*IpAddress::parse("10.0.0.1"), dns::type::A, false), LearnEvent::private_address);
  EXPECT_EQ(rules::refuse_address(*IpAddress::parse("10.0.0.1"), dns::type::A, true), std::nullopt);
  EXPECT_EQ(rules::refuse_address(*IpAddress::parse("198.51.100.1"), dns::type::A, false), std::nullopt);
}

TEST(LearnRules, LifetimeIsMinTtlClampedPlusGrace) {
  LearningSettings s;
  s.min_ttl_s = 60;
  s.max_ttl_s = 86400;
  s.grace_s = 300;
  EXPECT_EQ(rules::lifetime(3600, 600, s), 900u);
  EXPECT_EQ(rules::lifetime(10, 3600, s), 360u);
  EXPECT_EQ(rules::lifetime(999999, 999999, s), 86700u);
  // Top bit set: treated as zero (RFC 2181 §8), then clamped up.
  EXPECT_EQ(rules::lifetime(0x80000000u, 3600, s), 360u);
}

TEST(RootHints, BuiltInHintsCoverThirteenServersInBothFamilies) {
  auto hints = builtin_root_hints();
  ASSERT_EQ(hints.size(), 26u);
  int v4 = 0;
  for (const auto& h : hints) v4 += h.address.is_v4();
  EXPECT_EQ(v4, 13);
}

TEST(RootHints, FileIsParsedAndBadLinesReportedWithNumbers) {
  std::vector<RootHintsError> errors;
  auto hints = parse_root_hints(
      "; lab root hints\n"
      ".                        3600000      NS    A.ROOT.LAB.\n"
      "A.ROOT.LAB.              3600000      A     192.0.2.1\n"
      "A.ROOT.LAB.              3600000  IN  AAAA  2001:db8::1\n"
      "B.ROOT.LAB.              3600000      A     2001:db8::2\n"
      "garbage\n",
      errors);
  ASSERT_EQ(hints.size(), 2u);
  EXPECT_EQ(hints[0].name, "a.root.lab.");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].line, 5);
  EXPECT_EQ(errors[1].line, 6);
}

TEST(MapAllowTable, ExpiredEntriesAreNotFound) {
  MapAllowTable t(4);
  auto a = *IpAddress::parse("192.0.2.1");
  auto b = *IpAddress::parse("192.0.2.2");
  EXPECT_TRUE(t.upsert(a, {100, 1, EntryKind::learned}));
  EXPECT_TRUE(t.upsert(b, {TableValue::kNever, 2, EntryKind::anchor}));
  EXPECT_TRUE(t.lookup(a, 99));
  EXPECT_FALSE(t.lookup(a, 100));
  EXPECT_TRUE(t.lookup(b, UINT32_MAX - 1));
  EXPECT_TRUE(t.erase(a));
  EXPECT_FALSE(t.erase(a));
  EXPECT_EQ(t.size(), 1u);
}

TEST(MapAllowTable, AgreesWithAStdMapUnderRandomUpsertsAndErasesAndRefusesBeyondCapacity) {
  constexpr size_t kCapacity = 300;
  MapAllowTable t(kCapacity);
  std::map<IpAddress, TableValue> oracle;
  std::mt19937 rng(8);
  size_t refused = 0;
  for (int i = 0; i < 50000; ++i) {
    IpAddress a = i % 2 ? IpAddress::v4(static_cast<uint32_t>(0xc0000200u + rng() % 400))
                        : *IpAddress::parse("2001:db8::" + std::to_string(rng() % 400));
    TableValue v{static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng() & 0xffffff), EntryKind::learned};
    if (rng() % 3 == 0) {
      EXPECT_EQ(t.erase(a), oracle.erase(a) == 1);
    } else if (oracle.count(a) || oracle.size() < kCapacity) {
      EXPECT_TRUE(t.upsert(a, v));
      oracle[a] = v;
    } else {
      EXPECT_FALSE(t.upsert(a, v)) << "full: a new address is refused";
      ++refused;
    }
    ASSERT_EQ(t.size(), oracle.size());
  }
  EXPECT_GT(refused, 0u);
  std::map<IpAddress, TableValue> seen;
  t.for_each([&](const IpAddress& a, TableValue v) { EXPECT_TRUE(seen.emplace(a, v).second); });
  EXPECT_EQ(seen, oracle);
  for (const auto& [a, v] : oracle) EXPECT_EQ(t.lookup(a, 0), v.expired_at(0) ? std::nullopt : std::optional(v));
}

TEST(TableValue, PacksIntoSixtyFourBitsAndBack) {
  TableValue v{123456789, 0xabcdef, EntryKind::static_allow};
  EXPECT_EQ(TableValue::unpack(v.pack()), v);
}

// The oracle: the nearest-rank quantile of the delays kept whole and
// sorted, rounded up to the upper bound of its power-of-two bucket.
TEST(LearnDelay, PercentileIsTheNearestRankDelayRoundedUpToItsBucket) {
  std::mt19937_64 rng(7);
  for (size_t n : {1u, 2u, 9u, 10u, 100u, 1000u, 4097u}) {
    LearnDelay d;
    std::vector<TimeNs> all;
    std::lognormal_distribution<double> spread(12.0, 2.0);  // around 160 us, a few seconds at most
    for (size_t i = 0; i < n; ++i) {
      auto v = static_cast<TimeNs>(spread(rng));
      d.record(v);
      all.push_back(v);
    }
    std::sort(all.begin(), all.end());
    for (double p : {0.01, 0.5, 0.9, 0.99, 1.0}) {
      TimeNs want = all[static_cast<size_t>(std::ceil(p * static_cast<double>(n))) - 1];
      TimeNs upper = want;
      for (size_t b = 0; b + 1 < d.log2_us.size(); ++b)
        if (want < LearnDelay::bound(b)) {
          upper = std::min(LearnDelay::bound(b), all.back());
          break;
        }
      EXPECT_EQ(d.percentile(p), upper) << "n=" << n << " p=" << p;
      EXPECT_GE(d.percentile(p), want);
    }
  }
}

TEST(LearnDelay, TenDelaysHaveTheirNinthAsP90AndNoneGiveZero) {
  LearnDelay d;
  EXPECT_EQ(d.percentile(0.99), 0);
  for (int i = 0; i < 9; ++i) d.record(3'000);  // 3 us: bucket < 4 us
  d.record(900'000);                             // one slow one, below 1024 us
  EXPECT_EQ(d.percentile(0.9), 4'000);
  EXPECT_EQ(d.percentile(0.99), 900'000);        // the bucket's bound (1024 us) is above every delay
  d.record(20'000'000'000);                      // 20 s, beyond the last bucket
  EXPECT_EQ(d.percentile(1.0), 20'000'000'000);
}

}  // namespace
}  // namespace nsgate
