// SPDX-License-Identifier: BSD-3-Clause
#include "dp/dataplane.hh"

#include <rte_atomic.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_lcore.h>
#include <rte_ring_peek.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_prefetch.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>
#include <rte_ring_peek_zc.h>
#include <net/if.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/dns_message.hh"
#include "core/x_names.hh"

namespace nsgate::dp {

NSGATE_DEFINE_NAMES(Counter, NSGATE_DP_COUNTERS)

namespace {
constexpr uint16_t kBurst = 32;
constexpr unsigned kRingSize = 4096;
constexpr unsigned kHoldRing = 1024;
constexpr uint16_t kRxDesc = 1024, kTxDesc = 1024;
// The learner thread's housekeeping: every millisecond, at most this many
// expiries (table deletions, ~1 us each) and tracked-query buckets, so that
// no call holds up learning for more than a fraction of a millisecond,
// while up to 256 k expiries/s and a full 1 M-query sweep per ~0.1 s fit.
constexpr TimeNs kHousekeepingNs = 1'000'000;
constexpr size_t kExpiryBudget = 256;
constexpr size_t kQuerySweepBuckets = 16384;
constexpr int kLearnerNice = -10;
constexpr int kSnapshotNice = 10;
// Slots a learner pass copies for a snapshot: 30 us of a pass on average
// with 1 M records, 0.5 ms at worst (2.7 ms in the first copy, whose pages
// were fresh); a million-record copy takes about two thousand passes,
// 56 ms of copying in all (nsgate run, a temporary timer).
constexpr size_t kFreezeSlice = 512;
// The mbufs' data room: DPDK's default, or more where a net_af_packet port
// asks for larger frames (`framesz=N`): its receive queue refuses frames
// its mbufs cannot hold, and the kernel hands it fragmented datagrams
// reassembled, as large as the frames allow.
uint16_t data_room_for(const PortsConfig& ports) {
  size_t room = RTE_MBUF_DEFAULT_BUF_SIZE;
  for (const std::string* spec : {&ports.inside, &ports.outside, &ports.mirror}) {
    if (spec->rfind("net_af_packet", 0) != 0) continue;
    size_t at = spec->find(",framesz=");
    if (at == std::string::npos) continue;
    size_t frame = std::strtoul(spec->c_str() + at + 9, nullptr, 10);
    room = std::max(room, std::min<size_t>(frame + RTE_PKTMBUF_HEADROOM, UINT16_MAX));
  }
  return static_cast<uint16_t>(room);
}
// Frames' headers are prefetched this many frames ahead of the one being
// read (4 % more frames/s on tools/bench/forward's mix, four alternating
// runs). prefetch_headers(rx, n, 0) starts the first kPrefetchAhead; then
// prefetch_headers(rx, n, i + kPrefetchAhead) before frame i.
constexpr uint16_t kPrefetchAhead = 4;
inline void prefetch_headers(rte_mbuf* const* rx, uint16_t n, uint16_t at) {
  if (at == 0) {
    for (uint16_t i = 0; i < n && i < kPrefetchAhead; ++i) rte_prefetch0(rte_pktmbuf_mtod(rx[i], const void*));
  } else if (at >= kPrefetchAhead && at < n) {
    rte_prefetch0(rte_pktmbuf_mtod(rx[at], const void*));
  }
}
// net_pcap stamps mbufs with the capture's time in microseconds.
constexpr TimeNs kTimestampUnitNs = 1000;

TimeNs clock_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return TimeNs{ts.tv_sec} * kNsPerSec + ts.tv_nsec;
}

// The time stamped on what a worker hands the learner. The learner takes
// a response once its stamp is older than the start of a pass, and by then
// the query ahead of it (a record committed, or a packet enqueued, earlier
// on this core) must be visible in its ring. A store can still sit in this
// core's store buffer while the clock is read, so the stamp could precede
// the query's visibility: in 7 of 38 runs of the learning window of
// tools/bench/forward one response was refused as unsolicited. The full fence makes the
// earlier ring writes visible first; the read fence keeps the clock read
// from running ahead of it.
TimeNs handoff_stamp() {
  rte_mb();
  rte_rmb();
  return clock_ns(CLOCK_MONOTONIC);
}

// The MTU of a kernel interface (0 if unknown, or too small to fragment
// for: IPv4's minimum is 68, anything below 576 is no link nsgate runs on).
uint16_t kernel_mtu(unsigned if_index) {
  char name[IF_NAMESIZE] = "";
  if (if_index == 0 || !if_indextoname(if_index, name)) return 0;
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  ifreq r{};
  std::memcpy(r.ifr_name, name, std::min(sizeof r.ifr_name - 1, std::strlen(name)));
  int rc = ::ioctl(fd, SIOCGIFMTU, &r);
  ::close(fd);
  return rc == 0 && r.ifr_mtu >= 576 && r.ifr_mtu <= 65535 ? static_cast<uint16_t>(r.ifr_mtu) : 0;
}

// A frame's first segment. A frame longer than one mbuf (net_pcap chains
// frames past 2 KB, scattered RX does) goes on in more segments: the
// workers decode the first as a frame cut at that length (its headers are
// there: judged, never taught from), with chained_length() as decode()'s
// wire length; the learner reads such a frame whole (whole_frame).
std::span<const std::byte> frame_of(const rte_mbuf* m) {
  return {rte_pktmbuf_mtod(m, const std::byte*), rte_pktmbuf_data_len(m)};
}
size_t chained_length(const rte_mbuf* m) { return m->nb_segs > 1 ? rte_pktmbuf_pkt_len(m) : 0; }
std::span<const std::byte> whole_frame(const rte_mbuf* m, std::vector<std::byte>& scratch) {
  if (m->nb_segs == 1) return frame_of(m);
  scratch.resize(rte_pktmbuf_pkt_len(m));
  const void* p = rte_pktmbuf_read(m, 0, rte_pktmbuf_pkt_len(m), scratch.data());
  return {static_cast<const std::byte*>(p), scratch.size()};
}

// Elements of T written straight into the slots of a single-producer
// element ring, where the consumer will read them (zero-copy), instead of
// being built aside and copied in: copying the 320-byte drop-log events in,
// four bytes at a time, was a third of inside_burst's own time (perf on
// tools/bench/forward). One reservation per burst, made when the first
// element is needed, and one commit; nothing is visible to the consumer
// before commit().
// Element j of a zero-copy ring reservation (it may wrap around the ring's end).
template <class T>
T* zc_element(const rte_ring_zc_data& zc, unsigned j) {
  return j < zc.n1 ? static_cast<T*>(zc.ptr1) + j : static_cast<T*>(zc.ptr2) + (j - zc.n1);
}

template <class T>
class RingSlots {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) % 4 == 0, "rte_ring element");

 public:
  explicit RingSlots(rte_ring* ring) : ring_(ring) {}
  RingSlots(const RingSlots&) = delete;
  RingSlots& operator=(const RingSlots&) = delete;

  // The next free slot, or nullptr when the ring is full. The first call
  // reserves room for up to `most` elements (what the burst may still need).
  T* next(unsigned most) {
    if (!reserved_) {
      got_ = rte_ring_enqueue_zc_burst_elem_start(ring_, sizeof(T), most, &zc_, nullptr);
      reserved_ = true;
    }
    if (used_ == got_) return nullptr;
    return zc_element<T>(zc_, used_++);
  }
  // Publishes the slots handed out (the rest of the reservation is given back).
  void commit() {
    if (reserved_) rte_ring_enqueue_zc_elem_finish(ring_, used_);
  }

 private:
  rte_ring* ring_;
  rte_ring_zc_data zc_{};
  unsigned got_ = 0, used_ = 0;
  bool reserved_ = false;
};
}  // namespace

