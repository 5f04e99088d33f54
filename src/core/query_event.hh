// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// A judged DNS query as the data path reports it: a fixed-size record the
// workers copy into a ring (no allocation), turned into an EVE-shaped JSON
// line off the data path, rate-limited per source address.

#include <cstdint>
#include <list>
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
  uint8_t qname_len = 0;   // wire length of qname; 0 when the question was unreadable
  // Only the first qname_len bytes are meaningful; the rest is left
  // uninitialised on purpose (workers build events on the data path).
  uint8_t qname[255];
};
static_assert(sizeof(QueryEvent) % 4 == 0, "rte_ring elements are multiples of 4 bytes");

// Fills the addresses, ports and, when the payload holds a readable
// question, its id, name and type. Never fails: unreadable parts stay empty.
void fill_event(QueryEvent& ev, const pkt::Packet& p, bool tcp_framed);

std::string qname_text(const QueryEvent& ev);

// One line in the shape of Suricata EVE: timestamp, event_type ("drop" or
// "alert"; "pass" for verdict logs), src_ip, src_port, dest_ip, dest_port,
// proto, dns {id, rrname, rrtype}, nsgate {reason, verdict[, suppressed]}.
std::string eve_json(const QueryEvent& ev, uint64_t suppressed = 0);

// Per-source token bucket: at most `burst` events at once and `rate` per
// second after that. Remembers at most `max_sources` sources (the least
// recently seen are forgotten first).
class RateLimiter {
 public:
  RateLimiter(double rate, double burst, size_t max_sources = 65536)
      : rate_(rate), burst_(burst), max_sources_(max_sources) {}
  // True when an event from `src` at `now` may be written; otherwise it is
  // counted as suppressed. `suppressed` returns (and resets) the count held
  // back since the last event written for that source.
  bool allow(const IpAddress& src, TimeNs now, uint64_t& suppressed);
  // Whether `src` has a bucket (was seen recently enough to be remembered).
  bool knows(const IpAddress& src) const { return buckets_.count(src) > 0; }
  // New limits (a reload), keeping every source's bucket and its count of
  // suppressed events: tokens above the new burst are cut to it.
  void set_limits(double rate, double burst);

 private:
  struct Bucket {
    double tokens;
    TimeNs last;
    uint64_t suppressed;
    std::list<IpAddress>::iterator recency;  // position in recent_
  };
  double rate_, burst_;
  size_t max_sources_;
  std::unordered_map<IpAddress, Bucket, IpAddressHash> buckets_;
  // Sources, most recently seen first: forgetting the oldest is O(1), so a
  // flood of spoofed sources costs the control thread constant time each.
  std::list<IpAddress> recent_;
};

}  // namespace nsgate
