// SPDX-License-Identifier: BSD-3-Clause
#include "ctl/config_yaml.hh"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>

namespace nsgate::ctl {

namespace {

class Loader {
 public:
  explicit Loader(LoadResult& r) : r_(r), c_(r.config) {}

  void load(const YAML::Node& root) {
    if (!root || root.IsNull()) return;  // empty file: all defaults
    if (!root.IsMap()) return error("", root, "the top level must be a mapping of settings");
    check_keys("", root, {"mode", "dns_ports", "trusted_sources", "static_allow", "root_hints",
                          "learning", "snapshot", "ports", "eal", "workers", "drop_log",
                          "drop_undecodable", "metrics", "openflow", "hold_responses"});
    if (auto n = root["hold_responses"]) boolean("hold_responses", n, c_.hold_responses);
    if (auto n = root["openflow"]) load_openflow(n);
    if (auto n = root["metrics"]) {
      if (!n.IsMap()) {
        error("metrics", n, "must be a mapping");
      } else {
        check_keys("metrics", n, {"listen"});
        if (auto v = n["listen"]) c_.metrics_listen = n["listen"].IsNull() ? "" : scalar("metrics.listen", v);
      }
    }
    if (auto n = root["ports"]) {
      if (!n.IsMap()) {
        error("ports", n, "must be a mapping");
      } else {
        check_keys("ports", n, {"inside", "outside", "mirror", "drop_capture"});
        if (auto v = n["inside"]) c_.ports.inside = scalar("ports.inside", v);
        if (auto v = n["outside"]) c_.ports.outside = scalar("ports.outside", v);
        if (auto v = n["mirror"]) c_.ports.mirror = scalar("ports.mirror", v);
        if (auto v = n["drop_capture"]) c_.ports.drop_capture = scalar("ports.drop_capture", v);
      }
    }
    if (auto n = root["eal"]) {
      if (!n.IsSequence()) {
        error("eal", n, "must be a list of EAL arguments");
      } else {
        for (size_t i = 0; i < n.size(); ++i) c_.eal.push_back(scalar("eal[" + std::to_string(i) + "]", n[i]));
      }
    }
    if (auto n = root["workers"]) {
      uint64_t v = 0;
      if (integer("workers", n, 1, 64, v)) c_.workers = static_cast<unsigned>(v);
    }
    if (auto n = root["drop_undecodable"]) boolean("drop_undecodable", n, c_.drop_undecodable);
    if (auto n = root["drop_log"]) {
      if (!n.IsMap()) {
        error("drop_log", n, "must be a mapping");
      } else {
        check_keys("drop_log", n, {"path", "rate_limit", "burst"});
        if (auto v = n["path"]) c_.drop_log.path = scalar("drop_log.path", v);
        if (auto v = n["rate_limit"]) number("drop_log.rate_limit", v, c_.drop_log.rate);
        if (auto v = n["burst"]) number("drop_log.burst", v, c_.drop_log.burst);
      }
    }
    if (auto n = root["mode"]) {
      std::string m = scalar("mode", n);
      if (m == "enforce") c_.mode = Mode::enforce;
      else if (m == "monitor") c_.mode = Mode::monitor;
      else if (n.IsScalar()) error("mode", n, "\"" + m + "\" is not one of enforce, monitor");
    }
    if (auto n = root["dns_ports"]) {
      mark("dns_ports", n);  // for validate(): an empty list has no item to point at
      c_.dns_ports.clear();
      c_.file_index["dns_ports"].clear();
      if (!n.IsSequence()) {
        error("dns_ports", n, "must be a list of port numbers");
      } else {
        for (size_t i = 0; i < n.size(); ++i) {
          std::string p = "dns_ports[" + std::to_string(i) + "]";
          uint64_t v = 0;
          if (integer(p, n[i], 1, 65535, v)) {
            c_.dns_ports.push_back(static_cast<uint16_t>(v));
            c_.file_index["dns_ports"].push_back(i);
          }
        }
      }
    }
    if (auto n = root["trusted_sources"]) load_trusted(n);
    if (auto n = root["static_allow"]) load_static(n);
    if (auto n = root["root_hints"]) c_.root_hints = scalar("root_hints", n);
    if (auto n = root["learning"]) load_learning(n);
    if (auto n = root["snapshot"]) {
      if (!n.IsMap()) return error("snapshot", n, "must be a mapping");
      check_keys("snapshot", n, {"path", "interval"});
      if (auto p = n["path"]) c_.snapshot_path = scalar("snapshot.path", p);
      if (auto p = n["interval"]) number("snapshot.interval", p, c_.snapshot_interval_s);
    }
  }

