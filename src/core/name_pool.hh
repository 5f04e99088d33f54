// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// Interned domain names with reference counts. The learner's records share
// a few zone and NS names, and every record learned from one response shares
// its query name: holding a 4-byte id instead of strings makes the index keys
// fixed-size and a record copy free of allocation.
//
// Contract: changed by one thread (the learner's); the const members may be
// called from others while it does not. An id stays valid, and names the
// same name, while it holds a reference.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/chunked_vec.hh"
#include "core/dns_name.hh"

namespace nsgate {

class NamePool {
 public:
  NamePool();
  using Id = uint32_t;
  static constexpr Id kNone = UINT32_MAX;

  // A name's hash in this pool. It depends only on the wire form and the
  // pool's key, fixed at construction, so any thread may compute it ahead
  // for the pool's own thread (the offline learner's reading thread does:
  // ParsedMessage). The overloads below that take `h` require h == hash(n).
  uint64_t hash(std::string_view wire) const;
  uint64_t hash(const DnsName& n) const { return hash(wire_view(n)); }

  // Interns `n` if needed and takes a reference.
  Id acquire(const DnsName& n) { return acquire(n, hash(n)); }
  Id acquire(const DnsName& n, uint64_t h);
  // Takes another reference to an id already held (kNone is ignored).
  Id acquire(Id id);
  // Drops a reference; the name is forgotten when none is left.
  void release(Id id);

  // The id of an interned name given its wire form, or kNone.
  Id find(std::string_view wire) const;
  Id find(const DnsName& n) const { return find(wire_view(n)); }
  // Reads the name's octets only where a bucket's hash equals `h`: a name
  // that is not interned is usually told apart without touching it.
  Id find(std::string_view wire, uint64_t h) const;
  Id find(const DnsName& n, uint64_t h) const { return find(wire_view(n), h); }
  // A hint that a name is looked up soon: starts loading its bucket.
  void prefetch(std::string_view wire) const { prefetch(hash(wire)); }
  void prefetch(uint64_t h) const { __builtin_prefetch(&buckets_[h & (buckets_.size() - 1)]); }
  // The second step, once prefetch(h) has had time: starts loading the
  // entry the name's first bucket points to when that bucket has its hash
  // (a name interned, most likely; where it is not, only a load is spent).
  void prefetch_entry(uint64_t h) const {
    const Bucket& b = buckets_[h & (buckets_.size() - 1)];
    if (b.hash == h && b.id != kNone) __builtin_prefetch(&entries_[b.id]);
  }

  // Presentation form ("example.com."); "" for kNone. Built on each call
  // from the wire form (no cache), so any thread may call it while no
  // thread changes the pool.
  std::string text(Id id) const;
  DnsName name(Id id) const;
  // The wire form of an interned name ("" for kNone or a released id), and
  // one past the highest id ever handed out: for copying the pool cheaply.
  std::string_view wire(Id id) const { return id < entries_.size() ? entries_[id].wire() : ""; }
  size_t id_limit() const { return entries_.size(); }
  // Presentation form of a wire form this pool (or a copy of it) interned,
  // as text() gives it: "" (nothing appended) for the "" of no name.
  static std::string text_of(std::string_view wire);
  static void append_text(std::string& out, std::string_view wire);
  size_t size() const { return size_; }
  // Makes room for `names` names in all without growing (no rehash later).
  void reserve(size_t names);

  static std::string_view wire_view(const DnsName& n) {
    return {reinterpret_cast<const char*>(n.wire()), n.wire_size()};
  }

 private:
  // One cache line, the wire form inside it when it fits (nearly every
  // name does): find() compares a name where its hash is, without a second
  // miss on a string's heap block (the applying thread of nsgate learn
  // spends much of its time in these misses).
  static constexpr size_t kShortWire = 43;
  struct alignas(64) Entry {
    uint64_t hash = 0;  // of the wire form: release() finds its bucket without hashing again
    uint32_t refs = 0;
    uint8_t size = 0;  // of the wire form (at most 255); 0 while released
    char short_wire[kShortWire];
    std::unique_ptr<char[]> long_wire;  // the wire form when longer than kShortWire
    std::string_view wire() const { return {size <= kShortWire ? short_wire : long_wire.get(), size}; }
    void assign(std::string_view w);
    void clear() {
      size = 0;
      long_wire.reset();
    }
  };
  static_assert(sizeof(Entry) == 64);
  // The index: open addressing with linear probing over (hash, id); equal
  // hashes are told apart by comparing the wire form, so a collision costs
  // a probe, never a wrong answer. The hash is keyed per pool.
  struct Bucket {
    uint64_t hash = 0;
    Id id = kNone;  // kNone: empty
  };
  void grow();

  // Never moved (a vector past its reservation moved every entry on the
  // live learner's thread); the bucket index below still rehashes at once
  // when it outgrows its reservation.
  ChunkedVec<Entry> entries_;
  std::vector<Id> free_;
  std::vector<Bucket> buckets_ = std::vector<Bucket>(64);
  size_t size_ = 0;
  // On a cache line of its own: other threads read it (hash()) while the
  // pool's thread writes the members around it.
  struct alignas(64) Seed {
    uint64_t value;
  } seed_;
};

}  // namespace nsgate
