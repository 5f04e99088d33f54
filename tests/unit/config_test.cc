// SPDX-License-Identifier: BSD-3-Clause
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "ctl/config_yaml.hh"
#include "support/temp_dir.hh"

#ifndef NSGATE_SOURCE_DIR
#error "NSGATE_SOURCE_DIR must be defined by the build"
#endif

namespace nsgate {
namespace {

std::string all_errors(const ctl::LoadResult& r) {
  std::string s;
  for (const auto& e : r.errors) s += e.to_string() + "\n";
  return s;
}

// The text is refused, and one of its errors contains `fragment`.
::testing::AssertionResult refused_with(const std::string& text, const std::string& fragment) {
  auto r = ctl::load_config_text(text);
  if (r.ok()) return ::testing::AssertionFailure() << "accepted";
  std::string all = all_errors(r);
  if (all.find(fragment) == std::string::npos)
    return ::testing::AssertionFailure() << "no \"" << fragment << "\" in:\n" << all;
  return ::testing::AssertionSuccess();
}

TEST(Config, EveryExampleInConfLoadsCleanly) {
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(std::string(NSGATE_SOURCE_DIR) + "/conf")) {
    if (e.path().extension() != ".yaml") continue;
    ++files;
    auto r = ctl::load_config_file(e.path().string());
    EXPECT_TRUE(r.ok()) << e.path() << ":\n" << all_errors(r);
  }
  EXPECT_GE(files, 1);
}

TEST(Config, ExampleValuesReachTheStructs) {
  auto r = ctl::load_config_file(std::string(NSGATE_SOURCE_DIR) + "/conf/nsgate.yaml");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  EXPECT_EQ(r.config.mode, Mode::enforce);
  ASSERT_GE(r.config.static_allow.size(), 1u);
  EXPECT_EQ(r.config.static_allow[0].prefix.to_string(), "8.8.4.4/32");
  EXPECT_EQ(r.config.learning.ns_address_window_s, 2.0);
}

TEST(Config, EmptyFileGivesDefaults) {
  auto r = ctl::load_config_text("");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.config.dns_ports, std::vector<uint16_t>{53});
}

TEST(Config, EveryErrorIsReportedWithPathAndLine) {
  auto r = ctl::load_config_text(
      "mode: enforcing\n"
      "static_allow:\n"
      "  - cidr: 8.8.4.4/32\n"
      "  - cidr: 10.0.0.0/33\n"
      "  - {cidr: 10.0.0.1/8, note: typo}\n"
      "learning:\n"
      "  grase: 10\n"
      "  capacity: lots\n");
  ASSERT_FALSE(r.ok());
  std::string all = all_errors(r);
  EXPECT_NE(all.find("mode (line 1): \"enforcing\" is not one of enforce, monitor"), std::string::npos) << all;
  EXPECT_NE(all.find("static_allow[1].cidr (line 4): \"10.0.0.0/33\" is not a prefix"), std::string::npos) << all;
  EXPECT_NE(all.find("static_allow[2].cidr (line 5)"), std::string::npos) << all;
  EXPECT_NE(all.find("learning.grase (line 7): unknown key; did you mean \"grace\"?"), std::string::npos) << all;
  EXPECT_NE(all.find("learning.capacity (line 8): \"lots\" is not a whole number"), std::string::npos) << all;
  EXPECT_EQ(r.errors.size(), 5u) << all;
}

TEST(Config, OverlappingAndDuplicatePrefixesAreRejected) {
  auto r = ctl::load_config_text(
      "static_allow:\n"
      "  - 192.0.2.0/24\n"
      "  - 192.0.2.128/25\n"
      "  - 192.0.2.0/24\n");
  ASSERT_FALSE(r.ok());
  std::string all = all_errors(r);
  EXPECT_NE(all.find("static_allow[1].cidr (line 3): 192.0.2.128/25 overlaps static_allow[0]"), std::string::npos) << all;
  EXPECT_NE(all.find("static_allow[2].cidr (line 4): duplicate of static_allow[0]"), std::string::npos) << all;
}

