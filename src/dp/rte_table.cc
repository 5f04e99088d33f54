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

uint64_t RteAllowTable::lookup_bulk(const IpAddress* const* addrs, unsigned n, TableValue* values,
                                    LookupCache& cache) const {
  n = std::min(n, 64u);
  uint64_t hits = 0;
  // The answers the cache cannot give, looked up in one bulk call.
  const void* keys[64];
  void* data[64];
  unsigned which[64];
  uint32_t epoch[64];
  LookupCache::Slot* slot[64];
  unsigned nm = 0;
  for (unsigned i = 0; i < n; ++i) {
    uint64_t h = mix(*addrs[i]);
    // Read before the table: an answer is remembered with the count from
    // before it was looked up, so a change racing the lookup invalidates it.
    uint32_t e = epochs_[h >> (64 - kEpochBits)].load(std::memory_order_acquire);
    LookupCache::Set& set = cache.sets_[(h >> (64 - kEpochBits - LookupCache::kBits)) & (LookupCache::kSets - 1)];
    LookupCache::Slot* s = nullptr;
    if (set.way[0].key == *addrs[i]) s = &set.way[0];
    else if (set.way[1].key == *addrs[i]) s = &set.way[1];
    if (s && s->epoch == e) {
      if (s->value != 0) {
        values[i] = TableValue::unpack(s->value);
        hits |= uint64_t{1} << i;
      }
      ++cache.hits_;
      continue;
    }
    // Not remembered: the newest answer goes first, the older one second
    // (a stale answer for the same key is simply replaced).
    if (!s) {
      set.way[1] = set.way[0];
      s = &set.way[0];
    }
    keys[nm] = addrs[i]->bytes().data();
    which[nm] = i;
    epoch[nm] = e;
    slot[nm++] = s;
  }
  if (nm == 0) return hits;
  uint64_t found = 0;
  if (rte_hash_lookup_bulk_data(hash_, keys, nm, &found, data) < 0) return hits;  // bad arguments: remember nothing
  for (unsigned k = 0; k < nm; ++k) {
    unsigned i = which[k];
    uint64_t packed = 0;
    if (found & (uint64_t{1} << k)) {
      values[i] = from_data(data[k]);
      hits |= uint64_t{1} << i;
      packed = values[i].pack();
    }
    *slot[k] = {*addrs[i], packed, epoch[k]};
  }
  return hits;
}

bool RteAllowTable::upsert(const IpAddress& a, TableValue v) {
  bool present = rte_hash_lookup(hash_, a.bytes().data()) >= 0;
  if (!present && count_ >= capacity_) return false;
  if (rte_hash_add_key_data(hash_, a.bytes().data(), to_data(v)) != 0) return false;
  if (!present) ++count_;
  changed(a);
  return true;
}

bool RteAllowTable::erase(const IpAddress& a) {
  if (rte_hash_del_key(hash_, a.bytes().data()) < 0) return false;
  --count_;
  changed(a);
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
