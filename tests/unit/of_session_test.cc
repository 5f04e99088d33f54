// SPDX-License-Identifier: BSD-3-Clause
// The OpenFlow session, with the test playing the switch: handshake,
// reconciliation by generation, the fallback when a switch refuses
// bundles, learning from packet-ins, and what a broken switch may not do.
// The real Open vSwitch runs in tests/integration/ofshim_test.sh.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/root_hints.hh"
#include "ctl/of_session.hh"
#include "support/builder.hh"

namespace nsgate::testing {
namespace {

using of::Buffer;
using of::MsgType;

IpAddress ip(const char* s) { return *IpAddress::parse(s); }
constexpr TimeNs kSec = kNsPerSec;

struct Msg {
  of::Header h;
  Buffer bytes;
};

std::vector<Msg> split(Buffer& out) {
  std::vector<Msg> msgs;
  size_t at = 0;
  while (at + 8 <= out.size()) {
    Msg m;
    EXPECT_EQ(of::decode_header(std::span(out).subspan(at), m.h), of::Status::ok);
    m.bytes.assign(out.begin() + static_cast<long>(at), out.begin() + static_cast<long>(at + m.h.length));
    at += m.h.length;
    msgs.push_back(std::move(m));
  }
  out.clear();
  return msgs;
}

size_t count(const std::vector<Msg>& ms, MsgType t) {
  size_t n = 0;
  for (const Msg& m : ms) n += m.h.type == t;
  return n;
}

const Msg* first(const std::vector<Msg>& ms, MsgType t) {
  for (const Msg& m : ms)
    if (m.h.type == t) return &m;
  return nullptr;
}

// A session over a learner that trusts one lab root server.
class Switch : public ::testing::Test {
 protected:
  Switch() : table(1024), learner(config().learning, table) {
    learner.add_anchor(ip("198.51.100.1"), "a.root.");
    learner.add_static(config().static_allow[0]);
    open(config());
  }
  // A fresh session with `c` over the same learner.
  void open(const Config& c) {
    session = std::make_unique<ctl::OfSession>(c, learner, table,
                                               [this](const QueryEvent& ev) { events.push_back(ev); },
                                               [this](const std::string& s) { log.push_back(s); });
  }
  // Connects, reconciles an empty switch and waits for the sync's barrier.
  void sync(TimeNs at) {
    dump_reply(handshake(at), {}, at);
    barrier_reply(split(out).back().h.xid, at);
    ASSERT_TRUE(session->ready());
  }
  static Config config() {
    Config c;
    c.openflow.inside_port = 1;
    c.static_allow.push_back({*Prefix::parse("203.0.113.53/32"), "", ""});
    return c;
  }
  void feed(const Buffer& msg, TimeNs at) { session->on_message(msg, out, at); }
  // Connects and answers up to the flow-stats dump; returns that request's xid.
  uint32_t handshake(TimeNs at) {
    session->on_connect(out, at);
    EXPECT_EQ(split(out).at(0).h.type, MsgType::hello);
    Buffer hello;
    of::encode_hello(hello, 1);
    feed(hello, at);
    EXPECT_EQ(split(out).at(0).h.type, MsgType::features_request);
    Buffer features;
    of::FeaturesReply f;
    f.n_tables = 254;
    of::encode(features, 2, f);
    feed(features, at);
    std::vector<Msg> ms = split(out);
    EXPECT_EQ(count(ms, MsgType::set_config), 1u);
    // Fragments in OVS's nx-match mode: a query's first fragment keeps its
    // ports, so the query flows judge it (with "normal" it would pass).
    if (const Msg* sc = first(ms, MsgType::set_config)) {
      of::SwitchConfig cfg;
      EXPECT_EQ(of::decode(sc->bytes, cfg), of::Status::ok);
      EXPECT_EQ(cfg.flags, of::frag::nx_match);
    }
    EXPECT_EQ(count(ms, MsgType::meter_mod), 2u);
    const Msg* dump = first(ms, MsgType::multipart_request);
    EXPECT_NE(dump, nullptr);
    return dump ? dump->h.xid : 0;
  }
  // The switch's answer to the dump: `flows` nsgate flows of generation 5.
  void dump_reply(uint32_t xid, std::vector<of::FlowStats> flows, TimeNs at) {
    Buffer b;
    of::encode_flow_stats_reply(b, xid, flows, false);
    feed(b, at);
  }
  // A first sync over a switch holding one stale generation-5 allow, whose
  // bundle the switch refuses (BAD_REQUEST / BAD_EXPERIMENTER): returns the
  // sync sent again as flow-mods one by one, ending with its barrier.
  std::vector<Msg> sync_refusing_the_bundle(TimeNs at) {
    dump_reply(handshake(at), {stale_allow("192.0.2.99")}, at);
    std::vector<Msg> ms = split(out);
    Buffer err;
    of::encode(err, ms.front().h.xid, of::Error{1, 3, std::span<const std::byte>(ms.front().bytes)});
    feed(err, at);
    barrier_reply(ms.back().h.xid, at);
    return split(out);
  }
  void barrier_reply(uint32_t xid, TimeNs at) {
    Buffer b;
    of::encode_empty(b, xid, MsgType::barrier_reply);
    feed(b, at);
  }
  static of::FlowStats stale_allow(const char* address) {
    Config c = config();
    of::FlowPlan p = of::FlowPlan::from(c, 5);
    of::FlowMod f = of::allow_address(p, ip(address), 300);
    of::FlowStats s;
    s.table = f.table;
    s.priority = f.priority;
    s.cookie = f.cookie;
    s.match = f.match;
    return s;
  }
  Buffer packet_in(uint8_t table_id, const Bytes& frame, uint32_t in_port = 2) {
    of::PacketIn p;
    p.reason = 1;
    p.table = table_id;
    p.total_len = static_cast<uint16_t>(frame.size());
    p.match.in_port = in_port;
    p.data = frame;
    Buffer b;
    of::encode(b, 0, p);
    return b;
  }

