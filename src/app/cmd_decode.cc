// SPDX-License-Identifier: BSD-3-Clause
// nsgate decode: every DNS message as nsgate parses it, for comparison with
// other dissectors (the oracle test compares it with tshark).

#include <cstdio>
#include <string>

#include "app/common.hh"
#include "core/dns_extract.hh"
#include "core/dns_message.hh"
#include "core/format.hh"
#include "io/capture.hh"

namespace nsgate::app {

namespace {

std::string rdata_text(const dns::Record& rr, std::span<const std::byte> msg) {
  switch (rr.rtype) {
    case dns::type::A:
    case dns::type::AAAA:
      if (rr.is_address()) return rr.address.to_string();
      break;
    case dns::type::NS:
    case dns::type::CNAME:
    case dns::type::PTR:
      return rr.target.to_string();
    case dns::type::SOA:
      return rr.soa.mname.to_string() + " " + rr.soa.rname.to_string() + " " +
             std::to_string(rr.soa.serial) + " " + std::to_string(rr.soa.refresh) + " " +
             std::to_string(rr.soa.retry) + " " + std::to_string(rr.soa.expire) + " " +
             std::to_string(rr.soa.minimum);
    case dns::type::OPT:
      return "udp=" + std::to_string(rr.opt.udp_size) + " version=" + std::to_string(rr.opt.version) +
             " do=" + (rr.opt.dnssec_ok ? "1" : "0");
    default:
      break;
  }
  // RFC 3597 generic form.
  static const char* hex = "0123456789abcdef";
  std::string s = "\\# " + std::to_string(rr.rdlength);
  if (rr.rdlength) s += ' ';
  for (size_t i = 0; i < rr.rdlength; ++i) {  // whole: a prefix would be no RFC 3597 form
    auto b = std::to_integer<uint8_t>(msg[rr.rdata_offset + i]);
    s += hex[b >> 4];
    s += hex[b & 15];
  }
  return s;
}

// `capture`: named in the object when several are decoded (empty: one).
std::string message_json(const DnsMessageEvent& ev, const std::string& capture) {
  const pkt::Packet& p = *ev.packet;
  std::string j = "{";
  if (!capture.empty()) {
    j += "\"capture\":";
    append_json_string(j, capture);
    j += ',';
  }
  j += "\"frame\":" + std::to_string(ev.frame) + ",\"time\":" + json_string(format_time(ev.time)) +
       ",\"src\":" + json_string(p.src.to_string()) + ",\"dst\":" + json_string(p.dst.to_string()) +
       ",\"sport\":" + std::to_string(p.sport) + ",\"dport\":" + std::to_string(p.dport) +
       ",\"transport\":" + (ev.tcp ? "\"tcp\"" : "\"udp\"") +
       ",\"fragment\":" + (p.fragment ? "true" : "false") + (p.cut ? ",\"cut\":true" : "");
  dns::Reader r(ev.message);
  dns::Header h;
  dns::Fault f = r.open(h);
  if (f == dns::Fault::none) {
    char flags[160];
    std::snprintf(flags, sizeof flags,
                  ",\"id\":%u,\"qr\":%d,\"opcode\":%d,\"aa\":%d,\"tc\":%d,\"rd\":%d,\"ra\":%d,\"rcode\":%d,"
                  "\"counts\":[%u,%u,%u,%u]",
                  unsigned{h.id}, h.qr(), h.opcode(), h.aa(), h.tc(), h.rd(), h.ra(), h.rcode(),
                  unsigned{h.qdcount}, unsigned{h.ancount}, unsigned{h.nscount}, unsigned{h.arcount});
    j += flags;
    j += ",\"question\":[";
    dns::Question q;
    for (bool first = true; r.more_questions(); first = false) {
      if (r.next(q) != dns::Fault::none) break;
      char tb[12];
      j += std::string(first ? "" : ",") + "{\"name\":" + json_string(q.name.to_string()) +
           ",\"type\":" + json_string(dns::type_name(q.qtype, tb)) + ",\"class\":" + std::to_string(q.qclass) + "}";
    }
    j += "]";
    dns::Record rr;
    dns::Section open = dns::Section::question;
    while (r.more_records()) {
      if (r.next(rr) != dns::Fault::none) break;
      if (rr.section != open) {
        if (open != dns::Section::question) j += "]";
        open = rr.section;
        j += std::string(",\"") + dns::to_string(open) + "\":[";
      } else {
        j += ",";
      }
      char tb[12];
      j += "{\"name\":" + json_string(rr.owner.to_string()) + ",\"type\":" +
           json_string(dns::type_name(rr.rtype, tb)) + ",\"class\":" + std::to_string(rr.rclass) +
           ",\"ttl\":" + std::to_string(rr.ttl) + ",\"data\":" + json_string(rdata_text(rr, ev.message)) + "}";
    }
    if (open != dns::Section::question) j += "]";
    f = r.fault();
  }
  if (f != dns::Fault::none)
    j += std::string(",\"error\":{\"kind\":\"") + dns::to_string(dns::kind_of(f)) + "\",\"fault\":\"" +
         dns::to_string(f) + "\",\"offset\":" + std::to_string(r.offset()) + "}";
  return j + "}";
}

}  // namespace

int cmd_decode(Args& args) {
  std::string format = args.value({"--format", "-f"}).value_or("json");
  if (format != "json") throw Fatal{"--format must be json"};
  auto conf_path = args.value({"-c", "--config"});
  auto ports_opt = args.values({"--port"});
  std::vector<uint16_t> ports;
  for (const auto& p : ports_opt) {
    char* end = nullptr;
    unsigned long v = std::strtoul(p.c_str(), &end, 10);
    if (p.empty() || *end || v == 0 || v > 65535) throw Fatal{"--port takes a port number, not '" + p + "'"};
    ports.push_back(static_cast<uint16_t>(v));
  }
  if (ports.empty()) ports = conf_path ? load_config(conf_path).dns_ports : std::vector<uint16_t>{53};
  std::vector<std::string> captures = args.positional();
  if (captures.empty()) throw Fatal{"no capture given (usage: nsgate decode CAPTURE... --format json)"};
  // One extractor per capture: TCP streams do not continue across files.
  std::unique_ptr<DnsExtractor> ex;
  std::string capture;  // named only when there are several
  int failed = for_each_frame(
      "decode", captures,
      [&](pkt::LinkType link, const io::Frame& f) {
        ex->feed(link, f.time, f.data,
                 [&](const DnsMessageEvent& ev) { std::printf("%s\n", message_json(ev, capture).c_str()); },
                 f.wire_length);
      },
      [&](const std::string& path) {
        ex = std::make_unique<DnsExtractor>(ports);
        if (captures.size() > 1) capture = path;
      });
  return failed ? 1 : 0;
}

}  // namespace nsgate::app