TEST(Config, SnapshotIntervalAndOpenflowPortsAreRangeChecked) {
  auto r = ctl::load_config_text(
      "snapshot: {interval: 1e10}\n"
      "openflow:\n"
      "  listen: tcp:127.0.0.1:0\n"
      "  connect: tcp:192.0.2.1:99999\n");
  ASSERT_FALSE(r.ok());
  std::string all = all_errors(r);
  EXPECT_NE(all.find("snapshot.interval (line 1): must be between 1 second and 604800"), std::string::npos) << all;
  EXPECT_NE(all.find("openflow.listen (line 3)"), std::string::npos) << all;
  EXPECT_NE(all.find("openflow.connect (line 4)"), std::string::npos) << all;
  for (const char* ok : {"snapshot: {interval: 604800}\n", "openflow: {listen: \"tcp:[::1]:6653\"}\n",
                         "openflow: {connect: \"unix:/var/run/openvswitch/br0.mgmt\"}\n"}) {
    auto fine = ctl::load_config_text(ok);
    EXPECT_TRUE(fine.ok()) << ok << all_errors(fine);
  }
}

TEST(Config, EmptyValuesAndListsAreErrorsWithTheirLines) {
  auto r = ctl::load_config_text(
      "dns_ports: []\n"
      "openflow:\n"
      "  table: \"\"\n"
      "learning:\n"
      "  ns_address_window: ''\n");
  ASSERT_FALSE(r.ok());
  std::string all = all_errors(r);
  EXPECT_NE(all.find("dns_ports (line 1): must list at least one port"), std::string::npos) << all;
  EXPECT_NE(all.find("openflow.table (line 3): is empty"), std::string::npos) << all;
  EXPECT_NE(all.find("learning.ns_address_window (line 5): is empty"), std::string::npos) << all;
}

TEST(Config, SyntaxOfOneValueAndRangeOfAnotherAreReportedTogether) {
  auto r = ctl::load_config_text("mode: sometimes\nlearning:\n  grace: 999999\n");
  ASSERT_FALSE(r.ok());
  std::string all = all_errors(r);
  EXPECT_NE(all.find("mode (line 1)"), std::string::npos) << all;
  EXPECT_NE(all.find("learning.grace (line 3): must be at most 86400"), std::string::npos) << all;
}

TEST(Config, RangeChecksCoverTheLearningLimits) {
  auto r = ctl::load_config_text("learning:\n  min_ttl: 500\n  max_ttl: 100\n  ns_address_window: 0\n");
  ASSERT_FALSE(r.ok());
  std::string all = all_errors(r);
  EXPECT_NE(all.find("learning.min_ttl (line 2): is larger than learning.max_ttl"), std::string::npos) << all;
  EXPECT_NE(all.find("learning.ns_address_window (line 4)"), std::string::npos) << all;
}

TEST(Config, AMaxTtlUnderTheDefaultMinTtlIsReportedOnItsOwnLine) {
  EXPECT_TRUE(refused_with("mode: enforce\nlearning:\n  max_ttl: 30\n",
                          "learning.max_ttl (line 3): is smaller than learning.min_ttl (60"));
}

TEST(Config, TrackedQueriesAreBoundedAsTheyAreReservedAtStart) {
  EXPECT_TRUE(ctl::load_config_text("learning: {max_tracked_queries: 16777216}\n").ok());
  auto r = ctl::load_config_text("learning:\n  max_tracked_queries: 100000000\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(all_errors(r).find("learning.max_tracked_queries (line 2): must be between 1 and 16777216"),
            std::string::npos) << all_errors(r);
}

