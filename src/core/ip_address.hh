// SPDX-License-Identifier: BSD-3-Clause
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace nsgate {

// An IPv4 or IPv6 address. IPv4 is held IPv4-mapped (::ffff:a.b.c.d) so that
// every address is one 16-byte key: the TTL table and the hash maps need no
// family switch. The family is derived from the prefix.
class IpAddress {
 public:
  IpAddress() = default;

  static IpAddress v4(std::span<const std::byte, 4> b);
  static IpAddress v4(uint32_t host_order);
  static IpAddress v6(std::span<const std::byte, 16> b);
  // Accepts dotted quad or RFC 4291 text; nullopt on anything else.
  static std::optional<IpAddress> parse(std::string_view text);

  bool is_v4() const;
  int family() const { return is_v4() ? 4 : 6; }
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  // Host-order IPv4 value; only meaningful when is_v4().
  uint32_t v4_value() const;
  std::string to_string() const;
  // Appends the same text as to_string() (bulk output without a temporary).
  void append_to(std::string& out) const;

  auto operator<=>(const IpAddress&) const = default;
  // Two word compares: the defaulted one called memcmp, and every key
  // compare of the learner's maps goes through here (7% of `nsgate learn`).
  bool operator==(const IpAddress& o) const {
    uint64_t a[2], b[2];
    std::memcpy(a, bytes_.data(), 16);
    std::memcpy(b, o.bytes_.data(), 16);
    return ((a[0] ^ b[0]) | (a[1] ^ b[1])) == 0;
  }

 private:
  std::array<uint8_t, 16> bytes_{};
};

// A CIDR prefix. The address is stored with host bits cleared.
struct Prefix {
  IpAddress address;
  // In the address's own family: 0..32 for IPv4, 0..128 for IPv6.
  int length = 0;

  // Accepts "a.b.c.d", "a.b.c.d/n", "x::y" and "x::y/n". Host bits set below
  // the prefix length are an error (the operator probably mistyped).
  static std::optional<Prefix> parse(std::string_view text, std::string* why = nullptr);
  bool contains(const IpAddress& a) const;
  bool overlaps(const Prefix& other) const;
  std::string to_string() const;
};

// Whether any of `prefixes` contains `a`.
bool in_any(const std::vector<Prefix>& prefixes, const IpAddress& a);

// Why an address may not be learned as a name server (DESIGN §2 rule 4).
enum class AddressClass : uint8_t {
  usable,
  unspecified,  // 0.0.0.0/8, ::
  loopback,     // 127/8, ::1
  multicast,    // 224/4, ff00::/8
  link_local,   // 169.254/16, fe80::/10
  reserved,     // 240/4 incl. broadcast, v4-mapped/compat in AAAA
  private_use,  // 10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7
};
AddressClass classify(const IpAddress& a);
const char* to_string(AddressClass c);

struct IpAddressHash {
  size_t operator()(const IpAddress& a) const noexcept;
};

}  // namespace nsgate
