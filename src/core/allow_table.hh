// SPDX-License-Identifier: BSD-3-Clause
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include "core/flat_map.hh"
#include "core/ip_address.hh"

namespace nsgate {

enum class EntryKind : uint8_t { anchor = 1, static_allow = 2, learned = 3 };
const char* to_string(EntryKind k);

// What the TTL table holds per address; packs into 64 bits so that a reader
// sees a whole value or none (rte_hash stores it as its data pointer).
struct TableValue {
  static constexpr uint32_t kNever = UINT32_MAX;
  uint32_t expires_s = 0;     // seconds on the learner's clock; kNever for anchors
  uint32_t provenance = 0;    // learner's provenance slot (24 bits)
  EntryKind kind = EntryKind::learned;

  bool expired_at(uint32_t now_s) const { return expires_s != kNever && now_s >= expires_s; }
  uint64_t pack() const {
    return uint64_t{expires_s} | uint64_t{static_cast<uint8_t>(kind)} << 32 |
           uint64_t{provenance & 0xffffffu} << 40;
  }
  static TableValue unpack(uint64_t v) {
    return {static_cast<uint32_t>(v), static_cast<uint32_t>(v >> 40),
            static_cast<EntryKind>(static_cast<uint8_t>(v >> 32))};
  }
  bool operator==(const TableValue&) const = default;
};

// The address table the data path consults. Contract: exactly one writer
// thread calls upsert and erase; lookup may be called from any thread
// concurrently (implementations document whether that is lock-free).
// Expiry is checked on every lookup, so an entry past its time is never
// reported even before the writer (the learner's expiry queue) deletes it.
class AllowTable {
 public:
  virtual ~AllowTable() = default;
  virtual std::optional<TableValue> lookup(const IpAddress& a, uint32_t now_s) const = 0;
  // Inserts or overwrites; false when the table is full.
  virtual bool upsert(const IpAddress& a, TableValue v) = 0;
  virtual bool erase(const IpAddress& a) = 0;
  virtual size_t size() const = 0;
  virtual size_t capacity() const = 0;
  // Every entry, expired or not, in no particular order. Writer thread only.
  virtual void for_each(const std::function<void(const IpAddress&, TableValue)>& fn) const = 0;
  // A hint that `a` is looked up or written soon (same thread as that
  // call); changes nothing. Tables that cannot use it ignore it.
  virtual void prefetch(const IpAddress&) const {}
};

// A plain single-threaded table for the offline tools (`learn`, `check`),
// which have no concurrent readers, and for tests: no DPDK, and no price
// for lock-free reads nobody makes.
class MapAllowTable final : public AllowTable {
 public:
  explicit MapAllowTable(size_t capacity) : capacity_(capacity) {}
  std::optional<TableValue> lookup(const IpAddress& a, uint32_t now_s) const override;
  bool upsert(const IpAddress& a, TableValue v) override;
  bool erase(const IpAddress& a) override;
  size_t size() const override { return map_.size(); }
  size_t capacity() const override { return capacity_; }
  void for_each(const std::function<void(const IpAddress&, TableValue)>& fn) const override;
  void prefetch(const IpAddress& a) const override { map_.prefetch(a); }

 private:
  size_t capacity_;
  FlatMap<IpAddress, TableValue, IpAddressHash> map_;
};

// For a learner whose records are all that is wanted (`nsgate learn`,
// `check`): keeps nothing. The learner answers rule 2 and lookup() from
// its own records, so writing a copy nobody reads is only time.
class NoTable final : public AllowTable {
 public:
  std::optional<TableValue> lookup(const IpAddress&, uint32_t) const override { return std::nullopt; }
  bool upsert(const IpAddress&, TableValue) override { return true; }
  bool erase(const IpAddress&) override { return true; }
  size_t size() const override { return 0; }
  size_t capacity() const override { return SIZE_MAX; }
  void for_each(const std::function<void(const IpAddress&, TableValue)>&) const override {}
};

}  // namespace nsgate
