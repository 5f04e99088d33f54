// SPDX-License-Identifier: BSD-3-Clause
#include "core/snapshot.hh"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace nsgate::snapshot {

namespace {

constexpr char kMagic[8] = {'N', 'S', 'G', 'A', 'T', 'E', '\0', 'S'};
constexpr size_t kHeaderSize = 40;
// Longest text field written; names never come near it (see Writer::str).
constexpr size_t kMaxText = 4096;

class Writer {
 public:
  explicit Writer(std::vector<std::byte>& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(std::byte{v}); }
  void u16(uint16_t v) { u8(static_cast<uint8_t>(v >> 8)), u8(static_cast<uint8_t>(v)); }
  void u32(uint32_t v) { u16(static_cast<uint16_t>(v >> 16)), u16(static_cast<uint16_t>(v)); }
  void u64(uint64_t v) { u32(static_cast<uint32_t>(v >> 32)), u32(static_cast<uint32_t>(v)); }
  // Strings and addresses go in whole (a snapshot of 1 M entries is
  // about 100 MB; byte by byte was a fifth of writing one). A name in
  // presentation form is at most 4 * 255 characters (every octet \DDD).
  void str(const std::string& s) {
    size_t n = std::min<size_t>(s.size(), kMaxText);
    u16(static_cast<uint16_t>(n));
    const auto* b = reinterpret_cast<const std::byte*>(s.data());
    out_.insert(out_.end(), b, b + n);
  }
  void addr(const IpAddress& a) {
    const auto* b = reinterpret_cast<const std::byte*>(a.bytes().data());
    out_.insert(out_.end(), b, b + 16);
  }

 private:
  std::vector<std::byte>& out_;
};

// Bounds-checked reader: once anything runs past the end, ok() stays false
// and every read returns zero.
class Reader {
 public:
  // `version` 1 files have 1-byte string lengths (names cut at 255
  // characters), later ones 2 bytes.
  explicit Reader(std::span<const std::byte> in, uint32_t version = kVersion) : in_(in), version_(version) {}
  bool ok() const { return ok_; }
  size_t left() const { return in_.size() - at_; }
  uint8_t u8() {
    if (at_ >= in_.size()) {
      ok_ = false;
      return 0;
    }
    return std::to_integer<uint8_t>(in_[at_++]);
  }
  uint16_t u16() { return static_cast<uint16_t>(u8() << 8 | u8()); }
  uint32_t u32() { return uint32_t{u16()} << 16 | u16(); }
  uint64_t u64() { return uint64_t{u32()} << 32 | u32(); }
  std::string str() {
    size_t n = version_ == 1 ? u8() : u16();
    if (!ok_ || n > left()) {
      ok_ = false;
      return {};
    }
    std::string s(reinterpret_cast<const char*>(in_.data() + at_), n);
    at_ += n;
    return s;
  }
  IpAddress addr() {
    if (!ok_ || left() < 16) {
      ok_ = false;
      return {};
    }
    IpAddress a = IpAddress::v6(std::span<const std::byte, 16>(in_.data() + at_, 16));
    at_ += 16;
    return a;
  }

 private:
  std::span<const std::byte> in_;
  uint32_t version_;
  size_t at_ = 0;
  bool ok_ = true;
};

void encode_entry(Writer& w, const Provenance& p) {
  w.addr(p.address);
  w.u8(static_cast<uint8_t>(p.kind));
  w.str(p.zone);
  w.str(p.ns);
  w.u32(p.ns_ttl);
  w.u32(p.addr_ttl);
  w.u64(static_cast<uint64_t>(p.expires));
  w.u64(static_cast<uint64_t>(p.query_time));
  w.u16(p.query_id);
  w.str(p.query_name);
  w.u64(static_cast<uint64_t>(p.response_time));
  w.addr(p.server);
}

bool decode_entry(Reader& r, Provenance& p) {
  p.address = r.addr();
  uint8_t kind = r.u8();
  if (kind < 1 || kind > 3) return false;
  p.kind = static_cast<EntryKind>(kind);
  p.zone = r.str();
  p.ns = r.str();
  p.ns_ttl = r.u32();
  p.addr_ttl = r.u32();
  p.expires = static_cast<TimeNs>(r.u64());
  p.query_time = static_cast<TimeNs>(r.u64());
  p.query_id = r.u16();
  p.query_name = r.str();
  p.response_time = static_cast<TimeNs>(r.u64());
  p.server = r.addr();
  return r.ok();
}

}  // namespace