 private:
  void load_openflow(const YAML::Node& n) {
    if (!n.IsMap()) return error("openflow", n, "must be a mapping");
    check_keys("openflow", n, {"listen", "connect", "table", "inside_port", "learn_rate", "drop_log_rate",
                               "echo_interval", "hold_responses", "learn_from"});
    OpenflowConfig& o = c_.openflow;
    if (auto v = n["listen"]) o.listen = v.IsNull() ? "" : scalar("openflow.listen", v);
    if (auto v = n["connect"]) o.connect = v.IsNull() ? "" : scalar("openflow.connect", v);
    uint64_t x = 0;
    if (auto v = n["table"]; v && integer("openflow.table", v, 0, 250, x)) o.table = static_cast<unsigned>(x);
    if (auto v = n["inside_port"]; v && integer("openflow.inside_port", v, 0, 0xfffffeff, x))
      o.inside_port = static_cast<uint32_t>(x);
    if (auto v = n["learn_rate"]; v && integer("openflow.learn_rate", v, 1, 10000000, x))
      o.learn_rate = static_cast<uint32_t>(x);
    if (auto v = n["drop_log_rate"]; v && integer("openflow.drop_log_rate", v, 1, 10000000, x))
      o.drop_log_rate = static_cast<uint32_t>(x);
    if (auto v = n["echo_interval"]) number("openflow.echo_interval", v, o.echo_interval_s);
    if (auto v = n["hold_responses"]) boolean("openflow.hold_responses", v, o.hold_responses);
    if (auto v = n["learn_from"]) o.learn_from = v.IsNull() ? "" : scalar("openflow.learn_from", v);
  }
  void error(const std::string& path, const YAML::Node& n, const std::string& msg) {
    int line = n.Mark().line >= 0 ? n.Mark().line + 1 : 0;
    r_.errors.push_back({path.empty() ? "(top)" : path, line, msg});
  }
  void mark(const std::string& path, const YAML::Node& n) {
    if (n.Mark().line >= 0) c_.lines[path] = n.Mark().line + 1;
  }
  void check_keys(const std::string& path, const YAML::Node& map, const std::vector<std::string>& known) {
    std::map<std::string, int> seen;
    for (const auto& kv : map) {
      std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "?";
      int line = kv.first.Mark().line + 1;
      // yaml-cpp keeps the first of duplicate keys silently; an operator who
      // wrote the key twice meant one of them, so say which.
      if (auto [it, fresh] = seen.emplace(key, line); !fresh) {
        error(path.empty() ? key : path + "." + key, kv.first,
              "duplicate key (first at line " + std::to_string(it->second) + "; that one would win)");
        continue;
      }
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      std::string full = path.empty() ? key : path + "." + key;
      std::string hint = closest(key, known);
      error(full, kv.first, "unknown key" + (hint.empty() ? "" : "; did you mean \"" + hint + "\"?"));
    }
  }
  std::string scalar(const std::string& path, const YAML::Node& n) {
    mark(path, n);
    if (!n.IsScalar()) {
      error(path, n, "must be a single value");
      return {};
    }
    return n.Scalar();
  }
  bool integer(const std::string& path, const YAML::Node& n, uint64_t lo, uint64_t hi, uint64_t& out) {
    std::string s = scalar(path, n);
    if (s.empty()) {
      if (n.IsScalar()) error(path, n, "is empty: give a whole number");
      return false;
    }
    uint64_t v = 0;
    for (char ch : s) {
      if (ch < '0' || ch > '9' || v > (std::numeric_limits<uint64_t>::max() - 9) / 10) {
        error(path, n, "\"" + s + "\" is not a whole number");
        return false;
      }
      v = v * 10 + static_cast<uint64_t>(ch - '0');
    }
    if (v < lo || v > hi) {
      error(path, n, std::to_string(v) + " is out of range [" + std::to_string(lo) + ", " +
                         std::to_string(hi) + "]");
      return false;
    }
    out = v;
    return true;
  }
  template <class T>
  void uint_field(const YAML::Node& map, const std::string& base, const char* key, T& out,
                  uint64_t lo, uint64_t hi) {
    if (auto n = map[key]) {
      uint64_t v = 0;
      if (integer(base + "." + key, n, lo, hi, v)) out = static_cast<T>(v);
    }
  }
  void number(const std::string& path, const YAML::Node& n, double& out) {
    std::string s = scalar(path, n);
    if (s.empty()) {
      if (n.IsScalar()) error(path, n, "is empty: give a number");
      return;
    }
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (!end || *end != '\0' || !std::isfinite(v)) return error(path, n, "\"" + s + "\" is not a number");
    out = v;
  }
  bool boolean(const std::string& path, const YAML::Node& n, bool& out) {
    std::string s = scalar(path, n);
    if (s == "true" || s == "yes" || s == "on") out = true;
    else if (s == "false" || s == "no" || s == "off") out = false;
    else {
      error(path, n, "\"" + s + "\" is not true or false");
      return false;
    }
    return true;
  }
  // A list entry is either "CIDR" or a mapping with cidr: and other keys.
  bool prefix_entry(const std::string& path, const YAML::Node& n, Prefix& out) {
    std::string text = scalar(path, n);
    if (text.empty()) return false;
    std::string why;
    auto p = Prefix::parse(text, &why);
    if (!p) {
      error(path, n, "\"" + text + "\" " + why);
      return false;
    }
    out = *p;
    return true;
  }
  void load_trusted(const YAML::Node& n) {
    if (!n.IsSequence()) return error("trusted_sources", n, "must be a list");
    for (size_t i = 0; i < n.size(); ++i) {
      std::string base = "trusted_sources[" + std::to_string(i) + "]";
      TrustedSource t;
      const YAML::Node e = n[i];
      if (e.IsMap()) {
        check_keys(base, e, {"cidr", "note"});
        if (!e["cidr"]) {
          error(base, e, "missing cidr");
          continue;
        }
        if (!prefix_entry(base + ".cidr", e["cidr"], t.prefix)) continue;
        if (e["note"]) t.note = scalar(base + ".note", e["note"]);
      } else if (!prefix_entry(base + ".cidr", e, t.prefix)) {
        continue;
      }
      c_.trusted_sources.push_back(t);
      c_.file_index["trusted_sources"].push_back(i);
    }
  }
  void load_static(const YAML::Node& n) {
    if (!n.IsSequence()) return error("static_allow", n, "must be a list");
    for (size_t i = 0; i < n.size(); ++i) {
      std::string base = "static_allow[" + std::to_string(i) + "]";
      StaticAllow s;
      const YAML::Node e = n[i];
      if (e.IsMap()) {
        check_keys(base, e, {"cidr", "note", "zone"});
        if (!e["cidr"]) {
          error(base, e, "missing cidr");
          continue;
        }
        if (!prefix_entry(base + ".cidr", e["cidr"], s.prefix)) continue;
        if (e["note"]) s.note = scalar(base + ".note", e["note"]);
        if (e["zone"]) s.zone = scalar(base + ".zone", e["zone"]);
      } else if (!prefix_entry(base + ".cidr", e, s.prefix)) {
        continue;
      }
      c_.static_allow.push_back(s);
      c_.file_index["static_allow"].push_back(i);
    }
  }
  void load_learning(const YAML::Node& n) {
    if (!n.IsMap()) return error("learning", n, "must be a mapping");
    LearningSettings& l = c_.learning;
    check_keys("learning", n, {"query_match_window", "ns_address_window", "min_ttl", "max_ttl",
                               "grace", "capacity", "per_response_cap", "per_zone_cap",
                               "zones_per_address", "max_tracked_queries", "max_pending_ns",
                               "allow_private", "require_query_match", "clients"});
    if (auto v = n["query_match_window"]) number("learning.query_match_window", v, l.query_match_window_s);
    if (auto v = n["ns_address_window"]) number("learning.ns_address_window", v, l.ns_address_window_s);
    const uint64_t u32max = std::numeric_limits<uint32_t>::max();
    uint_field(n, "learning", "min_ttl", l.min_ttl_s, 0, u32max);
    uint_field(n, "learning", "max_ttl", l.max_ttl_s, 0, u32max);
    uint_field(n, "learning", "grace", l.grace_s, 0, u32max);
    uint_field(n, "learning", "capacity", l.capacity, 1, u32max);
    uint_field(n, "learning", "per_response_cap", l.per_response_cap, 1, u32max);
    uint_field(n, "learning", "per_zone_cap", l.per_zone_cap, 1, u32max);
    uint_field(n, "learning", "zones_per_address", l.zones_per_address, 1, u32max);
    uint_field(n, "learning", "max_tracked_queries", l.max_tracked_queries, 1, u32max);
    uint_field(n, "learning", "max_pending_ns", l.max_pending_ns, 1, u32max);
    if (auto v = n["allow_private"]) boolean("learning.allow_private", v, l.allow_private);
    if (auto v = n["require_query_match"]) boolean("learning.require_query_match", v, l.require_query_match);
    if (auto v = n["clients"]) {
      if (!v.IsSequence()) return error("learning.clients", v, "must be a list of CIDRs (your resolvers)");
      for (size_t i = 0; i < v.size(); ++i) {
        Prefix p;
        if (prefix_entry("learning.clients[" + std::to_string(i) + "]", v[i], p)) l.clients.push_back(p);
      }
    }
  }