TEST(Config, TheMetricsAddressIsWhatTheExporterTakes) {
  for (const char* good : {"127.0.0.1:9153", "[::1]:9153", "0.0.0.0:9153", "127.0.0.1:9153,[::1]:9154",
                           "localhost:9153", "9153", "+9153", "metrics.example.lab:9153"})
    EXPECT_TRUE(ctl::load_config_text(std::string("metrics: {listen: \"") + good + "\"}\n").ok()) << good;
  EXPECT_TRUE(ctl::load_config_text("metrics: {listen: \"\"}\n").ok());  // off
  struct Case {
    const char* listen;
    const char* says;
  };
  for (const Case& c : {Case{"::1:9153", "is neither an address nor a host name (IPv6 in brackets)"},
                        Case{"[127.0.0.1]:9153", "is not an IPv6 address"}, Case{"local host:9153", "neither"},
                        Case{"127.0.0.1:", "\"\" is not a port"}, Case{"127.0.0.1:70000", "\"70000\" is not a port"},
                        Case{"127.0.0.1:0", "\"0\" is not a port"}, Case{"http://127.0.0.1:9153", "neither"},
                        Case{"127.0.0.1:9153,", "\"\" is not a port"}, Case{"metrics", "\"metrics\" is not a port"}}) {
    auto r = ctl::load_config_text(std::string("mode: enforce\nmetrics:\n  listen: \"") + c.listen + "\"\n");
    ASSERT_FALSE(r.ok()) << c.listen;
    std::string all = all_errors(r);
    EXPECT_NE(all.find("metrics.listen (line 3): \"" + std::string(c.listen) + "\""), std::string::npos) << all;
    EXPECT_NE(all.find(c.says), std::string::npos) << all;
  }
}

TEST(Config, AFolderOrAMissingFileIsAnErrorNotTheDefaults) {
  auto folder = ctl::load_config_file(NSGATE_SOURCE_DIR);
  ASSERT_FALSE(folder.ok());
  EXPECT_NE(all_errors(folder).find("is a folder"), std::string::npos) << all_errors(folder);
  EXPECT_FALSE(ctl::load_config_file(std::string(NSGATE_SOURCE_DIR) + "/no-such-file.yaml").ok());
}

TEST(Config, AReloadRefusesAnEmptyFileButTakesAnEmptyMap) {
  testing::TempDir dir;
  auto write = [&](const std::string& name, const std::string& text) {
    std::string path = dir / name;
    FILE* f = std::fopen(path.c_str(), "w");
    std::fputs(text.c_str(), f);
    std::fclose(f);
    return path;
  };
  std::string empty = write("empty.yaml", ""), blank = write("blank.yaml", "\n  \n"), map = write("map.yaml", "{}\n");
  EXPECT_TRUE(ctl::load_config_file(empty).ok());  // at start: every default, as documented
  for (const std::string& path : {empty, blank}) {
    auto r = ctl::load_config_file_for_reload(path);
    ASSERT_FALSE(r.ok()) << path;
    EXPECT_NE(all_errors(r).find("is empty; the running configuration stays"), std::string::npos) << all_errors(r);
  }
  EXPECT_TRUE(ctl::load_config_file_for_reload(map).ok());
}

TEST(Config, LearningClientsAreCidrsWithTheirErrorsLocated) {
  auto r = ctl::load_config_text("learning:\n  clients: [192.0.2.53/32, \"2001:db8::/64\"]\n");
  ASSERT_TRUE(r.ok()) << all_errors(r);
  ASSERT_EQ(r.config.learning.clients.size(), 2u);
  EXPECT_EQ(r.config.learning.clients[1].to_string(), "2001:db8::/64");
  EXPECT_TRUE(ctl::load_config_text("").config.learning.clients.empty());  // default: every client
  auto bad = ctl::load_config_text("learning:\n  clients:\n    - 192.0.2.53/32\n    - resolver1\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(all_errors(bad).find("learning.clients[1] (line 4): \"resolver1\""), std::string::npos) << all_errors(bad);
  auto shape = ctl::load_config_text("learning:\n  clients: 192.0.2.53/32\n");
  EXPECT_NE(all_errors(shape).find("learning.clients (line 2): must be a list"), std::string::npos) << all_errors(shape);
}

