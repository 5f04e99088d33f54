// SPDX-License-Identifier: BSD-3-Clause
// What one table lookup costs a worker, in isolation: the forwarding
// benchmark's table (N learned addresses in nsgate's RteAllowTable) and a
// working set of H addresses looked up over and over in batches of B (the
// DNS queries of one 32-packet burst), measured four ways in one run:
//   nsgate   RteAllowTable::lookup_bulk without a cache
//   cached   the same through a LookupCache, what the worker calls
//   lf       rte_hash_lookup_bulk_data on a bare rte_hash with the same
//            flags (lock-free readers, extendable buckets): the floor of
//            the design's table
//   plain    the same without the lock-free flag (the cost of that flag)
// Prints ns per lookup for each (best of R rounds).
//
// usage: bench-table-lookup [--entries 1000000] [--hot 820] [--batch 10] [--rounds 5]
#include <rte_hash.h>
#include <rte_hash_crc.h>

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "dp/eal.hh"
#include "dp/rte_table.hh"

namespace {

using nsgate::IpAddress;
using Clock = std::chrono::steady_clock;

IpAddress address_of(uint64_t bits) {
  std::array<std::byte, 16> raw{};
  raw[0] = std::byte{0x20};
  raw[1] = std::byte{0x01};
  raw[2] = std::byte{0x0d};
  raw[3] = std::byte{0xb8};
  for (int i = 0; i < 8; ++i) raw[8 + i] = static_cast<std::byte>(bits >> (8 * i));
  return IpAddress::v6(std::span<const std::byte, 16>(raw));
}

rte_hash* bare_hash(const char* name, size_t entries, bool lock_free) {
  rte_hash_parameters p{};
  p.name = name;
  p.entries = static_cast<uint32_t>(entries);
  p.key_len = 16;
  p.hash_func = rte_hash_crc;
  p.socket_id = SOCKET_ID_ANY;
  p.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE | (lock_free ? RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF : 0);
  return rte_hash_create(&p);
}

// ns per lookup of one pass of about two million lookups; `lookup(first,
// n)` looks up hot[first..first+n) and returns the mask of those found.
template <class Lookup>
double one_pass(size_t hot, size_t batch, Lookup lookup, uint64_t& found, uint64_t& looked_up) {
  const size_t per_pass = 2'000'000;
  size_t done = 0;
  auto t0 = Clock::now();
  while (done < per_pass)
    for (size_t i = 0; i + batch <= hot; i += batch) {
      found += static_cast<uint64_t>(std::popcount(lookup(i, batch)));
      done += batch;
    }
  looked_up += done;
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / static_cast<double>(done);
}

}  // namespace

