// SPDX-License-Identifier: BSD-3-Clause
#include "core/dns_name.hh"

#include <cstring>

namespace nsgate {

bool DnsName::append_label(const uint8_t* data, size_t len) {
  if (len == 0 || len > kMaxLabel) return false;
  // size_ counts the terminating root octet; the new label adds 1 + len.
  if (size_ + 1 + len > kMaxWire) return false;
  size_t at = size_ - 1;
  wire_[at] = static_cast<uint8_t>(len);
  for (size_t i = 0; i < len; ++i) wire_[at + 1 + i] = dns_lower(data[i]);
  size_ = static_cast<uint8_t>(size_ + 1 + len);
  wire_[size_ - 1] = 0;
  ++labels_;
  return true;
}

bool DnsName::from_text(std::string_view text, DnsName& out) {
  out.clear();
  if (text == ".") return true;
  if (text.empty()) return false;
  uint8_t label[kMaxLabel + 1];
  size_t n = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.') {
      if (n == 0) return false;
      if (!out.append_label(label, n)) return false;
      n = 0;
      continue;
    }
    uint8_t v = static_cast<uint8_t>(c);
    if (c == '\\') {
      if (i + 1 >= text.size()) return false;
      if (text[i + 1] >= '0' && text[i + 1] <= '9') {
        if (i + 3 >= text.size()) return false;
        int d = 0;
        for (size_t k = 1; k <= 3; ++k) {
          char x = text[i + k];
          if (x < '0' || x > '9') return false;
          d = d * 10 + (x - '0');
        }
        if (d > 255) return false;
        v = static_cast<uint8_t>(d);
        i += 3;
      } else {
        v = static_cast<uint8_t>(text[++i]);
      }
    }
    if (n >= kMaxLabel) return false;
    label[n++] = v;
  }
  if (n > 0 && !out.append_label(label, n)) return false;
  return true;
}

bool DnsName::operator==(const DnsName& o) const {
  return size_ == o.size_ && std::memcmp(wire_.data(), o.wire_.data(), size_) == 0;
}

bool DnsName::is_at_or_below(const DnsName& zone) const {
  if (zone.labels_ > labels_) return false;
  // Skip the labels this name has in excess, then the rest must be identical.
  size_t at = 0;
  for (int skip = labels_ - zone.labels_; skip > 0; --skip) at += 1 + wire_[at];
  return size_ - at == zone.size_ && std::memcmp(wire_.data() + at, zone.wire_.data(), zone.size_) == 0;
}

std::string DnsName::to_string() const {
  std::string s;
  s.reserve(size_);
  append_text(s, {wire_.data(), size_});
  return s;
}

void DnsName::append_text(std::string& out, std::span<const uint8_t> wire) {
  if (wire.empty() || wire[0] == 0) {
    out += '.';
    return;
  }
  // Plain runs appended whole: names are printed for every history row,
  // and a character at a time was most of building them (tools/bench/learn).
  for (size_t at = 0; at < wire.size() && wire[at] != 0; at += 1 + wire[at]) {
    size_t len = wire[at];
    if (at + 1 + len > wire.size()) return;
    const char* label = reinterpret_cast<const char*>(wire.data() + at + 1);
    size_t run = 0;
    for (size_t i = 0; i < len; ++i) {
      auto c = static_cast<uint8_t>(label[i]);
      bool plain = c >= 0x21 && c <= 0x7e && c != '.' && c != '\\';
      if (plain) continue;
      out.append(label + run, i - run);
      run = i + 1;
      if (c == '.' || c == '\\') {
        out += '\\';
        out += static_cast<char>(c);
      } else {
        char esc[4] = {'\\', static_cast<char>('0' + c / 100), static_cast<char>('0' + (c / 10) % 10),
                       static_cast<char>('0' + c % 10)};
        out.append(esc, 4);
      }
    }
    out.append(label + run, len - run);
    out += '.';
  }
}

size_t DnsNameHash::operator()(const DnsName& n) const noexcept {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n.wire_size(); ++i) h = (h ^ n.wire()[i]) * 1099511628211ull;
  return static_cast<size_t>(h);
}

}  // namespace nsgate
