// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// The TTL table on rte_hash: one writer, lock-free readers
// (RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF), expiry in the value and checked
// on every lookup, deleted slots reclaimed through RCU QSBR once every
// registered reader has passed a quiescent state. The learner deletes
// expired entries from its own expiry queue, a bounded number per round.

#include <memory>
#include <string>

#include "core/allow_table.hh"

struct rte_hash;
struct rte_rcu_qsbr;

namespace nsgate::dp {

class RteAllowTable final : public AllowTable {
 public:
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
      : hash_(h), qsbr_(q), capacity_(capacity) {}
  rte_hash* hash_;
  rte_rcu_qsbr* qsbr_;
  size_t capacity_;
  // Keys present. rte_hash_count() also counts slots still waiting in the
  // RCU defer queue, so the writer keeps its own exact count.
  size_t count_ = 0;
};

}  // namespace nsgate::dp
