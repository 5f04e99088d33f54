// SPDX-License-Identifier: BSD-3-Clause
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

namespace nsgate {

// The octet as a DnsName stores it: ASCII capitals lower-cased (RFC 4343),
// everything else as it is.
inline uint8_t dns_lower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + 32) : c; }

// dns_lower on each of the eight octets of `x` at once.
inline uint64_t dns_lower8(uint64_t x) {
  constexpr uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  uint64_t low7 = x & ~highs;
  // Per octet, the high bit of: >= 'A', > 'Z' (both on the low 7 bits, so
  // no carry crosses octets), and not an octet >= 0x80.
  uint64_t upper = (low7 + (0x80 - 'A') * ones) & ~(low7 + (0x80 - 'Z' - 1) * ones) & ~x & highs;
  return x | upper >> 2;  // 0x80 >> 2 == 0x20, the case bit
}

// A domain name in uncompressed wire form, lower-cased (DNS names compare
// case-insensitively, RFC 4343), held inline: parsing never allocates.
// Invariant: the wire form is a valid sequence of labels ending in the root
// label, at most 255 octets.
class DnsName {
 public:
  static constexpr size_t kMaxWire = 255;
  static constexpr size_t kMaxLabel = 63;

  // The root name ".".
  DnsName() { wire_[0] = 0; }
  // Copies only the octets in use (see wire_).
  DnsName(const DnsName& o) noexcept : size_(o.size_), labels_(o.labels_) { copy_wire(o); }
  DnsName& operator=(const DnsName& o) noexcept {
    if (this == &o) return *this;  // memcpy must not copy onto itself
    size_ = o.size_;
    labels_ = o.labels_;
    copy_wire(o);
    return *this;
  }

  // Presentation form ("www.Example.com", trailing dot optional, "\DDD" and
  // "\c" escapes). Returns false on a malformed name.
  static bool from_text(std::string_view text, DnsName& out);

  // For the parser: appends one label (already bounds-checked by the caller's
  // limits); returns false if the name would exceed 255 octets.
  bool append_label(const uint8_t* data, size_t len);
  void clear() { size_ = 1; labels_ = 0; wire_[0] = 0; }

  size_t wire_size() const { return size_; }
  const uint8_t* wire() const { return wire_.data(); }
  int label_count() const { return labels_; }
  bool is_root() const { return labels_ == 0; }

  // True when this name equals `zone` or lies below it.
  bool is_at_or_below(const DnsName& zone) const;
  bool operator==(const DnsName& o) const;

  // Presentation form with trailing dot; non-printable octets escaped as \DDD.
  std::string to_string() const;
  // Appends the presentation form of a wire form (as wire() holds it:
  // labels, then the root octet) to `out`: what to_string() gives for that
  // name. Stops at a label that would run past the end.
  static void append_text(std::string& out, std::span<const uint8_t> wire);

 private:
  // The octets a copy takes at least: with the lengths, one cache line.
  static constexpr size_t kShortWire = 62;
  void copy_wire(const DnsName& o) {
    // Most names are short: one fixed-size copy (plain moves, no call),
    // the unused tail copied as it is.
    std::memcpy(wire_.data(), o.wire_.data(), o.size_ <= kShortWire ? kShortWire : size_t{o.size_});
  }

  // The lengths first, so that a short name is one cache line: the
  // learner's messages cross from the parsing thread to the learning one
  // (a whole 272-octet copy per name was most of what crossed).
  uint8_t size_ = 1;
  uint8_t labels_ = 0;
  // Only the first size_ octets are meaningful. Left uninitialised on
  // purpose: zeroing 255 octets for every parsed question was a tenth of a
  // forwarding worker's time (perf, tools/bench/forward).
  std::array<uint8_t, kMaxWire> wire_;
};

struct DnsNameHash {
  size_t operator()(const DnsName& n) const noexcept;
};

}  // namespace nsgate
