// SPDX-License-Identifier: BSD-3-Clause
#include "core/learner.hh"

#include <algorithm>
#include <cmath>

namespace nsgate {

const char* to_string(LearnEvent e) {
  switch (e) {
#define NSGATE_X(name, text) \
  case LearnEvent::name:     \
    return #name;
    NSGATE_LEARN_EVENTS(NSGATE_X)
#undef NSGATE_X
  }
  return "?";
}

const char* describe(LearnEvent e) {
  switch (e) {
#define NSGATE_X(name, text) \
  case LearnEvent::name:     \
    return text;
    NSGATE_LEARN_EVENTS(NSGATE_X)
#undef NSGATE_X
  }
  return "?";
}

namespace {

TimeNs seconds_to_ns(double s) { return static_cast<TimeNs>(std::llround(s * 1e9)); }

DnsName parse_name(const std::string& text) {
  DnsName n;
  DnsName::from_text(text, n);
  return n;
}

// Per-response view of the records that matter to learning.
struct NsRecord {
  dns::Section section;
  DnsName owner, target;
  uint32_t ttl;
  bool accepted = false;
};
struct AddrRecord {
  dns::Section section;
  DnsName owner;
  IpAddress address;
  uint16_t rtype;
  uint32_t ttl;
};

std::string address_data(const IpAddress& a) { return a.to_string(); }

}  // namespace

namespace rules {

bool in_bailiwick(const DnsName& owner, std::span<const DnsName> zones) {
  return std::any_of(zones.begin(), zones.end(),
                     [&](const DnsName& z) { return owner.is_at_or_below(z); });
}

std::optional<LearnEvent> refuse_address(const IpAddress& a, bool allow_private) {
  switch (classify(a)) {
    case AddressClass::usable: return std::nullopt;
    case AddressClass::private_use:
      if (allow_private) return std::nullopt;
      return LearnEvent::private_address;
    default: return LearnEvent::unusable_address;
  }
}

uint32_t lifetime(uint32_t ns_ttl, uint32_t addr_ttl, const LearningSettings& s) {
  auto sane = [](uint32_t t) { return t > INT32_MAX ? 0u : t; };
  uint32_t ttl = std::min(sane(ns_ttl), sane(addr_ttl));
  ttl = std::clamp(ttl, s.min_ttl_s, std::max(s.min_ttl_s, s.max_ttl_s));
  return ttl + s.grace_s;
}

}  // namespace rules

size_t Learner::QueryKeyHash::operator()(const QueryKey& k) const noexcept {
  size_t h = IpAddressHash{}(k.client) * 31 + IpAddressHash{}(k.server);
  h = h * 31 + (size_t{k.client_port} << 32 | size_t{k.server_port} << 16 | k.id);
  h = h * 31 + k.qtype;
  return h ^ std::hash<std::string>{}(k.qname);
}

Learner::Learner(const LearningSettings& settings, AllowTable& table)
    : settings_(settings), table_(table) {}

void Learner::count(LearnEvent e, Explanation* ex, ExplainItem* item) {
  ++counters_[static_cast<size_t>(e)];
  if (ex && item) {
    item->event = e;
    ex->items.push_back(*item);
  }
}

uint32_t Learner::alloc_slot() {
  if (!free_slots_.empty()) {
    uint32_t id = free_slots_.back();
    free_slots_.pop_back();
    slots_[id].live = true;
    return id;
  }
  slots_.push_back(Slot{{}, true});
  return static_cast<uint32_t>(slots_.size() - 1);
}

void Learner::free_slot(uint32_t id) {
  Slot& s = slots_[id];
  if (s.p.kind == EntryKind::learned) {
    auto zc = zone_counts_.find(s.p.zone);
    if (zc != zone_counts_.end() && --zc->second == 0) zone_counts_.erase(zc);
    auto ns = by_ns_.find(s.p.ns);
    if (ns != by_ns_.end()) {
      auto& v = ns->second;
      // Only unlink when no other live slot of this address serves as that NS.
      bool other = false;
      if (auto ai = by_address_.find(s.p.address); ai != by_address_.end())
        for (uint32_t o : ai->second)
          if (o != id && slots_[o].live && slots_[o].p.ns == s.p.ns) other = true;
      if (!other) v.erase(std::remove(v.begin(), v.end(), s.p.address), v.end());
      if (v.empty()) by_ns_.erase(ns);
    }
  }
  s = Slot{};
  free_slots_.push_back(id);
}

void Learner::add_anchor(const IpAddress& a, const std::string& ns_name) {
  auto& ids = by_address_[a];
  for (uint32_t id : ids)
    if (slots_[id].p.kind == EntryKind::anchor) return;
  uint32_t id = alloc_slot();
  Provenance& p = slots_[id].p;
  p.address = a;
  p.kind = EntryKind::anchor;
  p.zone = ".";
  p.ns = ns_name;
  p.expires = kNeverExpires;
  ids.push_back(id);
  ++anchors_;
  table_.upsert(a, TableValue{TableValue::kNever, id, EntryKind::anchor});
}

void Learner::add_static(const StaticAllow& s) {
  bool host = s.prefix.length == (s.prefix.address.is_v4() ? 32 : 128);
  if (!host) {
    statics_.push_back(s);
    return;
  }
  const IpAddress& a = s.prefix.address;
  auto& ids = by_address_[a];
  uint32_t id = alloc_slot();
  Provenance& p = slots_[id].p;
  p.address = a;
  p.kind = EntryKind::static_allow;
  p.zone = s.zone;
  p.note = s.note;
  p.expires = kNeverExpires;
  ids.push_back(id);
  auto existing = table_.lookup(a, 0);
  if (!existing || existing->kind != EntryKind::anchor)
    table_.upsert(a, TableValue{TableValue::kNever, id, EntryKind::static_allow});
}

dns::Fault Learner::on_message(const DnsContext& ctx, std::span<const std::byte> msg,
                               Explanation* ex) {
  now_ = std::max(now_, ctx.time);
  dns::Reader r(msg);
  dns::Header h;
  dns::Question q;
  dns::Fault f = r.open(h);
  if (f == dns::Fault::none && h.qdcount >= 1) f = r.next(q);
  if (!h.qr()) {
    if (f == dns::Fault::none && h.opcode() == 0 && h.qdcount == 1) on_query(ctx, h, q);
    return f == dns::Fault::none ? dns::validate(msg) : f;
  }
  ++responses_seen_;
  // Rule 5: a fragment is never parsed (its tail is elsewhere, and
  // fragments are how off-path attackers inject records).
  if (ctx.fragment) {
    if (ex) ex->refused = LearnEvent::fragment;
    count(LearnEvent::fragment);
    return dns::Fault::none;
  }
  if (f != dns::Fault::none) {
    if (ex) ex->refused = LearnEvent::malformed;
    count(LearnEvent::malformed);
    return f;
  }
  // Rule 5 first: the whole message must parse before any record counts.
  dns::Fault whole = dns::validate(msg);
  if (whole != dns::Fault::none) {
    if (ex) ex->refused = LearnEvent::malformed;
    count(LearnEvent::malformed);
    return whole;
  }
  on_response(ctx, msg, h, q, ex);
  return dns::Fault::none;
}

void Learner::on_query(const DnsContext& ctx, const dns::Header& h, const dns::Question& q) {
  ++queries_seen_;
  if (queries_.size() >= settings_.max_tracked_queries) housekeeping(now_);
  if (queries_.size() >= settings_.max_tracked_queries) return;
  QueryKey k{ctx.client, ctx.server, ctx.client_port, ctx.server_port, h.id, q.qtype,
             q.name.to_string()};
  queries_[std::move(k)] = ctx.time;
}

std::vector<DnsName> Learner::zones_served(const IpAddress& server, TimeNs now, bool& allowed,
                                           bool& teaches) const {
  std::vector<DnsName> zones;
  allowed = false;
  teaches = false;
  auto it = by_address_.find(server);
  if (it != by_address_.end()) {
    for (uint32_t id : it->second) {
      const Provenance& p = slots_[id].p;
      if (p.expires <= now) continue;
      allowed = true;
      if (p.zone.empty()) continue;  // static allow without a zone
      teaches = true;
      zones.push_back(parse_name(p.zone));
    }
  }
  for (const StaticAllow& s : statics_) {
    if (!s.prefix.contains(server)) continue;
    allowed = true;
    if (s.zone.empty()) continue;
    teaches = true;
    zones.push_back(parse_name(s.zone));
  }
  return zones;
}

void Learner::on_response(const DnsContext& ctx, std::span<const std::byte> msg,
                          const dns::Header& h, const dns::Question& q, Explanation* ex) {
  auto refuse = [&](LearnEvent e) {
    if (ex) ex->refused = e;
    count(e);
  };
  if (h.opcode() != 0 || h.qdcount != 1) return refuse(LearnEvent::not_standard_response);
  if (h.tc()) return refuse(LearnEvent::truncated_tc);
  if (h.rcode() != 0) return refuse(LearnEvent::error_rcode);

  // Rule 1: the response must answer a query seen on the same path.
  ResponseInfo from;
  from.response_time = ctx.time;
  from.server = ctx.server;
  from.query_id = h.id;
  from.query_name = q.name.to_string();
  QueryKey key{ctx.client, ctx.server, ctx.client_port, ctx.server_port, h.id, q.qtype,
               from.query_name};
  auto qit = queries_.find(key);
  bool matched = qit != queries_.end() &&
                 ctx.time - qit->second <= seconds_to_ns(settings_.query_match_window_s) &&
                 qit->second <= ctx.time;
  if (matched) {
    from.query_time = qit->second;
    queries_.erase(qit);
  } else if (settings_.require_query_match) {
    return refuse(LearnEvent::unmatched_response);
  }

  // Rule 2: only a server someone vouched for may vouch for others.
  bool allowed = false, teaches = false;
  std::vector<DnsName> zones = zones_served(ctx.server, ctx.time, allowed, teaches);
  if (!allowed) return refuse(LearnEvent::source_not_allowed);
  if (!teaches) return refuse(LearnEvent::source_teaches_nothing);

  std::vector<NsRecord> ns_records;
  std::vector<AddrRecord> addr_records;
  {
    dns::Reader r(msg);
    dns::Header hh;
    dns::Question qq;
    r.open(hh);
    while (r.more_questions()) r.next(qq);
    dns::Record rr;
    while (r.more_records() && r.next(rr) == dns::Fault::none) {
      if (rr.rtype == dns::type::NS && rr.section != dns::Section::additional)
        ns_records.push_back({rr.section, rr.owner, rr.target, rr.ttl});
      else if (rr.is_address())
        addr_records.push_back({rr.section, rr.owner, rr.address, rr.rtype, rr.ttl});
    }
  }

  ExplainItem item;
  auto describe_ns = [&](const NsRecord& n) {
    item = ExplainItem{n.section, n.owner.to_string(), dns::type::NS, n.target.to_string(),
                       LearnEvent::added, {}};
  };
  // Rule 3 for NS records.
  for (NsRecord& n : ns_records) {
    if (rules::in_bailiwick(n.owner, zones)) {
      n.accepted = true;
      continue;
    }
    describe_ns(n);
    count(LearnEvent::ns_out_of_bailiwick, ex, &item);
  }

  size_t budget = settings_.per_response_cap;
  bool taught = false;
  std::vector<bool> ns_has_address(ns_records.size(), false);
  for (const AddrRecord& a : addr_records) {
    item = ExplainItem{a.section, a.owner.to_string(), a.rtype, address_data(a.address),
                       LearnEvent::added, {}};
    bool is_target = false;
    for (size_t i = 0; i < ns_records.size(); ++i)
      if (ns_records[i].accepted && ns_records[i].target == a.owner) is_target = true;
    const std::string owner = item.owner;
    auto pending = pending_.find(owner);
    bool awaited = pending != pending_.end() && rules::in_bailiwick(a.owner, zones);

    if (!is_target && !awaited) {
      count(a.section == dns::Section::answer ? LearnEvent::answer_not_delegation
                                              : LearnEvent::glue_not_ns_target,
            ex, &item);
      continue;
    }
    if (is_target && !rules::in_bailiwick(a.owner, zones)) {
      count(LearnEvent::glue_out_of_bailiwick, ex, &item);
      continue;
    }
    if (auto bad = rules::refuse_address(a.address, settings_.allow_private)) {
      count(*bad, ex, &item);
      continue;
    }
    // Glue: learn for every accepted delegation naming this target.
    for (size_t i = 0; i < ns_records.size(); ++i) {
      const NsRecord& n = ns_records[i];
      if (!n.accepted || !(n.target == a.owner)) continue;
      ns_has_address[i] = true;
      item.zone = n.owner.to_string();
      LearnEvent e = learn(a.address, item.zone, owner, n.ttl, a.ttl, from, budget);
      taught |= e == LearnEvent::added || e == LearnEvent::refreshed;
      count(e, ex, &item);
    }
    // An awaited out-of-bailiwick target: its address arrived in time.
    if (pending != pending_.end()) {
      for (PendingNs& p : pending->second) {
        if (p.deadline < ctx.time) continue;
        p.resolved = true;
        item.zone = p.zone;
        LearnEvent e = learn(a.address, p.zone, owner, p.ns_ttl, a.ttl, p.from, budget);
        taught |= e == LearnEvent::added || e == LearnEvent::refreshed;
        count(e, ex, &item);
      }
    }
  }

  // Accepted NS without an address in this response: use what is known for
  // that name, and wait ns_address_window for more.
  for (size_t i = 0; i < ns_records.size(); ++i) {
    const NsRecord& n = ns_records[i];
    if (!n.accepted || ns_has_address[i]) continue;
    describe_ns(n);
    std::string target = n.target.to_string();
    std::string zone = n.owner.to_string();
    if (auto known = by_ns_.find(target); known != by_ns_.end()) {
      std::vector<IpAddress> addrs = known->second;  // learn() may modify by_ns_
      for (const IpAddress& a : addrs) {
        uint32_t addr_ttl = 0;
        for (uint32_t id : by_address_[a])
          if (slots_[id].p.ns == target) addr_ttl = std::max(addr_ttl, slots_[id].p.addr_ttl);
        item.data = target + " " + a.to_string();
        item.zone = zone;
        LearnEvent e = learn(a, zone, target, n.ttl, addr_ttl, from, budget);
        taught |= e == LearnEvent::added || e == LearnEvent::refreshed;
        count(e, ex, &item);
      }
      describe_ns(n);
    }
    if (pending_count_ >= settings_.max_pending_ns) {
      count(LearnEvent::pending_full, ex, &item);
      continue;
    }
    auto& waiting = pending_[target];
    bool dup = std::any_of(waiting.begin(), waiting.end(),
                           [&](const PendingNs& p) { return p.zone == zone; });
    if (dup) continue;
    waiting.push_back(PendingNs{zone, n.ttl, ctx.time + seconds_to_ns(settings_.ns_address_window_s),
                                false, from});
    ++pending_count_;
    item.zone = zone;
    count(LearnEvent::pending, ex, &item);
  }
  if (taught) ++responses_taught_;
}

LearnEvent Learner::learn(const IpAddress& a, const std::string& zone, const std::string& ns,
                          uint32_t ns_ttl, uint32_t addr_ttl, const ResponseInfo& from,
                          size_t& new_budget) {
  TimeNs expires = from.response_time + TimeNs{rules::lifetime(ns_ttl, addr_ttl, settings_)} * kNsPerSec;
  auto& ids = by_address_[a];
  auto fill = [&](Provenance& p) {
    p.ns = ns;
    p.ns_ttl = ns_ttl;
    p.addr_ttl = addr_ttl;
    p.expires = std::max(p.expires, expires);
    p.query_time = from.query_time;
    p.query_id = from.query_id;
    p.query_name = from.query_name;
    p.response_time = from.response_time;
    p.server = from.server;
  };
  for (uint32_t id : ids) {
    Provenance& p = slots_[id].p;
    if (p.kind != EntryKind::learned || p.zone != zone) continue;
    if (p.ns != ns) {
      auto& old = by_ns_[p.ns];
      old.erase(std::remove(old.begin(), old.end(), a), old.end());
      if (old.empty()) by_ns_.erase(p.ns);
      auto& v = by_ns_[ns];
      if (std::find(v.begin(), v.end(), a) == v.end()) v.push_back(a);
    }
    fill(p);
    sync_table(a);
    return LearnEvent::refreshed;
  }
  if (new_budget == 0) {
    if (ids.empty()) by_address_.erase(a);
    return LearnEvent::per_response_cap;
  }
  if (zone_counts_[zone] >= settings_.per_zone_cap) {
    if (ids.empty()) by_address_.erase(a);
    return LearnEvent::per_zone_cap;
  }
  bool new_address = ids.empty();
  if (new_address &&
      (table_.size() >= std::min(settings_.capacity, table_.capacity()))) {
    by_address_.erase(a);
    return LearnEvent::table_full;
  }
  auto& ids2 = by_address_[a];
  // Zones per address: replace the learned zone that expires soonest.
  size_t learned_zones = 0;
  uint32_t soonest = UINT32_MAX;
  for (uint32_t id : ids2) {
    if (slots_[id].p.kind != EntryKind::learned) continue;
    ++learned_zones;
    if (soonest == UINT32_MAX || slots_[id].p.expires < slots_[soonest].p.expires) soonest = id;
  }
  if (learned_zones >= settings_.zones_per_address && soonest != UINT32_MAX) {
    ++counters_[static_cast<size_t>(LearnEvent::per_address_zone_cap)];
    ids2.erase(std::remove(ids2.begin(), ids2.end(), soonest), ids2.end());
    free_slot(soonest);
  }
  uint32_t id = alloc_slot();
  Provenance& p = slots_[id].p;
  p.address = a;
  p.kind = EntryKind::learned;
  p.zone = zone;
  p.expires = 0;
  fill(p);
  by_address_[a].push_back(id);
  ++zone_counts_[zone];
  auto& v = by_ns_[ns];
  if (std::find(v.begin(), v.end(), a) == v.end()) v.push_back(a);
  --new_budget;
  sync_table(a);
  if (!table_.lookup(a, 0)) {
    // The table refused the insert (full): undo so state stays consistent.
    drop_address(a);
    return LearnEvent::table_full;
  }
  return LearnEvent::added;
}

// Makes the table entry for `a` reflect its slots: anchors and statics win;
// otherwise the latest expiry of its learned zones.
void Learner::sync_table(const IpAddress& a) {
  auto it = by_address_.find(a);
  if (it == by_address_.end() || it->second.empty()) {
    table_.erase(a);
    return;
  }
  uint32_t pinned = UINT32_MAX, latest = UINT32_MAX;
  for (uint32_t id : it->second) {
    const Provenance& p = slots_[id].p;
    if (p.kind == EntryKind::anchor) {
      pinned = id;
      break;
    }
    if (p.kind == EntryKind::static_allow)
      pinned = id;
    else if (latest == UINT32_MAX || p.expires > slots_[latest].p.expires)
      latest = id;
  }
  if (pinned != UINT32_MAX)
    table_.upsert(a, TableValue{TableValue::kNever, pinned, slots_[pinned].p.kind});
  else
    table_.upsert(a, TableValue{table_seconds(slots_[latest].p.expires), latest, EntryKind::learned});
}

void Learner::drop_address(const IpAddress& a) {
  auto it = by_address_.find(a);
  if (it == by_address_.end()) return;
  std::vector<uint32_t> ids = it->second;
  for (uint32_t id : ids) free_slot(id);
  by_address_.erase(a);
  table_.erase(a);
}

void Learner::housekeeping(TimeNs now) {
  now_ = std::max(now_, now);
  TimeNs window = seconds_to_ns(settings_.query_match_window_s);
  if (now_ - last_query_sweep_ >= window / 2 || queries_.size() >= settings_.max_tracked_queries) {
    std::erase_if(queries_, [&](const auto& kv) { return now_ - kv.second > window; });
    last_query_sweep_ = now_;
  }
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto& v = it->second;
    size_t before = v.size();
    std::erase_if(v, [&](const PendingNs& p) {
      if (p.deadline >= now_) return false;
      if (!p.resolved) ++counters_[static_cast<size_t>(LearnEvent::pending_expired)];
      return true;
    });
    pending_count_ -= before - v.size();
    it = v.empty() ? pending_.erase(it) : std::next(it);
  }
  // Bounded table sweep: at most 4096 deletions per call.
  table_.sweep(now_seconds(now_), 4096, [&](const IpAddress& a, TableValue) {
    auto ai = by_address_.find(a);
    if (ai == by_address_.end()) return;
    std::vector<uint32_t> ids = ai->second;
    for (uint32_t id : ids) {
      ++counters_[static_cast<size_t>(LearnEvent::expired)];
      free_slot(id);
    }
    by_address_.erase(ai);
  });
}

