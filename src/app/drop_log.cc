// SPDX-License-Identifier: BSD-3-Clause
#include "app/drop_log.hh"

#include <cerrno>
#include <cstring>

#include "app/common.hh"

namespace nsgate::app {

namespace {
bool is_pass(Verdict v) {
  return v == Verdict::pass_anchor || v == Verdict::pass_learned || v == Verdict::pass_static ||
         v == Verdict::pass_trusted_source;
}
}  // namespace

DropLog::DropLog(const DropLogConfig& c, ControlStats& stats) : limiter_(c.rate, c.burst), stats_(stats) {
  if (c.path.empty()) return;
  out_ = c.path == "-" ? stdout : std::fopen(c.path.c_str(), "a");
  if (!out_) throw Fatal{"cannot open drop_log.path " + c.path + ": " + std::strerror(errno), 1};
}

DropLog::~DropLog() {
  if (out_ && out_ != stdout) std::fclose(out_);
}

std::pair<std::vector<std::string>, std::vector<std::string>> DropLog::top(size_t n, TimeNs now) {
  std::lock_guard<std::mutex> lock(top_mu_);
  auto fmt = [](const TopTalkers::Ranking& r) {
    std::vector<std::string> out;
    for (const auto& [a, c] : r) out.push_back(a.to_string() + " " + std::to_string(c));
    return out;
  };
  return {fmt(top_.top_sources(n, now)), fmt(top_.top_destinations(n, now))};
}

void DropLog::write(const QueryEvent& ev) {
  if (is_pass(ev.verdict)) return;
  {
    std::lock_guard<std::mutex> lock(top_mu_);
    top_.add(ev.src, ev.dst, ev.time);
  }
  uint64_t suppressed = 0;
  if (!limiter_.knows(ev.src)) ++stats_.new_blocked_sources;
  bool allowed = limiter_.allow(ev.src, ev.time, suppressed);
  if (!out_) return;  // no file: the limiter still tracks hosts seen blocked for the first time
  if (!allowed) {
    ++stats_.drop_log_suppressed;
    return;
  }
  std::fprintf(out_, "%s\n", eve_json(ev, suppressed).c_str());
  std::fflush(out_);
  ++stats_.drop_log_written;
}

}  // namespace nsgate::app
