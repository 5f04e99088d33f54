// SPDX-License-Identifier: BSD-3-Clause
// nsgate run: the DPDK appliance. nsgate replay: the same workers over
// net_pcap devices, for captures (no NIC, no hugepages).

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <ctime>
#include <cerrno>
#include <cstring>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "app/common.hh"
#include "app/drop_log.hh"
#include "app/run_metrics.hh"
#include "ctl/metrics.hh"
#include "core/format.hh"
#include "core/learn_session.hh"
#include "ctl/config_yaml.hh"
#include "dp/dataplane.hh"
#include "core/top_talkers.hh"
#include "dp/eal.hh"
#include "dp/telemetry.hh"
#include "io/capture.hh"

namespace nsgate::app {

namespace {


// EAL arguments: the configured ones, the ports as devices, and a file
// prefix of our own unless the operator chose one.
std::vector<std::string> eal_args(const Config& c, const std::string& default_prefix) {
  std::vector<std::string> args = c.eal;
  bool prefix = std::any_of(args.begin(), args.end(), [](const std::string& a) { return a.rfind("--file-prefix", 0) == 0; });
  if (!prefix) args.push_back("--file-prefix=" + default_prefix);
  for (const std::string* spec : {&c.ports.inside, &c.ports.outside, &c.ports.mirror, &c.ports.drop_capture}) {
    if (spec->empty()) continue;
    if (is_pci_port(*spec)) {
      args.push_back("-a");
      args.push_back(*spec);
    } else {
      args.push_back("--vdev=" + *spec);
    }
  }
  return args;
}

void print_counters(const dp::Dataplane& d, FILE* out) {
  dp::WorkerCounters t = d.totals();
  std::fprintf(out, "counters:");
  for (size_t i = 0; i < dp::kCounterCount; ++i)
    if (t.c[i]) std::fprintf(out, " %s=%llu", dp::to_string(static_cast<dp::Counter>(i)), static_cast<unsigned long long>(t.c[i]));
  std::fprintf(out, "\nverdicts:");
  for (size_t i = 0; i < kVerdictCount; ++i)
    if (t.verdicts[i])
      std::fprintf(out, " %s=%llu", to_string(static_cast<Verdict>(i)), static_cast<unsigned long long>(t.verdicts[i]));
  std::fprintf(out, "\n");
}

std::vector<Provenance> read_snapshot(const std::string& path, bool must_exist) {
  snapshot::Contents c;
  std::string error;
  if (!must_exist && !std::filesystem::exists(path)) return {};
  if (!snapshot::read_file(path, c, error)) throw Fatal{"snapshot refused: " + error, 1};
  return c.entries;
}

TimeNs wall_now() { return clock_now(CLOCK_REALTIME); }

// The operator's commands (dpdk-telemetry.py): /nsgate/stats, /nsgate/lookup,
// /nsgate/top_blocked, /nsgate/snapshot, /nsgate/reload.
void register_run_telemetry(dp::Dataplane& d, DropLog& log, const std::string& snap_path) {
  dp::register_telemetry("/nsgate/stats", "Data path counters, verdicts, learn events and table size",
                         [&d](const std::string&) {
    dp::TelemetryReply r;
    dp::WorkerCounters t = d.totals();
    for (size_t i = 0; i < dp::kCounterCount; ++i) r.numbers.emplace_back(dp::to_string(static_cast<dp::Counter>(i)), t.c[i]);
    for (size_t i = 0; i < kVerdictCount; ++i) r.numbers.emplace_back(to_string(static_cast<Verdict>(i)), t.verdicts[i]);
    LearnCounters lc = d.learn_counters();
    for (size_t i = 0; i < kLearnEventCount; ++i)
      r.numbers.emplace_back(std::string("learn_") + to_string(static_cast<LearnEvent>(i)), lc[i]);
    r.numbers.emplace_back("table_entries", d.table_size());
    return r;
  });
  dp::register_telemetry("/nsgate/lookup", "Verdict and provenance for an address. Parameter: ADDRESS",
                         [&d](const std::string& params) {
    dp::TelemetryReply r;
    auto addr = IpAddress::parse(params);
    if (!addr) {
      r.strings.emplace_back("error", "'" + params + "' is not an IPv4 or IPv6 address");
      return r;
    }
    auto out = std::make_shared<std::vector<std::pair<std::string, std::string>>>();
    TimeNs mono_now = d.now(), offset = d.wall_offset();
    bool ok = d.run_on_learner([out, a = *addr, mono_now, offset](const Learner& l) {
      AllowAnswer ans = l.lookup(a, mono_now);
      out->emplace_back("address", a.to_string());
      out->emplace_back("verdict", ans.allowed ? "pass" : "block");
      out->emplace_back("reason", ans.allowed ? to_string(ans.kind) : "unknown");
      if (!ans.allowed) return;
      if (ans.provenance && ans.kind == EntryKind::learned) {
        // One field each: a telemetry string holds 127 characters, and
        // the whole sentence of `nsgate check` is longer.
        const Provenance& p = *ans.provenance;  // the learner keeps monotonic times
        out->emplace_back("zone", p.zone);
        out->emplace_back("ns", p.ns);
        out->emplace_back("expires", format_time(p.expires + offset));
        out->emplace_back("learned_from", p.server.to_string());
        out->emplace_back("learned_at", format_time(p.response_time + offset));
      } else {
        out->emplace_back("detail", describe_allow(ans));
      }
    });
    if (!ok) r.strings.emplace_back("error", "the learner did not answer within 2 s");
    else r.strings = *out;
    return r;
  });
  dp::register_telemetry("/nsgate/top_blocked",
                         "Most blocked sources (likely infected hosts) and destinations over the last 5 minutes",
                         [&log](const std::string&) {
    dp::TelemetryReply r;
    auto [src, dst] = log.top(10, wall_now());
    r.lists.emplace_back("sources", src);
    r.lists.emplace_back("destinations", dst);
    return r;
  });
  dp::register_telemetry("/nsgate/snapshot", "Write a snapshot of the learned table now",
                         [&d, snap_path](const std::string&) {
    dp::TelemetryReply r;
    if (snap_path.empty()) {
      r.strings.push_back({"error", "snapshot.path is not set"});
      return r;
    }
    d.request_snapshot(snap_path);
    r.strings.push_back({"snapshot", "requested: " + snap_path});
    return r;
  });
  dp::register_telemetry("/nsgate/reload", "Reload the configuration file (as SIGHUP)", [](const std::string&) {
    reload_requested = true;
    dp::TelemetryReply r;
    r.strings.emplace_back("reload", "requested; the result is logged and counted in nsgate_reloads_total");
    return r;
  });
}

}  // namespace

int cmd_run(Args& args) {
  catch_reloads();
  auto conf_path = args.value({"-c", "--config"});
  auto snap_override = args.value({"--snapshot"});
  if (!conf_path) throw Fatal{"usage: nsgate run -c CONF [--snapshot FILE]"};
  if (!args.positional().empty()) throw Fatal{"nsgate run takes no positional arguments"};
  Config config = load_config(conf_path);
  std::string snap_path = snap_override.value_or(config.snapshot_path);
  remove_stale_snapshot_temps(snap_path);
  std::vector<Provenance> saved = snap_path.empty() ? std::vector<Provenance>{} : read_snapshot(snap_path, false);

  std::string error;
  if (!dp::init_eal(eal_args(config, "nsgate"), error)) throw Fatal{error, 1};
  dp::Dataplane d(dp::DataplaneOptions{config, false, false, 4096, {}});
  if (!d.init(error)) throw Fatal{error, 1};
  seed_learner(d.learner(), config);
  size_t restored = d.load(saved);
  ControlStats stats;
  stats.snapshot_interval_s = config.snapshot_interval_s;
  DropLog log(config.drop_log, stats);
  std::unique_ptr<ctl::MetricsExporter> metrics;
  if (!config.metrics_listen.empty()) {
    size_t capacity = config.learning.capacity;
    metrics = ctl::MetricsExporter::start(
        config.metrics_listen, [&d, &stats, capacity] { return run_metrics(d, stats, capacity); }, error);
    if (!metrics) throw Fatal{error + " (set metrics.listen, or empty to turn metrics off)", 1};
  }
  install_signal_handlers();
  register_run_telemetry(d, log, snap_path);
  if (!d.start(error)) throw Fatal{error, 1};
  std::fprintf(stderr, "nsgate run: %s mode, %u worker(s), %zu entries restored from %s, metrics on %s; Ctrl-C stops\n",
               config.mode == Mode::enforce ? "enforce" : "monitor", config.workers, restored,
               snap_path.empty() ? "(no snapshot)" : snap_path.c_str(),
               metrics ? config.metrics_listen.c_str() : "(off)");
  auto next_snapshot = std::chrono::steady_clock::now() + std::chrono::duration<double>(config.snapshot_interval_s);
  uint64_t snapshots_seen = 0;
  uint64_t failures_seen = 0;
  while (stop_signal == 0) {
    if (d.poll_events([&](const QueryEvent& ev) { log.write(ev); }) == 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    log.tick(wall_now());
    if (!snap_path.empty() && std::chrono::steady_clock::now() >= next_snapshot) {
      d.request_snapshot(snap_path);
      next_snapshot += std::chrono::duration<double>(config.snapshot_interval_s);
    }
    if (d.snapshots_written() != snapshots_seen) {
      snapshots_seen = d.snapshots_written();
      stats.snapshot_last_success_unix = std::time(nullptr);
    }
    // Every failed write counts (a full disk fails each time the same way).
    if (uint64_t failures = d.snapshot_failures(); failures != failures_seen) {
      stats.snapshot_failures += failures - failures_seen;
      failures_seen = failures;
      std::string e = d.last_snapshot_error();  // empty if a later write went well meanwhile
      std::fprintf(stderr, "nsgate run: %s\n", e.empty() ? "a snapshot write failed" : e.c_str());
    }
    if (reopen_requested.exchange(false)) {
      if (log.reopen(error)) std::fprintf(stderr, "nsgate run: drop log reopened\n");
      else std::fprintf(stderr, "nsgate run: %s\n", error.c_str());
    }
    if (reload_requested.exchange(false)) {
      // Also whatever the file says: a reload opens the drop log anew too.
      if (!log.reopen(error)) std::fprintf(stderr, "nsgate run: reload: %s\n", error.c_str());
      // Parsed and validated here, off the data path; applied only whole.
      ctl::LoadResult r = ctl::load_config_file_for_reload(*conf_path);
      if (!r.ok()) {
        ++stats.reloads_failed;
        std::fprintf(stderr, "nsgate run: reload of %s refused, nothing changed:\n", conf_path->c_str());
        for (const auto& e : r.errors) std::fprintf(stderr, "  %s\n", e.to_string().c_str());
      } else {
        Config next = r.config;
        for (const std::string& k : keep_restart_only(config, next, Enforcer::dpdk)) {
          std::fprintf(stderr, "nsgate run: reload: %s changed but needs a restart; the running value stays\n", k.c_str());
        }
        d.apply(next);
        log.set_limits(next.drop_log, wall_now());
        config = next;
        stats.snapshot_interval_s = config.snapshot_interval_s;
        ++stats.reloads_ok;
        std::fprintf(stderr, "nsgate run: reloaded %s (%s mode, %zu static allows, %zu trusted sources)\n",
                     conf_path->c_str(), config.mode == Mode::enforce ? "enforce" : "monitor",
                     config.static_allow.size(), config.trusted_sources.size());
      }
    }
  }
  std::fprintf(stderr, "nsgate run: signal %d, stopping\n", stop_signal.load());
  metrics.reset();  // no scrape may read a stopping data path
  dp::clear_telemetry();
  // stop() writes the final snapshot once the learner has taken in the
  // workers' last packets; a periodic request not yet begun is that same
  // write (same file), not a second one.
  d.stop(snap_path);
  d.poll_events([&](const QueryEvent& ev) { log.write(ev); });
  log.finish();
  int status = 0;
  if (!snap_path.empty()) {
    if (!d.last_snapshot_error().empty()) {
      std::fprintf(stderr, "nsgate run: %s\n", d.last_snapshot_error().c_str());
      status = 1;
    } else {
      std::fprintf(stderr, "nsgate run: snapshot written to %s\n", snap_path.c_str());
    }
  }
  print_counters(d, stderr);
  std::fprintf(stderr, "table: %zu entries\n", d.table_size());
  LearnCounters lc = d.learn_counters();
  std::fprintf(stderr, "learned: added=%llu refreshed=%llu\n",
               static_cast<unsigned long long>(lc[static_cast<size_t>(LearnEvent::added)]),
               static_cast<unsigned long long>(lc[static_cast<size_t>(LearnEvent::refreshed)]));
  LearnDelay ld = d.learn_delay();
  if (ld.count)
    std::fprintf(stderr,
                 "learn-to-enforce delay: %llu responses, mean %.1f us, p50 <= %.0f us, p90 <= %.0f us, p99 <= %.0f us, "
                 "max %.1f us\n",
                 static_cast<unsigned long long>(ld.count), static_cast<double>(ld.total) / static_cast<double>(ld.count) / 1e3,
                 static_cast<double>(ld.percentile(0.5)) / 1e3, static_cast<double>(ld.percentile(0.9)) / 1e3,
                 static_cast<double>(ld.percentile(0.99)) / 1e3, static_cast<double>(ld.max) / 1e3);
  return status;
}

int cmd_replay(Args& args) {
  auto conf_path = args.value({"-c", "--config"});
  auto learn_from = args.values({"--learn"});
  auto snap = args.value({"--snapshot"});
  auto traffic = args.value({"--traffic"});
  auto mode = args.value({"--mode"});
  std::string forwarded = args.value({"--forwarded"}).value_or("");
  std::string dropped = args.value({"--dropped"}).value_or("");
  std::string format = args.value({"--format", "-f"}).value_or("table");
  if (!traffic) throw Fatal{"usage: nsgate replay [-c CONF] [--learn CAPTURE]... [--snapshot FILE] --traffic CAPTURE"};
  if (format != "table" && format != "json") throw Fatal{"--format must be table or json"};
  if (!args.positional().empty()) throw Fatal{"unexpected arguments (see nsgate --help)"};
  Config config = load_config(conf_path);
  apply_mode_option(config, mode);

  // Count the traffic first: replay ends when every frame was judged.
  uint64_t frames = 0;
  {
    std::string error;
    auto r = io::CaptureReader::open(*traffic, error);
    if (!r) throw Fatal{error, 1};
    if (r->linktype() != 1) throw Fatal{*traffic + ": replay needs an Ethernet capture", 1};
    io::Frame f;
    while (r->next(f)) ++frames;
    if (!r->error().empty()) throw Fatal{r->error(), 1};
  }
  // The ports' files, removed however replay ends (an error below throws).
  struct TempFolder {
    std::string path;
    ~TempFolder() {
      std::error_code ignored;
      if (!path.empty()) std::filesystem::remove_all(path, ignored);
    }
  } folder;
  {
    std::error_code ec;
    std::string tmpl = (std::filesystem::temp_directory_path(ec) / "nsgate-replay-XXXXXX").string();
    if (ec || !mkdtemp(tmpl.data())) throw Fatal{"cannot create a temporary folder (TMPDIR)", 1};
    folder.path = tmpl;
  }
  const std::string& tmp = folder.path;
  std::string empty = tmp + "/empty.pcap";
  {
    std::string error;
    auto w = io::CaptureWriter::open(empty, 1, error);
    if (!w) throw Fatal{error, 1};
  }
  bool keep_forwarded = !forwarded.empty(), keep_dropped = !dropped.empty();
  if (!keep_forwarded) forwarded = tmp + "/forwarded.pcap";
  if (!keep_dropped) dropped = tmp + "/dropped.pcap";
  config.ports.inside = "net_pcap0,rx_pcap=" + *traffic + ",tx_pcap=" + tmp + "/inside-tx.pcap";
  config.ports.outside = "net_pcap1,rx_pcap=" + empty + ",tx_pcap=" + forwarded;
  config.ports.drop_capture = "net_pcap2,rx_pcap=" + empty + ",tx_pcap=" + dropped;
  config.ports.mirror.clear();
  config.workers = 1;
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  config.eal = {"--no-huge", "--no-pci", "-m", "512", "--no-shconf", "--log-level=lib.*:error",
                "--log-level=pmd.*:error", "--no-telemetry",
                cores >= 2 ? "-l" : "--lcores", cores >= 2 ? "0-1" : "0@0,1@0"};

  std::string error;
  if (!dp::init_eal(eal_args(config, "nsgate-replay-" + std::to_string(getpid())), error)) throw Fatal{error, 1};
  dp::Dataplane d(dp::DataplaneOptions{config, true, true, 1u << 16, {}});
  if (!d.init(error)) throw Fatal{error, 1};
  seed_learner(d.learner(), config);
  size_t learned = 0;
  if (snap) learned += d.load(read_snapshot(*snap, true));
  if (!learn_from.empty()) {
    LearnSession session(d.learner(), config.dns_ports);
    for_each_frame("replay", learn_from, [&](pkt::LinkType link, const io::Frame& f) {
      session.feed(link, f.time, f.data, f.wire_length);
    });
    session.finish(session.last_time());
    learned = d.learner().learned_addresses();
  }
  if (!d.start(error)) throw Fatal{error, 1};
  std::vector<QueryEvent> events;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (d.totals().get(dp::Counter::rx_inside) < frames && std::chrono::steady_clock::now() < deadline) {
    d.poll_events([&](const QueryEvent& ev) { events.push_back(ev); });
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  d.stop();
  d.poll_events([&](const QueryEvent& ev) { events.push_back(ev); });
  std::sort(events.begin(), events.end(), [](const QueryEvent& a, const QueryEvent& b) { return a.seq < b.seq; });

  if (format == "json") {
    for (const QueryEvent& ev : events) std::printf("%s\n", eve_json(ev).c_str());
  } else {
    std::printf("%-27s  %-22s  %-22s  %-5s  %-28s  %-6s  %-7s  %s\n", "time", "client", "destination", "proto",
                "query", "type", "verdict", "reason");
    for (const QueryEvent& ev : events) {
      char tb[12];
      std::string client = address_text(ev, ev.src) + ":" + std::to_string(ev.sport);
      std::string dest = address_text(ev, ev.dst) + ":" + std::to_string(ev.dport);
      const char* verdict = forwards(ev.verdict) ? (ev.verdict == Verdict::alert_unknown ? "alert" : "pass") : "block";
      std::printf("%-27s  %-22s  %-22s  %-5s  %-28s  %-6s  %-7s  %s\n", format_time(ev.time).c_str(), client.c_str(),
                  dest.c_str(), ev.proto == pkt::kProtoTcp ? "tcp" : "udp", qname_text(ev).c_str(),
                  ev.qname_len ? dns::type_name(ev.qtype, tb) : "", verdict, reason_word(ev.verdict));
    }
  }
  dp::WorkerCounters t = d.totals();
  FILE* out = format == "table" ? stdout : stderr;
  std::fprintf(out, "\nreplay: %llu of %llu frames judged; %llu forwarded%s%s, %llu dropped%s%s; %zu addresses learned beforehand\n",
               static_cast<unsigned long long>(t.get(dp::Counter::rx_inside)), static_cast<unsigned long long>(frames),
               static_cast<unsigned long long>(t.get(dp::Counter::tx_outside)), keep_forwarded ? " -> " : "",
               keep_forwarded ? forwarded.c_str() : "", static_cast<unsigned long long>(t.get(dp::Counter::dropped)),
               keep_dropped ? " -> " : "", keep_dropped ? dropped.c_str() : "", learned);
  print_counters(d, out);
  if (t.get(dp::Counter::events_dropped))
    std::fprintf(stderr, "nsgate replay: %llu verdicts were not reported (event ring full); counters are complete\n",
                 static_cast<unsigned long long>(t.get(dp::Counter::events_dropped)));
  if (t.get(dp::Counter::rx_inside) < frames) {
    std::fprintf(stderr, "nsgate replay: only %llu of %llu frames came through in 60 s\n",
                 static_cast<unsigned long long>(t.get(dp::Counter::rx_inside)), static_cast<unsigned long long>(frames));
    return 1;
  }
  return 0;
}

}  // namespace nsgate::app
