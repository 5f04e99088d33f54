// SPDX-License-Identifier: BSD-3-Clause
// nsgate: learns legitimate name servers from DNS responses and judges
// outbound DNS queries against them. This file only dispatches.

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "app/common.hh"

namespace {

constexpr const char* kUsage = R"(usage: nsgate COMMAND [OPTIONS]

Commands:
  learn  [-c CONF] CAPTURE... [--snapshot OUT] [--format table|json|csv] [--explain] [--no-query-match]
         Learn name-server addresses from pcap/pcapng captures ('-' = stdin)
         and print the history (one row per learned address and zone).
  decode [-c CONF] [--port N]... CAPTURE... [--format json]
         Print every DNS message as nsgate parses it, one JSON object per line.
  check  [-c CONF] --snapshot FILE [--at now|snapshot|UNIX_SECONDS] [--format text|json] ADDRESS...
         Say whether a query to each address would pass, and why.
  run    -c CONF [--snapshot FILE]
         The DPDK appliance: forward between ports.inside and ports.outside,
         judge outbound DNS queries, learn from responses, log drops.
  replay [-c CONF] [--learn CAPTURE]... [--snapshot FILE] --traffic CAPTURE
         [--forwarded OUT.pcap] [--dropped OUT.pcap] [--mode enforce|monitor] [--format table|json]
         The same workers over net_pcap devices (no NIC, no hugepages): learn,
         push the traffic through, print every query's verdict.
  ofshim [-c CONF] [--listen tcp:ADDR:PORT | --connect tcp:HOST:PORT|unix:PATH] [--snapshot FILE]
         [--mode enforce|monitor] [--learn-from IFACE] [--exit-when-synced]
         The OpenFlow 1.3 shim: program an Open vSwitch bridge (fail_mode=secure)
         so that it judges DNS queries; learn from packet-in copies.
  config check [--ofshim] FILE
         Validate a configuration file and print every error with its location
         (--ofshim: also what nsgate ofshim needs, such as openflow.inside_port).

Common options:
  -c, --config FILE   YAML configuration (see conf/nsgate.yaml)
  -h, --help          this text
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace nsgate::app;
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help") ||
      !std::strcmp(argv[1], "help")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string cmd = argv[1];
  try {
    Args args(argc, argv, 2);
    if (args.flag({"-h", "--help"})) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    int status = 0;
    if (cmd == "learn") status = cmd_learn(args);
    else if (cmd == "decode") status = cmd_decode(args);
    else if (cmd == "check") status = cmd_check(args);
    else if (cmd == "config") status = cmd_config(args);
    else if (cmd == "run") status = cmd_run(args);
    else if (cmd == "replay") status = cmd_replay(args);
    else if (cmd == "ofshim") status = cmd_ofshim(args);
    else throw Fatal{"unknown command '" + cmd + "' (see nsgate --help)"};
    // The offline commands' output that did not all reach its file or pipe
    // (a full disk) is a failure: a history cut short must not pass for a
    // whole one. (run and ofshim write only a drop log there, line by line.)
    bool offline = cmd != "run" && cmd != "ofshim";
    errno = 0;
    if (offline && (std::fflush(stdout) != 0 || std::ferror(stdout)))
      throw Fatal{std::string("writing the output failed") + (errno ? std::string(": ") + std::strerror(errno) : ""), 1};
    return status;
  } catch (const Fatal& f) {
    std::fprintf(stderr, "nsgate %s: %s\n", cmd.c_str(), f.message.c_str());
    return f.code;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nsgate %s: internal error: %s\n", cmd.c_str(), e.what());
    return 70;
  }
}
