// SPDX-License-Identifier: BSD-3-Clause
// The dataplane driven through ports made of rings (rte_eth_from_rings): the
// test puts frames on the ports' receive rings, in an order and at moments
// a capture replay cannot pin down, and reads what the learner made of them.

#include <gtest/gtest.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_errno.h>
#include <rte_ring.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "dp/dataplane.hh"
#include "core/root_hints.hh"
#include "core/snapshot.hh"
#include "dp/eal.hh"
#include "support/builder.hh"

namespace nsgate::dp {
namespace {

using nsgate::testing::Bytes;
using nsgate::testing::DnsBuilder;
using nsgate::testing::tcp_frame;
using nsgate::testing::tcp_framed;
using nsgate::testing::udp_frame;
namespace flag = pkt::tcp_flag;

constexpr uint16_t kA = 1;

// One port: frames put on `rx` are what the port receives; what the
// dataplane sends on it lands in `tx`.
// One port: frames put on queue q's `rx` ring are what the port receives
// there; what the dataplane sends on queue q lands in `tx[q]`.
struct RingPort {
  std::vector<rte_ring*> rx, tx;
  std::string name;  // the ethdev's

  explicit RingPort(const std::string& n, unsigned queues = 1) {
    for (unsigned q = 0; q < queues; ++q) {
      std::string suffix = std::string("_").append(std::to_string(q));
      rx.push_back(rte_ring_create((n + "_rx" + suffix).c_str(), 4096, SOCKET_ID_ANY, 0));
      tx.push_back(rte_ring_create((n + "_tx" + suffix).c_str(), 4096, SOCKET_ID_ANY, 0));
      EXPECT_TRUE(rx.back() && tx.back());
    }
    int id = rte_eth_from_rings(n.c_str(), rx.data(), queues, tx.data(), queues, SOCKET_ID_ANY);
    EXPECT_GE(id, 0);
    // The device is named after the driver and `n`: what the config names.
    char device[RTE_ETH_NAME_MAX_LEN] = "";
    if (id >= 0) rte_eth_dev_get_name_by_port(static_cast<uint16_t>(id), device);
    name = device;
  }
  void put(rte_mempool* pool, const Bytes& frame, unsigned queue = 0) const {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    ASSERT_NE(m, nullptr);
    char* data = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
    ASSERT_NE(data, nullptr);
    std::memcpy(data, frame.data(), frame.size());
    ASSERT_EQ(rte_ring_enqueue(rx.at(queue), m), 0);
  }
  // The frame in a chain of mbufs of `segment` bytes each (as net_pcap
  // delivers frames past 2 KB).
  void put_chained(rte_mempool* pool, const Bytes& frame, size_t segment, unsigned queue = 0) const {
    rte_mbuf* head = nullptr;
    for (size_t at = 0; at < frame.size(); at += segment) {
      rte_mbuf* m = rte_pktmbuf_alloc(pool);
      ASSERT_NE(m, nullptr);
      size_t n = std::min(segment, frame.size() - at);
      char* data = rte_pktmbuf_append(m, static_cast<uint16_t>(n));
      ASSERT_NE(data, nullptr);
      std::memcpy(data, frame.data() + at, n);
      if (!head)
        head = m;
      else
        ASSERT_EQ(rte_pktmbuf_chain(head, m), 0);
    }
    ASSERT_NE(head, nullptr);
    ASSERT_GT(head->nb_segs, 1);
    ASSERT_EQ(rte_ring_enqueue(rx.at(queue), head), 0);
  }
  void drain() const {
    void* m;
    for (rte_ring* r : tx)
      while (rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
  }
};

// Holds the learner up (a snapshot copy or a reload can, for tens of ms)
// until release(): what the workers hand over meanwhile is taken in one
// pass. The task waits at most 10 s, so a failed check cannot leave the
// learner stuck.
class LearnerHold {
 public:
  explicit LearnerHold(Dataplane& d) {
    d.run_on_learner(
        [blocked = blocked_, go = go_](const Learner&) {
          blocked->store(true);
          auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
          while (!go->load() && std::chrono::steady_clock::now() < end)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        },
        0);
  }
  bool holding() const { return blocked_->load(); }
  void release() { go_->store(true); }
  ~LearnerHold() { release(); }

