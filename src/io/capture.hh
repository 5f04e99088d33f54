// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// Capture files through libpcap: pcap and pcapng, read with nanosecond
// timestamps; "-" reads standard input.

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/time.hh"

struct pcap;
struct pcap_dumper;

namespace nsgate::io {

struct Frame {
  TimeNs time = 0;
  std::span<const std::byte> data;  // valid until the next call to next()
  uint32_t wire_length = 0;         // length on the wire (may exceed data.size())
};

class CaptureReader {
 public:
  // Null with `error` set ("FILE: reason") when the file cannot be opened.
  static std::unique_ptr<CaptureReader> open(const std::string& path, std::string& error);
  // A live, non-blocking capture on a network interface (a mirror port),
  // with a BPF `filter`. next() returns false when nothing is waiting
  // (error() stays empty); selectable_fd() can be polled for more.
  static std::unique_ptr<CaptureReader> live(const std::string& iface, const std::string& filter,
                                             std::string& error);
  int selectable_fd() const;
  // A new BPF filter for a live capture (a reload); false with `error` set
  // (the old filter stays) when it does not compile or cannot be set.
  bool set_filter(const std::string& filter, std::string& error);
  ~CaptureReader();
  CaptureReader(const CaptureReader&) = delete;
  CaptureReader& operator=(const CaptureReader&) = delete;

  // False at the end of the file or on a read error (then error() says which
  // frame and why).
  bool next(Frame& f);
  uint32_t linktype() const { return linktype_; }
  const std::string& error() const { return error_; }
  const std::string& path() const { return path_; }
  uint64_t frames() const { return frames_; }

 private:
  CaptureReader(pcap* p, std::string path);
  pcap* pcap_;
  std::string path_;
  std::string error_;
  uint32_t linktype_ = 0;
  uint64_t frames_ = 0;
  bool live_ = false;
};

class CaptureWriter {
 public:
  static std::unique_ptr<CaptureWriter> open(const std::string& path, uint32_t linktype,
                                             std::string& error);
  ~CaptureWriter();
  CaptureWriter(const CaptureWriter&) = delete;
  CaptureWriter& operator=(const CaptureWriter&) = delete;
  void write(TimeNs time, std::span<const std::byte> data);
  bool flush();

 private:
  CaptureWriter(pcap* dead, pcap_dumper* d) : dead_(dead), dumper_(d) {}
  pcap* dead_;
  pcap_dumper* dumper_;
};

}  // namespace nsgate::io
