// SPDX-License-Identifier: BSD-3-Clause
// The rte_hash TTL table: expiry on lookup, bounded sweep, capacity, and a
// reader thread looking up while the writer inserts, refreshes and deletes.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "dp/eal.hh"
#include "dp/rte_table.hh"

namespace nsgate::dp {
namespace {

IpAddress addr(uint32_t i, bool v6 = false) {
  if (!v6) return IpAddress::v4(0xc6330000u + i);  // 198.51.0.0/16
  std::array<std::byte, 16> b{};
  b[0] = std::byte(0x20);
  b[1] = std::byte(0x01);
  b[2] = std::byte(0x0d);
  b[3] = std::byte(0xb8);
  for (int k = 0; k < 4; ++k) b[12 + static_cast<size_t>(k)] = std::byte(i >> (24 - 8 * k));
  return IpAddress::v6(std::span<const std::byte, 16>(b));
}

std::unique_ptr<RteAllowTable> make(const char* name, size_t cap, unsigned readers = 1) {
  std::string err;
  auto t = RteAllowTable::create(name, cap, readers, err);
  EXPECT_TRUE(t) << err;
  return t;
}

TEST(RteAllowTable, LookupHonoursExpiryInTheValue) {
  auto t = make("t_expiry", 64);
  ASSERT_TRUE(t->upsert(addr(1), {100, 7, EntryKind::learned}));
  ASSERT_TRUE(t->upsert(addr(2, true), {TableValue::kNever, 8, EntryKind::anchor}));
  auto v = t->lookup(addr(1), 99);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->provenance, 7u);
  EXPECT_FALSE(t->lookup(addr(1), 100));
  EXPECT_TRUE(t->lookup(addr(2, true), UINT32_MAX - 1));
  EXPECT_FALSE(t->lookup(addr(3), 0));
  // Refresh in place.
  ASSERT_TRUE(t->upsert(addr(1), {200, 9, EntryKind::learned}));
  EXPECT_EQ(t->lookup(addr(1), 150)->provenance, 9u);
  EXPECT_EQ(t->size(), 2u);
}

TEST(RteAllowTable, CapacityIsHonouredAndRefreshStillWorksWhenFull) {
  auto t = make("t_cap", 100);
  for (uint32_t i = 0; i < 100; ++i) ASSERT_TRUE(t->upsert(addr(i), {1000, i, EntryKind::learned})) << i;
  EXPECT_FALSE(t->upsert(addr(100), {1000, 0, EntryKind::learned}));
  EXPECT_TRUE(t->upsert(addr(5), {2000, 5, EntryKind::learned}));
  EXPECT_EQ(t->size(), 100u);
}

TEST(RteAllowTable, EraseFreesTheSlotForANewKeyWhenFull) {
  auto t = make("t_erase", 64);
  for (uint32_t i = 0; i < 64; ++i) ASSERT_TRUE(t->upsert(addr(i), {1000, i, EntryKind::learned}));
  EXPECT_FALSE(t->upsert(addr(64), {1000, 64, EntryKind::learned}));
  EXPECT_TRUE(t->erase(addr(3)));
  EXPECT_FALSE(t->erase(addr(3)));
  EXPECT_TRUE(t->upsert(addr(64), {1000, 64, EntryKind::learned}));
  EXPECT_FALSE(t->lookup(addr(3), 0));
  EXPECT_EQ(t->lookup(addr(64), 0)->provenance, 64u);
  size_t n = 0;
  t->for_each([&](const IpAddress&, TableValue) { ++n; });
  EXPECT_EQ(n, 64u);
}

TEST(RteAllowTable, ConcurrentReaderNeverMissesPresentKeysNorSeesExpiredOnes) {
  constexpr uint32_t kStable = 2000, kExpired = 2000, kChurn = 20000;
  auto t = make("t_conc", kStable + kExpired + kChurn + 1024, 1);
  const uint32_t now = 1000;
  for (uint32_t i = 0; i < kStable; ++i) t->upsert(addr(i), {now + 100, i, EntryKind::learned});
  for (uint32_t i = 0; i < kExpired; ++i) t->upsert(addr(i, true), {now - 1, i, EntryKind::learned});

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> misses{0}, expired_hits{0}, lookups{0}, passes{0};
  std::thread reader([&] {
    t->reader_register(0);
    uint64_t n = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      for (uint32_t i = 0; i < kStable; i += 7) {
        auto v = t->lookup(addr(i), now);
        if (!v) ++misses;
        else if (v->provenance != i && v->provenance != i + 1'000'000) ++misses;  // torn value
        ++n;
      }
      for (uint32_t i = 0; i < kExpired; i += 7) {
        if (t->lookup(addr(i, true), now)) ++expired_hits;
        ++n;
      }
      t->reader_quiescent(0);
      passes.fetch_add(1, std::memory_order_relaxed);
    }
    lookups = n;
    t->reader_unregister(0);
  });

