// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// The learner: turns DNS responses into allowed name-server addresses,
// following the chain of trust from the root (DESIGN §2). Each acceptance
// rule is a named predicate below so it can be tested on its own.
//
// Threading: single-threaded. It is the only writer of the AllowTable it is
// given; other threads may look addresses up in that table concurrently.

#include <algorithm>
#include <array>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/allow_table.hh"
#include "core/chunked_vec.hh"
#include "core/dns_message.hh"
#include "core/flat_map.hh"
#include "core/learn_events.hh"
#include "core/name_pool.hh"
#include "core/provenance.hh"
#include "core/query_tracker.hh"
#include "core/settings.hh"
#include "core/small_vec.hh"
#include "core/time.hh"

namespace nsgate {

// Where a message entered. A host inside can send anything, including a
// "response" from a root server's address to another's (port 53 at both
// ends, so forwarded as a query to an allowed server): from the inside only
// queries count. Unknown: a capture or a mirror copy, read as it is.
enum class Origin : uint8_t { unknown, inside };

// Where a DNS message was seen: for a query the client sent it to the
// server; for a response the server sent it to the client.
struct DnsContext {
  IpAddress client, server;
  uint16_t client_port = 0, server_port = 0;
  bool tcp = false;
  bool fragment = false;
  Origin origin = Origin::unknown;
  TimeNs time = 0;
};

// A DNS message as the learner reads it before learning anything from it
// (Learner::on_message parses the whole message first: rule 5).
struct ParsedMessage {
  enum class Kind : uint8_t {
    query,      // QR = 0 (also any message whose header did not parse)
    fragment,   // a response in an IP fragment or cut packet: never parsed further (rule 5)
    malformed,  // a response that did not parse completely (rule 5)
    inside,     // a response that came from the inside (Origin::inside): never parsed further
    response,
  };
  // Records that matter to learning: NS outside the additional section,
  // and every address record. Their names are indices into `names`. The
  // *_hash fields are the names' hashes in the parsing learner's zone/NS
  // name pool (NamePool::hash), taken by parse(): the offline learner
  // parses on one thread and applies on another, where every cache line
  // the parser wrote is a miss. So records are small (an NS record 32
  // bytes, where it was 544 with its two names inside) and a referral's
  // repeated names (the zone, a glue record's owner that an NS record
  // named) are held once.
  struct Ns {
    dns::Section section;
    bool accepted = false;     // rule 3 held (set while learning from it)
    bool has_address = false;  // an accepted address record named its target (likewise)
    uint32_t ttl;
    uint64_t owner_hash, target_hash;
    uint32_t owner, target;  // in names
  };
  struct Address {
    dns::Section section;
    uint16_t rtype;
    uint32_t ttl;
    uint64_t owner_hash;
    IpAddress address;
    uint32_t owner;  // in names
  };
  // Whether names a and b (indices, with their hashes) are the same name:
  // equal names have one index when parse() saw them within kNameReuse
  // distinct names of each other, so the octets are compared only
  // otherwise.
  bool same_name(uint32_t a, uint64_t a_hash, uint32_t b, uint64_t b_hash) const {
    return a_hash == b_hash && (a == b || names[a] == names[b]);
  }
  // How many of the latest distinct names parse() searches for a repeat:
  // a referral's names (zone, up to 13 targets) fit, and a message of
  // thousands of names costs a bounded search per name.
  static constexpr size_t kNameReuse = 16;
  Kind kind = Kind::query;
  dns::Fault fault = dns::Fault::none;  // what on_message returns for it
  dns::Header header;
  dns::Question question;
  bool standard_query = false;  // a query with opcode 0 and one question that parsed
  uint64_t qname_hash = 0;      // Learner::name_hash of the question name
  // Rule 1, decided by Learner::track(): when the query this response
  // answers was sent (none: unsolicited, or too late).
  std::optional<TimeNs> asked;
  // A query that found the tracker full and made it sweep: apply() then
  // expires ended NS waits too, as housekeeping would (so a query does need
  // apply() in that case).
  bool tracker_swept = false;
  std::vector<Ns> ns;
  std::vector<Address> addresses;
  std::vector<DnsName> names;         // the records' names, each once (see kNameReuse)
  std::vector<uint64_t> name_hashes;  // names[i]'s hash, for parse()'s search
};

// `nsgate learn --explain`: what happened to each record of one response.
struct ExplainItem {
  dns::Section section = dns::Section::answer;
  std::string owner;
  uint16_t rtype = 0;
  std::string data;
  LearnEvent event = LearnEvent::added;
  std::string zone;  // zone the address was learned for, when it was
};
struct Explanation {
  std::optional<LearnEvent> refused;  // the whole response taught nothing, and why
  std::vector<ExplainItem> items;
};

// The answer to "may a query go to this address?" for `check` and lookups.
struct AllowAnswer {
  bool allowed = false;
  EntryKind kind = EntryKind::learned;
  std::optional<Provenance> provenance;  // none for CIDR statics
  std::string static_prefix;               // for CIDR static allows
};

// Rule predicates (DESIGN §2), exposed for tests.
namespace rules {
// Rule 3: an NS owner or glue owner is acceptable from a server serving `zones`.
bool in_bailiwick(const DnsName& owner, std::span<const DnsName> zones);
// Rule 4: the event that refuses `a`, given in a record of `rtype` (A or
// AAAA), or nullopt when it may be learned.
std::optional<LearnEvent> refuse_address(const IpAddress& a, uint16_t rtype, bool allow_private);
// A TTL as a resolver takes it: one with the top bit set counts as 0
// (RFC 2181 §8).
inline uint32_t effective_ttl(uint32_t ttl) { return ttl > INT32_MAX ? 0u : ttl; }
// TTL = min(NS TTL, address TTL) (effective_ttl) clamped to [min_ttl,
// max_ttl] plus grace.
uint32_t lifetime(uint32_t ns_ttl, uint32_t addr_ttl, const LearningSettings& s);
// The longest lifetime() can give: no entry may outlive it.
inline uint32_t longest_lifetime(const LearningSettings& s) { return lifetime(INT32_MAX, INT32_MAX, s); }
}  // namespace rules

class Learner {
 public:
  Learner(const LearningSettings& settings, AllowTable& table);

