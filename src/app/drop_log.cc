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

DropLog::DropLog(const DropLogConfig& c, ControlStats& stats)
    : throttle_(c.rate, c.burst),
      line_([this](const QueryEvent& ev, uint64_t suppressed) { line(ev, suppressed); }),
      stats_(stats) {
  if (c.path.empty()) return;
  if (c.path == "-") {
    out_ = stdout;
    return;
  }
  path_ = c.path;
  out_ = std::fopen(c.path.c_str(), "a");
  if (!out_) throw Fatal{"cannot open drop_log.path " + c.path + ": " + std::strerror(errno), 1};
}

bool DropLog::reopen(std::string& error) {
  if (path_.empty()) return true;
  FILE* next = std::fopen(path_.c_str(), "a");
  if (!next) {
    error = "cannot reopen drop_log.path " + path_ + ": " + std::strerror(errno) + "; still writing to the file opened before";
    return false;
  }
  std::fclose(out_);
  out_ = next;
  return true;
}

DropLog::~DropLog() {
  finish();
  if (out_ && out_ != stdout) std::fclose(out_);
}

void DropLog::finish() { throttle_.flush_all(line_); }

void DropLog::tick(TimeNs now) { throttle_.flush(now, line_); }

void DropLog::line(const QueryEvent& ev, uint64_t suppressed) {
  if (!out_) return;  // no file: the throttle still tracks hosts seen blocked for the first time
  bool ok = std::fprintf(out_, "%s\n", eve_json(ev, suppressed).c_str()) >= 0;
  ok = std::fflush(out_) == 0 && ok;
  if (!ok) {
    // Counted, not fatal: the filter goes on; the next line tries again.
    ++stats_.drop_log_write_errors;
    std::clearerr(out_);
    return;
  }
  ++stats_.drop_log_written;
  stats_.drop_log_suppressed += suppressed;
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
  if (!throttle_.knows(ev.src)) ++stats_.new_blocked_sources;
  throttle_.offer(ev, line_);
}

}  // namespace nsgate::app
