// SPDX-License-Identifier: BSD-3-Clause
#include "core/ip_address.hh"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace nsgate {

namespace {
constexpr std::array<uint8_t, 12> kMappedPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool prefix_match(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, int bits) {
  int full = bits / 8;
  if (std::memcmp(a.data(), b.data(), static_cast<size_t>(full)) != 0) return false;
  int rest = bits % 8;
  if (rest == 0) return true;
  auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[static_cast<size_t>(full)] & mask) == (b[static_cast<size_t>(full)] & mask);
}
}  // namespace

IpAddress IpAddress::v4(std::span<const std::byte, 4> b) {
  IpAddress a;
  std::memcpy(a.bytes_.data(), kMappedPrefix.data(), kMappedPrefix.size());
  std::memcpy(a.bytes_.data() + 12, b.data(), 4);
  return a;
}

IpAddress IpAddress::v4(uint32_t host_order) {
  std::array<std::byte, 4> b{std::byte(host_order >> 24), std::byte(host_order >> 16),
                             std::byte(host_order >> 8), std::byte(host_order)};
  return v4(std::span<const std::byte, 4>(b));
}

IpAddress IpAddress::v6(std::span<const std::byte, 16> b) {
  IpAddress a;
  std::memcpy(a.bytes_.data(), b.data(), 16);
  return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() > 63) return std::nullopt;
  char buf[64];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  std::array<std::byte, 16> raw{};
  if (inet_pton(AF_INET, buf, raw.data()) == 1)
    return v4(std::span<const std::byte, 4>(raw.data(), 4));
  if (inet_pton(AF_INET6, buf, raw.data()) == 1) return v6(std::span<const std::byte, 16>(raw));
  return std::nullopt;
}

bool IpAddress::is_v4() const {
  return std::memcmp(bytes_.data(), kMappedPrefix.data(), kMappedPrefix.size()) == 0;
}

uint32_t IpAddress::v4_value() const {
  return uint32_t{bytes_[12]} << 24 | uint32_t{bytes_[13]} << 16 | uint32_t{bytes_[14]} << 8 |
         uint32_t{bytes_[15]};
}

std::string IpAddress::to_string() const {
  std::string out;
  append_to(out);
  return out;
}

void IpAddress::append_to(std::string& out) const {
  if (is_v4()) {
    // Dotted quad by hand (glibc's inet_ntop formats IPv4 with sprintf),
    // into a buffer appended once.
    char buf[16];
    size_t n = 0;
    for (int i = 12; i < 16; ++i) {
      unsigned v = bytes_[i];
      if (v >= 100) buf[n++] = static_cast<char>('0' + v / 100);
      if (v >= 10) buf[n++] = static_cast<char>('0' + v / 10 % 10);
      buf[n++] = static_cast<char>('0' + v % 10);
      if (i < 15) buf[n++] = '.';
    }
    out.append(buf, n);
    return;
  }
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, bytes_.data(), buf, sizeof buf);
  out += buf;
}

std::optional<Prefix> Prefix::parse(std::string_view text, std::string* why) {
  auto fail = [&](const char* reason) -> std::optional<Prefix> {
    if (why) *why = reason;
    return std::nullopt;
  };
  auto slash = text.find('/');
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return fail("is not an IPv4 or IPv6 address");
  int max = addr->is_v4() ? 32 : 128;
  int len = max;
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return fail("is not a prefix");
    len = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return fail("is not a prefix");
      len = len * 10 + (c - '0');
    }
    if (len > max) return fail("is not a prefix (length out of range)");
  }
  Prefix p{*addr, len};
  int bits = addr->is_v4() ? 96 + len : len;
  auto bytes = addr->bytes();
  for (int i = bits; i < 128; ++i) {
    if (bytes[static_cast<size_t>(i / 8)] & (0x80 >> (i % 8))) return fail("has host bits set");
  }
  return p;
}

bool in_any(const std::vector<Prefix>& prefixes, const IpAddress& a) {
  return std::any_of(prefixes.begin(), prefixes.end(), [&](const Prefix& p) { return p.contains(a); });
}

bool Prefix::contains(const IpAddress& a) const {
  if (a.is_v4() != address.is_v4()) return false;
  return prefix_match(address.bytes(), a.bytes(), address.is_v4() ? 96 + length : length);
}

bool Prefix::overlaps(const Prefix& other) const {
  return contains(other.address) || other.contains(address);
}

std::string Prefix::to_string() const {
  return address.to_string() + "/" + std::to_string(length);
}

AddressClass classify(const IpAddress& a) {
  const auto& b = a.bytes();
  if (a.is_v4()) {
    uint32_t v = a.v4_value();
    auto in = [v](uint32_t net, int len) { return len == 0 || (v >> (32 - len)) == (net >> (32 - len)); };
    if (in(0x00000000, 8)) return AddressClass::unspecified;
    if (in(0x7f000000, 8)) return AddressClass::loopback;
    if (in(0xe0000000, 4)) return AddressClass::multicast;
    if (in(0xf0000000, 4)) return AddressClass::reserved;
    if (in(0xa9fe0000, 16)) return AddressClass::link_local;
    if (in(0x0a000000, 8) || in(0xac100000, 12) || in(0xc0a80000, 16) || in(0x64400000, 10))
      return AddressClass::private_use;
    return AddressClass::usable;
  }
  static const std::array<uint8_t, 16> zero{};
  if (b == zero) return AddressClass::unspecified;
  std::array<uint8_t, 16> one{};
  one[15] = 1;
  if (b == one) return AddressClass::loopback;
  if (b[0] == 0xff) return AddressClass::multicast;
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return AddressClass::link_local;
  if ((b[0] & 0xfe) == 0xfc) return AddressClass::private_use;
  // ::/96 (IPv4-compatible, deprecated) never names a real server.
  if (prefix_match(b, zero, 96)) return AddressClass::reserved;
  return AddressClass::usable;
}

const char* to_string(AddressClass c) {
  switch (c) {
    case AddressClass::usable: return "usable";
    case AddressClass::unspecified: return "unspecified";
    case AddressClass::loopback: return "loopback";
    case AddressClass::multicast: return "multicast";
    case AddressClass::link_local: return "link_local";
    case AddressClass::reserved: return "reserved";
    case AddressClass::private_use: return "private";
  }
  return "?";
}

size_t IpAddressHash::operator()(const IpAddress& a) const noexcept {
  // Two 64-bit words, each multiplied and folded: a byte-wise FNV loop was
  // 4% of `nsgate learn`. Maps exposed to chosen addresses (FlatMap) mix in
  // a per-map seed on top.
  uint64_t hi, lo;
  std::memcpy(&hi, a.bytes().data(), 8);
  std::memcpy(&lo, a.bytes().data() + 8, 8);
  uint64_t h = (hi ^ 0x9e3779b97f4a7c15ull) * 0xff51afd7ed558ccdull;
  h = (h ^ (h >> 32) ^ lo) * 0xc4ceb9fe1a85ec53ull;
  return static_cast<size_t>(h ^ (h >> 29));
}

}  // namespace nsgate
