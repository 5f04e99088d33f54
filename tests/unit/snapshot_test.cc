// SPDX-License-Identifier: BSD-3-Clause
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "core/dns_name.hh"
#include "core/snapshot.hh"
#include "support/temp_dir.hh"

namespace nsgate {
namespace {

snapshot::Contents sample() {
  snapshot::Contents c;
  c.taken_at = 1'700'000'000 * kNsPerSec;
  for (int i = 0; i < 3; ++i) {
    Provenance p;
    p.address = *IpAddress::parse(i == 2 ? "2001:db8::7" : ("198.51.100." + std::to_string(i + 1)).c_str());
    p.zone = "lab.";
    p.ns = "ns" + std::to_string(i) + ".nic.lab.";
    p.ns_ttl = 172800;
    p.addr_ttl = 3600 + static_cast<uint32_t>(i);
    p.expires = c.taken_at + 3600 * kNsPerSec;
    p.query_time = c.taken_at - 5;
    p.query_id = static_cast<uint16_t>(1000 + i);
    p.query_name = "www.example.lab.";
    p.response_time = c.taken_at;
    p.server = *IpAddress::parse("198.41.0.4");
    c.entries.push_back(p);
  }
  return c;
}

bool same(const Provenance& a, const Provenance& b) {
  return a.address == b.address && a.kind == b.kind && a.zone == b.zone && a.ns == b.ns &&
         a.ns_ttl == b.ns_ttl && a.addr_ttl == b.addr_ttl && a.expires == b.expires &&
         a.query_time == b.query_time && a.query_id == b.query_id && a.query_name == b.query_name &&
         a.response_time == b.response_time && a.server == b.server;
}

TEST(Snapshot, RoundTripKeepsEveryField) {
  auto c = sample();
  auto bytes = snapshot::encode(c);
  snapshot::Contents back;
  std::string err;
  ASSERT_TRUE(snapshot::decode(bytes, back, err)) << err;
  EXPECT_EQ(back.taken_at, c.taken_at);
  ASSERT_EQ(back.entries.size(), c.entries.size());
  for (size_t i = 0; i < c.entries.size(); ++i) EXPECT_TRUE(same(back.entries[i], c.entries[i])) << i;
}

TEST(Snapshot, EveryTruncationIsRefusedWithAMessage) {
  auto bytes = snapshot::encode(sample());
  for (size_t n = 0; n < bytes.size(); ++n) {
    snapshot::Contents back;
    std::string err;
    EXPECT_FALSE(snapshot::decode(std::span<const std::byte>(bytes).first(n), back, err)) << n;
    EXPECT_FALSE(err.empty());
    EXPECT_TRUE(back.entries.empty());
  }
}

TEST(Snapshot, EverySingleBitFlipIsRefused) {
  auto bytes = snapshot::encode(sample());
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; bit += 3) {
      auto copy = bytes;
      copy[i] ^= std::byte(1 << bit);
      snapshot::Contents back;
      std::string err;
      EXPECT_FALSE(snapshot::decode(copy, back, err)) << "byte " << i << " bit " << bit;
    }
  }
}

TEST(Snapshot, WrongVersionIsNamedInTheError) {
  auto bytes = snapshot::encode(sample());
  bytes[11] = std::byte(9);  // version field, then fix the header checksum
  uint32_t crc = snapshot::crc32(std::span<const std::byte>(bytes).first(36));
  for (int i = 0; i < 4; ++i) bytes[36 + static_cast<size_t>(i)] = std::byte(crc >> (24 - 8 * i));
  snapshot::Contents back;
  std::string err;
  EXPECT_FALSE(snapshot::decode(bytes, back, err));
  EXPECT_NE(err.find("version 9"), std::string::npos) << err;
}

TEST(Snapshot, NamesLongerThan255CharactersRoundTrip) {
  // A 255-octet name whose octets are unprintable: every one is written
  // \DDD in presentation form, so the text is about four times as long.
  std::string text;
  for (int label = 0; label < 3; ++label) {
    for (int i = 0; i < 63; ++i) text += "\\001";
    text += ".";
  }
  text += std::string(61, 'a') + ".";
  DnsName name;
  ASSERT_TRUE(DnsName::from_text(text, name));
  ASSERT_EQ(name.wire_size(), 255u);
  ASSERT_GT(text.size(), 255u);
  auto c = sample();
  c.entries[1].zone = text;
  c.entries[1].ns = "ns." + text.substr(3);
  c.entries[2].query_name = text;
  snapshot::Contents back;
  std::string err;
  ASSERT_TRUE(snapshot::decode(snapshot::encode(c), back, err)) << err;
  ASSERT_EQ(back.entries.size(), c.entries.size());
  for (size_t i = 0; i < c.entries.size(); ++i) EXPECT_TRUE(same(back.entries[i], c.entries[i])) << i;
}

