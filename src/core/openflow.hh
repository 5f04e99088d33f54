// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// OpenFlow 1.3 (wire version 0x04) messages, in three layers (DESIGN §5.10):
//  - wire structs: big-endian fields as byte arrays, packed by construction
//    (alignment 1), each with a size assert against the specification;
//  - intents: plain structs (FlowMod, Match, Instructions, ...) that say what
//    the shim means, independent of the wire layout;
//  - encode/decode per message family. Encoders append one whole message to
//    a buffer. Decoders check every length before reading a field and
//    return a Status naming what was wrong; they never read past the span
//    and never allocate for packet data (PacketIn::data points into the
//    message).
//
// Only what the shim needs is modelled; OXM fields and actions nsgate does
// not use are skipped (with their lengths checked) when decoding.
//
// Pure: no sockets, no threads. src/ctl owns the connection.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/ip_address.hh"
#include "core/x_names.hh"

namespace nsgate::of {

inline constexpr uint8_t kVersion = 0x04;  // OpenFlow 1.3

enum class MsgType : uint8_t {
  hello = 0,
  error = 1,
  echo_request = 2,
  echo_reply = 3,
  experimenter = 4,
  features_request = 5,
  features_reply = 6,
  get_config_request = 7,
  get_config_reply = 8,
  set_config = 9,
  packet_in = 10,
  flow_removed = 11,
  port_status = 12,
  packet_out = 13,
  flow_mod = 14,
  group_mod = 15,
  port_mod = 16,
  table_mod = 17,
  multipart_request = 18,
  multipart_reply = 19,
  barrier_request = 20,
  barrier_reply = 21,
  role_request = 24,
  role_reply = 25,
  get_async_request = 26,
  get_async_reply = 27,
  set_async = 28,
  meter_mod = 29,
};
const char* to_string(MsgType t);

// Reserved port numbers (ofp_port_no).
namespace port {
inline constexpr uint32_t max = 0xffffff00;
inline constexpr uint32_t in_port = 0xfffffff8;
inline constexpr uint32_t normal = 0xfffffffa;
inline constexpr uint32_t flood = 0xfffffffb;
inline constexpr uint32_t controller = 0xfffffffd;
inline constexpr uint32_t any = 0xffffffff;
}  // namespace port
inline constexpr uint32_t kNoBuffer = 0xffffffff;
inline constexpr uint32_t kGroupAny = 0xffffffff;
inline constexpr uint8_t kTableAll = 0xff;
inline constexpr uint16_t kMaxLenNoBuffer = 0xffff;  // send the whole packet to the controller
inline constexpr uint16_t kMaxTimeout = 0xffff;      // idle/hard timeouts are 16-bit seconds
inline constexpr uint32_t kMeterController = 0xfffffffe;  // OFPM_CONTROLLER: packets to the controller

// Why a message (or part of one) was refused. One list makes the enum and
// the names the shim counts malformed messages under.
#define NSGATE_OF_STATUS(X)                                                  \
  X(ok, "decoded")                                                           \
  X(truncated, "shorter than its fixed part or its length field")            \
  X(bad_version, "not OpenFlow 1.3 (version 0x04)")                          \
  X(bad_type, "a different message type than the decoder handles")          \
  X(bad_length, "a length field disagrees with the data")                    \
  X(bad_match, "match is not OXM or its length is wrong")                    \
  X(bad_oxm, "an OXM field's length does not fit its type or the match")     \
  X(bad_instruction, "an instruction's length is wrong")                     \
  X(bad_action, "an action's length is wrong")                               \
  X(bad_multipart, "multipart body of an unexpected type or a bad entry")

enum class Status : uint8_t { NSGATE_OF_STATUS(NSGATE_X_ENUMERATOR) };
inline constexpr size_t kStatusCount = 0 NSGATE_OF_STATUS(NSGATE_X_COUNT);
const char* to_string(Status s);
const char* describe(Status s);

// ---------------------------------------------------------------- wire layer

// A big-endian unsigned integer stored as bytes: alignment 1, so wire
// structs built from these have no padding the compiler chose.
template <typename T>
struct Be {
  uint8_t b[sizeof(T)];
  T get() const {
    T v = 0;
    for (uint8_t x : b) v = static_cast<T>((v << 8) | x);
    return v;
  }
  void set(T v) {
    for (size_t i = sizeof(T); i-- > 0;) {
      b[i] = static_cast<uint8_t>(v);
      v = static_cast<T>(sizeof(T) > 1 ? v >> 8 : 0);
    }
  }
};

namespace wire {
struct Header {  // ofp_header
  uint8_t version;
  uint8_t type;
  Be<uint16_t> length;
  Be<uint32_t> xid;
};
static_assert(sizeof(Header) == 8);

struct FlowMod {  // ofp_flow_mod without its match and instructions
  Header header;
  Be<uint64_t> cookie, cookie_mask;
  uint8_t table_id, command;
  Be<uint16_t> idle_timeout, hard_timeout, priority;
  Be<uint32_t> buffer_id, out_port, out_group;
  Be<uint16_t> flags;
  uint8_t pad[2];
};
static_assert(sizeof(FlowMod) == 48);  // + ofp_match (>= 8) = OFP_FLOW_MOD_SIZE 56

struct MatchHeader {  // ofp_match: type, length (excluding padding), OXM fields
  Be<uint16_t> type, length;
};
static_assert(sizeof(MatchHeader) == 4);

struct PacketIn {  // ofp_packet_in without match, pad and data
  Header header;
  Be<uint32_t> buffer_id;
  Be<uint16_t> total_len;
  uint8_t reason, table_id;
  Be<uint64_t> cookie;
};
static_assert(sizeof(PacketIn) == 24);

struct FlowRemoved {  // ofp_flow_removed without its match
  Header header;
  Be<uint64_t> cookie;
  Be<uint16_t> priority;
  uint8_t reason, table_id;
  Be<uint32_t> duration_sec, duration_nsec;
  Be<uint16_t> idle_timeout, hard_timeout;
  Be<uint64_t> packet_count, byte_count;
};
static_assert(sizeof(FlowRemoved) == 48);

struct PacketOut {  // ofp_packet_out without actions and data
  Header header;
  Be<uint32_t> buffer_id, in_port;
  Be<uint16_t> actions_len;
  uint8_t pad[6];
};
static_assert(sizeof(PacketOut) == 24);

struct ActionOutput {  // ofp_action_output
  Be<uint16_t> type, len;
  Be<uint32_t> port;
  Be<uint16_t> max_len;
  uint8_t pad[6];
};
static_assert(sizeof(ActionOutput) == 16);

struct InstructionGoto {  // ofp_instruction_goto_table
  Be<uint16_t> type, len;
  uint8_t table_id;
  uint8_t pad[3];
};
static_assert(sizeof(InstructionGoto) == 8);

struct InstructionActions {  // ofp_instruction_actions without the actions
  Be<uint16_t> type, len;
  uint8_t pad[4];
};
static_assert(sizeof(InstructionActions) == 8);

struct InstructionMeter {  // ofp_instruction_meter
  Be<uint16_t> type, len;
  Be<uint32_t> meter_id;
};
static_assert(sizeof(InstructionMeter) == 8);

struct SwitchFeatures {  // ofp_switch_features
  Header header;
  Be<uint64_t> datapath_id;
  Be<uint32_t> n_buffers;
  uint8_t n_tables, auxiliary_id;
  uint8_t pad[2];
  Be<uint32_t> capabilities, reserved;
};
static_assert(sizeof(SwitchFeatures) == 32);

struct SwitchConfig {  // ofp_switch_config
  Header header;
  Be<uint16_t> flags, miss_send_len;
};
static_assert(sizeof(SwitchConfig) == 12);

struct ErrorMsg {  // ofp_error_msg without data
  Header header;
  Be<uint16_t> type, code;
};
static_assert(sizeof(ErrorMsg) == 12);

struct Multipart {  // ofp_multipart_request / _reply without body
  Header header;
  Be<uint16_t> type, flags;
  uint8_t pad[4];
};
static_assert(sizeof(Multipart) == 16);

struct FlowStatsRequest {  // ofp_flow_stats_request without its match
  uint8_t table_id;
  uint8_t pad[3];
  Be<uint32_t> out_port, out_group;
  uint8_t pad2[4];
  Be<uint64_t> cookie, cookie_mask;
};
static_assert(sizeof(FlowStatsRequest) == 32);

struct FlowStats {  // ofp_flow_stats without match and instructions
  Be<uint16_t> length;
  uint8_t table_id, pad;
  Be<uint32_t> duration_sec, duration_nsec;
  Be<uint16_t> priority, idle_timeout, hard_timeout, flags;
  uint8_t pad2[4];
  Be<uint64_t> cookie, packet_count, byte_count;
};
static_assert(sizeof(FlowStats) == 48);

struct MeterMod {  // ofp_meter_mod without bands
  Header header;
  Be<uint16_t> command, flags;
  Be<uint32_t> meter_id;
};
static_assert(sizeof(MeterMod) == 16);

struct MeterBandDrop {  // ofp_meter_band_drop
  Be<uint16_t> type, len;
  Be<uint32_t> rate, burst_size;
  uint8_t pad[4];
};
static_assert(sizeof(MeterBandDrop) == 16);

struct AsyncConfig {  // ofp_async_config
  Header header;
  Be<uint32_t> packet_in_mask[2], port_status_mask[2], flow_removed_mask[2];
};
static_assert(sizeof(AsyncConfig) == 32);

struct HelloElem {  // ofp_hello_elem_header
  Be<uint16_t> type, length;
};
static_assert(sizeof(HelloElem) == 4);
}  // namespace wire

// ---------------------------------------------------------------- intents

// An IP address match with a prefix length (full length = exact).
struct IpMatch {
  IpAddress address;
  int prefix = 128;  // in the address's own family: 0..32 or 0..128
};

// OXM fields the shim matches on. Setting an L3/L4 field without its
// prerequisites (eth_type, ip_proto) makes the switch refuse the flow;
// the helpers in of_flows build complete matches.
struct Match {
  std::optional<uint32_t> in_port;
  std::optional<uint16_t> eth_type;
  std::optional<uint8_t> ip_proto;
  std::optional<IpMatch> ip_src, ip_dst;  // IPv4 or IPv6 per address
  std::optional<uint16_t> udp_src, udp_dst, tcp_src, tcp_dst;
  // Open vSwitch's NXM_NX_IP_FRAG as "first": a fragment at offset 0 (its
  // transport ports read as 0 when its header is cut short).
  bool first_fragment = false;
  // Fields present on the wire that this model does not hold (decode only).
  unsigned other_fields = 0;
  bool operator==(const Match& o) const;
};

struct Action {  // only OUTPUT is modelled; others decode as `other`
  enum class Kind : uint8_t { output, other } kind = Kind::output;
  uint32_t port = 0;
  uint16_t max_len = 0;
  uint16_t other_type = 0;
  bool operator==(const Action&) const = default;
};
Action output(uint32_t port);  // max_len = whole packet for CONTROLLER

struct Instructions {
  std::optional<uint32_t> meter;
  std::vector<Action> apply;  // apply-actions (empty with apply_present=false: none)
  bool apply_present = false;
  std::optional<uint8_t> goto_table;
  unsigned other = 0;  // instructions not modelled (decode only)
  bool operator==(const Instructions&) const = default;
};

enum class FlowModCommand : uint8_t { add = 0, modify = 1, modify_strict = 2, remove = 3, remove_strict = 4 };
namespace flow_flags {
inline constexpr uint16_t send_flow_rem = 1, check_overlap = 2, reset_counts = 4;
}

struct FlowMod {
  uint64_t cookie = 0, cookie_mask = 0;
  uint8_t table = 0;
  FlowModCommand command = FlowModCommand::add;
  uint16_t idle_timeout = 0, hard_timeout = 0, priority = 0;
  uint32_t buffer_id = kNoBuffer, out_port = port::any, out_group = kGroupAny;
  uint16_t flags = 0;
  Match match;
  Instructions instructions;
};

struct FlowRemoved {
  uint64_t cookie = 0;
  uint16_t priority = 0;
  uint8_t reason = 0, table = 0;  // reason: 0 idle, 1 hard, 2 delete, 3 group, 4 meter
  uint32_t duration_sec = 0, duration_nsec = 0;
  uint16_t idle_timeout = 0, hard_timeout = 0;
  uint64_t packet_count = 0, byte_count = 0;
  Match match;
};

struct PacketIn {
  uint32_t buffer_id = kNoBuffer;
  uint16_t total_len = 0;
  uint8_t reason = 0, table = 0;  // reason: 0 no match, 1 action, 2 invalid TTL
  uint64_t cookie = 0;
  Match match;
  std::span<const std::byte> data;  // the frame (Ethernet), inside the decoded message
};

struct PacketOut {
  uint32_t buffer_id = kNoBuffer, in_port = port::controller;
  std::vector<Action> actions;
  std::span<const std::byte> data;
};

struct FeaturesReply {
  uint64_t datapath_id = 0;
  uint32_t n_buffers = 0, capabilities = 0;
  uint8_t n_tables = 0, auxiliary_id = 0;
};

// ofp_config_flags' fragment handling (OFPC_FRAG_MASK).
namespace frag {
inline constexpr uint16_t normal = 0;  // OFPC_FRAG_NORMAL: in OVS, ports of every fragment read as 0
// Open vSwitch's fourth value ("nx-match"): a first fragment's ports are
// matched like an unfragmented packet's, later fragments' read as 0. With
// `normal`, a query big enough to be fragmented would miss the query flows.
inline constexpr uint16_t nx_match = 3;
}  // namespace frag

struct SwitchConfig {
  uint16_t flags = frag::normal;
  uint16_t miss_send_len = kMaxLenNoBuffer;
};

struct Error {
  uint16_t type = 0, code = 0;
  std::span<const std::byte> data;  // usually the start of the offending request
};
std::string describe(const Error& e);  // "BAD_MATCH/BAD_PREREQ" or the numbers

struct FlowStatsRequest {
  uint8_t table = kTableAll;
  uint32_t out_port = port::any, out_group = kGroupAny;
  uint64_t cookie = 0, cookie_mask = 0;
  Match match;
};

struct FlowStats {
  uint8_t table = 0;
  uint32_t duration_sec = 0, duration_nsec = 0;
  uint16_t priority = 0, idle_timeout = 0, hard_timeout = 0, flags = 0;
  uint64_t cookie = 0, packet_count = 0, byte_count = 0;
  Match match;
  Instructions instructions;
};

inline constexpr uint16_t kMultipartFlow = 1;
inline constexpr uint16_t kMultipartReplyMore = 1;

struct MultipartReply {
  uint16_t type = 0, flags = 0;
  std::span<const std::byte> body;
};

enum class MeterModCommand : uint16_t { add = 0, modify = 1, remove = 2 };
namespace meter_flags {
inline constexpr uint16_t kbps = 1, pktps = 2, burst = 4, stats = 8;
}
struct MeterBand {
  uint32_t rate = 0, burst = 0;  // drop band: above `rate` (+ burst) packets are dropped
};
struct MeterMod {
  MeterModCommand command = MeterModCommand::add;
  uint16_t flags = meter_flags::pktps | meter_flags::burst | meter_flags::stats;
  uint32_t meter_id = 0;
  std::vector<MeterBand> bands;
};

struct AsyncConfig {  // [0] = master/equal role, [1] = slave role
  uint32_t packet_in_mask[2]{}, port_status_mask[2]{}, flow_removed_mask[2]{};
};

// Bundles (OpenFlow 1.4, offered to 1.3 switches as the ONF extension 230x
// that Open vSwitch implements): many flow-mods applied as one transaction.
// Installing 100k flows this way takes OVS about a second instead of
// minutes of one-version-per-flow-mod.
inline constexpr uint32_t kOnfExperimenter = 0x4f4e4600;  // "ONF\0"
inline constexpr uint32_t kOnfBundleControl = 2300, kOnfBundleAdd = 2301;
enum class BundleCtrlType : uint16_t {
  open_request = 0,
  open_reply = 1,
  close_request = 2,
  close_reply = 3,
  commit_request = 4,
  commit_reply = 5,
  discard_request = 6,
  discard_reply = 7,
};
namespace bundle_flags {
inline constexpr uint16_t atomic = 1, ordered = 2;
}
struct BundleCtrl {
  uint32_t bundle_id = 0;
  BundleCtrlType type = BundleCtrlType::open_request;
  uint16_t flags = bundle_flags::atomic | bundle_flags::ordered;
};

// ---------------------------------------------------------------- framing

struct Header {
  uint8_t version = 0;
  MsgType type = MsgType::hello;
  uint16_t length = 0;
  uint32_t xid = 0;
};
// Reads the 8-byte header. truncated if fewer bytes; bad_length if the length
// field is below 8 (a stream with such a header cannot be re-synchronised).
Status decode_header(std::span<const std::byte> buf, Header& out);

// ---------------------------------------------------------------- encoders
// Each appends exactly one message with the given xid to `out`.

using Buffer = std::vector<std::byte>;

// HELLO with a version bitmap element announcing OpenFlow 1.3 only.
void encode_hello(Buffer& out, uint32_t xid);
void encode_echo(Buffer& out, uint32_t xid, bool reply, std::span<const std::byte> data = {});
void encode_empty(Buffer& out, uint32_t xid, MsgType type);  // FEATURES/BARRIER requests, ...
void encode(Buffer& out, uint32_t xid, const SwitchConfig& m);  // SET_CONFIG
void encode(Buffer& out, uint32_t xid, const FlowMod& m);
void encode(Buffer& out, uint32_t xid, const PacketOut& m);
void encode(Buffer& out, uint32_t xid, const FlowStatsRequest& m);
void encode(Buffer& out, uint32_t xid, const MeterMod& m);
void encode(Buffer& out, uint32_t xid, const AsyncConfig& m);  // SET_ASYNC
void encode(Buffer& out, uint32_t xid, const Error& m);
void encode(Buffer& out, uint32_t xid, const BundleCtrl& m);
// One flow-mod added to bundle `bundle_id` (the inner message carries the
// same xid, as the switch requires).
void encode_bundle_add(Buffer& out, uint32_t xid, uint32_t bundle_id, uint16_t flags, const FlowMod& m);
// Replies the switch sends; encoded for tests and for a fake switch.
void encode(Buffer& out, uint32_t xid, const FeaturesReply& m);
void encode(Buffer& out, uint32_t xid, const PacketIn& m);
void encode(Buffer& out, uint32_t xid, const FlowRemoved& m);
void encode_flow_stats_reply(Buffer& out, uint32_t xid, std::span<const FlowStats> stats, bool more);

// ---------------------------------------------------------------- decoders
// `msg` is one whole message (header included, length field == size).

// Versions the peer announced: the bitmap when present, else its header version.
Status decode_hello(std::span<const std::byte> msg, uint32_t& version_bitmap);
Status decode(std::span<const std::byte> msg, FeaturesReply& out);
Status decode(std::span<const std::byte> msg, SwitchConfig& out);
Status decode(std::span<const std::byte> msg, Error& out);
Status decode(std::span<const std::byte> msg, PacketIn& out);
Status decode(std::span<const std::byte> msg, FlowRemoved& out);
Status decode(std::span<const std::byte> msg, FlowMod& out);
Status decode(std::span<const std::byte> msg, PacketOut& out);
Status decode(std::span<const std::byte> msg, MeterMod& out);
Status decode(std::span<const std::byte> msg, MultipartReply& out);
// An ONF bundle-control message (the switch's replies); bad_type for any
// other experimenter message.
Status decode(std::span<const std::byte> msg, BundleCtrl& out);
// The entries of a flow-stats multipart body (appended to `out`).
Status decode_flow_stats(std::span<const std::byte> body, std::vector<FlowStats>& out);

}  // namespace nsgate::of
