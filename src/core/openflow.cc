// SPDX-License-Identifier: BSD-3-Clause
#include "core/openflow.hh"

#include <cstring>
#include <type_traits>

namespace nsgate::of {

NSGATE_DEFINE_NAMES(Status, NSGATE_OF_STATUS)

const char* to_string(MsgType t) {
  switch (t) {
    case MsgType::hello: return "HELLO";
    case MsgType::error: return "ERROR";
    case MsgType::echo_request: return "ECHO_REQUEST";
    case MsgType::echo_reply: return "ECHO_REPLY";
    case MsgType::experimenter: return "EXPERIMENTER";
    case MsgType::features_request: return "FEATURES_REQUEST";
    case MsgType::features_reply: return "FEATURES_REPLY";
    case MsgType::get_config_request: return "GET_CONFIG_REQUEST";
    case MsgType::get_config_reply: return "GET_CONFIG_REPLY";
    case MsgType::set_config: return "SET_CONFIG";
    case MsgType::packet_in: return "PACKET_IN";
    case MsgType::flow_removed: return "FLOW_REMOVED";
    case MsgType::port_status: return "PORT_STATUS";
    case MsgType::packet_out: return "PACKET_OUT";
    case MsgType::flow_mod: return "FLOW_MOD";
    case MsgType::group_mod: return "GROUP_MOD";
    case MsgType::port_mod: return "PORT_MOD";
    case MsgType::table_mod: return "TABLE_MOD";
    case MsgType::multipart_request: return "MULTIPART_REQUEST";
    case MsgType::multipart_reply: return "MULTIPART_REPLY";
    case MsgType::barrier_request: return "BARRIER_REQUEST";
    case MsgType::barrier_reply: return "BARRIER_REPLY";
    case MsgType::role_request: return "ROLE_REQUEST";
    case MsgType::role_reply: return "ROLE_REPLY";
    case MsgType::get_async_request: return "GET_ASYNC_REQUEST";
    case MsgType::get_async_reply: return "GET_ASYNC_REPLY";
    case MsgType::set_async: return "SET_ASYNC";
    case MsgType::meter_mod: return "METER_MOD";
  }
  return "UNKNOWN";
}

namespace {

// OXM class and fields (OpenFlow 1.3 §7.2.3.7).
constexpr uint16_t kOxmClassBasic = 0x8000;
enum OxmField : uint8_t {
  kInPort = 0,
  kEthType = 5,
  kIpProto = 10,
  kIpv4Src = 11,
  kIpv4Dst = 12,
  kTcpSrc = 13,
  kTcpDst = 14,
  kUdpSrc = 15,
  kUdpDst = 16,
  kIpv6Src = 26,
  kIpv6Dst = 27,
};
constexpr uint16_t kMatchTypeOxm = 1;
// Open vSwitch's extension field NXM_NX_IP_FRAG (class NXM_1, field 26,
// one byte): bit 0 any fragment, bit 1 a later one; "first" is 1/3.
constexpr uint16_t kOxmClassNxm1 = 0x0001;
constexpr uint8_t kNxmIpFrag = 26, kFragAny = 1, kFragLater = 2;
enum InstructionType : uint16_t { kGotoTable = 1, kApplyActions = 4, kMeter = 6 };
constexpr uint16_t kActionOutput = 0;
constexpr uint16_t kMeterBandDrop = 1;
constexpr uint16_t kHelloElemVersionBitmap = 1;

size_t pad8(size_t n) { return (n + 7) / 8 * 8; }

// ---- writing

template <typename W>
W* grow(Buffer& out) {
  static_assert(std::is_trivially_copyable_v<W> && alignof(W) == 1);
  size_t at = out.size();
  out.resize(at + sizeof(W));
  return reinterpret_cast<W*>(out.data() + at);
}

void put_bytes(Buffer& out, const void* p, size_t n) {
  auto b = static_cast<const std::byte*>(p);
  out.insert(out.end(), b, b + n);
}
void put_zeros(Buffer& out, size_t n) { out.insert(out.end(), n, std::byte{0}); }
template <typename T>
void put_be(Buffer& out, T v) {
  Be<T> be;
  be.set(v);
  put_bytes(out, be.b, sizeof(T));
}

// Starts a message: the length is patched by finish().
size_t begin(Buffer& out, uint32_t xid, MsgType type) {
  size_t at = out.size();
  auto* h = grow<wire::Header>(out);
  h->version = kVersion;
  h->type = static_cast<uint8_t>(type);
  h->length.set(0);
  h->xid.set(xid);
  return at;
}
void finish(Buffer& out, size_t at) {
  reinterpret_cast<wire::Header*>(out.data() + at)->length.set(static_cast<uint16_t>(out.size() - at));
}
template <typename W>
W* at(Buffer& out, size_t offset) {
  return reinterpret_cast<W*>(out.data() + offset);
}

// `field`: an OxmField of the basic class, or another class's field number.
void put_oxm(Buffer& out, uint8_t field, const uint8_t* value, size_t len, const uint8_t* mask = nullptr,
             uint16_t oxm_class = kOxmClassBasic) {
  put_be<uint16_t>(out, oxm_class);
  out.push_back(static_cast<std::byte>(field << 1 | (mask ? 1 : 0)));
  out.push_back(static_cast<std::byte>(mask ? 2 * len : len));
  put_bytes(out, value, len);
  if (mask) put_bytes(out, mask, len);
}
void put_oxm16(Buffer& out, OxmField f, uint16_t v) {
  uint8_t b[2] = {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
  put_oxm(out, f, b, 2);
}

void put_ip(Buffer& out, bool src, const IpMatch& m) {
  bool v4 = m.address.is_v4();
  size_t len = v4 ? 4 : 16;
  const uint8_t* value = m.address.bytes().data() + (v4 ? 12 : 0);
  OxmField f = v4 ? (src ? kIpv4Src : kIpv4Dst) : (src ? kIpv6Src : kIpv6Dst);
  int full = v4 ? 32 : 128;
  if (m.prefix >= full) {
    put_oxm(out, f, value, len);
    return;
  }
  uint8_t mask[16]{}, masked[16]{};
  for (int i = 0; i < m.prefix; ++i) mask[i / 8] |= static_cast<uint8_t>(0x80 >> (i % 8));
  for (size_t i = 0; i < len; ++i) masked[i] = value[i] & mask[i];
  put_oxm(out, f, masked, len, mask);
}

// ofp_match with its padding to 8 bytes.
void put_match(Buffer& out, const Match& m) {
  size_t start = out.size();
  put_be<uint16_t>(out, kMatchTypeOxm);
  put_be<uint16_t>(out, 0);
  if (m.in_port) {
    uint8_t b[4] = {static_cast<uint8_t>(*m.in_port >> 24), static_cast<uint8_t>(*m.in_port >> 16),
                    static_cast<uint8_t>(*m.in_port >> 8), static_cast<uint8_t>(*m.in_port)};
    put_oxm(out, kInPort, b, 4);
  }
  if (m.eth_type) put_oxm16(out, kEthType, *m.eth_type);
  if (m.ip_proto) put_oxm(out, kIpProto, &*m.ip_proto, 1);
  if (m.ip_src) put_ip(out, true, *m.ip_src);
  if (m.ip_dst) put_ip(out, false, *m.ip_dst);
  if (m.tcp_src) put_oxm16(out, kTcpSrc, *m.tcp_src);
  if (m.tcp_dst) put_oxm16(out, kTcpDst, *m.tcp_dst);
  if (m.udp_src) put_oxm16(out, kUdpSrc, *m.udp_src);
  if (m.udp_dst) put_oxm16(out, kUdpDst, *m.udp_dst);
  if (m.first_fragment) {
    uint8_t value = kFragAny, mask = kFragAny | kFragLater;
    put_oxm(out, kNxmIpFrag, &value, 1, &mask, kOxmClassNxm1);
  }
  size_t len = out.size() - start;
  at<wire::MatchHeader>(out, start)->length.set(static_cast<uint16_t>(len));
  put_zeros(out, pad8(len) - len);
}

void put_actions(Buffer& out, const std::vector<Action>& actions) {
  for (const Action& a : actions) {
    if (a.kind != Action::Kind::output) continue;  // only OUTPUT is ever encoded
    auto* w = grow<wire::ActionOutput>(out);
    std::memset(w, 0, sizeof(*w));
    w->type.set(kActionOutput);
    w->len.set(sizeof(wire::ActionOutput));
    w->port.set(a.port);
    w->max_len.set(a.max_len);
  }
}

void put_instructions(Buffer& out, const Instructions& ins) {
  if (ins.meter) {
    auto* w = grow<wire::InstructionMeter>(out);
    w->type.set(kMeter);
    w->len.set(sizeof(wire::InstructionMeter));
    w->meter_id.set(*ins.meter);
  }
  if (ins.apply_present || !ins.apply.empty()) {
    size_t start = out.size();
    auto* w = grow<wire::InstructionActions>(out);
    std::memset(w, 0, sizeof(*w));
    w->type.set(kApplyActions);
    put_actions(out, ins.apply);
    at<wire::InstructionActions>(out, start)->len.set(static_cast<uint16_t>(out.size() - start));
  }
  if (ins.goto_table) {
    auto* w = grow<wire::InstructionGoto>(out);
    std::memset(w, 0, sizeof(*w));
    w->type.set(kGotoTable);
    w->len.set(sizeof(wire::InstructionGoto));
    w->table_id = *ins.goto_table;
  }
}

// ---- reading

// A bounds-checked reader over one message or body.
class Cursor {
 public:
  explicit Cursor(std::span<const std::byte> s) : s_(s) {}
  size_t left() const { return s_.size() - pos_; }
  size_t pos() const { return pos_; }
  // Copies a wire struct out; false (and nothing consumed) if too short.
  template <typename W>
  bool take(W& w) {
    if (left() < sizeof(W)) return false;
    std::memcpy(&w, s_.data() + pos_, sizeof(W));
    pos_ += sizeof(W);
    return true;
  }
  bool skip(size_t n) {
    if (left() < n) return false;
    pos_ += n;
    return true;
  }
  std::span<const std::byte> rest() const { return s_.subspan(pos_); }
  std::span<const std::byte> sub(size_t n) const { return s_.subspan(pos_, n); }

 private:
  std::span<const std::byte> s_;
  size_t pos_ = 0;
};

uint8_t u8(std::span<const std::byte> s, size_t i) { return static_cast<uint8_t>(s[i]); }
uint16_t be16(std::span<const std::byte> s, size_t i) { return static_cast<uint16_t>(u8(s, i) << 8 | u8(s, i + 1)); }
uint32_t be32(std::span<const std::byte> s, size_t i) {
  return uint32_t{be16(s, i)} << 16 | be16(s, i + 2);
}

// Checks the common header of a message of `type` whose fixed part is `fixed` bytes.
Status check(std::span<const std::byte> msg, MsgType type, size_t fixed) {
  Header h;
  if (Status s = decode_header(msg, h); s != Status::ok) return s;
  if (h.version != kVersion) return Status::bad_version;
  if (h.type != type) return Status::bad_type;
  if (h.length != msg.size()) return Status::bad_length;
  if (msg.size() < fixed) return Status::truncated;
  return Status::ok;
}

int prefix_of(const uint8_t* mask, size_t len) {
  int n = 0;
  size_t i = 0;
  for (; i < len && mask[i] == 0xff; ++i) n += 8;
  if (i < len) {
    uint8_t m = mask[i];
    while (m & 0x80) {
      ++n;
      m = static_cast<uint8_t>(m << 1);
    }
    if (m != 0) return -1;
    for (++i; i < len; ++i)
      if (mask[i] != 0) return -1;
  }
  return n;
}

Status read_oxm_fields(std::span<const std::byte> f, Match& m) {
  size_t i = 0;
  while (i < f.size()) {
    if (f.size() - i < 4) return Status::bad_oxm;
    uint16_t cls = be16(f, i);
    uint8_t field = u8(f, i + 2) >> 1;
    bool hasmask = u8(f, i + 2) & 1;
    size_t len = u8(f, i + 3);
    i += 4;
    if (f.size() - i < len) return Status::bad_oxm;
    auto v = f.subspan(i, len);
    i += len;
    size_t vlen = hasmask ? len / 2 : len;
    if (hasmask && len % 2) return Status::bad_oxm;
    auto want = [&](size_t n) { return vlen == n; };
    // "first" as nsgate writes it (value 1, mask 3), and as Open vSwitch
    // reports it in a flow dump (value 1, mask all ones or none).
    if (cls == kOxmClassNxm1 && field == kNxmIpFrag && vlen == 1 && u8(v, 0) == kFragAny &&
        (!hasmask || u8(v, 1) == (kFragAny | kFragLater) || u8(v, 1) == 0xff)) {
      m.first_fragment = true;
      continue;
    }
    if (cls != kOxmClassBasic) {
      ++m.other_fields;
      continue;
    }
    auto ip = [&](size_t n, std::optional<IpMatch>& dst) -> Status {
      if (!want(n)) return Status::bad_oxm;
      IpMatch im;
      if (n == 4) {
        im.address = IpAddress::v4(be32(v, 0));
        im.prefix = 32;
      } else {
        std::array<std::byte, 16> raw{};
        for (size_t k = 0; k < 16; ++k) raw[k] = v[k];
        im.address = IpAddress::v6(raw);
        im.prefix = 128;
      }
      if (hasmask) {
        uint8_t mask[16]{};
        for (size_t k = 0; k < n; ++k) mask[k] = u8(v, n + k);
        int p = prefix_of(mask, n);
        if (p < 0) {  // not a prefix: keep it visible as an unmodelled field
          ++m.other_fields;
          return Status::ok;
        }
        im.prefix = p;
      }
      dst = im;
      return Status::ok;
    };
    Status s = Status::ok;
    switch (field) {
      case kInPort:
        if (!want(4)) return Status::bad_oxm;
        m.in_port = be32(v, 0);
        break;
      case kEthType:
        if (!want(2)) return Status::bad_oxm;
        m.eth_type = be16(v, 0);
        break;
      case kIpProto:
        if (!want(1)) return Status::bad_oxm;
        m.ip_proto = u8(v, 0);
        break;
      case kIpv4Src: s = ip(4, m.ip_src); break;
      case kIpv4Dst: s = ip(4, m.ip_dst); break;
      case kIpv6Src: s = ip(16, m.ip_src); break;
      case kIpv6Dst: s = ip(16, m.ip_dst); break;
      case kTcpSrc:
      case kTcpDst:
      case kUdpSrc:
      case kUdpDst: {
        if (!want(2)) return Status::bad_oxm;
        uint16_t p = be16(v, 0);
        (field == kTcpSrc ? m.tcp_src : field == kTcpDst ? m.tcp_dst : field == kUdpSrc ? m.udp_src : m.udp_dst) = p;
        break;
      }
      default: ++m.other_fields;
    }
    if (s != Status::ok) return s;
  }
  return Status::ok;
}

// Reads an ofp_match (with padding) at the cursor.
Status read_match(Cursor& c, Match& m) {
  wire::MatchHeader h;
  if (!c.take(h)) return Status::truncated;
  if (h.type.get() != kMatchTypeOxm) return Status::bad_match;
  size_t len = h.length.get();
  if (len < 4) return Status::bad_match;
  size_t fields = len - 4, padded = pad8(len) - 4;
  if (c.left() < padded) return Status::truncated;
  Status s = read_oxm_fields(c.sub(fields), m);
  c.skip(padded);
  return s;
}

Status read_actions(std::span<const std::byte> s, std::vector<Action>& out) {
  size_t i = 0;
  while (i < s.size()) {
    if (s.size() - i < 4) return Status::bad_action;
    uint16_t type = be16(s, i), len = be16(s, i + 2);
    if (len < 8 || len % 8 || len > s.size() - i) return Status::bad_action;
    Action a;
    if (type == kActionOutput) {
      if (len != sizeof(wire::ActionOutput)) return Status::bad_action;
      a.kind = Action::Kind::output;
      a.port = be32(s, i + 4);
      a.max_len = be16(s, i + 8);
    } else {
      a.kind = Action::Kind::other;
      a.other_type = type;
    }
    out.push_back(a);
    i += len;
  }
  return Status::ok;
}

Status read_instructions(std::span<const std::byte> s, Instructions& ins) {
  size_t i = 0;
  while (i < s.size()) {
    if (s.size() - i < 4) return Status::bad_instruction;
    uint16_t type = be16(s, i), len = be16(s, i + 2);
    if (len < 8 || len % 8 || len > s.size() - i) return Status::bad_instruction;
    auto body = s.subspan(i, len);
    switch (type) {
      case kGotoTable:
        if (len != 8) return Status::bad_instruction;
        ins.goto_table = u8(body, 4);
        break;
      case kMeter:
        if (len != 8) return Status::bad_instruction;
        ins.meter = be32(body, 4);
        break;
      case kApplyActions:
        ins.apply_present = true;
        if (Status st = read_actions(body.subspan(8), ins.apply); st != Status::ok) return st;
        break;
      default: ++ins.other;
    }
    i += len;
  }
  return Status::ok;
}

}  // namespace

bool Match::operator==(const Match& o) const {
  auto ip_eq = [](const std::optional<IpMatch>& a, const std::optional<IpMatch>& b) {
    if (a.has_value() != b.has_value()) return false;
    return !a || (a->address == b->address && a->prefix == b->prefix);
  };
  return in_port == o.in_port && eth_type == o.eth_type && ip_proto == o.ip_proto && ip_eq(ip_src, o.ip_src) &&
         ip_eq(ip_dst, o.ip_dst) && udp_src == o.udp_src && udp_dst == o.udp_dst && tcp_src == o.tcp_src &&
         tcp_dst == o.tcp_dst && first_fragment == o.first_fragment && other_fields == o.other_fields;
}

Action output(uint32_t port) {
  Action a;
  a.port = port;
  a.max_len = port == port::controller ? kMaxLenNoBuffer : 0;
  return a;
}

std::string describe(const Error& e) {
  static constexpr const char* kTypes[] = {"HELLO_FAILED", "BAD_REQUEST", "BAD_ACTION", "BAD_INSTRUCTION",
                                           "BAD_MATCH", "FLOW_MOD_FAILED", "GROUP_MOD_FAILED",
                                           "PORT_MOD_FAILED", "TABLE_MOD_FAILED", "QUEUE_OP_FAILED",
                                           "SWITCH_CONFIG_FAILED", "ROLE_REQUEST_FAILED", "METER_MOD_FAILED",
                                           "TABLE_FEATURES_FAILED"};
  std::string type = e.type < std::size(kTypes) ? kTypes[e.type] : "type " + std::to_string(e.type);
  std::string text = type + " code " + std::to_string(e.code);
  // The data starts with the offending request's header: name it.
  if (e.data.size() >= sizeof(wire::Header)) {
    Header h;
    if (decode_header(e.data, h) == Status::ok)
      text += " (in reply to " + std::string(to_string(h.type)) + " xid " + std::to_string(h.xid) + ")";
  }
  return text;
}

Status decode_header(std::span<const std::byte> buf, Header& out) {
  if (buf.size() < sizeof(wire::Header)) return Status::truncated;
  wire::Header h;
  std::memcpy(&h, buf.data(), sizeof h);
  out.version = h.version;
  out.type = static_cast<MsgType>(h.type);
  out.length = h.length.get();
  out.xid = h.xid.get();
  return out.length < sizeof(wire::Header) ? Status::bad_length : Status::ok;
}

// ---------------------------------------------------------------- encoders

void encode_hello(Buffer& out, uint32_t xid) {
  size_t m = begin(out, xid, MsgType::hello);
  put_be<uint16_t>(out, kHelloElemVersionBitmap);
  put_be<uint16_t>(out, 8);
  put_be<uint32_t>(out, 1u << kVersion);
  finish(out, m);
}

void encode_echo(Buffer& out, uint32_t xid, bool reply, std::span<const std::byte> data) {
  size_t m = begin(out, xid, reply ? MsgType::echo_reply : MsgType::echo_request);
  put_bytes(out, data.data(), data.size());
  finish(out, m);
}

void encode_empty(Buffer& out, uint32_t xid, MsgType type) { finish(out, begin(out, xid, type)); }

void encode(Buffer& out, uint32_t xid, const SwitchConfig& c) {
  size_t m = begin(out, xid, MsgType::set_config);
  put_be<uint16_t>(out, c.flags);
  put_be<uint16_t>(out, c.miss_send_len);
  finish(out, m);
}

void encode(Buffer& out, uint32_t xid, const FlowMod& f) {
  size_t m = begin(out, xid, MsgType::flow_mod);
  out.resize(out.size() + sizeof(wire::FlowMod) - sizeof(wire::Header));
  auto* w = at<wire::FlowMod>(out, m);
  w->cookie.set(f.cookie);
  w->cookie_mask.set(f.cookie_mask);
  w->table_id = f.table;
  w->command = static_cast<uint8_t>(f.command);
  w->idle_timeout.set(f.idle_timeout);
  w->hard_timeout.set(f.hard_timeout);
  w->priority.set(f.priority);
  w->buffer_id.set(f.buffer_id);
  w->out_port.set(f.out_port);
  w->out_group.set(f.out_group);
  w->flags.set(f.flags);
  w->pad[0] = w->pad[1] = 0;
  put_match(out, f.match);
  put_instructions(out, f.instructions);
  finish(out, m);
}

void encode(Buffer& out, uint32_t xid, const PacketOut& p) {
  size_t m = begin(out, xid, MsgType::packet_out);
  out.resize(out.size() + sizeof(wire::PacketOut) - sizeof(wire::Header));
  auto* w = at<wire::PacketOut>(out, m);
  std::memset(w->pad, 0, sizeof w->pad);
  w->buffer_id.set(p.buffer_id);
  w->in_port.set(p.in_port);
  size_t actions = out.size();
  put_actions(out, p.actions);
  at<wire::PacketOut>(out, m)->actions_len.set(static_cast<uint16_t>(out.size() - actions));
  put_bytes(out, p.data.data(), p.data.size());
  finish(out, m);
}

void encode(Buffer& out, uint32_t xid, const FlowStatsRequest& r) {
  size_t m = begin(out, xid, MsgType::multipart_request);
  put_be<uint16_t>(out, kMultipartFlow);
  put_be<uint16_t>(out, 0);
  put_zeros(out, 4);
  out.push_back(static_cast<std::byte>(r.table));
  put_zeros(out, 3);
  put_be<uint32_t>(out, r.out_port);
  put_be<uint32_t>(out, r.out_group);
  put_zeros(out, 4);
  put_be<uint64_t>(out, r.cookie);
  put_be<uint64_t>(out, r.cookie_mask);
  put_match(out, r.match);
  finish(out, m);
}

void encode(Buffer& out, uint32_t xid, const MeterMod& mm) {
  size_t m = begin(out, xid, MsgType::meter_mod);
  put_be<uint16_t>(out, static_cast<uint16_t>(mm.command));
  put_be<uint16_t>(out, mm.flags);
  put_be<uint32_t>(out, mm.meter_id);
  for (const MeterBand& b : mm.bands) {
    put_be<uint16_t>(out, kMeterBandDrop);
    put_be<uint16_t>(out, sizeof(wire::MeterBandDrop));
    put_be<uint32_t>(out, b.rate);
    put_be<uint32_t>(out, b.burst);
    put_zeros(out, 4);
  }
  finish(out, m);
}

void encode(Buffer& out, uint32_t xid, const AsyncConfig& a) {
  size_t m = begin(out, xid, MsgType::set_async);
  for (const uint32_t* pair : {a.packet_in_mask, a.port_status_mask, a.flow_removed_mask}) {
    put_be<uint32_t>(out, pair[0]);
    put_be<uint32_t>(out, pair[1]);
  }
  finish(out, m);
}

void encode(Buffer& out, uint32_t xid, const Error& e) {
  size_t m = begin(out, xid, MsgType::error);
  put_be<uint16_t>(out, e.type);
  put_be<uint16_t>(out, e.code);
  put_bytes(out, e.data.data(), e.data.size());
  finish(out, m);
}

void encode(Buffer& out, uint32_t xid, const BundleCtrl& b) {
  size_t m = begin(out, xid, MsgType::experimenter);
  put_be<uint32_t>(out, kOnfExperimenter);
  put_be<uint32_t>(out, kOnfBundleControl);
  put_be<uint32_t>(out, b.bundle_id);
  put_be<uint16_t>(out, static_cast<uint16_t>(b.type));
  put_be<uint16_t>(out, b.flags);
  finish(out, m);
}

void encode_bundle_add(Buffer& out, uint32_t xid, uint32_t bundle_id, uint16_t flags, const FlowMod& f) {
  size_t m = begin(out, xid, MsgType::experimenter);
  put_be<uint32_t>(out, kOnfExperimenter);
  put_be<uint32_t>(out, kOnfBundleAdd);
  put_be<uint32_t>(out, bundle_id);
  put_zeros(out, 2);
  put_be<uint16_t>(out, flags);
  encode(out, xid, f);
  finish(out, m);
}

void encode(Buffer& out, uint32_t xid, const FeaturesReply& f) {
  size_t m = begin(out, xid, MsgType::features_reply);
  put_be<uint64_t>(out, f.datapath_id);
  put_be<uint32_t>(out, f.n_buffers);
  out.push_back(static_cast<std::byte>(f.n_tables));
  out.push_back(static_cast<std::byte>(f.auxiliary_id));
  put_zeros(out, 2);
  put_be<uint32_t>(out, f.capabilities);
  put_be<uint32_t>(out, 0);
  finish(out, m);
}

void encode(Buffer& out, uint32_t xid, const PacketIn& p) {
  size_t m = begin(out, xid, MsgType::packet_in);
  put_be<uint32_t>(out, p.buffer_id);
  put_be<uint16_t>(out, p.total_len);
  out.push_back(static_cast<std::byte>(p.reason));
  out.push_back(static_cast<std::byte>(p.table));
  put_be<uint64_t>(out, p.cookie);
  put_match(out, p.match);
  put_zeros(out, 2);
  put_bytes(out, p.data.data(), p.data.size());
  finish(out, m);
}

void encode(Buffer& out, uint32_t xid, const FlowRemoved& r) {
  size_t m = begin(out, xid, MsgType::flow_removed);
  put_be<uint64_t>(out, r.cookie);
  put_be<uint16_t>(out, r.priority);
  out.push_back(static_cast<std::byte>(r.reason));
  out.push_back(static_cast<std::byte>(r.table));
  put_be<uint32_t>(out, r.duration_sec);
  put_be<uint32_t>(out, r.duration_nsec);
  put_be<uint16_t>(out, r.idle_timeout);
  put_be<uint16_t>(out, r.hard_timeout);
  put_be<uint64_t>(out, r.packet_count);
  put_be<uint64_t>(out, r.byte_count);
  put_match(out, r.match);
  finish(out, m);
}

void encode_flow_stats_reply(Buffer& out, uint32_t xid, std::span<const FlowStats> stats, bool more) {
  size_t m = begin(out, xid, MsgType::multipart_reply);
  put_be<uint16_t>(out, kMultipartFlow);
  put_be<uint16_t>(out, more ? kMultipartReplyMore : 0);
  put_zeros(out, 4);
  for (const FlowStats& s : stats) {
    size_t e = out.size();
    put_be<uint16_t>(out, 0);
    out.push_back(static_cast<std::byte>(s.table));
    put_zeros(out, 1);
    put_be<uint32_t>(out, s.duration_sec);
    put_be<uint32_t>(out, s.duration_nsec);
    put_be<uint16_t>(out, s.priority);
    put_be<uint16_t>(out, s.idle_timeout);
    put_be<uint16_t>(out, s.hard_timeout);
    put_be<uint16_t>(out, s.flags);
    put_zeros(out, 4);
    put_be<uint64_t>(out, s.cookie);
    put_be<uint64_t>(out, s.packet_count);
    put_be<uint64_t>(out, s.byte_count);
    put_match(out, s.match);
    put_instructions(out, s.instructions);
    at<Be<uint16_t>>(out, e)->set(static_cast<uint16_t>(out.size() - e));
  }
  finish(out, m);
}

// ---------------------------------------------------------------- decoders

Status decode_hello(std::span<const std::byte> msg, uint32_t& version_bitmap) {
  Header h;
  if (Status s = decode_header(msg, h); s != Status::ok) return s;
  if (h.type != MsgType::hello) return Status::bad_type;
  if (h.length != msg.size()) return Status::bad_length;
  // Any version may say hello; the bitmap (if any) lists what it speaks.
  version_bitmap = h.version < 32 ? 1u << h.version : 0;
  Cursor c(msg.subspan(sizeof(wire::Header)));
  while (c.left() > 0) {
    wire::HelloElem e;
    if (!c.take(e)) return Status::truncated;
    size_t len = e.length.get();
    if (len < sizeof e || len - sizeof e > c.left()) return Status::bad_length;
    if (e.type.get() == kHelloElemVersionBitmap && len >= 8) {
      auto bm = c.sub(len - sizeof e);
      version_bitmap = be32(bm, 0);  // versions 0..31 are all that exist
    }
    c.skip(pad8(len) - sizeof e <= c.left() ? pad8(len) - sizeof e : len - sizeof e);
  }
  return Status::ok;
}

Status decode(std::span<const std::byte> msg, FeaturesReply& out) {
  if (Status s = check(msg, MsgType::features_reply, sizeof(wire::SwitchFeatures)); s != Status::ok) return s;
  wire::SwitchFeatures w;
  std::memcpy(&w, msg.data(), sizeof w);
  out.datapath_id = w.datapath_id.get();
  out.n_buffers = w.n_buffers.get();
  out.n_tables = w.n_tables;
  out.auxiliary_id = w.auxiliary_id;
  out.capabilities = w.capabilities.get();
  return Status::ok;
}

Status decode(std::span<const std::byte> msg, SwitchConfig& out) {
  Header h;
  if (Status s = decode_header(msg, h); s != Status::ok) return s;
  if (h.type != MsgType::set_config && h.type != MsgType::get_config_reply) return Status::bad_type;
  if (h.version != kVersion) return Status::bad_version;
  if (h.length != msg.size()) return Status::bad_length;
  if (msg.size() != sizeof(wire::SwitchConfig)) return msg.size() < sizeof(wire::SwitchConfig) ? Status::truncated : Status::bad_length;
  wire::SwitchConfig w;
  std::memcpy(&w, msg.data(), sizeof w);
  out.flags = w.flags.get();
  out.miss_send_len = w.miss_send_len.get();
  return Status::ok;
}

Status decode(std::span<const std::byte> msg, Error& out) {
  Header h;
  if (Status s = decode_header(msg, h); s != Status::ok) return s;
  if (h.type != MsgType::error) return Status::bad_type;
  if (h.length != msg.size()) return Status::bad_length;
  // Errors to a HELLO may come in the peer's own version: accept any.
  if (msg.size() < sizeof(wire::ErrorMsg)) return Status::truncated;
  wire::ErrorMsg w;
  std::memcpy(&w, msg.data(), sizeof w);
  out.type = w.type.get();
  out.code = w.code.get();
  out.data = msg.subspan(sizeof w);
  return Status::ok;
}

Status decode(std::span<const std::byte> msg, PacketIn& out) {
  if (Status s = check(msg, MsgType::packet_in, sizeof(wire::PacketIn) + 8 + 2); s != Status::ok) return s;
  Cursor c(msg);
  wire::PacketIn w;
  c.take(w);
  out.buffer_id = w.buffer_id.get();
  out.total_len = w.total_len.get();
  out.reason = w.reason;
  out.table = w.table_id;
  out.cookie = w.cookie.get();
  out.match = {};
  if (Status s = read_match(c, out.match); s != Status::ok) return s;
  if (!c.skip(2)) return Status::truncated;
  out.data = c.rest();
  if (out.data.size() > out.total_len) return Status::bad_length;
  return Status::ok;
}

Status decode(std::span<const std::byte> msg, FlowRemoved& out) {
  if (Status s = check(msg, MsgType::flow_removed, sizeof(wire::FlowRemoved) + 8); s != Status::ok) return s;
  Cursor c(msg);
  wire::FlowRemoved w;
  c.take(w);
  out.cookie = w.cookie.get();
  out.priority = w.priority.get();
  out.reason = w.reason;
  out.table = w.table_id;
  out.duration_sec = w.duration_sec.get();
  out.duration_nsec = w.duration_nsec.get();
  out.idle_timeout = w.idle_timeout.get();
  out.hard_timeout = w.hard_timeout.get();
  out.packet_count = w.packet_count.get();
  out.byte_count = w.byte_count.get();
  out.match = {};
  if (Status s = read_match(c, out.match); s != Status::ok) return s;
  return c.left() == 0 ? Status::ok : Status::bad_length;
}

Status decode(std::span<const std::byte> msg, FlowMod& out) {
  if (Status s = check(msg, MsgType::flow_mod, sizeof(wire::FlowMod) + 8); s != Status::ok) return s;
  Cursor c(msg);
  wire::FlowMod w;
  c.take(w);
  out.cookie = w.cookie.get();
  out.cookie_mask = w.cookie_mask.get();
  out.table = w.table_id;
  if (w.command > static_cast<uint8_t>(FlowModCommand::remove_strict)) return Status::bad_length;
  out.command = static_cast<FlowModCommand>(w.command);
  out.idle_timeout = w.idle_timeout.get();
  out.hard_timeout = w.hard_timeout.get();
  out.priority = w.priority.get();
  out.buffer_id = w.buffer_id.get();
  out.out_port = w.out_port.get();
  out.out_group = w.out_group.get();
  out.flags = w.flags.get();
  out.match = {};
  out.instructions = {};
  if (Status s = read_match(c, out.match); s != Status::ok) return s;
  return read_instructions(c.rest(), out.instructions);
}

Status decode(std::span<const std::byte> msg, PacketOut& out) {
  if (Status s = check(msg, MsgType::packet_out, sizeof(wire::PacketOut)); s != Status::ok) return s;
  Cursor c(msg);
  wire::PacketOut w;
  c.take(w);
  out.buffer_id = w.buffer_id.get();
  out.in_port = w.in_port.get();
  size_t alen = w.actions_len.get();
  if (alen > c.left()) return Status::bad_length;
  out.actions.clear();
  if (Status s = read_actions(c.sub(alen), out.actions); s != Status::ok) return s;
  c.skip(alen);
  out.data = c.rest();
  return Status::ok;
}

Status decode(std::span<const std::byte> msg, MeterMod& out) {
  if (Status s = check(msg, MsgType::meter_mod, sizeof(wire::MeterMod)); s != Status::ok) return s;
  Cursor c(msg);
  wire::MeterMod w;
  c.take(w);
  out.command = static_cast<MeterModCommand>(w.command.get());
  out.flags = w.flags.get();
  out.meter_id = w.meter_id.get();
  out.bands.clear();
  while (c.left() > 0) {
    auto rest = c.rest();
    if (rest.size() < 4) return Status::truncated;
    uint16_t type = be16(rest, 0), len = be16(rest, 2);
    if (len < 16 || len % 8 || len > rest.size()) return Status::bad_length;
    if (type == kMeterBandDrop) out.bands.push_back({be32(rest, 4), be32(rest, 8)});
    c.skip(len);
  }
  return Status::ok;
}

Status decode(std::span<const std::byte> msg, MultipartReply& out) {
  if (Status s = check(msg, MsgType::multipart_reply, sizeof(wire::Multipart)); s != Status::ok) return s;
  wire::Multipart w;
  std::memcpy(&w, msg.data(), sizeof w);
  out.type = w.type.get();
  out.flags = w.flags.get();
  out.body = msg.subspan(sizeof w);
  return Status::ok;
}

Status decode(std::span<const std::byte> msg, BundleCtrl& out) {
  if (Status s = check(msg, MsgType::experimenter, 16); s != Status::ok) return s;
  if (be32(msg, 8) != kOnfExperimenter || be32(msg, 12) != kOnfBundleControl) return Status::bad_type;
  if (msg.size() < 24) return Status::truncated;
  out.bundle_id = be32(msg, 16);
  out.type = static_cast<BundleCtrlType>(be16(msg, 20));
  out.flags = be16(msg, 22);
  return Status::ok;
}

Status decode_flow_stats(std::span<const std::byte> body, std::vector<FlowStats>& out) {
  Cursor c(body);
  while (c.left() > 0) {
    if (c.left() < 2) return Status::bad_multipart;
    size_t len = be16(c.rest(), 0);
    if (len < sizeof(wire::FlowStats) + 8 || len > c.left()) return Status::bad_multipart;
    Cursor e(c.sub(len));
    c.skip(len);
    wire::FlowStats w;
    e.take(w);
    FlowStats s;
    s.table = w.table_id;
    s.duration_sec = w.duration_sec.get();
    s.duration_nsec = w.duration_nsec.get();
    s.priority = w.priority.get();
    s.idle_timeout = w.idle_timeout.get();
    s.hard_timeout = w.hard_timeout.get();
    s.flags = w.flags.get();
    s.cookie = w.cookie.get();
    s.packet_count = w.packet_count.get();
    s.byte_count = w.byte_count.get();
    if (Status st = read_match(e, s.match); st != Status::ok) return st;
    if (Status st = read_instructions(e.rest(), s.instructions); st != Status::ok) return st;
    out.push_back(std::move(s));
  }
  return Status::ok;
}

}  // namespace nsgate::of