struct Dataplane::Worker {
  Dataplane* dp = nullptr;
  unsigned index = 0;
  unsigned lcore = 0;
  bool launched = false;  // running on `lcore` (which may be lcore 0), to be waited for
  rte_ring* to_learner = nullptr;
  rte_ring* queries = nullptr;  // QueryRecord elements: UDP queries, parsed here
  rte_ring* events = nullptr;
  rte_ring* held = nullptr;     // responses waiting for the learner (hold_responses)
  rte_ring* release = nullptr;  // ... and back, read: the worker sends them in
  WorkerCounters counters;
  RteAllowTable::LookupCache lookup_cache;
  uint64_t seq = 0;
  // Per-burst scratch, kept here so a burst does not construct them again
  // (decode() and the record assignment overwrite what is used).
  pkt::Packet pk[kBurst];

  TimeNs packet_ns(const rte_mbuf* m, TimeNs fallback) const {
    if (dp->ts_flag_ && (m->ol_flags & dp->ts_flag_))
      return static_cast<TimeNs>(*RTE_MBUF_DYNFIELD(m, dp->ts_offset_, const rte_mbuf_timestamp_t*)) *
             kTimestampUnitNs;
    return fallback;
  }
  void tx(const Port& port, rte_mbuf** pkts, uint16_t n, Counter sent) {
    if (n == 0) return;
    // On a port with an MTU, frames above it go after the rest, in
    // fragments.
    rte_mbuf* big[kBurst];
    uint16_t nb = 0;
    if (port.mtu != 0) {
      uint32_t whole = uint32_t{port.mtu} + RTE_ETHER_HDR_LEN;
      uint16_t kept = 0;
      for (uint16_t i = 0; i < n; ++i) {
        uint32_t len = rte_pktmbuf_pkt_len(pkts[i]);
        // VLAN tags are not the MTU's: a full-size tagged frame is no
        // bigger than the link takes (read only for the rare long frame).
        if (len <= whole || len <= whole + vlan_tags_length(pkts[i]) || nb == kBurst)
          pkts[kept++] = pkts[i];
        else
          big[nb++] = pkts[i];
      }
      n = kept;
    }
    send(port, pkts, n, sent);
    for (uint16_t k = 0; k < nb; ++k) send_big(port, big[k], sent);
  }
  // The bytes of up to two VLAN tags after the Ethernet addresses.
  static uint32_t vlan_tags_length(const rte_mbuf* m) {
    uint32_t tags = 0;
    uint8_t copy[2];
    for (uint32_t at = 12; tags < 8; at += 4) {
      const auto* t = static_cast<const uint8_t*>(rte_pktmbuf_read(m, at, 2, copy));
      if (!t) break;
      uint16_t type = static_cast<uint16_t>(t[0] << 8 | t[1]);
      if (type != RTE_ETHER_TYPE_VLAN && type != RTE_ETHER_TYPE_QINQ) break;
      tags += 4;
    }
    return tags;
  }
  // Sends what it can and frees the rest; `sent` counts frames taken.
  void send(const Port& port, rte_mbuf** pkts, uint16_t n, Counter sent) {
    if (n == 0) return;
    uint16_t done = rte_eth_tx_burst(port.id, static_cast<uint16_t>(index), pkts, n);
    counters.add(sent, done);
    if (done < n) {
      counters.add(Counter::tx_failed, n - done);
      for (uint16_t i = done; i < n; ++i) rte_pktmbuf_free(pkts[i]);
    }
  }
  // A frame larger than port.mtu + its L2 header: an IPv4 datagram without
  // DF, whole in the frame, leaves in fragments of port.mtu bytes of IP,
  // each with the frame's L2 header (VLAN tags too); anything else goes as
  // it is (counted; a router would answer DF with ICMP, a bump in the wire
  // stays as silent as the link it replaces). Counted once in `sent`.
  void send_big(const Port& port, rte_mbuf* m, Counter sent) {
    uint8_t header[RTE_ETHER_HDR_LEN + 8 + sizeof(rte_ipv4_hdr)];
    uint32_t len = rte_pktmbuf_pkt_len(m);
    uint32_t l2 = 0;
    for (uint32_t at = 12; at + 2 <= RTE_ETHER_HDR_LEN + 8; at += 4) {  // up to two VLAN tags
      const auto* t = static_cast<const uint8_t*>(rte_pktmbuf_read(m, at, 2, header));
      if (!t) break;
      uint16_t type = static_cast<uint16_t>(t[0] << 8 | t[1]);
      if (type == RTE_ETHER_TYPE_VLAN || type == RTE_ETHER_TYPE_QINQ) continue;
      if (type == RTE_ETHER_TYPE_IPV4) l2 = at + 2;
      break;
    }
    // rte_pktmbuf_read copies only what is not contiguous.
    const auto* h = l2 ? static_cast<const uint8_t*>(rte_pktmbuf_read(m, 0, l2 + sizeof(rte_ipv4_hdr), header))
                       : nullptr;
    if (h && h != header) std::memcpy(header, h, l2 + sizeof(rte_ipv4_hdr));
    const auto* ip4 = reinterpret_cast<const rte_ipv4_hdr*>(header + l2);
    uint32_t total = h ? rte_be_to_cpu_16(ip4->total_length) : 0;
    bool df = h && (rte_be_to_cpu_16(ip4->fragment_offset) & RTE_IPV4_HDR_DF_FLAG);
    if (total <= uint32_t{port.mtu} || l2 + total > len || df) {
      counters.add(Counter::tx_unfragmented);
      send(port, &m, 1, sent);
      return;
    }
    rte_mbuf* frags[64];
    int nf = -1;
    // `m` may be the learner's too (a response copy): the L2 header and
    // any padding are cut from a clone, never from the frame the learner
    // may be reading. The fragments hold their own references to its data.
    if (rte_mbuf* ip = rte_pktmbuf_clone(m, dp->indirect_pool_)) {
      if (rte_pktmbuf_adj(ip, static_cast<uint16_t>(l2)) && rte_pktmbuf_trim(ip, static_cast<uint16_t>(len - l2 - total)) == 0)
        nf = rte_ipv4_fragment_packet(ip, frags, static_cast<uint16_t>(std::size(frags)), port.mtu, dp->pool_,
                                      dp->indirect_pool_);
      rte_pktmbuf_free(ip);
    }
    if (nf <= 0) {  // no mbufs, or more fragments than room
      counters.add(Counter::tx_unfragmented);
      send(port, &m, 1, sent);
      return;
    }
    rte_pktmbuf_free(m);
    for (int i = 0; i < nf; ++i) {
      auto* fip = rte_pktmbuf_mtod(frags[i], rte_ipv4_hdr*);
      fip->hdr_checksum = 0;
      fip->hdr_checksum = rte_ipv4_cksum(fip);
      char* to = rte_pktmbuf_prepend(frags[i], static_cast<uint16_t>(l2));
      if (to) std::memcpy(to, header, l2);
    }
    auto n = static_cast<uint16_t>(nf);
    uint16_t done = rte_eth_tx_burst(port.id, static_cast<uint16_t>(index), frags, n);
    for (uint16_t i = done; i < n; ++i) rte_pktmbuf_free(frags[i]);
    counters.add(done == n ? sent : Counter::tx_failed);
    if (done == n) counters.add(Counter::tx_fragmented);
  }
  // `port`: where the packets came in, which the learner reads from
  // m->port (set here: not every PMD sets it, net_ring does not).
  void hand_off(rte_mbuf** pkts, unsigned n, uint16_t port) {
    if (n == 0) return;
    TimeNs t = handoff_stamp();
    for (unsigned i = 0; i < n; ++i) {
      *RTE_MBUF_DYNFIELD(pkts[i], dp->handoff_offset_, TimeNs*) = t;
      pkts[i]->port = port;
    }
    unsigned done = rte_ring_enqueue_burst(to_learner, reinterpret_cast<void* const*>(pkts), n, nullptr);
    counters.add(Counter::handoff, done);
    if (done < n) {
      counters.add(Counter::handoff_dropped, n - done);
      for (unsigned i = done; i < n; ++i) rte_pktmbuf_free(pkts[i]);
    }
  }
  uint16_t inside_burst(TimeNs now);
  uint16_t passive_burst(uint16_t port, uint16_t queue, bool forward);
  uint16_t release_burst() {
    rte_mbuf* m[kBurst];
    unsigned n = rte_ring_dequeue_burst(release, reinterpret_cast<void**>(m), kBurst, nullptr);
    tx(dp->inside_, m, static_cast<uint16_t>(n), Counter::tx_inside);
    return static_cast<uint16_t>(n);
  }
};

