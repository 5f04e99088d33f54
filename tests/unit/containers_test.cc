// SPDX-License-Identifier: BSD-3-Clause
// The learner's containers (FlatMap, NamePool) against the standard library
// as oracle, and address text against inet_ntop.

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/chunked_vec.hh"
#include "core/dns_name.hh"
#include "core/flat_map.hh"
#include "core/ip_address.hh"
#include "core/name_pool.hh"
#include "core/small_vec.hh"

namespace nsgate {
namespace {

// A hash with only four values: every key collides, so probe runs are long
// and wrap around the array, which is what backward-shift deletion must get
// right.
struct FourValues {
  size_t operator()(uint32_t k) const noexcept { return k % 4; }
};
struct Identity {
  size_t operator()(uint32_t k) const noexcept { return k; }
};

// Random inserts, erasures and lookups against std::unordered_map. Keys
// are drawn from [0, key_range), or with key_range 0 half the time new
// (ever larger) and half the time seen before, and inserts outnumber
// erasures three to one, so that the map keeps growing (in_steps: by
// FlatMap::grow_in_steps, so every operation meets entries still in the
// older array).
template <class Hash>
void agrees_with_unordered_map(uint32_t key_range, int steps, bool in_steps = false) {
  FlatMap<uint32_t, uint64_t, Hash> m;
  if (in_steps) m.grow_in_steps();
  std::unordered_map<uint32_t, uint64_t> oracle;
  std::mt19937 rng(7);
  uint32_t next = 0;
  size_t growing_steps = 0;
  unsigned inserts = key_range ? 2 : 3;
  for (int step = 0; step < steps; ++step) {
    uint32_t k = key_range                 ? static_cast<uint32_t>(rng() % key_range)
                 : rng() % 2 && next > 0 ? static_cast<uint32_t>(rng() % next)
                                         : next++;
    auto op = static_cast<unsigned>(rng() % (inserts + 2));
    if (op < inserts) {
      auto [v, inserted] = m.try_emplace(k);
      ASSERT_EQ(inserted, !oracle.contains(k)) << "step " << step;
      *v = step;
      oracle[k] = step;
    } else if (op == inserts) {
      ASSERT_EQ(m.erase(k), oracle.erase(k) == 1) << "step " << step;
    } else {
      const uint64_t* v = m.find(k);
      auto it = oracle.find(k);
      ASSERT_EQ(v != nullptr, it != oracle.end()) << "step " << step;
      if (v) {
        ASSERT_EQ(*v, it->second);
      }
    }
    ASSERT_EQ(m.size(), oracle.size());
    growing_steps += m.growing();
    if (step % 997 == 0 || step == steps - 1) {  // now and then, everything, mid-growth or not
      size_t seen = 0;
      m.for_each([&](uint32_t key, uint64_t v) {
        ++seen;
        ASSERT_EQ(oracle.at(key), v);
      });
      ASSERT_EQ(seen, oracle.size()) << "step " << step;
    }
  }
  if (in_steps) {
    EXPECT_GT(growing_steps, static_cast<size_t>(steps) / 50) << "the test must meet growth";
  }
  // Every oracle entry is reachable.
  for (const auto& [k, v] : oracle) {
    const uint64_t* found = m.find(k);
    ASSERT_NE(found, nullptr) << k;
    EXPECT_EQ(*found, v);
  }
}

TEST(FlatMap, AgreesWithUnorderedMapUnderInsertEraseChurn) { agrees_with_unordered_map<Identity>(5000, 200000); }

TEST(FlatMap, AgreesWithUnorderedMapWhenEveryKeyCollides) { agrees_with_unordered_map<FourValues>(300, 20000); }

TEST(FlatMap, AgreesWithUnorderedMapWhileItGrowsInSteps) { agrees_with_unordered_map<Identity>(0, 300000, true); }

TEST(FlatMap, AgreesWithUnorderedMapWhileItGrowsInStepsAndEveryKeyCollides) {
  agrees_with_unordered_map<FourValues>(0, 6000, true);
}

// A value that counts how often the map moves one.
struct Moved {
  static inline size_t count = 0;
  Moved() = default;
  Moved(Moved&&) noexcept { ++count; }
  Moved& operator=(Moved&&) noexcept {
    ++count;
    return *this;
  }
};

TEST(FlatMap, NoInsertMovesMoreThanAFewEntriesAsTheMapGrows) {
  FlatMap<uint32_t, Moved, Identity> m;
  m.grow_in_steps();
  size_t most = 0;
  for (uint32_t k = 0; k < 200000; ++k) {
    size_t before = Moved::count;
    m.try_emplace(k);
    most = std::max(most, Moved::count - before);
  }
  EXPECT_LE(most, 16u) << "an insert moved " << most << " entries";
  EXPECT_EQ(m.size(), 200000u);
  // Nor does a sweep slice (the query tracker's) of a map still growing.
  ASSERT_TRUE(m.growing());
  size_t cursor = 0, before = Moved::count;
  m.erase_if_slice(cursor, 16, [](uint32_t, Moved&) { return false; });
  EXPECT_LE(Moved::count - before, 16u);
}

TEST(FlatMap, EraseIfCallsThePredicateOnceAndKeepsTheRestReachable) {
  FlatMap<uint32_t, int, FourValues> m;
  for (uint32_t k = 0; k < 200; ++k) *m.try_emplace(k).first = 0;
  size_t erased = m.erase_if([](uint32_t k, int& calls) {
    ++calls;
    return k % 3 == 0;
  });
  EXPECT_EQ(erased, 67u);
  EXPECT_EQ(m.size(), 133u);
  for (uint32_t k = 0; k < 200; ++k) {
    const int* v = m.find(k);
    if (k % 3 == 0) {
      EXPECT_EQ(v, nullptr) << k;
    } else {
      ASSERT_NE(v, nullptr) << k;
      EXPECT_EQ(*v, 1) << k;
    }
  }
}

// Sweeps in slices interleaved with inserts and erases (a live learner's
// query sweep): once a pass is done with no churn during it, exactly the
// entries the predicate condemns are gone, and a slice never loses one it
// keeps.
template <class Hash>
void sliced_sweeps_agree_with_the_oracle(uint32_t key_range, size_t slice, bool in_steps = false) {
  FlatMap<uint32_t, uint64_t, Hash> m;
  if (in_steps) m.grow_in_steps();
  std::unordered_map<uint32_t, uint64_t> oracle;
  std::mt19937 rng(5);
  size_t cursor = 0;
  uint64_t limit = 0;  // condemns values below it
  auto old = [&](uint32_t, uint64_t v) { return v < limit; };
  for (int step = 0; step < 40000; ++step) {
    auto k = static_cast<uint32_t>(rng() % key_range);
    if (rng() % 3) {
      *m.try_emplace(k).first = static_cast<uint64_t>(step);
      oracle[k] = static_cast<uint64_t>(step);
    } else {
      m.erase(k);
      oracle.erase(k);
    }
    if (step % 97 == 0) {
      limit = static_cast<uint64_t>(step > 500 ? step - 500 : 0);
      m.erase_if_slice(cursor, slice, old);
      std::erase_if(oracle, [&](const auto& kv) { return kv.second < limit && !m.find(kv.first); });
    }
    // What the map holds is what the oracle holds (a slice may leave
    // condemned entries for later, never drop kept ones).
    ASSERT_EQ(m.size(), oracle.size()) << "step " << step;
  }
  // Passes without churn: an entry shifted behind the cursor waits for the
  // next pass, so a few passes leave nothing condemned.
  for (int pass = 0; pass < 20; ++pass)
    while (!m.erase_if_slice(cursor, slice, old)) {
    }
  std::erase_if(oracle, [&](const auto& kv) { return kv.second < limit; });
  ASSERT_EQ(m.size(), oracle.size());
  for (const auto& [k, v] : oracle) {
    const uint64_t* found = m.find(k);
    ASSERT_NE(found, nullptr) << k;
    EXPECT_EQ(*found, v);
  }
}

TEST(FlatMap, SlicedSweepsForgetOnlyWhatThePredicateCondemns) {
  sliced_sweeps_agree_with_the_oracle<Identity>(5000, 300);
}

TEST(FlatMap, SlicedSweepsForgetOnlyWhatThePredicateCondemnsWhenEveryKeyCollides) {
  sliced_sweeps_agree_with_the_oracle<FourValues>(300, 7);
}

TEST(FlatMap, SlicedSweepsOfAMapGrowingInStepsForgetOnlyWhatThePredicateCondemns) {
  sliced_sweeps_agree_with_the_oracle<Identity>(20000, 300, true);
  sliced_sweeps_agree_with_the_oracle<FourValues>(300, 7, true);
}

TEST(FlatMap, ASliceReportsTheEndOfAPass) {
  FlatMap<uint32_t, int, Identity> m;
  m.reserve(100);  // 256 buckets
  size_t cursor = 0;
  int slices = 1;
  while (!m.erase_if_slice(cursor, 100, [](uint32_t, int) { return false; })) ++slices;
  EXPECT_EQ(slices, 3) << "256 buckets: slices of 100, 100 and 56";
  EXPECT_EQ(cursor, 0u);
}

TEST(FlatMap, ErasedValuesReleaseWhatTheyOwn) {
  FlatMap<uint32_t, std::vector<int>, Identity> m;
  m.try_emplace(1).first->assign(1000, 7);
  m.erase(1);
  auto [v, inserted] = m.try_emplace(1);
  EXPECT_TRUE(inserted);
  EXPECT_TRUE(v->empty());
}

DnsName name(const std::string& s) {
  DnsName n;
  EXPECT_TRUE(DnsName::from_text(s, n)) << s;
  return n;
}

// SmallVec against std::vector: every operation on a pool of vectors, so
// that copies and moves go between vectors in place and on the heap.
template <class T, uint32_t N, class Make>
void small_vec_agrees_with_vector(Make make) {
  constexpr size_t kPool = 8;
  std::vector<SmallVec<T, N>> small(kPool);
  std::vector<std::vector<T>> oracle(kPool);
  std::mt19937 rng(31);
  for (int step = 0; step < 200000; ++step) {
    size_t a = rng() % kPool, b = rng() % kPool;
    switch (rng() % 8) {
      case 0: case 1: case 2: {  // push
        T v = make(static_cast<uint32_t>(rng() % 6));
        small[a].push_back(v);
        oracle[a].push_back(v);
        break;
      }
      case 3:  // erase at a position
        if (!oracle[a].empty()) {
          size_t i = rng() % oracle[a].size();
          small[a].erase(small[a].begin() + i);
          oracle[a].erase(oracle[a].begin() + static_cast<ptrdiff_t>(i));
        }
        break;
      case 4: {  // remove every equal element
        T v = make(static_cast<uint32_t>(rng() % 6));
        size_t want = std::erase(oracle[a], v);
        ASSERT_EQ(small[a].remove(v), want);
        break;
      }
      case 5:  // copy-assign
        small[a] = small[b];
        oracle[a] = oracle[b];
        break;
      case 6:  // move-assign (the source is left empty), or move-construct
        if (a != b) {
          if (rng() % 2) {
            small[a] = std::move(small[b]);
          } else {
            small[a].~SmallVec();
            new (&small[a]) SmallVec<T, N>(std::move(small[b]));
          }
          oracle[a] = std::move(oracle[b]);
          oracle[b].clear();
          ASSERT_TRUE(small[b].empty());
        }
        break;
      case 7:  // copy-construct, then keep using both
        if (a != b) {
          small[a].~SmallVec();
          new (&small[a]) SmallVec<T, N>(small[b]);
          oracle[a] = oracle[b];
        }
        break;
    }
    if (oracle[a].size() > 40) {  // keep sizes moving across the in-place bound
      small[a] = SmallVec<T, N>();
      oracle[a].clear();
    }
    for (size_t k : {a, b}) {
      ASSERT_EQ(small[k].size(), oracle[k].size());
      ASSERT_TRUE(std::equal(small[k].begin(), small[k].end(), oracle[k].begin())) << "step " << step;
    }
  }
}

struct Pair {
  IpAddress address;
  uint32_t refs = 0, ttl = 0;
  bool operator==(const Pair&) const = default;
};

TEST(SmallVec, AgreesWithVectorInPlaceAndOnTheHeap) {
  small_vec_agrees_with_vector<uint32_t, 2>([](uint32_t x) { return x; });
  small_vec_agrees_with_vector<Pair, 1>([](uint32_t x) { return Pair{IpAddress::v4(0xc0000200u + x), x, 7}; });
}

TEST(ChunkedVec, ElementsKeepTheirAddressWhileItGrowsPastItsReservation) {
  ChunkedVec<std::string, 4> v;  // chunks of 16
  v.reserve(8);
  std::vector<const std::string*> where;
  for (int i = 0; i < 1000; ++i) {
    // Long enough that a moved string would carry its buffer elsewhere.
    v.emplace_back(std::string(40, static_cast<char>('a' + i % 26)) + std::to_string(i));
    where.push_back(&v[static_cast<size_t>(i)]);
  }
  ASSERT_EQ(v.size(), 1000u);
  for (size_t i = 0; i < where.size(); ++i) {
    ASSERT_EQ(&v[i], where[i]) << "element " << i << " moved";
    ASSERT_EQ(v[i], std::string(40, static_cast<char>('a' + i % 26)) + std::to_string(i));
  }
  // Cleared, it fills the chunks it had again.
  v.clear();
  EXPECT_EQ(v.size(), 0u);
  for (int i = 0; i < 100; ++i) v.emplace_back("again");
  for (size_t i = 0; i < 100; ++i) ASSERT_EQ(&v[i], where[i]) << "element " << i;
}

TEST(ChunkedVec, AgreesWithVectorAndVisitsInIndexOrder) {
  std::mt19937 rng(11);
  ChunkedVec<Pair, 3> v;
  std::vector<Pair> oracle;
  for (uint32_t step = 0; step < 5000; ++step) {
    if (rng() % 4 == 0 && !oracle.empty()) {
      size_t i = rng() % oracle.size();
      oracle[i].refs = v[i].refs = step;  // writes through operator[] land in place
    } else {
      Pair p{IpAddress::v4(0xc6336400u + step), step, step * 3};
      oracle.push_back(p);
      ASSERT_EQ(v.emplace_back(p), p);
    }
  }
  ASSERT_EQ(v.size(), oracle.size());
  std::vector<Pair> visited(v.begin(), v.end());
  EXPECT_EQ(visited, oracle);
  const auto& cv = v;
  size_t n = 0;
  for (const Pair& p : cv) ASSERT_EQ(p, oracle[n++]);
  EXPECT_EQ(n, oracle.size());
}

// The learner's expiry queue is a heap on it: the <algorithm> heap
// functions must order it exactly as they order a vector.
TEST(ChunkedVec, HeapFunctionsOrderItExactlyAsAVector) {
  std::mt19937 rng(5);
  ChunkedVec<std::pair<uint32_t, uint32_t>, 3> heap;
  std::vector<std::pair<uint32_t, uint32_t>> oracle;
  auto later = [](const auto& a, const auto& b) { return a.first > b.first; };  // ties keep their own order
  for (uint32_t step = 0; step < 20000; ++step) {
    if (rng() % 3 && !oracle.empty()) {
      ASSERT_EQ(heap[0], oracle.front()) << "step " << step;
      std::pop_heap(heap.begin(), heap.end(), later);
      heap.pop_back();
      std::pop_heap(oracle.begin(), oracle.end(), later);
      oracle.pop_back();
    } else {
      std::pair<uint32_t, uint32_t> x{static_cast<uint32_t>(rng() % 50), step};  // many equal keys
      heap.emplace_back(x);
      std::push_heap(heap.begin(), heap.end(), later);
      oracle.push_back(x);
      std::push_heap(oracle.begin(), oracle.end(), later);
    }
    ASSERT_EQ(heap.size(), oracle.size());
  }
  EXPECT_TRUE(std::equal(heap.begin(), heap.end(), oracle.begin(), oracle.end()));
}

TEST(ChunkedVec, DestroysEveryElementOnceOnClearMoveAndDestruction) {
  auto counted = std::make_shared<int>(0);
  {
    ChunkedVec<std::shared_ptr<int>, 2> a;
    for (int i = 0; i < 23; ++i) a.emplace_back(counted);
    ASSERT_EQ(counted.use_count(), 24);
    ChunkedVec<std::shared_ptr<int>, 2> b(std::move(a));
    EXPECT_EQ(a.size(), 0u);
    EXPECT_EQ(b.size(), 23u);
    EXPECT_EQ(counted.use_count(), 24);
    a.emplace_back(counted);  // a moved-from vector is empty and usable
    b = std::move(a);         // b's 23 are destroyed, a's one taken over
    EXPECT_EQ(counted.use_count(), 2);
    b.clear();
    EXPECT_EQ(counted.use_count(), 1);
    for (int i = 0; i < 9; ++i) b.emplace_back(counted);
    EXPECT_EQ(counted.use_count(), 10);
  }
  EXPECT_EQ(counted.use_count(), 1);
}

TEST(NamePool, InternsCaseInsensitivelyAndForgetsAtTheLastRelease) {
  NamePool pool;
  NamePool::Id a = pool.acquire(name("NS1.Example.LAB"));
  NamePool::Id b = pool.acquire(name("ns1.example.lab."));
  EXPECT_EQ(a, b);
  EXPECT_EQ(pool.text(a), "ns1.example.lab.");
  EXPECT_EQ(pool.find(name("ns1.EXAMPLE.lab")), a);
  EXPECT_TRUE(pool.name(a) == name("ns1.example.lab"));
  pool.release(a);
  EXPECT_EQ(pool.find(name("ns1.example.lab")), a) << "one reference is left";
  pool.release(b);
  EXPECT_EQ(pool.find(name("ns1.example.lab")), NamePool::kNone);
  EXPECT_EQ(pool.size(), 0u);
  EXPECT_EQ(pool.text(NamePool::kNone), "");
}

TEST(NamePool, AgreesWithAMapOfCountsUnderChurn) {
  NamePool pool;
  std::map<std::string, std::pair<NamePool::Id, int>> oracle;  // text -> (id, refs)
  std::mt19937 rng(11);
  for (int step = 0; step < 50000; ++step) {
    std::string text = "n";
    text += std::to_string(rng() % 700);
    text += rng() % 2 ? ".zone.lab." : ".lab.";
    auto it = oracle.find(text);
    if (rng() % 3 != 0 || it == oracle.end()) {
      NamePool::Id id = pool.acquire(name(text));
      if (it != oracle.end()) {
        EXPECT_EQ(id, it->second.first) << text;
        ++it->second.second;
      } else {
        for (const auto& [other, held] : oracle) ASSERT_NE(held.first, id) << "id of " << other << " reused";
        oracle[text] = {id, 1};
      }
    } else {
      pool.release(it->second.first);
      if (--it->second.second == 0) oracle.erase(it);
    }
    ASSERT_EQ(pool.size(), oracle.size());
  }
  for (const auto& [text, held] : oracle) {
    EXPECT_EQ(pool.find(name(text)), held.first) << text;
    EXPECT_EQ(pool.text(held.first), text);
  }
}

TEST(NamePool, ReservingKeepsEveryNameAndId) {
  NamePool pool;
  std::vector<NamePool::Id> ids;
  for (int i = 0; i < 100; ++i) ids.push_back(pool.acquire(name(std::string("n").append(std::to_string(i)).append(".lab"))));
  pool.reserve(100000);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(pool.find(name(std::string("n").append(std::to_string(i)).append(".lab"))), ids[static_cast<size_t>(i)]);
  }
  for (int i = 100; i < 5000; ++i) pool.acquire(name(std::string("n").append(std::to_string(i)).append(".lab")));
  EXPECT_EQ(pool.size(), 5000u);
  EXPECT_EQ(pool.text(ids[42]), "n42.lab.");
}

TEST(NamePool, NamesOfEveryLengthKeepTheirWireFormWhenIdsAreReused) {
  // Wire forms from 3 to 255 octets: those stored in the entry and those
  // stored beside it, each id reused by a name of another length.
  auto of_length = [](size_t wire_size, char fill) {
    std::string text;
    size_t left = wire_size - 1;  // the root octet
    while (left > 0) {
      size_t label = std::min<size_t>(63, left - 1);
      if (left - (label + 1) == 1) --label;  // leave room for a label of one octet
      text += std::string(label, fill) + ".";
      left -= label + 1;
    }
    return name(text);
  };
  NamePool pool;
  std::vector<NamePool::Id> ids;
  for (size_t size = 3; size <= 255; ++size) {
    DnsName n = of_length(size, 'a');
    ASSERT_EQ(n.wire_size(), size);
    ids.push_back(pool.acquire(n));
  }
  for (size_t size = 3; size <= 255; ++size) {
    DnsName n = of_length(size, 'a');
    NamePool::Id id = ids[size - 3];
    EXPECT_EQ(pool.wire(id), NamePool::wire_view(n)) << size;
    EXPECT_EQ(pool.text(id), n.to_string()) << size;
    EXPECT_TRUE(pool.name(id) == n) << size;
  }
  for (NamePool::Id id : ids) pool.release(id);
  EXPECT_EQ(pool.size(), 0u);
  EXPECT_EQ(pool.wire(ids[100]), "") << "a released id names nothing";
  // The freed ids come back in reverse: long names take short ones' ids.
  for (size_t size = 3; size <= 255; ++size) {
    DnsName n = of_length(size, 'b');
    NamePool::Id id = pool.acquire(n);
    EXPECT_EQ(pool.find(n), id) << size;
    EXPECT_EQ(pool.wire(id), NamePool::wire_view(n)) << size;
    EXPECT_EQ(pool.find(of_length(size, 'a')), NamePool::kNone) << size;
  }
}

TEST(NamePool, HashesTakenAheadOnAnotherThreadFindAndInternAsTheNamesDo) {
  NamePool pool;
  std::vector<DnsName> names;
  for (int i = 0; i < 3000; ++i) names.push_back(name(std::string("h").append(std::to_string(i)).append(i % 2 ? ".zone.lab" : ".lab")));
  // Taken before the pool holds anything, on another thread (the offline
  // learner's reading thread does this); the pool then grows many times.
  std::vector<uint64_t> hashes(names.size());
  std::thread ahead([&] {
    for (size_t i = 0; i < names.size(); ++i) hashes[i] = pool.hash(names[i]);
  });
  ahead.join();
  for (size_t i = 0; i < names.size(); i += 2) pool.acquire(names[i]);
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(pool.find(names[i], hashes[i]), pool.find(names[i])) << names[i].to_string();
    EXPECT_EQ(pool.find(names[i], hashes[i]) == NamePool::kNone, i % 2 == 1) << names[i].to_string();
  }
  for (size_t i = 0; i < names.size(); ++i) {
    NamePool::Id id = pool.acquire(names[i], hashes[i]);
    EXPECT_EQ(pool.find(names[i]), id) << names[i].to_string();
  }
  EXPECT_EQ(pool.size(), names.size());
  // Keyed per pool: another pool's hash of a name is another number.
  NamePool other;
  EXPECT_NE(other.hash(names[0]), hashes[0]);
}

TEST(IpAddress, TextMatchesInetNtopForEveryIpv4Shape) {
  std::mt19937 rng(3);
  std::vector<uint32_t> samples = {0, 0xffffffffu, 0x0a000001u, 0xc0000201u, 0x64000a09u, 0x01020304u};
  for (int i = 0; i < 10000; ++i) samples.push_back(static_cast<uint32_t>(rng()));
  for (uint32_t v : samples) {
    char expected[INET_ADDRSTRLEN];
    uint32_t net = htonl(v);
    ASSERT_NE(inet_ntop(AF_INET, &net, expected, sizeof expected), nullptr);
    EXPECT_EQ(IpAddress::v4(v).to_string(), expected);
  }
}

}  // namespace
}  // namespace nsgate
