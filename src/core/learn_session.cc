// SPDX-License-Identifier: BSD-3-Clause
#include "core/learn_session.hh"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>

namespace nsgate {

uint64_t LearnStats::parse_errors(dns::ErrorKind k) const {
  uint64_t n = 0;
  for (size_t i = 0; i < parse_faults.size(); ++i)
    if (dns::kind_of(static_cast<dns::Fault>(i)) == k) n += parse_faults[i];
  return n;
}

DnsContext context_of(const DnsMessageEvent& ev) {
  const pkt::Packet& p = *ev.packet;
  bool response = ev.message.size() > 2 && (std::to_integer<uint8_t>(ev.message[2]) & 0x80);
  DnsContext c;
  if (response) {
    c.server = p.src;
    c.server_port = p.sport;
    c.client = p.dst;
    c.client_port = p.dport;
  } else {
    c.client = p.src;
    c.client_port = p.sport;
    c.server = p.dst;
    c.server_port = p.dport;
  }
  c.tcp = ev.tcp;
  // A cut packet is as incomplete as a fragment: it must not teach.
  c.fragment = p.fragment || p.cut;
  c.time = ev.time;
  return c;
}

// The hand-over between the reading thread (feed) and the applying thread:
// batches of steps, filled in input order, applied in the same order.
// Batches are reused, so a step's parsed message keeps its vectors' memory.
class LearnSession::Pipeline {
 public:
  struct Step {
    bool housekeeping = false;  // else a parsed message
    TimeNs time = 0;            // housekeeping's time
    DnsContext ctx;
    ParsedMessage parsed;
  };

  explicit Pipeline(Learner& learner) : learner_(learner) {
    for (auto& b : batches_) {
      b.steps.resize(kSteps);
      free_.push_back(&b);
    }
    applier_ = std::thread([this] { apply_loop(); });
  }
  ~Pipeline() { close(); }

  // The next step to fill (reading thread); waits while every batch is
  // queued or being applied.
  Step& next() {
    if (!filling_ || filling_->used == kSteps) {
      submit();
      std::unique_lock lock(mu_);
      to_reader_.wait(lock, [this] { return !free_.empty(); });
      filling_ = free_.front();
      free_.pop_front();
    }
    return filling_->steps[filling_->used++];
  }
  // Takes back the step next() just gave (it turned out to have nothing
  // for the applying thread).
  void retract() { --filling_->used; }

  // Applies everything filled so far and stops the applying thread.
  void close() {
    if (!applier_.joinable()) return;
    submit();
    {
      std::lock_guard lock(mu_);
      closing_ = true;
    }
    to_applier_.notify_one();
    applier_.join();
  }
  std::exception_ptr error() const { return error_; }

 private:
  // 8 x 1024 steps: enough that neither thread waits on the other's
  // jitter, few enough to stay in the caches (a step is ~400 bytes).
  static constexpr size_t kSteps = 1024, kBatches = 8;
  struct Batch {
    std::vector<Step> steps;
    size_t used = 0;
  };

  static constexpr size_t kStepsAhead = 8, kRecordsAhead = 4;
  static void prefetch_records(const ParsedMessage& m) {
    // A referral has up to 13 NS records (two to a cache line), about as
    // many addresses, and a name for each target; a name's octets start
    // in its first line.
    auto lines = [](const auto& v) {
      const char* p = reinterpret_cast<const char*>(v.data());
      size_t bytes = std::min<size_t>(v.size() * sizeof(v[0]), 16 * 64);
      for (size_t at = 0; at < bytes; at += 64) __builtin_prefetch(p + at);
    };
    lines(m.ns);
    lines(m.addresses);
    for (size_t k = 0; k < m.names.size() && k < 16; ++k) __builtin_prefetch(&m.names[k]);
  }

  void submit() {
    if (!filling_ || filling_->used == 0) return;
    {
      std::lock_guard lock(mu_);
      queued_.push_back(filling_);
    }
    filling_ = nullptr;
    to_applier_.notify_one();
  }

  void apply_loop() {
    for (;;) {
      Batch* b;
      {
        std::unique_lock lock(mu_);
        to_applier_.wait(lock, [this] { return !queued_.empty() || closing_; });
        if (queued_.empty()) return;
        b = queued_.front();
        queued_.pop_front();
      }
      // After a failure the rest is only recycled: the reader must not
      // wait forever for a batch, and finish() reports the failure.
      if (!error_) {
        try {
          for (size_t i = 0; i < b->used; ++i) {
            Step& s = b->steps[i];
            // The steps were written on the other core: start fetching them
            // ahead (the step, then its records), and the index buckets of
            // the next ones: two steps ahead, then, one step ahead, what
            // those buckets point to (Learner::prefetch reads its records).
            if (i + kStepsAhead < b->used) __builtin_prefetch(&b->steps[i + kStepsAhead]);
            if (i + kRecordsAhead < b->used) prefetch_records(b->steps[i + kRecordsAhead].parsed);
            if (i + 2 < b->used && !b->steps[i + 2].housekeeping)
              learner_.prefetch(b->steps[i + 2].ctx, b->steps[i + 2].parsed);
            if (i + 1 < b->used && !b->steps[i + 1].housekeeping) learner_.prefetch_entries(b->steps[i + 1].parsed);
            if (s.housekeeping)
              learner_.expire(s.time);
            else
              learner_.apply(s.ctx, s.parsed, nullptr);
          }
        } catch (...) {
          error_ = std::current_exception();
        }
      }
      b->used = 0;
      {
        std::lock_guard lock(mu_);
        free_.push_back(b);
      }
      to_reader_.notify_one();
    }
  }