// Outbound: decode, classify, bulk lookup, judge, act.
uint16_t Dataplane::Worker::inside_burst(TimeNs now) {
  Dataplane& d = *dp;
  rte_mbuf* rx[kBurst];
  uint16_t n = rte_eth_rx_burst(d.inside_.id, static_cast<uint16_t>(index), rx, kBurst);
  if (n == 0) return 0;
  counters.add(Counter::rx_inside, n);
  const Policy& policy = *d.policy_.load(std::memory_order_acquire);
  Verdict verdict[kBurst];
  TimeNs when[kBurst];
  const IpAddress* keys[kBurst];
  uint16_t pending[kBurst];
  unsigned nq = 0;
  prefetch_headers(rx, n, 0);
  for (uint16_t i = 0; i < n; ++i) {
    prefetch_headers(rx, n, i + kPrefetchAhead);
    when[i] = packet_ns(rx[i], now);
    // Most frames are not DNS: judged in place (pk[i] is then left as it
    // is; only queries read it below).
    bool decoded = false;
    if (auto v = quick_verdict(frame_of(rx[i]), policy, pk[i], decoded)) {
      verdict[i] = *v;
      continue;
    }
    pkt::DecodeResult r = decoded ? pkt::DecodeResult::ok
                                  : pkt::decode(pkt::LinkType::ethernet, frame_of(rx[i]), pk[i], chained_length(rx[i]));
    if (auto v = classify(r, pk[i], policy)) {
      verdict[i] = *v;
    } else {
      keys[nq] = &pk[i].dst;
      pending[nq++] = i;
    }
  }
  TableValue values[kBurst];
  uint64_t hits = d.table_->lookup_bulk(keys, nq, values, lookup_cache);
  counters.c[static_cast<size_t>(Counter::lookups_cached)] = lookup_cache.hits();
  for (unsigned k = 0; k < nq; ++k) {
    uint16_t i = pending[k];
    std::optional<TableValue> entry;
    if ((hits >> k & 1) && !values[k].expired_at(now_seconds(when[i]))) entry = values[k];
    verdict[i] = judge(pk[i], entry, policy);
  }
  rte_mbuf* fwd[kBurst];
  rte_mbuf* drop[kBurst];
  rte_mbuf* learn[kBurst];
  uint16_t nf = 0, nd = 0, nl = 0;
  // The event ring's consumer index is a cache line the control thread
  // keeps writing, and the query ring's the learner's: each is read once
  // per burst, when the first element is reserved.
  RingSlots<QueryEvent> events_out(events);
  RingSlots<QueryRecord> queries_out(queries);
  for (uint16_t i = 0; i < n; ++i) {
    Verdict v = verdict[i];
    ++counters.verdicts[static_cast<size_t>(v)];
    bool query = is_dns_query(v);
    if (query && (v == Verdict::drop_unknown || v == Verdict::alert_unknown || d.opts_.log_passes)) {
      // A full ring means the control thread is behind: count, and spare
      // building an event nobody will read (measured: 20 % of a worker
      // under a flood of unknown destinations).
      if (QueryEvent* ev = events_out.next(n - i)) {
        ev->time = when[i] + d.wall_offset();
        ev->seq = seq++;
        ev->worker = static_cast<uint8_t>(index);
        ev->verdict = v;
        fill_event(*ev, pk[i], pk[i].proto == pkt::kProtoTcp);
      } else {
        counters.add(Counter::events_dropped);
      }
    }
    if (!forwards(v)) {
      drop[nd++] = rx[i];
      continue;
    }
    // Queries that leave teach the learner which responses to expect: a
    // UDP query as a 64-byte record (parsed here, cheap for the learner),
    // TCP segments as packets (the learner reassembles streams).
    if (query && !policy.learns_from(pk[i].src)) {
      counters.add(Counter::handoff_not_client);
    } else if (query && pk[i].proto == pkt::kProtoUdp) {
      // Read in place: building a DnsName only to hash it was a tenth of
      // a worker's time on the benchmark mix (perf, tools/bench/forward).
      dns::QueryView q;
      // Class IN only, as Learner::parse: a response's class is not in
      // the tracker's key.
      if (!pk[i].fragment && dns::read_query(pk[i].payload, q) && q.qclass == dns::kClassIn) {
        if (QueryRecord* r = queries_out.next(n - i)) {
          *r = QueryRecord{pk[i].src, pk[i].dst, pk[i].sport, pk[i].dport, q.id, q.qtype,
                           d.learner_->name_hash(q.name, q.name_size), when[i]};
          counters.add(Counter::handoff);
        } else {
          counters.add(Counter::handoff_dropped);
        }
      }
    } else if (query) {
      rte_pktmbuf_refcnt_update(rx[i], 1);
      learn[nl++] = rx[i];
    }
    fwd[nf++] = rx[i];
  }
  // The learner gets the queries before they leave: their responses are
  // handed over after them, whichever worker receives those (learner_main).
  events_out.commit();
  queries_out.commit();
  hand_off(learn, nl, d.inside_.id);
  tx(d.outside_, fwd, nf, Counter::tx_outside);
  counters.add(Counter::dropped, nd);
  if (d.have_drop_port_)
    tx(d.drop_port_, drop, nd, Counter::drop_captured);
  else
    for (uint16_t i = 0; i < nd; ++i) rte_pktmbuf_free(drop[i]);
  return n;
}

