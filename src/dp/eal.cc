// SPDX-License-Identifier: BSD-3-Clause
#include "dp/eal.hh"

#include <rte_eal.h>
#include <rte_errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace nsgate::dp {

namespace {
// Whether another process holds the lock a primary EAL process takes on
// DIR/config while it runs (its own locks never conflict with ours).
bool config_locked(const std::string& dir) {
  int fd = ::open((dir + "/config").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct flock lk {};
  lk.l_type = F_WRLCK;
  lk.l_whence = SEEK_SET;
  bool locked = ::fcntl(fd, F_GETLK, &lk) == 0 && lk.l_type != F_UNLCK;
  ::close(fd);
  return locked;
}
}  // namespace

bool init_eal(const std::vector<std::string>& args, std::string& error) {
  static bool done = false;
  if (done) return true;
  std::vector<std::string> all{"nsgate"};
  all.insert(all.end(), args.begin(), args.end());
  // The runtime folder EAL will use (eal_get_runtime_dir: /var/run/dpdk
  // for root, else $XDG_RUNTIME_DIR or /tmp, then dpdk/PREFIX), and
  // whether it is there before: a failed start removes only a folder it
  // made, never one of another run with the same prefix.
  std::string prefix = "rte";
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].starts_with("--file-prefix=")) prefix = args[i].substr(14);
    if (args[i] == "--file-prefix" && i + 1 < args.size()) prefix = args[i + 1];
  }
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  std::string base = ::getuid() == 0 ? "/var/run" : (xdg ? xdg : "/tmp");
  std::string expected = base + "/dpdk/" + prefix;
  std::error_code ec;
  bool existed = std::filesystem::exists(expected, ec);
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  int rc = rte_eal_init(static_cast<int>(all.size()), argv.data());
  if (rc < 0) {
    // rte_errno is not set on every failure (a held prefix lock leaves 0).
    error = std::string("DPDK EAL initialisation failed");
    if (rte_errno != 0) error.append(": ").append(rte_strerror(rte_errno));
    error += " (is another nsgate run using the same eal --file-prefix? Else check the eal: arguments and the "
             "ports' device names)";
    // A failed `nsgate run` may have failed because another is running
    // with the same prefix: its folder (config lock, telemetry and
    // multi-process sockets) stays.
    // (It may have made the folder during our start, too: hence the lock.)
    std::string dir = rte_eal_get_runtime_dir();
    if (!existed && dir == expected && !config_locked(dir)) std::filesystem::remove_all(dir, ec);
    return false;
  }
  done = true;
  // DPDK leaves its runtime folder (/var/run/dpdk/PREFIX) behind; every
  // offline tool run has its own prefix, so remove it after cleanup.
  static std::string runtime_dir = rte_eal_get_runtime_dir();
  std::atexit([] {
    rte_eal_cleanup();
    std::error_code ignored;
    if (runtime_dir.find("/dpdk/") != std::string::npos) std::filesystem::remove_all(runtime_dir, ignored);
  });
  return true;
}

std::vector<std::string> offline_eal_args(size_t memory_mb) {
  return {"--no-huge", "--no-pci", "--no-shconf", "-m", std::to_string(memory_mb),
          "--file-prefix=nsgate-" + std::to_string(::getpid()), "--log-level=lib.*:error",
          "--log-level=user*:error", "--no-telemetry", "-l", "0"};
}

}  // namespace nsgate::dp