  // Trust anchors: never expire, never evicted, serve the root zone.
  void add_anchor(const IpAddress& a, const std::string& ns_name);
  // Static allows: exact addresses go into the table; shorter prefixes are
  // matched by lookup(). A static allow with a zone may teach for that zone.
  void add_static(const StaticAllow& s);
  // Replaces the learning limits (hot reload). Entries are kept.
  void set_settings(const LearningSettings& s) {
    settings_ = s;
    tracker_.set_settings(s);
  }
  // Replaces every static allow (hot reload); learned entries are kept.
  void replace_statics(const std::vector<StaticAllow>& statics);

  // Offers one DNS message (query or response). Returns the parser's fault
  // (Fault::none when the message parsed cleanly). `explain` may be null.
  dns::Fault on_message(const DnsContext& ctx, std::span<const std::byte> msg, Explanation* explain);
  // on_message in three steps, in this order for each message. parse()
  // reads everything rule 5 needs and touches no learner state (only what
  // construction fixed). track() is rule 1: it remembers a query, or
  // matches a response with its query (m.asked), and touches only the
  // query tracker. apply() learns from `m` (marking NS records accepted)
  // and touches everything but the tracker; a query needs apply() only
  // when m.tracker_swept.
  // So parse and track may run on one thread while apply runs on another,
  // each thread taking the messages in input order.
  dns::Fault parse(const DnsContext& ctx, std::span<const std::byte> msg, ParsedMessage& out) const;
  void track(const DnsContext& ctx, ParsedMessage& m);
  void apply(const DnsContext& ctx, ParsedMessage& m, Explanation* explain);
  // A hint for a caller that applies messages in a row: starts loading the
  // index buckets apply(ctx, m) will look up (after track()), so that the
  // message before it is applied while memory answers. Changes nothing;
  // apply()'s thread.
  void prefetch(const DnsContext& ctx, const ParsedMessage& m) const;
  // Its second step, for a message prefetch() was called for a step
  // earlier: what the buckets it fetched point to (name pool entries).
  void prefetch_entries(const ParsedMessage& m) const;
  // A query another thread parsed (see QueryRecord); same as a query message.
  void on_query(const QueryRecord& q);
  // Keyed hash of a question name for QueryRecord. Thread-safe: the key is
  // fixed at construction.
  uint64_t name_hash(const DnsName& n) const;
  // The same hash of a name's wire form as found in a message (ASCII
  // letters are folded here, so it equals name_hash of the parsed name).
  uint64_t name_hash(const uint8_t* wire, size_t size) const;