// Inbound (forward = true) or mirror (forward = false): DNS goes to the
// learner; inbound traffic is forwarded to the inside untouched.
uint16_t Dataplane::Worker::passive_burst(uint16_t port, uint16_t queue, bool forward) {
  Dataplane& d = *dp;
  rte_mbuf* rx[kBurst];
  uint16_t n = rte_eth_rx_burst(port, queue, rx, kBurst);
  if (n == 0) return 0;
  counters.add(forward ? Counter::rx_outside : Counter::rx_mirror, n);
  const Policy& policy = *d.policy_.load(std::memory_order_acquire);
  bool hold = forward && d.opts_.config.hold_responses;
  rte_mbuf* learn[kBurst];
  rte_mbuf* out[kBurst];
  rte_mbuf* hold_now[kBurst];
  uint16_t nl = 0, no = 0, nh = 0;
  prefetch_headers(rx, n, 0);
  for (uint16_t i = 0; i < n; ++i) {
    prefetch_headers(rx, n, i + kPrefetchAhead);
    pkt::Packet p;
    // Inline, only what comes from a DNS port (responses, and TCP streams
    // carrying them) teaches: a query coming in is for a server inside,
    // whose answer leaves unjudged, so tracking it would only let the
    // Internet fill the query tracker and the TCP streams. A mirror shows
    // both directions and cannot tell them apart: it hands over both.
    bool dns = !quick_not_dns_traffic(frame_of(rx[i]), policy) &&
               pkt::decode(pkt::LinkType::ethernet, frame_of(rx[i]), p, chained_length(rx[i])) == pkt::DecodeResult::ok &&
               p.has_ports &&
               (policy.is_dns_port(p.sport) || (!forward && policy.is_dns_port(p.dport)));
    if (dns && hold && policy.is_dns_port(p.sport)) {
      hold_now[nh++] = rx[i];  // a response: in only after the learner read it
      continue;
    }
    if (dns) {
      if (forward) rte_pktmbuf_refcnt_update(rx[i], 1);
      learn[nl++] = rx[i];
    } else if (!forward) {
      rte_pktmbuf_free(rx[i]);
    }
    if (forward) out[no++] = rx[i];
  }
  // Queries before the responses held behind them: the learner may take a
  // held response the moment it is enqueued, and its query (often in the
  // same burst) must be there by then, or the response looks unsolicited.
  hand_off(learn, nl, port);
  if (nh) {
    TimeNs t = handoff_stamp();
    for (unsigned i = 0; i < nh; ++i) {
      *RTE_MBUF_DYNFIELD(hold_now[i], d.handoff_offset_, TimeNs*) = t;
      hold_now[i]->port = port;  // as hand_off does: the learner reads where it came in
    }
    unsigned done = rte_ring_enqueue_burst(held, reinterpret_cast<void* const*>(hold_now), nh, nullptr);
    counters.add(Counter::held, done);
    // The learner is behind: forward the rest now and learn from copies.
    counters.add(Counter::hold_full, nh - done);
    nl = 0;
    for (unsigned i = done; i < nh; ++i) {
      rte_pktmbuf_refcnt_update(hold_now[i], 1);
      learn[nl++] = hold_now[i];
      out[no++] = hold_now[i];
    }
    hand_off(learn, nl, port);
  }
  if (forward) tx(d.inside_, out, no, Counter::tx_inside);
  return n;
}

int Dataplane::worker_main(void* arg) {
  auto* w = static_cast<Worker*>(arg);
  Dataplane& d = *w->dp;
  d.table_->reader_register(w->index);
  while (!d.stop_.load(std::memory_order_relaxed)) {
    // Judging by packet time, a packet without a stamp counts as time 0.
    TimeNs now = d.opts_.packet_time ? 0 : clock_ns(CLOCK_MONOTONIC);
    unsigned got = w->inside_burst(now);
    got += w->passive_burst(d.outside_.id, static_cast<uint16_t>(w->index), true);
    if (d.have_mirror_ && w->index == 0) got += w->passive_burst(d.mirror_.id, 0, false);
    got += w->release_burst();
    w->counters.add(Counter::polls);
    if (got) w->counters.add(Counter::busy_polls);
    d.table_->reader_quiescent(w->index);
  }
  d.table_->reader_unregister(w->index);
  return 0;
}

Dataplane::Dataplane(DataplaneOptions opts)
    : opts_(std::move(opts)), policy_owner_(std::make_unique<Policy>(Policy::from(opts_.config))) {
  policy_.store(policy_owner_.get());
}

void Dataplane::apply(const Config& next) {
  auto fresh = std::make_unique<Policy>(Policy::from(next));
  auto swap_in = [this](std::unique_ptr<Policy> p) {
    policy_.store(p.get(), std::memory_order_release);
    if (running_) table_->synchronize();  // no worker still reads the old one
    policy_owner_ = std::move(p);
  };
  LearningSettings learning = next.learning;
  std::vector<StaticAllow> statics = next.static_allow;
  std::vector<uint16_t> ports = next.dns_ports;
  auto task = [this, learning, statics, ports] {
    learner_->set_settings(learning);
    learner_->replace_statics(statics);
    // The workers hand over what the new policy's ports carry.
    if (session_) session_->set_dns_ports(ports);
  };
  if (!running_) {
    swap_in(std::move(fresh));
    task();
    return;
  }
  // Host statics are table entries the learner writes, CIDR statics are in
  // the policy: a static allow that changes form (a /24 becomes a /32, or
  // back) must stay allowed until the learner has taken the new statics.
  // Until then the workers judge by the new policy with the old CIDRs too.
  auto interim = std::make_unique<Policy>(*fresh);
  for (const Prefix& p : policy_owner_->static_prefixes) {
    auto same = [&p](const Prefix& q) { return q.address == p.address && q.length == p.length; };
    if (std::none_of(interim->static_prefixes.begin(), interim->static_prefixes.end(), same))
      interim->static_prefixes.push_back(p);
  }
  swap_in(std::move(interim));
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> taken = done->get_future();
  {
    std::lock_guard<std::mutex> lock(task_mu_);
    learner_tasks_.push_back([task, done] {
      task();
      done->set_value();
    });
  }
  // The learner takes tasks between passes (a snapshot copy slice or a
  // hand-over batch: milliseconds). Should it not within the bound, the old
  // CIDRs go anyway: a reload must not hang the control thread.
  taken.wait_for(std::chrono::seconds(10));
  swap_in(std::move(fresh));
}