  ctl::RecordingTable table;
  Learner learner;
  std::unique_ptr<ctl::OfSession> session;
  Buffer out;
  std::vector<QueryEvent> events;
  std::vector<std::string> log;
};

TEST_F(Switch, ReconnectReAddsEverythingUnderANewGenerationInOneBundleAndDeletesTheOld) {
  uint32_t dump = handshake(1 * kSec);
  dump_reply(dump, {stale_allow("192.0.2.99"), stale_allow("198.51.100.1")}, 1 * kSec);
  std::vector<Msg> ms = split(out);
  // open, adds (2 table entries + the pipeline + the delete of generation 5), commit, barrier
  ASSERT_GE(ms.size(), 4u);
  EXPECT_EQ(ms.front().h.type, MsgType::experimenter);
  EXPECT_EQ(ms.back().h.type, MsgType::barrier_request);
  of::BundleCtrl open, commit;
  ASSERT_EQ(of::decode(ms.front().bytes, open), of::Status::ok);
  ASSERT_EQ(of::decode(ms[ms.size() - 2].bytes, commit), of::Status::ok);
  EXPECT_EQ(open.type, of::BundleCtrlType::open_request);
  EXPECT_EQ(commit.type, of::BundleCtrlType::commit_request);
  // Every bundled flow-mod carries generation 6; the last one deletes generation 5.
  of::FlowMod last;
  for (size_t i = 1; i + 2 < ms.size(); ++i) {
    Buffer inner(ms[i].bytes.begin() + 24, ms[i].bytes.end());
    of::FlowMod f;
    ASSERT_EQ(of::decode(inner, f), of::Status::ok);
    if (f.command == of::FlowModCommand::add) {
      EXPECT_EQ(f.cookie, of::cookie_of(6));
    }
    last = f;
  }
  EXPECT_EQ(last.command, of::FlowModCommand::remove);
  EXPECT_EQ(last.cookie, of::cookie_of(5));
  EXPECT_EQ(session->stats().stale_flows_removed, 1u);  // 192.0.2.99 is in no table
  EXPECT_FALSE(session->ready());
  barrier_reply(ms.back().h.xid, 1 * kSec);
  EXPECT_TRUE(session->ready());
  EXPECT_EQ(session->stats().flows_installed, 2u);  // the anchor and the static host
}

TEST_F(Switch, AReloadDuringASyncIsPushedOnceThatSyncEnds) {
  dump_reply(handshake(1 * kSec), {}, 1 * kSec);
  uint32_t barrier = split(out).back().h.xid;  // the first push, not yet confirmed
  Config monitor = config();
  monitor.mode = Mode::monitor;
  session->apply(monitor, out, 1 * kSec);
  EXPECT_TRUE(out.empty());  // nothing sent over the push under way
  barrier_reply(barrier, 1 * kSec);
  // That push was the old configuration: not in sync, a new dump follows.
  EXPECT_FALSE(session->ready());
  EXPECT_EQ(session->stats().ready, 0u);
  std::vector<Msg> ms = split(out);
  const Msg* dump = first(ms, MsgType::multipart_request);
  ASSERT_NE(dump, nullptr);
  dump_reply(dump->h.xid, {}, 2 * kSec);
  barrier_reply(split(out).back().h.xid, 2 * kSec);
  EXPECT_TRUE(session->ready());
  EXPECT_EQ(session->stats().reconciles, 2u);
}

TEST_F(Switch, AReloadThatRemovesAStaticLeavesTheInstalledCountExact) {
  sync(1 * kSec);
  EXPECT_EQ(session->stats().flows_installed, 2u);  // the root hint and the static
  Config without = config();
  without.static_allow.clear();
  learner.replace_statics(without.static_allow);
  session->apply(without, out, 2 * kSec);
  std::vector<Msg> ms = split(out);
  const Msg* dump = first(ms, MsgType::multipart_request);
  ASSERT_NE(dump, nullptr);
  dump_reply(dump->h.xid, {}, 2 * kSec);
  for (int i = 0; i < 3 && !session->ready(); ++i) barrier_reply(split(out).back().h.xid, 2 * kSec);
  ASSERT_TRUE(session->ready());
  EXPECT_EQ(session->stats().flows_installed, 1u);
}

TEST_F(Switch, AReloadThatChangesTheMeterRatesModifiesTheMeters) {
  sync(1 * kSec);
  Config same = config();
  session->apply(same, out, 2 * kSec);
  EXPECT_EQ(count(split(out), MsgType::meter_mod), 0u);
  EXPECT_EQ(session->stats().ready, 0u);  // re-synchronising
  Config faster = config();
  faster.openflow.learn_rate = 25000;
  session->apply(faster, out, 3 * kSec);
  std::vector<Msg> ms = split(out);
  std::vector<of::MeterMod> mods;
  for (const Msg& m : ms) {
    if (m.h.type != MsgType::meter_mod) continue;
    ASSERT_EQ(of::decode(m.bytes, mods.emplace_back()), of::Status::ok);
  }
  ASSERT_EQ(mods.size(), 2u);
  EXPECT_EQ(mods[0].command, of::MeterModCommand::modify);
  ASSERT_EQ(mods[0].bands.size(), 1u);
  EXPECT_EQ(mods[0].bands[0].rate, 25000u);
  EXPECT_EQ(mods[1].command, of::MeterModCommand::modify);
}

TEST_F(Switch, ARefusedBundleFallsBackToSingleFlowModsAndStillRemovesTheOldGeneration) {
  std::vector<Msg> ms = sync_refusing_the_bundle(1 * kSec);
  EXPECT_FALSE(session->ready());
  EXPECT_EQ(count(ms, MsgType::experimenter), 0u);  // no bundle any more
  EXPECT_GT(count(ms, MsgType::flow_mod), 2u);
  barrier_reply(ms.back().h.xid, 1 * kSec);
  ms = split(out);
  ASSERT_EQ(count(ms, MsgType::flow_mod), 1u);  // generation 5 deleted after the adds
  of::FlowMod del;
  ASSERT_EQ(of::decode(first(ms, MsgType::flow_mod)->bytes, del), of::Status::ok);
  EXPECT_EQ(del.cookie, of::cookie_of(5));
  barrier_reply(ms.back().h.xid, 1 * kSec);
  EXPECT_TRUE(session->ready());
  EXPECT_EQ(session->stats().flows_installed, 2u);
}

TEST_F(Switch, APipelineFlowRefusedInAOneByOneSyncKeepsTheOldGenerationAndDropsTheSwitch) {
  std::vector<Msg> ms = sync_refusing_the_bundle(1 * kSec);  // allows, then the pipeline
  ASSERT_EQ(count(ms, MsgType::experimenter), 0u);
  ASSERT_GE(ms.size(), 2u);
  const Msg& pipeline = ms[ms.size() - 2];  // the last flow-mod before the barrier
  of::FlowMod f;
  ASSERT_EQ(of::decode(pipeline.bytes, f), of::Status::ok);
  ASSERT_FALSE(f.match.ip_dst);  // not an allow flow
  Buffer refused;
  of::encode(refused, pipeline.h.xid, of::Error{5, 1, std::span<const std::byte>(pipeline.bytes).first(64)});
  feed(refused, 1 * kSec);  // FLOW_MOD_FAILED / TABLE_FULL
  barrier_reply(ms.back().h.xid, 1 * kSec);
  EXPECT_NE(session->fatal().find("refused a pipeline flow"), std::string::npos) << session->fatal();
  EXPECT_EQ(count(split(out), MsgType::flow_mod), 0u);  // generation 5 not deleted
  EXPECT_FALSE(session->ready());
}

TEST_F(Switch, AReferralCopiedToNsgateInstallsAFlowForTheGlueAddress) {
  sync(1 * kSec);
  of::FlowPlan plan = of::FlowPlan::from(config(), 1);
  uint8_t learn_table = plan.stage(of::Stage::learn_copy);
  Endpoints q{"192.0.2.53", "198.51.100.1", 40000, 53}, r{"198.51.100.1", "192.0.2.53", 53, 40000};
  feed(packet_in(learn_table, udp_frame(q, DnsBuilder(7).question("www.example.lab", 1).build())), 2 * kSec);
  Bytes referral = DnsBuilder(7, flags::qr)
                       .question("www.example.lab", 1)
                       .ns(DnsBuilder::authority, "lab", "ns1.lab", 300)
                       .addr(DnsBuilder::additional, "ns1.lab", "203.0.113.10", 300)
                       .build();
  feed(packet_in(learn_table, udp_frame(r, referral)), 2 * kSec);
  session->tick(out, 2 * kSec);
  std::vector<Msg> ms = split(out);
  const Msg* fm = first(ms, MsgType::flow_mod);
  ASSERT_NE(fm, nullptr);
  of::FlowMod f;
  ASSERT_EQ(of::decode(fm->bytes, f), of::Status::ok);
  ASSERT_TRUE(f.match.ip_dst);
  EXPECT_EQ(f.match.ip_dst->address, ip("203.0.113.10"));
  EXPECT_GE(f.hard_timeout, 599);  // TTL 300 + grace 300
  EXPECT_LE(f.hard_timeout, 601);
  EXPECT_EQ(session->stats().flows_installed, 2u);  // counted only when its barrier returns
  barrier_reply(ms.back().h.xid, 2 * kSec);
  EXPECT_EQ(session->stats().flows_installed, 3u);
}

// A host inside sends, from port 53 to port 53, a "query" from an allowed
// address (the static) to the root, then the root's "referral" back to it:
// both are queries to allowed servers for the switch (judged, copied to
// nsgate). From the inside port only queries count.
TEST_F(Switch, AResponseCopiedFromTheInsidePortTeachesNothing) {
  sync(1 * kSec);
  of::FlowPlan plan = of::FlowPlan::from(config(), 1);
  uint8_t learn_table = plan.stage(of::Stage::learn_copy);
  Endpoints q{"203.0.113.53", "198.51.100.1", 53, 53}, r{"198.51.100.1", "203.0.113.53", 53, 53};
  Bytes referral = DnsBuilder(7, flags::qr)
                       .question("www.bot.lab", 1)
                       .ns(DnsBuilder::authority, "bot.lab", "ns.bot.lab", 86400)
                       .addr(DnsBuilder::additional, "ns.bot.lab", "203.0.113.66", 86400)
                       .build();
  for (uint32_t in_port : {1u, 2u}) {  // inside, then the same response from outside
    feed(packet_in(learn_table, udp_frame(q, DnsBuilder(7).question("www.bot.lab", 1).build()), 1), 2 * kSec);
    feed(packet_in(learn_table, udp_frame(r, referral), in_port), 2 * kSec);
    bool learned = learner.lookup(ip("203.0.113.66"), 2 * kSec).allowed;
    EXPECT_EQ(learned, in_port == 2) << "response from port " << in_port;
  }
  EXPECT_EQ(learner.counters()[static_cast<size_t>(LearnEvent::response_from_inside)], 1u);
}

TEST_F(Switch, FlowsLongerThanTheTimeoutFieldAreReAddedBeforeTheyRunOut) {
  sync(1 * kSec);
  uint8_t learn_table = of::FlowPlan::from(config(), 1).stage(of::Stage::learn_copy);
  Endpoints q{"192.0.2.53", "198.51.100.1", 40000, 53}, r{"198.51.100.1", "192.0.2.53", 53, 40000};
  feed(packet_in(learn_table, udp_frame(q, DnsBuilder(7).question("www.example.lab", 1).build())), 2 * kSec);
  Bytes referral = DnsBuilder(7, flags::qr)
                       .question("www.example.lab", 1)
                       .ns(DnsBuilder::authority, "lab", "ns1.lab", 172800)  // two days: past 65535 s
                       .addr(DnsBuilder::additional, "ns1.lab", "203.0.113.10", 172800)
                       .build();
  feed(packet_in(learn_table, udp_frame(r, referral)), 2 * kSec);
  session->tick(out, 2 * kSec);
  std::vector<Msg> ms = split(out);
  of::FlowMod f;
  ASSERT_EQ(of::decode(first(ms, MsgType::flow_mod)->bytes, f), of::Status::ok);
  EXPECT_EQ(f.hard_timeout, 65535);
  barrier_reply(ms.back().h.xid, 2 * kSec);
  // Keep the switch talking, then move to an hour before the flow runs out.
  auto at = [](int64_t s) { return TimeNs{s} * kSec; };
  Buffer echo;
  of::encode_echo(echo, 1, true);
  feed(echo, at(2 + 65535 - 4000));
  session->tick(out, at(2 + 65535 - 4000));
  EXPECT_EQ(count(split(out), MsgType::flow_mod), 0u);  // more than an hour left: nothing yet
  feed(echo, at(2 + 65535 - 3000));
  session->tick(out, at(2 + 65535 - 3000));
  ms = split(out);
  ASSERT_EQ(count(ms, MsgType::flow_mod), 1u);
  ASSERT_EQ(of::decode(first(ms, MsgType::flow_mod)->bytes, f), of::Status::ok);
  EXPECT_EQ(f.match.ip_dst->address, ip("203.0.113.10"));
  EXPECT_EQ(f.hard_timeout, 65535);  // still more than 65535 s of life left
  EXPECT_EQ(session->stats().flows_refreshed, 1u);
}

// With hold_responses, responses reach nsgate from the classify table.
class HeldSwitch : public Switch {
 protected:
  HeldSwitch() {
    Config c = config();
    c.openflow.hold_responses = true;
    open(c);
  }
  // The resolver's query (copied from the judge's learning copy, table 2)
  // from `port`, and the root's referral to ns1.lab at 203.0.113.10 (held
  // from the classify table).
  void referral(uint16_t id, uint16_t port, TimeNs at) {
    feed(packet_in(2, udp_frame({"192.0.2.53", "198.51.100.1", port, 53},
                                 DnsBuilder(id).question("www.example.lab", 1).build())), at);
    Bytes r = DnsBuilder(id, flags::qr)
                  .question("www.example.lab", 1)
                  .ns(DnsBuilder::authority, "lab", "ns1.lab", 300)
                  .addr(DnsBuilder::additional, "ns1.lab", "203.0.113.10", 300)
                  .build();
    feed(packet_in(0, udp_frame({"198.51.100.1", "192.0.2.53", 53, port}, r)), at);
  }
};

TEST_F(HeldSwitch, AResponseThatTaughtWaitsForItsFlowsAndTheSwitchCacheToSettle) {
  sync(kSec);
  referral(7, 40000, 2 * kSec);
  std::vector<Msg> ms = split(out);
  EXPECT_EQ(count(ms, MsgType::flow_mod), 1u);
  EXPECT_EQ(count(ms, MsgType::packet_out), 0u);  // not before the flow is in place
  barrier_reply(ms.back().h.xid, 2 * kSec);
  session->tick(out, 2 * kSec + 1'000'000);
  EXPECT_EQ(count(split(out), MsgType::packet_out), 0u);  // the switch's cache is still settling
  EXPECT_TRUE(session->releases_pending());
  session->tick(out, 2 * kSec + 20'000'000);
  ms = split(out);
  ASSERT_EQ(count(ms, MsgType::packet_out), 1u);
  of::PacketOut po;
  ASSERT_EQ(of::decode(first(ms, MsgType::packet_out)->bytes, po), of::Status::ok);
  EXPECT_EQ(po.in_port, 2u);
  ASSERT_EQ(po.actions.size(), 1u);
  EXPECT_EQ(po.actions[0].port, of::port::normal);
  EXPECT_FALSE(session->releases_pending());
  // A response that teaches nothing goes straight on.
  Bytes answer = DnsBuilder(8, flags::qr).question("x.lab", 1).addr(DnsBuilder::answer, "x.lab", "203.0.113.80", 60).build();
  feed(packet_in(0, udp_frame({"203.0.113.10", "192.0.2.53", 53, 40001}, answer)), 3 * kSec);
  EXPECT_EQ(count(split(out), MsgType::packet_out), 1u);
}

TEST_F(HeldSwitch, ASecondReferralToAServerStillBeingInstalledWaitsForItsFlow) {
  // Two resolutions under one zone at once: the second referral only
  // refreshes the entry the first is installing; sent on at once, the
  // resolver's next query would race the first flow.
  sync(kSec);
  referral(7, 40000, 2 * kSec);
  std::vector<Msg> ms = split(out);
  ASSERT_EQ(count(ms, MsgType::flow_mod), 1u);
  uint32_t barrier = ms.back().h.xid;
  referral(8, 40001, 2 * kSec);
  ms = split(out);
  EXPECT_EQ(count(ms, MsgType::flow_mod), 0u);  // nothing new to install
  EXPECT_EQ(count(ms, MsgType::packet_out), 0u) << "sent on before the flow it relies on";
  barrier_reply(barrier, 2 * kSec);
  session->tick(out, 2 * kSec + 20'000'000);
  EXPECT_EQ(count(split(out), MsgType::packet_out), 2u);
}

TEST_F(HeldSwitch, AReferralDuringASyncWaitsForTheFlowPushedAfterIt) {
  // The sync's flows were planned before the referral: what it taught is
  // pushed once the sync is over, and the response waits for that.
  dump_reply(handshake(kSec), {}, kSec);
  uint32_t sync_barrier = split(out).back().h.xid;
  referral(7, 40000, 2 * kSec);
  EXPECT_EQ(count(split(out), MsgType::packet_out), 0u);
  barrier_reply(sync_barrier, 2 * kSec);
  for (int i = 0; i < 3 && !session->ready(); ++i) barrier_reply(split(out).back().h.xid, 2 * kSec);
  ASSERT_TRUE(session->ready());
  session->tick(out, 2 * kSec + 20'000'000);
  std::vector<Msg> ms = split(out);
  ASSERT_EQ(count(ms, MsgType::flow_mod), 1u);  // the referral's, after the sync
  EXPECT_EQ(count(ms, MsgType::packet_out), 0u) << "sent on before that flow";
  barrier_reply(ms.back().h.xid, 2 * kSec + 20'000'000);
  session->tick(out, 2 * kSec + 40'000'000);
  EXPECT_EQ(count(split(out), MsgType::packet_out), 1u);
  EXPECT_FALSE(session->releases_pending());
}

TEST_F(HeldSwitch, AReferralDuringASyncThatNeverEndsGoesOnAfterTwoSeconds) {
  // The switch answers echoes but never the flow dump: holding on would
  // keep the resolver's answers from it for as long as it stays connected.
  handshake(kSec);
  referral(7, 40000, 2 * kSec);
  session->tick(out, 3 * kSec);
  EXPECT_EQ(count(split(out), MsgType::packet_out), 0u);
  session->tick(out, 4 * kSec);
  EXPECT_EQ(count(split(out), MsgType::packet_out), 1u);
  EXPECT_FALSE(session->releases_pending());
}

TEST_F(Switch, DropLogCopiesBecomeEventsWithTheClientAndTheQuery) {
  uint32_t dump = handshake(1 * kSec);
  dump_reply(dump, {}, 1 * kSec);
  uint8_t log_table = of::FlowPlan::from(config(), 1).stage(of::Stage::log_copy);
  Endpoints q{"192.0.2.10", "203.0.113.66", 40001, 53};
  feed(packet_in(log_table, udp_frame(q, DnsBuilder(9).question("cmd.bot", 16).build())), 2 * kSec);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].src, ip("192.0.2.10"));
  EXPECT_EQ(events[0].dst, ip("203.0.113.66"));
  EXPECT_EQ(events[0].verdict, Verdict::drop_unknown);
  EXPECT_EQ(qname_text(events[0]), "cmd.bot.");
}