  // Bounded periodic work: expires tracked queries, pending NS targets and
  // at most `expiry_budget` items of the expiry queue (the sweep of the table).
  // Call at least once per second of the learner's clock. It is the two
  // halves below, for callers that split the steps over threads like
  // track() and apply(): sweep_queries() on track()'s thread, expire() on
  // apply()'s.
  void housekeeping(TimeNs now, size_t expiry_budget = 4096) {
    sweep_queries(now);
    expire(now, expiry_budget);
  }
  void sweep_queries(TimeNs now) { tracker_.sweep(now); }
  void expire(TimeNs now, size_t expiry_budget = 4096);
  // A live learner (the appliance's) must never stop for long: each
  // housekeeping call then walks at most `query_buckets` buckets of the
  // tracked queries, a sweep going on over as many calls as it takes.
  // Default: each sweep walks the whole map at once.
  void bound_query_sweep(size_t query_buckets) { tracker_.bound_sweep(query_buckets); }
  // Its hash maps grow past their reservation a few entries per insert
  // instead of all at once (FlatMap::grow_in_steps): for the live learner.
  void grow_in_steps() {
    by_address_.grow_in_steps();
    slot_index_.grow_in_steps();
    by_ns_.grow_in_steps();
    pending_.grow_in_steps();
    tracker_.grow_in_steps();
  }

  AllowAnswer lookup(const IpAddress& a, TimeNs now) const;

  // Learned (not anchor/static) provenance records, for history and
  // snapshots; each is built for the call, so `fn` may keep it by moving.
  void for_each_learned(const std::function<void(Provenance&&)>& fn) const;
  // A record with its names (and note) left as views into the learner,
  // names as wire forms in its pools, no string per name: for printing a
  // long history (nsgate learn). Valid while the learner is not changed.
  struct RecordView {
    IpAddress address, server;
    TimeNs expires = 0, query_time = 0, response_time = 0;
    uint32_t ns_ttl = 0, addr_ttl = 0;
    uint16_t query_id = 0;
    EntryKind kind = EntryKind::learned;
    std::string_view zone, ns, query_name;  // wire forms; "" for none
    std::string_view note;
    Provenance provenance() const;  // the record with its names' text (NamePool::text_of)
  };
  // Views of the records for_each_learned() gives, in the same order,
  // built on `threads` threads (they only read the learner). No other
  // thread may change it meanwhile.
  std::vector<RecordView> learned_views(unsigned threads = 1) const;

  class Frozen;
  // Copies the learned records into `into` for a snapshot, building no
  // text, so that the learner can go on while another thread turns the
  // copy into provenance records and writes them (built and written in
  // place, a snapshot of 1 M entries held learning up for 5 s). Reuses
  // `into`'s memory: a copy no larger than the last touches no fresh pages.
  //
  // In slices: freeze_begin(), then freeze_some() between other work until
  // it returns true (the whole copy at once held the live learner up for
  // 37-41 ms per million records every snapshot interval, 90-330 ms the
  // first time; `nsgate run`, 1 M entries). Each record is copied as it is
  // when the cursor reaches its slot, with its names: a record changed or
  // removed behind the cursor is in the copy as it was; one learned ahead
  // of it is in the copy. So an (address, zone) removed behind the cursor
  // and learned again ahead of it is in the copy twice (restoring takes
  // the later record's expiry).
  void freeze_begin(Frozen& into) const;
  // Copies from at most `budget` more slots; true when the copy is complete.
  bool freeze_some(Frozen& into, size_t budget) const;
  void freeze(Frozen& into) const {
    freeze_begin(into);
    while (!freeze_some(into, SIZE_MAX)) {
    }
  }
  // Re-inserts a learned record (from a snapshot) at `now` on the
  // learner's clock (0: not known yet, as on a capture's clock before its
  // first packet). False if refused by limits or already expired.
  bool restore(const Provenance& p, TimeNs now);
  // Makes room for `records` more learned records (before restoring many,
  // or once for the table's capacity so that nothing grows, and stalls for
  // a rehash, while the appliance learns).
  void reserve(size_t records);
  // Makes room for learning.max_tracked_queries tracked queries.
  void reserve_queries() { tracker_.reserve(); }

