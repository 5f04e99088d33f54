// SPDX-License-Identifier: BSD-3-Clause
// The OpenFlow 1.3 codec and the flows nsgate programs.
//
// Golden bytes: tests/data/openflow/NAME.hex holds the bytes each intent
// below must encode to. Those files are checked by Open vSwitch itself:
// tests/integration/ofp_print_test.py runs `ovs-ofctl ofp-print` on each
// and compares with NAME.print (what OVS says the message means). Set
// NSGATE_WRITE_GOLDEN=1 to rewrite the .hex files after a deliberate
// change; the ofp-print test then shows whether OVS still agrees.

#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "core/of_flows.hh"
#include "core/openflow.hh"
#include "support/builder.hh"

namespace nsgate::testing {
namespace {

using of::Buffer;

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

std::string hex(const Buffer& b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (std::byte x : b) {
    s += d[static_cast<uint8_t>(x) >> 4];
    s += d[static_cast<uint8_t>(x) & 15];
  }
  return s;
}

std::string golden_path(const std::string& name) {
  return std::string(NSGATE_SOURCE_DIR) + "/tests/data/openflow/" + name + ".hex";
}

std::string read_golden(const std::string& name) {
  std::ifstream f(golden_path(name));
  std::string s, line;
  while (std::getline(f, line)) s += line;
  return s;
}

Buffer unhex(const std::string& s) {
  Buffer b;
  for (size_t i = 0; i + 1 < s.size(); i += 2) b.push_back(static_cast<std::byte>(std::stoi(s.substr(i, 2), nullptr, 16)));
  return b;
}

const Bytes& sample_frame() {
  static const Bytes f =
      udp_frame({"192.0.2.10", "203.0.113.66", 40000, 53}, DnsBuilder(0x1234).question("bot.example", 1).build());
  return f;
}

of::FlowPlan plan() {
  Config c;
  c.openflow.table = 10;
  c.openflow.inside_port = 1;
  c.trusted_sources.push_back({*Prefix::parse("198.51.100.0/24"), ""});
  c.static_allow.push_back({*Prefix::parse("192.0.2.128/25"), "", ""});
  c.static_allow.push_back({*Prefix::parse("2001:db8:53::/48"), "", ""});
  return of::FlowPlan::from(c, 7);
}

of::FlowStats flow_stats_entry() {
  of::FlowStats s;
  of::FlowMod f = of::allow_address(plan(), ip("192.0.2.53"), 300);
  s.table = f.table;
  s.duration_sec = 12;
  s.duration_nsec = 5000;
  s.priority = f.priority;
  s.hard_timeout = f.hard_timeout;
  s.cookie = f.cookie;
  s.packet_count = 3;
  s.byte_count = 210;
  s.match = f.match;
  s.instructions = f.instructions;
  return s;
}

// Every golden message: name -> encoder.
std::map<std::string, std::function<void(Buffer&)>> goldens() {
  std::map<std::string, std::function<void(Buffer&)>> g;
  g["hello"] = [](Buffer& b) { of::encode_hello(b, 1); };
  g["echo_request"] = [](Buffer& b) {
    static const std::byte data[] = {std::byte{'n'}, std::byte{'s'}, std::byte{'g'}, std::byte{'t'}};
    of::encode_echo(b, 2, false, data);
  };
  g["features_request"] = [](Buffer& b) { of::encode_empty(b, 3, of::MsgType::features_request); };
  g["barrier_request"] = [](Buffer& b) { of::encode_empty(b, 4, of::MsgType::barrier_request); };
  g["set_config"] = [](Buffer& b) { of::encode(b, 5, of::SwitchConfig{of::frag::nx_match}); };
  g["set_async"] = [](Buffer& b) {
    of::AsyncConfig a;
    a.packet_in_mask[0] = 0x3;  // no-match and action
    a.flow_removed_mask[0] = 0xf;
    of::encode(b, 6, a);
  };
  g["meter_mod_learn"] = [](Buffer& b) {
    OpenflowConfig c;
    of::encode(b, 7, of::meters(c, of::MeterModCommand::add)[0]);
  };
  g["flow_mod_classify_query"] = [](Buffer& b) { of::encode(b, 8, of::pipeline_flows(plan())[0]); };
  g["flow_mod_classify_response"] = [](Buffer& b) { of::encode(b, 9, of::pipeline_flows(plan())[1]); };
  g["flow_mod_allow_v4"] = [](Buffer& b) { of::encode(b, 10, of::allow_address(plan(), ip("192.0.2.53"), 300)); };
  g["flow_mod_allow_v6"] = [](Buffer& b) { of::encode(b, 11, of::allow_address(plan(), ip("2001:db8::53"), 65535)); };
  g["flow_mod_forget_v4"] = [](Buffer& b) { of::encode(b, 12, of::forget_address(plan(), ip("192.0.2.53"))); };
  g["flow_mod_remove_generation"] = [](Buffer& b) { of::encode(b, 13, of::remove_generation(6)); };
  g["flow_mod_pipeline"] = [](Buffer& b) {
    uint32_t xid = 100;
    for (const of::FlowMod& f : of::pipeline_flows(plan())) of::encode(b, xid++, f);
  };
  g["flow_stats_request"] = [](Buffer& b) {
    of::FlowStatsRequest r;
    r.cookie = of::kCookieMagic;
    r.cookie_mask = of::kCookieMagicMask;
    of::encode(b, 14, r);
  };
  g["packet_out"] = [](Buffer& b) {
    of::PacketOut p;
    p.actions = {of::output(of::port::normal)};
    p.data = sample_frame();
    of::encode(b, 15, p);
  };
  g["packet_in"] = [](Buffer& b) {
    of::PacketIn p;
    p.reason = 1;
    p.table = 12;
    p.cookie = of::cookie_of(7);
    p.total_len = static_cast<uint16_t>(sample_frame().size());
    p.match.in_port = 1;
    p.data = sample_frame();
    of::encode(b, 16, p);
  };
  g["flow_removed"] = [](Buffer& b) {
    of::FlowRemoved r;
    r.cookie = of::cookie_of(7);
    r.priority = of::prio::allowed;
    r.reason = 1;
    r.table = 11;
    r.duration_sec = 300;
    r.hard_timeout = 300;
    r.packet_count = 2;
    r.byte_count = 140;
    r.match = of::allow_address(plan(), ip("192.0.2.53"), 300).match;
    of::encode(b, 17, r);
  };
  g["features_reply"] = [](Buffer& b) {
    of::FeaturesReply f;
    f.datapath_id = 0x0000'5254'0012'3456;
    f.n_buffers = 0;
    f.n_tables = 254;
    f.capabilities = 0x4f;
    of::encode(b, 18, f);
  };
  g["flow_stats_reply"] = [](Buffer& b) {
    of::FlowStats s = flow_stats_entry();
    of::encode_flow_stats_reply(b, 19, std::span<const of::FlowStats>(&s, 1), false);
  };
  g["bundle_open"] = [](Buffer& b) { of::encode(b, 21, of::BundleCtrl{9, of::BundleCtrlType::open_request}); };
  g["bundle_add_allow_v4"] = [](Buffer& b) {
    of::encode_bundle_add(b, 22, 9, of::bundle_flags::atomic | of::bundle_flags::ordered,
                          of::allow_address(plan(), ip("192.0.2.53"), 300));
  };
  g["bundle_commit"] = [](Buffer& b) { of::encode(b, 23, of::BundleCtrl{9, of::BundleCtrlType::commit_request}); };
  g["bundle_commit_reply"] = [](Buffer& b) { of::encode(b, 23, of::BundleCtrl{9, of::BundleCtrlType::commit_reply}); };
  g["error_flow_mod_failed"] = [](Buffer& b) {
    Buffer req;
    of::encode(req, 10, of::allow_address(plan(), ip("192.0.2.53"), 300));
    of::Error e{5, 2, std::span<const std::byte>(req.data(), 64)};  // FLOW_MOD_FAILED / BAD_TABLE_ID
    of::encode(b, 20, e);
  };
  return g;
}

TEST(OpenflowCodec, EveryMessageEncodesToItsGoldenBytes) {
  bool write = std::getenv("NSGATE_WRITE_GOLDEN") != nullptr;
  for (auto& [name, encode] : goldens()) {
    Buffer b;
    encode(b);
    if (write) {
      std::ofstream(golden_path(name)) << hex(b) << "\n";
      continue;
    }
    EXPECT_EQ(hex(b), read_golden(name)) << name;
  }
  // Rewriting checks nothing: the run that rewrites fails, and the files
  // are then read by ofp_print_test (ovs-ofctl) before they are trusted.
  EXPECT_FALSE(write) << "golden files rewritten; check them with ofp_print_test and run again without NSGATE_WRITE_GOLDEN";
}

TEST(OpenflowCodec, EveryEncodedMessageHasItsLengthInTheHeader) {
  for (auto& [name, encode] : goldens()) {
    Buffer b;
    encode(b);
    // A message stream: walk the headers to the end.
    size_t at = 0;
    while (at < b.size()) {
      of::Header h;
      ASSERT_EQ(of::decode_header(std::span(b).subspan(at), h), of::Status::ok) << name;
      EXPECT_EQ(h.version, of::kVersion) << name;
      at += h.length;
    }
    EXPECT_EQ(at, b.size()) << name;
  }
}

TEST(OpenflowCodec, FlowModDecodesBackToTheSameIntent) {
  of::FlowPlan p = plan();
  std::vector<of::FlowMod> flows = of::pipeline_flows(p);
  flows.push_back(of::allow_address(p, ip("2001:db8::53"), 42));
  flows.push_back(of::forget_address(p, ip("192.0.2.53")));
  for (const of::FlowMod& f : flows) {
    Buffer b;
    of::encode(b, 1, f);
    of::FlowMod d;
    ASSERT_EQ(of::decode(b, d), of::Status::ok);
    EXPECT_EQ(d.cookie, f.cookie);
    EXPECT_EQ(d.cookie_mask, f.cookie_mask);
    EXPECT_EQ(d.table, f.table);
    EXPECT_EQ(d.command, f.command);
    EXPECT_EQ(d.priority, f.priority);
    EXPECT_EQ(d.hard_timeout, f.hard_timeout);
    EXPECT_EQ(d.match, f.match);
    EXPECT_EQ(d.instructions, f.instructions);
  }
}

TEST(OpenflowCodec, TheFirstFragmentMatchReadsBackAsOvsReportsIt) {
  // nsgate writes NXM_NX_IP_FRAG "first" as value 1 / mask 3; Open vSwitch
  // reports it in a flow dump as value 1, unmasked. Both are the field.
  of::FlowPlan p = plan();
  of::FlowMod tiny;
  for (const of::FlowMod& f : of::pipeline_flows(p))
    if (f.match.first_fragment) tiny = f;
  ASSERT_TRUE(tiny.match.first_fragment);
  Buffer b;
  of::encode(b, 1, tiny);
  auto u8 = [&](size_t at) { return std::to_integer<unsigned>(b[at]); };
  size_t match_len = u8(48 + 2) << 8 | u8(48 + 3);
  const std::byte masked[] = {std::byte(0x00), std::byte(0x01), std::byte(26 << 1 | 1), std::byte(2), std::byte(1),
                              std::byte(3)};
  auto at = std::search(b.begin() + 52, b.begin() + 48 + static_cast<long>(match_len), std::begin(masked),
                        std::end(masked));
  ASSERT_NE(at, b.begin() + 48 + static_cast<long>(match_len));
  // The same match with the field unmasked, padded again to 8 bytes.
  Buffer fields(b.begin() + 52, b.begin() + 48 + static_cast<long>(match_len));
  size_t off = static_cast<size_t>(at - (b.begin() + 52));
  fields.erase(fields.begin() + static_cast<long>(off), fields.begin() + static_cast<long>(off) + 6);
  const std::byte unmasked[] = {std::byte(0x00), std::byte(0x01), std::byte(26 << 1), std::byte(1), std::byte(1)};
  fields.insert(fields.begin() + static_cast<long>(off), std::begin(unmasked), std::end(unmasked));
  size_t new_len = 4 + fields.size();
  Buffer out(b.begin(), b.begin() + 48);
  out.push_back(std::byte(0));
  out.push_back(std::byte(1));  // OFPMT_OXM
  out.push_back(std::byte(new_len >> 8));
  out.push_back(std::byte(new_len & 0xff));
  out.insert(out.end(), fields.begin(), fields.end());
  while (out.size() % 8) out.push_back(std::byte(0));
  out.insert(out.end(), b.begin() + 48 + static_cast<long>((match_len + 7) / 8 * 8), b.end());
  out[2] = std::byte(out.size() >> 8);
  out[3] = std::byte(out.size() & 0xff);
  of::FlowMod d;
  ASSERT_EQ(of::decode(out, d), of::Status::ok);
  EXPECT_EQ(d.match, tiny.match);
  EXPECT_EQ(d.match.other_fields, 0u);
}

TEST(OpenflowCodec, PacketInGivesTheFrameWithoutCopying) {
  Buffer b = unhex(read_golden("packet_in"));
  of::PacketIn p;
  ASSERT_EQ(of::decode(b, p), of::Status::ok);
  EXPECT_EQ(p.table, 12);
  EXPECT_EQ(p.reason, 1);
  EXPECT_EQ(p.cookie, of::cookie_of(7));
  EXPECT_EQ(p.match.in_port, 1u);
  ASSERT_EQ(p.data.size(), sample_frame().size());
  EXPECT_TRUE(std::equal(p.data.begin(), p.data.end(), sample_frame().begin()));
  EXPECT_GE(p.data.data(), b.data());
  EXPECT_LE(p.data.data() + p.data.size(), b.data() + b.size());
}

TEST(OpenflowCodec, FlowStatsReplyDecodesEntryByEntry) {
  Buffer b = unhex(read_golden("flow_stats_reply"));
  of::MultipartReply r;
  ASSERT_EQ(of::decode(b, r), of::Status::ok);
  EXPECT_EQ(r.type, of::kMultipartFlow);
  std::vector<of::FlowStats> stats;
  ASSERT_EQ(of::decode_flow_stats(r.body, stats), of::Status::ok);
  ASSERT_EQ(stats.size(), 1u);
  of::FlowStats want = flow_stats_entry();
  EXPECT_EQ(stats[0].cookie, want.cookie);
  EXPECT_EQ(stats[0].hard_timeout, 300);
  EXPECT_EQ(stats[0].match, want.match);
  EXPECT_EQ(stats[0].instructions, want.instructions);
}

TEST(OpenflowCodec, ErrorNamesTheRequestItAnswers) {
  Buffer b = unhex(read_golden("error_flow_mod_failed"));
  of::Error e;
  ASSERT_EQ(of::decode(b, e), of::Status::ok);
  EXPECT_EQ(of::describe(e), "FLOW_MOD_FAILED code 2 (in reply to FLOW_MOD xid 10)");
}

TEST(OpenflowCodec, BundleReplyDecodesToItsBundleAndType) {
  Buffer b = unhex(read_golden("bundle_commit_reply"));
  of::BundleCtrl c;
  ASSERT_EQ(of::decode(b, c), of::Status::ok);
  EXPECT_EQ(c.bundle_id, 9u);
  EXPECT_EQ(c.type, of::BundleCtrlType::commit_reply);
  // Another experimenter's message is not taken for a bundle reply.
  Buffer other = b;
  other[8] = std::byte{0x00};
  EXPECT_EQ(of::decode(other, c), of::Status::bad_type);
}

TEST(OpenflowCodec, BundleAddCarriesTheWholeFlowModWithTheSameXid) {
  Buffer b = unhex(read_golden("bundle_add_allow_v4"));
  Buffer inner(b.begin() + 24, b.end());
  of::Header outer, in;
  ASSERT_EQ(of::decode_header(b, outer), of::Status::ok);
  ASSERT_EQ(of::decode_header(inner, in), of::Status::ok);
  EXPECT_EQ(outer.xid, in.xid);
  EXPECT_EQ(in.length, inner.size());
  of::FlowMod f;
  EXPECT_EQ(of::decode(inner, f), of::Status::ok);
  EXPECT_EQ(f.hard_timeout, 300);
}

TEST(OpenflowCodec, HelloReportsTheVersionBitmap) {
  Buffer b = unhex(read_golden("hello"));
  uint32_t bitmap = 0;
  ASSERT_EQ(of::decode_hello(b, bitmap), of::Status::ok);
  EXPECT_EQ(bitmap, 1u << 4);
  // A bare OpenFlow 1.0 hello (no elements) offers 1.0 only.
  Buffer v10 = unhex("0100000800000001");
  ASSERT_EQ(of::decode_hello(v10, bitmap), of::Status::ok);
  EXPECT_EQ(bitmap, 1u << 1);
}

// Decodes `msg` with the decoder for its type; Status::ok if none applies.
of::Status decode_as_its_type(std::span<const std::byte> msg) {
  of::Header h;
  if (of::Status s = of::decode_header(msg, h); s != of::Status::ok) return s;
  switch (h.type) {
    case of::MsgType::packet_in: { of::PacketIn x; return of::decode(msg, x); }
    case of::MsgType::flow_removed: { of::FlowRemoved x; return of::decode(msg, x); }
    case of::MsgType::flow_mod: { of::FlowMod x; return of::decode(msg, x); }
    case of::MsgType::packet_out: { of::PacketOut x; return of::decode(msg, x); }
    case of::MsgType::meter_mod: { of::MeterMod x; return of::decode(msg, x); }
    case of::MsgType::features_reply: { of::FeaturesReply x; return of::decode(msg, x); }
    case of::MsgType::error: { of::Error x; return of::decode(msg, x); }
    case of::MsgType::hello: { uint32_t x; return of::decode_hello(msg, x); }
    case of::MsgType::set_config: { of::SwitchConfig x; return of::decode(msg, x); }
    case of::MsgType::experimenter: {
      of::BundleCtrl x;
      of::Status s = of::decode(msg, x);
      return s == of::Status::bad_type ? of::Status::ok : s;  // bundle-add: not decoded by nsgate
    }
    case of::MsgType::multipart_reply: {
      of::MultipartReply r;
      if (of::Status s = of::decode(msg, r); s != of::Status::ok) return s;
      std::vector<of::FlowStats> v;
      return of::decode_flow_stats(r.body, v);
    }
    default: return of::Status::ok;
  }
}

TEST(OpenflowCodec, CutShortMessagesAreRefusedNeverRead) {
  for (auto& [name, encode] : goldens()) {
    // A stream, not one message; and messages nsgate never decodes.
    if (name == "flow_mod_pipeline" || name == "echo_request" || name == "features_request" ||
        name == "barrier_request" || name == "set_async" || name == "flow_stats_request" ||
        name == "bundle_add_allow_v4")
      continue;
    Buffer b;
    encode(b);
    for (size_t n = 0; n < b.size(); ++n) {
      // The header still claims the full length: always refused.
      Buffer cut(b.begin(), b.begin() + static_cast<long>(n));
      EXPECT_NE(decode_as_its_type(cut), of::Status::ok) << name << " cut to " << n;
    }
  }
}

TEST(OpenflowCodec, InnerLengthsThatOverrunTheMessageAreRefused) {
  Buffer b = unhex(read_golden("flow_mod_allow_v4"));
  of::FlowMod f;
  // The match length (offset 50) claims more than the message holds.
  Buffer bad = b;
  bad[50] = std::byte{0x7f};
  EXPECT_NE(of::decode(bad, f), of::Status::ok);
  // An OXM field length (offset 55) that runs past the match.
  bad = b;
  bad[55] = std::byte{0x40};
  EXPECT_EQ(of::decode(bad, f), of::Status::bad_oxm);
  // An instruction length of 0 would loop forever if trusted.
  bad = b;
  size_t ins = 48 + 24;  // fixed part + padded match (eth_type, ipv4_dst)
  bad[ins + 2] = std::byte{0};
  bad[ins + 3] = std::byte{0};
  EXPECT_EQ(of::decode(bad, f), of::Status::bad_instruction);
  // A packet-in whose data is longer than its total_len.
  Buffer pin = unhex(read_golden("packet_in"));
  pin[12] = std::byte{0};
  pin[13] = std::byte{10};
  of::PacketIn p;
  EXPECT_EQ(of::decode(pin, p), of::Status::bad_length);
  // A version 1.0 flow-mod is not read as 1.3.
  bad = b;
  bad[0] = std::byte{1};
  EXPECT_EQ(of::decode(bad, f), of::Status::bad_version);
}

TEST(OpenflowCodec, EveryByteFlipDecodesOrIsRefusedWithoutCrashing) {
  // Exercised under ASan/UBSan by the fuzz target too; here every position
  // gets three values, and a refusal must name a reason.
  for (auto& [name, encode] : goldens()) {
    if (name == "flow_mod_pipeline") continue;
    Buffer b;
    encode(b);
    for (size_t i = 0; i < b.size(); ++i) {
      for (uint8_t v : {uint8_t{0}, uint8_t{0xff}, uint8_t{0x08}}) {
        Buffer m = b;
        m[i] = std::byte{v};
        of::Status s = decode_as_its_type(m);
        EXPECT_LT(static_cast<size_t>(s), of::kStatusCount);
      }
    }
  }
}

TEST(OpenflowFlows, EnforceModeDropsUnknownQueriesButCopiesThemToTheDropLog) {
  std::vector<of::FlowMod> flows = of::pipeline_flows(plan());
  const of::FlowMod& miss = flows[flows.size() - 3];
  EXPECT_EQ(miss.table, 11);
  EXPECT_EQ(miss.priority, 0);
  EXPECT_FALSE(miss.instructions.apply_present);
  EXPECT_EQ(miss.instructions.goto_table, 13);
}

TEST(OpenflowFlows, MonitorModeForwardsUnknownQueriesAndCopiesThem) {
  of::FlowPlan p = plan();
  p.mode = Mode::monitor;
  std::vector<of::FlowMod> flows = of::pipeline_flows(p);
  const of::FlowMod& miss = flows[flows.size() - 3];
  ASSERT_EQ(miss.instructions.apply.size(), 1u);
  EXPECT_EQ(miss.instructions.apply[0].port, of::port::normal);
  EXPECT_EQ(miss.instructions.goto_table, 13);
}

TEST(OpenflowFlows, QueriesAreJudgedOnlyFromTheInsidePortWhenOneIsSet) {
  for (const of::FlowMod& f : of::pipeline_flows(plan())) {
    if (f.table == 10 && f.priority == of::prio::query) {
      EXPECT_EQ(f.match.in_port, 1u);
    }
    if (f.table == 10 && f.priority == of::prio::response) {
      EXPECT_FALSE(f.match.in_port);
    }
  }
}

// The classify flow a packet meets first: the highest priority whose
// match (in_port, eth_type, ip_proto, L4 ports, destination) holds for it.
// `first_fragment`: the packet is a fragment at offset 0 (OVS's nx-match
// fragment mode gives its ports, or 0 if its header is cut short).
const of::FlowMod* classify_flow_for(const std::vector<of::FlowMod>& flows, uint8_t table, uint32_t in_port,
                                     uint8_t proto, uint16_t sport, uint16_t dport, bool first_fragment = false,
                                     uint16_t eth_type = 0x0800, const IpAddress* dst = nullptr) {
  const of::FlowMod* best = nullptr;
  for (const of::FlowMod& f : flows) {
    if (f.table != table) continue;
    const of::Match& m = f.match;
    if (m.in_port && *m.in_port != in_port) continue;
    if (m.ip_dst && !(dst && Prefix{m.ip_dst->address, m.ip_dst->prefix}.contains(*dst))) continue;
    if (m.first_fragment && !first_fragment) continue;
    if (m.eth_type && *m.eth_type != eth_type) continue;
    if (m.ip_proto && *m.ip_proto != proto) continue;
    if ((m.udp_src && (proto != 17 || *m.udp_src != sport)) || (m.udp_dst && (proto != 17 || *m.udp_dst != dport)))
      continue;
    if ((m.tcp_src && (proto != 6 || *m.tcp_src != sport)) || (m.tcp_dst && (proto != 6 || *m.tcp_dst != dport)))
      continue;
    if (!best || f.priority > best->priority) best = &f;
  }
  return best;
}

bool copies_to_learner(const of::FlowMod& f, const of::FlowPlan& p) {
  bool to_controller = std::any_of(f.instructions.apply.begin(), f.instructions.apply.end(),
                                   [](const of::Action& a) { return a.port == of::port::controller; });
  return to_controller || f.instructions.goto_table == p.stage(of::Stage::learn_copy);
}

TEST(OpenflowFlows, ADnsPortPacketFromTheInsideIsForwardedButNeverTeaches) {
  // A host inside could forge the referral that allows its own server:
  // only responses from the other ports reach the learner.
  for (bool hold : {false, true}) {
    of::FlowPlan p = plan();
    p.hold_responses = hold;
    std::vector<of::FlowMod> flows = of::pipeline_flows(p);
    for (uint8_t proto : {uint8_t{17}, uint8_t{6}}) {
      const of::FlowMod* inside = classify_flow_for(flows, 10, 1, proto, 53, 40000);
      ASSERT_NE(inside, nullptr);
      EXPECT_FALSE(copies_to_learner(*inside, p)) << "hold " << hold << " proto " << int(proto);
      ASSERT_EQ(inside->instructions.apply.size(), 1u);
      EXPECT_EQ(inside->instructions.apply[0].port, of::port::normal);
      const of::FlowMod* outside = classify_flow_for(flows, 10, 2, proto, 53, 40000);
      ASSERT_NE(outside, nullptr);
      EXPECT_TRUE(copies_to_learner(*outside, p)) << "hold " << hold << " proto " << int(proto);
      // A query from the inside, even from port 53, is still judged.
      const of::FlowMod* query = classify_flow_for(flows, 10, 1, proto, 53, 53);
      ASSERT_NE(query, nullptr);
      EXPECT_EQ(query->instructions.goto_table, p.stage(of::Stage::judge));
    }
  }
}

// With hold_responses, responses go to nsgate unmetered (it sends them on
// after installing what they taught); with learning.clients only responses
// to the clients do: no other response can teach, and anyone can send
// from port 53.
TEST(OpenflowFlows, WithLearningClientsOnlyResponsesToThemAreHeld) {
  auto held = [](const of::FlowMod* f) {
    return f && f->instructions.apply.size() == 1 && f->instructions.apply[0].port == of::port::controller;
  };
  for (bool listed : {false, true}) {
    of::FlowPlan p = plan();
    p.hold_responses = true;
    if (listed) p.learn_clients = {*Prefix::parse("192.0.2.53/32"), *Prefix::parse("2001:db8::53/128")};
    std::vector<of::FlowMod> flows = of::pipeline_flows(p);
    for (uint8_t proto : {uint8_t{17}, uint8_t{6}}) {
      IpAddress resolver = ip("192.0.2.53"), resolver6 = ip("2001:db8::53"), bot = ip("192.0.2.77");
      EXPECT_TRUE(held(classify_flow_for(flows, 10, 2, proto, 53, 40000, false, 0x0800, &resolver)));
      EXPECT_TRUE(held(classify_flow_for(flows, 10, 2, proto, 53, 40000, false, 0x86dd, &resolver6)));
      const of::FlowMod* other = classify_flow_for(flows, 10, 2, proto, 53, 40000, false, 0x0800, &bot);
      ASSERT_NE(other, nullptr);
      EXPECT_EQ(held(other), !listed) << "a response to another host, listed " << listed;
      if (listed) {  // forwarded, and no copy either
        EXPECT_FALSE(copies_to_learner(*other, p));
        ASSERT_EQ(other->instructions.apply.size(), 1u);
        EXPECT_EQ(other->instructions.apply[0].port, of::port::normal);
      }
      // From the inside, a "response" to the resolver is forwarded, never held.
      const of::FlowMod* inside = classify_flow_for(flows, 10, 1, proto, 53, 40000, false, 0x0800, &resolver);
      ASSERT_NE(inside, nullptr);
      EXPECT_FALSE(copies_to_learner(*inside, p));
    }
  }
}

// With learning.clients, the learn-copy table copies from the inside port
// only the listed clients' queries (a bot's flood would use up the learn
// meter), and from elsewhere only responses to them (a bot's answers, or
// anyone's packets from port 53, would too).
TEST(OpenflowFlows, WithLearningClientsOnlyTheirQueriesAndTheirResponsesAreCopied) {
  auto copy_flow_for = [](const std::vector<of::FlowMod>& flows, const of::FlowPlan& p, uint32_t in_port,
                          const IpAddress& src, const IpAddress& dst) {
    const of::FlowMod* best = nullptr;
    for (const of::FlowMod& f : flows) {
      if (f.table != p.stage(of::Stage::learn_copy)) continue;
      const of::Match& m = f.match;
      if (m.in_port && *m.in_port != in_port) continue;
      if (m.eth_type && *m.eth_type != (src.is_v4() ? 0x0800 : 0x86dd)) continue;
      if (m.ip_src && !Prefix{m.ip_src->address, m.ip_src->prefix}.contains(src)) continue;
      if (m.ip_dst && !Prefix{m.ip_dst->address, m.ip_dst->prefix}.contains(dst)) continue;
      if (best && f.priority == best->priority) ADD_FAILURE() << "two flows of one priority match";
      if (!best || f.priority > best->priority) best = &f;
    }
    return best;
  };
  auto copied = [](const of::FlowMod* f) {
    return f && std::any_of(f->instructions.apply.begin(), f->instructions.apply.end(),
                            [](const of::Action& a) { return a.port == of::port::controller; });
  };
  for (bool listed : {false, true}) {
    of::FlowPlan p = plan();
    if (listed) p.learn_clients = {*Prefix::parse("192.0.2.53/32"), *Prefix::parse("2001:db8::53/128")};
    std::vector<of::FlowMod> flows = of::pipeline_flows(p);
    EXPECT_TRUE(copied(copy_flow_for(flows, p, 1, ip("192.0.2.53"), ip("198.41.0.4"))));
    EXPECT_TRUE(copied(copy_flow_for(flows, p, 1, ip("2001:db8::53"), ip("2001:503:ba3e::2:30"))));
    EXPECT_EQ(copied(copy_flow_for(flows, p, 1, ip("192.0.2.77"), ip("198.41.0.4"))), !listed)
        << "a bot's query, listed " << listed;
    EXPECT_TRUE(copied(copy_flow_for(flows, p, 2, ip("198.41.0.4"), ip("192.0.2.53")))) << "a response to a resolver";
    EXPECT_TRUE(copied(copy_flow_for(flows, p, 2, ip("2001:503:ba3e::2:30"), ip("2001:db8::53"))));
    EXPECT_EQ(copied(copy_flow_for(flows, p, 2, ip("198.41.0.4"), ip("192.0.2.77"))), !listed)
        << "a response to a bot, listed " << listed;
    for (auto [in_port, src, dst] : {std::tuple{1u, "192.0.2.53", "198.41.0.4"}, std::tuple{2u, "198.41.0.4", "192.0.2.53"}}) {
      const of::FlowMod* f = copy_flow_for(flows, p, in_port, ip(src), ip(dst));
      ASSERT_NE(f, nullptr);
      EXPECT_EQ(f->instructions.meter, std::optional<uint32_t>(of::kLearnMeter)) << src;
    }
  }
}

TEST(OpenflowFlows, AFirstFragmentCutInsideOrBeforeItsHeaderIsJudgedAsAQuery) {
  // RFC 1858's tiny fragment, or an IPv6 first fragment whose extension
  // headers push the UDP header into the next one: OVS reads the ports as
  // 0, so no query flow sees it; the receiver reassembles whatever it carries.
  of::FlowPlan p = plan();
  std::vector<of::FlowMod> flows = of::pipeline_flows(p);
  for (uint16_t eth : {uint16_t{0x0800}, uint16_t{0x86dd}}) {
    for (uint8_t proto : {uint8_t{6}, uint8_t{17}}) {
      SCOPED_TRACE(std::to_string(eth) + "/" + std::to_string(proto));
      const of::FlowMod* tiny = classify_flow_for(flows, 10, 1, proto, 0, 0, true, eth);
      ASSERT_NE(tiny, nullptr);
      EXPECT_EQ(tiny->instructions.goto_table, p.stage(of::Stage::judge));
      EXPECT_FALSE(tiny->instructions.apply_present);
      // Not a fragment, or from outside: not this flow's business.
      const of::FlowMod* whole = classify_flow_for(flows, 10, 1, proto, 0, 0, false, eth);
      ASSERT_NE(whole, nullptr);
      EXPECT_NE(whole->instructions.goto_table, p.stage(of::Stage::judge));
      const of::FlowMod* outside = classify_flow_for(flows, 10, 2, proto, 0, 0, true, eth);
      ASSERT_NE(outside, nullptr);
      EXPECT_NE(outside->instructions.goto_table, p.stage(of::Stage::judge));
      // A first fragment whose header is whole keeps its ports: a query flow's.
      const of::FlowMod* full = classify_flow_for(flows, 10, 1, proto, 40000, 53, true, eth);
      ASSERT_NE(full, nullptr);
      EXPECT_EQ(full->priority, of::prio::query);
    }
  }
}

TEST(OpenflowFlows, HostStaticsAreTableEntriesAndOnlyCidrsBecomeMaskedFlows) {
  Config c;
  c.static_allow.push_back({*Prefix::parse("192.0.2.1"), "", ""});
  c.static_allow.push_back({*Prefix::parse("192.0.2.128/25"), "", ""});
  of::FlowPlan p = of::FlowPlan::from(c, 1);
  ASSERT_EQ(p.static_prefixes.size(), 1u);
  EXPECT_EQ(p.static_prefixes[0].length, 25);
}

TEST(OpenflowFlows, HardTimeoutIsTheRemainingLifetimeCappedAndPinnedEntriesNeverTimeOut) {
  using of::hard_timeout_for;
  EXPECT_EQ(hard_timeout_for({1300, 0, EntryKind::learned}, 1000), 300);
  EXPECT_EQ(hard_timeout_for({1000 + 200000, 0, EntryKind::learned}, 1000), 65535);
  EXPECT_EQ(hard_timeout_for({1000, 0, EntryKind::learned}, 1000), std::nullopt);
  EXPECT_EQ(hard_timeout_for({TableValue::kNever, 0, EntryKind::anchor}, 1000), 0);
  EXPECT_EQ(hard_timeout_for({TableValue::kNever, 0, EntryKind::static_allow}, 1000), 0);
}

TEST(OpenflowFlows, CookiesMarkNsgateAndCarryTheGeneration) {
  uint64_t c = of::cookie_of(42);
  EXPECT_TRUE(of::is_nsgate_cookie(c));
  EXPECT_EQ(of::generation_of(c), 42u);
  EXPECT_FALSE(of::is_nsgate_cookie(0));
  for (const of::FlowMod& f : of::pipeline_flows(plan())) EXPECT_EQ(f.cookie, of::cookie_of(7));
}

}  // namespace
}  // namespace nsgate::testing