TEST(Config, DuplicateKeysAreReportedWithBothLines) {
  auto r = ctl::load_config_text("mode: enforce\nlearning:\n  grace: 10\n  grace: 20\nmode: monitor\n");
  ASSERT_FALSE(r.ok());
  std::string all = all_errors(r);
  EXPECT_NE(all.find("mode (line 5): duplicate key (first at line 1"), std::string::npos) << all;
  EXPECT_NE(all.find("learning.grace (line 4): duplicate key (first at line 3"), std::string::npos) << all;
}

TEST(Config, SyntaxErrorsAreReportedNotThrown) {
  auto r = ctl::load_config_text("static_allow: [1.2.3.4\nmode: x\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].path, "(syntax)");
  EXPECT_GT(r.errors[0].line, 0);
}

TEST(Config, WrongShapesAreReported) {
  auto r = ctl::load_config_text("static_allow: 8.8.8.8\nlearning: [1]\ndns_ports: [53, 0, 70000]\n");
  ASSERT_FALSE(r.ok());
  std::string all = all_errors(r);
  EXPECT_NE(all.find("static_allow (line 1): must be a list"), std::string::npos) << all;
  EXPECT_NE(all.find("learning (line 2): must be a mapping"), std::string::npos) << all;
  EXPECT_NE(all.find("dns_ports[1] (line 3): 0 is out of range"), std::string::npos) << all;
  EXPECT_NE(all.find("dns_ports[2] (line 3): 70000 is out of range"), std::string::npos) << all;
}

TEST(Config, TheOpenflowShimLearningFromTheBridgeNeedsTheInsidePort) {
  // Without it the shim cannot tell a response from outside from one a
  // host inside forged.
  auto r = ctl::load_config_text("openflow:\n  listen: tcp:127.0.0.1:6653\n  inside_port: 0\n");
  ASSERT_TRUE(r.ok()) << all_errors(r);  // nsgate run has no use for it
  std::vector<ConfigError> errs = validate_openflow_shim(r.config);
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].path, "openflow.inside_port");
  EXPECT_EQ(errs[0].line, 3);
  r.config.openflow.inside_port = 1;
  EXPECT_TRUE(validate_openflow_shim(r.config).empty());
  r.config.openflow.inside_port = 0;
  r.config.openflow.learn_from = "eth3";  // learns from a capture, not the bridge's copies
  EXPECT_TRUE(validate_openflow_shim(r.config).empty());
  auto example = ctl::load_config_file(std::string(NSGATE_SOURCE_DIR) + "/conf/ofshim.yaml");
  ASSERT_TRUE(example.ok()) << all_errors(example);
  EXPECT_TRUE(validate_openflow_shim(example.config).empty());
}

TEST(Config, AnEntryThatDidNotLoadLeavesTheOthersTheirOwnNumbersAndLines) {
  auto r = ctl::load_config_text(
      "static_allow:\n"
      "  - 8.8.8.8/33\n"
      "  - 1.1.1.0/24\n"
      "  - 1.1.1.0/24\n"
      "  - {cidr: 9.9.9.9/32, zone: \"bad..zone\"}\n"
      "dns_ports: [99999, 53, 53]\n");
  ASSERT_FALSE(r.ok());
  std::string all = all_errors(r);
  EXPECT_NE(all.find("static_allow[0].cidr (line 2)"), std::string::npos) << all;
  EXPECT_NE(all.find("static_allow[2].cidr (line 4): duplicate of static_allow[1] (1.1.1.0/24)"), std::string::npos)
      << all;
  EXPECT_NE(all.find("static_allow[3].zone (line 5)"), std::string::npos) << all;
  EXPECT_NE(all.find("dns_ports[2] (line 6): duplicate of dns_ports[1]"), std::string::npos) << all;
}

