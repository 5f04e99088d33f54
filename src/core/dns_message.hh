// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// DNS message parser (RFC 1035, RFC 6891 OPT): a bounds-checked cursor over a
// span of bytes. It never allocates and never reads outside the span.
// Compression pointers must point before the start of the label run that
// contains them, so every name terminates by construction (RFC 9267).

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/dns_name.hh"
#include "core/ip_address.hh"

namespace nsgate::dns {

enum class ErrorKind : uint8_t { none, truncated, malformed, unsupported };
const char* to_string(ErrorKind k);

// Every way a message can fail to parse; each belongs to one ErrorKind.
#define NSGATE_DNS_FAULTS(X)                                                               \
  X(none, none, "parsed cleanly")                                                          \
  X(header_truncated, truncated, "shorter than the 12-byte header")                        \
  X(name_truncated, truncated, "a name runs past the end of the message")                 \
  X(question_truncated, truncated, "a question runs past the end of the message")         \
  X(record_truncated, truncated, "a record header runs past the end of the message")      \
  X(rdata_truncated, truncated, "RDATA runs past the end of the message")                 \
  X(label_type, unsupported, "extended or reserved label type (0x40/0x80)")               \
  X(name_too_long, malformed, "a name is longer than 255 octets")                         \
  X(pointer_forward, malformed, "a compression pointer does not point backwards")         \
  X(pointer_into_header, malformed, "a compression pointer points into the header")       \
  X(rdlength_mismatch, malformed, "RDATA is not exactly as long as RDLENGTH says")         \
  X(address_length, malformed, "an A/AAAA record has the wrong RDATA length")             \
  X(bad_opt, malformed, "an OPT record is misplaced or its options overrun its RDATA")

enum class Fault : uint8_t {
#define NSGATE_X(name, kind, text) name,
  NSGATE_DNS_FAULTS(NSGATE_X)
#undef NSGATE_X
};
inline constexpr size_t kFaultCount = 0
#define NSGATE_X(name, kind, text) +1
    NSGATE_DNS_FAULTS(NSGATE_X)
#undef NSGATE_X
    ;
ErrorKind kind_of(Fault f);
const char* to_string(Fault f);
const char* describe(Fault f);

namespace type {
inline constexpr uint16_t A = 1, NS = 2, CNAME = 5, SOA = 6, PTR = 12, MX = 15, TXT = 16,
                          AAAA = 28, SRV = 33, OPT = 41, DS = 43, RRSIG = 46, ANY = 255;
}
inline constexpr uint16_t kClassIn = 1;
// Mnemonic for the types nsgate prints; "TYPEnnn" (RFC 3597) otherwise.
const char* type_name(uint16_t t, char (&buf)[12]);

struct Header {
  uint16_t id = 0, flags = 0, qdcount = 0, ancount = 0, nscount = 0, arcount = 0;
  bool qr() const { return flags & 0x8000; }
  int opcode() const { return (flags >> 11) & 0xf; }
  bool aa() const { return flags & 0x0400; }
  bool tc() const { return flags & 0x0200; }
  bool rd() const { return flags & 0x0100; }
  bool ra() const { return flags & 0x0080; }
  int rcode() const { return flags & 0xf; }
};

enum class Section : uint8_t { question, answer, authority, additional };
const char* to_string(Section s);

struct Question {
  DnsName name;
  uint16_t qtype = 0, qclass = 0;
};

struct Soa {
  DnsName mname, rname;
  uint32_t serial = 0, refresh = 0, retry = 0, expire = 0, minimum = 0;
};

struct Opt {
  uint16_t udp_size = 0;
  uint8_t ext_rcode = 0, version = 0;
  bool dnssec_ok = false;
};

// One resource record. The typed fields are valid only for their types:
// `target` for NS/CNAME/PTR, `address` for class-IN A/AAAA, `soa` for SOA,
// `opt` for OPT. RDATA of other types is skipped, not interpreted.
struct Record {
  Section section = Section::answer;
  DnsName owner;
  uint16_t rtype = 0, rclass = 0;
  uint32_t ttl = 0;
  uint16_t rdlength = 0;
  size_t rdata_offset = 0;
  DnsName target;
  IpAddress address;
  Soa soa;
  Opt opt;

  bool is_address() const {
    return rclass == kClassIn && (rtype == type::A || rtype == type::AAAA);
  }
};

// Walks one message in order: header, then the questions, then the records of
// answer, authority and additional. After the first fault every call returns
// that fault again; the caller decides what a partial message is worth.
class Reader {
 public:
  explicit Reader(std::span<const std::byte> message);

  // Reads the header; must be called first.
  Fault open(Header& out);
  bool more_questions() const { return fault_ == Fault::none && questions_left_ > 0; }
  Fault next(Question& out);
  // Records of all three sections in wire order; questions must be read first.
  bool more_records() const {
    return fault_ == Fault::none && questions_left_ == 0 && records_left_total() > 0;
  }
  Fault next(Record& out);
  // Reads whatever is left (questions, then records) only to check it;
  // returns the reader's first fault, or Fault::none.
  Fault check_rest();
  size_t offset() const { return pos_; }
  Fault fault() const { return fault_; }

 private:
  Fault fail(Fault f) { return fault_ = f; }
  Fault read_name(size_t& pos, DnsName& out, size_t limit);
  Fault read_rdata(Record& rr);
  size_t records_left_total() const { return left_[0] + left_[1] + left_[2]; }

  std::span<const std::byte> msg_;
  size_t pos_ = 0;
  Fault fault_ = Fault::none;
  uint32_t questions_left_ = 0;
  uint32_t left_[3] = {0, 0, 0};  // answer, authority, additional
};

// Parses a whole message and reports its first fault (Fault::none when clean).
Fault validate(std::span<const std::byte> message);

// A standard query's id, type and question name, read in place for the
// forwarding workers: the name is bounds-checked but not copied (the worker
// only hashes it). Accepts exactly what Reader::open + Reader::next(Question)
// accept for a message with QR = 0, opcode 0 and one question; a question
// at offset 12 can hold no valid compression pointer, so none is followed.
struct QueryView {
  uint16_t id = 0, qtype = 0, qclass = 0;
  const uint8_t* name = nullptr;  // wire form, not lower-cased
  size_t name_size = 0;
};
bool read_query(std::span<const std::byte> message, QueryView& out);

}  // namespace nsgate::dns
