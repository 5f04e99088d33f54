// SPDX-License-Identifier: BSD-3-Clause
#include "ctl/of_socket.hh"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace nsgate::ctl {

namespace {

constexpr size_t kReadChunk = 256 * 1024;

bool split_host_port(const std::string& spec, std::string& host, std::string& port) {
  if (spec.rfind("tcp:", 0) != 0) return false;
  std::string rest = spec.substr(4);
  auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size()) return false;
  host = rest.substr(0, colon);
  port = rest.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return true;
}

void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // fails harmlessly on unix sockets
}

}  // namespace

std::unique_ptr<OfListener> OfListener::open(const std::string& spec, std::string& error) {
  std::string host, port;
  if (!split_host_port(spec, host, port)) {
    error = "'" + spec + "' is not tcp:ADDRESS:PORT";
    return nullptr;
  }
  addrinfo hints{}, *res = nullptr;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    error = "cannot listen on " + spec + ": " + gai_strerror(rc);
    return nullptr;
  }
  auto l = std::unique_ptr<OfListener>(new OfListener);
  l->fd_ = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (l->fd_ >= 0) setsockopt(l->fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (l->fd_ < 0 || bind(l->fd_, res->ai_addr, res->ai_addrlen) != 0 || listen(l->fd_, 4) != 0) {
    error = "cannot listen on " + spec + ": " + std::strerror(errno) +
            (errno == EADDRINUSE ? " (another controller or nsgate ofshim runs there?)" : "");
    freeaddrinfo(res);
    return nullptr;
  }
  freeaddrinfo(res);
  set_nonblocking(l->fd_);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(l->fd_, reinterpret_cast<sockaddr*>(&ss), &len);
  l->port_ = ntohs(ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                           : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return l;
}

OfListener::~OfListener() {
  if (fd_ >= 0) close(fd_);
}

int OfListener::accept() {
  int fd = accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd >= 0) set_nodelay(fd);
  return fd;
}

int connect_to(const std::string& spec, std::string& error) {
  if (spec.rfind("unix:", 0) == 0) {
    std::string path = spec.substr(5);
    sockaddr_un sa{};
    if (path.empty() || path.size() >= sizeof sa.sun_path) {
      error = "unix socket path '" + path + "' is empty or too long";
      return -1;
    }
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.c_str(), path.size());
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      error = "cannot connect to " + spec + ": " + std::strerror(errno);
      if (fd >= 0) close(fd);
      return -1;
    }
    return fd;
  }
  std::string host, port;
  if (!split_host_port(spec, host, port)) {
    error = "'" + spec + "' is not tcp:HOST:PORT or unix:PATH";
    return -1;
  }
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    error = "cannot resolve " + spec + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    error = "cannot connect to " + spec + ": " + std::strerror(errno);
    if (fd >= 0) close(fd);
    freeaddrinfo(res);
    return -1;
  }
  freeaddrinfo(res);
  set_nodelay(fd);
  return fd;
}

OfStream::OfStream(int fd) : fd_(fd) { set_nonblocking(fd_); }

OfStream::~OfStream() {
  if (fd_ >= 0) close(fd_);
}

bool OfStream::receive(std::string& error) {
  // Drop what was consumed before growing.
  if (read_at_ > 0) {
    in_.erase(in_.begin(), in_.begin() + static_cast<long>(read_at_));
    read_at_ = 0;
  }
  for (int i = 0; i < 16; ++i) {  // bounded: the caller also has timers to run
    size_t have = in_.size();
    in_.resize(have + kReadChunk);
    ssize_t n = read(fd_, in_.data() + have, kReadChunk);
    in_.resize(have + (n > 0 ? static_cast<size_t>(n) : 0));
    if (n > 0) continue;
    if (n == 0) {
      error = "the switch closed the connection";
      return false;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    if (errno == EINTR) continue;
    error = std::string("read from the switch failed: ") + std::strerror(errno);
    return false;
  }
  return true;
}

bool OfStream::next(std::span<const std::byte>& msg, std::string& error) {
  std::span<const std::byte> avail(in_.data() + read_at_, in_.size() - read_at_);
  of::Header h;
  of::Status s = of::decode_header(avail, h);
  if (s == of::Status::truncated) return false;
  if (s != of::Status::ok) {
    error = "a message header with length " + std::to_string(h.length) + " (below 8): the stream is lost";
    return false;
  }
  if (avail.size() < h.length) return false;
  msg = avail.first(h.length);
  read_at_ += h.length;
  return true;
}

bool OfStream::flush(std::string& error) {
  while (sent_ < out_.size()) {
    ssize_t n = send(fd_, out_.data() + sent_, out_.size() - sent_, MSG_NOSIGNAL);
    if (n > 0) {
      sent_ += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && errno == EINTR) continue;
    error = std::string("write to the switch failed: ") + std::strerror(errno);
    return false;
  }
  if (sent_ == out_.size()) {
    out_.clear();
    sent_ = 0;
  } else if (sent_ > (1u << 20)) {
    out_.erase(out_.begin(), out_.begin() + static_cast<long>(sent_));
    sent_ = 0;
  }
  return true;
}

}  // namespace nsgate::ctl