TEST(Config, AnEmptyModeIsAnErrorNotEnforce) {
  EXPECT_TRUE(refused_with("mode: \"\"\n", "mode (line 1): \"\" is not one of enforce, monitor"));
}

TEST(Config, HoldingResponsesIsSetAtStartOfNsgateRun) {
  // The workers take it from their options: a reload that changed it
  // would say "reloaded" and change nothing.
  Config running, next;
  next.hold_responses = !running.hold_responses;
  EXPECT_EQ(keep_restart_only(running, next, Enforcer::dpdk), (std::vector<std::string>{"hold_responses"}));
  EXPECT_EQ(next.hold_responses, running.hold_responses);
}

TEST(Config, AReloadKeepsWhatOnlyARestartChangesAndNamesIt) {
  Config running;
  running.openflow.learn_from = "eth3";
  running.openflow.listen = "tcp:127.0.0.1:6653";
  running.ports.inside = "net_af_packet0,iface=veth0";
  running.learning.capacity = 1000;
  Config next = running;
  next.openflow.learn_from = "eth4";
  next.ports.inside = "net_af_packet0,iface=veth9";
  next.learning.capacity = 2000;
  next.dns_ports = {53, 5353};  // changes live
  next.mode = Mode::monitor;    // likewise
  Config ofshim = next;
  EXPECT_EQ(keep_restart_only(running, ofshim, Enforcer::openflow),
            (std::vector<std::string>{"openflow.learn_from", "learning.capacity"}));
  EXPECT_EQ(ofshim.openflow.learn_from, "eth3");
  EXPECT_EQ(ofshim.learning.capacity, 1000u);
  EXPECT_EQ(ofshim.dns_ports, (std::vector<uint16_t>{53, 5353}));
  EXPECT_EQ(ofshim.mode, Mode::monitor);
  Config run = next;
  EXPECT_EQ(keep_restart_only(running, run, Enforcer::dpdk),
            (std::vector<std::string>{"ports.inside", "learning.capacity"}));
  EXPECT_EQ(run.ports.inside, running.ports.inside);
  // Kept, a second reload of the same file names them again, nothing else.
  Config again = next;
  EXPECT_EQ(keep_restart_only(ofshim, again, Enforcer::openflow).size(), 2u);
  Config unchanged = running;
  EXPECT_TRUE(keep_restart_only(running, unchanged, Enforcer::openflow).empty());
}

TEST(Config, TheQueryBoundIsSetAtStartLikeTheCapacity) {
  Config running, next;
  next.learning.max_tracked_queries = running.learning.max_tracked_queries / 2;
  EXPECT_EQ(keep_restart_only(running, next, Enforcer::dpdk),
            (std::vector<std::string>{"learning.max_tracked_queries"}));
  EXPECT_EQ(next.learning.max_tracked_queries, running.learning.max_tracked_queries);
}


// EAL takes a PCI device with -a (devargs after a comma included) and any
// other device with --vdev.
TEST(Config, PortSpecsArePciAddressesOnlyInPciForm) {
  const std::pair<const char*, const char*> pci[] = {
      {"0000:03:00.0", "0000:03:00.0"}, {"03:00.1", "0000:03:00.1"}, {"0000:AF:1f.7", "0000:af:1f.7"},
      {"0000:03:00.0,rx_low_latency=1", "0000:03:00.0"}, {"0:3:0.0", "0000:03:00.0"},
      {"10000:e1:00.0", "10000:e1:00.0"}};  // VMD domains have five digits
  for (const auto& [spec, name] : pci) EXPECT_EQ(pci_device_name(spec), name) << spec;
  for (const char* vdev : {"net_af_packet0,iface=eth1", "net_pcap0,rx_pcap=a:b.pcap", "net_null0", "0000:03:00",
                           "03:00.0x", "0000:03:00.8", "0000:03:20.0", "", "net_tap0,iface=t:0.1", "000:03:0.0:1"})
    EXPECT_FALSE(is_pci_port(vdev)) << vdev;
}

}  // namespace
}  // namespace nsgate
