// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// Shared by the subcommands: argument handling and building a learner from
// the configuration. Only src/app prints to the terminal and exits.

#include <time.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <functional>

#include "core/allow_table.hh"
#include "core/packet.hh"
#include "io/capture.hh"
#include "core/config.hh"
#include "core/learner.hh"

namespace nsgate::app {

// Thrown for command-line mistakes and startup failures; main prints the
// message (prefixed "nsgate: ") and exits with `code`.
struct Fatal {
  std::string message;
  int code = 2;
};

// A minimal argument reader: options may appear anywhere; "--" ends them.
class Args {
 public:
  Args(int argc, char** argv, int first);
  // Returns the value of -x/--long (next argument or --long=value).
  std::optional<std::string> value(std::initializer_list<const char*> names);
  std::vector<std::string> values(std::initializer_list<const char*> names);
  bool flag(std::initializer_list<const char*> names);
  // What is left after all known options were taken; unknown options are an error.
  std::vector<std::string> positional();

 private:
  std::vector<std::string> args_;
  std::vector<bool> used_;
};

// Long-running commands (run, ofshim): SIGINT/SIGTERM set `stop_signal`,
// SIGHUP sets `reload_requested`, SIGUSR1 `reopen_requested` (the drop
// log's file, for logrotate: a reload would also apply whatever the
// configuration file holds, and re-sync the switch); the main loop polls
// them. SIGPIPE is ignored (a closed socket is an error return, not a death).
extern std::atomic<int> stop_signal;
extern std::atomic<bool> reload_requested;
extern std::atomic<bool> reopen_requested;
// SIGHUP, SIGUSR1 and SIGPIPE: called first thing, because a start can
// take seconds (a large snapshot) and a reload or a log rotation meanwhile
// (systemd counts a Type=simple unit active at once) would otherwise end
// the process, with an exit systemd does not restart; either is applied
// once running. A stop during the start still ends the process at once.
void catch_reloads();
void install_signal_handlers();  // catch_reloads() and the stop signals
TimeNs clock_now(clockid_t clock);  // CLOCK_REALTIME or CLOCK_MONOTONIC, in ns

// Loads -c FILE if given (else defaults); invalid files are fatal with every error.
Config load_config(const std::optional<std::string>& path);
// --mode enforce|monitor, when given, overrides the configuration's mode.
void apply_mode_option(Config& config, const std::optional<std::string>& mode);
// Adds root hints (from the config's file or built in) and static allows.
void seed_learner(Learner& learner, const Config& config);
// At start: removes (and says so) the temporary snapshot files a writer
// killed mid-way left beside `snapshot_path` ten minutes or more ago.
void remove_stale_snapshot_temps(const std::string& snapshot_path);

// Reads every frame of every capture in order, calling fn for each.
// Unreadable files, unsupported link types and read errors are reported on
// stderr naming the file (and frame). Returns how many captures failed;
// fatal when none could be opened at all.
// `on_open` (optional) is called as each capture starts.
int for_each_frame(const std::string& cmd, const std::vector<std::string>& captures,
                   const std::function<void(pkt::LinkType, const io::Frame&)>& fn,
                   const std::function<void(const std::string&)>& on_open = {});

// "why" for an allowed address: root hint, static allow, or the learned
// zone, NS name, expiry and the server that taught it.
std::string describe_allow(const AllowAnswer& a);

int cmd_learn(Args& args);
int cmd_decode(Args& args);
int cmd_check(Args& args);
int cmd_config(Args& args);
int cmd_run(Args& args);
int cmd_replay(Args& args);
int cmd_ofshim(Args& args);

}  // namespace nsgate::app