TEST_F(Switch, MalformedMessagesAreCountedAndTheSessionGoesOn) {
  handshake(1 * kSec);
  Buffer bad = packet_in(12, udp_frame({"192.0.2.10", "203.0.113.66", 1, 53}, DnsBuilder(1).build()));
  bad.resize(30);
  bad[2] = std::byte{0};
  bad[3] = std::byte{30};  // consistent header, body cut inside the match
  feed(bad, 1 * kSec);
  EXPECT_EQ(session->stats().malformed[static_cast<size_t>(of::Status::truncated)], 1u);
  EXPECT_TRUE(session->fatal().empty());
  Buffer echo;
  of::encode_echo(echo, 77, false);
  feed(echo, 1 * kSec);
  std::vector<Msg> ms = split(out);
  const Msg* reply = first(ms, MsgType::echo_reply);
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(reply->h.xid, 77u);
}

TEST_F(Switch, ASwitchThatAnswersEchoesButNeverABarrierIsDropped) {
  dump_reply(handshake(0), {}, 0);
  split(out);  // the full push and its barrier, never answered
  Buffer echo;
  of::encode_echo(echo, 9, false);
  for (TimeNs t = 1 * kSec; t <= 120 * kSec; t += kSec) {
    feed(echo, t);  // alive: the echo timeout does not fire
    session->tick(out, t);
    ASSERT_TRUE(session->fatal().empty()) << t / kSec << " s: " << session->fatal();
  }
  feed(echo, 122 * kSec);
  session->tick(out, 122 * kSec);
  EXPECT_NE(session->fatal().find("has not answered a barrier"), std::string::npos) << session->fatal();
}