  // A copy: the tracker counts the queries it could not track.
  LearnCounters counters() const;
  size_t learned_addresses() const;
  size_t anchors() const { return anchors_; }
  size_t statics() const { return statics_.size() + host_statics_; }
  size_t host_statics() const { return host_statics_; }
  size_t tracked_queries() const { return tracker_.size(); }
  size_t pending_targets() const { return pending_.size(); }
  // (NS name, address) pairs remembered past their last entry, and their
  // items in the queue that forgets them (one each).
  size_t remembered_pairs() const { return remembered_count_; }
  size_t remembered_items() const { return remembered_.size(); }
  // Items in the expiry queue: one per learned slot, plus one for each
  // time an expiry moved earlier and the later item has not come up yet.
  size_t expiry_queue_size() const { return expiry_.size(); }
  uint64_t queries_seen() const { return tracker_.seen(); }

  uint64_t responses_seen() const { return responses_seen_; }
  uint64_t responses_taught() const { return responses_taught_; }

 private:
  using NameId = NamePool::Id;
  static constexpr NameId kNoName = NamePool::kNone;
  static constexpr uint32_t kNoSlot = UINT32_MAX;
  static constexpr uint32_t kNoNote = UINT32_MAX;
  // zones_per_address: how many of an address's zones (the oldest at least
  // as deep as the new one) are weighed to make room.
  static constexpr size_t kEvictionSample = 16;

  // What the provenance of anything learned from one response shares. The
  // query name is a reference held by whoever owns this value.
  struct ResponseInfo {
    TimeNs query_time = 0;
    uint16_t query_id = 0;
    NameId query_name = kNoName;
    TimeNs response_time = 0;
    IpAddress server;
  };
  // An accepted NS whose target had no address yet; owns its name references.
  struct PendingNs {
    NameId zone = kNoName;
    uint32_t ns_ttl = 0;
    TimeNs deadline = 0;
    bool resolved = false;
    ResponseInfo from;
    TimeNs latest = kNeverExpires;  // own_zone_limit of the referral's server
  };
  // One (address, zone) record: the Provenance fields with names interned.
  // Owns one reference to each of zone, ns and query_name.
  struct Slot {
    IpAddress address;
    IpAddress server;
    EntryKind kind = EntryKind::learned;
    bool live : 1 = false;
    uint8_t zone_depth : 7 = 0;  // learned: the zone's labels (at most 127), for zones_per_address
    uint16_t query_id = 0;
    NameId zone = kNoName;  // kNoName: teaches nothing (a static allow without a zone)
    NameId ns = kNoName;
    NameId query_name = kNoName;
    uint32_t ns_ttl = 0, addr_ttl = 0;
    uint32_t generation = 0;  // bumped when the slot is reused, for stale expiry items
    uint32_t note = kNoNote;  // statics only: an index into notes_
    TimeNs queued = kNeverExpires;  // the time of its item in the expiry queue (none: never)
    TimeNs expires = 0, query_time = 0, response_time = 0;
    bool learned() const { return live && kind == EntryKind::learned; }  // what history and snapshots hold
  };
  static_assert(sizeof(Slot) <= 96, "a slot is read per learned record: keep it to a cache line and a half");
  // The slots of one address, and what the table entry needs from them,
  // kept up to date so that learning and expiry need not walk the slots (a
  // shared hosting name server serves up to zones_per_address zones).
  struct AddressSlots {
    SmallVec<uint32_t, 2> ids;  // in the order they were added
    uint32_t learned = 0;       // how many of ids are learned
    uint32_t pinned = kNoSlot;  // an anchor (else static) slot: the table shows it, never expiring
    uint32_t latest = kNoSlot;  // the learned slot that expires last
    uint64_t synced = 0;        // the packed TableValue last written for it (0: none)
  };
  struct ZoneKey {
    IpAddress address;
    NameId zone;
    bool operator==(const ZoneKey&) const = default;
  };
  struct ZoneKeyHash {
    size_t operator()(const ZoneKey& k) const noexcept;
  };
  struct IdHash {
    size_t operator()(NameId id) const noexcept { return id; }
  };
  // An address known to serve as a given NS name, and how many slots say so.
  struct NsAddress {
    IpAddress address;
    uint32_t refs = 0;  // learned slots that name it
    // Held with no slot left (refs 0) while the resolver may still hold
    // the address (remembered_), with a reference to the NS name.
    bool remembered = false;
    TimeNs addr_until = 0;  // when the address TTL runs out: the latest any response gave
    TimeNs queued = 0;      // the time of its one item in remembered_ (0: none)
  };

