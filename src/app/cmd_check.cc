// SPDX-License-Identifier: BSD-3-Clause
// nsgate check: would a query to this address pass, and why.

#include <ctime>
#include <cstdio>
#include <map>

#include "app/common.hh"
#include "core/format.hh"
#include "core/snapshot.hh"
#include "ctl/config_yaml.hh"

namespace nsgate::app {

int cmd_check(Args& args) {
  auto conf_path = args.value({"-c", "--config"});
  auto snap_path = args.value({"--snapshot", "-s"});
  std::string at_text = args.value({"--at"}).value_or("now");
  std::string format = args.value({"--format", "-f"}).value_or("text");
  if (format != "text" && format != "json") throw Fatal{"--format must be text or json"};
  std::vector<std::string> addresses = args.positional();
  if (addresses.empty()) throw Fatal{"no address given (usage: nsgate check --snapshot FILE ADDRESS...)"};
  if (!snap_path) throw Fatal{"--snapshot FILE is required (usage: nsgate check --snapshot FILE ADDRESS...)"};
  // Every address checked before any verdict: a typo must not leave the
  // ones after it unanswered behind a partial list.
  std::vector<IpAddress> parsed;
  for (const std::string& text : addresses) {
    auto addr = IpAddress::parse(text);
    if (!addr) throw Fatal{"'" + text + "' is not an IPv4 or IPv6 address"};
    parsed.push_back(*addr);
  }

  Config config = load_config(conf_path);
  snapshot::Contents snap;
  std::string error;
  if (!snapshot::read_file(*snap_path, snap, error)) throw Fatal{"snapshot refused: " + error, 1};
  TimeNs at = 0;
  if (at_text == "now") {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    at = TimeNs{ts.tv_sec} * kNsPerSec + ts.tv_nsec;
  } else if (at_text == "snapshot") {
    at = snap.taken_at;
  } else {
    char* end = nullptr;
    double secs = std::strtod(at_text.c_str(), &end);
    // Bounded so that the nanoseconds fit in 64 bits (year 2262).
    if (!end || *end || !(secs >= 0 && secs < 9.2e9)) throw Fatal{"--at must be now, snapshot or Unix seconds"};
    at = static_cast<TimeNs>(secs * 1e9);
  }

  config.learning.capacity = std::max(config.learning.capacity, snap.entries.size() + 1);
  NoTable table;  // lookup() answers from the learner's records
  Learner learner(config.learning, table);
  seed_learner(learner, config);
  std::multimap<IpAddress, const Provenance*> expired;
  learner.reserve(snap.entries.size());
  for (const Provenance& p : snap.entries) {
    if (p.expires > at)
      learner.restore(p, at);
    else
      expired.emplace(p.address, &p);
  }

  for (const IpAddress& addr : parsed) {
    AllowAnswer a = learner.lookup(addr, at);
    std::string reason, detail;
    const Provenance* p = a.provenance ? &*a.provenance : nullptr;
    if (a.allowed) {
      reason = to_string(a.kind);
      detail = describe_allow(a);
    } else {
      auto e = expired.find(addr);
      if (e != expired.end()) {
        reason = "expired";
        p = e->second;
        detail = "was learned for zone " + p->zone + " (ns " + p->ns + "); expired " + format_time(p->expires);
      } else {
        reason = "unknown";
        detail = "no anchor, static allow or learned entry";
      }
    }
    const char* verdict = a.allowed ? "pass" : "block";
    if (format == "json") {
      std::string j = "{\"address\":" + json_string(addr.to_string()) + ",\"verdict\":\"" + verdict +
                      "\",\"reason\":" + json_string(reason);
      if (p && p->kind == EntryKind::learned)
        j += ",\"zone\":" + json_string(p->zone) + ",\"ns\":" + json_string(p->ns) +
             ",\"expires\":" + json_string(format_time(p->expires)) + ",\"server\":" +
             json_string(p->server.to_string());
      else if (p && a.kind == EntryKind::anchor)
        j += ",\"ns\":" + json_string(p->ns);
      else if (p && !p->note.empty())
        j += ",\"note\":" + json_string(p->note);
      j += ",\"detail\":" + json_string(detail) + "}";
      std::printf("%s\n", j.c_str());
    } else {
      std::printf("%s %s %s: %s\n", addr.to_string().c_str(), verdict, reason.c_str(), detail.c_str());
    }
  }
  return 0;
}

int cmd_config(Args& args) {
  bool ofshim = args.flag({"--ofshim"});
  std::vector<std::string> rest = args.positional();
  if (rest.size() != 2 || rest[0] != "check") throw Fatal{"usage: nsgate config check [--ofshim] FILE"};
  ctl::LoadResult r = ctl::load_config_file(rest[1]);
  // What nsgate ofshim also needs (it refuses to start without it).
  if (r.ok() && ofshim) r.errors = validate_openflow_shim(r.config);
  if (r.ok()) {
    std::printf("%s: ok\n", rest[1].c_str());
    return 0;
  }
  for (const auto& e : r.errors) std::printf("%s: %s\n", rest[1].c_str(), e.to_string().c_str());
  std::printf("%s: %zu error%s\n", rest[1].c_str(), r.errors.size(), r.errors.size() == 1 ? "" : "s");
  return 1;
}

}  // namespace nsgate::app