AllowAnswer Learner::lookup(const IpAddress& a, TimeNs now) const {
  AllowAnswer ans;
  if (auto v = table_.lookup(a, now_seconds(now))) {
    ans.allowed = true;
    ans.kind = v->kind;
    if (v->provenance < slots_.size() && slots_[v->provenance].live)
      ans.provenance = &slots_[v->provenance].p;
    return ans;
  }
  for (const StaticAllow& s : statics_) {
    if (s.prefix.contains(a)) {
      ans.allowed = true;
      ans.kind = EntryKind::static_allow;
      ans.static_prefix = s.prefix.to_string();
      return ans;
    }
  }
  return ans;
}

void Learner::for_each_learned(const std::function<void(const Provenance&)>& fn) const {
  for (const Slot& s : slots_)
    if (s.live && s.p.kind == EntryKind::learned) fn(s.p);
}

size_t Learner::learned_addresses() const {
  size_t n = 0;
  for (const auto& [a, ids] : by_address_)
    if (std::any_of(ids.begin(), ids.end(),
                    [&](uint32_t id) { return slots_[id].p.kind == EntryKind::learned; }))
      ++n;
  return n;
}

bool Learner::restore(const Provenance& p) {
  if (p.kind != EntryKind::learned || p.expires <= now_) return false;
  ResponseInfo from{p.query_time, p.query_id, p.query_name, p.response_time, p.server};
  size_t budget = 1;
  // learn() derives the expiry from the TTLs; restore the recorded one instead.
  LearnEvent e = learn(p.address, p.zone, p.ns, p.ns_ttl, p.addr_ttl, from, budget);
  if (e != LearnEvent::added && e != LearnEvent::refreshed) return false;
  for (uint32_t id : by_address_[p.address]) {
    Provenance& q = slots_[id].p;
    if (q.kind == EntryKind::learned && q.zone == p.zone) q.expires = p.expires;
  }
  sync_table(p.address);
  return true;
}

}  // namespace nsgate
