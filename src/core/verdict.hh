// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// The forwarding decision for a packet from the inside port (DESIGN §3),
// pure so that it is tested with byte buffers and shared by every
// enforcement point (DPDK workers, the OpenFlow shim's drop log).

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "core/allow_table.hh"
#include "core/config.hh"
#include "core/packet.hh"
#include "core/x_names.hh"

namespace nsgate {

// What happened to a packet from the inside. One list generates the enum,
// the counter names and the reasons in the drop log.
#define NSGATE_VERDICTS(X)                                                           \
  X(forward_not_ip, "not IPv4/IPv6: forwarded untouched")                          \
  X(forward_not_dns, "not UDP/TCP to a DNS port: forwarded untouched")             \
  X(forward_later_fragment, "non-first IP fragment (no ports): forwarded")         \
  X(forward_undecodable, "IP packet nsgate cannot decode: forwarded")              \
  X(drop_undecodable, "IP packet nsgate cannot decode: dropped (drop_undecodable)")   \
  X(pass_trusted_source, "DNS query from a trusted resolver")                      \
  X(pass_anchor, "DNS query to a root server (trust anchor)")                      \
  X(pass_static, "DNS query to a static_allow address")                            \
  X(pass_learned, "DNS query to a learned, unexpired name server")                 \
  X(drop_unknown, "DNS query to a server no delegation named: dropped (enforce)")  \
  X(alert_unknown, "DNS query to a server no delegation named: forwarded (monitor)")

enum class Verdict : uint8_t { NSGATE_VERDICTS(NSGATE_X_ENUMERATOR) };
inline constexpr size_t kVerdictCount = 0 NSGATE_VERDICTS(NSGATE_X_COUNT);
const char* to_string(Verdict v);
const char* describe(Verdict v);
inline bool is_dns_query(Verdict v) { return v >= Verdict::pass_trusted_source; }
inline bool forwards(Verdict v) { return v != Verdict::drop_unknown && v != Verdict::drop_undecodable; }
// The reason word for the drop log and `replay`: "unknown", "static", ...
const char* reason_word(Verdict v);

// The policy a verdict needs besides the table. Immutable once built;
// replaced as a whole on reload.
struct Policy {
  Mode mode = Mode::enforce;
  std::vector<uint16_t> dns_ports{53};
  std::vector<Prefix> trusted_sources;
  std::vector<Prefix> static_prefixes;  // CIDR statics; host statics live in the table
  std::vector<Prefix> learn_clients;    // learning.clients: empty, every client
  bool drop_undecodable = false;

  static Policy from(const Config& c);
  // Inline: called for every packet a worker sees (a call was 2 % of one).
  bool is_dns_port(uint16_t p) const {
    for (uint16_t d : dns_ports)
      if (d == p) return true;
    return false;
  }
  // The empty lists inline: most sites have neither, and every query asks
  // (the calls were 2.5 % of a worker on DNS queries, perf).
  bool trusted(const IpAddress& a) const { return !trusted_sources.empty() && in_any(trusted_sources, a); }
  bool static_cidr(const IpAddress& a) const { return !static_prefixes.empty() && in_any(static_prefixes, a); }
  // Whether a query from `client` goes to the learner (rule 1's queries):
  // a bot's flood of queries then cannot crowd the resolvers' out of the
  // hand-over ring.
  bool learns_from(const IpAddress& client) const { return learn_clients.empty() || in_any(learn_clients, client); }
};

// First step, before any table lookup: what kind of packet this is.
// Returns nullopt for an outbound DNS query that still needs its
// destination judged; otherwise the final verdict.
std::optional<Verdict> classify(pkt::DecodeResult r, const pkt::Packet& p, const Policy& policy);

// The same first step for the common Ethernet frame, read in place without
// decoding it: untagged, and either not IP, or IPv4 (any header length) or
// IPv6 without extension headers, unfragmented, whose UDP or TCP
// destination is not a DNS port (or that carries another protocol).
// Returns that verdict (forward_not_ip or forward_not_dns) or nullopt for
// anything else, which then goes through decode() and classify(). Whenever
// it answers, the answer is what those two would give for the frame taken
// whole (no snap length). Why: most traffic is not DNS, and decoding every
// frame into a Packet was a seventh of a worker's time (tools/bench/forward).
std::optional<Verdict> quick_verdict(std::span<const std::byte> frame, const Policy& policy);
// The same; besides, when the answer is nullopt for a frame it read whole
// (one of those kinds, to a DNS port), fills `query` exactly as decode()
// would (with DecodeResult::ok) and sets `decoded`, so that the frame is
// not read twice; otherwise `decoded` is false and `query` unspecified.
std::optional<Verdict> quick_verdict(std::span<const std::byte> frame, const Policy& policy, pkt::Packet& query,
                                     bool& decoded);

// For frames from the outside or mirror port: true when the quick path
// reads the frame whole and it is not IP, or neither to nor from a DNS
// port, so that the learner has nothing to take from it (decode() would
// say so too); false for anything else, which then goes through decode().
bool quick_not_dns_traffic(std::span<const std::byte> frame, const Policy& policy);

// Second step for a DNS query: `entry` is the table's answer for the
// destination (nullopt when absent or expired).
Verdict judge(const pkt::Packet& p, const std::optional<TableValue>& entry, const Policy& policy);

}  // namespace nsgate
