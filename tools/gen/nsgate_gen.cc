// SPDX-License-Identifier: BSD-3-Clause
// Writes synthetic DNS captures: the scenario captures the tests and the
// demo use, and the large resolver capture the learn benchmark reads.
// Deterministic: the same arguments always give byte-identical files.
//
// usage: nsgate-gen demo OUT.pcap
//        nsgate-gen paper OUTDIR
//        nsgate-gen bench OUT.pcap [--mb N]
//        nsgate-gen forward-mix OUT.pcap OUT.snap FRAMES LEARNED
//        nsgate-gen learn-feed OUT.pcap EXCHANGES FILLER

#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <string>

#include "core/snapshot.hh"
#include "io/capture.hh"
#include "support/builder.hh"

using namespace nsgate;
using namespace nsgate::testing;

namespace {

constexpr uint16_t A = 1, NS = 2, AAAA = 28, TXT = 16;
using S = DnsBuilder;

class Writer {
 public:
  explicit Writer(const std::string& path) {
    std::string err;
    out_ = io::CaptureWriter::open(path, 1, err);
    if (!out_) {
      std::fprintf(stderr, "nsgate-gen: %s\n", err.c_str());
      std::exit(1);
    }
  }
  void frame(const Bytes& f) {
    out_->write(now_, f);
    bytes_ += f.size() + 16;
    ++frames_;
  }
  void advance_us(int64_t us) { now_ += us * 1000; }
  // One UDP exchange between client and server.
  void exchange(const std::string& client, uint16_t cport, const std::string& server, uint16_t id,
                const std::string& qname, uint16_t qtype, const DnsBuilder& response) {
    frame(udp_frame({client, server, cport, 53}, DnsBuilder(id, flags::rd * 0).question(qname, qtype).build()));
    advance_us(15000);
    frame(udp_frame({server, client, 53, cport}, response.build()));
    advance_us(500);
  }
  // The same over TCP, the response split into segments of `segment` bytes.
  void tcp_exchange(const std::string& client, uint16_t cport, const std::string& server, uint16_t id,
                    const std::string& qname, uint16_t qtype, const DnsBuilder& response, size_t segment) {
    Endpoints up{client, server, cport, 53}, down{server, client, 53, cport};
    Bytes q = tcp_framed(DnsBuilder(id).question(qname, qtype).build());
    Bytes r = tcp_framed(response.build());
    frame(tcp_frame(up, 1000, 0x02, {}));
    frame(tcp_frame(down, 9000, 0x12, {}));
    frame(tcp_frame(up, 1001, 0x18, q));
    advance_us(15000);
    for (size_t off = 0; off < r.size(); off += segment) {
      size_t n = std::min(segment, r.size() - off);
      frame(tcp_frame(down, static_cast<uint32_t>(9001 + off), 0x10, std::span<const std::byte>(r).subspan(off, n)));
    }
    frame(tcp_frame(up, static_cast<uint32_t>(1001 + q.size()), 0x11, {}));
    frame(tcp_frame(down, static_cast<uint32_t>(9001 + r.size()), 0x11, {}));
    advance_us(500);
  }
  uint64_t bytes() const { return bytes_; }
  uint64_t frames() const { return frames_; }

