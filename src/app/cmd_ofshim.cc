// SPDX-License-Identifier: BSD-3-Clause
// nsgate ofshim: the learner and table of the appliance, enforced by an
// Open vSwitch bridge through OpenFlow 1.3 flows instead of DPDK workers.

#include <poll.h>
#include <signal.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include "app/common.hh"
#include "app/drop_log.hh"
#include "core/learn_session.hh"
#include "core/snapshot.hh"
#include "ctl/config_yaml.hh"
#include "ctl/metrics.hh"
#include "ctl/of_session.hh"
#include "ctl/of_socket.hh"
#include "io/capture.hh"

namespace nsgate::app {

namespace {



void say(const std::string& s) { std::fprintf(stderr, "nsgate ofshim: %s\n", s.c_str()); }

MetricFamilyData family(std::string name, std::string help, bool counter, double v) {
  return MetricFamilyData{std::move(name), std::move(help), counter, {MetricSample{{}, v}}, std::nullopt};
}

// Counters the learner publishes for the exporter threads (copied by the
// session thread once per tick; the learner itself is single-threaded).
struct LearnerView {
  std::mutex mu;
  LearnCounters counters{};
  std::array<size_t, 3> entries{};  // anchor, static, learned
};

std::vector<MetricFamilyData> shim_metrics(const ctl::SessionStats& s, LearnerView& lv, const ControlStats& c,
                                           size_t capacity) {
  std::vector<MetricFamilyData> out;
  auto d = [](uint64_t v) { return static_cast<double>(v); };
  auto info = family("nsgate_build_info", "nsgate version (value is always 1)", false, 1);
  info.samples[0].labels = {{"version", "0.1.0"}, {"enforcer", "openflow"}};
  out.push_back(std::move(info));
  {
    std::lock_guard<std::mutex> lock(lv.mu);
    MetricFamilyData learn{"nsgate_learn_events_total", "Learner results by event: added, refreshed, and each refusal rule", true, {}, std::nullopt};
    for (size_t i = 0; i < kLearnEventCount; ++i)
      learn.samples.push_back({{{"event", to_string(static_cast<LearnEvent>(i))}}, d(lv.counters[i])});
    out.push_back(std::move(learn));
    MetricFamilyData entries{"nsgate_table_entries", "Addresses in the TTL table, by kind", false, {}, std::nullopt};
    const char* kinds[] = {"anchor", "static", "learned"};
    for (size_t i = 0; i < 3; ++i) entries.samples.push_back({{{"kind", kinds[i]}}, d(lv.entries[i])});
    out.push_back(std::move(entries));
  }
  out.push_back(family("nsgate_table_capacity", "Addresses the TTL table can hold", false, d(capacity)));
  out.push_back(family("nsgate_openflow_connected", "1 while a switch is connected", false, s.connected.load()));
  out.push_back(family("nsgate_openflow_in_sync", "1 once the switch's flows equal the table (after reconciliation)", false, s.ready.load()));
  out.push_back(family("nsgate_openflow_meters", "1 when the switch accepted the packet-in meters", false, s.meters.load()));
  out.push_back(family("nsgate_openflow_connects_total", "Switch connections established", true, d(s.connects)));
  out.push_back(family("nsgate_openflow_allow_flows", "Allowed addresses whose flow the switch confirmed (barrier)", false, d(s.flows_installed)));
  out.push_back(family("nsgate_openflow_flow_mods_total", "FLOW_MOD messages sent", true, d(s.flow_mods)));
  out.push_back(family("nsgate_openflow_flows_refreshed_total", "Capped allow flows re-added before their hard timeout", true, d(s.flows_refreshed)));
  out.push_back(family("nsgate_openflow_flows_restored_total", "Allow flows the switch removed while still wanted (del-flows, eviction), re-added", true, d(s.flows_restored)));
  out.push_back(family("nsgate_openflow_flows_retried_total", "Allow flows the switch refused (a full table), sent again after a back-off", true, d(s.flows_retried)));
  out.push_back(family("nsgate_openflow_stale_flows_removed_total", "Allow flows for addresses no longer allowed, removed at reconciliation", true, d(s.stale_flows_removed)));
  out.push_back(family("nsgate_openflow_switch_errors_total", "OFPT_ERROR messages from the switch", true, d(s.switch_errors)));
  out.push_back(family("nsgate_openflow_reconcile_seconds", "Duration of the last full reconciliation", false, static_cast<double>(s.last_reconcile_ns.load()) / 1e9));
  MetricFamilyData pin{"nsgate_openflow_packet_ins_total", "Packet-ins by purpose (learning copy, drop-log copy, other)", true, {}, std::nullopt};
  pin.samples.push_back({{{"copy", "learn"}}, d(s.packet_in_learn)});
  pin.samples.push_back({{{"copy", "drop_log"}}, d(s.packet_in_log)});
  pin.samples.push_back({{{"copy", "held_response"}}, d(s.packet_in_held)});
  pin.samples.push_back({{{"copy", "other"}}, d(s.packet_in_other)});
  out.push_back(std::move(pin));
  MetricFamilyData bad{"nsgate_openflow_malformed_total", "Messages from the switch refused by the decoder, by reason", true, {}, std::nullopt};
  for (size_t i = 1; i < of::kStatusCount; ++i)
    bad.samples.push_back({{{"reason", of::to_string(static_cast<of::Status>(i))}}, d(s.malformed[i])});
  out.push_back(std::move(bad));
  out.push_back(family("nsgate_drop_log_lines_total", "Lines written to the drop log", true, d(c.drop_log_written)));
  out.push_back(family("nsgate_drop_log_write_errors_total", "Drop-log lines that could not be written (a full disk): lost",
                       true, d(c.drop_log_write_errors)));
  out.push_back(family("nsgate_drop_log_suppressed_total", "Drop and alert events with no drop-log line of their own (counted in a later line's suppressed)", true, d(c.drop_log_suppressed)));
  out.push_back(family("nsgate_blocked_sources_new_total", "Inside hosts blocked (or alerted) that the drop log had not seen recently: likely newly infected", true, d(c.new_blocked_sources)));
  MetricFamilyData reloads{"nsgate_reloads_total", "Configuration reloads (SIGHUP), by result", true, {}, std::nullopt};
  reloads.samples.push_back({{{"result", "ok"}}, d(c.reloads_ok)});
  reloads.samples.push_back({{{"result", "error"}}, d(c.reloads_failed)});
  out.push_back(std::move(reloads));
  MetricFamilyData snaps{"nsgate_snapshots_total", "Snapshots written, by result", true, {}, std::nullopt};
  snaps.samples.push_back({{{"result", "ok"}}, d(c.snapshots_written.load())});
  snaps.samples.push_back({{{"result", "error"}}, d(c.snapshot_failures.load())});
  out.push_back(std::move(snaps));
  int64_t last = c.snapshot_last_success_unix.load();
  out.push_back(family("nsgate_snapshot_age_seconds", "Seconds since the last snapshot was written (-1: none yet)", false,
                       last ? static_cast<double>(std::time(nullptr) - last) : -1));
  out.push_back(family("nsgate_snapshot_interval_seconds", "snapshot.interval: seconds between snapshots", false,
                       c.snapshot_interval_s.load()));
  return out;
}

// Snapshots hold wall-clock times; the learner runs on the monotonic clock.
size_t load_snapshot(Learner& learner, const std::string& path, bool must_exist) {
  if (!must_exist && !std::filesystem::exists(path)) return 0;
  snapshot::Contents c;
  std::string error;
  if (!snapshot::read_file(path, c, error)) throw Fatal{"snapshot refused: " + error, 1};
  TimeNs wall = clock_now(CLOCK_REALTIME);
  return restore_snapshot(learner, c.entries, wall, wall - clock_now(CLOCK_MONOTONIC));
}

bool save_snapshot(const Learner& learner, const std::string& path, std::string& error) {
  TimeNs wall = clock_now(CLOCK_REALTIME);
  return snapshot::write_file(path, snapshot_of(learner, wall, wall - clock_now(CLOCK_MONOTONIC)), error);
}

}  // namespace

int cmd_ofshim(Args& args) {
  catch_reloads();
  auto conf_path = args.value({"-c", "--config"});
  auto listen = args.value({"--listen"});
  auto connect = args.value({"--connect"});
  auto snap_override = args.value({"--snapshot"});
  auto mode = args.value({"--mode"});
  auto learn_from = args.value({"--learn-from"});
  bool exit_when_synced = args.flag({"--exit-when-synced"});
  if (!args.positional().empty())
    throw Fatal{"usage: nsgate ofshim [-c CONF] [--listen tcp:ADDR:PORT | --connect tcp:HOST:PORT|unix:PATH] "
                "[--snapshot FILE] [--mode enforce|monitor] [--learn-from IFACE] [--exit-when-synced]"};
  // The command line over the file, at start and at every reload.
  auto overrides = [&](Config& c) {
    if (listen) c.openflow.listen = *listen;
    if (connect) c.openflow.connect = *connect;
    if (connect) c.openflow.listen.clear();
    if (learn_from) c.openflow.learn_from = *learn_from;
    apply_mode_option(c, mode);
  };
  Config config = load_config(conf_path);
  overrides(config);
  std::vector<ConfigError> errs = validate(config);
  for (ConfigError& e : validate_openflow_shim(config)) errs.push_back(std::move(e));
  if (!errs.empty()) {
    std::string text = "invalid settings:";
    for (const auto& e : errs) text += "\n  " + e.to_string();
    throw Fatal{text};
  }
  if (config.openflow.listen.empty() && config.openflow.connect.empty())
    throw Fatal{"set openflow.listen (OVS connects to nsgate) or openflow.connect (nsgate connects to OVS)"};
  std::string snap_path = snap_override.value_or(config.snapshot_path);
  remove_stale_snapshot_temps(snap_path);

  ctl::RecordingTable table(config.learning.capacity);
  Learner learner(config.learning, table);
  seed_learner(learner, config);
  size_t restored = snap_path.empty() ? 0 : load_snapshot(learner, snap_path, snap_override.has_value());

  ControlStats cstats;
  cstats.snapshot_interval_s = config.snapshot_interval_s;
  DropLog log(config.drop_log, cstats);
  ctl::OfSession session(config, learner, table, [&log](const QueryEvent& ev) { log.write(ev); }, say);
  std::unique_ptr<io::CaptureReader> mirror;
  auto port_filter = [](const std::vector<uint16_t>& ports) {
    std::string filter;
    for (uint16_t p : ports) filter += (filter.empty() ? "" : " or ") + std::string("port ") + std::to_string(p);
    return filter;
  };
  if (!config.openflow.learn_from.empty()) {
    std::string error;
    mirror = io::CaptureReader::live(config.openflow.learn_from, port_filter(config.dns_ports), error);
    if (!mirror) throw Fatal{error + " (openflow.learn_from / --learn-from)", 1};
    if (!pkt::is_supported(mirror->linktype()))
      throw Fatal{config.openflow.learn_from + ": link type " + std::to_string(mirror->linktype()) + " is not one nsgate decodes", 1};
  }

  std::string error;
  std::unique_ptr<ctl::OfListener> listener;
  if (config.openflow.connect.empty()) {
    listener = ctl::OfListener::open(config.openflow.listen, error);
    if (!listener) throw Fatal{error + " (openflow.listen)", 1};
  }
  LearnerView view;
  auto publish = [&] {
    std::lock_guard<std::mutex> lock(view.mu);
    view.counters = learner.counters();
    view.entries = {learner.anchors(), learner.host_statics(), learner.learned_addresses()};
  };
  publish();
  std::unique_ptr<ctl::MetricsExporter> metrics;
  if (!config.metrics_listen.empty()) {
    size_t capacity = config.learning.capacity;
    metrics = ctl::MetricsExporter::start(
        config.metrics_listen, [&] { return shim_metrics(session.stats(), view, cstats, capacity); }, error);
    if (!metrics) throw Fatal{error + " (set metrics.listen, or empty to turn metrics off)", 1};
  }
  install_signal_handlers();
  say(std::string(config.mode == Mode::enforce ? "enforce" : "monitor") + " mode, " +
      (listener ? "listening on " + config.openflow.listen + " (ovs-vsctl set-controller BRIDGE " +
                      config.openflow.listen + ")"
                : "connecting to " + config.openflow.connect) +
      ", tables " + std::to_string(config.openflow.table) + ".." + std::to_string(config.openflow.table + 3) + ", " +
      std::to_string(table.size()) + " addresses (" + std::to_string(restored) + " from " +
      (snap_path.empty() ? "no snapshot" : snap_path) + ")");

  std::unique_ptr<ctl::OfStream> stream;
  auto drop = [&](const std::string& why) {
    say("switch connection closed: " + why);
    stream.reset();
    session.on_disconnect();
  };
  auto read_mirror = [&](TimeNs now) {
    io::Frame f;
    for (int i = 0; mirror && i < 4096 && mirror->next(f); ++i)  // bounded: the switch waits too
      session.on_mirror_frame(static_cast<pkt::LinkType>(mirror->linktype()), now, f.data, f.wire_length);
  };
  TimeNs backoff = kNsPerSec, next_attempt = 0;
  std::string last_connect_error;
  auto next_snapshot = clock_now(CLOCK_MONOTONIC) + static_cast<TimeNs>(config.snapshot_interval_s * 1e9);
  TimeNs last_publish = 0;
  int status = 0;
  of::Buffer discard;
  while (stop_signal == 0) {
    TimeNs now = clock_now(CLOCK_MONOTONIC);
    log.tick(clock_now(CLOCK_REALTIME));  // the events' clock
    if (!stream) {
      int fd = -1;
      if (listener) {
        pollfd p{listener->fd(), POLLIN, 0};
        if (poll(&p, 1, 100) > 0) fd = listener->accept();
      } else if (now >= next_attempt) {
        fd = ctl::connect_to(config.openflow.connect, error);
        if (fd < 0) {
          if (error != last_connect_error) say(error + "; retrying with backoff up to 30 s");
          last_connect_error = error;
          next_attempt = now + backoff;
          backoff = std::min<TimeNs>(backoff * 2, 30 * kNsPerSec);
        }
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      if (fd >= 0) {
        stream = std::make_unique<ctl::OfStream>(fd);
        backoff = kNsPerSec;
        last_connect_error.clear();
        session.on_connect(stream->out(), clock_now(CLOCK_MONOTONIC));
      }
    }
    now = clock_now(CLOCK_MONOTONIC);
    if (stream) {
      pollfd p[2] = {{stream->fd(), static_cast<short>(POLLIN | (stream->pending() ? POLLOUT : 0)), 0},
                     {mirror ? mirror->selectable_fd() : -1, POLLIN, 0}};
      poll(p, 2, session.releases_pending() ? 1 : 20);
      now = clock_now(CLOCK_MONOTONIC);
      bool alive = true;
      if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) alive = stream->receive(error);
      std::span<const std::byte> msg;
      std::string frame_error;
      while (stream->next(msg, frame_error)) session.on_message(msg, stream->out(), now);
      if (!frame_error.empty()) alive = false, error = frame_error;
      read_mirror(now);
      if (alive) session.tick(stream->out(), now);
      if (alive && !session.fatal().empty()) {
        stream->flush(error);
        alive = false;
        error = session.fatal();
      }
      if (alive && !stream->flush(error)) alive = false;
      if (!alive) {
        drop(error);
        if (!listener) next_attempt = now + backoff;
      }
    } else {
      // Without a switch connection the switch still forwards (fail_mode
      // secure keeps its flows) and the mirror still sees responses: what
      // they teach is pushed when the switch is back.
      read_mirror(now);
      session.tick(discard, now);  // learner housekeeping goes on without a switch
      discard.clear();
    }
    if (now - last_publish > kNsPerSec) {  // learned_addresses() walks the table
      publish();
      last_publish = now;
    }
    if (exit_when_synced && session.ready()) {
      std::printf("synced: %zu allow flows in %.3f s (connect to last barrier reply); exiting without a snapshot\n",
                  static_cast<size_t>(session.stats().flows_installed.load()),
                  static_cast<double>(session.stats().last_reconcile_ns.load()) / 1e9);
      break;
    }
    if (!snap_path.empty() && now >= next_snapshot) {
      if (save_snapshot(learner, snap_path, error)) ++cstats.snapshots_written, cstats.snapshot_last_success_unix = std::time(nullptr);
      else ++cstats.snapshot_failures, say(error);
      next_snapshot = now + static_cast<TimeNs>(config.snapshot_interval_s * 1e9);
    }
    if (reopen_requested.exchange(false)) say(log.reopen(error) ? "drop log reopened" : error);
    if (reload_requested.exchange(false)) {
      if (!log.reopen(error)) say("reload: " + error);
      if (!conf_path) {
        say("reload: no configuration file (-c) to reload");
        continue;
      }
      ctl::LoadResult r = ctl::load_config_file_for_reload(*conf_path);
      Config next = r.config;
      overrides(next);
      std::vector<std::string> kept = keep_restart_only(config, next, Enforcer::openflow);
      // Checked as it would run: with the running value of what needs a
      // restart (learn_from), not the file's.
      if (r.ok()) r.errors = validate_openflow_shim(next);
      if (!r.errors.empty()) {
        ++cstats.reloads_failed;
        say("reload of " + *conf_path + " refused, nothing changed:");
        for (const auto& e : r.errors) std::fprintf(stderr, "  %s\n", e.to_string().c_str());
        continue;
      }
      for (const std::string& k : kept) say("reload: " + k + " changed but needs a restart; the running value stays");
      if (mirror && next.dns_ports != config.dns_ports && !mirror->set_filter(port_filter(next.dns_ports), error))
        say("reload: " + error + "; the mirror keeps capturing the old DNS ports");
      learner.set_settings(next.learning);
      learner.replace_statics(next.static_allow);
      log.set_limits(next.drop_log, clock_now(CLOCK_REALTIME));
      config = next;
      cstats.snapshot_interval_s = config.snapshot_interval_s;
      session.apply(config, stream ? stream->out() : discard, now);
      discard.clear();
      ++cstats.reloads_ok;
      say("reloaded " + *conf_path + "; flows re-synchronised");
    }
  }
  if (stop_signal) say("signal " + std::to_string(stop_signal.load()) + ", stopping; the switch keeps its flows (fail_mode=secure)");
  metrics.reset();
  // --exit-when-synced (benchmarks, scripted set-ups) changed nothing worth saving.
  if (!snap_path.empty() && !exit_when_synced) {
    if (save_snapshot(learner, snap_path, error)) {
      say("snapshot written to " + snap_path + " (" + std::to_string(learner.learned_addresses()) + " learned)");
    } else {
      say(error);
      status = 1;
    }
  }
  const ctl::SessionStats& s = session.stats();
  std::fprintf(stderr,
               "ofshim: connects=%llu flow_mods=%llu allow_flows=%llu packet_ins learn=%llu drop_log=%llu "
               "switch_errors=%llu learned=%zu drop_log_lines=%llu\n",
               static_cast<unsigned long long>(s.connects.load()), static_cast<unsigned long long>(s.flow_mods.load()),
               static_cast<unsigned long long>(s.flows_installed.load()),
               static_cast<unsigned long long>(s.packet_in_learn.load()),
               static_cast<unsigned long long>(s.packet_in_log.load()),
               static_cast<unsigned long long>(s.switch_errors.load()), learner.learned_addresses(),
               static_cast<unsigned long long>(cstats.drop_log_written.load()));
  return status;
}

}  // namespace nsgate::app
