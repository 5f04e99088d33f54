// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// The TTL table on rte_hash: one writer, lock-free readers
// (RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF), expiry in the value and checked
// on every lookup, deleted slots reclaimed through RCU QSBR once every
// registered reader has passed a quiescent state. The learner deletes
// expired entries from its own expiry queue, a bounded number per round.

#include <atomic>
#include <cstring>
#include <memory>
#include <string>

#include "core/allow_table.hh"

struct rte_hash;
struct rte_rcu_qsbr;

namespace nsgate::dp {

class RteAllowTable final : public AllowTable {
 public:
  // One reader thread's memory of its recent lookups: a busy destination
  // costs a compare instead of an rte_hash lookup (~40 ns on a 1 M-entry
  // table, tools/bench/table_lookup), the largest single cost of judging a
  // query. Exact, never stale: every write to a key bumps a change counter
  // of the key's group (one of 64 K), and a remembered answer (present with
  // its value, or absent) is used only while that counter still reads what
  // it read before the answer was looked up. 8192 answers (256 KB), two-way.
  class LookupCache {
   public:
    LookupCache() : sets_(std::make_unique<Set[]>(kSets)) {}
    uint64_t hits() const { return hits_; }

   private:
    friend class RteAllowTable;
    struct Slot {
      IpAddress key;
      uint64_t value = 0;  // TableValue::pack(), or 0: absent (a packed value never is)
      uint32_t epoch = 0;
    };
    // Two ways per set, one cache line: the busy destinations of a site
    // rarely evict each other (direct-mapped, the forwarding benchmark's
    // 1098 in 4096 slots lost a fifth of their answers to collisions;
    // two-way in 8192, 2 %).
    struct alignas(64) Set {
      Slot way[2];
    };
    static constexpr unsigned kBits = 12, kSets = 1u << kBits;
    std::unique_ptr<Set[]> sets_;
    uint64_t hits_ = 0;
  };

  // `max_readers`: reader threads that will register with the QSBR variable.
  // Null with `error` set on failure. The EAL must be initialised.
  static std::unique_ptr<RteAllowTable> create(const std::string& name, size_t capacity,
                                               unsigned max_readers, std::string& error);
  ~RteAllowTable() override;
  RteAllowTable(const RteAllowTable&) = delete;
  RteAllowTable& operator=(const RteAllowTable&) = delete;

  // Lock-free; any thread.
  std::optional<TableValue> lookup(const IpAddress& a, uint32_t now_s) const override;
  // Lock-free bulk lookup of up to 64 addresses: returns a mask whose bit i
  // is set when addrs[i] is present; values[i] is then its value (expiry not
  // checked: the caller compares with each packet's own time).
  uint64_t lookup_bulk(const IpAddress* const* addrs, unsigned n, TableValue* values) const;
  // The same, answering from (and filling) the calling thread's own cache.
  uint64_t lookup_bulk(const IpAddress* const* addrs, unsigned n, TableValue* values, LookupCache& cache) const;
  // Writer thread only.
  bool upsert(const IpAddress& a, TableValue v) override;
  bool erase(const IpAddress& a) override;
  size_t size() const override;
  size_t capacity() const override { return capacity_; }
  void for_each(const std::function<void(const IpAddress&, TableValue)>& fn) const override;

  // Readers: register once per thread (id < max_readers), then report a
  // quiescent state regularly (between bursts) and go offline before exiting.
  void reader_register(unsigned id);
  void reader_quiescent(unsigned id);
  void reader_unregister(unsigned id);
  // Blocks until every registered reader has passed a quiescent state: what
  // readers saw before the call is no longer in use (for freeing a replaced
  // policy). Control thread only.
  void synchronize();
  rte_hash* handle() const { return hash_; }

 private:
  RteAllowTable(rte_hash* h, rte_rcu_qsbr* q, size_t capacity)
      : hash_(h), qsbr_(q), capacity_(capacity), epochs_(std::make_unique<std::atomic<uint32_t>[]>(kEpochs)) {}
  // Called by the writer after every change to `a`'s entry (released: a
  // reader that sees the new count also sees the change).
  void changed(const IpAddress& a) {
    auto& e = epochs_[group_of(a)];
    e.store(e.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
  static constexpr unsigned kEpochBits = 16, kEpochs = 1u << kEpochBits;
  // A full 64-bit mix (murmur3's finaliser): the change group from the top
  // bits, the cache set from the next ones. One multiply was not enough:
  // nearby IPv4 addresses (::ffff:a.b.c.d) piled up to 14 in one set.
  static uint64_t mix(const IpAddress& a) {
    uint64_t w[2];
    std::memcpy(w, a.bytes().data(), 16);
    uint64_t h = w[0] * 0x9e3779b97f4a7c15ull ^ w[1];
    h = (h ^ (h >> 33)) * 0xff51afd7ed558ccdull;
    h = (h ^ (h >> 33)) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
  }
  static unsigned group_of(const IpAddress& a) { return static_cast<unsigned>(mix(a) >> (64 - kEpochBits)); }
  rte_hash* hash_;
  rte_rcu_qsbr* qsbr_;
  size_t capacity_;
  // Keys present. rte_hash_count() also counts slots still waiting in the
  // RCU defer queue, so the writer keeps its own exact count.
  size_t count_ = 0;
  // Change counters for the readers' caches (see LookupCache). 32 bits: a
  // remembered answer is wrongly trusted only if its group saw exactly a
  // multiple of 2^32 writes while the answer sat in the cache; at a million
  // writes a second (ten times the learner's measured rate) a group sees
  // about 15 a second, and wraps once in nine years.
  std::unique_ptr<std::atomic<uint32_t>[]> epochs_;
};

}  // namespace nsgate::dp