 private:
  std::unique_ptr<io::CaptureWriter> out_;
  TimeNs now_ = TimeNs{1'764'000'000} * kNsPerSec;  // 2025-11-24
  uint64_t bytes_ = 24, frames_ = 0;
};

// The demo: a campus resolver (192.0.2.53) resolving through a private lab
// tree whose TLD servers sit in the documentation ranges, plus two bots.
void demo(const std::string& path) {
  Writer w(path);
  const std::string res = "192.0.2.53", root = "198.41.0.4", root6 = "2001:503:ba3e::2:30";
  // www.example.lab: root -> lab. -> example.lab.
  DnsBuilder r1(0x1001, flags::qr);
  r1.question("www.example.lab", A)
      .ns(S::authority, "lab", "a.nic.lab", 172800).ns(S::authority, "lab", "b.nic.lab", 172800)
      .addr(S::additional, "a.nic.lab", "198.51.100.1", 172800)
      .addr(S::additional, "a.nic.lab", "2001:db8:100::1", 172800)
      .addr(S::additional, "b.nic.lab", "198.51.100.2", 172800);
  w.exchange(res, 40001, root, 0x1001, "www.example.lab", A, r1);
  DnsBuilder r2(0x1002, flags::qr);
  r2.question("www.example.lab", A)
      .ns(S::authority, "example.lab", "ns1.example.lab", 86400)
      .ns(S::authority, "example.lab", "ns2.example.lab", 86400)
      .addr(S::additional, "ns1.example.lab", "203.0.113.10", 86400)
      .addr(S::additional, "ns2.example.lab", "203.0.113.11", 86400);
  w.exchange(res, 40002, "198.51.100.1", 0x1002, "www.example.lab", A, r2);
  DnsBuilder r3(0x1003, flags::qr | flags::aa);
  r3.question("www.example.lab", A).addr(S::answer, "www.example.lab", "203.0.113.80", 300);
  w.exchange(res, 40003, "203.0.113.10", 0x1003, "www.example.lab", A, r3);

  // shop.example.lab is delegated out of bailiwick to ns.hoster.lab (no glue);
  // the resolver resolves that name and its address is learned in time.
  DnsBuilder r4(0x1004, flags::qr);
  r4.question("www.shop.example.lab", A).ns(S::authority, "shop.example.lab", "ns.hoster.lab", 3600);
  w.exchange(res, 40004, "203.0.113.10", 0x1004, "www.shop.example.lab", A, r4);
  DnsBuilder r5(0x1005, flags::qr);
  r5.question("ns.hoster.lab", A)
      .ns(S::authority, "hoster.lab", "ns1.hoster.lab", 86400)
      .addr(S::additional, "ns1.hoster.lab", "203.0.113.20", 86400);
  w.exchange(res, 40005, "198.51.100.2", 0x1005, "ns.hoster.lab", A, r5);
  DnsBuilder r6(0x1006, flags::qr | flags::aa);
  r6.question("ns.hoster.lab", A).addr(S::answer, "ns.hoster.lab", "203.0.113.30", 3600);
  w.exchange(res, 40006, "203.0.113.20", 0x1006, "ns.hoster.lab", A, r6);

  // An IPv6-only zone, learned over IPv6 transport from the root.
  DnsBuilder r7(0x1007, flags::qr);
  r7.question("www.v6.test", AAAA)
      .ns(S::authority, "test", "ns.nic.test", 172800)
      .addr(S::additional, "ns.nic.test", "2001:db8:200::53", 172800);
  w.exchange("2001:db8:53::53", 40007, root6, 0x1007, "www.v6.test", AAAA, r7);

  // A large referral over TCP, in small segments.
  DnsBuilder r8(0x1008, flags::qr);
  r8.question("big.example.lab", TXT).ns(S::authority, "big.example.lab", "ns.big.example.lab", 600)
      .addr(S::additional, "ns.big.example.lab", "203.0.113.40", 600);
  w.tcp_exchange(res, 40008, "203.0.113.11", 0x1008, "big.example.lab", TXT, r8, 17);

  // A bot (192.0.2.66) asks its C&C server directly: teaches nothing.
  DnsBuilder r9(0x6666, flags::qr | flags::aa);
  r9.question("cmd.c2.invalid", TXT)
      .ns(S::authority, "c2.invalid", "ns.c2.invalid", 86400)
      .addr(S::additional, "ns.c2.invalid", "203.0.113.66", 86400);
  w.exchange("192.0.2.66", 50000, "203.0.113.66", 0x6666, "cmd.c2.invalid", TXT, r9);
  // Morto-style: the resolver learns an A record; that is not a delegation.
  DnsBuilder r10(0x100a, flags::qr | flags::aa);
  r10.question("update.example.lab", A).addr(S::answer, "update.example.lab", "203.0.113.99", 300);
  w.exchange(res, 40010, "203.0.113.10", 0x100a, "update.example.lab", A, r10);
  std::printf("nsgate-gen: wrote %s (%llu frames)\n", path.c_str(), static_cast<unsigned long long>(w.frames()));
}

// The paper's Table II: a resolver learns the .net and verisign.net
// delegations (learn.pcap); a client then queries three servers directly
// (traffic.pcap): 8.8.8.8 (unknown: block), 8.8.4.4 (static allow: pass)
// and 192.26.92.31 (glue of c2.nstld.net for verisign.net: pass).
void paper(const std::string& dir) {
  const std::string res = "192.0.2.53", client = "192.0.2.62";
  {
    Writer w(dir + "/learn.pcap");
    DnsBuilder r1(0x2001, flags::qr);
    r1.question("www.verisign.net", A)
        .ns(S::authority, "net", "a.gtld-servers.net", 172800)
        .ns(S::authority, "net", "c.gtld-servers.net", 172800)
        .addr(S::additional, "a.gtld-servers.net", "192.5.6.30", 172800)
        .addr(S::additional, "c.gtld-servers.net", "192.26.92.30", 172800);
    w.exchange(res, 41001, "198.41.0.4", 0x2001, "www.verisign.net", A, r1);
    DnsBuilder r2(0x2002, flags::qr);
    r2.question("www.verisign.net", A)
        .ns(S::authority, "verisign.net", "c2.nstld.net", 172800)
        .addr(S::additional, "c2.nstld.net", "192.26.92.31", 172800);
    w.exchange(res, 41002, "192.5.6.30", 0x2002, "www.verisign.net", A, r2);
  }
  {
    Writer w(dir + "/traffic.pcap");
    w.advance_us(60'000'000);  // a minute after learning
    uint16_t id = 0x3001;
    for (const char* server : {"8.8.8.8", "8.8.4.4", "192.26.92.31"}) {
      std::string name = std::string(server) == "192.26.92.31" ? "www.verisign.net" : "www.google.com";
      w.frame(udp_frame({client, server, static_cast<uint16_t>(50000 + (id & 0xff)), 53},
                        DnsBuilder(id++, flags::rd).question(name, A).build()));
      w.advance_us(1'000'000);
    }
  }
  std::printf("nsgate-gen: wrote %s/learn.pcap and %s/traffic.pcap\n", dir.c_str(), dir.c_str());
}

// Inputs for the replay tests (tests/dpdk): a short-TTL delegation, and
// traffic that exercises every verdict.
void replay_cases(const std::string& dir) {
  const std::string res = "192.0.2.53", client = "192.0.2.62";
  {
    Writer w(dir + "/learn-short.pcap");
    DnsBuilder r(0x4001, flags::qr);
    r.question("www.short.lab", A)
        .ns(S::authority, "short.lab", "ns.short.lab", 5)
        .addr(S::additional, "ns.short.lab", "198.51.100.5", 5)
        .addr(S::additional, "ns.short.lab", "2001:db8:5::53", 5);
    w.exchange(res, 42001, "198.41.0.4", 0x4001, "www.short.lab", A, r);
  }
  Writer w(dir + "/traffic-cases.pcap");
  auto query = [&](const std::string& src, const std::string& dst, uint16_t id, const std::string& name) {
    w.frame(udp_frame({src, dst, static_cast<uint16_t>(50000 + id % 1000), 53}, DnsBuilder(id).question(name, A).build()));
    w.advance_us(100'000);
  };
  query(client, "198.51.100.5", 1, "a.short.lab");          // 1 learned, within TTL: pass
  query("2001:db8:62::62", "2001:db8:5::53", 2, "b.short.lab");  // 2 learned over IPv6: pass
  query(client, "203.0.113.66", 3, "cmd.c2.invalid");       // 3 unknown: drop
  query(res, "203.0.113.66", 4, "cmd.c2.invalid");          // 4 trusted resolver: pass
  query(client, "198.41.0.4", 5, ".");                     // 5 root anchor: pass
  {
    // 6 TCP query to an unknown server (a SYN is a query too: judged)
    Endpoints e{client, "203.0.113.67", 50006, 53};
    w.frame(tcp_frame(e, 7000, 0x02, {}));
    w.advance_us(100'000);
  }
  // 7 not DNS (HTTP) to the same unknown server: forwarded untouched
  w.frame(tcp_frame({client, "203.0.113.66", 50007, 80}, 1, 0x02, {}));
  w.advance_us(100'000);
  // 8 truncated UDP (length field beyond the packet), not to a DNS port:
  // undecodable, forwarded (dropped under drop_undecodable)
  Bytes bad = udp_frame({client, "203.0.113.66", 50008, 443}, DnsBuilder(8).question("x.invalid", A).build());
  bad[14 + 20 + 4] = std::byte(0x7f);
  w.frame(bad);
  w.advance_us(100'000);
  // 9 non-first fragment towards port 53 of an unknown server: forwarded
  auto frags = udp_fragments_v4({client, "203.0.113.66", 50009, 53}, Bytes(400, std::byte(0)), 200);
  w.frame(frags[1]);
  w.advance_us(100'000);
  // 10 an ARP frame: not IP
  Bytes arp(42, std::byte(0));
  arp[12] = std::byte(0x08);
  arp[13] = std::byte(0x06);
  w.frame(arp);
  // 11 ten seconds later the 5 s TTL (+ grace 0 in the test config) is over: drop
  w.advance_us(10'000'000);
  query(client, "198.51.100.5", 11, "c.short.lab");
  // 12 an IPv6 query with UDP length 0 (Linux reads it as "to the end") to
  // an unknown server: malformed, but to a DNS port, so judged: drop
  Bytes zero = udp_frame({"2001:db8:62::62", "2001:db8:66::53", 50012, 53},
                         DnsBuilder(12).question("cmd.c2.invalid", A).build());
  zero[14 + 40 + 4] = zero[14 + 40 + 5] = std::byte(0);
  w.frame(zero);
  std::printf("nsgate-gen: wrote %s/learn-short.pcap and %s/traffic-cases.pcap\n", dir.c_str(), dir.c_str());
}

// The forwarding benchmark's input: a snapshot of `learned` name servers
// valid for a year, and a capture of `frames` packets: 70 % not DNS (HTTPS
// over TCP and QUIC), 30 % DNS queries, half of them to learned servers and
// half to unknown ones; a fifth of everything over IPv6.
void forward_mix(const std::string& capture, const std::string& snap, size_t frames, size_t learned) {
  auto learned_addr = [](size_t i) {
    char buf[48];
    if (i % 5 == 0)
      std::snprintf(buf, sizeof buf, "2001:db8:%x:%x::53", static_cast<unsigned>(1 + i / 65536),
                    static_cast<unsigned>(i % 65536));
    else  // 198.18.0.0/15 holds 131072; the rest go to 2001:db8:ffff::/48
      if (i < 131072 * 5 / 4)
        std::snprintf(buf, sizeof buf, "198.%u.%u.%u", static_cast<unsigned>(18 + (i / 5 * 4 + i % 5 - 1) / 65536 % 2),
                      static_cast<unsigned>((i / 5 * 4 + i % 5 - 1) / 256 % 256),
                      static_cast<unsigned>((i / 5 * 4 + i % 5 - 1) % 256));
      else
        std::snprintf(buf, sizeof buf, "2001:db8:ffff:%x:%x::53", static_cast<unsigned>(i / 65536),
                      static_cast<unsigned>(i % 65536));
    return std::string(buf);
  };
  snapshot::Contents c;
  TimeNs now = TimeNs{static_cast<int64_t>(std::time(nullptr))} * kNsPerSec;
  c.taken_at = now;
  c.entries.reserve(learned);
  for (size_t i = 0; i < learned; ++i) {
    Provenance p;
    p.address = *IpAddress::parse(learned_addr(i));
    p.zone = std::string("z").append(std::to_string(i)).append(".lab.");
    p.ns = "ns." + p.zone;
    p.ns_ttl = p.addr_ttl = 86400;
    p.expires = now + 365 * 86400 * kNsPerSec;
    p.response_time = now;
    p.server = *IpAddress::parse("198.51.100.1");
    c.entries.push_back(std::move(p));
  }
  std::string err;
  if (!snapshot::write_file(snap, c, err)) {
    std::fprintf(stderr, "nsgate-gen: %s\n", err.c_str());
    std::exit(1);
  }
  Writer w(capture);
  std::mt19937_64 rng(7);
  Bytes q = DnsBuilder(1).question("www.example.lab", A).opt().build();
  Bytes https(600, std::byte(0x17));
  for (size_t i = 0; i < frames; ++i) {
    bool v6 = i % 5 == 0;
    std::string client = v6 ? "2001:db8:1::" + std::to_string(1 + rng() % 200) : "192.0.2." + std::to_string(1 + rng() % 200);
    uint64_t kind = rng() % 10;
    if (kind < 3) {
      std::string dst;
      if (kind == 0 || rng() % 2) {  // half of the queries go to learned servers
        // learned_addr(k) is IPv6 for multiples of 5, IPv4 for the others below 163840.
        size_t k = v6 ? 5 * (rng() % (learned / 5)) : rng() % std::min<size_t>(learned, 163840);
        if (!v6 && k % 5 == 0) ++k;
        dst = learned_addr(k);
      } else {
        dst = v6 ? "2001:db8:bad::" + std::to_string(1 + rng() % 1000) : "203.0.113." + std::to_string(1 + rng() % 250);
      }
      w.frame(udp_frame({client, dst, static_cast<uint16_t>(1024 + rng() % 60000), 53}, q));
    } else if (kind < 8) {
      std::string dst = v6 ? "2001:db8:cafe::443" : "203.0.113.200";
      w.frame(tcp_frame({client, dst, static_cast<uint16_t>(1024 + rng() % 60000), 443}, static_cast<uint32_t>(rng()), 0x18,
                        std::span<const std::byte>(https).first(100 + rng() % 500)));
    } else {
      std::string dst = v6 ? "2001:db8:cafe::443" : "203.0.113.201";
      w.frame(udp_frame({client, dst, static_cast<uint16_t>(1024 + rng() % 60000), 443},
                        std::span<const std::byte>(https).first(200 + rng() % 400)));
    }
  }
  std::printf("nsgate-gen: wrote %s (%zu frames) and %s (%zu learned)\n", capture.c_str(), frames, snap.c_str(), learned);
}

// A resolver's traffic with authoritative servers: for each of many zones a
// TLD referral (glue, or out-of-bailiwick without glue followed by the NS
// address lookup), then answers, NXDOMAIN, some TCP and IPv6.
void bench(const std::string& path, uint64_t mb) {
  Writer w(path);
  std::mt19937_64 rng(20261127);
  const char* tlds[] = {"lab", "test", "example", "invalid"};
  const std::string res4 = "192.0.2.53", res6 = "2001:db8:53::53";
  uint64_t target = mb * 1000 * 1000;
  uint16_t id = 1;
  uint16_t port = 1024;
  // Root referrals for the four TLDs, as a resolver primes them (again every
  // 20000 zones, long before their two-day TTL runs out).
  auto prime = [&] {
    for (int t = 0; t < 4; ++t) {
      for (bool six : {false, true}) {
        ++id;
        std::string q = "www.z." + std::string(tlds[t]);
        DnsBuilder ref(id, flags::qr);
        std::string ns = "ns" + std::to_string(t) + ".nic." + tlds[t];
        ref.question(q, A).ns(S::authority, tlds[t], ns, 172800)
            .addr(S::additional, ns, "198.51.100." + std::to_string(t + 1), 172800)
            .addr(S::additional, ns, "2001:db8:100::" + std::to_string(t + 1), 172800);
        w.exchange(six ? res6 : res4, 1000, six ? "2001:503:ba3e::2:30" : "198.41.0.4", id, q, A, ref);
      }
    }
  };
  for (uint64_t zone = 0; w.bytes() < target; ++zone) {
    if (zone % 20000 == 0) prime();
    std::string tld = tlds[zone % 4];
    std::string z = "z" + std::to_string(zone) + "." + tld;
    bool v6 = zone % 5 == 0;
    const std::string& res = v6 ? res6 : res4;
    std::string tld_server = v6 ? "2001:db8:100::" + std::to_string(1 + zone % 4) : "198.51.100." + std::to_string(1 + zone % 4);
    auto addr = [&](uint64_t n) {
      char buf[48];
      if (v6)
        std::snprintf(buf, sizeof buf, "2001:db8:%x:%x::53", static_cast<unsigned>(1 + n % 0xfffe),
                      static_cast<unsigned>(n / 0xfffe % 0xffff));
      else  // 198.18.0.0/15, the benchmarking range (RFC 2544)
        std::snprintf(buf, sizeof buf, "198.%u.%u.%u", static_cast<unsigned>(18 + n / 65536 % 2),
                      static_cast<unsigned>(n / 256 % 256), static_cast<unsigned>(1 + n % 254));
      return std::string(buf);
    };
    std::string ns1 = "ns1." + z, ns2 = "ns2." + z;
    auto next = [&] {
      ++id;
      port = static_cast<uint16_t>(port >= 65000 ? 1024 : port + 1);
    };
    next();
    std::string q = "www." + z;
    DnsBuilder ref(id, flags::qr);
    if (zone % 3 == 2) {
      // Out of bailiwick: no glue; the resolver resolves the NS name next.
      std::string far = "ns.hoster" + std::to_string(zone % 97) + ".lab";
      ref.question(q, A).ns(S::authority, z, far, 86400);
      w.exchange(res, port, tld_server, id, q, A, ref);
      next();
      // The lab. server answers for the hoster's name server (in its zone).
      DnsBuilder ans(id, flags::qr | flags::aa);
      ans.question(far, A).addr(S::answer, far, addr(100000 + zone % 97), 3600);
      w.exchange(res, port, v6 ? "2001:db8:100::1" : "198.51.100.1", id, far, A, ans);
    } else {
      ref.question(q, A).ns(S::authority, z, ns1, 86400).ns(S::authority, z, ns2, 86400)
          .addr(S::additional, ns1, addr(zone * 2), 86400).addr(S::additional, ns2, addr(zone * 2 + 1), 86400)
          .opt(1232);
      w.exchange(res, port, tld_server, id, q, A, ref);
    }
    // Answers from the zone's server: hits, and NXDOMAIN now and then.
    int answers = 2 + static_cast<int>(rng() % 4);
    for (int k = 0; k < answers; ++k) {
      next();
      std::string host = std::string("h").append(std::to_string(k)).append(".").append(z);
      DnsBuilder ans(id, flags::qr | flags::aa);
      ans.question(host, v6 ? AAAA : A);
      if (rng() % 6 == 0)
        ans.rcode(3).soa(S::authority, z, 300);
      else
        ans.addr(S::answer, host, v6 ? "2001:db8:ffff::" + std::to_string(k + 1) : "203.0.113." + std::to_string(200 + k), 300);
      if (zone % 50 == 0 && k == 0)
        w.tcp_exchange(res, port, addr(zone * 2), id, host, v6 ? AAAA : A, ans, 40);
      else
        w.exchange(res, port, addr(zone * 2), id, host, v6 ? AAAA : A, ans);
    }
  }
  std::printf("nsgate-gen: wrote %s (%llu frames, %.1f MB)\n", path.c_str(),
              static_cast<unsigned long long>(w.frames()), static_cast<double>(w.bytes()) / 1e6);
}

// The forwarding benchmark's learning load, replayed once on the outside
// port: `exchanges` root referrals, each for a zone of its own with eight
// name servers and their glue (six AAAA, each address new; two A from
// 198.51.100.0/24, which repeat), every one after its query and followed by
// `filler` inbound non-DNS frames. The filler paces the learning: the port
// is read as fast as the worker polls, so the DNS share sets the offered
// rate. TTLs are 2 s, so with min_ttl 1 and grace 0 the sweeper expires
// what was learned while the run goes on.
void learn_feed(const std::string& path, size_t exchanges, size_t filler) {
  Writer w(path);
  const std::string res = "192.0.2.53", root = "198.41.0.4";
  // Built once: ACKs from a web server to clients, all alike but the port.
  std::vector<Bytes> fill;
  for (uint16_t k = 0; k < 16; ++k)
    fill.push_back(tcp_frame({"203.0.113.200", "192.0.2." + std::to_string(10 + k), 443, static_cast<uint16_t>(40000 + k)},
                             1000u + k, 0x10, {}));
  for (size_t x = 0; x < exchanges; ++x) {
    auto id = static_cast<uint16_t>(x + 1);
    auto port = static_cast<uint16_t>(1024 + x % 64000);
    std::string zone = std::string("f").append(std::to_string(x)).append(".feed");
    std::string q = "www." + zone;
    DnsBuilder ref(id, flags::qr);
    ref.question(q, A);
    for (int n = 0; n < 8; ++n) ref.ns(S::authority, zone, "ns" + std::to_string(n) + "." + zone, 2);
    for (int n = 0; n < 8; ++n) {
      char addr[48];
      if (n < 6)
        std::snprintf(addr, sizeof addr, "2001:db8:f00d:%x:%x::%x", static_cast<unsigned>(x >> 16),
                      static_cast<unsigned>(x & 0xffff), n + 1);
      else
        std::snprintf(addr, sizeof addr, "198.51.100.%u", static_cast<unsigned>(1 + (2 * x + n) % 254));
      ref.addr(S::additional, "ns" + std::to_string(n) + "." + zone, addr, 2);
    }
    w.exchange(res, port, root, id, q, A, ref);
    for (size_t f = 0; f < filler; ++f) w.frame(fill[f % fill.size()]);
  }
  std::printf("nsgate-gen: wrote %s (%llu frames, %zu referrals, %.1f MB)\n", path.c_str(),
              static_cast<unsigned long long>(w.frames()), exchanges, static_cast<double>(w.bytes()) / 1e6);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && !std::strcmp(argv[1], "demo")) {
    demo(argv[2]);
    return 0;
  }
  if (argc >= 6 && !std::strcmp(argv[1], "forward-mix")) {
    forward_mix(argv[2], argv[3], std::strtoull(argv[4], nullptr, 10), std::strtoull(argv[5], nullptr, 10));
    return 0;
  }
  if (argc >= 5 && !std::strcmp(argv[1], "learn-feed")) {
    learn_feed(argv[2], std::strtoull(argv[3], nullptr, 10), std::strtoull(argv[4], nullptr, 10));
    return 0;
  }
  if (argc >= 3 && !std::strcmp(argv[1], "replay-cases")) {
    replay_cases(argv[2]);
    return 0;
  }
  if (argc >= 3 && !std::strcmp(argv[1], "paper")) {
    paper(argv[2]);
    return 0;
  }
  if (argc >= 3 && !std::strcmp(argv[1], "bench")) {
    uint64_t mb = 200;
    if (argc >= 5 && !std::strcmp(argv[3], "--mb")) mb = std::strtoull(argv[4], nullptr, 10);
    bench(argv[2], mb);
    return 0;
  }
  std::fprintf(stderr, "usage: nsgate-gen demo OUT.pcap | paper OUTDIR | bench OUT.pcap [--mb N]\n");
  return 2;
}
