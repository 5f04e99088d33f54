// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// A small DNS world for learner tests: frames built with the test builder go
// through the same LearnSession that `nsgate learn` uses.

#include <string>

#include "core/learn_session.hh"
#include "core/root_hints.hh"
#include "support/builder.hh"

namespace nsgate::testing {

inline constexpr const char* kRoot = "198.41.0.4";  // a.root-servers.net (built-in hint)
inline constexpr const char* kResolver = "192.0.2.53";
inline constexpr uint16_t kResolverPort = 40000;

class Lab {
 public:
  explicit Lab(LearningSettings s = {}, size_t capacity = 10000)
      : table(capacity), learner(s, table), session(learner, {53}) {
    for (const RootHint& h : builtin_root_hints()) learner.add_anchor(h.address, h.name);
  }

  void frame(const Bytes& f) { session.feed(pkt::LinkType::ethernet, now, f); }
  void query(const std::string& server, uint16_t id, const std::string& qname, uint16_t qtype,
             const std::string& client = kResolver, uint16_t cport = kResolverPort) {
    Bytes q = DnsBuilder(id).question(qname, qtype).build();
    frame(udp_frame({client, server, cport, 53}, q));
  }
  void respond(const std::string& server, const DnsBuilder& b, const std::string& client = kResolver,
               uint16_t cport = kResolverPort) {
    frame(udp_frame({server, client, 53, cport}, b.build()));
  }
  // Query and its response in one step (the common, well-formed case).
  void exchange(const std::string& server, uint16_t id, const std::string& qname, uint16_t qtype,
                const DnsBuilder& response) {
    query(server, id, qname, qtype);
    advance_ms(20);
    respond(server, response);
  }
  void advance_ms(int64_t ms) { now += ms * 1'000'000; }
  void advance_s(int64_t s) {
    now += s * kNsPerSec;
    learner.housekeeping(now);
  }
  bool allowed(const std::string& a) const { return learner.lookup(*IpAddress::parse(a), now).allowed; }
  uint64_t events(LearnEvent e) const { return learner.counters()[static_cast<size_t>(e)]; }
  std::optional<Provenance> provenance(const std::string& a) const {
    return learner.lookup(*IpAddress::parse(a), now).provenance;
  }

  TimeNs now = TimeNs{1'700'000'000} * kNsPerSec;
  MapAllowTable table;
  Learner learner;
  LearnSession session;
};

// The referral a root server gives for anything under lab.
inline DnsBuilder root_referral_for_lab(uint16_t id, const std::string& qname, uint16_t qtype = 1) {
  DnsBuilder b(id, flags::qr);
  b.question(qname, qtype)
      .ns(DnsBuilder::authority, "lab", "ns1.nic.lab", 172800)
      .ns(DnsBuilder::authority, "lab", "ns2.nic.lab", 172800)
      .addr(DnsBuilder::additional, "ns1.nic.lab", "198.51.100.1", 172800)
      .addr(DnsBuilder::additional, "ns1.nic.lab", "2001:db8::1", 172800)
      .addr(DnsBuilder::additional, "ns2.nic.lab", "198.51.100.2", 172800);
  return b;
}

}  // namespace nsgate::testing
