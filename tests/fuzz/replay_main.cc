// SPDX-License-Identifier: BSD-3-Clause
// Replays fuzz inputs without libFuzzer: every file in the given folders
// (seeds, past crashes) and every frame / DNS message of the given captures.
// With --write-seeds DIR it writes those inputs as a libFuzzer corpus.
//
// usage: fuzz_replay packet|dns|snapshot|openflow [--write-seeds DIR] PATH...

#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/dns_extract.hh"
#include "io/capture.hh"
#include "targets.hh"

namespace fs = std::filesystem;

namespace {

struct Replay {
  bool packet = true;
  bool snapshot = false;
  bool openflow = false;
  std::string seeds_dir;
  size_t inputs = 0, written = 0;

  void run(const std::vector<uint8_t>& input) {
    ++inputs;
    if (openflow)
      nsgate::fuzz::openflow_target(input.data(), input.size());
    else if (snapshot)
      nsgate::fuzz::snapshot_target(input.data(), input.size());
    else if (packet)
      nsgate::fuzz::packet_target(input.data(), input.size());
    else
      nsgate::fuzz::dns_target(input.data(), input.size());
    if (!seeds_dir.empty()) {
      std::ofstream(seeds_dir + "/seed-" + std::to_string(written++), std::ios::binary)
          .write(reinterpret_cast<const char*>(input.data()), static_cast<std::streamsize>(input.size()));
    }
  }

  bool capture(const std::string& path) {
    std::string err;
    auto r = nsgate::io::CaptureReader::open(path, err);
    if (!r) {
      std::fprintf(stderr, "%s\n", err.c_str());
      return false;
    }
    uint8_t selector = 0;
    bool known = false;
    for (size_t i = 0; i < std::size(nsgate::fuzz::kLinkTypes); ++i)
      if (nsgate::fuzz::kLinkTypes[i] == r->linktype()) selector = static_cast<uint8_t>(i), known = true;
    if (!known) return true;  // not a link type nsgate decodes
    nsgate::DnsExtractor ex;
    nsgate::io::Frame f;
    while (r->next(f)) {
      if (packet) {
        std::vector<uint8_t> in{selector};
        for (std::byte b : f.data) in.push_back(std::to_integer<uint8_t>(b));
        run(in);
      } else {
        ex.feed(static_cast<nsgate::pkt::LinkType>(r->linktype()), f.time, f.data,
                [&](const nsgate::DnsMessageEvent& ev) {
                  std::vector<uint8_t> in;
                  for (std::byte b : ev.message) in.push_back(std::to_integer<uint8_t>(b));
                  run(in);
                });
      }
    }
    return true;
  }

  void file(const fs::path& p) {
    std::string ext = p.extension().string();
    if (ext == ".pcap" || ext == ".pcapng" || ext == ".cap") {
      if (!snapshot && !openflow) capture(p.string());
      return;
    }
    if (ext == ".print") return;  // ofp-print text beside the golden messages
    if (ext == ".hex") {  // a golden OpenFlow message, in hex
      std::ifstream in(p);
      std::string text;
      std::getline(in, text);  // one line of hex
      std::vector<uint8_t> data;
      for (size_t i = 0; i + 1 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i])); i += 2)
        data.push_back(static_cast<uint8_t>(std::stoi(text.substr(i, 2), nullptr, 16)));
      if (openflow) run(data);
      return;
    }
    std::ifstream in(p, std::ios::binary);
    std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    run(data);
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || (std::strcmp(argv[1], "packet") && std::strcmp(argv[1], "dns") && std::strcmp(argv[1], "snapshot") &&
                    std::strcmp(argv[1], "openflow"))) {
    std::fprintf(stderr, "usage: %s packet|dns|snapshot|openflow [--write-seeds DIR] PATH...\n", argv[0]);
    return 2;
  }
  Replay r;
  r.packet = !std::strcmp(argv[1], "packet");
  r.snapshot = !std::strcmp(argv[1], "snapshot");
  r.openflow = !std::strcmp(argv[1], "openflow");
  int i = 2;
  if (i + 1 < argc && !std::strcmp(argv[i], "--write-seeds")) {
    r.seeds_dir = argv[i + 1];
    fs::create_directories(r.seeds_dir);
    i += 2;
  }
  if (r.snapshot) {
    // The valid snapshot, and every truncation of it.
    std::vector<uint8_t> seed = nsgate::fuzz::snapshot_seed();
    for (size_t n = 0; n <= seed.size(); n += seed.size() / 8 + 1)
      r.run(std::vector<uint8_t>(seed.begin(), seed.begin() + static_cast<std::ptrdiff_t>(n)));
    r.run(seed);
  }
  for (; i < argc; ++i) {
    fs::path p(argv[i]);
    if (!fs::exists(p)) {
      std::fprintf(stderr, "%s: no such file or folder\n", argv[i]);
      return 1;
    }
    if (fs::is_directory(p)) {
      std::vector<fs::path> files;
      for (const auto& e : fs::recursive_directory_iterator(p))
        if (e.is_regular_file() && e.path().filename().string()[0] != '.' &&
            e.path().filename() != "README.md")
          files.push_back(e.path());
      std::sort(files.begin(), files.end());
      for (const auto& f : files) r.file(f);
    } else {
      r.file(p);
    }
  }
  std::printf("%s: replayed %zu inputs without a crash%s\n", argv[1], r.inputs,
              r.seeds_dir.empty() ? "" : (", wrote " + std::to_string(r.written) + " seeds").c_str());
  return r.inputs > 0 ? 0 : 1;
}
