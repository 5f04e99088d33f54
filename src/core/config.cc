// SPDX-License-Identifier: BSD-3-Clause
#include "core/config.hh"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "core/dns_name.hh"

namespace nsgate {

int Config::line_of(const std::string& path) const {
  auto it = lines.find(path);
  return it == lines.end() ? 0 : it->second;
}

std::string Config::entry(const std::string& list, size_t i) const {
  auto it = file_index.find(list);
  size_t n = it != file_index.end() && i < it->second.size() ? it->second[i] : i;
  return std::string(list).append("[").append(std::to_string(n)).append("]");
}

std::string ConfigError::to_string() const {
  std::string s = path;
  if (line > 0) s += " (line " + std::to_string(line) + ")";
  return s + ": " + message;
}

std::string closest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = 4;
  for (const std::string& c : candidates) {
    // Levenshtein distance, two rows.
    std::vector<size_t> prev(c.size() + 1), cur(c.size() + 1);
    for (size_t j = 0; j <= c.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= word.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= c.size(); ++j)
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (word[i - 1] != c[j - 1])});
      std::swap(prev, cur);
    }
    if (prev[c.size()] < best_d) {
      best_d = prev[c.size()];
      best = c;
    }
  }
  return best;
}

std::vector<std::string> keep_restart_only(const Config& running, Config& next, Enforcer e) {
  std::vector<std::string> changed;
  auto keep = [&](auto Config::*field, const char* name) {
    if (next.*field != running.*field) changed.push_back(name);
    next.*field = running.*field;
  };
  auto keep_of = [&](auto OpenflowConfig::*field, const char* name) {
    if (next.openflow.*field != running.openflow.*field) changed.push_back(name);
    next.openflow.*field = running.openflow.*field;
  };
  if (e == Enforcer::dpdk) {
    for (auto [field, name] : {std::pair{&PortsConfig::inside, "ports.inside"}, {&PortsConfig::outside, "ports.outside"},
                               {&PortsConfig::mirror, "ports.mirror"}, {&PortsConfig::drop_capture, "ports.drop_capture"}}) {
      if (next.ports.*field != running.ports.*field) changed.push_back(name);
    }
    next.ports = running.ports;
    keep(&Config::eal, "eal");
    keep(&Config::workers, "workers");
    keep(&Config::hold_responses, "hold_responses");  // the workers read it from their options
  } else {
    keep_of(&OpenflowConfig::listen, "openflow.listen");
    keep_of(&OpenflowConfig::connect, "openflow.connect");
    keep_of(&OpenflowConfig::table, "openflow.table");
    keep_of(&OpenflowConfig::learn_from, "openflow.learn_from");
  }
  keep(&Config::metrics_listen, "metrics.listen");
  keep(&Config::root_hints, "root_hints");
  keep(&Config::snapshot_path, "snapshot.path");
  if (next.learning.capacity != running.learning.capacity) changed.push_back("learning.capacity");
  next.learning.capacity = running.learning.capacity;
  // Reserved at start like capacity; its map never shrinks, and making room
  // in one far larger than the bound would walk mostly empty buckets.
  if (next.learning.max_tracked_queries != running.learning.max_tracked_queries)
    changed.push_back("learning.max_tracked_queries");
  next.learning.max_tracked_queries = running.learning.max_tracked_queries;
  if (next.drop_log.path != running.drop_log.path) changed.push_back("drop_log.path");
  next.drop_log.path = running.drop_log.path;
  return changed;
}

std::vector<ConfigError> validate_openflow_shim(const Config& c) {
  std::vector<ConfigError> errs;
  // Learning from the bridge's copies, only a response from outside may
  // teach: without the inside port, a host inside could forge the referral
  // that allows its own server.
  if (c.openflow.learn_from.empty() && c.openflow.inside_port == 0)
    errs.push_back({"openflow.inside_port", c.line_of("openflow.inside_port"),
                    "must be set (the OpenFlow port number of the inside) when nsgate learns from the bridge "
                    "(no openflow.learn_from): responses from the inside must not teach"});
  return errs;
}

