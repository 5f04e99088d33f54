// SPDX-License-Identifier: BSD-3-Clause
#include "core/dns_message.hh"

#include <cstdio>

namespace nsgate::dns {

namespace {
constexpr size_t kHeaderSize = 12;

uint16_t be16(std::span<const std::byte> s, size_t at) {
  return static_cast<uint16_t>(std::to_integer<uint16_t>(s[at]) << 8 | std::to_integer<uint16_t>(s[at + 1]));
}
uint32_t be32(std::span<const std::byte> s, size_t at) {
  return uint32_t{be16(s, at)} << 16 | be16(s, at + 2);
}
}  // namespace

const char* to_string(ErrorKind k) {
  switch (k) {
    case ErrorKind::none: return "none";
    case ErrorKind::truncated: return "truncated";
    case ErrorKind::malformed: return "malformed";
    case ErrorKind::unsupported: return "unsupported";
  }
  return "?";
}

ErrorKind kind_of(Fault f) {
  switch (f) {
#define NSGATE_X(name, kind, text) \
  case Fault::name:                \
    return ErrorKind::kind;
    NSGATE_DNS_FAULTS(NSGATE_X)
#undef NSGATE_X
  }
  return ErrorKind::malformed;
}

const char* to_string(Fault f) {
  switch (f) {
#define NSGATE_X(name, kind, text) \
  case Fault::name:                \
    return #name;
    NSGATE_DNS_FAULTS(NSGATE_X)
#undef NSGATE_X
  }
  return "?";
}

const char* describe(Fault f) {
  switch (f) {
#define NSGATE_X(name, kind, text) \
  case Fault::name:                \
    return text;
    NSGATE_DNS_FAULTS(NSGATE_X)
#undef NSGATE_X
  }
  return "?";
}

const char* type_name(uint16_t t, char (&buf)[12]) {
  switch (t) {
    case type::A: return "A";
    case type::NS: return "NS";
    case type::CNAME: return "CNAME";
    case type::SOA: return "SOA";
    case type::PTR: return "PTR";
    case type::MX: return "MX";
    case type::TXT: return "TXT";
    case type::AAAA: return "AAAA";
    case type::SRV: return "SRV";
    case type::OPT: return "OPT";
    case type::DS: return "DS";
    case type::RRSIG: return "RRSIG";
    case type::ANY: return "ANY";
    default: std::snprintf(buf, sizeof buf, "TYPE%u", unsigned{t}); return buf;
  }
}

const char* to_string(Section s) {
  switch (s) {
    case Section::question: return "question";
    case Section::answer: return "answer";
    case Section::authority: return "authority";
    case Section::additional: return "additional";
  }
  return "?";
}

Reader::Reader(std::span<const std::byte> message) : msg_(message) {}

Fault Reader::open(Header& h) {
  if (msg_.size() < kHeaderSize) return fail(Fault::header_truncated);
  h.id = be16(msg_, 0);
  h.flags = be16(msg_, 2);
  h.qdcount = be16(msg_, 4);
  h.ancount = be16(msg_, 6);
  h.nscount = be16(msg_, 8);
  h.arcount = be16(msg_, 10);
  questions_left_ = h.qdcount;
  left_[0] = h.ancount;
  left_[1] = h.nscount;
  left_[2] = h.arcount;
  pos_ = kHeaderSize;
  return Fault::none;
}

// Reads a possibly compressed name starting at `pos`. On return `pos` is the
// first octet after the name's in-line part. The in-line part must end at or
// before `limit` (the end of the message, or of the RDATA it sits in).
// Termination: a pointer must target an offset below the start of the label
// run it ends, so the runs' start offsets strictly decrease.
Fault Reader::read_name(size_t& pos, DnsName& out, size_t limit) {
  out.clear();
  size_t at = pos;
  size_t run_start = pos;
  bool jumped = false;
  size_t end = limit;  // region the current run may occupy
  for (;;) {
    if (at >= end) return fail(Fault::name_truncated);
    auto len = std::to_integer<uint8_t>(msg_[at]);
    if ((len & 0xc0) == 0xc0) {
      if (at + 1 >= end) return fail(Fault::name_truncated);
      size_t target = (size_t{len & 0x3fu} << 8) | std::to_integer<uint8_t>(msg_[at + 1]);
      if (!jumped) pos = at + 2;
      if (target >= run_start) return fail(Fault::pointer_forward);
      if (target < kHeaderSize) return fail(Fault::pointer_into_header);
      jumped = true;
      at = run_start = target;
      end = msg_.size();
      continue;
    }
    if (len & 0xc0) return fail(Fault::label_type);
    if (len == 0) {
      if (!jumped) pos = at + 1;
      return Fault::none;
    }
    if (at + 1 + len > end) return fail(Fault::name_truncated);
    const auto* data = reinterpret_cast<const uint8_t*>(msg_.data() + at + 1);
    if (!out.append_label(data, len)) return fail(Fault::name_too_long);
    at += 1 + len;
  }
}

Fault Reader::next(Question& q) {
  if (fault_ != Fault::none) return fault_;
  if (questions_left_ == 0) return fail(Fault::question_truncated);
  if (Fault f = read_name(pos_, q.name, msg_.size()); f != Fault::none) return f;
  if (pos_ + 4 > msg_.size()) return fail(Fault::question_truncated);
  q.qtype = be16(msg_, pos_);
  q.qclass = be16(msg_, pos_ + 2);
  pos_ += 4;
  --questions_left_;
  return Fault::none;
}

Fault Reader::next(Record& rr) {
  if (fault_ != Fault::none) return fault_;
  int s = left_[0] ? 0 : left_[1] ? 1 : 2;
  if (left_[s] == 0) return fail(Fault::record_truncated);
  rr.section = static_cast<Section>(s + 1);
  if (Fault f = read_name(pos_, rr.owner, msg_.size()); f != Fault::none) return f;
  if (pos_ + 10 > msg_.size()) return fail(Fault::record_truncated);
  rr.rtype = be16(msg_, pos_);
  rr.rclass = be16(msg_, pos_ + 2);
  rr.ttl = be32(msg_, pos_ + 4);
  rr.rdlength = be16(msg_, pos_ + 8);
  pos_ += 10;
  rr.rdata_offset = pos_;
  if (pos_ + rr.rdlength > msg_.size()) return fail(Fault::rdata_truncated);
  if (Fault f = read_rdata(rr); f != Fault::none) return f;
  pos_ = rr.rdata_offset + rr.rdlength;
  --left_[s];
  return Fault::none;
}

Fault Reader::read_rdata(Record& rr) {
  const size_t begin = rr.rdata_offset;
  const size_t end = begin + rr.rdlength;
  switch (rr.rtype) {
    case type::A:
    case type::AAAA: {
      if (rr.rclass != kClassIn) return Fault::none;
      size_t want = rr.rtype == type::A ? 4 : 16;
      if (rr.rdlength != want) return fail(Fault::address_length);
      if (want == 4)
        rr.address = IpAddress::v4(std::span<const std::byte, 4>(msg_.data() + begin, 4));
      else
        rr.address = IpAddress::v6(std::span<const std::byte, 16>(msg_.data() + begin, 16));
      return Fault::none;
    }
    case type::NS:
    case type::CNAME:
    case type::PTR: {
      size_t at = begin;
      if (Fault f = read_name(at, rr.target, end); f != Fault::none) return f;
      if (at != end) return fail(Fault::rdlength_mismatch);
      return Fault::none;
    }
    case type::SOA: {
      size_t at = begin;
      if (Fault f = read_name(at, rr.soa.mname, end); f != Fault::none) return f;
      if (Fault f = read_name(at, rr.soa.rname, end); f != Fault::none) return f;
      if (at + 20 != end) return fail(Fault::rdlength_mismatch);
      rr.soa.serial = be32(msg_, at);
      rr.soa.refresh = be32(msg_, at + 4);
      rr.soa.retry = be32(msg_, at + 8);
      rr.soa.expire = be32(msg_, at + 12);
      rr.soa.minimum = be32(msg_, at + 16);
      return Fault::none;
    }
    case type::OPT: {
      if (rr.section != Section::additional || !rr.owner.is_root()) return fail(Fault::bad_opt);
      rr.opt.udp_size = rr.rclass;
      rr.opt.ext_rcode = static_cast<uint8_t>(rr.ttl >> 24);
      rr.opt.version = static_cast<uint8_t>(rr.ttl >> 16);
      rr.opt.dnssec_ok = rr.ttl & 0x8000;
      // Options are TLVs that must tile the RDATA exactly.
      size_t at = begin;
      while (at < end) {
        if (at + 4 > end) return fail(Fault::bad_opt);
        size_t len = be16(msg_, at + 2);
        if (at + 4 + len > end) return fail(Fault::bad_opt);
        at += 4 + len;
      }
      return Fault::none;
    }
    default:
      return Fault::none;
  }
}

Fault Reader::check_rest() {
  Question q;
  while (more_questions()) next(q);
  Record rr;
  while (more_records()) next(rr);
  return fault_;
}

Fault validate(std::span<const std::byte> message) {
  Reader r(message);
  Header h;
  if (Fault f = r.open(h); f != Fault::none) return f;
  return r.check_rest();
}

bool read_query(std::span<const std::byte> message, QueryView& out) {
  if (message.size() < kHeaderSize) return false;
  const auto* m = reinterpret_cast<const uint8_t*>(message.data());
  uint16_t flags = static_cast<uint16_t>(m[2] << 8 | m[3]);
  uint16_t qdcount = static_cast<uint16_t>(m[4] << 8 | m[5]);
  if ((flags & 0x8000) || ((flags >> 11) & 0xf) != 0 || qdcount != 1) return false;
  size_t at = kHeaderSize;
  for (;;) {
    if (at >= message.size()) return false;
    uint8_t len = m[at];
    if (len == 0) break;
    if (len & 0xc0) return false;  // a pointer here targets the header or itself
    if (at + 1 + len > message.size()) return false;
    at += 1 + len;
    if (at - kHeaderSize + 1 > DnsName::kMaxWire) return false;  // as DnsName::append_label
  }
  out.name = m + kHeaderSize;
  out.name_size = at + 1 - kHeaderSize;
  if (at + 1 + 4 > message.size()) return false;
  out.id = static_cast<uint16_t>(m[0] << 8 | m[1]);
  out.qtype = static_cast<uint16_t>(m[at + 1] << 8 | m[at + 2]);
  out.qclass = static_cast<uint16_t>(m[at + 3] << 8 | m[at + 4]);
  return true;
}

}  // namespace nsgate::dns
