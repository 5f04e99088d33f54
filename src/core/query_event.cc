// SPDX-License-Identifier: BSD-3-Clause
#include "core/query_event.hh"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "core/dns_message.hh"
#include "core/format.hh"

namespace nsgate {

std::string address_text(const QueryEvent& ev, const IpAddress& a) {
  return ev.ip_version == 6 && a.is_v4() ? "::ffff:" + a.to_string() : a.to_string();
}

void fill_event(QueryEvent& ev, const pkt::Packet& p, bool tcp_framed) {
  ev.src = p.src;
  ev.dst = p.dst;
  ev.sport = p.sport;
  ev.dport = p.dport;
  ev.proto = p.proto;
  ev.ip_version = static_cast<uint8_t>(p.ip_version);
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
  // several questions or other opcodes. The name is copied as it came;
  // qname_text() lower-cases it off the data path.
  if (dns::QueryView v; dns::read_query(msg, v)) {
    ev.dns_id = v.id;
    ev.qtype = v.qtype;
    ev.qname_len = static_cast<uint8_t>(v.name_size);
    std::memcpy(ev.qname, v.name, v.name_size);
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
                  "\",\"src_ip\":" + json_string(address_text(ev, ev.src)) + ",\"src_port\":" + std::to_string(ev.sport) +
                  ",\"dest_ip\":" + json_string(address_text(ev, ev.dst)) + ",\"dest_port\":" + std::to_string(ev.dport) +
                  ",\"proto\":\"" + (ev.proto == pkt::kProtoTcp ? "TCP" : "UDP") + "\",\"dns\":{\"id\":" +
                  std::to_string(ev.dns_id) + ",\"rrname\":" + json_string(qname_text(ev)) +
                  ",\"rrtype\":" + json_string(ev.qname_len ? dns::type_name(ev.qtype, tb) : "") +
                  "},\"nsgate\":{\"reason\":\"" + reason_word(ev.verdict) + "\",\"verdict\":\"" +
                  to_string(ev.verdict) + "\"";
  if (suppressed) j += ",\"suppressed\":" + std::to_string(suppressed);
  return j + "}}";
}

bool RateLimiter::allow(const IpAddress& src, TimeNs now, uint64_t& suppressed,
                        std::optional<Forgotten>* forgotten) {
  auto it = buckets_.find(src);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_sources_ && !recent_.empty()) {
      auto oldest = buckets_.find(recent_.back());
      if (forgotten) *forgotten = Forgotten{oldest->first, oldest->second.suppressed};
      buckets_.erase(oldest);
      recent_.pop_back();
    }
    recent_.push_front(src);
    it = buckets_.emplace(src, Bucket{burst_, now, 0, recent_.begin()}).first;
  } else {
    recent_.splice(recent_.begin(), recent_, it->second.recency);
  }
  Bucket& b = it->second;
  refill(b, now);
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

void RateLimiter::refill(Bucket& b, TimeNs now) const {
  if (b.last - now > kClockStep) b.last = now;
  double elapsed = static_cast<double>(std::max<TimeNs>(0, now - b.last)) / 1e9;
  b.tokens = std::min(burst_, b.tokens + elapsed * rate_);
  // Events of several workers arrive out of time order: a time already
  // credited must not be credited again.
  b.last = std::max(b.last, now);
}

bool RateLimiter::take_token(const IpAddress& src, TimeNs now, uint64_t& suppressed) {
  auto it = buckets_.find(src);
  if (it == buckets_.end()) return false;
  Bucket& b = it->second;
  refill(b, now);
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  suppressed = std::exchange(b.suppressed, 0);
  return true;
}

uint64_t RateLimiter::take_suppressed(const IpAddress& src) {
  auto it = buckets_.find(src);
  if (it == buckets_.end()) return 0;
  return std::exchange(it->second.suppressed, 0);
}

TimeNs RateLimiter::token_at(const IpAddress& src, TimeNs now) const {
  auto it = buckets_.find(src);
  if (it == buckets_.end()) return now;
  const Bucket& b = it->second;
  TimeNs last = b.last - now > kClockStep ? now : b.last;  // as refill() will see it
  if (b.tokens >= 1.0) return last;
  if (!(rate_ > 0)) return kNever;
  // Rounded up: at the returned time allow() finds the whole token. A wait
  // past the end of TimeNs (a tiny rate) is never.
  double wait = std::ceil((1.0 - b.tokens) / rate_ * 1e9);
  if (!(wait < static_cast<double>(kNever - std::max<TimeNs>(last, 0)))) return kNever;
  return last + static_cast<TimeNs>(wait);
}

void RateLimiter::refill_all(TimeNs now) {
  for (auto& [src, b] : buckets_) refill(b, now);
}

void RateLimiter::set_limits(double rate, double burst) {
  rate_ = rate;
  burst_ = burst;
  for (auto& [src, b] : buckets_) b.tokens = std::min(b.tokens, burst_);
}

void EventThrottle::offer(const QueryEvent& ev, const Write& write) {
  uint64_t suppressed = 0;
  std::optional<RateLimiter::Forgotten> forgotten;
  bool allowed = limiter_.allow(ev.src, ev.time, suppressed, &forgotten);
  if (forgotten) {
    // Its bucket and count are gone: its held event is written now or never.
    if (auto h = held_.find(forgotten->src); h != held_.end()) {
      write(h->second.ev, forgotten->suppressed ? forgotten->suppressed - 1 : 0);
      held_.erase(h);
    }
  }
  if (allowed) {
    held_.erase(ev.src);  // counted in `suppressed`
    write(ev, suppressed);
    return;
  }
  auto [h, fresh] = held_.try_emplace(ev.src);
  h->second.ev = ev;
  if (fresh) {
    h->second.due = limiter_.token_at(ev.src, ev.time);
    due_.push({h->second.due, ev.src});
  }
}

void EventThrottle::set_limits(double rate, double burst, TimeNs now) {
  limiter_.set_limits(rate, burst);
  reschedule(now);
}

void EventThrottle::reschedule(TimeNs now) {
  due_ = {};
  for (auto& [src, h] : held_) {
    h.due = limiter_.token_at(src, now);
    if (h.due != RateLimiter::kNever) due_.push({h.due, src});
  }
}

void EventThrottle::flush(TimeNs now, const Write& write) {
  if (last_flush_ - now > RateLimiter::kClockStep) {
    // The clock stepped back: the held events' due times are on the old
    // clock, as far ahead as the step. Restart every bucket from `now`.
    limiter_.refill_all(now);
    reschedule(now);
  }
  last_flush_ = now;
  while (!due_.empty() && due_.top().first <= now) {
    auto [due, src] = due_.top();
    due_.pop();
    auto h = held_.find(src);
    if (h == held_.end() || h->second.due != due) continue;  // written or re-queued since
    // The limits may have changed (a reload): the bucket decides. The token
    // is earned by the client's quiet time up to `now`.
    uint64_t suppressed = 0;
    if (limiter_.take_token(src, now, suppressed)) {
      write(h->second.ev, suppressed ? suppressed - 1 : 0);
      held_.erase(h);
    } else if (TimeNs token = limiter_.token_at(src, now); token != RateLimiter::kNever) {
      h->second.due = std::max(token, now + 1);  // rounding must not loop here
      due_.push({h->second.due, src});
    }
  }
}

void EventThrottle::flush_all(const Write& write) {
  for (auto& [src, h] : held_) {
    // Not through allow(): at stop there is no later event to hold back for.
    uint64_t suppressed = limiter_.take_suppressed(src);
    write(h.ev, suppressed ? suppressed - 1 : 0);
  }
  held_.clear();
  due_ = {};
}

}  // namespace nsgate