 private:
  std::shared_ptr<std::atomic<bool>> blocked_ = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<std::atomic<bool>> go_ = std::make_shared<std::atomic<bool>>(false);
};

TimeNs clock_ns_monotonic() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return TimeNs{ts.tv_sec} * kNsPerSec + ts.tv_nsec;
}

template <class Pred>
bool wait_for(Pred done, std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// init() with the built-in root hints as anchors, then start().
::testing::AssertionResult started(Dataplane& d) {
  std::string error;
  if (!d.init(error)) return ::testing::AssertionFailure() << "init: " << error;
  for (const RootHint& h : builtin_root_hints()) d.learner().add_anchor(h.address, h.name);
  if (!d.start(error)) return ::testing::AssertionFailure() << "start: " << error;
  return ::testing::AssertionSuccess();
}

// A dataplane between two ring ports, with a frame pool of its own (DPDK
// names are global: each rig numbers its own), stopped and drained at the
// end of the test (a test may stop it before). `configure` sets options
// beyond the two ports; the pool holds `frames` mbufs, with no per-lcore
// cache (a test can count them back).
class Rig {
 public:
  explicit Rig(const std::function<void(DataplaneOptions&)>& configure = {}, unsigned frames = 1023)
      : tag_("rig" + std::to_string(next_++)), inside(tag_ + "_in"), outside(tag_ + "_out") {
    pool = rte_pktmbuf_pool_create((tag_ + "_frames").c_str(), frames, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    DataplaneOptions opts;
    opts.config.ports.inside = inside.name;
    opts.config.ports.outside = outside.name;
    if (configure) configure(opts);
    d = std::make_unique<Dataplane>(opts);
  }
  Rig(const Rig&) = delete;
  Rig& operator=(const Rig&) = delete;
  ~Rig() {
    d->stop();
    inside.drain();
    outside.drain();
  }
  ::testing::AssertionResult start() {
    if (!pool) return ::testing::AssertionFailure() << "no frame pool: " << rte_strerror(rte_errno);
    return started(*d);
  }

 private:
  static inline int next_ = 0;
  std::string tag_;

 public:
  RingPort inside, outside;
  rte_mempool* pool = nullptr;
  std::unique_ptr<Dataplane> d;
};

// The root's referral for www.example.lab: lab. at ns1.nic.lab, with glue.
Bytes lab_referral(uint16_t id) {
  return DnsBuilder(id, 0x8000)
      .question("www.example.lab", kA)
      .ns(DnsBuilder::authority, "lab", "ns1.nic.lab", 172800)
      .addr(DnsBuilder::additional, "ns1.nic.lab", "203.0.113.53", 172800)
      .build();
}

// Once the learner has taken lab_referral: it taught ns1.nic.lab's glue,
// and was not taken for unsolicited.
void expect_the_referral_taught(Dataplane& d) {
  auto learned = [&] {
    LearnCounters c = d.learn_counters();
    return c[static_cast<size_t>(LearnEvent::added)] + c[static_cast<size_t>(LearnEvent::unmatched_response)] > 0;
  };
  ASSERT_TRUE(wait_for(learned));
  LearnCounters c = d.learn_counters();
  EXPECT_EQ(c[static_cast<size_t>(LearnEvent::unmatched_response)], 0u);
  EXPECT_EQ(c[static_cast<size_t>(LearnEvent::added)], 1u);
}

TEST(Dataplane, AResponseIsLearnedAfterItsQueryEvenBehindABacklogOfQueries) {
  Rig rig({}, 4095);
  ASSERT_TRUE(rig.start());
  Dataplane& d = *rig.d;

  // Queries pile up in the worker's ring while the learner is held up.
  LearnerHold hold(d);
  ASSERT_TRUE(wait_for([&] { return hold.holding(); }));

  // A thousand queries to a root server (they pass: anchors), then the
  // resolver's query Q, and Q's referral once the worker has sent Q.
  const char* root = "198.41.0.4";
  for (uint16_t i = 0; i < 1000; ++i)
    rig.inside.put(rig.pool, udp_frame({"192.0.2.10", root, static_cast<uint16_t>(20000 + i), 53},
                               DnsBuilder(i).question(std::string("q").append(std::to_string(i)).append(".other.lab"), kA).build()));
  rig.inside.put(rig.pool, udp_frame({"192.0.2.10", root, 40000, 53}, DnsBuilder(777).question("www.example.lab", kA).build()));
  ASSERT_TRUE(wait_for([&] { return d.totals().get(Counter::rx_inside) == 1001; }));
  rig.outside.put(rig.pool, udp_frame({root, "192.0.2.10", 53, 40000}, lab_referral(777)));
  ASSERT_TRUE(wait_for([&] { return d.totals().get(Counter::rx_outside) == 1; }));
  hold.release();

  expect_the_referral_taught(d);
}

// Frames in several mbufs: a query is judged on its headers (in the first
// segment), a response is learned from whole, and a frame both forwarded
// and handed to the learner holds a reference on every segment (one on
// the first only freed the rest twice).
TEST(Dataplane, FramesInChainedMbufsAreJudgedLearnedAndFreedOnce) {
  Rig rig([](DataplaneOptions& o) { o.config.hold_responses = false; });  // forwarded and copied: two references
  ASSERT_TRUE(rig.start());
  Dataplane& d = *rig.d;
  rte_mempool* pool = rig.pool;
  unsigned free_at_start = rte_mempool_avail_count(pool);

  const char* root = "198.41.0.4";
  // A query to an unknown server in three segments: dropped, not
  // forwarded as undecodable.
  DnsBuilder bot(5);
  bot.question("c2.bot.lab", kA);
  for (int i = 0; i < 60; ++i)
    bot.addr(DnsBuilder::additional, std::string("pad").append(std::to_string(i)).append(".bot.lab"), "192.0.2.1", 60);
  Bytes bot_query = bot.build();
  ASSERT_GT(bot_query.size(), 1000u);
  rig.inside.put_chained(rig.pool, udp_frame({"192.0.2.10", "203.0.113.66", 41000, 53}, bot_query), 512);
  // The resolver's query, then a referral padded past 2 KB with glue for
  // names no NS names, in 1 KB segments.
  rig.inside.put(rig.pool, udp_frame({"192.0.2.10", root, 40000, 53}, DnsBuilder(777).question("www.example.lab", kA).build()));
  ASSERT_TRUE(wait_for([&] { return d.totals().get(Counter::rx_inside) == 2; }));
  DnsBuilder referral(777, 0x8000);
  referral.question("www.example.lab", kA)
      .ns(DnsBuilder::authority, "lab", "ns1.nic.lab", 172800)
      .addr(DnsBuilder::additional, "ns1.nic.lab", "203.0.113.53", 172800);
  for (int i = 0; i < 100; ++i)
    referral.addr(DnsBuilder::additional, std::string("other").append(std::to_string(i)).append(".nic.lab"),
                  "203.0.113.99", 172800);
  Bytes big = udp_frame({root, "192.0.2.10", 53, 40000}, referral.build());
  ASSERT_GT(big.size(), 2048u);
  rig.outside.put_chained(rig.pool, big, 1024);
  ASSERT_TRUE(wait_for([&] { return d.totals().get(Counter::rx_outside) == 1; }));

  expect_the_referral_taught(d);
  WorkerCounters t = d.totals();
  EXPECT_EQ(t.verdicts[static_cast<size_t>(Verdict::drop_unknown)], 1u);
  EXPECT_EQ(t.verdicts[static_cast<size_t>(Verdict::forward_undecodable)], 0u);
  d.stop();
  rig.inside.drain();
  rig.outside.drain();
  // Every mbuf back in the pool, once. The pool has no per-lcore cache,
  // so a segment freed twice sits in its ring twice: taking everything
  // out then gives it twice (and misses another; the count alone cannot
  // tell, rte_mempool_avail_count caps it at the pool's size).
  std::vector<rte_mbuf*> all;
  std::set<rte_mbuf*> distinct;
  while (rte_mbuf* m = rte_pktmbuf_alloc(pool)) {
    all.push_back(m);
    distinct.insert(m);
  }
  EXPECT_EQ(all.size(), free_at_start);
  EXPECT_EQ(distinct.size(), all.size());
  for (rte_mbuf* m : distinct) rte_pktmbuf_free(m);
}

// What a port's tx ring holds, taken off it (the test frees them).
std::vector<rte_mbuf*> sent_on(const RingPort& port) {
  std::vector<rte_mbuf*> out;
  void* m;
  while (rte_ring_dequeue(port.tx.at(0), &m) == 0) out.push_back(static_cast<rte_mbuf*>(m));
  return out;
}

// The frames a port sent, in order, as bytes (the mbufs freed).
std::vector<Bytes> frames_sent_on(const RingPort& port) {
  std::vector<Bytes> frames;
  for (rte_mbuf* m : sent_on(port)) {
    Bytes f(rte_pktmbuf_pkt_len(m));
    // A pointer into the mbuf when the frame is in one segment, else a copy in f.
    const void* at = rte_pktmbuf_read(m, 0, static_cast<uint32_t>(f.size()), f.data());
    if (at && at != f.data()) std::memcpy(f.data(), at, f.size());
    rte_pktmbuf_free(m);
    if (at) frames.push_back(std::move(f));
  }
  return frames;
}

// Frames larger than the outgoing port's MTU (net_af_packet hands over
// datagrams its kernel reassembled) leave as IPv4 fragments a receiver
// reassembles into the original; what cannot be fragmented (DF set, not
// IPv4) is sent as it is, as before.
TEST(Dataplane, FramesAboveTheMtuLeaveAsFragmentsThatReassembleToThem) {
  Rig rig([](DataplaneOptions& o) { o.fragment_mtu = 1500; });  // ring ports have no link MTU of their own
  ASSERT_TRUE(rig.start());
  Dataplane& d = *rig.d;

  Bytes data(4000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = std::byte(i * 7 + 3);
  Bytes big = udp_frame({"192.0.2.10", "198.51.100.80", 40000, 443}, data);  // not DNS: forwarded
  Bytes df = big;
  df[14 + 6] = std::byte(0x40);  // DF
  Bytes v6 = udp_frame({"2001:db8::10", "2001:db8::80", 40000, 443}, Bytes(1600));
  rig.inside.put_chained(rig.pool, big, 1500);
  ASSERT_TRUE(wait_for([&] { return d.totals().get(Counter::tx_fragmented) == 1; }));
  rig.inside.put_chained(rig.pool, df, 1500);
  rig.inside.put_chained(rig.pool, v6, 1500);
  ASSERT_TRUE(wait_for([&] { return d.totals().get(Counter::tx_unfragmented) == 2; }));
  EXPECT_EQ(d.totals().get(Counter::tx_outside), 3u);  // frames, not fragments
  d.stop();

  std::vector<Bytes> frames = frames_sent_on(rig.outside);
  ASSERT_GE(frames.size(), 5u);
  // The two that could not be fragmented, last and whole.
  EXPECT_EQ(frames[frames.size() - 2], df);
  EXPECT_EQ(frames[frames.size() - 1], v6);
  frames.resize(frames.size() - 2);
  // Reassembled from the fragments: the original IP payload, byte for byte.
  Bytes l4(big.begin() + 14 + 20, big.end());
  Bytes joined(l4.size());
  size_t covered = 0;
  bool last_seen = false;
  for (const Bytes& f : frames) {
    EXPECT_LE(f.size(), 1500u + 14);
    EXPECT_TRUE(std::equal(f.begin(), f.begin() + 14, big.begin()));  // the L2 header, each time
    const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(f.data() + 14);
    EXPECT_EQ(rte_ipv4_cksum(ip), 0u) << "header checksum";
    EXPECT_EQ(rte_be_to_cpu_16(ip->packet_id),
              std::to_integer<uint16_t>(big[14 + 4]) << 8 | std::to_integer<uint16_t>(big[14 + 5]));
    uint16_t flags = rte_be_to_cpu_16(ip->fragment_offset);
    size_t offset = size_t{flags & 0x1fffu} * 8, len = rte_be_to_cpu_16(ip->total_length) - 20u;
    ASSERT_LE(offset + len, joined.size());
    std::copy(f.begin() + 34, f.begin() + 34 + static_cast<long>(len), joined.begin() + static_cast<long>(offset));
    covered += len;
    if (!(flags & 0x2000)) last_seen = true;
  }
  EXPECT_TRUE(last_seen);
  EXPECT_EQ(covered, l4.size());
  EXPECT_EQ(joined, l4);
}

// A full-size frame with one or two VLAN tags (1500 bytes of IP) is no
// bigger than the link takes: sent as it is, in its place in the burst,
// and not counted as a frame above the MTU.
TEST(Dataplane, FullSizeTaggedFramesAreNotAboveTheMtu) {
  Rig rig([](DataplaneOptions& o) { o.fragment_mtu = 1500; });
  ASSERT_TRUE(rig.start());
  Dataplane& d = *rig.d;
  Bytes tagged = udp_frame({"192.0.2.10", "198.51.100.80", 40000, 443}, Bytes(1500 - 28), 100);
  ASSERT_EQ(tagged.size(), 1518u);
  Bytes qinq = tagged;
  const std::byte outer[4] = {std::byte(0x88), std::byte(0xa8), std::byte(0x00), std::byte(0xc8)};
  qinq.insert(qinq.begin() + 12, std::begin(outer), std::end(outer));
  Bytes small = udp_frame({"192.0.2.10", "198.51.100.80", 40001, 443}, Bytes(100));
  Bytes over = udp_frame({"192.0.2.10", "198.51.100.80", 40002, 443}, Bytes(1500 - 28 + 1), 100);  // 1 byte of IP too many
  for (const Bytes* f : {&tagged, &qinq, &small, &over}) rig.inside.put(rig.pool, *f);
  ASSERT_TRUE(wait_for([&] { return d.totals().get(Counter::tx_outside) == 4; }));
  EXPECT_EQ(d.totals().get(Counter::tx_unfragmented), 0u);
  EXPECT_EQ(d.totals().get(Counter::tx_fragmented), 1u);  // only the one above
  d.stop();
  std::vector<Bytes> frames = frames_sent_on(rig.outside);
  ASSERT_EQ(frames.size(), 5u);  // the last one in two fragments
  EXPECT_EQ(frames[0], tagged);
  EXPECT_EQ(frames[1], qinq);
  EXPECT_EQ(frames[2], small);
}

// A reload that turns a static CIDR into a host static (a table entry the
// learner writes): while the learner has not taken it, queries to the
// address still pass (the old CIDR stays in the policy until it has).
TEST(Dataplane, AStaticThatChangesFormOnReloadStaysAllowedThroughout) {
  const StaticAllow vendor{*Prefix::parse("203.0.113.0/24"), "the vendor's servers", ""};
  Config running;
  Rig rig([&](DataplaneOptions& o) {
    o.config.static_allow.push_back(vendor);
    running = o.config;
  });
  ASSERT_TRUE(rig.start());
  Dataplane& d = *rig.d;
  auto passed = [&] { return d.totals().verdicts[static_cast<size_t>(Verdict::pass_static)]; };
  auto judged = [&] {
    WorkerCounters t = d.totals();
    return t.verdicts[static_cast<size_t>(Verdict::pass_static)] + t.verdicts[static_cast<size_t>(Verdict::drop_unknown)];
  };
  auto dropped = [&] { return d.totals().verdicts[static_cast<size_t>(Verdict::drop_unknown)]; };
  auto query = [&](uint16_t id, const char* server = "203.0.113.7") {
    uint64_t seen = judged();
    rig.inside.put(rig.pool, udp_frame({"192.0.2.10", server, static_cast<uint16_t>(40000 + id), 53},
                               DnsBuilder(id).question("www.vendor.lab", kA).build()));
    return wait_for([&] { return judged() == seen + 1; });
  };

  LearnerHold hold(d);
  ASSERT_TRUE(wait_for([&] { return hold.holding(); }));
  Config next = running;
  next.static_allow = {{*Prefix::parse("203.0.113.7/32"), "now just the one", ""},
                       {*Prefix::parse("198.51.100.0/24"), "new: shows the new policy is in", ""}};
  std::thread reload([&] { d.apply(next); });
  // A query to the new range passes once the reload's policy is in (the
  // learner, held, has not taken the host static yet).
  uint16_t probe = 100;
  ASSERT_TRUE(wait_for([&] {
    uint64_t before = passed();
    return query(++probe, "198.51.100.9") && passed() == before + 1;
  }));
  uint64_t drops = dropped(), passes = passed();
  ASSERT_TRUE(query(1));
  EXPECT_EQ(passed(), passes + 1);
  EXPECT_EQ(dropped(), drops);
  hold.release();
  reload.join();
  ASSERT_TRUE(query(2));
  EXPECT_EQ(passed(), passes + 2);  // now as a table entry
}

// Two workers: the resolver's TCP query comes in on the inside port's
// queue 1 (worker 1), the response on the outside port's queue 0 (worker
// 0), both handed over while the learner is held up. The learner must take
// the query first, whichever worker's ring it reads first.
class TwoWorkers : public ::testing::TestWithParam<bool> {};

TEST_P(TwoWorkers, ATcpResponseOnOneWorkerIsLearnedAfterItsQueryOnTheOther) {
  bool hold_responses = GetParam();
  std::string tag = hold_responses ? "tw_held" : "tw_copied";
  rte_mempool* pool = rte_pktmbuf_pool_create((tag + "_frames").c_str(), 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                              SOCKET_ID_ANY);
  ASSERT_NE(pool, nullptr);
  RingPort inside(tag + "_in", 2), outside(tag + "_out", 2);
  DataplaneOptions opts;
  opts.config.ports.inside = inside.name;
  opts.config.ports.outside = outside.name;
  opts.config.workers = 2;
  opts.config.hold_responses = hold_responses;
  Dataplane d(opts);
  ASSERT_TRUE(started(d));
  LearnerHold hold(d);
  ASSERT_TRUE(wait_for([&] { return hold.holding(); }));

  const char* root = "198.41.0.4";
  Bytes query = tcp_framed(DnsBuilder(777).question("www.example.lab", kA).build());
  Bytes referral = tcp_framed(lab_referral(777));
  inside.put(pool, tcp_frame({"192.0.2.10", root, 40000, 53}, 1000, flag::syn, {}), 1);
  inside.put(pool, tcp_frame({"192.0.2.10", root, 40000, 53}, 1001, flag::ack | flag::psh, query), 1);
  ASSERT_TRUE(wait_for([&] { return d.totals().get(Counter::rx_inside) == 2; }));
  outside.put(pool, tcp_frame({root, "192.0.2.10", 53, 40000}, 5000, flag::syn | flag::ack, {}), 0);
  outside.put(pool, tcp_frame({root, "192.0.2.10", 53, 40000}, 5001, flag::ack | flag::psh, referral), 0);
  ASSERT_TRUE(wait_for([&] { return d.totals().get(Counter::rx_outside) == 2; }));
  hold.release();

  expect_the_referral_taught(d);
  d.stop();
  inside.drain();
  outside.drain();
}

// A host inside sends, port 53 to port 53, a "query" from one root
// server's address to another, then the second's "referral" back to the
// first, naming its own server: both go out as queries to anchors, and both
// reach the learner (TCP segments are handed over whole). From the inside
// only queries count: the referral teaches nothing.
TEST(Dataplane, AResponseForgedInsideBetweenTwoAllowedServersTeachesNothing) {
  Rig rig;
  ASSERT_TRUE(rig.start());
  Dataplane& d = *rig.d;
  const char* r1 = "198.41.0.4";
  const char* r2 = "192.33.4.12";
  Bytes query = DnsBuilder(777).question("www.example.lab", kA).build();
  rig.inside.put(rig.pool, tcp_frame({r2, r1, 53, 53}, 1000, flag::syn, {}));
  rig.inside.put(rig.pool, tcp_frame({r2, r1, 53, 53}, 1001, flag::ack | flag::psh, tcp_framed(query)));
  rig.inside.put(rig.pool, tcp_frame({r1, r2, 53, 53}, 5000, flag::syn | flag::ack, {}));
  rig.inside.put(rig.pool, tcp_frame({r1, r2, 53, 53}, 5001, flag::ack | flag::psh, tcp_framed(lab_referral(777))));
  rig.inside.put(rig.pool, udp_frame({r2, r1, 53, 53}, DnsBuilder(778).question("www.example.lab", kA).build()));
  rig.inside.put(rig.pool, udp_frame({r1, r2, 53, 53}, lab_referral(778)));
  // The learner has taken the TCP referral: learned from it, or refused it.
  ASSERT_TRUE(wait_for([&] {
    LearnCounters c = d.learn_counters();
    return c[static_cast<size_t>(LearnEvent::response_from_inside)] + c[static_cast<size_t>(LearnEvent::added)] >= 1;
  }));
  // Judged as queries to anchors: all six passed.
  ASSERT_TRUE(wait_for([&] { return d.totals().get(Counter::tx_outside) == 6; }));
  LearnCounters c = d.learn_counters();
  EXPECT_EQ(c[static_cast<size_t>(LearnEvent::added)], 0u);
  EXPECT_EQ(c[static_cast<size_t>(LearnEvent::response_from_inside)], 1u);  // the UDP one never reaches it
  rig.inside.put(rig.pool, udp_frame({"192.0.2.10", "203.0.113.53", 40000, 53}, DnsBuilder(9).question("www.example.lab", kA).build()));
  ASSERT_TRUE(wait_for([&] { return d.totals().get(Counter::dropped) == 1; }));
}

// The tracker's key has no class: a query of class CH must not be what an
// IN response matches (the workers read the class in place).
TEST(Dataplane, AQueryOfAnotherClassIsNotWhatAResponseMatches) {
  Rig rig;
  ASSERT_TRUE(rig.start());
  Dataplane& d = *rig.d;
  const char* root = "198.41.0.4";
  for (uint16_t qclass : {uint16_t{3}, uint16_t{1}}) {  // CH: nothing; then IN: the referral teaches
    uint16_t id = qclass == 1 ? 778 : 777;
    rig.inside.put(rig.pool, udp_frame({"192.0.2.10", root, 40000, 53}, DnsBuilder(id).question("www.example.lab", kA, qclass).build()));
    rig.outside.put(rig.pool, udp_frame({root, "192.0.2.10", 53, 40000}, lab_referral(id)));
    ASSERT_TRUE(wait_for([&] {
      LearnCounters c = d.learn_counters();
      return c[static_cast<size_t>(LearnEvent::unmatched_response)] + c[static_cast<size_t>(LearnEvent::added)] >=
             (qclass == 1 ? 2u : 1u);
    }));
  }
  LearnCounters c = d.learn_counters();
  EXPECT_EQ(c[static_cast<size_t>(LearnEvent::unmatched_response)], 1u);  // the CH query's
  EXPECT_EQ(c[static_cast<size_t>(LearnEvent::added)], 1u);               // the IN query's
}

// With learning.clients, the workers hand over only the listed clients'
// queries: a bot's query is forwarded (to an anchor) but not tracked, so an
// answer to it, spoofed from the root, teaches nothing.
TEST(Dataplane, OnlyTheListedClientsQueriesReachTheLearner) {
  Rig rig([](DataplaneOptions& o) { o.config.learning.clients = {*Prefix::parse("192.0.2.53/32")}; });
  ASSERT_TRUE(rig.start());
  Dataplane& d = *rig.d;
  const char* root = "198.41.0.4";
  Bytes q = DnsBuilder(777).question("www.example.lab", kA).build();
  rig.inside.put(rig.pool, udp_frame({"192.0.2.77", root, 40000, 53}, q));  // the bot
  rig.inside.put(rig.pool, udp_frame({"192.0.2.53", root, 40000, 53}, q));  // the resolver
  ASSERT_TRUE(wait_for([&] { return d.totals().get(Counter::tx_outside) == 2; }));
  EXPECT_EQ(d.totals().get(Counter::handoff_not_client), 1u);
  EXPECT_EQ(d.totals().get(Counter::handoff), 1u);
  rig.outside.put(rig.pool, udp_frame({root, "192.0.2.77", 53, 40000}, lab_referral(777)));
  rig.outside.put(rig.pool, udp_frame({root, "192.0.2.53", 53, 40000}, lab_referral(777)));
  ASSERT_TRUE(wait_for([&] {
    LearnCounters c = d.learn_counters();
    return c[static_cast<size_t>(LearnEvent::unmatched_response)] + c[static_cast<size_t>(LearnEvent::added)] >= 2;
  }));
  LearnCounters c = d.learn_counters();
  EXPECT_EQ(c[static_cast<size_t>(LearnEvent::unmatched_response)], 1u);  // the bot's
  EXPECT_EQ(c[static_cast<size_t>(LearnEvent::added)], 1u);               // the resolver's
}

// hold_responses: a referral waits in the worker until the learner has
// taken it, so the resolver's next query, to the server it names, passes.
// While the learner is held up the referral stays in (and a query to its
// glue is still unknown); once taken, it goes in exactly once, and the
// glue passes as soon as it has.
TEST(Dataplane, AHeldResponseGoesInOnlyAfterTheLearnerTookItAndOnce) {
  Rig rig([](DataplaneOptions& o) { o.config.hold_responses = true; });
  ASSERT_TRUE(rig.start());
  Dataplane& d = *rig.d;
  const char* root = "198.41.0.4";
  auto to_glue = [] { return udp_frame({"192.0.2.10", "203.0.113.53", 40001, 53}, DnsBuilder(9).question("www.example.lab", kA).build()); };
  rig.inside.put(rig.pool, udp_frame({"192.0.2.10", root, 40000, 53}, DnsBuilder(777).question("www.example.lab", kA).build()));
  ASSERT_TRUE(wait_for([&] { return d.totals().get(Counter::tx_outside) == 1; }));
  LearnerHold hold(d);
  ASSERT_TRUE(wait_for([&] { return hold.holding(); }));
  rig.outside.put(rig.pool, udp_frame({root, "192.0.2.10", 53, 40000}, lab_referral(777)));
  ASSERT_TRUE(wait_for([&] { return d.totals().get(Counter::held) == 1; }));
  EXPECT_EQ(rte_ring_count(rig.inside.tx[0]), 0u) << "a held response went in before the learner took it";
  rig.inside.put(rig.pool, to_glue());
  ASSERT_TRUE(wait_for([&] { return d.totals().get(Counter::dropped) == 1; }));
  EXPECT_EQ(rte_ring_count(rig.inside.tx[0]), 0u);
  hold.release();
  ASSERT_TRUE(wait_for([&] { return rte_ring_count(rig.inside.tx[0]) == 1; }));
  rig.inside.put(rig.pool, to_glue());
  ASSERT_TRUE(wait_for([&] { return d.totals().get(Counter::rx_inside) == 3; }));
  ASSERT_TRUE(wait_for([&] { return d.totals().get(Counter::tx_outside) + d.totals().get(Counter::dropped) == 3; }));
  EXPECT_EQ(d.totals().get(Counter::tx_outside), 2u) << "the glue did not pass once its referral had gone in";
  EXPECT_EQ(d.totals().get(Counter::tx_inside), 1u);
  EXPECT_EQ(rte_ring_count(rig.inside.tx[0]), 1u);
  EXPECT_EQ(d.held_lost(), 0u);
}

// More responses than the hold ring takes while the learner is held up:
// the rest go in at once (learned from copies), none is lost, and every
// held one follows once the learner is back.
TEST(Dataplane, ResponsesBeyondTheHoldRingGoInAtOnceAndNoneIsLost) {
  Rig rig([](DataplaneOptions& o) { o.config.hold_responses = true; }, 4095);
  ASSERT_TRUE(rig.start());
  Dataplane& d = *rig.d;
  LearnerHold hold(d);
  ASSERT_TRUE(wait_for([&] { return hold.holding(); }));
  constexpr unsigned kResponses = 1100;  // the hold ring takes 1023
  for (unsigned i = 0; i < kResponses; ++i)
    rig.outside.put(rig.pool, udp_frame({"198.41.0.4", "192.0.2.10", 53, static_cast<uint16_t>(20000 + i)},
                                        lab_referral(static_cast<uint16_t>(i))));
  // A burst is counted received before it is held or sent: wait for both.
  ASSERT_TRUE(wait_for([&] {
    return d.totals().get(Counter::held) + d.totals().get(Counter::hold_full) == kResponses &&
           d.totals().get(Counter::tx_inside) == d.totals().get(Counter::hold_full);
  })) << "held " << d.totals().get(Counter::held) << " full " << d.totals().get(Counter::hold_full) << " in "
      << d.totals().get(Counter::tx_inside);
  EXPECT_GT(d.totals().get(Counter::hold_full), 0u);  // those went in at once
  hold.release();
  ASSERT_TRUE(wait_for([&] { return d.totals().get(Counter::tx_inside) == kResponses; }));
  EXPECT_EQ(rte_ring_count(rig.inside.tx[0]), kResponses);
  EXPECT_EQ(d.held_lost(), 0u);
}

// Queries from the Internet to a server inside (over UDP and TCP) are let
// in, but not handed to the learner: their answers leave unjudged, and
// tracking them would let anyone outside fill the tracker.
TEST(Dataplane, QueriesComingInAreForwardedButNotTracked) {
  Rig rig;
  ASSERT_TRUE(rig.start());
  Dataplane& d = *rig.d;
  Bytes q = DnsBuilder(9).question("www.inside.lab", kA).build();
  rig.outside.put(rig.pool, udp_frame({"203.0.113.9", "192.0.2.10", 5555, 53}, q));
  rig.outside.put(rig.pool, tcp_frame({"203.0.113.9", "192.0.2.10", 5556, 53}, 1001, flag::ack | flag::psh, tcp_framed(q)));
  ASSERT_TRUE(wait_for([&] { return d.totals().get(Counter::tx_inside) == 2; }));
  EXPECT_EQ(d.totals().get(Counter::handoff), 0u);
  // A resolver's exchange still teaches.
  const char* root = "198.41.0.4";
  rig.inside.put(rig.pool, udp_frame({"192.0.2.10", root, 40000, 53}, DnsBuilder(777).question("www.example.lab", kA).build()));
  rig.outside.put(rig.pool, udp_frame({root, "192.0.2.10", 53, 40000}, lab_referral(777)));
  ASSERT_TRUE(wait_for([&] { return d.learn_counters()[static_cast<size_t>(LearnEvent::added)] == 1; }));
  EXPECT_EQ(d.totals().get(Counter::handoff) + d.totals().get(Counter::held), 2u);  // the query; the referral
}

INSTANTIATE_TEST_SUITE_P(Dataplane, TwoWorkers, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? "ResponsesHeld" : "ResponsesCopied";
                         });

TEST(Dataplane, DropLogTimesAndSnapshotExpiriesFollowAWallClockStepAfterStart) {
  // The box booted with its clock a day behind; NTP steps it once nsgate
  // runs. Drop-log lines after the step carry the corrected time, and a
  // snapshot keeps expiries in corrected Unix time (on the old offset they
  // would be a day early, and a restart would drop every learned entry).
  rte_mempool* pool = rte_pktmbuf_pool_create("step_frames", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  ASSERT_NE(pool, nullptr);
  RingPort inside("step_inside"), outside("step_outside");
  constexpr TimeNs kDay = 86400 * kNsPerSec;
  auto behind = std::make_shared<std::atomic<TimeNs>>(kDay);
  auto real_wall = [] {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return TimeNs{ts.tv_sec} * kNsPerSec + ts.tv_nsec;
  };
  DataplaneOptions opts;
  opts.config.ports.inside = inside.name;
  opts.config.ports.outside = outside.name;
  opts.wall_clock = [behind, real_wall] { return real_wall() - behind->load(); };
  Dataplane d(opts);
  ASSERT_TRUE(started(d));

  auto drop_time = [&](uint16_t id) {
    inside.put(pool, udp_frame({"192.0.2.10", "203.0.113.66", 30000, 53},
                               DnsBuilder(id).question("bot.example", kA).build()));
    TimeNs t = 0;
    EXPECT_TRUE(wait_for([&] {
      d.poll_events([&](const QueryEvent& ev) { t = ev.time; });
      return t != 0;
    }));
    return t;
  };
  constexpr TimeNs kSlack = 30 * kNsPerSec;
  TimeNs before = drop_time(1);
  EXPECT_NEAR(static_cast<double>(before), static_cast<double>(real_wall() - kDay), kSlack);

  // Teach one delegation (TTL 172800 s), then step the clock forward a day.
  const char* root = "198.41.0.4";
  inside.put(pool, udp_frame({"192.0.2.10", root, 40000, 53}, DnsBuilder(777).question("www.example.lab", kA).build()));
  ASSERT_TRUE(wait_for([&] { return d.totals().get(Counter::rx_inside) == 2; }));
  outside.put(pool, udp_frame({root, "192.0.2.10", 53, 40000}, lab_referral(777)));
  ASSERT_TRUE(wait_for([&] { return d.learn_counters()[static_cast<size_t>(LearnEvent::added)] == 1; }));
  behind->store(0);
  // The learner re-reads the offset within 100 ms.
  ASSERT_TRUE(wait_for([&] { return std::llabs(d.wall_offset() + clock_ns_monotonic() - real_wall()) < kSlack; }));
  TimeNs after = drop_time(2);
  EXPECT_NEAR(static_cast<double>(after), static_cast<double>(real_wall()), kSlack);

  std::string path = "/tmp/nsgate-step-" + std::to_string(getpid()) + ".snap";
  d.request_snapshot(path);
  ASSERT_TRUE(wait_for([&] { return d.snapshots_written() + d.snapshot_failures() > 0; }));
  ASSERT_EQ(d.last_snapshot_error(), "");
  snapshot::Contents c;
  std::string error;
  ASSERT_TRUE(snapshot::read_file(path, c, error)) << error;
  std::remove(path.c_str());
  EXPECT_NEAR(static_cast<double>(c.taken_at), static_cast<double>(real_wall()), kSlack);
  bool found = false;
  for (const Provenance& p : c.entries) {
    if (p.address != *IpAddress::parse("203.0.113.53")) continue;
    found = true;
    // TTL 172800 s plus the default grace of 300 s, from (corrected) now.
    EXPECT_NEAR(static_cast<double>(p.expires), static_cast<double>(real_wall() + (172800 + 300) * kNsPerSec),
                kSlack);
  }
  EXPECT_TRUE(found);
  d.stop();
  inside.drain();
  outside.drain();
}

// A snapshot asked for just before stop() is written, whole, by the time
// `n` learned records at 198.18.0.0/15 in 500 zones, valid for an hour
// from now (wall clock): a table whose snapshot copy takes n / 512 slices.
std::vector<Provenance> hour_of_records(uint32_t n) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  TimeNs wall = TimeNs{ts.tv_sec} * kNsPerSec + ts.tv_nsec;
  std::vector<Provenance> entries(n);
  for (uint32_t i = 0; i < n; ++i) {
    Provenance& p = entries[i];
    p.address = IpAddress::v4(0xc6120000u + i);
    std::string zone = std::string("z").append(std::to_string(i % 500)).append(".lab");
    p.zone = zone + ".";
    p.ns = std::string("ns").append(std::to_string(i)).append(".").append(p.zone);
    p.ns_ttl = p.addr_ttl = 3600;
    p.expires = wall + 3600 * kNsPerSec;
    p.query_time = p.response_time = wall - kNsPerSec;
    p.query_name = std::string("www.").append(p.zone);
    p.server = *IpAddress::parse("198.41.0.4");
  }
  return entries;
}

// Inits `d` (between two ring ports), loads hour_of_records(n) and starts it.
void start_with_records(Dataplane& d, uint32_t n) {
  std::string error;
  ASSERT_TRUE(d.init(error)) << error;
  ASSERT_EQ(d.load(hour_of_records(n)), n);
  ASSERT_TRUE(d.start(error)) << error;
}
DataplaneOptions between(const RingPort& inside, const RingPort& outside) {
  DataplaneOptions opts;
  opts.config.ports.inside = inside.name;
  opts.config.ports.outside = outside.name;
  return opts;
}

// stop(path)'s snapshot is the state at shutdown: a referral the learner
// takes in as the workers stop is in it. Asked for just before stop()
// instead, the snapshot's copy (in slices, from the first slot) had passed
// the record the referral refreshed by the time the learner read it.
TEST(Dataplane, TheFinalSnapshotHoldsWhatTheLearnerTookInAtStop) {
  rte_mempool* pool = rte_pktmbuf_pool_create("final_frames", 255, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  ASSERT_NE(pool, nullptr);
  RingPort inside("final_inside"), outside("final_outside");
  Dataplane d(between(inside, outside));
  // ns1.nic.lab's address for lab. first (the copy reaches it first), for
  // an hour; then enough records for hundreds of slices.
  std::vector<Provenance> records = hour_of_records(200000);
  records[0].address = *IpAddress::parse("203.0.113.53");
  records[0].zone = "lab.";
  records[0].ns = "ns1.nic.lab.";
  std::string error;
  ASSERT_TRUE(d.init(error)) << error;
  for (const RootHint& h : builtin_root_hints()) d.learner().add_anchor(h.address, h.name);
  ASSERT_EQ(d.load(records), records.size());
  ASSERT_TRUE(d.start(error)) << error;
  ASSERT_TRUE(d.run_on_learner([](const Learner&) {}));  // its loop is running
  const char* root = "198.41.0.4";
  inside.put(pool, udp_frame({"192.0.2.10", root, 40000, 53}, DnsBuilder(777).question("www.example.lab", kA).build()));
  ASSERT_TRUE(wait_for([&] { return d.totals().get(Counter::rx_inside) == 1; }));
  // The root refers to it again, for two days.
  outside.put(pool, udp_frame({root, "192.0.2.10", 53, 40000}, lab_referral(777)));
  ASSERT_TRUE(wait_for([&] { return d.totals().get(Counter::rx_outside) == 1; }));
  std::string path = "/tmp/nsgate-final-" + std::to_string(getpid()) + ".snap";
  d.stop(path);
  EXPECT_EQ(d.learn_counters()[static_cast<size_t>(LearnEvent::refreshed)], 1u);
  snapshot::Contents c;
  ASSERT_TRUE(snapshot::read_file(path, c, error)) << error;
  std::remove(path.c_str());
  EXPECT_EQ(c.entries.size(), records.size());
  bool found = false;
  for (const Provenance& p : c.entries) {
    if (p.address != *IpAddress::parse("203.0.113.53")) continue;
    found = true;
    EXPECT_GT(p.expires - c.taken_at, TimeNs{86400} * kNsPerSec) << "the refresh at stop is missing";
  }
  EXPECT_TRUE(found) << "203.0.113.53 is not in the final snapshot";
  inside.drain();
  outside.drain();
}

// stop() returns (copied in slices, a large one used to be abandoned
// half-copied when the learner thread ended, with no error counted).
TEST(Dataplane, ASnapshotRequestedJustBeforeStopIsWrittenWhole) {
  RingPort inside("stopsnap_inside"), outside("stopsnap_outside");
  Dataplane d(between(inside, outside));
  constexpr uint32_t kRecords = 50000;  // about a hundred slices
  ASSERT_NO_FATAL_FAILURE(start_with_records(d, kRecords));
  std::string path = "/tmp/nsgate-stopsnap-" + std::to_string(getpid()) + ".snap";
  d.request_snapshot(path);
  d.stop();
  EXPECT_EQ(d.snapshots_written(), 1u);
  EXPECT_EQ(d.snapshot_failures(), 0u);
  snapshot::Contents c;
  std::string error;
  ASSERT_TRUE(snapshot::read_file(path, c, error)) << error;
  std::remove(path.c_str());
  EXPECT_EQ(c.entries.size(), kRecords);
}

// A request made while another snapshot is still being copied in slices,
// just before stop(): both are written (the second used to be dropped when
// the learner thread finished the copy under way and ended).
TEST(Dataplane, ARequestBehindACopyUnderWayAtStopIsWrittenToo) {
  RingPort inside("behindsnap_inside"), outside("behindsnap_outside");
  Dataplane d(between(inside, outside));
  constexpr uint32_t kRecords = 200000;  // hundreds of slices: still copying at stop()
  ASSERT_NO_FATAL_FAILURE(start_with_records(d, kRecords));
  std::string base = "/tmp/nsgate-behindsnap-" + std::to_string(getpid());
  std::string periodic = base + "-periodic.snap", final_one = base + "-final.snap";
  d.request_snapshot(periodic);
  ASSERT_TRUE(wait_for([&] { return !d.snapshot_requested(); }));  // its copy has begun
  d.request_snapshot(final_one);
  d.stop();
  EXPECT_EQ(d.snapshots_written(), 2u);
  EXPECT_EQ(d.snapshot_failures(), 0u);
  for (const std::string& path : {periodic, final_one}) {
    snapshot::Contents c;
    std::string error;
    EXPECT_TRUE(snapshot::read_file(path, c, error)) << path << ": " << error;
    EXPECT_EQ(c.entries.size(), kRecords) << path;
    std::remove(path.c_str());
  }
}

}  // namespace
}  // namespace nsgate::dp

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  std::string err;
  std::vector<std::string> eal = nsgate::dp::offline_eal_args(512);
  // offline_eal_args runs on lcore 0 alone: the dataplane needs worker
  // lcores, two for TwoWorkers (sharing the second core).
  eal.pop_back();
  eal.back() = "--lcores=0@0,1@1,2@1";
  if (!nsgate::dp::init_eal(eal, err)) {
    std::fprintf(stderr, "%s\n", err.c_str());
    return 1;
  }
  return RUN_ALL_TESTS();
}