  // Writer: refresh stable keys, insert and delete churn keys, sweep the
  // expired ones, until the reader has made kOverlap whole passes over the
  // keys during the writes (however slow a loaded machine makes either
  // thread), bounded by a deadline that only a stuck thread reaches.
  constexpr uint64_t kOverlap = 50;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  uint64_t passes_before = passes.load();
  uint32_t base = kStable;
  int round = 0;
  for (; (round < 50 || passes.load() - passes_before < kOverlap) && std::chrono::steady_clock::now() < deadline;
       ++round) {
    for (uint32_t i = 0; i < kStable; ++i)
      t->upsert(addr(i), {now + 100, round % 2 ? i + 1'000'000 : i, EntryKind::learned});
    for (uint32_t i = 0; i < 2000; ++i) t->upsert(addr(base + i), {now + 50, i, EntryKind::learned});
    for (uint32_t i = 0; i < 2000; ++i) t->erase(addr(base + i));
    base = kStable + (base + 2000 - kStable) % kChurn;
    // Expired keys are deleted and re-inserted (still expired) behind the reader.
    for (uint32_t i = round % 7; i < kExpired; i += 7) {
      t->erase(addr(i, true));
      t->upsert(addr(i, true), {now - 1, i, EntryKind::learned});
    }
  }
  uint64_t overlap = passes.load() - passes_before;
  stop = true;
  reader.join();
  EXPECT_GE(overlap, kOverlap) << "the reader did not overlap the writer enough to prove anything";
  EXPECT_GE(round, 50);
  EXPECT_EQ(misses.load(), 0u);
  EXPECT_EQ(expired_hits.load(), 0u);
  std::printf("reader lookups: %llu, passes during %d write rounds: %llu\n", static_cast<unsigned long long>(lookups.load()),
              round, static_cast<unsigned long long>(overlap));
}

// Looks `keys` up through `cache` in bursts of up to 32, as a worker does.
std::vector<std::optional<TableValue>> cached_lookup(const RteAllowTable& t, RteAllowTable::LookupCache& cache,
                                                     const std::vector<IpAddress>& keys) {
  std::vector<std::optional<TableValue>> out(keys.size());
  for (size_t first = 0; first < keys.size(); first += 32) {
    unsigned n = static_cast<unsigned>(std::min<size_t>(32, keys.size() - first));
    const IpAddress* ptrs[32];
    TableValue values[32];
    for (unsigned i = 0; i < n; ++i) ptrs[i] = &keys[first + i];
    uint64_t hits = t.lookup_bulk(ptrs, n, values, cache);
    for (unsigned i = 0; i < n; ++i)
      if (hits >> i & 1) out[first + i] = values[i];
  }
  return out;
}