TEST_F(Switch, BarriersAnsweredInTimeKeepTheSwitchHoweverLongChangesKeepComing) {
  sync(0);
  // Learned changes keep coming, each batch answered within seconds.
  Buffer echo;
  of::encode_echo(echo, 9, false);
  for (int i = 0; i < 50; ++i) {
    TimeNs t = (i + 1) * 5 * kSec;
    table.upsert(ip(("203.0.113." + std::to_string(i + 1)).c_str()), {TableValue::kNever, 0, EntryKind::learned});
    feed(echo, t);
    session->tick(out, t);
    std::vector<Msg> ms = split(out);
    const Msg* barrier = nullptr;
    for (const Msg& m : ms)
      if (m.h.type == MsgType::barrier_request) barrier = &m;
    ASSERT_NE(barrier, nullptr) << i;
    session->tick(out, t + 4 * kSec);
    ASSERT_TRUE(session->fatal().empty()) << session->fatal();
    barrier_reply(barrier->h.xid, t + 4 * kSec);
  }
}

TEST_F(Switch, AnAllowFlowDeletedOnTheSwitchWhileStillWantedIsPutBack) {
  sync(1 * kSec);
  of::FlowPlan plan = of::FlowPlan::from(config(), 1);  // the generation of a first sync
  auto removed = [&](const char* address, uint64_t cookie, uint8_t reason) {
    of::FlowMod f = of::allow_address(plan, ip(address), 0);
    EXPECT_EQ(f.flags & of::flow_flags::send_flow_rem, of::flow_flags::send_flow_rem);
    of::FlowRemoved r;
    r.cookie = cookie;
    r.reason = reason;
    r.table = f.table;
    r.priority = f.priority;
    r.match = f.match;
    Buffer b;
    of::encode(b, 0, r);
    feed(b, 2 * kSec);
    session->tick(out, 2 * kSec);
    return split(out);
  };
  // An older generation's flow, and a flow for an address nobody allows: gone on purpose.
  EXPECT_EQ(count(removed("198.51.100.1", of::cookie_of(7), 2), MsgType::flow_mod), 0u);
  EXPECT_EQ(count(removed("192.0.2.99", plan.cookie(), 2), MsgType::flow_mod), 0u);
  EXPECT_EQ(session->stats().flows_restored, 0u);
  // The root hint's flow, deleted by hand (reason 2: delete): added again.
  std::vector<Msg> ms = removed("198.51.100.1", plan.cookie(), 2);
  const Msg* add = first(ms, MsgType::flow_mod);
  ASSERT_NE(add, nullptr);
  of::FlowMod f;
  ASSERT_EQ(of::decode(add->bytes, f), of::Status::ok);
  EXPECT_EQ(f.command, of::FlowModCommand::add);
  ASSERT_TRUE(f.match.ip_dst);
  EXPECT_EQ(f.match.ip_dst->address, ip("198.51.100.1"));
  EXPECT_EQ(session->stats().flows_restored, 1u);
  EXPECT_EQ(session->stats().flows_installed, 1u);  // until its barrier returns
  barrier_reply(ms.back().h.xid, 2 * kSec);
  EXPECT_EQ(session->stats().flows_installed, 2u);
}