TEST(Snapshot, AVersionOneFileStillLoads) {
  // Written by the version 1 encoder (nsgate before 2026-11-28) from
  // sample(): u8 text lengths.
  std::ifstream in(std::string(NSGATE_SOURCE_DIR) + "/tests/data/snapshot/v1-sample.snap", std::ios::binary);
  ASSERT_TRUE(in) << "missing test data";
  std::vector<char> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto bytes = std::as_bytes(std::span(raw.data(), raw.size()));
  ASSERT_EQ(std::to_integer<int>(bytes[11]), 1);  // the version field says 1
  snapshot::Contents back;
  std::string err;
  ASSERT_TRUE(snapshot::decode(bytes, back, err)) << err;
  auto c = sample();
  EXPECT_EQ(back.taken_at, c.taken_at);
  ASSERT_EQ(back.entries.size(), c.entries.size());
  for (size_t i = 0; i < c.entries.size(); ++i) EXPECT_TRUE(same(back.entries[i], c.entries[i])) << i;
  // What this nsgate writes is the newer version, and differs.
  auto now = snapshot::encode(c);
  EXPECT_EQ(std::to_integer<uint32_t>(now[11]), snapshot::kVersion);
  EXPECT_NE(now.size(), bytes.size());
}

TEST(Snapshot, FileIsWrittenAtomicallyAndReadBack) {
  testing::TempDir dir;
  std::string path = dir / "table.snap";
  std::string err;
  // A link where a fixed temp name would be (PATH.tmp) is not written through.
  std::string victim = dir / "victim";
  std::ofstream(victim) << "keep me";
  ASSERT_EQ(symlink(victim.c_str(), (path + ".tmp").c_str()), 0);
  ASSERT_TRUE(snapshot::write_file(path, sample(), err)) << err;
  std::ifstream v(victim);
  std::string kept;
  std::getline(v, kept);
  EXPECT_EQ(kept, "keep me");
  unlink((path + ".tmp").c_str());
  std::vector<std::string> left;  // nothing but the snapshot and the test's own files
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) left.push_back(e.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"table.snap", "victim"}));
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);  // new: private, it holds the names clients asked
  ASSERT_EQ(chmod(path.c_str(), 0640), 0);
  ASSERT_TRUE(snapshot::write_file(path, sample(), err)) << err;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);  // rewritten: the mode the operator gave it
  snapshot::Contents back;
  ASSERT_TRUE(snapshot::read_file(path, back, err)) << err;
  EXPECT_EQ(back.entries.size(), 3u);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << "garbage";
  EXPECT_FALSE(snapshot::read_file(path, back, err));
  EXPECT_NE(err.find(path), std::string::npos);
}

// What a writer killed mid-way leaves (PATH.tmp.XXXXXX) goes once it has
// not changed for the given time; a writer's file still changing, other
// files and links stay.
TEST(Snapshot, StaleTemporaryFilesOfAKilledWriterAreRemoved) {
  testing::TempDir dir;
  std::string path = dir / "table.snap";
  auto make = [&](const std::string& name, int age_s) {
    std::ofstream(dir / name) << "partial";
    std::filesystem::last_write_time(dir / name,
                                     std::filesystem::file_time_type::clock::now() - std::chrono::seconds(age_s));
  };
  make("table.snap.tmp.AbC123", 3600);   // a killed writer's, an hour old
  make("table.snap.tmp.XyZ789", 5);      // a writer at work
  make("table.snap.tmp.short", 3600);    // not mkostemp's name
  make("other.snap.tmp.AbC123", 3600);   // another snapshot's
  make("table.snap", 3600);
  std::filesystem::create_symlink(dir / "table.snap", dir / "table.snap.tmp.LiNk00");
  std::vector<std::string> removed = snapshot::remove_stale_temps(path, 600 * kNsPerSec);
  EXPECT_EQ(removed, std::vector<std::string>{dir / "table.snap.tmp.AbC123"});
  std::vector<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) left.push_back(e.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"other.snap.tmp.AbC123", "table.snap", "table.snap.tmp.LiNk00",
                                            "table.snap.tmp.XyZ789", "table.snap.tmp.short"}));
  // A path in the current folder, and a folder that does not exist: nothing, no throw.
  EXPECT_TRUE(snapshot::remove_stale_temps("no-such-folder-xyz/table.snap", 0).empty());
}

TEST(Snapshot, Crc32MatchesTheStandardCheckValue) {
  std::string s = "123456789";
  EXPECT_EQ(snapshot::crc32(std::as_bytes(std::span(s.data(), s.size()))), 0xcbf43926u);
}

}  // namespace
}  // namespace nsgate