uint32_t crc32(std::span<const std::byte> data) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xffffffffu;
  for (std::byte b : data) c = table[(c ^ std::to_integer<uint32_t>(b)) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

std::vector<std::byte> encode(const Contents& c) {
  // Sized first and written in place: growing a 100 MB buffer by doubling,
  // then copying the body behind the header, was a third of saving 1 M
  // entries (perf on `nsgate run` stopping).
  auto str_size = [](const std::string& s) { return 2 + std::min<size_t>(s.size(), kMaxText); };
  size_t total = kHeaderSize;
  for (const Provenance& p : c.entries)
    total += 2 + 16 + 1 + str_size(p.zone) + str_size(p.ns) + 4 + 4 + 8 + 8 + 2 + str_size(p.query_name) + 8 + 16;
  std::vector<std::byte> out;
  out.reserve(total);
  out.resize(kHeaderSize);  // filled in below, once the body's checksum is known
  Writer bw(out);
  for (const Provenance& p : c.entries) {
    size_t at = out.size();
    bw.u16(0);  // the record's length, patched below
    encode_entry(bw, p);
    size_t len = out.size() - at - 2;
    out[at] = std::byte{static_cast<uint8_t>(len >> 8)};
    out[at + 1] = std::byte{static_cast<uint8_t>(len)};
  }
  std::span<const std::byte> body(out.data() + kHeaderSize, out.size() - kHeaderSize);
  std::vector<std::byte> header;
  Writer w(header);
  for (char ch : kMagic) w.u8(static_cast<uint8_t>(ch));
  w.u32(kVersion);
  w.u32(static_cast<uint32_t>(c.entries.size()));
  w.u64(static_cast<uint64_t>(c.taken_at));
  w.u64(body.size());
  w.u32(crc32(body));
  w.u32(crc32(header));
  std::copy(header.begin(), header.end(), out.begin());
  return out;
}

bool decode(std::span<const std::byte> file, Contents& out, std::string& error) {
  out = Contents{};
  if (file.size() < kHeaderSize) {
    error = "truncated: " + std::to_string(file.size()) + " bytes, shorter than the 40-byte header";
    return false;
  }
  if (std::memcmp(file.data(), kMagic, sizeof kMagic) != 0) {
    error = "not an nsgate snapshot (bad magic)";
    return false;
  }
  Reader h(file.subspan(8, kHeaderSize - 8));
  uint32_t version = h.u32();
  uint32_t count = h.u32();
  auto taken_at = static_cast<TimeNs>(h.u64());
  uint64_t body_len = h.u64();
  uint32_t body_crc = h.u32();
  uint32_t header_crc = h.u32();
  if (header_crc != crc32(file.first(36))) {
    error = "corrupt header (checksum mismatch)";
    return false;
  }
  if (version < 1 || version > kVersion) {
    error = "unsupported version " + std::to_string(version) + " (this nsgate reads versions 1 to " +
            std::to_string(kVersion) + ")";
    return false;
  }
  if (file.size() - kHeaderSize != body_len) {
    error = (file.size() - kHeaderSize < body_len ? "truncated: body has " : "trailing data: body has ") +
            std::to_string(file.size() - kHeaderSize) + " bytes, header says " + std::to_string(body_len);
    return false;
  }
  auto body = file.subspan(kHeaderSize);
  if (crc32(body) != body_crc) {
    error = "corrupt body (checksum mismatch)";
    return false;
  }
  Reader r(body);
  Contents c;
  c.taken_at = taken_at;
  c.entries.reserve(std::min<size_t>(count, body.size() / 40 + 1));
  for (uint32_t i = 0; i < count; ++i) {
    size_t len = r.u16();
    if (!r.ok() || len > r.left()) {
      error = "entry " + std::to_string(i) + " runs past the end of the body";
      return false;
    }
    Reader er(body.subspan(body.size() - r.left(), len), version);
    for (size_t k = 0; k < len; ++k) r.u8();
    Provenance p;
    if (!decode_entry(er, p) || er.left() != 0) {
      error = "entry " + std::to_string(i) + " is malformed";
      return false;
    }
    c.entries.push_back(std::move(p));
  }
  if (r.left() != 0) {
    error = "body has " + std::to_string(r.left()) + " bytes after the last entry";
    return false;
  }
  out = std::move(c);
  return true;
}

std::vector<std::string> remove_stale_temps(const std::string& path, TimeNs older_than) {
  namespace fs = std::filesystem;
  std::vector<std::string> removed;
  fs::path target(path);
  fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::string prefix = target.filename().string() + ".tmp.";
  std::error_code ec;
  auto cutoff = fs::file_time_type::clock::now() - std::chrono::nanoseconds(older_than);
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    // Exactly what mkostemp makes of PATH.tmp.XXXXXX, and a plain file.
    if (name.size() != prefix.size() + 6 || name.compare(0, prefix.size(), prefix) != 0) continue;
    if (!e.is_regular_file(ec) || e.is_symlink(ec)) continue;
    auto changed = fs::last_write_time(e.path(), ec);
    if (ec || changed > cutoff) continue;
    if (fs::remove(e.path(), ec)) removed.push_back(e.path().string());
  }
  return removed;
}

bool write_file(const std::string& path, const Contents& c, std::string& error) {
  std::vector<std::byte> bytes = encode(c);
  // A new file of its own beside the target: two writers of one path (a
  // running nsgate and a learn) never share it, and a link placed where a
  // fixed name would be is never followed.
  std::string tmp = path + ".tmp.XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) {
    error = "cannot create " + tmp + ": " + std::strerror(errno);
    return false;
  }
  // The mode of the file it replaces, which the operator may have set; a
  // new one stays 0600 (mkostemp's): it holds the names clients asked.
  struct stat old {};
  if (::stat(path.c_str(), &old) == 0) ::fchmod(fd, old.st_mode & 07777);
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = "cannot write " + tmp + ": " + std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return false;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    error = "cannot flush " + tmp + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    error = "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

bool read_file(const std::string& path, Contents& out, std::string& error) {
  // A folder opens, and its "size" is nonsense: refused by name.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    error = path + " is a folder, not a snapshot file";
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open " + path + ": " + std::strerror(errno);
    return false;
  }
  // Sized first and read in one call: a character iterator took a tenth
  // of loading a 1 M-entry snapshot.
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  std::vector<char> raw(size > 0 ? static_cast<size_t>(size) : 0);
  if (size < 0 || !in.read(raw.data(), static_cast<std::streamsize>(raw.size()))) {
    error = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(raw.data()), raw.size());
  if (!decode(bytes, out, error)) {
    error = path + ": " + error;
    return false;
  }
  return true;
}

void shift_clock(Provenance& p, TimeNs delta) {
  for (TimeNs* t : {&p.expires, &p.query_time, &p.response_time})
    if (*t != 0 && *t != kNeverExpires) *t += delta;
}

}  // namespace nsgate::snapshot
