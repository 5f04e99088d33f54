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
  const TableValue* v = map_.find(a);
  if (!v || v->expired_at(now_s)) return std::nullopt;
  return *v;
}

bool MapAllowTable::upsert(const IpAddress& a, TableValue v) {
  if (TableValue* held = map_.find(a)) {
    *held = v;
    return true;
  }
  if (map_.size() >= capacity_) return false;
  *map_.try_emplace(a).first = v;
  return true;
}

bool MapAllowTable::erase(const IpAddress& a) { return map_.erase(a); }

void MapAllowTable::for_each(const std::function<void(const IpAddress&, TableValue)>& fn) const {
  map_.for_each([&fn](const IpAddress& a, const TableValue& v) { fn(a, v); });
}

}  // namespace nsgate
