// SPDX-License-Identifier: BSD-3-Clause
#include "app/common.hh"

#include <csignal>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/format.hh"
#include "core/root_hints.hh"
#include "core/snapshot.hh"
#include "ctl/config_yaml.hh"

namespace nsgate::app {

std::atomic<int> stop_signal{0};
std::atomic<bool> reload_requested{false};
std::atomic<bool> reopen_requested{false};

void catch_reloads() {
  signal(SIGHUP, [](int) { reload_requested = true; });
  signal(SIGUSR1, [](int) { reopen_requested = true; });
  signal(SIGPIPE, SIG_IGN);
}

void install_signal_handlers() {
  catch_reloads();
  signal(SIGINT, [](int sig) { stop_signal = sig; });
  signal(SIGTERM, [](int sig) { stop_signal = sig; });
}

TimeNs clock_now(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return TimeNs{ts.tv_sec} * kNsPerSec + ts.tv_nsec;
}


Args::Args(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) args_.emplace_back(argv[i]);
  used_.assign(args_.size(), false);
}

std::optional<std::string> Args::value(std::initializer_list<const char*> names) {
  auto all = values(names);
  if (all.empty()) return std::nullopt;
  return all.back();
}

std::vector<std::string> Args::values(std::initializer_list<const char*> names) {
  std::vector<std::string> out;
  for (size_t i = 0; i < args_.size(); ++i) {
    if (used_[i]) continue;
    if (args_[i] == "--") break;
    for (const char* n : names) {
      std::string name = n;
      if (args_[i] == name) {
        if (i + 1 >= args_.size()) throw Fatal{"option " + name + " needs a value"};
        used_[i] = used_[i + 1] = true;
        out.push_back(args_[i + 1]);
        ++i;
        break;
      }
      if (args_[i].rfind(name + "=", 0) == 0) {
        used_[i] = true;
        out.push_back(args_[i].substr(name.size() + 1));
        break;
      }
    }
  }
  return out;
}

bool Args::flag(std::initializer_list<const char*> names) {
  bool found = false;
  for (size_t i = 0; i < args_.size(); ++i) {
    if (used_[i]) continue;
    if (args_[i] == "--") break;
    for (const char* n : names)
      if (args_[i] == n) used_[i] = found = true;
  }
  return found;
}

std::vector<std::string> Args::positional() {
  std::vector<std::string> out;
  bool rest = false;
  for (size_t i = 0; i < args_.size(); ++i) {
    if (used_[i]) continue;
    if (!rest && args_[i] == "--") {
      rest = true;
      continue;
    }
    if (!rest && args_[i].size() > 1 && args_[i][0] == '-')
      throw Fatal{"unknown option " + args_[i] + " (see nsgate --help)"};
    out.push_back(args_[i]);
  }
  return out;
}

int for_each_frame(const std::string& cmd, const std::vector<std::string>& captures,
                   const std::function<void(pkt::LinkType, const io::Frame&)>& fn,
                   const std::function<void(const std::string&)>& on_open) {
  int failed = 0;
  size_t opened = 0;
  for (const std::string& path : captures) {
    std::string error;
    auto reader = io::CaptureReader::open(path, error);
    if (!reader) {
      std::fprintf(stderr, "nsgate %s: %s\n", cmd.c_str(), error.c_str());
      ++failed;
      continue;
    }
    if (!pkt::is_supported(reader->linktype())) {
      std::fprintf(stderr, "nsgate %s: %s: link type %u is not supported\n", cmd.c_str(), path.c_str(),
                   reader->linktype());
      ++failed;
      continue;
    }
    ++opened;
    if (on_open) on_open(path);
    io::Frame f;
    while (reader->next(f)) fn(static_cast<pkt::LinkType>(reader->linktype()), f);
    if (!reader->error().empty()) {
      std::fprintf(stderr, "nsgate %s: %s (frames before it were used)\n", cmd.c_str(), reader->error().c_str());
      ++failed;
    }
  }
  if (opened == 0) throw Fatal{"no capture could be read", 1};
  return failed;
}

std::string describe_allow(const AllowAnswer& a) {
  const std::optional<Provenance>& p = a.provenance;
  if (!a.static_prefix.empty()) return "in static_allow " + a.static_prefix;
  if (!p) return to_string(a.kind);
  if (a.kind == EntryKind::anchor) return "root hint " + p->ns;
  if (a.kind == EntryKind::static_allow) return "static_allow" + (p->note.empty() ? "" : " (" + p->note + ")");
  return "zone " + p->zone + " ns " + p->ns + " expires " + format_time(p->expires) + " learned from " +
         p->server.to_string() + " at " + format_time(p->response_time);
}

Config load_config(const std::optional<std::string>& path) {
  if (!path) return Config{};
  ctl::LoadResult r = ctl::load_config_file(*path);
  if (!r.ok()) {
    std::string msg = *path + " is not a valid configuration:";
    for (const auto& e : r.errors) msg += "\n  " + e.to_string();
    throw Fatal{msg};
  }
  return r.config;
}

void apply_mode_option(Config& config, const std::optional<std::string>& mode) {
  if (!mode) return;
  if (*mode == "enforce") config.mode = Mode::enforce;
  else if (*mode == "monitor") config.mode = Mode::monitor;
  else throw Fatal{"--mode must be enforce or monitor"};
}

void remove_stale_snapshot_temps(const std::string& snapshot_path) {
  if (snapshot_path.empty()) return;
  for (const std::string& f : snapshot::remove_stale_temps(snapshot_path, 600 * kNsPerSec))
    std::fprintf(stderr, "nsgate: removed %s, left by a snapshot write that was stopped mid-way\n", f.c_str());
}

void seed_learner(Learner& learner, const Config& config) {
  std::vector<RootHint> hints;
  if (config.root_hints.empty()) {
    hints = builtin_root_hints();
  } else {
    std::ifstream in(config.root_hints);
    if (!in) throw Fatal{"cannot read root hints file " + config.root_hints};
    std::stringstream ss;
    ss << in.rdbuf();
    std::vector<RootHintsError> errors;
    hints = parse_root_hints(ss.str(), errors);
    if (!errors.empty()) {
      std::string msg = config.root_hints + " is not a valid root hints file:";
      for (const auto& e : errors) msg += "\n  line " + std::to_string(e.line) + ": " + e.message;
      throw Fatal{msg};
    }
  }
  for (const RootHint& h : hints) learner.add_anchor(h.address, h.name);
  for (const StaticAllow& s : config.static_allow) learner.add_static(s);
}

}  // namespace nsgate::app