  Learner& learner_;
  std::array<Batch, kBatches> batches_;
  Batch* filling_ = nullptr;  // reading thread only
  std::mutex mu_;
  std::condition_variable to_applier_, to_reader_;
  std::deque<Batch*> queued_, free_;
  bool closing_ = false;
  std::exception_ptr error_;  // written by the applying thread, read after join
  std::thread applier_;
};

LearnSession::LearnSession(Learner& learner, std::vector<uint16_t> dns_ports, ExplainSink explain,
                           bool pipelined)
    : learner_(learner), extractor_(std::move(dns_ports)), explain_(std::move(explain)) {
  if (pipelined && !explain_) {
    try {
      pipeline_ = std::make_unique<Pipeline>(learner_);
    } catch (const std::system_error&) {
      // No thread to be had (resource limits): one thread gives the same result.
    }
  }
}

LearnSession::~LearnSession() = default;  // the pipeline joins its thread first

void LearnSession::housekeeping(TimeNs time) {
  if (!pipeline_) {
    learner_.housekeeping(time);
    return;
  }
  learner_.sweep_queries(time);
  Pipeline::Step& s = pipeline_->next();
  s.housekeeping = true;
  s.time = time;
}

void LearnSession::feed(pkt::LinkType link, TimeNs time, std::span<const std::byte> frame,
                        size_t wire_length, Origin origin) {
  last_time_ = std::max(last_time_, time);
  if (last_time_ - last_housekeeping_ >= kNsPerSec) {
    housekeeping(last_time_);
    last_housekeeping_ = last_time_;
  }
  extractor_.feed(link, time, frame, [&](const DnsMessageEvent& ev) {
    DnsContext ctx = context_of(ev);
    ctx.origin = origin;
    if (pipeline_) {
      // on_message's steps split across the threads: parse and track
      // here, apply there (a query has nothing left to apply).
      Pipeline::Step& s = pipeline_->next();
      s.housekeeping = false;
      s.ctx = ctx;
      ++stats_.parse_faults[static_cast<size_t>(learner_.parse(ctx, ev.message, s.parsed))];
      learner_.track(ctx, s.parsed);
      if (s.parsed.kind == ParsedMessage::Kind::query && !s.parsed.tracker_swept) pipeline_->retract();
      return;
    }
    bool response = ev.message.size() > 2 && (std::to_integer<uint8_t>(ev.message[2]) & 0x80);
    Explanation ex;
    dns::Fault f = learner_.on_message(ctx, ev.message, explain_ && response ? &ex : nullptr);
    ++stats_.parse_faults[static_cast<size_t>(f)];
    if (explain_ && response) explain_(ev, ctx, ex);
  }, wire_length);
}

size_t restore_snapshot(Learner& learner, const std::vector<Provenance>& entries, TimeNs wall_now, TimeNs offset) {
  size_t n = 0;
  learner.reserve(entries.size());
  for (Provenance p : entries) {
    if (p.expires <= wall_now) continue;
    snapshot::shift_clock(p, -offset);
    n += learner.restore(p, wall_now == 0 ? 0 : wall_now - offset);
  }
  return n;
}

namespace {
template <class ForEach>
snapshot::Contents contents(ForEach for_each, TimeNs wall_now, TimeNs offset) {
  snapshot::Contents c;
  c.taken_at = wall_now;
  for_each([&](Provenance&& p) {
    snapshot::shift_clock(p, offset);
    c.entries.push_back(std::move(p));
  });
  return c;
}
}  // namespace

snapshot::Contents snapshot_of(const Learner& learner, TimeNs wall_now, TimeNs offset) {
  return contents([&](const auto& fn) { learner.for_each_learned(fn); }, wall_now, offset);
}

snapshot::Contents snapshot_of(const Learner::Frozen& frozen, TimeNs wall_now, TimeNs offset) {
  return contents([&](const auto& fn) { frozen.for_each(fn); }, wall_now, offset);
}

void LearnSession::finish(TimeNs time) {
  if (pipeline_) {
    pipeline_->close();
    std::exception_ptr error = pipeline_->error();
    pipeline_.reset();
    if (error) std::rethrow_exception(error);
  }
  last_time_ = std::max(last_time_, time);
  learner_.housekeeping(last_time_);
}

}  // namespace nsgate
