// SPDX-License-Identifier: BSD-3-Clause
#include "app/run_metrics.hh"

#include <ctime>
#include <limits>

namespace nsgate::app {

namespace {
MetricFamilyData family(std::string name, std::string help, bool counter) {
  return MetricFamilyData{std::move(name), std::move(help), counter, {}, std::nullopt};
}
MetricSample sample(double v, std::vector<std::pair<std::string, std::string>> labels = {}) {
  return MetricSample{std::move(labels), v};
}
}  // namespace

std::vector<MetricFamilyData> run_metrics(const dp::Dataplane& d, const ControlStats& c, size_t capacity) {
  std::vector<MetricFamilyData> out;
  dp::WorkerCounters t = d.totals();

  auto info = family("nsgate_build_info", "nsgate version (value is always 1)", false);
  info.samples.push_back(sample(1, {{"version", "0.1.0"}, {"enforcer", "dpdk"}}));
  out.push_back(std::move(info));

  // One family per data-path counter, named from the X-macro list.
  for (size_t i = 0; i < dp::kCounterCount; ++i) {
    auto k = static_cast<dp::Counter>(i);
    auto f = family(std::string("nsgate_") + dp::to_string(k) + "_total", dp::describe(k), true);
    f.samples.push_back(sample(static_cast<double>(t.c[i])));
    out.push_back(std::move(f));
  }
  auto lost = family("nsgate_held_lost_total", "Held DNS responses freed: the ring back to the workers was full", true);
  lost.samples.push_back(sample(static_cast<double>(d.held_lost())));
  out.push_back(std::move(lost));
  auto verdicts = family("nsgate_verdicts_total", "Packets from the inside port by verdict", true);
  for (size_t i = 0; i < kVerdictCount; ++i)
    verdicts.samples.push_back(sample(static_cast<double>(t.verdicts[i]), {{"verdict", to_string(static_cast<Verdict>(i))}}));
  out.push_back(std::move(verdicts));

  LearnCounters lc = d.learn_counters();
  auto learn = family("nsgate_learn_events_total", "Learner results by event: added, refreshed, and each refusal rule", true);
  for (size_t i = 0; i < kLearnEventCount; ++i)
    learn.samples.push_back(sample(static_cast<double>(lc[i]), {{"event", to_string(static_cast<LearnEvent>(i))}}));
  out.push_back(std::move(learn));

  auto busy = family("nsgate_worker_busy_ratio", "Share of worker loop iterations that received packets", false);
  uint64_t polls = t.get(dp::Counter::polls);
  busy.samples.push_back(sample(polls ? static_cast<double>(t.get(dp::Counter::busy_polls)) / static_cast<double>(polls) : 0));
  out.push_back(std::move(busy));

  auto [parse, extract] = d.learn_input_stats();
  auto perr = family("nsgate_parse_errors_total", "DNS messages the learner could not parse, by kind", true);
  for (dns::ErrorKind k : {dns::ErrorKind::truncated, dns::ErrorKind::malformed, dns::ErrorKind::unsupported})
    perr.samples.push_back(sample(static_cast<double>(parse.parse_errors(k)), {{"kind", dns::to_string(k)}}));
  out.push_back(std::move(perr));
  auto derr = family("nsgate_decode_errors_total", "Packets the learner could not decode, by reason", true);
  for (size_t i = 0; i < extract.decode.size(); ++i) {
    auto r = static_cast<pkt::DecodeResult>(i);
    if (r == pkt::DecodeResult::ok || r == pkt::DecodeResult::not_ip) continue;
    derr.samples.push_back(sample(static_cast<double>(extract.decode[i]), {{"reason", pkt::to_string(r)}}));
  }
  out.push_back(std::move(derr));
  // TCP streams the learner dropped to make room (a flood of segments from
  // port 53 shows here), and holes it gave up on.
  auto tcp = family("nsgate_learn_tcp_streams_evicted_total",
                    "TCP streams the learner dropped to make room, with what they held", true);
  tcp.samples.push_back(sample(static_cast<double>(extract.tcp_streams_evicted)));
  out.push_back(std::move(tcp));
  auto gaps = family("nsgate_learn_tcp_gaps_total", "Holes in TCP streams the learner gave up on", true);
  gaps.samples.push_back(sample(static_cast<double>(extract.tcp_gaps)));
  out.push_back(std::move(gaps));

  auto entries = family("nsgate_table_entries", "Addresses in the TTL table, by kind", false);
  auto kinds = d.entries_by_kind();
  entries.samples.push_back(sample(static_cast<double>(kinds[0]), {{"kind", "anchor"}}));
  entries.samples.push_back(sample(static_cast<double>(kinds[1]), {{"kind", "static"}}));
  entries.samples.push_back(sample(static_cast<double>(kinds[2]), {{"kind", "learned"}}));
  out.push_back(std::move(entries));
  auto cap = family("nsgate_table_capacity", "Addresses the TTL table can hold", false);
  cap.samples.push_back(sample(static_cast<double>(capacity)));
  out.push_back(std::move(cap));

  LearnDelay ld = d.learn_delay();
  auto delay = family("nsgate_learn_to_enforce_seconds_max", "Longest delay from a worker receiving a teaching response to the table update", false);
  delay.samples.push_back(sample(static_cast<double>(ld.max) / 1e9));
  out.push_back(std::move(delay));
  // The same delays by power-of-two microseconds (the learner's own buckets).
  auto delays = family("nsgate_learn_to_enforce_seconds",
                       "Delay from a worker receiving a teaching response to the table update", false);
  MetricHistogram h;
  uint64_t cumulative = 0;
  for (size_t b = 0; b < ld.log2_us.size(); ++b) {
    cumulative += ld.log2_us[b];
    bool last = b + 1 == ld.log2_us.size();  // also holds everything longer
    h.buckets.emplace_back(last ? std::numeric_limits<double>::infinity() : static_cast<double>(LearnDelay::bound(b)) / 1e9,
                           cumulative);
  }
  h.count = ld.count;
  h.sum = static_cast<double>(ld.total) / 1e9;
  delays.histogram = std::move(h);
  out.push_back(std::move(delays));

  auto pkts = family("nsgate_port_packets_total", "Packets per port and direction (device statistics)", true);
  auto bytes = family("nsgate_port_bytes_total", "Bytes per port and direction (device statistics)", true);
  auto errs = family("nsgate_port_errors_total", "Device receive errors, receive misses and transmit errors", true);
  auto link = family("nsgate_port_link_up", "1 when the port's link is up", false);
  for (const dp::PortStats& p : d.port_stats()) {
    const std::string& role = p.role;
    pkts.samples.push_back(sample(static_cast<double>(p.ipackets), {{"port", role}, {"direction", "rx"}}));
    pkts.samples.push_back(sample(static_cast<double>(p.opackets), {{"port", role}, {"direction", "tx"}}));
    bytes.samples.push_back(sample(static_cast<double>(p.ibytes), {{"port", role}, {"direction", "rx"}}));
    bytes.samples.push_back(sample(static_cast<double>(p.obytes), {{"port", role}, {"direction", "tx"}}));
    errs.samples.push_back(sample(static_cast<double>(p.ierrors), {{"port", role}, {"kind", "rx_error"}}));
    errs.samples.push_back(sample(static_cast<double>(p.imissed), {{"port", role}, {"kind", "rx_missed"}}));
    errs.samples.push_back(sample(static_cast<double>(p.oerrors), {{"port", role}, {"kind", "tx_error"}}));
    link.samples.push_back(sample(p.link_up ? 1 : 0, {{"port", role}}));
  }
  out.push_back(std::move(pkts));
  out.push_back(std::move(bytes));
  out.push_back(std::move(errs));
  out.push_back(std::move(link));

  auto log_written = family("nsgate_drop_log_lines_total", "Lines written to the drop log", true);
  log_written.samples.push_back(sample(static_cast<double>(c.drop_log_written.load())));
  out.push_back(std::move(log_written));
  auto log_err = family("nsgate_drop_log_write_errors_total", "Drop-log lines that could not be written (a full disk): lost", true);
  log_err.samples.push_back(sample(static_cast<double>(c.drop_log_write_errors.load())));
  out.push_back(std::move(log_err));
  auto log_sup = family("nsgate_drop_log_suppressed_total", "Drop and alert events with no drop-log line of their own (counted in a later line's suppressed)", true);
  log_sup.samples.push_back(sample(static_cast<double>(c.drop_log_suppressed.load())));
  out.push_back(std::move(log_sup));
  auto fresh = family("nsgate_blocked_sources_new_total",
                      "Inside hosts blocked (or alerted) that the drop log had not seen recently: likely newly infected", true);
  fresh.samples.push_back(sample(static_cast<double>(c.new_blocked_sources.load())));
  out.push_back(std::move(fresh));
  auto reloads = family("nsgate_reloads_total", "Configuration reloads (SIGHUP), by result", true);
  reloads.samples.push_back(sample(static_cast<double>(c.reloads_ok.load()), {{"result", "ok"}}));
  reloads.samples.push_back(sample(static_cast<double>(c.reloads_failed.load()), {{"result", "error"}}));
  out.push_back(std::move(reloads));
  auto snaps = family("nsgate_snapshots_total", "Snapshots written, by result", true);
  snaps.samples.push_back(sample(static_cast<double>(d.snapshots_written()), {{"result", "ok"}}));
  snaps.samples.push_back(sample(static_cast<double>(c.snapshot_failures.load()), {{"result", "error"}}));
  out.push_back(std::move(snaps));
  auto age = family("nsgate_snapshot_age_seconds", "Seconds since the last snapshot was written (-1: none yet)", false);
  int64_t last = c.snapshot_last_success_unix.load();
  age.samples.push_back(sample(last ? static_cast<double>(std::time(nullptr) - last) : -1));
  out.push_back(std::move(age));
  auto interval = family("nsgate_snapshot_interval_seconds", "snapshot.interval: seconds between snapshots", false);
  interval.samples.push_back(sample(c.snapshot_interval_s.load()));
  out.push_back(std::move(interval));
  return out;
}

}  // namespace nsgate::app
