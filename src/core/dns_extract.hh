// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// From captured frames to DNS messages: decodes each frame, picks UDP and TCP
// traffic on the DNS ports, and reassembles DNS over TCP (RFC 1035 §4.2.2
// length framing) across segments, several messages per segment included.
// Offline path only: it allocates per TCP stream and is single-threaded.

#include <array>
#include <functional>
#include <list>
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
  uint64_t fragments = 0;        // IP fragments seen
  uint64_t reassembled = 0;      // datagrams rebuilt from fragments
  uint64_t fragments_dropped = 0;  // reassemblies abandoned (timeout, limits)
  uint64_t cut_packets = 0;      // frames the capture cut short (snap length)
  uint64_t udp_messages = 0, tcp_messages = 0;
  uint64_t tcp_gaps = 0;        // missing stream bytes; the stream resynchronised
  uint64_t tcp_streams_evicted = 0;
  uint64_t dns_messages() const { return udp_messages + tcp_messages; }
  uint64_t decode_errors() const;
};

class TcpDnsReassembler {
 public:
  // The direction a message travelled: a message may complete while a
  // segment of the other direction is being handled (see skip_lost).
  struct Flow {
    IpAddress src, dst;
    uint16_t sport, dport;
  };
  using Sink = std::function<void(const Flow&, std::span<const std::byte>)>;
  // At most `max_streams` streams holding at most `max_bytes` of unconsumed
  // data between them; when either is reached, the streams seen least
  // recently go first, those begun without a SYN before the others
  // (counted in tcp_streams_evicted), in constant time each: anyone can
  // send segments from port 53, and a flood of them must neither cost the
  // learner a scan per segment nor keep a resolver's new stream out.
  // Streams idle for `idle_timeout` go (uncounted) when a new one begins.
  TcpDnsReassembler(ExtractStats& stats, size_t max_streams, TimeNs idle_timeout, size_t max_bytes);
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
    Flow flow;
    uint32_t next_seq = 0;
    std::vector<std::byte> buffer;                        // unconsumed in-order bytes
    std::map<uint32_t, std::vector<std::byte>> ahead;     // out-of-order segments
    TimeNs last_seen = 0;
    size_t bytes = 0;                  // buffer and ahead, as last counted in buffered_
    bool handshake = false;            // begun with a SYN (else mid-way)
    std::list<Key>::iterator recency;  // its place in recency_[handshake]
  };
  using Streams = std::unordered_map<Key, Stream, KeyHash>;
  static constexpr size_t kMaxAhead = 64;
  static constexpr size_t kMaxBuffer = 2 + 65535;
  void drain(Stream& s, const Sink& sink);
  void skip_lost(Stream& s, uint32_t acked, const Sink& sink);
  void append(Stream& s, uint32_t seq, std::span<const std::byte> data);
  // A new, empty stream for `k`, room made first.
  Streams::iterator open(const Key& k, TimeNs now, bool handshake);
  // The stream to drop first (not `keep`): the least recently seen of those
  // begun mid-way, else of the others; end() if none but `keep`.
  Streams::iterator least_wanted(const Stream* keep);
  void erase(Streams::iterator it);
  // Brings buffered_ up to date with `s` and evicts the least recent
  // streams (never `keep`) while it is above max_bytes_.
  void recount(Stream& s, const Stream* keep);

  ExtractStats& stats_;
  size_t max_streams_;
  TimeNs idle_timeout_;
  size_t max_bytes_;
  size_t buffered_ = 0;
  Streams streams_;
  std::list<Key> recency_[2];  // by Stream::handshake, most recently seen first
};

// Rebuilds IP datagrams from fragments (IPv4 and IPv6), so that `decode`
// shows what a fragmented response said. The learner still refuses them.
class FragmentReassembler {
 public:
  explicit FragmentReassembler(ExtractStats& stats) : stats_(stats) {}
  // Takes one fragment; when it completes a datagram, returns its IP payload
  // (valid until the next call). Empty otherwise.
  std::span<const std::byte> feed(const pkt::Packet& p, TimeNs now);

 private:
  struct Key {
    IpAddress src, dst;
    uint32_t id;
    uint8_t proto;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const noexcept;
  };
  struct Datagram {
    std::vector<std::byte> data;
    std::vector<std::pair<uint32_t, uint32_t>> have;  // [begin, end) ranges received
    uint32_t total = 0;                                // known once the last fragment arrived
    TimeNs first_seen = 0;
    std::list<Key>::iterator order;                    // its place in order_
  };
  static constexpr size_t kMaxDatagrams = 4096;
  static constexpr size_t kMaxPieces = 256;
  static constexpr TimeNs kTimeout = 30 * kNsPerSec;  // as Linux ipfrag_time
  void erase(std::unordered_map<Key, Datagram, KeyHash>::iterator it);
  ExtractStats& stats_;
  std::unordered_map<Key, Datagram, KeyHash> pending_;
  std::list<Key> order_;  // by when they began, oldest first
  std::vector<std::byte> done_;
};

class DnsExtractor {
 public:
  using Sink = std::function<void(const DnsMessageEvent&)>;
  static constexpr size_t kMaxTcpBytes = size_t{64} << 20;
  explicit DnsExtractor(std::vector<uint16_t> dns_ports = {53}, size_t max_tcp_streams = 65536,
                        size_t max_tcp_bytes = kMaxTcpBytes);
  // `wire_length`: the packet's length on the wire if the capture cut it.
  void feed(pkt::LinkType link, TimeNs time, std::span<const std::byte> frame, const Sink& sink,
            size_t wire_length = 0);
  const ExtractStats& stats() const { return stats_; }
  bool is_dns_port(uint16_t port) const;
  // New DNS ports (a reload); TCP streams under way on the old ones go on.
  void set_dns_ports(std::vector<uint16_t> ports) { ports_ = std::move(ports); }

 private:
  std::vector<uint16_t> ports_;
  ExtractStats stats_;
  TcpDnsReassembler tcp_;
  FragmentReassembler frags_;
  pkt::Packet packet_;
};

}  // namespace nsgate
