// SPDX-License-Identifier: BSD-3-Clause
#include "io/capture.hh"

#include <pcap/pcap.h>

#include <cstdio>

namespace nsgate::io {

std::unique_ptr<CaptureReader> CaptureReader::open(const std::string& path, std::string& error) {
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = nullptr;
  if (path == "-")
    p = pcap_fopen_offline_with_tstamp_precision(stdin, PCAP_TSTAMP_PRECISION_NANO, err);
  else
    p = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
  if (!p) {
    // libpcap names the file in some messages but not in others.
    std::string why = err;
    error = why.rfind(path, 0) == 0 ? why : path + ": " + why;
    return nullptr;
  }
  return std::unique_ptr<CaptureReader>(new CaptureReader(p, path));
}

std::unique_ptr<CaptureReader> CaptureReader::live(const std::string& iface, const std::string& filter,
                                                   std::string& error) {
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_create(iface.c_str(), err);
  if (!p) {
    error = iface + ": " + err;
    return nullptr;
  }
  pcap_set_snaplen(p, 65535);
  pcap_set_promisc(p, 1);
  pcap_set_immediate_mode(p, 1);  // a referral must not wait for a buffer to fill
  pcap_set_buffer_size(p, 8 << 20);
  pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);  // best effort
  int rc = pcap_activate(p);
  bpf_program prog{};
  if (rc < 0 || pcap_setnonblock(p, 1, err) != 0 ||
      pcap_compile(p, &prog, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0 || pcap_setfilter(p, &prog) != 0) {
    error = "cannot capture on " + iface + ": " + (rc < 0 ? pcap_statustostr(rc) : "") + " " + pcap_geterr(p);
    pcap_freecode(&prog);
    pcap_close(p);
    return nullptr;
  }
  pcap_freecode(&prog);
  auto r = std::unique_ptr<CaptureReader>(new CaptureReader(p, iface));
  r->live_ = true;
  return r;
}

int CaptureReader::selectable_fd() const { return pcap_get_selectable_fd(pcap_); }

bool CaptureReader::set_filter(const std::string& filter, std::string& error) {
  bpf_program prog{};
  if (pcap_compile(pcap_, &prog, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
    error = path_ + ": filter \"" + filter + "\": " + pcap_geterr(pcap_);
    return false;
  }
  bool ok = pcap_setfilter(pcap_, &prog) == 0;
  if (!ok) error = path_ + ": filter \"" + filter + "\": " + pcap_geterr(pcap_);
  pcap_freecode(&prog);
  return ok;
}

CaptureReader::CaptureReader(pcap* p, std::string path)
    : pcap_(p), path_(std::move(path)), linktype_(static_cast<uint32_t>(pcap_datalink(p))) {}

CaptureReader::~CaptureReader() { pcap_close(pcap_); }

namespace {
constexpr int64_t kMaxSeconds = 9'200'000'000;  // under INT64_MAX ns, with room for the fraction
}  // namespace

bool CaptureReader::next(Frame& f) {
  pcap_pkthdr* hdr = nullptr;
  const u_char* data = nullptr;
  int rc = pcap_next_ex(pcap_, &hdr, &data);
  if (rc == PCAP_ERROR_BREAK) return false;  // end of file
  if (rc == 0 && live_) return false;       // nothing waiting
  if (rc != 1) {
    error_ = path_ + ": frame " + std::to_string(frames_ + 1) + ": " + pcap_geterr(pcap_);
    return false;
  }
  ++frames_;
  linktype_ = static_cast<uint32_t>(pcap_datalink(pcap_));
  // Classic pcap keeps seconds in 32 unsigned bits (to 2106), which
  // libpcap sign-extends: from 2038 they arrive negative.
  int64_t seconds = hdr->ts.tv_sec;
  if (seconds < 0 && seconds >= INT32_MIN) seconds += int64_t{1} << 32;
  // Nanoseconds in 64 bits reach the year 2261: a time beyond is a corrupt
  // frame header, not a time to learn with.
  if (seconds < 0 || seconds >= kMaxSeconds) {
    error_ = path_ + ": frame " + std::to_string(frames_) + ": its time stamp (" + std::to_string(hdr->ts.tv_sec) +
             " s) is outside 1970-2261";
    return false;
  }
  // tv_usec holds ns here (or µs on a live capture that refused nanoseconds)
  f.time = TimeNs{seconds} * kNsPerSec +
           (pcap_get_tstamp_precision(pcap_) == PCAP_TSTAMP_PRECISION_NANO ? hdr->ts.tv_usec : hdr->ts.tv_usec * 1000);
  f.data = std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), hdr->caplen);
  f.wire_length = hdr->len;
  return true;
}

std::unique_ptr<CaptureWriter> CaptureWriter::open(const std::string& path, uint32_t linktype,
                                                   std::string& error) {
  pcap_t* dead = pcap_open_dead_with_tstamp_precision(static_cast<int>(linktype), 65535,
                                                       PCAP_TSTAMP_PRECISION_NANO);
  if (!dead) {
    error = path + ": cannot create a capture handle";
    return nullptr;
  }
  pcap_dumper_t* d = pcap_dump_open(dead, path.c_str());
  if (!d) {
    error = path + ": " + pcap_geterr(dead);
    pcap_close(dead);
    return nullptr;
  }
  return std::unique_ptr<CaptureWriter>(new CaptureWriter(dead, d));
}

CaptureWriter::~CaptureWriter() {
  pcap_dump_close(dumper_);
  pcap_close(dead_);
}

void CaptureWriter::write(TimeNs time, std::span<const std::byte> data) {
  pcap_pkthdr hdr{};
  hdr.ts.tv_sec = static_cast<time_t>(time / kNsPerSec);
  hdr.ts.tv_usec = static_cast<suseconds_t>(time % kNsPerSec);  // ns precision handle
  hdr.caplen = static_cast<bpf_u_int32>(data.size());
  hdr.len = hdr.caplen;
  pcap_dump(reinterpret_cast<u_char*>(dumper_), &hdr, reinterpret_cast<const u_char*>(data.data()));
}

bool CaptureWriter::flush() { return pcap_dump_flush(dumper_) == 0; }

}  // namespace nsgate::io