namespace {

// Why a metrics.listen value is not what the exporter (CivetWeb) takes, or
// empty when it is: comma-separated PORT, +PORT (both mean every
// interface), HOST:PORT or [IPv6]:PORT, HOST an address or a host name.
std::string listen_address_error(const std::string& spec) {
  size_t start = 0;
  while (true) {
    size_t comma = spec.find(',', start);
    std::string item = spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    size_t colon = item.rfind(':');
    std::string host = colon == std::string::npos ? "" : item.substr(0, colon);
    std::string port = colon == std::string::npos ? item : item.substr(colon + 1);
    if (colon == std::string::npos && !port.empty() && port.front() == '+') port.erase(0, 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      auto a = IpAddress::parse(host.substr(1, host.size() - 2));
      if (!a || a->is_v4()) return "is not ADDRESS:PORT: \"" + host + "\" is not an IPv6 address";
    } else if (colon != std::string::npos) {
      bool name = !host.empty() && host.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                          "0123456789.-") == std::string::npos;
      if (!name) return "is not ADDRESS:PORT: \"" + host + "\" is neither an address nor a host name (IPv6 in brackets)";
    }
    unsigned value = 0;
    bool digits = !port.empty() && port.size() <= 5;
    for (char ch : port) {
      digits = digits && ch >= '0' && ch <= '9';
      if (digits) value = value * 10 + static_cast<unsigned>(ch - '0');
    }
    if (!digits || value == 0 || value > 65535)
      return "is not ADDRESS:PORT: \"" + port + "\" is not a port (1-65535)";
    if (comma == std::string::npos) return "";
    start = comma + 1;
  }
}

}  // namespace

std::vector<ConfigError> validate(const Config& c) {
  std::vector<ConfigError> errs;
  auto err = [&](const std::string& path, std::string msg) {
    errs.push_back({path, c.line_of(path), std::move(msg)});
  };
  const LearningSettings& l = c.learning;
  if (c.dns_ports.empty()) err("dns_ports", "must list at least one port");
  for (size_t i = 0; i < c.dns_ports.size(); ++i) {
    if (c.dns_ports[i] == 0) err(c.entry("dns_ports", i), "port 0 is not a DNS port");
    for (size_t j = 0; j < i; ++j)
      if (c.dns_ports[j] == c.dns_ports[i])
        err(c.entry("dns_ports", i), "duplicate of " + c.entry("dns_ports", j));
  }
  if (!(l.query_match_window_s > 0 && l.query_match_window_s <= 300))
    err("learning.query_match_window", "must be between 0 and 300 seconds");
  if (!(l.ns_address_window_s > 0 && l.ns_address_window_s <= 300))
    err("learning.ns_address_window", "must be between 0 and 300 seconds");
  if (l.min_ttl_s > l.max_ttl_s) {
    // Named where the file has it: a max_ttl under the default min_ttl is
    // the max_ttl's line.
    if (c.line_of("learning.min_ttl") != 0)
      err("learning.min_ttl", "is larger than learning.max_ttl (" + std::to_string(l.max_ttl_s) + ")");
    else
      err("learning.max_ttl", "is smaller than learning.min_ttl (" + std::to_string(l.min_ttl_s) + ", its default)");
  }
  if (l.max_ttl_s > 7 * 86400) err("learning.max_ttl", "must be at most 604800 (one week)");
  if (l.grace_s > 86400) err("learning.grace", "must be at most 86400 (one day)");
  if (l.capacity == 0 || l.capacity > (1u << 24))
    err("learning.capacity", "must be between 1 and 16777216");
  if (l.per_response_cap == 0) err("learning.per_response_cap", "must be at least 1");
  if (l.per_zone_cap == 0) err("learning.per_zone_cap", "must be at least 1");
  if (l.zones_per_address == 0) err("learning.zones_per_address", "must be at least 1");
  // Reserved whole at start, as capacity is.
  if (l.max_tracked_queries == 0 || l.max_tracked_queries > (1u << 24))
    err("learning.max_tracked_queries", "must be between 1 and 16777216");
  if (l.max_pending_ns == 0) err("learning.max_pending_ns", "must be at least 1");
  // Bounded above too: the interval becomes nanoseconds in 64 bits.
  if (!(c.snapshot_interval_s >= 1 && c.snapshot_interval_s <= 7 * 86400))
    err("snapshot.interval", "must be between 1 second and 604800 (one week)");
  if (c.workers < 1 || c.workers > 64) err("workers", "must be between 1 and 64");
  if (!(c.drop_log.rate > 0)) err("drop_log.rate_limit", "must be above 0 events per second");
  if (!(c.drop_log.burst >= 1)) err("drop_log.burst", "must be at least 1");
  const OpenflowConfig& of = c.openflow;
  if (of.table > 250) err("openflow.table", "must be at most 250 (nsgate uses tables table..table+3)");
  if (of.learn_rate == 0) err("openflow.learn_rate", "must be at least 1 packet per second");
  if (of.drop_log_rate == 0) err("openflow.drop_log_rate", "must be at least 1 packet per second");
  if (!(of.echo_interval_s >= 1 && of.echo_interval_s <= 60)) err("openflow.echo_interval", "must be between 1 and 60 seconds");
  if (of.inside_port >= 0xffffff00u) err("openflow.inside_port", "must be a physical port number (below 0xffffff00)");
  auto spec_ok = [](const std::string& s) {
    if (s.rfind("unix:", 0) == 0) return s.size() > 5;
    if (s.rfind("tcp:", 0) != 0) return false;
    auto colon = s.rfind(':');
    if (colon <= 4 || colon + 1 >= s.size() || s.size() - colon - 1 > 5) return false;
    unsigned port = 0;
    for (char ch : s.substr(colon + 1)) {
      if (ch < '0' || ch > '9') return false;
      port = port * 10 + static_cast<unsigned>(ch - '0');
    }
    return port >= 1 && port <= 65535;
  };
  if (!of.listen.empty() && (of.listen.rfind("tcp:", 0) != 0 || !spec_ok(of.listen)))
    err("openflow.listen", "\"" + of.listen + "\" is not tcp:ADDRESS:PORT");
  if (!of.connect.empty() && !spec_ok(of.connect))
    err("openflow.connect", "\"" + of.connect + "\" is not tcp:HOST:PORT or unix:PATH");
  if (!c.metrics_listen.empty()) {
    if (std::string why = listen_address_error(c.metrics_listen); !why.empty())
      err("metrics.listen", "\"" + c.metrics_listen + "\" " + why);
  }
  if (!c.ports.inside.empty() && c.ports.inside == c.ports.outside)
    err("ports.outside", "is the same device as ports.inside");

  auto check_prefixes = [&](const std::string& list, auto get) {
    size_t n = get.size();
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < i; ++j) {
        const Prefix& a = get.at(j);
        const Prefix& b = get.at(i);
        std::string path = c.entry(list, i) + ".cidr";
        if (a.address == b.address && a.length == b.length)
          err(path, "duplicate of " + c.entry(list, j) + " (" + a.to_string() + ")");
        else if (a.overlaps(b))
          err(path, b.to_string() + " overlaps " + c.entry(list, j) + " (" + a.to_string() + ")");
      }
    }
  };
  std::vector<Prefix> statics, trusted;
  for (const auto& s : c.static_allow) statics.push_back(s.prefix);
  for (const auto& t : c.trusted_sources) trusted.push_back(t.prefix);
  check_prefixes("static_allow", statics);
  check_prefixes("trusted_sources", trusted);
  for (size_t i = 0; i < c.static_allow.size(); ++i) {
    const std::string& z = c.static_allow[i].zone;
    DnsName n;
    if (!z.empty() && !DnsName::from_text(z, n))
      err(c.entry("static_allow", i) + ".zone", "\"" + z + "\" is not a domain name");
  }
  return errs;
}

