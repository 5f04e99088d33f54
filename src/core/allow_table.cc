// SPDX-License-Identifier: BSD-3-Clause
#include "core/allow_table.hh"


namespace nsgate {

const char* to_string(EntryKind k) {
  switch (k) {
    case EntryKind::anchor: return "anchor";
    case EntryKind::static_allow: return "static";
    case EntryKind::learned: return "learned";
  }
  return "?";
}

std::optional<TableValue> MapAllowTable::lookup(const IpAddress& a, uint32_t now_s) const {
  auto it = map_.find(a);
  if (it == map_.end() || it->second.expired_at(now_s)) return std::nullopt;
  return it->second;
}

bool MapAllowTable::upsert(const IpAddress& a, TableValue v) {
  auto it = map_.find(a);
  if (it != map_.end()) {
    it->second = v;
    return true;
  }
  if (map_.size() >= capacity_) return false;
  map_.emplace(a, v);
  return true;
}

bool MapAllowTable::erase(const IpAddress& a) { return map_.erase(a) > 0; }

void MapAllowTable::for_each(const std::function<void(const IpAddress&, TableValue)>& fn) const {
  for (const auto& [a, v] : map_) fn(a, v);
}

}  // namespace nsgate