  using NsRecord = ParsedMessage::Ns;
  using AddrRecord = ParsedMessage::Address;
  void on_response(const DnsContext& ctx, ParsedMessage& m, Explanation* ex);
  void count(LearnEvent e, Explanation* ex = nullptr, ExplainItem* item = nullptr);
  // A name with its hash in names_ (NamePool::hash), computed once.
  struct PoolName {
    const DnsName& name;
    uint64_t hash;
  };
  PoolName pool_name(const DnsName& n) const { return {n, names_.hash(n)}; }
  // A zone whose learned delegation names a given NS name, with the NS TTL
  // it came with and when it ends (its latest slot naming that name).
  struct LiveDelegation {
    NameId id;
    DnsName zone;
    uint32_t ns_ttl;
    TimeNs expires;
  };
  // Appends the zones (at most `most`) whose unexpired learned slots name
  // `ns`, each once.
  void live_delegations(NameId ns, TimeNs now, size_t most, std::vector<LiveDelegation>& out) const;
  // Learns `a` for `zone` as the address of `ns`; returns the event (added,
  // refreshed or a refusal). The expiry follows from the TTLs, or is
  // `recorded` (a snapshot's entry keeps the expiry it was saved with).
  LearnEvent learn(const IpAddress& a, PoolName zone, PoolName ns, uint32_t ns_ttl, uint32_t addr_ttl,
                   const ResponseInfo& from, size_t& new_budget, std::optional<TimeNs> recorded = std::nullopt,
                   TimeNs latest = kNeverExpires);
  void fill(Slot& s, uint32_t ns_ttl, uint32_t addr_ttl, const ResponseInfo& from);
  // What the table shows for the address `at` describes, if it has an
  // unexpired entry (null `at`: none).
  static std::optional<TableValue> table_value(const AddressSlots* at, TimeNs now);
  // Rule 2: the server is allowed (anchor, static or learned, unexpired).
  bool allowed(const IpAddress& server, TimeNs now) const;
  // Whether on_response gets past rule 1 to the indexes (what it refuses
  // before needs no prefetching).
  bool reaches_indexes(const ParsedMessage& m) const;
  // Rule 2: the server serves some zone (a static allow without one does not).
  bool teaches(const IpAddress& server, TimeNs now) const;
  // Rule 3: the server serves a zone at or above `owner` (walks the owner's
  // ancestors through the index: cost grows with labels, not with zones).
  // `above_only`: a zone strictly above `owner`.
  bool serves(const IpAddress& server, PoolName owner, TimeNs now, bool above_only = false) const;
  // A zone's own servers name its servers (their answers teach for it) but
  // must not outlive the delegation that made them (the ghost domains of
  // CVE-2012-1033): what `server` teaches for `zone` when it serves that
  // zone itself, learned, and none above it expires no later than its own
  // entry for the zone. kNeverExpires when it teaches from above.
  TimeNs own_zone_limit(const IpAddress& server, PoolName zone, TimeNs now) const;
  // Stores a slot (taking its name references) and links it into every index.
  uint32_t add_slot(Slot s);
  // Unlinks a slot from every index, drops its references and frees it. The
  // caller syncs the table.
  void remove_slot(uint32_t id);
  void link_ns(const Slot& s);
  void unlink_ns(const Slot& s);
  uint32_t& zone_count(NameId zone);
  // Sets a learned slot's expiry and keeps its address's `latest` right.
  void set_expiry(uint32_t id, TimeNs expires);
  // When the address TTL slot `s` was told runs out.
  static TimeNs address_until(const Slot& s) {
    return s.response_time + TimeNs{rules::effective_ttl(s.addr_ttl)} * kNsPerSec;
  }
  // Extends the (NS name, address) pair's address TTL to what slot `s` was told.
  void note_address_ttl(const Slot& s);
  // Recompute `latest` / `pinned` from the slots (after one of them left).
  void find_latest(AddressSlots& at) const;
  void find_pinned(AddressSlots& at) const;
  // A slot as a record: its names' wire forms from name(id) and
  // query_name(id) (the learner's pools, or a frozen copy's).
  template <class NameWire, class QueryNameWire>
  static RecordView view(const Slot& s, NameWire name, QueryNameWire query_name);
  RecordView view(const Slot& s) const;
  Provenance provenance(const Slot& s) const;
  // Makes the table entry for `a` reflect its slots; false if the table
  // refused an insert (full).
  bool sync_table(const IpAddress& a);