TEST(RteAllowTable, CachedLookupsAgreeWithTheTableAfterEveryKindOfWrite) {
  // More keys than the cache has slots, so answers also evict each other.
  constexpr uint32_t kKeys = 6000;
  auto t = make("t_cache", kKeys);
  RteAllowTable::LookupCache cache;
  std::vector<IpAddress> keys;
  for (uint32_t i = 0; i < kKeys; ++i) keys.push_back(addr(i, i % 3 == 0));
  std::mt19937 rng(7);
  // The oracle: a plain map of every write made.
  std::map<IpAddress, TableValue> model;
  for (int round = 0; round < 200; ++round) {
    // A few writes of every kind: insert, refresh, shorten, change kind, erase.
    for (int w = 0; w < 40; ++w) {
      const IpAddress& k = keys[rng() % kKeys];
      TableValue v;
      switch (rng() % 4) {
        case 0:
          t->erase(k);
          model.erase(k);
          continue;
        case 1: v = {static_cast<uint32_t>(rng() % 1000), static_cast<uint32_t>(rng() % 100), EntryKind::learned}; break;
        case 2: v = {TableValue::kNever, 1, EntryKind::anchor}; break;
        default: v = {500, 2, EntryKind::static_allow}; break;
      }
      ASSERT_TRUE(t->upsert(k, v));
      model[k] = v;
    }
    // Half the keys each round, in a shuffled order.
    std::vector<IpAddress> probe;
    for (uint32_t i = 0; i < kKeys; ++i)
      if (rng() % 2) probe.push_back(keys[i]);
    std::shuffle(probe.begin(), probe.end(), rng);
    auto got = cached_lookup(*t, cache, probe);
    for (size_t i = 0; i < probe.size(); ++i) {
      auto it = model.find(probe[i]);
      std::optional<TableValue> want;
      if (it != model.end()) want = it->second;
      ASSERT_EQ(got[i].has_value(), want.has_value()) << probe[i].to_string() << " round " << round;
      if (want) {
        ASSERT_EQ(got[i]->pack(), want->pack()) << probe[i].to_string() << " round " << round;
      }
    }
  }
  EXPECT_GT(cache.hits(), 100'000u);  // the cache answered most of them
}

TEST(RteAllowTable, ACachedAnswerNeverOutlivesAWriteTheReaderHasSeen) {
  // The writer erases keys that were present and inserts keys that were
  // absent, publishing how far it got after each write; a reader that has
  // remembered every answer and sees that a write happened must see its
  // effect (no deleted server still passes, no learned one still blocks).
  constexpr uint32_t kKeys = 3000;
  auto t = make("t_cache_conc", 2 * kKeys, 1);
  for (uint32_t i = 0; i < kKeys; ++i) t->upsert(addr(i), {TableValue::kNever, i, EntryKind::learned});
  std::vector<IpAddress> gone, coming;
  for (uint32_t i = 0; i < kKeys; ++i) {
    gone.push_back(addr(i));
    coming.push_back(addr(i, true));
  }
  std::atomic<uint32_t> erased{0}, inserted{0};
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> stale{0}, rounds{0};
  std::thread reader([&] {
    t->reader_register(0);
    RteAllowTable::LookupCache cache;
    while (!stop.load(std::memory_order_relaxed)) {
      uint32_t e = erased.load(std::memory_order_acquire);
      uint32_t n = inserted.load(std::memory_order_acquire);
      auto g = cached_lookup(*t, cache, gone);
      auto c = cached_lookup(*t, cache, coming);
      for (uint32_t i = 0; i < e; ++i) stale += g[i].has_value();
      for (uint32_t i = 0; i < n; ++i) stale += !c[i].has_value();
      ++rounds;
      t->reader_quiescent(0);
    }
    t->reader_unregister(0);
  });
  // Every 16 writes the writer waits for the reader to finish a round, so
  // the reader goes round with old answers remembered at least kKeys / 16
  // times however the two threads are scheduled (the deadline only bounds
  // a reader that stopped making progress).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  uint32_t written = 0;
  for (uint32_t i = 0; i < kKeys && std::chrono::steady_clock::now() < deadline; ++i) {
    t->erase(gone[i]);
    erased.store(i + 1, std::memory_order_release);
    t->upsert(coming[i], {TableValue::kNever, i, EntryKind::learned});
    inserted.store(i + 1, std::memory_order_release);
    written = i + 1;
    if (i % 16 == 15) {
      uint64_t seen = rounds.load();
      while (rounds.load() < seen + 1 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    }
  }
  stop = true;
  reader.join();
  EXPECT_EQ(written, kKeys) << "the reader stopped going round";
  EXPECT_GE(rounds.load(), kKeys / 16);
  EXPECT_EQ(stale.load(), 0u);
}

}  // namespace
}  // namespace nsgate::dp

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  std::string err;
  if (!nsgate::dp::init_eal(nsgate::dp::offline_eal_args(256), err)) {
    std::fprintf(stderr, "%s\n", err.c_str());
    return 1;
  }
  return RUN_ALL_TESTS();
}
