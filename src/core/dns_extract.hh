// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// From captured frames to DNS messages: decodes each frame, picks UDP and TCP
// traffic on the DNS ports, and reassembles DNS over TCP (RFC 1035 §4.2.2
// length framing) across segments, several messages per segment included.
// Offline path only: it allocates per TCP stream and is single-threaded.

#include <array>
#include <functional>
#include <map>
#include <span>
#include <unordered_map>
#include <vector>

#include "core/packet.hh"
#include "core/time.hh"

namespace nsgate {

struct DnsMessageEvent {
  uint64_t frame = 0;  // 1-based frame number in the capture
  TimeNs time = 0;
  const pkt::Packet* packet = nullptr;  // the frame that completed the message
  bool tcp = false;
  std::span<const std::byte> message;
};

struct ExtractStats {
  uint64_t frames = 0;
  std::array<uint64_t, pkt::kDecodeResultCount> decode{};
  uint64_t not_dns = 0;         // IP but not UDP/TCP on a DNS port
  uint64_t later_fragments = 0; // non-first fragments: no ports to judge
  uint64_t udp_messages = 0, tcp_messages = 0;
  uint64_t tcp_gaps = 0;        // missing stream bytes; the stream resynchronised
  uint64_t tcp_streams_evicted = 0;
  uint64_t dns_messages() const { return udp_messages + tcp_messages; }
  uint64_t decode_errors() const;
};

class TcpDnsReassembler {
 public:
  using Sink = std::function<void(std::span<const std::byte>)>;
  TcpDnsReassembler(ExtractStats& stats, size_t max_streams, TimeNs idle_timeout);
  void feed(const pkt::Packet& p, TimeNs now, const Sink& sink);
  size_t streams() const { return streams_.size(); }

 private:
  struct Key {
    IpAddress src, dst;
    uint16_t sport, dport;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const noexcept;
  };
  struct Stream {
    uint32_t next_seq = 0;
    std::vector<std::byte> buffer;                        // unconsumed in-order bytes
    std::map<uint32_t, std::vector<std::byte>> ahead;     // out-of-order segments
    TimeNs last_seen = 0;
  };
  static constexpr size_t kMaxAhead = 64;
  static constexpr size_t kMaxBuffer = 2 + 65535;
  void drain(Stream& s, const Sink& sink);
  void append(Stream& s, uint32_t seq, std::span<const std::byte> data);
  void evict_idle(TimeNs now);

  ExtractStats& stats_;
  size_t max_streams_;
  TimeNs idle_timeout_;
  std::unordered_map<Key, Stream, KeyHash> streams_;
};

class DnsExtractor {
 public:
  using Sink = std::function<void(const DnsMessageEvent&)>;
  explicit DnsExtractor(std::vector<uint16_t> dns_ports = {53}, size_t max_tcp_streams = 65536);
  void feed(pkt::LinkType link, TimeNs time, std::span<const std::byte> frame, const Sink& sink);
  const ExtractStats& stats() const { return stats_; }
  bool is_dns_port(uint16_t port) const;

 private:
  std::vector<uint16_t> ports_;
  ExtractStats stats_;
  TcpDnsReassembler tcp_;
  pkt::Packet packet_;
};

}  // namespace nsgate