Dataplane::~Dataplane() {
  stop();
  for (auto& w : workers_) {
    rte_ring_free(w->to_learner);
    rte_ring_free(w->queries);
    rte_ring_free(w->events);
    for (rte_ring* r : {w->held, w->release}) {
      void* m = nullptr;
      while (r && rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
      rte_ring_free(r);
    }
  }
  session_.reset();
  learner_.reset();
  table_.reset();
  for (Port* p : {&inside_, &outside_, &mirror_, &drop_port_})
    if (p->opened) rte_eth_dev_close(p->id);
  if (pool_) rte_mempool_free(pool_);
  if (indirect_pool_) rte_mempool_free(indirect_pool_);
}

TimeNs Dataplane::now() const {
  if (opts_.packet_time) return session_ ? session_->last_time() : 0;
  return clock_ns(CLOCK_MONOTONIC);
}

bool Dataplane::open_port(Port& p, const std::string& spec, uint16_t queues, std::string& error) {
  p.spec = spec;
  p.name = spec.substr(0, spec.find(','));
  // As DPDK names a PCI device: with its domain, in lower case.
  if (std::string pci = pci_device_name(p.name); !pci.empty()) p.name = pci;
  if (rte_eth_dev_get_port_by_name(p.name.c_str(), &p.id) != 0) {
    error = "no DPDK device '" + p.name + "' (from '" + spec +
            "'): check the PCI address is bound to vfio-pci, or the vdev arguments";
    return false;
  }
  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(p.id, &info); rc != 0) {
    error = "cannot query device " + p.name + ": " + rte_strerror(-rc);
    return false;
  }
  if (queues > info.max_rx_queues || queues > info.max_tx_queues) {
    error = "device " + p.name + " supports " + std::to_string(std::min(info.max_rx_queues, info.max_tx_queues)) +
            " queue pairs; workers asks for " + std::to_string(queues);
    return false;
  }
  rte_eth_conf conf{};
  if (queues > 1 && info.flow_type_rss_offloads) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_hf = RTE_ETH_RSS_IP & info.flow_type_rss_offloads;
  }
  if (opts_.packet_time && (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP))
    conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;
  if (int rc = rte_eth_dev_configure(p.id, queues, queues, &conf); rc != 0) {
    error = "cannot configure " + p.name + ": " + rte_strerror(-rc);
    return false;
  }
  p.opened = true;
  if (opts_.fragment_mtu != 0)
    p.mtu = opts_.fragment_mtu;
  else if (std::string_view(info.driver_name ? info.driver_name : "") == "net_af_packet")
    p.mtu = kernel_mtu(info.if_index);
  uint16_t rxd = kRxDesc, txd = kTxDesc;
  rte_eth_dev_adjust_nb_rx_tx_desc(p.id, &rxd, &txd);
  int socket = rte_eth_dev_socket_id(p.id);
  for (uint16_t q = 0; q < queues; ++q) {
    if (int rc = rte_eth_rx_queue_setup(p.id, q, rxd, static_cast<unsigned>(socket), nullptr, pool_); rc != 0) {
      error = "cannot set up rx queue " + std::to_string(q) + " of " + p.name + ": " + rte_strerror(-rc);
      return false;
    }
    if (int rc = rte_eth_tx_queue_setup(p.id, q, txd, static_cast<unsigned>(socket), nullptr); rc != 0) {
      error = "cannot set up tx queue " + std::to_string(q) + " of " + p.name + ": " + rte_strerror(-rc);
      return false;
    }
  }
  return true;
}

