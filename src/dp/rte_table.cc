// SPDX-License-Identifier: BSD-3-Clause
#include "dp/rte_table.hh"

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include <cstring>

namespace nsgate::dp {

namespace {
void* to_data(TableValue v) { return reinterpret_cast<void*>(static_cast<uintptr_t>(v.pack())); }
TableValue from_data(void* d) { return TableValue::unpack(reinterpret_cast<uintptr_t>(d)); }
}  // namespace

std::unique_ptr<RteAllowTable> RteAllowTable::create(const std::string& name, size_t capacity,
                                                     unsigned max_readers, std::string& error) {
  rte_hash_parameters params{};
  params.name = name.c_str();
  // rte_hash needs at least 8 entries; the extendable table guarantees that
  // `capacity` keys fit however they collide.
  params.entries = static_cast<uint32_t>(std::max<size_t>(capacity, 8));
  params.key_len = 16;
  params.hash_func = rte_hash_crc;
  params.hash_func_init_val = 0;
  params.socket_id = SOCKET_ID_ANY;
  params.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
  rte_hash* h = rte_hash_create(&params);
  if (!h) {
    error = "cannot create table " + name + " (" + std::to_string(capacity) +
            " entries): " + rte_strerror(rte_errno);
    return nullptr;
  }
  unsigned threads = std::max(1u, max_readers);
  size_t sz = rte_rcu_qsbr_get_memsize(threads);
  auto* q = static_cast<rte_rcu_qsbr*>(rte_zmalloc(nullptr, sz, RTE_CACHE_LINE_SIZE));
  if (!q || rte_rcu_qsbr_init(q, threads) != 0) {
    error = "cannot allocate the RCU QSBR variable for " + name;
    rte_free(q);
    rte_hash_free(h);
    return nullptr;
  }
  rte_hash_rcu_config rcu{};
  rcu.v = q;
  rcu.mode = RTE_HASH_QSBR_MODE_DQ;
  if (rte_hash_rcu_qsbr_add(h, &rcu) != 0) {
    error = "cannot attach RCU QSBR to " + name + ": " + rte_strerror(rte_errno);
    rte_free(q);
    rte_hash_free(h);
    return nullptr;
  }
  return std::unique_ptr<RteAllowTable>(new RteAllowTable(h, q, capacity));
}

RteAllowTable::~RteAllowTable() {
  rte_hash_free(hash_);
  rte_free(qsbr_);
}

std::optional<TableValue> RteAllowTable::lookup(const IpAddress& a, uint32_t now_s) const {
  void* data = nullptr;
  if (rte_hash_lookup_data(hash_, a.bytes().data(), &data) < 0) return std::nullopt;
  TableValue v = from_data(data);
  if (v.expired_at(now_s)) return std::nullopt;
  return v;
}

uint64_t RteAllowTable::lookup_bulk(const IpAddress* const* addrs, unsigned n, TableValue* values) const {
  const void* keys[64];
  void* data[64];
  n = std::min(n, 64u);
  for (unsigned i = 0; i < n; ++i) keys[i] = addrs[i]->bytes().data();
  uint64_t hits = 0;
  if (n == 0 || rte_hash_lookup_bulk_data(hash_, keys, n, &hits, data) < 0) return 0;
  for (unsigned i = 0; i < n; ++i)
    if (hits & (uint64_t{1} << i)) values[i] = from_data(data[i]);
  return hits;
}

bool RteAllowTable::upsert(const IpAddress& a, TableValue v) {
  bool present = rte_hash_lookup(hash_, a.bytes().data()) >= 0;
  if (!present && count_ >= capacity_) return false;
  if (rte_hash_add_key_data(hash_, a.bytes().data(), to_data(v)) != 0) return false;
  if (!present) ++count_;
  return true;
}

bool RteAllowTable::erase(const IpAddress& a) {
  if (rte_hash_del_key(hash_, a.bytes().data()) < 0) return false;
  --count_;
  return true;
}

size_t RteAllowTable::size() const { return count_; }

void RteAllowTable::for_each(const std::function<void(const IpAddress&, TableValue)>& fn) const {
  const void* key = nullptr;
  void* data = nullptr;
  uint32_t next = 0;
  while (rte_hash_iterate(hash_, &key, &data, &next) >= 0) {
    std::array<std::byte, 16> raw;
    std::memcpy(raw.data(), key, 16);
    fn(IpAddress::v6(std::span<const std::byte, 16>(raw)), from_data(data));
  }
}

void RteAllowTable::reader_register(unsigned id) {
  rte_rcu_qsbr_thread_register(qsbr_, id);
  rte_rcu_qsbr_thread_online(qsbr_, id);
}
void RteAllowTable::synchronize() { rte_rcu_qsbr_synchronize(qsbr_, RTE_QSBR_THRID_INVALID); }

void RteAllowTable::reader_quiescent(unsigned id) { rte_rcu_qsbr_quiescent(qsbr_, id); }
void RteAllowTable::reader_unregister(unsigned id) {
  rte_rcu_qsbr_thread_offline(qsbr_, id);
  rte_rcu_qsbr_thread_unregister(qsbr_, id);
}

}  // namespace nsgate::dp