int main(int argc, char** argv) {
  size_t entries = 1'000'000, hot = 820, batch = 10;
  int rounds = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    unsigned long v = std::strtoul(argv[i + 1], nullptr, 10);
    if (k == "--entries") entries = v;
    else if (k == "--hot") hot = v;
    else if (k == "--batch") batch = v;
    else if (k == "--rounds") rounds = static_cast<int>(v);
    else {
      std::fprintf(stderr, "usage: bench-table-lookup [--entries N] [--hot H] [--batch B] [--rounds R]\n");
      return 2;
    }
  }
  if (entries == 0 || hot == 0 || batch == 0 || batch > 64 || hot < batch) {
    std::fprintf(stderr, "bench-table-lookup: need entries > 0, 0 < batch <= 64, hot >= batch\n");
    return 2;
  }
  std::string error;
  if (!nsgate::dp::init_eal(nsgate::dp::offline_eal_args(1024), error)) {
    std::fprintf(stderr, "bench-table-lookup: %s\n", error.c_str());
    return 1;
  }
  size_t capacity = entries + entries / 10;
  auto table = nsgate::dp::RteAllowTable::create("bench_nsgate", capacity, 1, error);
  rte_hash* lf = bare_hash("bench_lf", capacity, true);
  rte_hash* plain = bare_hash("bench_plain", capacity, false);
  if (!table || !lf || !plain) {
    std::fprintf(stderr, "bench-table-lookup: cannot create the tables %s\n", error.c_str());
    return 1;
  }
  std::mt19937_64 rng(7);
  std::vector<IpAddress> keys;
  keys.reserve(entries);
  for (size_t i = 0; i < entries; ++i) {
    keys.push_back(address_of(rng()));
    nsgate::TableValue v{UINT32_MAX, static_cast<uint32_t>(i), nsgate::EntryKind::learned};
    table->upsert(keys.back(), v);
    rte_hash_add_key_data(lf, keys.back().bytes().data(), reinterpret_cast<void*>(i + 1));
    rte_hash_add_key_data(plain, keys.back().bytes().data(), reinterpret_cast<void*>(i + 1));
  }
  // The working set: H addresses drawn from the table, as the benchmark
  // mix's queries to learned servers are.
  std::vector<const IpAddress*> hot_addrs;
  std::vector<const void*> hot_keys;
  for (size_t i = 0; i < hot; ++i) {
    hot_addrs.push_back(&keys[rng() % entries]);
    hot_keys.push_back(hot_addrs.back()->bytes().data());
  }
  table->reader_register(0);
  nsgate::TableValue values[64];
  void* data[64];
  auto bare = [&](rte_hash* h) {
    return [&, h](size_t first, size_t n) {
      uint64_t hits = 0;
      rte_hash_lookup_bulk_data(h, &hot_keys[first], static_cast<uint32_t>(n), &hits, data);
      return hits;
    };
  };
  // Rounds interleave the three, so that a noisy moment of the machine
  // does not favour one; best of the rounds counts.
  double ns_nsgate = 1e30, ns_cached = 1e30, ns_lf = 1e30, ns_plain = 1e30;
  nsgate::dp::RteAllowTable::LookupCache cache;
  uint64_t found = 0, looked_up = 0;
  uint64_t via_cache = 0;  // lookups made through the cache
  for (int r = 0; r < rounds; ++r) {
    ns_nsgate = std::min(ns_nsgate, one_pass(hot, batch, [&](size_t first, size_t n) {
      return table->lookup_bulk(&hot_addrs[first], static_cast<unsigned>(n), values);
    }, found, looked_up));
    uint64_t before = looked_up;
    ns_cached = std::min(ns_cached, one_pass(hot, batch, [&](size_t first, size_t n) {
      return table->lookup_bulk(&hot_addrs[first], static_cast<unsigned>(n), values, cache);
    }, found, looked_up));
    via_cache += looked_up - before;
    ns_lf = std::min(ns_lf, one_pass(hot, batch, bare(lf), found, looked_up));
    ns_plain = std::min(ns_plain, one_pass(hot, batch, bare(plain), found, looked_up));
  }
  // Every hot address is in every table.
  if (found != looked_up) {
    std::fprintf(stderr, "bench-table-lookup: %llu of %llu lookups missed keys that are in the tables\n",
                 static_cast<unsigned long long>(looked_up - found), static_cast<unsigned long long>(looked_up));
    return 1;
  }
  table->reader_unregister(0);
  std::printf("table of %zu entries, %zu hot addresses, batches of %zu (best of %d rounds):\n", entries, hot, batch,
              rounds);
  std::printf("  nsgate RteAllowTable::lookup_bulk   %6.1f ns/lookup\n", ns_nsgate);
  std::printf("  ... with a worker's LookupCache     %6.1f ns/lookup (%.0f%% answered by the cache)\n", ns_cached,
              100.0 * static_cast<double>(cache.hits()) / static_cast<double>(via_cache));
  std::printf("  rte_hash, lock-free readers (lf)    %6.1f ns/lookup\n", ns_lf);
  std::printf("  rte_hash without the lf flag        %6.1f ns/lookup\n", ns_plain);
  std::printf("  nsgate / lf: %.2fx the time\n", ns_nsgate / ns_lf);
  rte_hash_free(lf);
  rte_hash_free(plain);
  return 0;
}