  LearningSettings settings_;
  AllowTable& table_;
  // Addresses the table holds: those whose `synced` is set. Not always all
  // of by_address_: an anchor or static the full table refused stays out
  // (and reads as absent) until a later sync_table writes it.
  size_t table_entries_ = 0;
  LearnCounters counters_{};
  size_t anchors_ = 0;
  size_t host_statics_ = 0;
  // Host statics the table had no room for (a reload adding more than it
  // was sized for while learned entries fill it): put in as room frees,
  // before any new learned entry (expire()).
  std::vector<IpAddress> unsynced_statics_;
  std::vector<StaticAllow> statics_;  // CIDR statics (shorter than a host prefix)
  std::vector<DnsName> static_zones_;  // parsed zones of statics_, same order
  // Host statics' notes, out of the slots: a slot is read on every learned
  // record and kept to 96 bytes (a string in it took 32 more for the few
  // slots that are statics).
  std::vector<std::string> notes_;

  // Declared before everything that holds their ids. Query names (one per
  // teaching response) have a pool of their own, so that the pool of zone
  // and NS names that rule 3 searches stays small and cache-resident.
  NamePool names_;
  NamePool query_names_;
  ChunkedVec<Slot> slots_;  // never moves: growth past any reservation costs one chunk
  std::vector<uint32_t> free_slots_;
  FlatMap<IpAddress, AddressSlots, IpAddressHash> by_address_;
  FlatMap<ZoneKey, uint32_t, ZoneKeyHash> slot_index_;      // (address, zone) -> slot
  std::vector<uint32_t> zone_counts_;                       // learned addresses per zone id
  FlatMap<NameId, SmallVec<NsAddress, 1>, IdHash> by_ns_;  // mostly one address per NS name
  // Expiry queue, earliest first. A refresh pushes a new item; an item whose
  // slot has since been refreshed or reused is skipped.
  struct ExpiryItem {
    TimeNs when;
    uint32_t slot, generation;
    bool operator>(const ExpiryItem& o) const { return when > o.when; }
  };
  // A min-heap (by T's operator>) on the <algorithm> heap functions, as
  // std::priority_queue with std::greater (same order), over chunks: past
  // its reservation a vector doubled and copied every item on the
  // learner's thread.
  template <class T>
  struct MinHeap {
    ChunkedVec<T, 12> items;
    bool empty() const { return items.empty(); }
    size_t size() const { return items.size(); }
    const T& top() const { return items[0]; }
    void push(const T& item) {
      items.emplace_back(item);
      std::push_heap(items.begin(), items.end(), std::greater<>{});
    }
    void pop() {
      std::pop_heap(items.begin(), items.end(), std::greater<>{});
      items.pop_back();
    }
    void reserve(size_t n) { items.reserve(n); }
  };
  MinHeap<ExpiryItem> expiry_;

