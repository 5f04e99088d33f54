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
// Past 3/4 load the map doubles. By default all at once; after
// grow_in_steps() it allocates the array twice the size and moves
// kMovePerInsert buckets of the old one on each insert, so that no insert
// moves more than a few entries. A live learner's maps that outgrow their
// reservation (one entry per address and zone served) stopped it for the
// whole rehash: 53 ms at 1.6 M entries, 105 ms at 3.1 M; in steps the
// slowest insert took 1.7-3.8 ms (allocating and freeing the arrays). Not
// the default: a lookup that meets the old array costs a second probe,
// and `nsgate learn`, whose maps grow from small, ran 4-5 % slower. While
// the old array drains, lookups try both; it takes no inserts, and its
// erasures leave a tombstone so that its probe runs stay whole until it
// is freed.
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
    finish_growing();
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
    finish_growing();
    size_t buckets = mask_ + 1;
    while (n * 4 > buckets * 3) buckets *= 2;
    if (buckets != mask_ + 1) rehash(buckets);
  }
  bool empty() const { return size_ == 0; }
  // Grow in steps from now on (see the top of this file).
  void grow_in_steps() { in_steps_ = true; }
  // An older, smaller array still holds entries (for tests).
  bool growing() const { return old_entries_ != nullptr; }

  V* find(const K& k) {
    for (size_t i = bucket(k);; i = (i + 1) & mask_) {
      if (!used_[i]) break;
      if (entries_[i].first == k) return &entries_[i].second;
    }
    if (!old_entries_) return nullptr;
    size_t i = find_old(k);
    return i == kNotFound ? nullptr : &old_entries_[i].second;
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
    if (old_entries_) {
      move_some(kMovePerInsert);
      if (old_entries_)
        if (size_t o = find_old(k); o != kNotFound) return {&old_entries_[o].second, false};
    }
    if ((new_size() + 1) * 4 > (mask_ + 1) * 3) {  // load factor <= 3/4
      if (!in_steps_) {
        rehash((mask_ + 1) * 2);
      } else {
        // Absent from the old array; present in this one, it stays.
        for (size_t i = bucket(k); used_[i]; i = (i + 1) & mask_)
          if (entries_[i].first == k) return {&entries_[i].second, false};
        grow();
      }
    }
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
      if (!used_[i]) break;
      if (entries_[i].first == k) {
        erase_at(i);
        return true;
      }
    }
    if (!old_entries_) return false;
    size_t o = find_old(k);
    if (o == kNotFound) return false;
    std::destroy_at(&old_entries_[o]);
    old_used_[o] = kTombstone;
    --old_size_;
    --size_;
    return true;
  }

  // Erases every entry for which pred(key, value&) returns true. pred is
  // called exactly once per entry and may modify the value.
  template <class Pred>
  size_t erase_if(Pred pred) {
    finish_growing();
    return erase_in(0, mask_ + 1, pred);
  }

  // erase_if over at most `buckets` buckets from `cursor` on, for sweeps
  // spread over many calls (a live learner must not stop for a whole map).
  // Advances `cursor`; returns true when it wrapped to 0 (a pass is done).
  // Unlike erase_if, an entry may be seen twice or not at all in a pass (a
  // deletion shifts entries backwards, a rehash moves them): pred must not
  // mind, and the next pass catches what this one missed.
  // A map growing in steps moves as many old buckets as the slice walks
  // and walks the new array only: what is still in the old one is met by a
  // later pass, once moved (a whole move at once would be the stop that
  // growing in steps avoids, e.g. after a reload raised a swept bound).
  template <class Pred>
  bool erase_if_slice(size_t& cursor, size_t buckets, Pred pred) {
    if (old_entries_) move_some(buckets);
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
    if (old_entries_)
      for (size_t i = 0; i <= old_mask_; ++i)
        if (old_used_[i] == kUsed) fn(old_entries_[i].first, old_entries_[i].second);
  }

 private:
  using Entry = std::pair<K, V>;
  static constexpr size_t kNotFound = SIZE_MAX;
  static constexpr uint8_t kUsed = 1, kTombstone = 2;  // old_used_ only
  // Old buckets moved per insert while growing: the old array (B buckets,
  // at most 3B/4 entries) must be empty before the new one (2B buckets)
  // fills to 3/4 again, which takes at least 3B/4 inserts; 16 per insert
  // empties it after B/16.
  static constexpr size_t kMovePerInsert = 16;

  size_t hash_of(const K& k) const { return mix64(Hash{}(k) ^ seed_); }
  size_t bucket(const K& k) const { return hash_of(k) & mask_; }
  size_t new_size() const { return size_ - old_size_; }

  // `k`'s bucket in the old array, or kNotFound.
  size_t find_old(const K& k) const {
    for (size_t i = hash_of(k) & old_mask_;; i = (i + 1) & old_mask_) {
      if (old_used_[i] == 0) return kNotFound;
      if (old_used_[i] == kUsed && old_entries_[i].first == k) return i;
    }
  }

  // Starts moving into an array twice the size (first finishing a move
  // still going on, which the pace above should never leave).
  void grow() {
    finish_growing();
    old_entries_ = entries_;
    old_used_.swap(used_);
    old_mask_ = mask_;
    old_size_ = size_;
    moved_ = 0;
    mask_ = 2 * mask_ + 1;
    used_.assign(mask_ + 1, 0);
    entries_ = std::allocator<Entry>().allocate(mask_ + 1);
    if (old_size_ == 0) release_old();
  }

  // Moves the entries of up to `buckets` more old buckets into the new
  // array, leaving tombstones; frees the old array once empty.
  void move_some(size_t buckets) {
    for (; buckets > 0 && moved_ <= old_mask_ && old_size_ > 0; --buckets, ++moved_) {
      if (old_used_[moved_] != kUsed) continue;
      move_in(old_entries_[moved_]);
      old_used_[moved_] = kTombstone;
      --old_size_;
    }
    if (old_size_ == 0) release_old();
  }
  void finish_growing() {
    if (old_entries_) move_some(SIZE_MAX);
  }
  void release_old() {
    std::allocator<Entry>().deallocate(old_entries_, old_mask_ + 1);
    old_entries_ = nullptr;
    old_used_ = {};
    old_mask_ = 0;
  }

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

  // All at once: reserve() and construction only.
  void rehash(size_t buckets) {
    Entry* old_entries = entries_;
    std::vector<uint8_t> old_used(buckets, 0);
    old_used.swap(used_);
    entries_ = std::allocator<Entry>().allocate(buckets);
    mask_ = buckets - 1;
    for (size_t i = 0; i < old_used.size(); ++i)
      if (old_used[i]) move_in(old_entries[i]);
    if (old_entries) std::allocator<Entry>().deallocate(old_entries, old_used.size());
  }

  // Moves `e`, from an array being given up, into the first free bucket of
  // its probe run in the current one (no key is in both arrays).
  void move_in(Entry& e) {
    size_t j = bucket(e.first);
    while (used_[j]) j = (j + 1) & mask_;
    used_[j] = 1;
    std::construct_at(&entries_[j], std::move(e));
    std::destroy_at(&e);
  }

  uint64_t seed_;
  std::vector<K> doomed_;  // erase_in's, kept to spare an allocation per call
  // Constructed only where used_ is set: see reserve().
  Entry* entries_ = nullptr;
  std::vector<uint8_t> used_;
  size_t mask_ = 0;
  size_t size_ = 0;  // in both arrays
  // While growing: the previous array, its entries not yet moved, and the
  // next of its buckets to move.
  Entry* old_entries_ = nullptr;
  std::vector<uint8_t> old_used_;
  size_t old_mask_ = 0, old_size_ = 0, moved_ = 0;
  bool in_steps_ = false;
};

}  // namespace nsgate
