// SPDX-License-Identifier: BSD-3-Clause
// nsgate learn: the NS-record history from captures (the paper's Table I).

#include <algorithm>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "app/common.hh"
#include "core/allow_table.hh"
#include "core/format.hh"
#include "core/learn_session.hh"
#include "core/snapshot.hh"
#include "io/capture.hh"

namespace nsgate::app {

namespace {

enum class Format { table, json, csv };

std::string ttl_string(TimeNs t) { return t == 0 ? "-" : format_time(t); }

using RecordView = Learner::RecordView;

// One history row per line as JSON, appended to `buf`. Names go from their
// wire form through one reused string: a string per name and row was most
// of building the rows (tools/bench/learn).
void append_json_rows(const std::vector<RecordView>& learned, std::span<const uint32_t> rows, std::string& buf) {
  std::string text;
  auto name = [&](std::string_view wire) {
    text.clear();
    NamePool::append_text(text, wire);
    append_json_string(buf, text);
  };
  for (uint32_t i : rows) {
    const RecordView& p = learned[i];
    buf += "{\"address\":\"";
    p.address.append_to(buf);
    buf += "\",\"family\":";
    buf += p.address.is_v4() ? '4' : '6';
    buf += ",\"zone\":";
    name(p.zone);
    buf += ",\"ns\":";
    name(p.ns);
    buf += ",\"ns_ttl\":";
    buf += std::to_string(p.ns_ttl);
    buf += ",\"addr_ttl\":";
    buf += std::to_string(p.addr_ttl);
    buf += ",\"expires\":\"";
    append_time(buf, p.expires);
    buf += "\",\"query_time\":";
    if (p.query_time) {
      buf += '"';
      append_time(buf, p.query_time);
      buf += '"';
    } else {
      buf += "null";
    }
    buf += ",\"query_id\":";
    buf += std::to_string(p.query_id);
    buf += ",\"query_name\":";
    name(p.query_name);
    buf += ",\"response_time\":\"";
    append_time(buf, p.response_time);
    buf += "\",\"server\":\"";
    p.server.append_to(buf);
    buf += "\"}\n";
  }
}

// Rows are learned[order[0]], learned[order[1]], ...
void print_history(const std::vector<RecordView>& learned, const std::vector<uint32_t>& order, Format f,
                   FILE* out) {
  if (f == Format::json) {
    // Formatted in pairs of chunks, the second on another thread, written
    // in order: formatting was most of printing (tools/bench/learn), and
    // the records are only read here. Buffers are reused from pair to pair.
    constexpr size_t kChunk = 4096;
    std::string first, second;
    std::span<const uint32_t> rest(order);
    while (!rest.empty()) {
      std::span<const uint32_t> a = rest.first(std::min(kChunk, rest.size()));
      rest = rest.subspan(a.size());
      std::span<const uint32_t> b = rest.first(std::min(kChunk, rest.size()));
      rest = rest.subspan(b.size());
      first.clear();
      second.clear();
      std::thread other;
      if (!b.empty()) {
        try {
          other = std::thread([&] { append_json_rows(learned, b, second); });
        } catch (const std::system_error&) {
          append_json_rows(learned, b, second);  // no thread to be had: format it here
        }
      }
      append_json_rows(learned, a, first);
      if (other.joinable()) other.join();
      std::fwrite(first.data(), 1, first.size(), out);
      std::fwrite(second.data(), 1, second.size(), out);
    }
    return;
  }
  const char* cols[] = {"address", "family", "zone",       "ns",         "ns_ttl",        "addr_ttl",
                        "expires", "query_time", "query_id", "query_name", "response_time", "server"};
  std::vector<std::vector<std::string>> table;
  for (uint32_t i : order) {
    const Provenance p = learned[i].provenance();
    table.push_back({p.address.to_string(), "ipv" + std::to_string(p.address.family()), p.zone, p.ns,
                     std::to_string(p.ns_ttl), std::to_string(p.addr_ttl), format_time(p.expires),
                     ttl_string(p.query_time), std::to_string(p.query_id), p.query_name,
                     format_time(p.response_time), p.server.to_string()});
  }
  if (f == Format::csv) {
    auto csv = [](const std::string& s) {
      // A name is whatever a query asked: one that starts like a formula
      // gets a leading ' so that a spreadsheet shows it, not runs it.
      bool formula = !s.empty() && std::string_view("=+-@\t\r").find(s.front()) != std::string_view::npos;
      if (!formula && s.find_first_of(",\"\n\r") == std::string::npos) return s;
      std::string q = formula ? "\"'" : "\"";
      for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
      return q + "\"";
    };
    for (size_t i = 0; i < 12; ++i) std::fprintf(out, "%s%s", i ? "," : "", cols[i]);
    std::fputc('\n', out);
    for (const auto& r : table) {
      for (size_t i = 0; i < r.size(); ++i) std::fprintf(out, "%s%s", i ? "," : "", csv(r[i]).c_str());
      std::fputc('\n', out);
    }
    return;
  }
  std::vector<size_t> width(12);
  for (size_t i = 0; i < 12; ++i) width[i] = std::string(cols[i]).size();
  for (const auto& r : table)
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  for (size_t i = 0; i < 12; ++i) std::fprintf(out, "%-*s%s", static_cast<int>(width[i]), cols[i], i < 11 ? "  " : "\n");
  for (const auto& r : table)
    for (size_t i = 0; i < r.size(); ++i)
      std::fprintf(out, "%-*s%s", static_cast<int>(width[i]), r[i].c_str(), i < 11 ? "  " : "\n");
}

// `where`: the capture's name and the number of frames read before it,
// when there are several captures (frames are numbered per capture).
struct ExplainPlace {
  std::string capture;
  uint64_t frames_before = 0;
};

void print_explain(const DnsMessageEvent& ev, const DnsContext& ctx, const Explanation& ex, FILE* out,
                   const ExplainPlace* where) {
  if (where) std::fprintf(out, "%s ", where->capture.c_str());
  std::fprintf(out, "frame %llu %s response %s:%u -> %s:%u%s\n",
               static_cast<unsigned long long>(ev.frame - (where ? where->frames_before : 0)),
               format_time(ev.time).c_str(),
               ctx.server.to_string().c_str(), ctx.server_port, ctx.client.to_string().c_str(),
               ctx.client_port, ev.tcp ? " tcp" : "");
  if (ex.refused) {
    std::fprintf(out, "  taught nothing: %s (%s)\n", to_string(*ex.refused), describe(*ex.refused));
    return;
  }
  if (ex.items.empty()) std::fprintf(out, "  no NS or address records to learn from\n");
  for (const ExplainItem& it : ex.items) {
    char tb[12];
    bool good = it.event == LearnEvent::added || it.event == LearnEvent::refreshed ||
                it.event == LearnEvent::pending;
    std::fprintf(out, "  %-10s %s %s %s: %s%s%s%s\n", dns::to_string(it.section), it.owner.c_str(),
                 dns::type_name(it.rtype, tb), it.data.c_str(), to_string(it.event),
                 it.zone.empty() ? "" : (" for zone " + it.zone).c_str(), good ? "" : " - ",
                 good ? "" : describe(it.event));
  }
}

void print_summary(const LearnSession& s, const Learner& l, size_t rows, FILE* out) {
  const ExtractStats& x = s.extract_stats();
  std::fprintf(out, "summary:\n");
  std::fprintf(out, "  packets: %llu (decode errors %llu, not DNS %llu, IP fragments %llu, cut by snap length %llu)\n",
               static_cast<unsigned long long>(x.frames), static_cast<unsigned long long>(x.decode_errors()),
               static_cast<unsigned long long>(x.not_dns), static_cast<unsigned long long>(x.fragments),
               static_cast<unsigned long long>(x.cut_packets));
  std::fprintf(out, "  dns messages: %llu (udp %llu, tcp %llu); queries %llu, responses %llu, responses learned from %llu\n",
               static_cast<unsigned long long>(x.dns_messages()), static_cast<unsigned long long>(x.udp_messages),
               static_cast<unsigned long long>(x.tcp_messages), static_cast<unsigned long long>(l.queries_seen()),
               static_cast<unsigned long long>(l.responses_seen()),
               static_cast<unsigned long long>(l.responses_taught()));
  std::fprintf(out, "  entries: %zu rows, %zu learned addresses, %zu anchors, %zu static\n", rows,
               l.learned_addresses(), l.anchors(), l.statics());
  std::string events;
  for (size_t i = 0; i < kLearnEventCount; ++i)
    if (l.counters()[i])
      events += std::string(" ") + to_string(static_cast<LearnEvent>(i)) + "=" + std::to_string(l.counters()[i]);
  std::fprintf(out, "  learn events:%s\n", events.empty() ? " none" : events.c_str());
  std::string decode;
  for (size_t i = 0; i < x.decode.size(); ++i) {
    auto r = static_cast<pkt::DecodeResult>(i);
    if (r != pkt::DecodeResult::ok && r != pkt::DecodeResult::not_ip && x.decode[i])
      decode += std::string(" ") + pkt::to_string(r) + "=" + std::to_string(x.decode[i]);
  }
  std::fprintf(out, "  decode errors:%s\n", decode.empty() ? " none" : decode.c_str());
  const LearnStats& st = s.stats();
  std::fprintf(out, "  parse errors: truncated=%llu malformed=%llu unsupported=%llu",
               static_cast<unsigned long long>(st.parse_errors(dns::ErrorKind::truncated)),
               static_cast<unsigned long long>(st.parse_errors(dns::ErrorKind::malformed)),
               static_cast<unsigned long long>(st.parse_errors(dns::ErrorKind::unsupported)));
  std::string faults;
  for (size_t i = 1; i < st.parse_faults.size(); ++i)
    if (st.parse_faults[i])
      faults += std::string(" ") + dns::to_string(static_cast<dns::Fault>(i)) + "=" + std::to_string(st.parse_faults[i]);
  std::fprintf(out, "%s%s%s\n", faults.empty() ? "" : " (", faults.empty() ? "" : faults.c_str() + 1,
               faults.empty() ? "" : ")");
  if (x.tcp_gaps || x.tcp_streams_evicted)
    std::fprintf(out, "  tcp: %llu gaps, %llu streams evicted\n", static_cast<unsigned long long>(x.tcp_gaps),
                 static_cast<unsigned long long>(x.tcp_streams_evicted));
}

}  // namespace

int cmd_learn(Args& args) {
  auto conf_path = args.value({"-c", "--config"});
  auto snapshot_out = args.value({"--snapshot", "-o"});
  std::string format_name = args.value({"--format", "-f"}).value_or("table");
  bool explain = args.flag({"--explain"});
  bool relaxed = args.flag({"--no-query-match"});
  std::vector<std::string> captures = args.positional();
  if (captures.empty()) throw Fatal{"no capture given (usage: nsgate learn [-c CONF] CAPTURE...)"};
  Format format = format_name == "json" ? Format::json : format_name == "csv" ? Format::csv : Format::table;
  if (format_name != "json" && format_name != "csv" && format_name != "table")
    throw Fatal{"--format must be table, json or csv"};

  Config config = load_config(conf_path);
  if (relaxed) config.learning.require_query_match = false;

  // No table: nothing reads one here (the learner answers rule 2 from its
  // own records), so neither rte_hash and the EAL it needs (EAL start-up
  // and the rte_hash writes were an eighth of tools/bench/learn) nor a
  // plain map copy is written. Same rules, same capacity, same history.
  std::string error;
  auto table = std::make_unique<NoTable>();

  // The table and the learner are deliberately not torn down: the process
  // ends when this command returns, and freeing them cost more than printing
  // the history. Released at the end of this function.
  auto owned_learner = std::make_unique<Learner>(config.learning, *table);
  Learner& learner = *owned_learner;
  seed_learner(learner, config);
  FILE* text_out = format == Format::table ? stdout : stderr;
  LearnSession::ExplainSink sink;
  // With several captures, each explanation names its capture and the
  // frame's number in it (the sink runs as each frame is fed).
  ExplainPlace place;
  uint64_t frames_fed = 0;
  bool several = captures.size() > 1;
  if (explain)
    sink = [&](const DnsMessageEvent& ev, const DnsContext& ctx, const Explanation& ex) {
      print_explain(ev, ctx, ex, text_out, several ? &place : nullptr);
    };
  // Two threads unless explaining: reading and parsing beside learning
  // (tools/bench/learn); the explanations need each message's packet.
  LearnSession session(learner, config.dns_ports, sink, /*pipelined=*/true);

  int status = for_each_frame(
                   "learn", captures,
                   [&](pkt::LinkType link, const io::Frame& f) {
                     ++frames_fed;
                     session.feed(link, f.time, f.data, f.wire_length);
                   },
                   [&](const std::string& path) { place = {path, frames_fed}; })
                   ? 1
                   : 0;
  session.finish(session.last_time());

  std::vector<RecordView> learned = learner.learned_views(2);
  // Sorted as compact keys, the records looked up only to break a tie:
  // moving whole records, or reaching into them for every comparison, was
  // most of the sort's time.
  struct SortKey {
    TimeNs response_time;
    IpAddress address;
    uint32_t index;
  };
  std::vector<SortKey> keys(learned.size());
  for (uint32_t i = 0; i < keys.size(); ++i) keys[i] = {learned[i].response_time, learned[i].address, i};
  std::sort(keys.begin(), keys.end(), [&](const SortKey& a, const SortKey& b) {
    if (a.response_time != b.response_time) return a.response_time < b.response_time;
    if (a.address != b.address) return a.address < b.address;
    std::string zone_a, zone_b;  // the zones' text, as Provenance orders them
    NamePool::append_text(zone_a, learned[a.index].zone);
    NamePool::append_text(zone_b, learned[b.index].zone);
    return zone_a < zone_b;
  });
  std::vector<uint32_t> order(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) order[i] = keys[i].index;
  // Printed and saved through the index: a sorted copy of 250 k records
  // was 50 MB more to fault in (tools/bench/learn).
  print_history(learned, order, format, stdout);
  if (format == Format::table) std::fputc('\n', stdout);
  print_summary(session, learner, order.size(), text_out);

  if (snapshot_out && status != 0) {
    // What it would hold misses what the unreadable captures held: an
    // earlier snapshot at that path is worth more.
    std::fprintf(stderr, "nsgate learn: snapshot not written to %s: a capture could not be read whole\n",
                 snapshot_out->c_str());
  } else if (snapshot_out) {
    snapshot::Contents c;
    c.taken_at = session.last_time();
    c.entries.reserve(order.size());
    for (uint32_t i : order) c.entries.push_back(learned[i].provenance());
    if (!snapshot::write_file(*snapshot_out, c, error)) {
      std::fprintf(stderr, "nsgate learn: %s\n", error.c_str());
      return 1;
    }
    std::fprintf(text_out, "snapshot: %zu entries written to %s\n", c.entries.size(), snapshot_out->c_str());
  }
  (void)owned_learner.release();
  (void)table.release();
  return status;
}

}  // namespace nsgate::app