bool Dataplane::init(std::string& error) {
  const Config& c = opts_.config;
  if (c.ports.inside.empty() || c.ports.outside.empty()) {
    error = "ports.inside and ports.outside must both name a DPDK device";
    return false;
  }
  unsigned workers = c.workers;
  if (rte_lcore_count() < workers + 1) {
    error = "workers: " + std::to_string(workers) + " needs " + std::to_string(workers + 1) +
            " EAL lcores (the main one plus one per worker); give more with eal: [-l, 0-" +
            std::to_string(workers) + "]";
    return false;
  }
  if (opts_.packet_time && rte_mbuf_dyn_rx_timestamp_register(&ts_offset_, &ts_flag_) != 0) {
    error = "cannot register the mbuf timestamp field";
    return false;
  }
  static const rte_mbuf_dynfield handoff_field = {"nsgate_handoff_ns", sizeof(TimeNs), alignof(TimeNs), 0};
  handoff_offset_ = rte_mbuf_dynfield_register(&handoff_field);
  if (handoff_offset_ < 0) {
    error = "cannot register the mbuf hand-off field";
    return false;
  }
  unsigned mbufs = workers * (kRingSize + 3 * kHoldRing + 4 * (kRxDesc + kTxDesc)) + 4096;
  pool_ = rte_pktmbuf_pool_create("nsgate_mbufs", mbufs, 256, 0, data_room_for(c.ports),
                                  static_cast<int>(rte_socket_id()));
  if (!pool_) {
    error = std::string("cannot allocate ") + std::to_string(mbufs) + " mbufs: " + rte_strerror(rte_errno) +
            " (give the EAL more memory: -m)";
    return false;
  }
  // Indirect mbufs carry no data of their own: one per fragment in flight.
  indirect_pool_ = rte_pktmbuf_pool_create("nsgate_indirect", 8191, 256, 0, 0, static_cast<int>(rte_socket_id()));
  if (!indirect_pool_) {
    error = std::string("cannot allocate the fragments' mbufs: ") + rte_strerror(rte_errno) +
            " (give the EAL more memory: -m)";
    return false;
  }
  auto q = static_cast<uint16_t>(workers);
  if (!open_port(inside_, c.ports.inside, q, error) || !open_port(outside_, c.ports.outside, q, error))
    return false;
  if (!c.ports.mirror.empty()) {
    if (!open_port(mirror_, c.ports.mirror, 1, error)) return false;
    have_mirror_ = true;
  }
  if (!c.ports.drop_capture.empty()) {
    if (!open_port(drop_port_, c.ports.drop_capture, q, error)) return false;
    have_drop_port_ = true;
  }
  size_t capacity = c.learning.capacity + 64 + c.static_allow.size();
  table_ = RteAllowTable::create("nsgate_table", capacity, workers, error);
  if (!table_) return false;
  learner_ = std::make_unique<Learner>(c.learning, *table_);
  // Everything the learner indexes is sized for its bounds now (growing a
  // large map all at once stopped learning for tens of milliseconds; 0.5 s
  // learn-to-enforce delays in tools/bench/forward while a 1 M-entry table
  // grew). What has no fixed bound (one slot per address and zone served)
  // grows past that in steps.
  learner_->reserve(c.learning.capacity);
  learner_->reserve_queries();
  learner_->bound_query_sweep(kQuerySweepBuckets);
  learner_->grow_in_steps();
  session_ = std::make_unique<LearnSession>(*learner_, c.dns_ports);
  for (unsigned i = 0; i < workers; ++i) {
    auto w = std::make_unique<Worker>();
    w->dp = this;
    w->index = i;
    std::string n = "nsgate_learn_" + std::to_string(i);
    w->to_learner = rte_ring_create(n.c_str(), kRingSize, static_cast<int>(rte_socket_id()),
                                    RING_F_SP_ENQ | RING_F_SC_DEQ);
    n = "nsgate_queries_" + std::to_string(i);
    w->queries = rte_ring_create_elem(n.c_str(), sizeof(QueryRecord), kRingSize * 4,
                                      static_cast<int>(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ);
    n = "nsgate_events_" + std::to_string(i);
    w->events = rte_ring_create_elem(n.c_str(), sizeof(QueryEvent), opts_.event_ring_size,
                                     static_cast<int>(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ);
    n = "nsgate_held_" + std::to_string(i);
    w->held = rte_ring_create(n.c_str(), kHoldRing, static_cast<int>(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ);
    n = "nsgate_release_" + std::to_string(i);
    // Twice the hold ring: the learner never finds it full while the
    // worker drains it every loop.
    w->release = rte_ring_create(n.c_str(), 2 * kHoldRing, static_cast<int>(rte_socket_id()),
                                 RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (!w->to_learner || !w->queries || !w->events || !w->held || !w->release) {
      error = "cannot create rings: " + std::string(rte_strerror(rte_errno));
      return false;
    }
    workers_.push_back(std::move(w));
  }
  refresh_wall_offset();
  return true;
}

void Dataplane::refresh_wall_offset() {
  if (opts_.packet_time) return;  // stays 0
  TimeNs wall = opts_.wall_clock ? opts_.wall_clock() : clock_ns(CLOCK_REALTIME);
  wall_offset_.store(wall - clock_ns(CLOCK_MONOTONIC), std::memory_order_relaxed);
}

size_t Dataplane::load(const std::vector<Provenance>& entries) {
  refresh_wall_offset();
  // On packet time nothing counts as expired yet: the capture's clock decides.
  TimeNs offset = wall_offset();
  TimeNs now_wall = opts_.packet_time ? 0 : clock_ns(CLOCK_MONOTONIC) + offset;
  return restore_snapshot(*learner_, entries, now_wall, offset);
}

bool Dataplane::start(std::string& error) {
  for (Port* p : {&inside_, &outside_, &mirror_, &drop_port_}) {
    if (!p->opened) continue;
    if (int rc = rte_eth_dev_start(p->id); rc != 0) {
      error = "cannot start " + p->name + ": " + rte_strerror(-rc);
      return false;
    }
    p->started = true;
    rte_eth_promiscuous_enable(p->id);  // not every device supports it; harmless then
  }
  // Running from here on: requests (snapshots, tasks) go to the learner
  // thread, never run on the caller's thread beside it.
  running_ = true;
  learner_thread_ = std::thread([this] { learner_main(); });
  unsigned lcore;
  size_t i = 0;
  RTE_LCORE_FOREACH_WORKER(lcore) {
    if (i == workers_.size()) break;
    workers_[i]->lcore = lcore;
    if (int rc = rte_eal_remote_launch(&Dataplane::worker_main, workers_[i].get(), lcore); rc != 0) {
      error = "cannot launch worker on lcore " + std::to_string(lcore);
      stop();
      return false;
    }
    workers_[i]->launched = true;
    ++i;
  }
  return true;
}

void Dataplane::stop(const std::string& final_snapshot) {
  stop_ = true;
  for (auto& w : workers_)
    if (w->launched) {
      rte_eal_wait_lcore(w->lcore);
      w->launched = false;
    }
  bool learner_running = learner_thread_.joinable();
  if (learner_running && !final_snapshot.empty()) {
    std::lock_guard<std::mutex> lock(snap_mu_);
    final_request_ = final_snapshot;  // before learner_stop_: the stop path reads it
  }
  learner_stop_ = true;
  if (learner_thread_.joinable()) learner_thread_.join();
  if (snap_writer_.joinable()) snap_writer_.join();
  running_ = false;
  // Not started (or stopped before): written here, from the state as it is.
  if (!learner_running && !final_snapshot.empty()) write_snapshot(final_snapshot);
  // Responses the learner released after the workers stopped are still
  // owed to the inside: send them on each worker's queue (now unused)
  // before the ports stop.
  for (auto& w : workers_)
    if (inside_.started)
      while (w->release_burst() > 0) {
      }
  for (Port* p : {&inside_, &outside_, &mirror_, &drop_port_}) {
    if (!p->started) continue;
    rte_eth_dev_stop(p->id);
    p->started = false;
  }
}

void Dataplane::learner_main() {
  pthread_setname_np(pthread_self(), "nsgate-learner");
  // The learner shares its core with the control thread, which drains the
  // drop log events as fast as the workers make them under a flood. A
  // higher weight lets the learner go first when both have work (it trims
  // the tail of the learn-to-enforce delay in tools/bench/forward). Needs
  // CAP_SYS_NICE; without it the learner runs at the default weight.
  setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kLearnerNice);
  rte_mbuf* objs[64];
  // Per worker, the packets peeked at in its hand-over ring (rte_ring peek
  // API: taken off only once learned from).
  struct Peek {
    rte_mbuf* m[64];
    unsigned n = 0, at = 0;
    bool open = false;
  };
  std::vector<Peek> peeks(workers_.size());
  auto stamp = [this](const rte_mbuf* m) { return *RTE_MBUF_DYNFIELD(m, handoff_offset_, const TimeNs*); };
  static thread_local QueryRecord records[256];
  TimeNs last_housekeeping = 0, last_publish = 0;
  for (;;) {
    // Read before the rings: an empty pass that began after the workers
    // stopped has seen their last packets (one that began before may have
    // missed responses they held at the very end).
    bool stopping = learner_stop_.load();
    unsigned got = 0;
    auto learn_from = [&](Worker& w, rte_mbuf* m) {
      static thread_local std::vector<std::byte> scratch;  // a chained frame, made whole
      TimeNs fallback = opts_.packet_time ? 0 : clock_ns(CLOCK_MONOTONIC);
      // A response that added or refreshed an entry: the time it took.
      uint64_t before = learner_->responses_taught();
      // From the inside only queries count: a host there may send a forged
      // "response" between two allowed servers' addresses (port 53 at
      // both ends), which the worker forwards as a query and hands over.
      Origin origin = m->port == inside_.id ? Origin::inside : Origin::unknown;
      session_->feed(pkt::LinkType::ethernet, w.packet_ns(m, fallback), whole_frame(m, scratch), 0, origin);
      if (learner_->responses_taught() != before) {
        delay_.record(clock_ns(CLOCK_MONOTONIC) - *RTE_MBUF_DYNFIELD(m, handoff_offset_, const TimeNs*));
      }
    };
    // Query records and handed-over packets (TCP segments, response copies).
    auto take_queries = [&](Worker& w) {
      // Those queued now, not those still coming: a flood of queries must
      // not keep the learner from the responses.
      unsigned due = rte_ring_count(w.queries);
      while (due > 0) {
        unsigned n = rte_ring_dequeue_burst_elem(w.queries, records, sizeof(QueryRecord), std::min(due, 256u), nullptr);
        if (n == 0) break;
        for (unsigned i = 0; i < n; ++i) learner_->on_query(records[i]);
        due -= n;
        got += n;
      }
    };
    // A response must be taken after the query it answers, which may have
    // come in on another worker: a UDP query record (query ring), or a
    // packet (TCP) ahead of a response packet (outside or mirror port, or
    // held). Workers stamp what they hand over and hand a query over before
    // sending it on, so a response's stamp is later than its query's hand-
    // over. A pass takes what was handed over before `cut`: every query
    // record queued when it starts (all those come before `cut`), then the
    // packets stamped before `cut` from all workers in stamp order, then
    // the held responses stamped before `cut`. Later ones wait a pass: a
    // response taken before its query would look unsolicited and teach
    // nothing (rule 1).
    TimeNs cut = clock_ns(CLOCK_MONOTONIC);
    // The rings are read after the clock (handoff_stamp's other half): a
    // ring read run ahead of it could miss a query whose response, stamped
    // before `cut`, this pass then takes.
    rte_rmb();
    for (auto& w : workers_) take_queries(*w);
    // The packets: a merge of the workers' rings (each in stamp order).
    auto refill = [&](size_t k) {
      Peek& p = peeks[k];
      if (p.open) rte_ring_dequeue_finish(workers_[k]->to_learner, p.at);
      p.n = rte_ring_dequeue_burst_start(workers_[k]->to_learner, reinterpret_cast<void**>(p.m), 64, nullptr);
      p.at = 0;
      p.open = true;
    };
    for (size_t k = 0; k < workers_.size(); ++k) refill(k);
    for (;;) {
      size_t next = workers_.size();
      for (size_t k = 0; k < workers_.size(); ++k) {
        const Peek& p = peeks[k];
        if (p.at < p.n && stamp(p.m[p.at]) < cut && (next == workers_.size() || stamp(p.m[p.at]) < stamp(peeks[next].m[peeks[next].at])))
          next = k;
      }
      if (next == workers_.size()) break;
      Peek& p = peeks[next];
      learn_from(*workers_[next], p.m[p.at]);
      rte_pktmbuf_free(p.m[p.at]);
      ++got;
      if (++p.at == p.n) refill(next);
    }
    for (size_t k = 0; k < workers_.size(); ++k) {
      rte_ring_dequeue_finish(workers_[k]->to_learner, peeks[k].at);  // the rest stays for the next pass
      peeks[k].open = false;
    }
    for (auto& w : workers_) {
      // Held responses: the table knows what they teach; now they may go in.
      for (;;) {
        unsigned n = rte_ring_dequeue_burst_start(w->held, reinterpret_cast<void**>(objs), 64, nullptr);
        unsigned k = 0;
        while (k < n && stamp(objs[k]) < cut) ++k;
        rte_ring_dequeue_finish(w->held, k);
        for (unsigned i = 0; i < k; ++i) learn_from(*w, objs[i]);
        unsigned back = rte_ring_enqueue_burst(w->release, reinterpret_cast<void* const*>(objs), k, nullptr);
        for (unsigned i = back; i < k; ++i) rte_pktmbuf_free(objs[i]);  // cannot happen while workers drain
        if (k > back) held_lost_.fetch_add(k - back, std::memory_order_relaxed);
        got += k;
        if (k < 64) break;
      }
    }
    TimeNs t = now();
    if (t - last_housekeeping >= kHousekeepingNs || got == 0) {
      learner_->housekeeping(t, kExpiryBudget);
      last_housekeeping = t;
    }
    if (t - last_publish >= kNsPerSec / 10 || got == 0) {
      last_publish = t;
      refresh_wall_offset();
      std::lock_guard<std::mutex> lock(learn_mu_);
      learn_copy_ = learner_->counters();
      delay_copy_ = delay_;
      parse_copy_ = session_->stats();
      anchors_copy_ = learner_->anchors();
      statics_copy_ = learner_->host_statics();
      extract_copy_ = session_->extract_stats();
    }
    std::vector<std::function<void()>> tasks;
    {
      std::lock_guard<std::mutex> lock(task_mu_);
      tasks.swap(learner_tasks_);
    }
    for (auto& task : tasks) task();
    // A snapshot's copy, `slots` at a time, then written off this thread.
    auto copy_some = [&](size_t slots) {
      if (learner_->freeze_some(*frozen_, slots)) write_frozen(std::exchange(freezing_path_, {}));
    };
    if (!freezing_path_.empty())
      copy_some(kFreezeSlice);
    else if (!snap_writing_)  // else the request waits for the write going on
      begin_requested_copy();
    if (got == 0) {
      if (stopping) {
        // Every ring is drained: what is learned now is the final state.
        // Snapshots requested before stop() are copied and written now
        // (stop() joins the writer): neither lost nor left uncounted. A
        // copy under way is finished first, then the request waiting
        // behind it, then stop()'s final snapshot, which a waiting request
        // for the same file only repeats.
        if (!freezing_path_.empty()) copy_some(SIZE_MAX);
        std::string final_path;
        {
          std::lock_guard<std::mutex> lock(snap_mu_);
          final_path.swap(final_request_);
          if (snap_request_ == final_path) snap_request_.clear();
        }
        begin_requested_copy();
        if (!freezing_path_.empty()) copy_some(SIZE_MAX);
        if (!final_path.empty()) {
          begin_copy(final_path);
          copy_some(SIZE_MAX);
        }
        break;
      }
      // Not a spin: a busy learner core cost the worker on the other core
      // 15-20 % of its forwarding rate here (yield or pause loops alike,
      // tools/bench/forward), for a shorter tail of the learn-to-enforce delay.
      timespec pause{0, 20'000};
      nanosleep(&pause, nullptr);
    }
  }
}

void Dataplane::begin_requested_copy() {
  std::string path;
  {
    std::lock_guard<std::mutex> lock(snap_mu_);
    path.swap(snap_request_);
  }
  if (!path.empty()) begin_copy(path);
}

void Dataplane::begin_copy(const std::string& path) {
  if (snap_writer_.joinable()) snap_writer_.join();  // finished: snap_writing_ is false
  if (!frozen_) frozen_ = std::make_unique<Learner::Frozen>();
  learner_->freeze_begin(*frozen_);
  freezing_path_ = path;
}

void Dataplane::write_snapshot(const std::string& path) {
  // Stopped (no learner thread): the whole copy at once, written here.
  if (snap_writer_.joinable()) snap_writer_.join();
  if (!frozen_) frozen_ = std::make_unique<Learner::Frozen>();
  learner_->freeze(*frozen_);
  write_frozen(path);
}

void Dataplane::write_frozen(const std::string& path) {
  // The provenance records are built, encoded and written from the copy,
  // on a thread of their own while running.
  refresh_wall_offset();
  TimeNs offset = wall_offset();
  TimeNs taken = now() + offset;
  auto write = [this, taken, offset, path] {
    std::string error;
    bool ok = snapshot::write_file(path, snapshot_of(*frozen_, taken, offset), error);
    std::lock_guard<std::mutex> lock(snap_mu_);
    snap_error_ = ok ? "" : error;
    ++(ok ? snapshots_written_ : snapshot_failures_);
    snap_writing_ = false;
  };
  if (!running_) {
    write();  // stopped: the caller reads the outcome next
    return;
  }
  snap_writing_ = true;
  snap_writer_ = std::thread([write] {
    pthread_setname_np(pthread_self(), "nsgate-snapshot");
    // Background work: the learner and the control thread on this core first.
    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kSnapshotNice);
    write();
  });
}

void Dataplane::request_snapshot(const std::string& path) {
  if (!running_) {  // learner thread not running: write here
    write_snapshot(path);
    return;
  }
  std::lock_guard<std::mutex> lock(snap_mu_);
  snap_request_ = path;
}

bool Dataplane::snapshot_requested() const {
  std::lock_guard<std::mutex> lock(snap_mu_);
  return !snap_request_.empty();
}

std::string Dataplane::last_snapshot_error() const {
  std::lock_guard<std::mutex> lock(snap_mu_);
  return snap_error_;
}

bool Dataplane::run_on_learner(const std::function<void(const Learner&)>& fn, int timeout_ms) {
  if (!running_) {
    fn(*learner_);
    return true;
  }
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> f = done->get_future();
  {
    std::lock_guard<std::mutex> lock(task_mu_);
    learner_tasks_.push_back([this, fn, done] {
      fn(*learner_);
      done->set_value();
    });
  }
  return f.wait_for(std::chrono::milliseconds(timeout_ms)) == std::future_status::ready;
}

size_t Dataplane::poll_events(const std::function<void(const QueryEvent&)>& fn) {
  size_t total = 0;
  for (auto& w : workers_) {
    // Read in place, as the worker wrote them (this thread is the ring's
    // only consumer; the slots return to the worker at finish). At most a
    // ring's worth per call: a worker that fills the ring as fast as `fn`
    // empties it must not keep the caller (signals, snapshots, the other
    // workers' rings) waiting.
    rte_ring_zc_data zc{};
    unsigned n;
    size_t taken = 0;
    while (taken < opts_.event_ring_size &&
           (n = rte_ring_dequeue_zc_burst_elem_start(w->events, sizeof(QueryEvent), 64, &zc, nullptr)) > 0) {
      taken += n;
      for (unsigned i = 0; i < n; ++i) fn(*zc_element<const QueryEvent>(zc, i));
      rte_ring_dequeue_zc_elem_finish(w->events, n);
      total += n;
    }
  }
  return total;
}

WorkerCounters Dataplane::totals() const {
  WorkerCounters t;
  for (const auto& w : workers_) {
    for (size_t i = 0; i < kCounterCount; ++i) t.c[i] += w->counters.c[i];
    for (size_t i = 0; i < kVerdictCount; ++i) t.verdicts[i] += w->counters.verdicts[i];
  }
  return t;
}

std::vector<PortStats> Dataplane::port_stats() const {
  std::vector<PortStats> out;
  const std::pair<const Port*, const char*> ports[] = {
      {&inside_, "inside"}, {&outside_, "outside"}, {&mirror_, "mirror"}, {&drop_port_, "drop_capture"}};
  for (const auto& [p, role] : ports) {
    if (!p->opened) continue;
    PortStats s;
    s.role = role;
    s.name = p->name;
    rte_eth_stats st{};
    if (rte_eth_stats_get(p->id, &st) == 0) {
      s.ipackets = st.ipackets;
      s.opackets = st.opackets;
      s.ibytes = st.ibytes;
      s.obytes = st.obytes;
      s.ierrors = st.ierrors;
      s.imissed = st.imissed;
      s.oerrors = st.oerrors;
    }
    rte_eth_link link{};
    if (rte_eth_link_get_nowait(p->id, &link) == 0) s.link_up = link.link_status == RTE_ETH_LINK_UP;
    out.push_back(s);
  }
  return out;
}

std::array<size_t, 3> Dataplane::entries_by_kind() const {
  std::lock_guard<std::mutex> lock(learn_mu_);
  size_t anchors = running_ ? anchors_copy_ : learner_->anchors();
  size_t statics = running_ ? statics_copy_ : learner_->host_statics();
  size_t total = table_ ? table_->size() : 0;
  // An address that is both an anchor (or static) and learned holds one
  // table entry, counted under its pinned kind.
  return {anchors, statics, total > anchors + statics ? total - anchors - statics : 0};
}

std::pair<LearnStats, ExtractStats> Dataplane::learn_input_stats() const {
  std::lock_guard<std::mutex> lock(learn_mu_);
  if (running_) return {parse_copy_, extract_copy_};
  return {session_->stats(), session_->extract_stats()};
}

LearnDelay Dataplane::learn_delay() const {
  std::lock_guard<std::mutex> lock(learn_mu_);
  return running_ ? delay_copy_ : delay_;
}

LearnCounters Dataplane::learn_counters() const {
  std::lock_guard<std::mutex> lock(learn_mu_);
  return running_ ? learn_copy_ : learner_->counters();
}

}  // namespace nsgate::dp