std::string pci_device_name(std::string_view spec) {
  std::string_view addr = spec.substr(0, spec.find(','));
  // A hex field of 1 to `most` digits ended by `end` (0: the end of addr).
  auto field = [&addr](size_t most, char end, unsigned long& value) {
    size_t n = 0;
    while (n < addr.size() && n <= most && std::isxdigit(static_cast<unsigned char>(addr[n]))) ++n;
    if (n == 0 || n > most) return false;
    value = std::stoul(std::string(addr.substr(0, n)), nullptr, 16);
    if (end ? (n == addr.size() || addr[n] != end) : n != addr.size()) return false;
    addr.remove_prefix(end ? n + 1 : n);
    return true;
  };
  unsigned long domain = 0, bus = 0, dev = 0, fn = 0;
  std::string_view whole = addr;
  bool with_domain = field(8, ':', domain) && field(2, ':', bus) && field(2, '.', dev) && field(1, 0, fn);
  if (!with_domain) {
    addr = whole;
    domain = 0;
    if (!(field(2, ':', bus) && field(2, '.', dev) && field(1, 0, fn))) return {};
  }
  if (dev > 0x1f || fn > 7) return {};
  char name[32];
  std::snprintf(name, sizeof name, "%.4lx:%.2lx:%.2lx.%lx", domain, bus, dev, fn);
  return name;
}

}  // namespace nsgate
