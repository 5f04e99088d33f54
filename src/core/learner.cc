// SPDX-License-Identifier: BSD-3-Clause
#include "core/learner.hh"

#include <algorithm>
#include <bit>
#include <cstring>
#include <random>
#include <system_error>
#include <thread>

#include "core/mix.hh"
#include "core/x_names.hh"

namespace nsgate {

NSGATE_DEFINE_NAMES(LearnEvent, NSGATE_LEARN_EVENTS)

namespace {

std::string address_data(const IpAddress& a) { return a.to_string(); }

}  // namespace

namespace rules {

bool in_bailiwick(const DnsName& owner, std::span<const DnsName> zones) {
  return std::any_of(zones.begin(), zones.end(),
                     [&](const DnsName& z) { return owner.is_at_or_below(z); });
}

std::optional<LearnEvent> refuse_address(const IpAddress& a, uint16_t rtype, bool allow_private) {
  // An AAAA of an IPv4-mapped address (::ffff:a.b.c.d) would allow that
  // IPv4 address, which no A record named (IpAddress holds IPv4 in that
  // form): not a usable IPv6 address.
  if (rtype == dns::type::AAAA && a.is_v4()) return LearnEvent::unusable_address;
  switch (classify(a)) {
    case AddressClass::usable: return std::nullopt;
    case AddressClass::private_use:
      if (allow_private) return std::nullopt;
      return LearnEvent::private_address;
    default: return LearnEvent::unusable_address;
  }
}

uint32_t lifetime(uint32_t ns_ttl, uint32_t addr_ttl, const LearningSettings& s) {
  uint32_t ttl = std::min(effective_ttl(ns_ttl), effective_ttl(addr_ttl));
  ttl = std::clamp(ttl, s.min_ttl_s, std::max(s.min_ttl_s, s.max_ttl_s));
  return ttl + s.grace_s;
}

}  // namespace rules


Learner::Learner(const LearningSettings& settings, AllowTable& table)
    : settings_(settings), table_(table), tracker_(settings), hash_key_(std::random_device{}() | uint64_t{std::random_device{}()} << 32) {}

uint64_t Learner::name_hash(const DnsName& n) const { return name_hash(n.wire(), n.wire_size()); }

uint64_t Learner::name_hash(const uint8_t* wire, size_t size) const {
  // Length octets are at most 63, below 'A', so lower-casing every octet
  // lower-cases exactly the label characters DnsName does. Eight octets at
  // a time (the tail zero-padded): the worker hashes every query it hands
  // over.
  uint64_t h = hash_key_ ^ size;
  size_t at = 0;
  for (; at + 8 <= size; at += 8) {
    uint64_t word;
    std::memcpy(&word, wire + at, 8);
    h = mix64(h ^ dns_lower8(word));
  }
  if (at < size) {
    // The last 1-7 octets, zero-padded, as a copy of them into a zeroed
    // word would give. A name of eight octets or more has them read by one
    // load that ends where the name ends, the octets hashed already shifted
    // out: that small copy stalled the load after it (store forwarding, a
    // third of this function in the worker; perf, tools/bench/forward).
    size_t tail = size - at;
    uint64_t word = 0;
    if (size >= 8) {
      std::memcpy(&word, wire + size - 8, 8);
      if constexpr (std::endian::native == std::endian::little)
        word >>= 8 * (8 - tail);
      else
        word <<= 8 * (8 - tail);
    } else {
      std::memcpy(&word, wire + at, tail);
    }
    h = mix64(h ^ dns_lower8(word));
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

size_t Learner::ZoneKeyHash::operator()(const ZoneKey& k) const noexcept {
  return IpAddressHash{}(k.address) ^ (uint64_t{k.zone} * 0x9e3779b97f4a7c15ull);
}

uint32_t& Learner::zone_count(NameId zone) {
  if (zone >= zone_counts_.size()) zone_counts_.resize(zone + 1, 0);
  return zone_counts_[zone];
}

void Learner::link_ns(const Slot& s) {
  auto& known = *by_ns_.try_emplace(s.ns).first;
  auto it = std::find_if(known.begin(), known.end(), [&](const NsAddress& n) { return n.address == s.address; });
  if (it == known.end()) {
    known.push_back(NsAddress{s.address, 0, 0});
    it = known.end() - 1;
  }
  ++it->refs;
  it->addr_until = std::max(it->addr_until, address_until(s));
}

void Learner::note_address_ttl(const Slot& s) {
  if (auto* known = by_ns_.find(s.ns))
    for (NsAddress& k : *known)
      if (k.address == s.address) k.addr_until = std::max(k.addr_until, address_until(s));
}

void Learner::unlink_ns(const Slot& s) {
  auto* known = by_ns_.find(s.ns);
  if (!known) return;
  for (auto it = known->begin(); it != known->end(); ++it) {
    if (it->address != s.address || --it->refs != 0) continue;
    // The last slot went (expired, evicted, relinked) before the address's
    // TTL ran out: the resolver may still hold the address, and its next
    // referral for the zone comes without glue. Bounded like a lifetime.
    TimeNs bound = now_ + (TimeNs{settings_.max_ttl_s} + settings_.grace_s) * kNsPerSec;
    TimeNs until = std::min(it->addr_until, bound);
    if (!it->remembered) {
      if (until <= now_ || remembered_count_ >= settings_.capacity) {
        known->erase(it);
        break;
      }
      names_.acquire(s.ns);
      it->remembered = true;
      ++remembered_count_;
    }
    it->addr_until = until;
    if (it->queued == 0) {
      it->queued = until;
      remembered_.push(RememberedNs{until, s.ns, s.address});
    }
    break;
  }
  if (known->empty()) by_ns_.erase(s.ns);
}

void Learner::forget_remembered(size_t budget) {
  for (size_t n = 0; n < budget && !remembered_.empty() && remembered_.top().until <= now_; ++n) {
    RememberedNs r = remembered_.top();
    remembered_.pop();
    auto* known = by_ns_.find(r.ns);
    if (!known) continue;
    auto it = std::find_if(known->begin(), known->end(), [&](const NsAddress& k) { return k.address == r.address; });
    if (it == known->end() || !it->remembered) continue;  // cannot be: a remembered pair keeps its item
    it->queued = 0;
    if (it->addr_until > now_) {  // a slot came and went since, with a later address TTL
      it->queued = it->addr_until;
      remembered_.push(RememberedNs{it->addr_until, r.ns, r.address});
      continue;
    }
    it->remembered = false;
    --remembered_count_;
    if (it->refs == 0) {
      known->erase(it);
      if (known->empty()) by_ns_.erase(r.ns);
    }
    names_.release(r.ns);  // after the erase: the name may be the map's key
  }
}

uint32_t Learner::add_slot(Slot slot) {
  uint32_t id;
  if (!free_slots_.empty()) {
    id = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slots_.emplace_back();
    id = static_cast<uint32_t>(slots_.size() - 1);
  }
  Slot& s = slots_[id];
  uint32_t generation = s.generation + 1;
  s = std::move(slot);
  s.live = true;
  s.generation = generation;
  AddressSlots& at = *by_address_.try_emplace(s.address).first;
  at.ids.push_back(id);
  if (s.kind == EntryKind::anchor) {
    at.pinned = id;
  } else if (s.kind == EntryKind::static_allow) {
    if (at.pinned == kNoSlot || slots_[at.pinned].kind != EntryKind::anchor) at.pinned = id;
  } else {
    ++at.learned;
    if (at.latest == kNoSlot || s.expires > slots_[at.latest].expires) at.latest = id;
  }
  if (s.zone == kNoName) return id;  // a static allow without a zone teaches nothing
  // One slot per (address, zone) is indexed, an anchor or static before a
  // learned one: it never expires, and a learned slot at a root hint's
  // address (every priming response makes one) must not take the hint's
  // place in serves() and, expiring, its authority with it.
  auto [indexed, fresh] = slot_index_.try_emplace(ZoneKey{s.address, s.zone});
  if (fresh || (s.kind != EntryKind::learned && slots_[*indexed].kind == EntryKind::learned)) *indexed = id;
  if (s.kind != EntryKind::learned) return id;
  ++zone_count(s.zone);
  link_ns(s);
  if (s.expires != kNeverExpires) {
    expiry_.push(ExpiryItem{s.expires, id, s.generation});
    s.queued = s.expires;
  }
  return id;
}

void Learner::find_latest(AddressSlots& at) const {
  at.latest = kNoSlot;
  for (uint32_t id : at.ids)
    if (slots_[id].kind == EntryKind::learned && (at.latest == kNoSlot || slots_[id].expires > slots_[at.latest].expires))
      at.latest = id;
}

void Learner::find_pinned(AddressSlots& at) const {
  at.pinned = kNoSlot;
  for (uint32_t id : at.ids)
    if (slots_[id].kind == EntryKind::anchor || (slots_[id].kind == EntryKind::static_allow && at.pinned == kNoSlot))
      at.pinned = id;
}

void Learner::set_expiry(uint32_t id, TimeNs expires) {
  Slot& s = slots_[id];
  TimeNs before = s.expires;
  s.expires = expires;
  // A later time is followed when the slot's item comes up (expire());
  // only an earlier one needs an item now. So refreshes, however many,
  // leave the queue at one item per slot.
  if (expires < s.queued) {
    expiry_.push(ExpiryItem{expires, id, s.generation});
    s.queued = expires;
  }
  AddressSlots* at = by_address_.find(s.address);  // a live slot's address is always indexed
  if (!at) return;
  if (at->latest == kNoSlot || expires > slots_[at->latest].expires)
    at->latest = id;
  else if (at->latest == id && expires < before)
    find_latest(*at);
}

void Learner::remove_slot(uint32_t id) {
  ++slots_removed_;
  Slot& s = slots_[id];
  AddressSlots* at = by_address_.find(s.address);
  if (s.zone != kNoName) {
    ZoneKey key{s.address, s.zone};
    if (uint32_t* indexed = slot_index_.find(key); indexed && *indexed == id) {
      // An anchor or static is indexed before a learned slot of its address
      // and zone (add_slot), which then takes its place; a learned slot
      // indexed is the only one of its address and zone.
      uint32_t successor = kNoSlot;
      if (s.kind != EntryKind::learned && at)
        for (uint32_t other : at->ids)
          if (other != id && slots_[other].zone == s.zone &&
              (successor == kNoSlot || slots_[successor].kind == EntryKind::learned))
            successor = other;
      if (successor != kNoSlot)
        *indexed = successor;
      else
        slot_index_.erase(key);
    }
    if (s.kind == EntryKind::learned) {
      --zone_count(s.zone);
      unlink_ns(s);
    }
  }
  if (at) {
    at->ids.remove(id);
    if (at->ids.empty()) {
      if (at->synced != 0) --table_entries_;  // sync_table erases it next
      by_address_.erase(s.address);
    } else {
      if (s.kind == EntryKind::learned) --at->learned;
      if (at->latest == id) find_latest(*at);
      if (at->pinned == id) find_pinned(*at);
    }
  }
  names_.release(s.zone);
  names_.release(s.ns);
  query_names_.release(s.query_name);
  uint32_t generation = s.generation;
  s = Slot{};
  s.generation = generation;
  free_slots_.push_back(id);
}

template <class NameWire, class QueryNameWire>
Learner::RecordView Learner::view(const Slot& s, NameWire name, QueryNameWire query_name) {
  RecordView v;
  v.address = s.address;
  v.server = s.server;
  v.expires = s.expires;
  v.query_time = s.query_time;
  v.response_time = s.response_time;
  v.ns_ttl = s.ns_ttl;
  v.addr_ttl = s.addr_ttl;
  v.query_id = s.query_id;
  v.kind = s.kind;
  v.zone = name(s.zone);
  v.ns = name(s.ns);
  v.query_name = query_name(s.query_name);
  return v;
}

Learner::RecordView Learner::view(const Slot& s) const {
  RecordView v = view(s, [this](NameId id) { return names_.wire(id); },
                      [this](NameId id) { return query_names_.wire(id); });
  if (s.note != kNoNote) v.note = notes_[s.note];
  return v;
}

Provenance Learner::provenance(const Slot& s) const { return view(s).provenance(); }

void Learner::freeze_begin(Frozen& f) const {
  f.slots_.clear();
  f.names_.clear();
  f.query_names_.clear();
  f.cursor_ = 0;
}

bool Learner::freeze_some(Frozen& f, size_t budget) const {
  f.names_.forget_recent();
  f.query_names_.forget_recent();
  for (; budget > 0 && f.cursor_ < slots_.size(); --budget) {
    const Slot& s = slots_[f.cursor_++];
    if (!s.learned()) continue;
    Slot& c = f.slots_.emplace_back(s);
    c.zone = f.names_.add(s.zone, names_.wire(s.zone));
    c.ns = f.names_.add(s.ns, names_.wire(s.ns));
    c.query_name = f.query_names_.add(s.query_name, query_names_.wire(s.query_name));
  }
  return f.cursor_ >= slots_.size();
}

void Learner::Frozen::Names::clear() {
  for (std::string& b : blocks) b.clear();  // capacity kept
  current = 0;
  refs.clear();
  forget_recent();
}

Learner::NameId Learner::Frozen::Names::add(NameId id, std::string_view w) {
  if (id == kNoName || w.empty()) return kNoName;
  auto& seen = recent[id & (recent.size() - 1)];
  if (seen.first == id) return seen.second;
  if (blocks.empty() || blocks[current].size() + w.size() > kBlock) {
    if (!blocks.empty()) ++current;
    if (current == blocks.size()) blocks.emplace_back().reserve(kBlock);
  }
  std::string& b = blocks[current];
  refs.emplace_back(Ref{static_cast<uint32_t>(current), static_cast<uint32_t>(b.size()), static_cast<uint16_t>(w.size())});
  b += w;
  auto copy_id = static_cast<NameId>(refs.size() - 1);
  seen = {id, copy_id};
  return copy_id;
}

std::string_view Learner::Frozen::Names::wire(NameId id) const {
  if (id == kNoName || id >= refs.size()) return "";
  const Ref& r = refs[id];
  return std::string_view(blocks[r.block]).substr(r.offset, r.size);
}

void Learner::Frozen::for_each(const std::function<void(Provenance&&)>& fn) const {
  for (const Slot& s : slots_)
    fn(Learner::view(s, [this](NameId id) { return names_.wire(id); },
                     [this](NameId id) { return query_names_.wire(id); })
           .provenance());
}

void Learner::add_anchor(const IpAddress& a, const std::string& ns_name) {
  if (const AddressSlots* at = by_address_.find(a); at && at->pinned != kNoSlot &&
                                                    slots_[at->pinned].kind == EntryKind::anchor)
    return;
  Slot s;
  s.address = a;
  s.kind = EntryKind::anchor;
  s.zone = names_.acquire(DnsName{});
  if (DnsName ns; DnsName::from_text(ns_name, ns)) s.ns = names_.acquire(ns);
  s.expires = kNeverExpires;
  add_slot(std::move(s));
  ++anchors_;
  sync_table(a);
}

void Learner::add_static(const StaticAllow& st) {
  DnsName zone;
  bool teaches = !st.zone.empty() && DnsName::from_text(st.zone, zone);
  bool host = st.prefix.length == (st.prefix.address.is_v4() ? 32 : 128);
  if (!host) {
    statics_.push_back(st);
    static_zones_.push_back(zone);
    if (!teaches) statics_.back().zone.clear();
    return;
  }
  ++host_statics_;
  Slot s;
  s.address = st.prefix.address;
  s.kind = EntryKind::static_allow;
  if (teaches) s.zone = names_.acquire(zone);
  if (!st.note.empty()) {
    s.note = static_cast<uint32_t>(notes_.size());
    notes_.push_back(st.note);
  }
  s.expires = kNeverExpires;
  add_slot(std::move(s));
  if (!sync_table(st.prefix.address)) {
    count(LearnEvent::table_full);
    unsynced_statics_.push_back(st.prefix.address);
  }
}

void Learner::replace_statics(const std::vector<StaticAllow>& statics) {
  statics_.clear();
  static_zones_.clear();
  // The old host statics' slots all go. In the table, an address no new
  // static names is erased before the new statics come (a full table then
  // has its room); one that stays keeps its entry throughout (erased and
  // added again, queries to it were dropped in between, on every reload).
  std::vector<IpAddress> removed;
  for (uint32_t id = 0; id < slots_.size(); ++id) {
    if (slots_[id].live && slots_[id].kind == EntryKind::static_allow) {
      removed.push_back(slots_[id].address);
      remove_slot(id);
    }
  }
  std::vector<IpAddress> wanted;
  for (const StaticAllow& s : statics) wanted.push_back(s.prefix.address);
  std::sort(wanted.begin(), wanted.end());
  auto gone = std::stable_partition(removed.begin(), removed.end(), [&](const IpAddress& a) {
    return std::binary_search(wanted.begin(), wanted.end(), a);
  });
  for (auto a = gone; a != removed.end(); ++a) sync_table(*a);
  host_statics_ = 0;
  notes_.clear();
  unsynced_statics_.clear();  // those still wanted are tried again below
  for (const StaticAllow& s : statics) add_static(s);
  for (auto a = removed.begin(); a != gone; ++a) sync_table(*a);  // in sync already, unless refused
}

dns::Fault Learner::on_message(const DnsContext& ctx, std::span<const std::byte> msg,
                               Explanation* ex) {
  parse(ctx, msg, scratch_);
  track(ctx, scratch_);
  apply(ctx, scratch_, ex);
  return scratch_.fault;
}

namespace {
// What on_response refuses before rule 1, so that such a response does not
// use up its query.
// Class IN only: the delegations a resolver follows (and the tracker's key
// has no class).
bool standard_question(const dns::Header& h, const dns::Question& q) {
  return h.opcode() == 0 && h.qdcount == 1 && q.qclass == dns::kClassIn;
}
bool standard_answer(const dns::Header& h, const dns::Question& q) {
  return standard_question(h, q) && !h.tc() && h.rcode() == 0;
}
}  // namespace

void Learner::track(const DnsContext& ctx, ParsedMessage& m) {
  tracker_.advance(ctx.time);
  m.asked.reset();
  m.tracker_swept = false;
  if (m.kind == ParsedMessage::Kind::query) {
    if (m.standard_query)
      m.tracker_swept = tracker_.add(QueryRecord{ctx.client, ctx.server, ctx.client_port, ctx.server_port,
                                                 m.header.id, m.question.qtype, m.qname_hash, ctx.time});
    return;
  }
  if (m.kind == ParsedMessage::Kind::response && standard_answer(m.header, m.question))
    m.asked = tracker_.take(QueryRecord{ctx.client, ctx.server, ctx.client_port, ctx.server_port, m.header.id,
                                        m.question.qtype, m.qname_hash, ctx.time});
}

bool Learner::reaches_indexes(const ParsedMessage& m) const {
  return m.kind == ParsedMessage::Kind::response && (m.asked || !settings_.require_query_match);
}

void Learner::prefetch(const DnsContext& ctx, const ParsedMessage& m) const {
  if (!reaches_indexes(m)) return;
  by_address_.prefetch(ctx.server);  // rule 2
  uint64_t last_owner = 0;
  for (const NsRecord& n : m.ns) {
    // Rule 3 looks up the owner's ancestors (the root's bucket stays cached).
    if (n.owner_hash != last_owner) {
      names_.prefetch(n.owner_hash);
      const DnsName& owner = m.names[n.owner];
      const uint8_t* w = owner.wire();
      if (w[0] != 0)
        for (size_t at = 1 + w[0]; w[at] != 0; at += 1 + w[at])
          names_.prefetch(std::string_view{reinterpret_cast<const char*>(w + at), owner.wire_size() - at});
      last_owner = n.owner_hash;
    }
    names_.prefetch(n.target_hash);
  }
  for (const AddrRecord& a : m.addresses) {
    if (!pending_.empty()) names_.prefetch(a.owner_hash);
    if (a.section == dns::Section::answer) continue;  // glue is what gets learned
    by_address_.prefetch(a.address);
    table_.prefetch(a.address);
  }
}

void Learner::prefetch_entries(const ParsedMessage& m) const {
  if (!reaches_indexes(m)) return;
  // learn() finds each delegation's zone and NS name; the zone is usually
  // one name for all of them.
  uint64_t last_owner = 0;
  for (const NsRecord& n : m.ns) {
    if (n.owner_hash != last_owner) names_.prefetch_entry(n.owner_hash);
    last_owner = n.owner_hash;
    names_.prefetch_entry(n.target_hash);
  }
  if (!pending_.empty())
    for (const AddrRecord& a : m.addresses) names_.prefetch_entry(a.owner_hash);
}

void Learner::on_query(const QueryRecord& q) {
  now_ = std::max(now_, q.time);
  // The tracker was full and swept: ended NS waits go too (what is left of
  // housekeeping without table expiries).
  if (tracker_.add(q)) expire(now_, 0);
}

LearnCounters Learner::counters() const {
  LearnCounters c = counters_;
  c[static_cast<size_t>(LearnEvent::query_evicted)] += tracker_.evicted();
  c[static_cast<size_t>(LearnEvent::query_not_from_client)] += tracker_.not_client();
  return c;
}

dns::Fault Learner::parse(const DnsContext& ctx, std::span<const std::byte> msg, ParsedMessage& out) const {
  out.ns.clear();
  out.addresses.clear();
  out.names.clear();
  out.name_hashes.clear();
  out.standard_query = false;
  dns::Reader r(msg);
  dns::Header& h = out.header;
  h = dns::Header{};
  dns::Fault f = r.open(h);
  if (f == dns::Fault::none && h.qdcount >= 1) f = r.next(out.question);
  if (!h.qr()) {
    out.kind = ParsedMessage::Kind::query;
    out.standard_query =
        f == dns::Fault::none && h.opcode() == 0 && h.qdcount == 1 && out.question.qclass == dns::kClassIn;
    if (out.standard_query) out.qname_hash = name_hash(out.question.name);
    return out.fault = r.check_rest();  // for the parse-error counts
  }
  if (ctx.origin == Origin::inside) {
    out.kind = ParsedMessage::Kind::inside;
    return out.fault = dns::Fault::none;
  }
  // Rule 5: a fragment is never parsed (its tail is elsewhere, and
  // fragments are how off-path attackers inject records).
  if (ctx.fragment) {
    out.kind = ParsedMessage::Kind::fragment;
    return out.fault = dns::Fault::none;
  }
  // Rule 5: the whole message must parse before any record counts. One
  // pass collects what learning needs while it checks the rest.
  dns::Question extra;
  while (f == dns::Fault::none && r.more_questions()) f = r.next(extra);
  // A name's index in out.names, added unless one of the latest distinct
  // names is the same.
  auto name_index = [&out](const DnsName& n, uint64_t hash) -> uint32_t {
    size_t size = out.names.size();
    for (size_t k = size; k > size - std::min(size, ParsedMessage::kNameReuse); --k)
      if (out.name_hashes[k - 1] == hash && out.names[k - 1] == n) return static_cast<uint32_t>(k - 1);
    out.names.push_back(n);
    out.name_hashes.push_back(hash);
    return static_cast<uint32_t>(size);
  };
  dns::Record rr;
  while (f == dns::Fault::none && r.more_records()) {
    f = r.next(rr);
    if (f != dns::Fault::none) break;
    if (rr.rtype == dns::type::NS && rr.rclass == dns::kClassIn && rr.section != dns::Section::additional) {
      uint64_t owner_hash = names_.hash(rr.owner), target_hash = names_.hash(rr.target);
      out.ns.push_back({rr.section, false, false, rr.ttl, owner_hash, target_hash, name_index(rr.owner, owner_hash),
                        name_index(rr.target, target_hash)});
    } else if (rr.is_address()) {
      uint64_t owner_hash = names_.hash(rr.owner);
      out.addresses.push_back({rr.section, rr.rtype, rr.ttl, owner_hash, rr.address, name_index(rr.owner, owner_hash)});
    }
  }
  if (f != dns::Fault::none) {
    out.kind = ParsedMessage::Kind::malformed;
    return out.fault = f;
  }
  out.kind = ParsedMessage::Kind::response;
  out.qname_hash = name_hash(out.question.name);
  return out.fault = dns::Fault::none;
}

void Learner::apply(const DnsContext& ctx, ParsedMessage& m, Explanation* ex) {
  now_ = std::max(now_, ctx.time);
  switch (m.kind) {
    case ParsedMessage::Kind::query:
      if (m.tracker_swept) expire(now_, 0);  // as on_query
      return;
    case ParsedMessage::Kind::fragment:
      ++responses_seen_;
      if (ex) ex->refused = LearnEvent::fragment;
      count(LearnEvent::fragment);
      return;
    case ParsedMessage::Kind::malformed:
      ++responses_seen_;
      if (ex) ex->refused = LearnEvent::malformed;
      count(LearnEvent::malformed);
      return;
    case ParsedMessage::Kind::inside:
      ++responses_seen_;
      if (ex) ex->refused = LearnEvent::response_from_inside;
      count(LearnEvent::response_from_inside);
      return;
    case ParsedMessage::Kind::response:
      ++responses_seen_;
      on_response(ctx, m, ex);
      return;
  }
}

std::optional<TableValue> Learner::table_value(const AddressSlots* at, TimeNs now) {
  // What the table holds for an address is what sync_table last wrote
  // there: read from the map the rules read anyway, instead of a second
  // lookup (an rte_hash lookup, live) for the same answer.
  if (!at || at->synced == 0) return std::nullopt;
  TableValue v = TableValue::unpack(at->synced);
  if (v.expired_at(now_seconds(now))) return std::nullopt;
  return v;
}

bool Learner::allowed(const IpAddress& server, TimeNs now) const {
  if (table_value(by_address_.find(server), now)) return true;
  return std::any_of(statics_.begin(), statics_.end(),
                     [&](const StaticAllow& s) { return s.prefix.contains(server); });
}

bool Learner::teaches(const IpAddress& server, TimeNs now) const {
  if (const AddressSlots* at = by_address_.find(server)) {
    // Every learned slot has a zone: the one that expires last tells.
    if (at->latest != kNoSlot && slots_[at->latest].expires > now) return true;
    if (at->pinned != kNoSlot)
      for (uint32_t id : at->ids)
        if (slots_[id].kind != EntryKind::learned && slots_[id].zone != kNoName) return true;
  }
  return std::any_of(statics_.begin(), statics_.end(), [&](const StaticAllow& s) {
    return !s.zone.empty() && s.prefix.contains(server);
  });
}

bool Learner::serves(const IpAddress& server, PoolName pool_owner, TimeNs now, bool above_only) const {
  // The owner's ancestors, itself first, are the tails of its wire form; a
  // tail that was never interned is no zone of anything.
  const DnsName& owner = pool_owner.name;
  const uint8_t* w = owner.wire();
  if (above_only && w[0] == 0) return false;  // nothing is above the root
  for (size_t at = above_only ? 1 + w[0] : 0;; at += 1 + w[at]) {
    std::string_view tail{reinterpret_cast<const char*>(w + at), owner.wire_size() - at};
    NameId zone = at == 0 ? names_.find(tail, pool_owner.hash) : names_.find(tail);
    if (zone != kNoName) {
      const uint32_t* id = slot_index_.find(ZoneKey{server, zone});
      if (id && slots_[*id].expires > now) return true;
    }
    if (w[at] == 0) break;
  }
  for (size_t i = 0; i < statics_.size(); ++i) {
    if (!statics_[i].zone.empty() && statics_[i].prefix.contains(server) &&
        rules::in_bailiwick(owner, std::span<const DnsName>(&static_zones_[i], 1)) &&
        !(above_only && owner == static_zones_[i]))
      return true;
  }
  return false;
}

void Learner::live_delegations(NameId ns, TimeNs now, size_t most, std::vector<LiveDelegation>& out) const {
  // The learned slots naming `ns` are among those of its known addresses.
  const auto* known = by_ns_.find(ns);
  if (!known) return;
  for (const NsAddress& k : *known) {
    if (k.refs == 0) continue;
    const AddressSlots* at = by_address_.find(k.address);
    if (!at) continue;
    for (uint32_t id : at->ids) {
      const Slot& s = slots_[id];
      if (!s.learned() || s.ns != ns || s.expires <= now) continue;
      auto same = std::find_if(out.begin(), out.end(), [&](const LiveDelegation& d) { return d.id == s.zone; });
      if (same != out.end()) {
        same->expires = std::max(same->expires, s.expires);
      } else if (out.size() < most) {
        // The name is copied: learning for one zone may free another's id.
        out.push_back({s.zone, names_.name(s.zone), s.ns_ttl, s.expires});
      }
    }
  }
}

TimeNs Learner::own_zone_limit(const IpAddress& server, PoolName zone, TimeNs now) const {
  // A static allow that teaches for the zone or above is the operator's
  // word: never limited.
  for (size_t i = 0; i < statics_.size(); ++i)
    if (!statics_[i].zone.empty() && statics_[i].prefix.contains(server) && zone.name.is_at_or_below(static_zones_[i]))
      return kNeverExpires;
  NameId z = names_.find(zone.name, zone.hash);
  const uint32_t* id = z == kNoName ? nullptr : slot_index_.find(ZoneKey{server, z});
  if (!id || slots_[*id].kind != EntryKind::learned || serves(server, zone, now, true)) return kNeverExpires;
  return slots_[*id].expires;
}

void Learner::on_response(const DnsContext& ctx, ParsedMessage& m, Explanation* ex) {
  const dns::Header& h = m.header;
  const dns::Question& q = m.question;
  auto refuse = [&](LearnEvent e) {
    if (ex) ex->refused = e;
    count(e);
  };
  if (!standard_question(h, q)) return refuse(LearnEvent::not_standard_response);
  if (h.tc()) return refuse(LearnEvent::truncated_tc);
  if (h.rcode() != 0) return refuse(LearnEvent::error_rcode);

  // Rule 1: the response must answer a query seen on the same path.
  ResponseInfo from;
  from.response_time = ctx.time;
  from.server = ctx.server;
  from.query_id = h.id;
  // The provenance's query name, interned only when something is learned;
  // this function's reference is dropped on the way out.
  struct Drop {
    NamePool& pool;
    NameId& id;
    ~Drop() { pool.release(id); }
  } drop_query_name{query_names_, from.query_name};
  auto info = [&]() -> const ResponseInfo& {
    if (from.query_name == kNoName) from.query_name = query_names_.acquire(q.name);
    return from;
  };
  if (m.asked) {
    from.query_time = *m.asked;
  } else if (settings_.require_query_match) {
    return refuse(LearnEvent::unmatched_response);
  }

  // Rule 2: only a server someone vouched for may vouch for others.
  if (!allowed(ctx.server, ctx.time)) return refuse(LearnEvent::source_not_allowed);
  if (!teaches(ctx.server, ctx.time)) return refuse(LearnEvent::source_teaches_nothing);

  std::vector<NsRecord>& ns_records = m.ns;
  const std::vector<AddrRecord>& addr_records = m.addresses;

  // Explanations are built only for --explain; count() records them.
  ExplainItem item;
  auto name = [&m](uint32_t i) -> const DnsName& { return m.names[i]; };
  auto describe_ns = [&](const NsRecord& n) {
    if (ex) item = ExplainItem{n.section, name(n.owner).to_string(), dns::type::NS, name(n.target).to_string(),
                               LearnEvent::added, {}};
  };
  // serves() answers for one server and time. Once true for an owner it is
  // true for every name at or below it (that owner's zone is among their
  // ancestors), and it stays true while no slot is removed: learning only
  // adds slots and extends expiries. A referral's repeated owner and the
  // glue below it are answered from that, without the name lookups
  // (a sixth of learning, tools/bench/learn).
  const DnsName* served = nullptr;
  uint64_t served_at = 0;  // slots_removed_ when `served` was answered
  auto serves_here = [&](const DnsName& owner, uint64_t owner_hash) {
    if (served && served_at == slots_removed_ && owner.is_at_or_below(*served)) return true;
    if (!serves(ctx.server, {owner, owner_hash}, ctx.time)) return false;
    served = &owner;
    served_at = slots_removed_;
    return true;
  };
  // Rule 3 for NS records.
  for (NsRecord& n : ns_records) {
    if (serves_here(name(n.owner), n.owner_hash)) {
      n.accepted = true;
      continue;
    }
    describe_ns(n);
    count(LearnEvent::ns_out_of_bailiwick, ex, &item);
  }

  // own_zone_limit for an accepted NS record's owner (a referral repeats
  // its owner: looked up once).
  uint32_t limit_owner = UINT32_MAX;
  TimeNs owner_limit = kNeverExpires;
  auto limit_for = [&](const NsRecord& n) {
    if (n.owner != limit_owner) {
      limit_owner = n.owner;
      owner_limit = own_zone_limit(ctx.server, {name(n.owner), n.owner_hash}, ctx.time);
    }
    return owner_limit;
  };
  size_t budget = settings_.per_response_cap;
  size_t new_waits = 0;  // NS targets this response leaves waiting: per_response_cap too
  bool taught = false;
  for (const AddrRecord& a : addr_records) {
    const DnsName& owner = name(a.owner);
    if (ex) item = ExplainItem{a.section, owner.to_string(), a.rtype, address_data(a.address),
                               LearnEvent::added, {}};
    bool is_target = false;
    for (const NsRecord& n : ns_records)
      if (n.accepted && m.same_name(n.target, n.target_hash, a.owner, a.owner_hash)) is_target = true;
    std::vector<PendingNs>* pending = nullptr;
    if (!pending_.empty())
      if (NameId target = names_.find(owner, a.owner_hash); target != kNoName) pending = pending_.find(target);
    // Waits that ended but are not swept yet wait no more: counted as if gone.
    if (pending && std::none_of(pending->begin(), pending->end(),
                                [&](const PendingNs& p) { return p.deadline >= ctx.time; }))
      pending = nullptr;
    bool in_zone = (is_target || pending) && serves_here(owner, a.owner_hash);
    bool awaited = pending && in_zone;

    // The address the resolver asked for of a name that delegations still
    // live name as their server (the other family than their glue, or the
    // address asked again), answered by a server for that name: it serves
    // those zones too, for no longer than each delegation lasts. Without
    // it an IPv6 resolver's queries to the AAAA it fetched after A-only
    // glue were dropped (no wait began: the glue gave an address).
    if (!is_target && !pending && a.section == dns::Section::answer && a.rtype == q.qtype && owner == q.name) {
      NameId target = names_.find(owner, a.owner_hash);
      std::vector<LiveDelegation> live;
      if (target != kNoName) live_delegations(target, ctx.time, settings_.per_response_cap, live);
      if (!live.empty() && serves_here(owner, a.owner_hash)) {
        if (auto bad = rules::refuse_address(a.address, a.rtype, settings_.allow_private)) {
          count(*bad, ex, &item);
          continue;
        }
        for (const LiveDelegation& d : live) {
          if (ex) item.zone = d.zone.to_string();
          LearnEvent e = learn(a.address, pool_name(d.zone), {owner, a.owner_hash}, d.ns_ttl, a.ttl, info(), budget,
                               std::nullopt, d.expires);
          taught |= e == LearnEvent::added || e == LearnEvent::refreshed;
          count(e, ex, &item);
        }
        continue;
      }
    }
    if (!is_target && !pending) {
      count(a.section == dns::Section::answer ? LearnEvent::answer_not_delegation
                                              : LearnEvent::glue_not_ns_target,
            ex, &item);
      continue;
    }
    if (!in_zone) {
      count(LearnEvent::glue_out_of_bailiwick, ex, &item);
      continue;
    }
    if (auto bad = rules::refuse_address(a.address, a.rtype, settings_.allow_private)) {
      count(*bad, ex, &item);
      continue;
    }
    // Glue: learn for every accepted delegation naming this target.
    for (NsRecord& n : ns_records) {
      if (!n.accepted || !m.same_name(n.target, n.target_hash, a.owner, a.owner_hash)) continue;
      n.has_address = true;
      if (ex) item.zone = name(n.owner).to_string();
      LearnEvent e = learn(a.address, {name(n.owner), n.owner_hash}, {owner, a.owner_hash}, n.ttl, a.ttl, info(),
                           budget, std::nullopt, limit_for(n));
      taught |= e == LearnEvent::added || e == LearnEvent::refreshed;
      count(e, ex, &item);
    }
    // An awaited out-of-bailiwick target: its address arrived in time.
    if (awaited) {
      for (PendingNs& p : *pending) {  // learn() never inserts into or erases from pending_
        if (p.deadline < ctx.time) continue;
        p.resolved = true;
        DnsName zone = names_.name(p.zone);
        if (ex) item.zone = zone.to_string();
        LearnEvent e =
            learn(a.address, pool_name(zone), {owner, a.owner_hash}, p.ns_ttl, a.ttl, p.from, budget, std::nullopt, p.latest);
        taught |= e == LearnEvent::added || e == LearnEvent::refreshed;
        count(e, ex, &item);
      }
    }
  }
  // Accepted NS without an address in this response: use what is known for
  // that name, and wait ns_address_window for more.
  for (const NsRecord& n : ns_records) {
    if (!n.accepted || n.has_address) continue;
    describe_ns(n);
    const DnsName& owner = name(n.owner);
    const DnsName& target_name = name(n.target);
    std::string zone = ex ? owner.to_string() : std::string();
    NameId target = names_.find(target_name, n.target_hash);
    if (const auto* known = target == kNoName ? nullptr : by_ns_.find(target)) {
      SmallVec<NsAddress, 1> addrs = *known;  // learn() may modify by_ns_
      for (const NsAddress& k : addrs) {
        // The resolver holds the address for what is left of its TTL, not
        // the whole TTL again; once that has run out it asks anew, and that
        // answer teaches (the wait below).
        // Whole seconds, rounded down: this slot's own response time plus
        // them must not reach past addr_until, or referrals repeated within
        // a second would keep pushing it later.
        TimeNs left_s = k.addr_until > ctx.time ? (k.addr_until - ctx.time) / kNsPerSec : 0;
        if (left_s == 0) continue;
        uint32_t left = static_cast<uint32_t>(std::min<TimeNs>(left_s, UINT32_MAX));
        if (ex) {
          item.data = target_name.to_string() + " " + k.address.to_string();
          item.zone = zone;
        }
        LearnEvent e = learn(k.address, {owner, n.owner_hash}, {target_name, n.target_hash}, n.ttl, left, info(),
                             budget, std::nullopt, limit_for(n));
        taught |= e == LearnEvent::added || e == LearnEvent::refreshed;
        count(e, ex, &item);
      }
      describe_ns(n);
    }
    if (ex) item.zone = zone;
    NameId zone_id = names_.find(owner, n.owner_hash);
    if (target != kNoName && zone_id != kNoName) {
      if (auto* waiting = pending_.find(target)) {
        // A wait that has ended (still held until housekeeping) no longer
        // waits: the repeated referral starts a new one. One still on
        // serves the repeat too (no new place taken, even when all are).
        auto dup = std::find_if(waiting->begin(), waiting->end(),
                                [&](const PendingNs& p) { return p.zone == zone_id && p.deadline >= ctx.time; });
        if (dup != waiting->end()) {
          // The parent's referral may come while the zone's own servers'
          // wait is on: its address then learns without their limit.
          dup->latest = std::max(dup->latest, limit_for(n));
          count(LearnEvent::pending, ex, &item);
          continue;
        }
      }
    }
    // Bounded per response, and once half the places are taken, per
    // answering server (a sixteenth of max_pending_ns each): a server that
    // floods referrals without glue must not take every place, or other
    // zones' real waits are refused. (Below half, the busy TLD servers
    // that begin most waits are not held back.)
    if (new_waits == settings_.per_response_cap) {
      count(LearnEvent::per_response_cap, ex, &item);
      continue;
    }
    const uint32_t* from_server = pending_by_server_.find(ctx.server);
    bool crowded = pending_count_ >= settings_.max_pending_ns / 2;
    if (pending_count_ >= settings_.max_pending_ns ||
        (crowded && from_server && *from_server >= pending_per_server())) {
      count(LearnEvent::pending_full, ex, &item);
      continue;
    }
    ++*pending_by_server_.try_emplace(ctx.server).first;
    ++new_waits;
    target = names_.acquire(target_name, n.target_hash);
    auto [waiting, fresh] = pending_.try_emplace(target);
    if (!fresh) names_.release(target);  // the table's key already holds one
    PendingNs p{names_.acquire(owner, n.owner_hash), n.ttl, ctx.time + seconds_to_ns(settings_.ns_address_window_s), false,
                info(), limit_for(n)};
    query_names_.acquire(p.from.query_name);
    waiting->push_back(p);
    pending_due_.push(PendingDue{p.deadline, target});
    ++pending_count_;
    count(LearnEvent::pending, ex, &item);
  }
  if (taught) ++responses_taught_;
}

void Learner::fill(Slot& s, uint32_t ns_ttl, uint32_t addr_ttl, const ResponseInfo& from) {
  s.ns_ttl = ns_ttl;
  s.addr_ttl = addr_ttl;
  s.query_time = from.query_time;
  s.query_id = from.query_id;
  NameId qname = query_names_.acquire(from.query_name);
  query_names_.release(s.query_name);
  s.query_name = qname;
  s.response_time = from.response_time;
  s.server = from.server;
}

LearnEvent Learner::learn(const IpAddress& a, PoolName zone, PoolName ns, uint32_t ns_ttl, uint32_t addr_ttl,
                          const ResponseInfo& from, size_t& new_budget, std::optional<TimeNs> recorded, TimeNs latest) {
  TimeNs expires =
      recorded ? *recorded
               : std::min(from.response_time + TimeNs{rules::lifetime(ns_ttl, addr_ttl, settings_)} * kNsPerSec, latest);
  // Looked up once; an id found here is taken with acquire(id), which
  // only counts (no hashing again).
  NameId zone_id = names_.find(zone.name, zone.hash);
  NameId ns_id = names_.find(ns.name, ns.hash);
  // This zone's learned slot at this address: the indexed one, or beside
  // an anchor or static that is indexed in its place.
  uint32_t known = kNoSlot;
  if (const uint32_t* indexed = zone_id == kNoName ? nullptr : slot_index_.find(ZoneKey{a, zone_id})) {
    if (slots_[*indexed].kind == EntryKind::learned) {
      known = *indexed;
    } else if (const AddressSlots* at = by_address_.find(a)) {
      for (uint32_t other : at->ids)
        if (slots_[other].kind == EntryKind::learned && slots_[other].zone == zone_id) known = other;
    }
  }
  if (known != kNoSlot) {
    Slot& s = slots_[known];
    if (!recorded && from.response_time < s.response_time) {
      // An older response than the one the slot holds (captures given out
      // of time order): the provenance stays the newest, whose expiry it
      // does not shorten.
      set_expiry(known, std::max(s.expires, expires));
      sync_table(a);
      return LearnEvent::refreshed;
    }
    if (ns_id != s.ns) {
      // The zone now names this address under another NS name: relink.
      unlink_ns(s);
      ns_id = ns_id != kNoName ? names_.acquire(ns_id) : names_.acquire(ns.name, ns.hash);
      names_.release(s.ns);
      s.ns = ns_id;
      fill(s, ns_ttl, addr_ttl, from);
      link_ns(s);
    } else {
      fill(s, ns_ttl, addr_ttl, from);
      note_address_ttl(s);
    }
    set_expiry(known, recorded ? *recorded : std::max(s.expires, expires));
    sync_table(a);
    return LearnEvent::refreshed;
  }
  if (new_budget == 0) return LearnEvent::per_response_cap;
  if (zone_id != kNoName && zone_count(zone_id) >= settings_.per_zone_cap) return LearnEvent::per_zone_cap;
  const AddressSlots* at = by_address_.find(a);
  if (!at && table_entries_ >= std::min(settings_.capacity, table_.capacity())) return LearnEvent::table_full;
  if (at && at->learned > 0 && at->learned >= settings_.zones_per_address) {
    // Zones per address: replace the learned zone that expires soonest of
    // those at least as deep as the new one, else refuse the new one. A
    // server that may name this address in sub-zones of its own (a TLD
    // server's, say) must not push out the zones it serves higher up, and
    // with them the referrals it gives for them (rule 3).
    // Of the oldest kEvictionSample such zones, in the order they were
    // added (those expire soonest unless refreshed): scanning all of a full
    // shared server's zones for every new one was a fifth of the learner's
    // time in tools/bench/forward's learning window (perf).
    int depth = zone.name.label_count();
    uint32_t soonest = kNoSlot;
    size_t seen = 0;
    for (uint32_t id : at->ids) {
      const Slot& o = slots_[id];
      if (o.kind != EntryKind::learned || o.zone_depth < depth) continue;
      if (soonest == kNoSlot || o.expires < slots_[soonest].expires) soonest = id;
      if (++seen == kEvictionSample) break;
    }
    if (soonest == kNoSlot) return LearnEvent::per_address_zone_cap;
    ++counters_[static_cast<size_t>(LearnEvent::per_address_zone_cap)];
    remove_slot(soonest);
    zone_id = names_.find(zone.name, zone.hash);  // the removed slot may have held the last reference
    ns_id = names_.find(ns.name, ns.hash);
  }
  Slot s;
  s.address = a;
  s.kind = EntryKind::learned;
  s.zone = zone_id != kNoName ? names_.acquire(zone_id) : names_.acquire(zone.name, zone.hash);
  s.zone_depth = static_cast<unsigned>(zone.name.label_count()) & 0x7fu;  // a name has at most 127 labels
  s.ns = ns_id != kNoName ? names_.acquire(ns_id) : names_.acquire(ns.name, ns.hash);
  s.expires = expires;
  fill(s, ns_ttl, addr_ttl, from);
  uint32_t id = add_slot(std::move(s));
  --new_budget;
  if (!sync_table(a)) {
    // The table refused the insert (full): undo so state stays consistent.
    remove_slot(id);
    sync_table(a);
    return LearnEvent::table_full;
  }
  return LearnEvent::added;
}

// Anchors and statics win; otherwise the latest expiry of its learned zones.
bool Learner::sync_table(const IpAddress& a) {
  AddressSlots* at = by_address_.find(a);
  if (!at) {
    table_.erase(a);
    return true;
  }
  TableValue v = at->pinned != kNoSlot
                     ? TableValue{TableValue::kNever, at->pinned, slots_[at->pinned].kind}
                     : TableValue{table_seconds(slots_[at->latest].expires), at->latest, EntryKind::learned};
  // Most refreshes do not change what the table shows; an rte_hash write
  // costs more than this check.
  if (v.pack() == at->synced) return true;
  if (!table_.upsert(a, v)) return false;
  if (at->synced == 0) ++table_entries_;
  at->synced = v.pack();
  return true;
}

void Learner::expire(TimeNs now, size_t expiry_budget) {
  now_ = std::max(now_, now);
  forget_remembered(expiry_budget);
  while (!pending_due_.empty() && pending_due_.top().deadline < now_) {
    NameId target = pending_due_.top().target;
    pending_due_.pop();
    std::vector<PendingNs>* waiting = pending_.find(target);
    if (!waiting) continue;  // swept with an earlier item of its name
    size_t before = waiting->size();
    std::erase_if(*waiting, [&](const PendingNs& p) {
      if (p.deadline >= now_) return false;
      if (!p.resolved) ++counters_[static_cast<size_t>(LearnEvent::pending_expired)];
      if (uint32_t* n = pending_by_server_.find(p.from.server); n && --*n == 0) pending_by_server_.erase(p.from.server);
      names_.release(p.zone);
      query_names_.release(p.from.query_name);
      return true;
    });
    pending_count_ -= before - waiting->size();
    if (waiting->empty()) {
      pending_.erase(target);
      names_.release(target);
    }
  }
  // The sweep: learned records whose time has come, a bounded number.
  for (size_t n = 0; n < expiry_budget && !expiry_.empty() && expiry_.top().when <= now_; ++n) {
    ExpiryItem item = expiry_.top();
    expiry_.pop();
    // The next item's slot is a miss of its own: fetched while this one
    // is removed.
    if (!expiry_.empty()) __builtin_prefetch(&slots_[expiry_.top().slot]);
    Slot& s = slots_[item.slot];
    if (!s.live || s.generation != item.generation || s.kind != EntryKind::learned || item.when != s.queued)
      continue;  // the slot was reused or removed, or has an earlier item
    if (s.expires > now_) {  // refreshed since it was queued: follow it
      expiry_.push(ExpiryItem{s.expires, item.slot, s.generation});
      s.queued = s.expires;
      continue;
    }
    ++counters_[static_cast<size_t>(LearnEvent::expired)];
    IpAddress a = s.address;
    remove_slot(item.slot);
    sync_table(a);
  }
  if (!unsynced_statics_.empty())
    std::erase_if(unsynced_statics_, [this](const IpAddress& a) { return sync_table(a); });
}

AllowAnswer Learner::lookup(const IpAddress& a, TimeNs now) const {
  AllowAnswer ans;
  // What the table says, and the record it shows (as sync_table chose it;
  // the table's copy of the slot number has 24 bits).
  const AddressSlots* at = by_address_.find(a);
  if (auto v = table_value(at, now)) {
    ans.allowed = true;
    ans.kind = v->kind;
    uint32_t shown = at->pinned != kNoSlot ? at->pinned : at->latest;
    if (shown != kNoSlot) ans.provenance = provenance(slots_[shown]);
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

void Learner::for_each_learned(const std::function<void(Provenance&&)>& fn) const {
  for (const Slot& s : slots_)
    if (s.learned()) fn(provenance(s));
}

namespace {
// make(slot) for every learned slot, in slot order, on `threads` threads
// (the make calls only read). Counted first, so that each thread fills its
// own range of one vector (concatenating parts moved every record once
// more).
template <class T, class Slots, class Make>
std::vector<T> each_learned(const Slots& slots, unsigned threads, Make make) {
  threads = std::max(1u, threads);
  std::vector<size_t> begin(threads + 1, 0), offset(threads + 1, 0);
  for (unsigned t = 0; t <= threads; ++t) begin[t] = slots.size() * t / threads;
  for (unsigned t = 0; t < threads; ++t) {
    size_t n = 0;
    for (size_t i = begin[t]; i < begin[t + 1]; ++i) n += slots[i].learned();
    offset[t + 1] = offset[t] + n;
  }
  std::vector<T> out(offset[threads]);
  auto build = [&](unsigned t) {
    size_t at = offset[t];
    for (size_t i = begin[t]; i < begin[t + 1]; ++i)
      if (slots[i].learned()) out[at++] = make(slots[i]);
  };
  std::vector<std::thread> helpers;
  for (unsigned t = 1; t < threads; ++t) {
    try {
      helpers.emplace_back(build, t);
    } catch (const std::system_error&) {
      build(t);  // no thread to be had: this one builds that part too
    }
  }
  build(0);
  for (std::thread& h : helpers) h.join();
  return out;
}

}  // namespace

std::vector<Learner::RecordView> Learner::learned_views(unsigned threads) const {
  return each_learned<RecordView>(slots_, threads, [this](const Slot& s) { return view(s); });
}

Provenance Learner::RecordView::provenance() const {
  Provenance p;
  p.address = address;
  p.kind = kind;
  p.zone = NamePool::text_of(zone);
  p.ns = NamePool::text_of(ns);
  p.ns_ttl = ns_ttl;
  p.addr_ttl = addr_ttl;
  p.expires = expires;
  p.query_time = query_time;
  p.query_id = query_id;
  p.query_name = NamePool::text_of(query_name);
  p.response_time = response_time;
  p.server = server;
  p.note = note;
  return p;
}

size_t Learner::learned_addresses() const {
  size_t n = 0;
  by_address_.for_each([&](const IpAddress&, const AddressSlots& at) { n += at.learned > 0; });
  return n;
}

void Learner::reserve(size_t records) {
  size_t total = slots_.size() - free_slots_.size() + records;
  slots_.reserve(total);
  by_address_.reserve(total);
  slot_index_.reserve(total);
  by_ns_.reserve(total);
  // One item per record (refreshes re-queue it when it comes up).
  expiry_.reserve(total);
  // At most a zone and an NS name per record; usually far fewer (shared).
  names_.reserve(names_.size() + 2 * records);
  zone_counts_.reserve(names_.size() + 2 * records);
  // At most one query name per record (those of one response shared). Not
  // reserved, the pool doubled as it filled, each time moving all it held.
  query_names_.reserve(query_names_.size() + records);
}

bool Learner::restore(const Provenance& p, TimeNs now) {
  DnsName zone, ns, query_name;
  // A record keeps the expiry it was saved with, but no later than the
  // longest lifetime today's limits give from its response (from now if it
  // names none, or a time still to come): a checksum proves a file intact,
  // not its entries within the rules (a larger max_ttl then, a hand-made
  // file).
  now = std::max(now, now_);
  TimeNs from_time = p.response_time == 0 ? now : now > 0 ? std::min(p.response_time, now) : p.response_time;
  TimeNs latest = from_time + TimeNs{rules::longest_lifetime(settings_)} * kNsPerSec;
  TimeNs expires = std::min(p.expires, latest);
  if (p.kind != EntryKind::learned || expires <= now || !DnsName::from_text(p.zone, zone) ||
      !DnsName::from_text(p.ns, ns))
    return false;
  // Rule 4 as it stands now: a private address saved under allow_private
  // does not come back once it is off (nor anything a hand-made file adds).
  if (rules::refuse_address(p.address, p.address.is_v4() ? dns::type::A : dns::type::AAAA, settings_.allow_private))
    return false;
  ResponseInfo from{p.query_time, p.query_id, kNoName, p.response_time, p.server};
  if (DnsName::from_text(p.query_name, query_name)) from.query_name = query_names_.acquire(query_name);
  size_t budget = 1;
  LearnEvent e = learn(p.address, pool_name(zone), pool_name(ns), p.ns_ttl, p.addr_ttl, from, budget, expires);
  query_names_.release(from.query_name);
  return e == LearnEvent::added || e == LearnEvent::refreshed;
}

}  // namespace nsgate