  LoadResult& r_;
  Config& c_;
};

LoadResult load_node(const std::function<YAML::Node()>& parse) {
  LoadResult r;
  try {
    YAML::Node root = parse();
    Loader(r).load(root);
  } catch (const YAML::Exception& e) {
    r.errors.push_back({"(syntax)", e.mark.line >= 0 ? e.mark.line + 1 : 0, e.msg});
    return r;
  }
  // Range and cross-field checks too, so one pass reports every problem;
  // a value that did not load kept its default, which validate() accepts.
  for (auto& e : validate(r.config)) r.errors.push_back(std::move(e));
  return r;
}

}  // namespace

LoadResult load_config_text(const std::string& text) {
  return load_node([&] { return YAML::Load(text); });
}

namespace {

// The file's text, or an error naming why it could not be read (a folder
// opens but does not read: it must not pass for an empty file).
std::optional<std::string> read_text(const std::string& path, LoadResult& r) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    r.errors.push_back({path, 0, "is a folder, not a configuration file"});
    return std::nullopt;
  }
  std::ifstream in(path);
  if (!in) {
    r.errors.push_back({path, 0, std::string("cannot open the file: ") + std::strerror(errno)});
    return std::nullopt;
  }
  std::string text;
  char block[4096];
  while (in.read(block, sizeof block) || in.gcount() > 0) text.append(block, static_cast<size_t>(in.gcount()));
  if (in.bad()) {  // a failed read(2): libstdc++'s filebuf throws, read() sets badbit
    r.errors.push_back({path, 0, "cannot read the file"});
    return std::nullopt;
  }
  return text;
}

}  // namespace

LoadResult load_config_file(const std::string& path) {
  LoadResult r;
  std::optional<std::string> text = read_text(path, r);
  return text ? load_config_text(*text) : r;
}

LoadResult load_config_file_for_reload(const std::string& path) {
  LoadResult r;
  std::optional<std::string> text = read_text(path, r);
  if (!text) return r;
  if (text->find_first_not_of(" \t\r\n") == std::string::npos) {
    r.errors.push_back({path, 0, "is empty; the running configuration stays (write {} for every default)"});
    return r;
  }
  return load_config_text(*text);
}

}  // namespace nsgate::ctl
