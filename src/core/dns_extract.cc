// SPDX-License-Identifier: BSD-3-Clause
#include "core/dns_extract.hh"

#include <algorithm>

namespace nsgate {

uint64_t ExtractStats::decode_errors() const {
  uint64_t n = 0;
  for (size_t i = 0; i < decode.size(); ++i) {
    auto r = static_cast<pkt::DecodeResult>(i);
    if (r != pkt::DecodeResult::ok && r != pkt::DecodeResult::not_ip) n += decode[i];
  }
  return n;
}

size_t TcpDnsReassembler::KeyHash::operator()(const Key& k) const noexcept {
  return IpAddressHash{}(k.src) * 31 + IpAddressHash{}(k.dst) * 7 + (size_t{k.sport} << 16 | k.dport);
}

TcpDnsReassembler::TcpDnsReassembler(ExtractStats& stats, size_t max_streams, TimeNs idle_timeout, size_t max_bytes)
    : stats_(stats), max_streams_(std::max<size_t>(max_streams, 1)), idle_timeout_(idle_timeout), max_bytes_(max_bytes) {}

TcpDnsReassembler::Streams::iterator TcpDnsReassembler::least_wanted(const Stream* keep) {
  // Streams begun mid-way first: anyone can send a segment from port 53,
  // while a stream whose SYN was seen has at least the look of a real one.
  for (auto& order : recency_) {
    if (order.empty()) continue;
    auto oldest = streams_.find(order.back());
    if (&oldest->second != keep) return oldest;
  }
  return streams_.end();
}

TcpDnsReassembler::Streams::iterator TcpDnsReassembler::open(const Key& k, TimeNs now, bool handshake) {
  // Idle ones go (they were over), uncounted; then, while still full, the
  // least wanted.
  for (auto& order : recency_)
    while (!order.empty()) {
      auto oldest = streams_.find(order.back());
      if (now - oldest->second.last_seen <= idle_timeout_) break;
      erase(oldest);
    }
  while (streams_.size() >= max_streams_) {
    erase(least_wanted(nullptr));
    ++stats_.tcp_streams_evicted;
  }
  auto it = streams_.emplace(k, Stream{}).first;
  auto& order = recency_[handshake];
  order.push_front(k);
  it->second.recency = order.begin();
  it->second.handshake = handshake;
  it->second.last_seen = now;
  return it;
}

void TcpDnsReassembler::erase(Streams::iterator it) {
  buffered_ -= it->second.bytes;
  recency_[it->second.handshake].erase(it->second.recency);
  streams_.erase(it);
}

void TcpDnsReassembler::recount(Stream& s, const Stream* keep) {
  size_t bytes = s.buffer.size();
  for (const auto& [seq, data] : s.ahead) bytes += data.size();
  buffered_ = buffered_ - s.bytes + bytes;
  s.bytes = bytes;
  while (buffered_ > max_bytes_) {
    auto victim = least_wanted(keep);
    if (victim == streams_.end()) break;  // `keep` holds it all
    erase(victim);
    ++stats_.tcp_streams_evicted;
  }
}

// Appends in-order bytes, discarding any part already consumed (retransmits).
void TcpDnsReassembler::append(Stream& s, uint32_t seq, std::span<const std::byte> data) {
  auto behind = static_cast<int32_t>(s.next_seq - seq);
  if (behind > 0) {
    if (static_cast<size_t>(behind) >= data.size()) return;
    data = data.subspan(static_cast<size_t>(behind));
  }
  if (s.buffer.size() + data.size() > kMaxBuffer) {
    // Cannot be one DNS message: the framing is lost; start over here.
    ++stats_.tcp_gaps;
    s.buffer.clear();
  }
  s.buffer.insert(s.buffer.end(), data.begin(), data.end());
  s.next_seq += static_cast<uint32_t>(data.size());
}

void TcpDnsReassembler::drain(Stream& s, const Sink& sink) {
  // Out-of-order segments that now connect.
  while (!s.ahead.empty()) {
    auto it = s.ahead.begin();
    // Smallest sequence number relative to next_seq (map order ignores wrap).
    for (auto i = s.ahead.begin(); i != s.ahead.end(); ++i)
      if (static_cast<int32_t>(i->first - s.next_seq) < static_cast<int32_t>(it->first - s.next_seq))
        it = i;
    if (static_cast<int32_t>(it->first - s.next_seq) > 0) break;
    append(s, it->first, it->second);
    s.ahead.erase(it);
  }
  size_t at = 0;
  while (s.buffer.size() - at >= 2) {
    size_t len = std::to_integer<size_t>(s.buffer[at]) << 8 | std::to_integer<size_t>(s.buffer[at + 1]);
    if (s.buffer.size() - at - 2 < len) break;
    if (len > 0) sink(s.flow, std::span<const std::byte>(s.buffer.data() + at + 2, len));
    at += 2 + len;
  }
  s.buffer.erase(s.buffer.begin(), s.buffer.begin() + static_cast<std::ptrdiff_t>(at));
}

// The peer acknowledged bytes this capture never saw: they were delivered
// but not captured, and will not be retransmitted. Give up on the hole
// (and the message it cut) and resume at the next captured segment, which
// is taken to start a message (as tshark does).
void TcpDnsReassembler::skip_lost(Stream& s, uint32_t acked, const Sink& sink) {
  if (static_cast<int32_t>(acked - s.next_seq) <= 0) return;
  uint32_t resume = acked;
  for (const auto& [seq, data] : s.ahead)
    if (static_cast<int32_t>(seq - resume) < 0 && static_cast<int32_t>(seq - s.next_seq) > 0) resume = seq;
  ++stats_.tcp_gaps;
  s.buffer.clear();
  s.next_seq = resume;
  drain(s, sink);
}

void TcpDnsReassembler::feed(const pkt::Packet& p, TimeNs now, const Sink& sink) {
  Key k{p.src, p.dst, p.sport, p.dport};
  if (p.tcp_flags & pkt::tcp_flag::ack) {
    auto rev = streams_.find(Key{p.dst, p.src, p.dport, p.sport});
    if (rev != streams_.end()) {
      skip_lost(rev->second, p.tcp_ack, sink);
      recount(rev->second, &rev->second);
    }
  }
  auto it = streams_.find(k);
  if (p.tcp_flags & pkt::tcp_flag::syn) {
    if (it != streams_.end()) erase(it);
    it = open(k, now, true);
    it->second.flow = {p.src, p.dst, p.sport, p.dport};
    it->second.next_seq = p.tcp_seq + 1;
    return;
  }
  if (it == streams_.end()) {
    if (p.payload.empty()) return;
    // Mid-stream start (capture began after the handshake): trust this segment.
    it = open(k, now, false);
    it->second.flow = {p.src, p.dst, p.sport, p.dport};
    it->second.next_seq = p.tcp_seq;
  }
  Stream& s = it->second;
  s.last_seen = now;
  auto& order = recency_[s.handshake];
  order.splice(order.begin(), order, s.recency);  // now the most recent
  if (!p.payload.empty()) {
    auto ahead = static_cast<int32_t>(p.tcp_seq - s.next_seq);
    if (ahead > 0) {
      if (s.ahead.size() >= kMaxAhead) {
        // Too much missing: give up on the hole and resume at the earliest segment.
        ++stats_.tcp_gaps;
        s.buffer.clear();
        auto first = s.ahead.begin();
        for (auto i = s.ahead.begin(); i != s.ahead.end(); ++i)
          if (static_cast<int32_t>(i->first - first->first) < 0) first = i;
        s.next_seq = first->first;
      }
      auto& slot = s.ahead[p.tcp_seq];
      if (p.payload.size() > slot.size()) slot.assign(p.payload.begin(), p.payload.end());
    } else {
      append(s, p.tcp_seq, p.payload);
    }
    drain(s, sink);
    recount(s, &s);
  }
  if (p.tcp_flags & (pkt::tcp_flag::fin | pkt::tcp_flag::rst)) erase(it);
}

size_t FragmentReassembler::KeyHash::operator()(const Key& k) const noexcept {
  return IpAddressHash{}(k.src) * 31 + IpAddressHash{}(k.dst) * 7 + k.id * 3 + k.proto;
}

void FragmentReassembler::erase(std::unordered_map<Key, Datagram, KeyHash>::iterator it) {
  order_.erase(it->second.order);
  pending_.erase(it);
}

std::span<const std::byte> FragmentReassembler::feed(const pkt::Packet& p, TimeNs now) {
  // Those begun longest ago go first: timed out, or to make room (one at a
  // time, not a scan of every datagram per fragment as a flood arrives).
  while (!order_.empty()) {
    auto oldest = pending_.find(order_.front());
    if (pending_.size() < kMaxDatagrams && now - oldest->second.first_seen <= kTimeout) break;
    erase(oldest);
    ++stats_.fragments_dropped;
  }
  Key k{p.src, p.dst, p.frag_id, p.proto};
  auto [it, fresh] = pending_.try_emplace(k);
  Datagram& d = it->second;
  if (fresh) {
    d.first_seen = now;
    order_.push_back(k);
    d.order = std::prev(order_.end());
  }
  uint64_t end = uint64_t{p.frag_offset} + p.ip_payload.size();
  // A real datagram comes in a few dozen pieces; overlapping ones without
  // end would each cost a sort of all before them.
  if (end > 65535 || now - d.first_seen > kTimeout || d.have.size() >= kMaxPieces) {
    ++stats_.fragments_dropped;
    erase(it);
    return {};
  }
  if (d.data.size() < end) d.data.resize(end);
  std::copy(p.ip_payload.begin(), p.ip_payload.end(), d.data.begin() + p.frag_offset);
  d.have.emplace_back(p.frag_offset, static_cast<uint32_t>(end));
  if (!p.more_fragments) d.total = static_cast<uint32_t>(end);
  if (d.total == 0) return {};
  std::sort(d.have.begin(), d.have.end());
  uint32_t covered = 0;
  for (const auto& [b, e] : d.have) {
    if (b > covered) return {};  // a hole remains
    covered = std::max(covered, e);
  }
  if (covered < d.total) return {};
  done_.assign(d.data.begin(), d.data.begin() + d.total);
  erase(it);
  ++stats_.reassembled;
  return done_;
}

DnsExtractor::DnsExtractor(std::vector<uint16_t> dns_ports, size_t max_tcp_streams, size_t max_tcp_bytes)
    : ports_(std::move(dns_ports)), tcp_(stats_, max_tcp_streams, 120 * kNsPerSec, max_tcp_bytes), frags_(stats_) {}

bool DnsExtractor::is_dns_port(uint16_t port) const {
  return std::find(ports_.begin(), ports_.end(), port) != ports_.end();
}

void DnsExtractor::feed(pkt::LinkType link, TimeNs time, std::span<const std::byte> frame,
                        const Sink& sink, size_t wire_length) {
  uint64_t frame_no = ++stats_.frames;
  pkt::DecodeResult r = pkt::decode(link, frame, packet_, wire_length);
  ++stats_.decode[static_cast<size_t>(r)];
  if (r != pkt::DecodeResult::ok) return;
  stats_.cut_packets += packet_.cut;
  if (packet_.fragment) {
    ++stats_.fragments;
    if (packet_.cut) return;
    std::span<const std::byte> whole = frags_.feed(packet_, time);
    if (whole.empty()) return;
    if (pkt::decode_transport(whole, packet_) != pkt::DecodeResult::ok) return;
  }
  if (!packet_.has_ports || !(is_dns_port(packet_.sport) || is_dns_port(packet_.dport))) {
    ++stats_.not_dns;
    return;
  }
  DnsMessageEvent ev;
  ev.frame = frame_no;
  ev.time = time;
  ev.packet = &packet_;
  if (packet_.proto == pkt::kProtoUdp) {
    ++stats_.udp_messages;
    ev.message = packet_.payload;
    sink(ev);
    return;
  }
  ev.tcp = true;
  if (packet_.cut) return;  // a cut segment would corrupt the stream
  tcp_.feed(packet_, time, [&](const TcpDnsReassembler::Flow& flow, std::span<const std::byte> msg) {
    ++stats_.tcp_messages;
    pkt::Packet as_sent = packet_;
    as_sent.src = flow.src;
    as_sent.dst = flow.dst;
    as_sent.sport = flow.sport;
    as_sent.dport = flow.dport;
    ev.packet = &as_sent;
    ev.message = msg;
    sink(ev);
  });
}

}  // namespace nsgate
