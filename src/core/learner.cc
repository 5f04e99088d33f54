// SPDX-License-Identifier: BSD-3-Clause
#include "core/learner.hh"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "core/x_names.hh"

namespace nsgate {

NSGATE_DEFINE_NAMES(LearnEvent, NSGATE_LEARN_EVENTS)

namespace {

TimeNs seconds_to_ns(double s) { return static_cast<TimeNs>(std::llround(s * 1e9)); }


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

namespace {
uint64_t mix64(uint64_t x) {  // splitmix64 finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
}  // namespace

size_t Learner::QueryKeyHash::operator()(const QueryKey& k) const noexcept {
  uint64_t h = k.qname_hash;
  h = mix64(h ^ IpAddressHash{}(k.client));
  h = mix64(h ^ IpAddressHash{}(k.server));
  h = mix64(h ^ (uint64_t{k.client_port} << 48 | uint64_t{k.server_port} << 32 | uint64_t{k.id} << 16 | k.qtype));
  return static_cast<size_t>(h);
}

Learner::Learner(const LearningSettings& settings, AllowTable& table)
    : settings_(settings), table_(table), hash_key_(std::random_device{}() | uint64_t{std::random_device{}()} << 32) {}

uint64_t Learner::name_hash(const DnsName& n) const {
  uint64_t h = hash_key_ ^ n.wire_size();
  for (size_t at = 0; at < n.wire_size(); at += 8) {
    uint64_t chunk = 0;
    std::memcpy(&chunk, n.wire() + at, std::min<size_t>(8, n.wire_size() - at));
    h = mix64(h ^ chunk);
  }
  return h;
}

void Learner::count(LearnEvent e, Explanation* ex, ExplainItem* item) {
  ++counters_[static_cast<size_t>(e)];
  if (ex && item) {
    item->event = e;
    ex->items.push_back(*item);
  }
}

const std::string& Learner::index_key(const IpAddress& a, const uint8_t* wire, size_t len) {
  key_.assign(reinterpret_cast<const char*>(a.bytes().data()), 16);
  key_.append(reinterpret_cast<const char*>(wire), len);
  return key_;
}

// Stores a provenance record and links it into every index.
uint32_t Learner::add_slot(Provenance p, const DnsName& zone) {
  uint32_t id;
  if (!free_slots_.empty()) {
    id = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slots_.emplace_back();
    id = static_cast<uint32_t>(slots_.size() - 1);
  }
  Slot& s = slots_[id];
  s.p = std::move(p);
  s.zone_wire.assign(reinterpret_cast<const char*>(zone.wire()), zone.wire_size());
  s.live = true;
  by_address_[s.p.address].push_back(id);
  if (s.p.kind == EntryKind::static_allow && s.p.zone.empty()) return id;  // teaches nothing
  slot_index_[index_key(s.p.address, zone.wire(), zone.wire_size())] = id;
  if (s.p.kind != EntryKind::learned) return id;
  ++zone_counts_[s.p.zone];
  auto& known = by_ns_[s.p.ns];
  auto it = std::find_if(known.begin(), known.end(), [&](const NsAddress& n) { return n.address == s.p.address; });
  if (it == known.end()) it = known.insert(known.end(), NsAddress{s.p.address, 0, 0});
  ++it->refs;
  it->addr_ttl = s.p.addr_ttl;
  return id;
}

// Unlinks a record from every index and frees it. The caller syncs the table.
void Learner::remove_slot(uint32_t id) {
  Slot& s = slots_[id];
  const IpAddress a = s.p.address;
  if (auto it = by_address_.find(a); it != by_address_.end()) {
    auto& v = it->second;
    v.erase(std::remove(v.begin(), v.end(), id), v.end());
    if (v.empty()) by_address_.erase(it);
  }
  if (auto it = slot_index_.find(index_key(a, reinterpret_cast<const uint8_t*>(s.zone_wire.data()),
                                           s.zone_wire.size()));
      it != slot_index_.end() && it->second == id)
    slot_index_.erase(it);
  if (s.p.kind == EntryKind::learned) {
    if (auto zc = zone_counts_.find(s.p.zone); zc != zone_counts_.end() && --zc->second == 0)
      zone_counts_.erase(zc);
    if (auto ns = by_ns_.find(s.p.ns); ns != by_ns_.end()) {
      auto& known = ns->second;
      for (auto it = known.begin(); it != known.end(); ++it) {
        if (it->address == a && --it->refs == 0) {
          known.erase(it);
          break;
        }
      }
      if (known.empty()) by_ns_.erase(ns);
    }
  }
  s = Slot{};
  free_slots_.push_back(id);
}

void Learner::add_anchor(const IpAddress& a, const std::string& ns_name) {
  if (auto it = by_address_.find(a); it != by_address_.end())
    for (uint32_t id : it->second)
      if (slots_[id].p.kind == EntryKind::anchor) return;
  Provenance p;
  p.address = a;
  p.kind = EntryKind::anchor;
  p.zone = ".";
  p.ns = ns_name;
  p.expires = kNeverExpires;
  add_slot(std::move(p), DnsName{});
  ++anchors_;
  sync_table(a);
}

void Learner::add_static(const StaticAllow& s) {
  DnsName zone;
  bool teaches = !s.zone.empty() && DnsName::from_text(s.zone, zone);
  bool host = s.prefix.length == (s.prefix.address.is_v4() ? 32 : 128);
  if (!host) {
    statics_.push_back(s);
    static_zones_.push_back(zone);
    if (!teaches) statics_.back().zone.clear();
    return;
  }
  ++host_statics_;
  Provenance p;
  p.address = s.prefix.address;
  p.kind = EntryKind::static_allow;
  p.zone = teaches ? zone.to_string() : "";
  p.note = s.note;
  p.expires = kNeverExpires;
  add_slot(std::move(p), zone);
  sync_table(s.prefix.address);
}

void Learner::replace_statics(const std::vector<StaticAllow>& statics) {
  statics_.clear();
  static_zones_.clear();
  std::vector<uint32_t> doomed;
  for (uint32_t id = 0; id < slots_.size(); ++id)
    if (slots_[id].live && slots_[id].p.kind == EntryKind::static_allow) doomed.push_back(id);
  for (uint32_t id : doomed) {
    IpAddress a = slots_[id].p.address;
    remove_slot(id);
    sync_table(a);
  }
  host_statics_ = 0;
  for (const StaticAllow& s : statics) add_static(s);
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
  // Rule 5: the whole message must parse before any record counts. One
  // pass collects what learning needs while it checks the rest.
  ns_records_.clear();
  addr_records_.clear();
  dns::Question extra;
  while (f == dns::Fault::none && r.more_questions()) f = r.next(extra);
  dns::Record rr;
  while (f == dns::Fault::none && r.more_records()) {
    f = r.next(rr);
    if (f != dns::Fault::none) break;
    if (rr.rtype == dns::type::NS && rr.section != dns::Section::additional)
      ns_records_.push_back({rr.section, rr.owner, rr.target, rr.ttl});
    else if (rr.is_address())
      addr_records_.push_back({rr.section, rr.owner, rr.address, rr.rtype, rr.ttl});
  }
  if (f != dns::Fault::none) {
    if (ex) ex->refused = LearnEvent::malformed;
    count(LearnEvent::malformed);
    return f;
  }
  on_response(ctx, h, q, ex);
  return dns::Fault::none;
}

void Learner::on_query(const DnsContext& ctx, const dns::Header& h, const dns::Question& q) {
  on_query(QueryRecord{ctx.client, ctx.server, ctx.client_port, ctx.server_port, h.id, q.qtype, name_hash(q.name),
                       ctx.time});
}

void Learner::on_query(const QueryRecord& q) {
  ++queries_seen_;
  now_ = std::max(now_, q.time);
  if (queries_.size() >= settings_.max_tracked_queries) {
    // Full: sweep old queries at most every 100 ms (a sweep walks the whole
    // map; a flood of unanswered queries must not make every insert do it),
    // otherwise leave this one untracked.
    if (now_ - last_query_sweep_ >= kNsPerSec / 10) housekeeping(now_, 0);
    if (queries_.size() >= settings_.max_tracked_queries) {
      count(LearnEvent::query_untracked);
      return;
    }
  }
  queries_[QueryKey{q.client, q.server, q.client_port, q.server_port, q.id, q.qtype, q.qname_hash}] = q.time;
}

bool Learner::allowed(const IpAddress& server, TimeNs now) const {
  if (table_.lookup(server, now_seconds(now))) return true;
  return std::any_of(statics_.begin(), statics_.end(),
                     [&](const StaticAllow& s) { return s.prefix.contains(server); });
}

bool Learner::teaches(const IpAddress& server, TimeNs now) const {
  if (auto it = by_address_.find(server); it != by_address_.end())
    for (uint32_t id : it->second)
      if (!slots_[id].p.zone.empty() && slots_[id].p.expires > now) return true;
  return std::any_of(statics_.begin(), statics_.end(), [&](const StaticAllow& s) {
    return !s.zone.empty() && s.prefix.contains(server);
  });
}

bool Learner::serves(const IpAddress& server, const DnsName& owner, TimeNs now) {
  // The owner's ancestors, itself first, are the tails of its wire form.
  const uint8_t* w = owner.wire();
  size_t at = 0;
  for (;;) {
    auto it = slot_index_.find(index_key(server, w + at, owner.wire_size() - at));
    if (it != slot_index_.end() && slots_[it->second].p.expires > now) return true;
    if (w[at] == 0) break;
    at += 1 + w[at];
  }
  for (size_t i = 0; i < statics_.size(); ++i) {
    if (!statics_[i].zone.empty() && statics_[i].prefix.contains(server) &&
        rules::in_bailiwick(owner, std::span<const DnsName>(&static_zones_[i], 1)))
      return true;
  }
  return false;
}

void Learner::on_response(const DnsContext& ctx, const dns::Header& h, const dns::Question& q,
                          Explanation* ex) {
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
  // The provenance's query name, built only when something is learned.
  auto info = [&]() -> const ResponseInfo& {
    if (from.query_name.empty()) from.query_name = q.name.to_string();
    return from;
  };
  QueryKey key{ctx.client, ctx.server, ctx.client_port, ctx.server_port, h.id, q.qtype, name_hash(q.name)};
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
  if (!allowed(ctx.server, ctx.time)) return refuse(LearnEvent::source_not_allowed);
  if (!teaches(ctx.server, ctx.time)) return refuse(LearnEvent::source_teaches_nothing);

  std::vector<NsRecord>& ns_records = ns_records_;
  const std::vector<AddrRecord>& addr_records = addr_records_;

  // Explanations are built only for --explain; count() records them.
  ExplainItem item;
  auto describe_ns = [&](const NsRecord& n) {
    if (ex) item = ExplainItem{n.section, n.owner.to_string(), dns::type::NS, n.target.to_string(),
                               LearnEvent::added, {}};
  };
  // Rule 3 for NS records.
  for (NsRecord& n : ns_records) {
    if (serves(ctx.server, n.owner, ctx.time)) {
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
    if (ex) item = ExplainItem{a.section, a.owner.to_string(), a.rtype, address_data(a.address),
                               LearnEvent::added, {}};
    bool is_target = false;
    for (const NsRecord& n : ns_records)
      if (n.accepted && n.target == a.owner) is_target = true;
    auto pending = pending_.empty() ? pending_.end() : pending_.find(a.owner);
    bool in_zone = (is_target || pending != pending_.end()) && serves(ctx.server, a.owner, ctx.time);
    bool awaited = pending != pending_.end() && in_zone;

    if (!is_target && !awaited) {
      count(a.section == dns::Section::answer ? LearnEvent::answer_not_delegation
                                              : LearnEvent::glue_not_ns_target,
            ex, &item);
      continue;
    }
    if (!in_zone) {
      count(LearnEvent::glue_out_of_bailiwick, ex, &item);
      continue;
    }
    if (auto bad = rules::refuse_address(a.address, settings_.allow_private)) {
      count(*bad, ex, &item);
      continue;
    }
    const std::string owner = a.owner.to_string();
    // Glue: learn for every accepted delegation naming this target.
    for (size_t i = 0; i < ns_records.size(); ++i) {
      const NsRecord& n = ns_records[i];
      if (!n.accepted || !(n.target == a.owner)) continue;
      ns_has_address[i] = true;
      if (ex) item.zone = n.owner.to_string();
      LearnEvent e = learn(a.address, n.owner, owner, n.ttl, a.ttl, info(), budget);
      taught |= e == LearnEvent::added || e == LearnEvent::refreshed;
      count(e, ex, &item);
    }
    // An awaited out-of-bailiwick target: its address arrived in time.
    if (awaited) {
      for (PendingNs& p : pending->second) {
        if (p.deadline < ctx.time) continue;
        p.resolved = true;
        if (ex) item.zone = p.zone.to_string();
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
    std::string zone = ex ? n.owner.to_string() : std::string();
    if (auto known = by_ns_.find(target); known != by_ns_.end()) {
      std::vector<NsAddress> addrs = known->second;  // learn() may modify by_ns_
      for (const NsAddress& k : addrs) {
        if (ex) {
          item.data = target + " " + k.address.to_string();
          item.zone = zone;
        }
        LearnEvent e = learn(k.address, n.owner, target, n.ttl, k.addr_ttl, info(), budget);
        taught |= e == LearnEvent::added || e == LearnEvent::refreshed;
        count(e, ex, &item);
      }
      describe_ns(n);
    }
    if (pending_count_ >= settings_.max_pending_ns) {
      count(LearnEvent::pending_full, ex, &item);
      continue;
    }
    auto& waiting = pending_[n.target];
    bool dup = std::any_of(waiting.begin(), waiting.end(),
                           [&](const PendingNs& p) { return p.zone == n.owner; });
    if (dup) continue;
    waiting.push_back(PendingNs{n.owner, n.ttl, ctx.time + seconds_to_ns(settings_.ns_address_window_s),
                                false, info()});
    ++pending_count_;
    if (ex) item.zone = zone;
    count(LearnEvent::pending, ex, &item);
  }
  if (taught) ++responses_taught_;
}

LearnEvent Learner::learn(const IpAddress& a, const DnsName& zone, const std::string& ns,
                          uint32_t ns_ttl, uint32_t addr_ttl, const ResponseInfo& from,
                          size_t& new_budget) {
  TimeNs expires = from.response_time + TimeNs{rules::lifetime(ns_ttl, addr_ttl, settings_)} * kNsPerSec;
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
  if (auto it = slot_index_.find(index_key(a, zone.wire(), zone.wire_size())); it != slot_index_.end()) {
    Slot& s = slots_[it->second];
    if (s.p.kind == EntryKind::learned) {
      if (s.p.ns != ns) {
        // The zone now names this address under another NS name: relink.
        Provenance p = s.p;
        remove_slot(it->second);
        fill(p);
        add_slot(std::move(p), zone);
      } else {
        fill(s.p);
      }
      sync_table(a);
      expiry_.emplace(std::max(expires, TimeNs{0}), a);
      return LearnEvent::refreshed;
    }
  }
  if (new_budget == 0) return LearnEvent::per_response_cap;
  std::string zone_text = zone.to_string();
  if (auto zc = zone_counts_.find(zone_text); zc != zone_counts_.end() && zc->second >= settings_.per_zone_cap)
    return LearnEvent::per_zone_cap;
  auto known = by_address_.find(a);
  if (known == by_address_.end() && table_.size() >= std::min(settings_.capacity, table_.capacity()))
    return LearnEvent::table_full;
  if (known != by_address_.end()) {
    // Zones per address: replace the learned zone that expires soonest.
    size_t learned_zones = 0;
    uint32_t soonest = UINT32_MAX;
    for (uint32_t id : known->second) {
      if (slots_[id].p.kind != EntryKind::learned) continue;
      ++learned_zones;
      if (soonest == UINT32_MAX || slots_[id].p.expires < slots_[soonest].p.expires) soonest = id;
    }
    if (learned_zones >= settings_.zones_per_address && soonest != UINT32_MAX) {
      ++counters_[static_cast<size_t>(LearnEvent::per_address_zone_cap)];
      remove_slot(soonest);
    }
  }
  Provenance p;
  p.address = a;
  p.kind = EntryKind::learned;
  p.zone = std::move(zone_text);
  fill(p);
  uint32_t id = add_slot(std::move(p), zone);
  --new_budget;
  sync_table(a);
  if (!table_.lookup(a, 0)) {
    // The table refused the insert (full): undo so state stays consistent.
    remove_slot(id);
    sync_table(a);
    return LearnEvent::table_full;
  }
  expiry_.emplace(expires, a);
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

void Learner::housekeeping(TimeNs now, size_t expiry_budget) {
  now_ = std::max(now_, now);
  TimeNs window = seconds_to_ns(settings_.query_match_window_s);
  if (now_ - last_query_sweep_ >= window / 2 ||
      (queries_.size() >= settings_.max_tracked_queries && now_ - last_query_sweep_ >= kNsPerSec / 10)) {
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
  // The sweep: learned addresses whose time has come, a bounded number.
  for (size_t n = 0; n < expiry_budget && !expiry_.empty() && expiry_.top().first <= now_; ++n) {
    IpAddress a = expiry_.top().second;
    expiry_.pop();
    expire_address(a, now_);
  }
}

// Frees the learned zones of `a` that have expired; the table entry follows
// (deleted when nothing is left, kept for anchors and statics).
void Learner::expire_address(const IpAddress& a, TimeNs now) {
  auto it = by_address_.find(a);
  if (it == by_address_.end()) return;
  std::vector<uint32_t> ids = it->second;
  bool changed = false;
  for (uint32_t id : ids) {
    const Provenance& p = slots_[id].p;
    if (p.kind != EntryKind::learned || p.expires > now) continue;
    ++counters_[static_cast<size_t>(LearnEvent::expired)];
    remove_slot(id);
    changed = true;
  }
  if (changed) sync_table(a);
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
  DnsName zone;
  if (p.kind != EntryKind::learned || p.expires <= now_ || !DnsName::from_text(p.zone, zone)) return false;
  ResponseInfo from{p.query_time, p.query_id, p.query_name, p.response_time, p.server};
  size_t budget = 1;
  LearnEvent e = learn(p.address, zone, p.ns, p.ns_ttl, p.addr_ttl, from, budget);
  if (e != LearnEvent::added && e != LearnEvent::refreshed) return false;
  // learn() derives the expiry from the TTLs; keep the recorded one instead.
  if (auto it = slot_index_.find(index_key(p.address, zone.wire(), zone.wire_size())); it != slot_index_.end())
    slots_[it->second].p.expires = p.expires;
  sync_table(p.address);
  expiry_.emplace(p.expires, p.address);
  return true;
}

}  // namespace nsgate
