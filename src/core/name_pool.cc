// SPDX-License-Identifier: BSD-3-Clause
#include "core/name_pool.hh"

#include <cstring>
#include <random>

namespace nsgate {

NamePool::NamePool() {
  std::random_device rd;
  seed_.value = uint64_t{rd()} << 32 | rd();
}

uint64_t NamePool::hash(std::string_view w) const {
  // Eight bytes at a time (the tail zero-padded), each step a multiply and
  // a fold; the length and the per-pool seed go in first.
  uint64_t h = seed_.value ^ (w.size() * 0x9e3779b97f4a7c15ull);
  auto step = [&h](uint64_t chunk) {
    h = (h ^ chunk) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  };
  size_t at = 0;
  for (; at + 8 <= w.size(); at += 8) {  // fixed-size copies compile to plain loads
    uint64_t chunk;
    std::memcpy(&chunk, w.data() + at, 8);
    step(chunk);
  }
  if (at < w.size()) {
    uint64_t chunk = 0;
    std::memcpy(&chunk, w.data() + at, w.size() - at);
    step(chunk);
  }
  h *= 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 29);
}

void NamePool::Entry::assign(std::string_view w) {
  size = static_cast<uint8_t>(w.size());  // a DnsName's wire form: at most 255 octets
  char* to = short_wire;
  if (w.size() > kShortWire) {
    long_wire = std::make_unique_for_overwrite<char[]>(w.size());
    to = long_wire.get();
  }
  std::memcpy(to, w.data(), w.size());
}

NamePool::Id NamePool::find(std::string_view wire) const { return find(wire, hash(wire)); }

NamePool::Id NamePool::find(std::string_view wire, uint64_t h) const {
  size_t mask = buckets_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const Bucket& b = buckets_[i];
    if (b.id == kNone) return kNone;
    if (b.hash == h && entries_[b.id].wire() == wire) return b.id;
  }
}

void NamePool::reserve(size_t names) {
  entries_.reserve(names);
  while (names * 4 > buckets_.size() * 3) grow();
}

void NamePool::grow() {
  std::vector<Bucket> old(buckets_.size() * 2);
  old.swap(buckets_);
  size_t mask = buckets_.size() - 1;
  for (const Bucket& b : old) {
    if (b.id == kNone) continue;
    size_t i = b.hash & mask;
    while (buckets_[i].id != kNone) i = (i + 1) & mask;
    buckets_[i] = b;
  }
}

NamePool::Id NamePool::acquire(const DnsName& n, uint64_t h) {
  std::string_view wire = wire_view(n);
  if (Id id = find(wire, h); id != kNone) {
    ++entries_[id].refs;
    return id;
  }
  if ((size_ + 1) * 4 > buckets_.size() * 3) grow();  // load factor <= 3/4
  Id id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    id = static_cast<Id>(entries_.size());
    entries_.emplace_back();
  }
  Entry& e = entries_[id];
  e.assign(wire);
  e.refs = 1;
  e.hash = h;
  size_t mask = buckets_.size() - 1;
  size_t i = h & mask;
  while (buckets_[i].id != kNone) i = (i + 1) & mask;
  buckets_[i] = Bucket{h, id};
  ++size_;
  return id;
}

NamePool::Id NamePool::acquire(Id id) {
  if (id != kNone) ++entries_[id].refs;
  return id;
}

void NamePool::release(Id id) {
  if (id == kNone) return;
  Entry& e = entries_[id];
  if (--e.refs > 0) return;
  // Remove the bucket by backward shift: later members of its probe run
  // whose home is not inside (hole, j] move into the hole.
  size_t mask = buckets_.size() - 1;
  size_t hole = e.hash & mask;
  while (buckets_[hole].id != id) hole = (hole + 1) & mask;
  for (size_t j = (hole + 1) & mask; buckets_[j].id != kNone; j = (j + 1) & mask) {
    size_t home = buckets_[j].hash & mask;
    if (((j - home) & mask) >= ((j - hole) & mask)) {
      buckets_[hole] = buckets_[j];
      hole = j;
    }
  }
  buckets_[hole] = Bucket{};
  --size_;
  e.clear();
  free_.push_back(id);
}

std::string NamePool::text(Id id) const { return text_of(wire(id)); }

namespace {
// The wire form was a valid DnsName when interned: rebuild it label by label.
DnsName name_of(std::string_view w) {
  DnsName n;
  for (size_t at = 0; at < w.size() && w[at] != 0; at += 1 + static_cast<uint8_t>(w[at]))
    n.append_label(reinterpret_cast<const uint8_t*>(w.data()) + at + 1, static_cast<uint8_t>(w[at]));
  return n;
}
}  // namespace

DnsName NamePool::name(Id id) const { return id == kNone ? DnsName{} : name_of(entries_[id].wire()); }

std::string NamePool::text_of(std::string_view wire) {
  std::string out;
  out.reserve(wire.size());
  append_text(out, wire);
  return out;
}

void NamePool::append_text(std::string& out, std::string_view wire) {
  if (!wire.empty()) DnsName::append_text(out, {reinterpret_cast<const uint8_t*>(wire.data()), wire.size()});
}

}  // namespace nsgate
