// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// An open-addressing hash map for small, trivially comparable keys: one
// array of entries, linear probing, deletion by backward shift (no
// tombstones, so lookups stay short under insert/erase churn).
//
// Why not std::unordered_map: the learner does several index lookups, an
// insert and an erase for every DNS response; with a node per entry, the
// allocations and pointer chasing were most of `nsgate learn`'s time
// (perf on tools/bench/learn).
//
// Contract: single-threaded. Pointers returned by find/try_emplace are valid
// until the next insert or erase. The hash is mixed with a per-map random
// seed so that attacker-chosen keys (spoofed addresses, query ids) cannot be
// lined up to collide in the low bits that pick a bucket.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <tuple>
#include <random>
#include <utility>
#include <vector>

#include "core/mix.hh"

namespace nsgate {

namespace flat_map_detail {
inline uint64_t random_seed() {
  std::random_device rd;
  return uint64_t{rd()} << 32 | rd();
}
}  // namespace flat_map_detail

template <class K, class V, class Hash>
class FlatMap {
 public:
  FlatMap() : seed_(flat_map_detail::random_seed()) { rehash(16); }
  ~FlatMap() {
    for (size_t i = 0; i <= mask_; ++i)
      if (used_[i]) std::destroy_at(&entries_[i]);
    std::allocator<Entry>().deallocate(entries_, mask_ + 1);
  }
  FlatMap(const FlatMap&) = delete;
  FlatMap& operator=(const FlatMap&) = delete;

  size_t size() const { return size_; }

  // Makes room for `n` entries without growing on the way (bulk loads, or a
  // bound reserved up front). Buckets hold entries only once used, so the
  // memory of a large reservation is touched, and becomes resident, as the
  // map fills.
  void reserve(size_t n) {
    size_t buckets = mask_ + 1;
    while (n * 4 > buckets * 3) buckets *= 2;
    if (buckets != mask_ + 1) rehash(buckets);
  }
  bool empty() const { return size_ == 0; }

  V* find(const K& k) {
    for (size_t i = bucket(k);; i = (i + 1) & mask_) {
      if (!used_[i]) return nullptr;
      if (entries_[i].first == k) return &entries_[i].second;
    }
  }
  const V* find(const K& k) const { return const_cast<FlatMap*>(this)->find(k); }
  // A hint that `k` is looked up soon: starts loading its bucket, so that
  // the lookup does not wait for memory. Changes nothing.
  void prefetch(const K& k) const {
    size_t i = bucket(k);
    __builtin_prefetch(&used_[i]);
    __builtin_prefetch(&entries_[i]);
  }

  // The value for `k`, default-constructed and inserted if absent; `second`
  // tells whether it was inserted.
  std::pair<V*, bool> try_emplace(const K& k) {
    if ((size_ + 1) * 4 > (mask_ + 1) * 3) rehash((mask_ + 1) * 2);  // load factor <= 3/4
    size_t i = bucket(k);
    for (; used_[i]; i = (i + 1) & mask_)
      if (entries_[i].first == k) return {&entries_[i].second, false};
    used_[i] = 1;
    std::construct_at(&entries_[i], std::piecewise_construct, std::forward_as_tuple(k), std::forward_as_tuple());
    ++size_;
    return {&entries_[i].second, true};
  }

  bool erase(const K& k) {
    for (size_t i = bucket(k);; i = (i + 1) & mask_) {
      if (!used_[i]) return false;
      if (entries_[i].first == k) {
        erase_at(i);
        return true;
      }
    }
  }

  // Erases every entry for which pred(key, value&) returns true. pred is
  // called exactly once per entry and may modify the value.
  template <class Pred>
  size_t erase_if(Pred pred) {
    return erase_in(0, mask_ + 1, pred);
  }

  // erase_if over at most `buckets` buckets from `cursor` on, for sweeps
  // spread over many calls (a live learner must not stop for a whole map).
  // Advances `cursor`; returns true when it wrapped to 0 (a pass is done).
  // Unlike erase_if, an entry may be seen twice or not at all in a pass (a
  // deletion shifts entries backwards, a rehash moves them): pred must not
  // mind, and the next pass catches what this one missed.
  template <class Pred>
  bool erase_if_slice(size_t& cursor, size_t buckets, Pred pred) {
    if (cursor > mask_) cursor = 0;
    size_t end = buckets > mask_ + 1 - cursor ? mask_ + 1 : cursor + buckets;
    erase_in(cursor, end, pred);
    cursor = end > mask_ ? 0 : end;
    return cursor == 0;
  }

  // fn(key, value) for every entry, in no particular order.
  template <class Fn>
  void for_each(Fn fn) const {
    for (size_t i = 0; i <= mask_; ++i)
      if (used_[i]) fn(entries_[i].first, entries_[i].second);
  }

 private:
  size_t bucket(const K& k) const { return mix64(Hash{}(k) ^ seed_) & mask_; }

  // Buckets [begin, end): the keys pred condemns are collected first and
  // erased after, so that no backward shift moves an entry under the scan.
  template <class Pred>
  size_t erase_in(size_t begin, size_t end, Pred& pred) {
    doomed_.clear();
    for (size_t i = begin; i < end; ++i)
      if (used_[i] && pred(std::as_const(entries_[i].first), entries_[i].second)) doomed_.push_back(entries_[i].first);
    for (const K& k : doomed_) erase(k);
    return doomed_.size();
  }

  // Backward shift: pull later members of the probe run into the hole so
  // that every entry stays reachable from its bucket without tombstones.
  void erase_at(size_t hole) {
    std::destroy_at(&entries_[hole]);
    for (size_t j = (hole + 1) & mask_; used_[j]; j = (j + 1) & mask_) {
      size_t home = bucket(entries_[j].first);
      // Movable when its home is not cyclically inside (hole, j].
      if (((j - home) & mask_) >= ((j - hole) & mask_)) {
        std::construct_at(&entries_[hole], std::move(entries_[j]));
        std::destroy_at(&entries_[j]);
        hole = j;
      }
    }
    used_[hole] = 0;
    --size_;
  }

  void rehash(size_t buckets) {
    Entry* old_entries = entries_;
    std::vector<uint8_t> old_used(buckets, 0);
    old_used.swap(used_);
    entries_ = std::allocator<Entry>().allocate(buckets);
    mask_ = buckets - 1;
    for (size_t i = 0; i < old_used.size(); ++i) {
      if (!old_used[i]) continue;
      size_t j = bucket(old_entries[i].first);
      while (used_[j]) j = (j + 1) & mask_;
      used_[j] = 1;
      std::construct_at(&entries_[j], std::move(old_entries[i]));
      std::destroy_at(&old_entries[i]);
    }
    if (old_entries) std::allocator<Entry>().deallocate(old_entries, old_used.size());
  }

  using Entry = std::pair<K, V>;
  uint64_t seed_;
  std::vector<K> doomed_;  // erase_in's, kept to spare an allocation per call
  // Constructed only where used_ is set: see reserve().
  Entry* entries_ = nullptr;
  std::vector<uint8_t> used_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace nsgate
