// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// The configuration model: plain structs that only src/ctl fills from YAML,
// and a pure validator that reports every problem with its path.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/settings.hh"

namespace nsgate {

enum class Mode : uint8_t { enforce, monitor };

struct TrustedSource {
  Prefix prefix;
  std::string note;
};

// DPDK devices by EAL name, with devargs for virtual ones, e.g.
// "0000:03:00.0", "net_af_packet0,iface=eth1", "net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap".
struct PortsConfig {
  std::string inside, outside;
  std::string mirror;        // optional: receive-only SPAN copy to learn from
  std::string drop_capture;  // optional: device that receives copies of dropped packets
};

// The PCI device a port spec names (DOMAIN:BUS:DEVICE.FUNCTION or
// BUS:DEVICE.FUNCTION, in hex, optionally followed by ",devargs"), in the
// form DPDK names it (0000:03:00.0: lower case, domain 0 when left out);
// empty for anything else, a virtual device (--vdev).
std::string pci_device_name(std::string_view spec);
inline bool is_pci_port(std::string_view spec) { return !pci_device_name(spec).empty(); }

struct DropLogConfig {
  std::string path;          // JSON lines; "-" = standard output; empty = off
  double rate = 10;          // events per second per source address
  double burst = 20;
};

// The OpenFlow shim (nsgate ofshim). Connection specs: "tcp:HOST:PORT",
// "unix:PATH" (to a bridge's listener) or, for `listen`, "tcp:ADDR:PORT".
struct OpenflowConfig {
  std::string listen = "tcp:127.0.0.1:6653";  // OVS connects here (set-controller)
  std::string connect;        // or: nsgate connects to the bridge (ptcp:/br0.mgmt)
  unsigned table = 0;         // first of the four tables nsgate owns (table .. table+3)
  uint32_t inside_port = 0;   // OpenFlow port number of the inside; 0 = judge every port
  uint32_t learn_rate = 10000;     // packet-ins per second copied for learning (meter)
  uint32_t drop_log_rate = 200;    // packet-ins per second copied for the drop log (meter)
  double echo_interval_s = 5;      // keepalive; the switch is dropped after 3 missed echoes
  // Responses go to nsgate instead of being copied: nsgate learns, installs
  // the new allow flows, then sends the response on (PACKET_OUT). Slower,
  // but a resolver's next query can never overtake its flow.
  bool hold_responses = false;
  // Learn from a libpcap capture on this interface (a mirror of the
  // outside port) instead of packet-in copies; empty = copies.
  std::string learn_from;
};

struct Config {
  Mode mode = Mode::enforce;
  std::vector<uint16_t> dns_ports{53};
  // Packets nsgate cannot decode are forwarded unless this is set.
  bool drop_undecodable = false;
  std::vector<TrustedSource> trusted_sources;
  std::vector<StaticAllow> static_allow;
  std::string root_hints;  // empty: the built-in IANA hints
  LearningSettings learning;
  std::string snapshot_path;
  double snapshot_interval_s = 300;
  PortsConfig ports;
  std::vector<std::string> eal;  // extra EAL arguments
  unsigned workers = 1;
  DropLogConfig drop_log;
  // nsgate run: DNS responses from the outside wait for the learner before
  // they go in (a few microseconds), so a resolver's next query to a server
  // the response named is already allowed. Off: responses are forwarded at
  // once and learned from a copy (the resolver may win the race and see
  // its first query to a new server dropped).
  bool hold_responses = true;
  // Prometheus exporter address; empty = off. Loopback unless you mean it.
  std::string metrics_listen = "127.0.0.1:9153";
  OpenflowConfig openflow;

  // Where each setting came from: path ("static_allow[3].cidr") -> line.
  std::map<std::string, int> lines;
  int line_of(const std::string& path) const;
  // A list's entries as the file numbers them: list -> the file's index
  // of each entry held (entries that did not load are left out, and the
  // rest keep their own numbers). A list not here is numbered as held.
  std::map<std::string, std::vector<size_t>> file_index;
  // "list[N]": the path of the list's i-th entry held, numbered as in the file.
  std::string entry(const std::string& list, size_t i) const;
};

struct ConfigError {
  std::string path;
  int line = 0;  // 0 when unknown
  std::string message;
  std::string to_string() const;
};

// Cross-field and range checks on a filled Config. Every problem is reported.
std::vector<ConfigError> validate(const Config& c);
// What `nsgate ofshim` needs beyond validate(), at start and on reload.
std::vector<ConfigError> validate_openflow_shim(const Config& c);

// Settings a running enforcer does not change on reload (what it opened,
// bound or built at start: ports, sockets, files, table capacity, the DNS
// ports its learner reassembles and its capture filters on). Copies each
// of them from `running` into `next` and returns the names of those the
// reloaded file changed, for the operator: they need a restart.
enum class Enforcer { dpdk, openflow };
std::vector<std::string> keep_restart_only(const Config& running, Config& next, Enforcer e);

// The closest of `candidates` to `word` (edit distance ≤ 3), or "".
std::string closest(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace nsgate