  QueryTracker tracker_;
  FlatMap<NameId, std::vector<PendingNs>, IdHash> pending_;  // by NS target; owns a reference to it
  // When each wait ends, soonest first, so that expire() visits only the
  // waits that have ended (walking all of pending_ on every housekeeping
  // call cost the live learner, which calls it every millisecond and
  // whenever idle, time in proportion to every wait pending). A heap, not
  // a queue in arrival order: after a reload shortens the window, short
  // waits must not stay behind long ones (and count against
  // max_pending_ns) for up to the old window. An item whose target name
  // was forgotten and its id reused sweeps the new name's ended waits,
  // which is harmless.
  struct PendingDue {
    TimeNs deadline;
    NameId target;
    bool operator>(const PendingDue& o) const { return deadline > o.deadline; }
  };
  MinHeap<PendingDue> pending_due_;
  FlatMap<IpAddress, uint32_t, IpAddressHash> pending_by_server_;  // waits begun by each answering server
  size_t pending_per_server() const { return std::max<size_t>(1, settings_.max_pending_ns / 16); }
  // (NS name, address) pairs whose last slot is gone before the address's
  // TTL ran out: a resolver that still holds the address queries it after
  // the next referral without glue, which teaches it again from by_ns_
  // (on_response). Each is forgotten at its addr_until (at most max_ttl +
  // grace after its last slot went); at most `capacity` of them, each with
  // one item in the heap (NsAddress::queued), which a later addr_until
  // moves on when it comes due.
  struct RememberedNs {
    TimeNs until;
    NameId ns;
    IpAddress address;
    bool operator>(const RememberedNs& o) const { return until > o.until; }
  };
  MinHeap<RememberedNs> remembered_;
  size_t remembered_count_ = 0;
  void forget_remembered(size_t budget);
  ParsedMessage scratch_;  // on_message's, reused for every message
  // Workers read it for every query they hand over (name_hash) while this
  // thread writes the counters around it: a cache line of its own, or
  // each write takes the line away from every worker (measured: 17 % of
  // tools/bench/forward's forwarding rate).
  alignas(64) uint64_t hash_key_;
  alignas(64) size_t pending_count_ = 0;
  TimeNs now_ = 0;

  uint64_t responses_seen_ = 0, responses_taught_ = 0;
  uint64_t slots_removed_ = 0;  // ever: tells on_response its serves() answers still hold
};

class Learner::Frozen {
 public:
  size_t size() const { return slots_.size(); }
  // fn(provenance) for every learned record the copy holds.
  void for_each(const std::function<void(Provenance&&)>& fn) const;

 private:
  friend class Learner;
  // The copied records' names, by the copy's own ids (ids in the learner's
  // pools may be released and reused while a copy is made in slices, so
  // they cannot be copied by id at the end). Wire forms in blocks of
  // kBlock bytes that never grow past that, so no append moves them.
  struct Names {
    static constexpr size_t kBlock = size_t{1} << 20;
    struct Ref {
      uint32_t block, offset;
      uint16_t size;
    };
    std::vector<std::string> blocks;
    size_t current = 0;  // the block being filled
    ChunkedVec<Ref, 12> refs;
    // Within one freeze_some() call the learner's ids are stable: a name
    // copied for an earlier slot of the call is referred to again (the
    // slots of one response share their zone, NS and query names).
    std::array<std::pair<NameId, NameId>, 256> recent;
    void clear();
    void forget_recent() { recent.fill({kNoName, kNoName}); }
    // The copy's id for the learner's name `id` with wire form `w`.
    NameId add(NameId id, std::string_view w);
    std::string_view wire(NameId id) const;  // "" for none
  };
  ChunkedVec<Slot> slots_;  // grown chunk by chunk: no slice moves what earlier ones copied
  Names names_, query_names_;
  size_t cursor_ = 0;  // the next learner slot freeze_some() looks at
};

}  // namespace nsgate
