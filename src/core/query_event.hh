// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// A judged DNS query as the data path reports it: a fixed-size record the
// workers copy into a ring (no allocation), turned into an EVE-shaped JSON
// line off the data path, rate-limited per source address.

#include <cstdint>
#include <functional>
#include <list>
#include <optional>
#include <queue>
#include <span>
#include <string>
#include <unordered_map>

#include "core/ip_address.hh"
#include "core/packet.hh"
#include "core/time.hh"
#include "core/verdict.hh"

namespace nsgate {

struct QueryEvent {
  TimeNs time = 0;         // wall clock (Unix ns) when judged, or packet time in replay
  uint64_t seq = 0;        // per worker, in judging order
  IpAddress src, dst;
  uint16_t sport = 0, dport = 0;
  uint16_t dns_id = 0, qtype = 0;
  uint8_t proto = 0;
  Verdict verdict = Verdict::forward_not_dns;
  uint8_t worker = 0;
  uint8_t ip_version = 4;  // of the packet: an IPv6 one may carry IPv4-mapped addresses
  uint8_t qname_len = 0;   // wire length of qname; 0 when the question was unreadable
  // Only the first qname_len bytes are meaningful; the rest is left
  // uninitialised on purpose (workers build events on the data path).
  uint8_t qname[255];
};
static_assert(sizeof(QueryEvent) % 4 == 0, "rte_ring elements are multiples of 4 bytes");

// Fills the addresses, ports and, when the payload holds a readable
// question, its id, name and type. Never fails: unreadable parts stay empty.
void fill_event(QueryEvent& ev, const pkt::Packet& p, bool tcp_framed);

// The query name as text, lower-cased (the event holds it as it came).
std::string qname_text(const QueryEvent& ev);

// One of the event's addresses as text; an IPv4-mapped one in an IPv6
// packet as such (::ffff:192.0.2.53), not as the IPv4 host it is not.
std::string address_text(const QueryEvent& ev, const IpAddress& a);

// One line in the shape of Suricata EVE: timestamp, event_type ("drop" or
// "alert"; "pass" for verdict logs), src_ip, src_port, dest_ip, dest_port,
// proto, dns {id, rrname, rrtype}, nsgate {reason, verdict[, suppressed]}.
std::string eve_json(const QueryEvent& ev, uint64_t suppressed = 0);

// Per-source token bucket: at most `burst` events at once and `rate` per
// second after that. Remembers at most `max_sources` sources (the least
// recently seen are forgotten first).
class RateLimiter {
 public:
  static constexpr TimeNs kNever = INT64_MAX;
  // A time this far before a bucket's last one is the wall clock stepped
  // back (NTP, an operator), not events of several workers out of order:
  // the bucket restarts its count from it, keeping its tokens, instead of
  // earning nothing until the clock is back where it was.
  static constexpr TimeNs kClockStep = 1'000'000'000;
  RateLimiter(double rate, double burst, size_t max_sources = 65536)
      : rate_(rate), burst_(burst), max_sources_(max_sources) {}
  // True when an event from `src` at `now` may be written; otherwise it is
  // counted as suppressed. `suppressed` returns (and resets) the count held
  // back since the last event written for that source. When remembering
  // `src` made the limiter forget another source, `*forgotten` (if given)
  // is set to it, with its count of suppressed events.
  struct Forgotten {
    IpAddress src;
    uint64_t suppressed;
  };
  bool allow(const IpAddress& src, TimeNs now, uint64_t& suppressed, std::optional<Forgotten>* forgotten = nullptr);
  // Whether `src` has a bucket (was seen recently enough to be remembered).
  bool knows(const IpAddress& src) const { return buckets_.count(src) > 0; }
  // When `src` has a whole token again (`allow` would say true from then
  // on); a source without a bucket has one now. kNever with rate 0.
  TimeNs token_at(const IpAddress& src, TimeNs now) const;
  // Takes a token if `src` has a whole one at `now` (returning, and
  // resetting, its count of suppressed events); false, counting nothing,
  // if not or if `src` has no bucket.
  bool take_token(const IpAddress& src, TimeNs now, uint64_t& suppressed);
  // Returns (and resets) `src`'s count of suppressed events.
  uint64_t take_suppressed(const IpAddress& src);
  // New limits (a reload), keeping every source's bucket and its count of
  // suppressed events: tokens above the new burst are cut to it.
  void set_limits(double rate, double burst);
  // Brings every bucket up to `now` (see kClockStep).
  void refill_all(TimeNs now);

 private:
  struct Bucket {
    double tokens;
    TimeNs last;
    uint64_t suppressed;
    std::list<IpAddress>::iterator recency;  // position in recent_
  };
  void refill(Bucket& b, TimeNs now) const;
  double rate_, burst_;
  size_t max_sources_;
  std::unordered_map<IpAddress, Bucket, IpAddressHash> buckets_;
  // Sources, most recently seen first: forgetting the oldest is O(1), so a
  // flood of spoofed sources costs the control thread constant time each.
  std::list<IpAddress> recent_;
};

// Which drop and alert events become drop-log lines. Per client, at most
// what its RateLimiter bucket allows; of the events held back, the latest
// is kept and written late (with the count of the others) once the client
// has a token again and has not used it, when the limiter forgets the
// client to make room, or at flush_all(). So a client's last blocked query
// always reaches the log, and every held-back event is counted in the
// `suppressed` of exactly one line: summed over the lines, those counts
// are every event that got no line of its own.
class EventThrottle {
 public:
  // One line: `ev`, and how many of its client's events since that
  // client's previous line got none. A held-back event is written after
  // events that came later, with its own time.
  using Write = std::function<void(const QueryEvent& ev, uint64_t suppressed)>;

  EventThrottle(double rate, double burst, size_t max_sources = 65536) : limiter_(rate, burst, max_sources) {}
  // Decides `ev` (a drop or alert) at its own time; writes it if the
  // client's rate allows, else holds it (replacing the client's previous
  // held event). Also writes the held event of a client forgotten now.
  void offer(const QueryEvent& ev, const Write& write);
  // Writes the held events whose clients have a token again by `now`
  // (each takes that token); call it often (the control loop's tick).
  void flush(TimeNs now, const Write& write);
  // Writes every held event (at stop).
  void flush_all(const Write& write);
  bool knows(const IpAddress& src) const { return limiter_.knows(src); }
  size_t held() const { return held_.size(); }
  // New limits (a reload): buckets, counts and held events carry over,
  // the held ones due when the new rate gives their client a token.
  void set_limits(double rate, double burst, TimeNs now);

 private:
  struct Held {
    QueryEvent ev;
    TimeNs due;  // when its client has a token again, as last computed
  };
  // Computes every held event's due time afresh from its bucket at `now`.
  void reschedule(TimeNs now);
  RateLimiter limiter_;
  std::unordered_map<IpAddress, Held, IpAddressHash> held_;
  TimeNs last_flush_ = 0;
  // (due, client), soonest first; an item whose Held is gone or has
  // another due time is stale and skipped.
  using Due = std::pair<TimeNs, IpAddress>;
  struct Later {
    bool operator()(const Due& a, const Due& b) const { return a.first > b.first; }
  };
  std::priority_queue<Due, std::vector<Due>, Later> due_;
};

}  // namespace nsgate
