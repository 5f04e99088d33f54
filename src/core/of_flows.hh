// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// What nsgate programs into an Open vSwitch bridge: the flows that make the
// switch judge DNS queries the way the DPDK workers do (DESIGN §3), as
// OpenFlow intents. Pure; the shim (src/ctl/ofshim) sends them.
//
// Four consecutive tables starting at the operator's `openflow.table` T:
//   T   classify  queries (UDP/TCP to a DNS port, from the inside port if
//                 one is set) -> T+1; responses (from a DNS port) -> NORMAL
//                 and a learning copy (T+2), or with hold_responses ->
//                 CONTROLLER only, unmetered (nsgate learns, installs, then
//                 sends the response on); anything else -> NORMAL.
//   T+1 judge     trusted source, allowed destination (anchor, static,
//                 learned: one flow per address, hard_timeout = remaining
//                 lifetime) -> NORMAL and a learning copy (the learner
//                 matches responses to queries); miss -> dropped (enforce)
//                 or NORMAL (monitor), and a drop-log copy (T+3).
//   T+2 learn     meter `learn` -> CONTROLLER
//   T+3 log       meter `drop_log` -> CONTROLLER
// The copies sit in their own tables because an OpenFlow meter applies to
// the whole flow: metering there limits packet-ins without ever dropping
// the forwarded packet (its output already happened in the earlier table).
//
// Every flow carries the cookie kCookieMagic | generation. A reconnect
// re-adds everything under a new generation (an ADD with the same match and
// priority replaces the old flow in place, so allowed traffic never sees a
// gap), then deletes what is left of older generations: the stale flows.

#include <cstdint>
#include <optional>
#include <vector>

#include "core/allow_table.hh"
#include "core/config.hh"
#include "core/openflow.hh"

namespace nsgate::of {

inline constexpr uint64_t kCookieMagic = 0x6e736774'00000000ull;  // "nsgt"
inline constexpr uint64_t kCookieMagicMask = 0xffffffff'00000000ull;
inline uint64_t cookie_of(uint32_t generation) { return kCookieMagic | generation; }
inline bool is_nsgate_cookie(uint64_t c) { return (c & kCookieMagicMask) == kCookieMagic; }
inline uint32_t generation_of(uint64_t c) { return static_cast<uint32_t>(c); }

inline constexpr uint32_t kLearnMeter = 1, kDropLogMeter = 2;

// Priorities inside nsgate's tables.
namespace prio {
inline constexpr uint16_t query = 200, response = 100, miss = 0;  // classify
// From the inside, a packet from a DNS port is no word of the DNS tree:
// forwarded, never copied to the learner (a host inside could forge the
// referral that allows its own server).
inline constexpr uint16_t inside_response = 150;
// With hold_responses and learning.clients: a response to a client (held
// for nsgate); other responses are forwarded by the response flow.
inline constexpr uint16_t client_held_response = 120;
// A TCP or UDP first fragment cut inside or before its header (RFC 1858;
// in IPv6 an extension header can push the UDP header into the second
// fragment): OVS reads its ports as 0, so the query flows cannot see it;
// judged as a query.
inline constexpr uint16_t tiny_fragment = 190;
inline constexpr uint16_t trusted = 300, allowed = 200;            // judge
// Learning copies with learning.clients: from the inside port only the
// listed clients' queries, from elsewhere only responses to them (only
// their queries are tracked, so nothing else can teach; a bot's queries,
// or their answers, or anyone's packets from port 53, must not use up the
// learn meter the resolvers need). Without clients, every copy goes.
inline constexpr uint16_t client_copy = 20, inside_no_copy = 10, client_response_copy = 5;  // learn copy
}  // namespace prio

enum class Stage : uint8_t { classify = 0, judge = 1, learn_copy = 2, log_copy = 3 };

struct FlowPlan {
  uint8_t table = 0;
  uint32_t generation = 1;
  Mode mode = Mode::enforce;
  std::vector<uint16_t> dns_ports{53};
  uint32_t inside_port = 0;  // 0: queries from every port are judged
  std::vector<Prefix> trusted, static_prefixes;
  bool meters = true;  // false when the switch refused the meters: copies unmetered
  bool hold_responses = false;  // responses -> CONTROLLER only (nsgate sends them on)
  bool learn_copies = true;     // false when nsgate learns from a mirror (openflow.learn_from)
  std::vector<Prefix> learn_clients;  // learning.clients (copies from inside_port: only theirs)

  static FlowPlan from(const Config& c, uint32_t generation);
  uint8_t stage(Stage s) const { return static_cast<uint8_t>(table + static_cast<uint8_t>(s)); }
  uint64_t cookie() const { return cookie_of(generation); }
};

// Every flow except the per-address allows: the four tables' structure,
// trusted sources and CIDR static allows.
std::vector<FlowMod> pipeline_flows(const FlowPlan& p);
// The allow flow for one table address (host statics, anchors, learned).
FlowMod allow_address(const FlowPlan& p, const IpAddress& a, uint16_t hard_timeout);
// Removes that flow (DELETE_STRICT: same match and priority, any generation).
FlowMod forget_address(const FlowPlan& p, const IpAddress& a);
// Removes every nsgate flow of `generation` in nsgate's tables.
FlowMod remove_generation(uint32_t generation);
// The two meters (pktps, drop band at the configured rate, burst = rate/10).
std::vector<MeterMod> meters(const OpenflowConfig& c, MeterModCommand command);

// hard_timeout for an entry at `now_s` (learner clock): 0 (permanent) for
// anchors and statics, which must survive the shim (fail_mode=secure keeps
// the switch's flows); else the remaining lifetime rounded up, capped at
// 65535 s (the shim re-adds capped flows before they run out). nullopt when
// the entry has already expired.
std::optional<uint16_t> hard_timeout_for(TableValue v, uint32_t now_s);

}  // namespace nsgate::of
