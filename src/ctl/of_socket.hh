// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// Sockets for the OpenFlow channel: a listener OVS connects to
// ("tcp:ADDR:PORT", from `ovs-vsctl set-controller BR tcp:ADDR:PORT`), an
// active connection to a bridge's own listener ("tcp:HOST:PORT" for
// `set-controller BR ptcp:PORT`, "unix:PATH" for BR.mgmt), and a framed,
// non-blocking message stream over either.
//
// Threading: one thread owns each object. Errors are returned as text for
// the caller to log; nothing here exits or throws.

#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include "core/openflow.hh"

namespace nsgate::ctl {

class OfListener {
 public:
  // Binds and listens on "tcp:ADDR:PORT" (port 0 = any; see port()).
  static std::unique_ptr<OfListener> open(const std::string& spec, std::string& error);
  ~OfListener();
  int fd() const { return fd_; }
  int port() const { return port_; }
  // A connected non-blocking socket, or -1 when none is waiting.
  int accept();

 private:
  int fd_ = -1;
  int port_ = 0;
};

// Connects to "tcp:HOST:PORT" or "unix:PATH" (blocking, bounded by the
// kernel's connect timeout; local peers answer at once). -1 and `error` on failure.
int connect_to(const std::string& spec, std::string& error);

class OfStream {
 public:
  explicit OfStream(int fd);  // takes ownership; made non-blocking
  ~OfStream();
  OfStream(const OfStream&) = delete;
  OfStream& operator=(const OfStream&) = delete;

  int fd() const { return fd_; }
  // Reads what the socket has. False when the peer closed or failed (why in `error`).
  bool receive(std::string& error);
  // The next whole message, valid until the next receive(); false when none
  // is complete. A length field below 8 cannot be re-synchronised: `error`
  // is set and the stream must be closed.
  bool next(std::span<const std::byte>& msg, std::string& error);
  // Messages to send; flush() writes as much as the socket takes.
  of::Buffer& out() { return out_; }
  bool flush(std::string& error);
  bool pending() const { return sent_ < out_.size(); }
  size_t backlog() const { return out_.size() - sent_; }

 private:
  int fd_;
  std::vector<std::byte> in_;
  size_t read_at_ = 0;
  of::Buffer out_;
  size_t sent_ = 0;
};

}  // namespace nsgate::ctl
