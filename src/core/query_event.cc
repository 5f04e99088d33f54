// SPDX-License-Identifier: BSD-3-Clause
#include "core/query_event.hh"

#include <algorithm>
#include <cstring>

#include "core/dns_message.hh"
#include "core/format.hh"

namespace nsgate {

void fill_event(QueryEvent& ev, const pkt::Packet& p, bool tcp_framed) {
  ev.src = p.src;
  ev.dst = p.dst;
  ev.sport = p.sport;
  ev.dport = p.dport;
  ev.proto = p.proto;
  // Events are filled in slots earlier events used: reset what a payload
  // without a readable question would leave alone.
  ev.dns_id = 0;
  ev.qtype = 0;
  ev.qname_len = 0;
  std::span<const std::byte> msg = p.payload;
  if (tcp_framed) {
    // DNS over TCP: a 2-byte length, then the message (first segment only).
    if (msg.size() < 2) return;
    msg = msg.subspan(2);
  }
  // The usual query, read in place (a worker builds an event for every
  // query it drops); anything else through the Reader, which also takes
  // several questions or other opcodes. Either way the name is kept as
  // DnsName keeps it: lower-cased.
  if (dns::QueryView v; dns::read_query(msg, v)) {
    ev.dns_id = v.id;
    ev.qtype = v.qtype;
    ev.qname_len = static_cast<uint8_t>(v.name_size);
    for (size_t i = 0; i < v.name_size; ++i) ev.qname[i] = dns_lower(v.name[i]);
    return;
  }
  dns::Reader r(msg);
  dns::Header h;
  if (r.open(h) != dns::Fault::none) return;
  ev.dns_id = h.id;
  dns::Question q;
  if (h.qdcount == 0 || r.next(q) != dns::Fault::none) return;
  ev.qtype = q.qtype;
  ev.qname_len = static_cast<uint8_t>(q.name.wire_size());
  std::memcpy(ev.qname, q.name.wire(), q.name.wire_size());
}

std::string qname_text(const QueryEvent& ev) {
  if (ev.qname_len == 0) return "";
  // Re-assemble through DnsName for consistent escaping.
  DnsName n;
  size_t at = 0;
  while (at < ev.qname_len && ev.qname[at] != 0 && at + 1 + ev.qname[at] <= ev.qname_len) {
    if (!n.append_label(ev.qname + at + 1, ev.qname[at])) break;
    at += 1 + ev.qname[at];
  }
  return n.to_string();
}

std::string eve_json(const QueryEvent& ev, uint64_t suppressed) {
  const char* type = ev.verdict == Verdict::drop_unknown || ev.verdict == Verdict::drop_undecodable ? "drop"
                     : ev.verdict == Verdict::alert_unknown                                         ? "alert"
                                                                                                    : "pass";
  char tb[12];
  std::string j = "{\"timestamp\":" + json_string(format_time(ev.time)) + ",\"event_type\":\"" + type +
                  "\",\"src_ip\":" + json_string(ev.src.to_string()) + ",\"src_port\":" + std::to_string(ev.sport) +
                  ",\"dest_ip\":" + json_string(ev.dst.to_string()) + ",\"dest_port\":" + std::to_string(ev.dport) +
                  ",\"proto\":\"" + (ev.proto == pkt::kProtoTcp ? "TCP" : "UDP") + "\",\"dns\":{\"id\":" +
                  std::to_string(ev.dns_id) + ",\"rrname\":" + json_string(qname_text(ev)) +
                  ",\"rrtype\":" + json_string(ev.qname_len ? dns::type_name(ev.qtype, tb) : "") +
                  "},\"nsgate\":{\"reason\":\"" + reason_word(ev.verdict) + "\",\"verdict\":\"" +
                  to_string(ev.verdict) + "\"";
  if (suppressed) j += ",\"suppressed\":" + std::to_string(suppressed);
  return j + "}}";
}

bool RateLimiter::allow(const IpAddress& src, TimeNs now, uint64_t& suppressed) {
  auto it = buckets_.find(src);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_sources_ && !recent_.empty()) {
      buckets_.erase(recent_.back());
      recent_.pop_back();
    }
    recent_.push_front(src);
    it = buckets_.emplace(src, Bucket{burst_, now, 0, recent_.begin()}).first;
  } else {
    recent_.splice(recent_.begin(), recent_, it->second.recency);
  }
  Bucket& b = it->second;
  double elapsed = static_cast<double>(std::max<TimeNs>(0, now - b.last)) / 1e9;
  b.tokens = std::min(burst_, b.tokens + elapsed * rate_);
  // Events of several workers arrive out of time order: a time already
  // credited must not be credited again.
  b.last = std::max(b.last, now);
  if (b.tokens < 1.0) {
    ++b.suppressed;
    suppressed = 0;
    return false;
  }
  b.tokens -= 1.0;
  suppressed = b.suppressed;
  b.suppressed = 0;
  return true;
}

void RateLimiter::set_limits(double rate, double burst) {
  rate_ = rate;
  burst_ = burst;
  for (auto& [src, b] : buckets_) b.tokens = std::min(b.tokens, burst_);
}

}  // namespace nsgate