// A switch whose flow table is full (FLOW_MOD_FAILED / TABLE_FULL) refuses
// an allow flow: it is sent again after 5 s, then 10 s, until taken.
TEST_F(Switch, AnAllowFlowTheSwitchRefusedIsSentAgainAfterABackOff) {
  sync(1 * kSec);
  auto allow_flows = [](const std::vector<Msg>& ms) {
    std::vector<const Msg*> found;
    for (const Msg& m : ms) {
      of::FlowMod f;
      if (m.h.type == MsgType::flow_mod && of::decode(m.bytes, f) == of::Status::ok && f.match.ip_dst &&
          f.match.ip_dst->address == ip("203.0.113.10"))
        found.push_back(&m);
    }
    return found;
  };
  auto refuse = [&](const Msg& flow_mod, uint32_t barrier, TimeNs at) {
    Buffer err;
    of::encode(err, flow_mod.h.xid, of::Error{5, 1, std::span<const std::byte>(flow_mod.bytes).first(64)});
    feed(err, at);
    barrier_reply(barrier, at);
  };
  learner.add_static({*Prefix::parse("203.0.113.10/32"), "", ""});
  session->tick(out, 2 * kSec);
  std::vector<Msg> ms = split(out);
  ASSERT_EQ(allow_flows(ms).size(), 1u);
  refuse(*allow_flows(ms)[0], ms.back().h.xid, 2 * kSec);
  EXPECT_EQ(session->stats().flows_installed, 2u);  // not the refused one
  session->tick(out, 6 * kSec);
  EXPECT_TRUE(allow_flows(split(out)).empty()) << "sent again before its 5 s";
  session->tick(out, 7 * kSec);
  ms = split(out);
  ASSERT_EQ(allow_flows(ms).size(), 1u) << "not sent again after 5 s";
  refuse(*allow_flows(ms)[0], ms.back().h.xid, 7 * kSec);
  session->tick(out, 16 * kSec);
  EXPECT_TRUE(allow_flows(split(out)).empty()) << "the second wait is 10 s";
  session->tick(out, 17 * kSec);
  ms = split(out);
  ASSERT_EQ(allow_flows(ms).size(), 1u);
  barrier_reply(ms.back().h.xid, 17 * kSec);
  EXPECT_EQ(session->stats().flows_installed, 3u);
  EXPECT_EQ(session->stats().flows_retried, 2u);
  EXPECT_EQ(std::count_if(log.begin(), log.end(),
                          [](const std::string& l) { return l.find("switch error") != std::string::npos; }),
            1) << "a refused retry is said again";
  session->tick(out, 400 * kSec);
  EXPECT_TRUE(allow_flows(split(out)).empty()) << "installed: nothing more to send";
}

TEST_F(Switch, ASwitchWithoutOpenflow13IsRefusedWithAHint) {
  session->on_connect(out, 1 * kSec);
  split(out);
  Buffer hello10 = {std::byte{1}, std::byte{0}, std::byte{0}, std::byte{8},
                    std::byte{0}, std::byte{0}, std::byte{0}, std::byte{1}};
  feed(hello10, 1 * kSec);
  EXPECT_NE(session->fatal().find("protocols=OpenFlow13"), std::string::npos);
  EXPECT_EQ(split(out).at(0).h.type, MsgType::error);
}

TEST_F(Switch, ASilentSwitchIsDroppedAfterThreeEchoIntervals) {
  handshake(1 * kSec);
  session->tick(out, 6 * kSec);
  EXPECT_TRUE(session->fatal().empty());
  EXPECT_NE(first(split(out), MsgType::echo_request), nullptr);
  session->tick(out, 17 * kSec);
  EXPECT_NE(session->fatal().find("sent nothing"), std::string::npos);
}

}  // namespace
}  // namespace nsgate::testing
