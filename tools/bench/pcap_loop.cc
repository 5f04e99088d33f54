// SPDX-License-Identifier: BSD-3-Clause
// The benchmark's floor: a bare libpcap read loop over a capture that only
// touches each frame's bytes (sums them so the reads cannot be elided).
#include <pcap/pcap.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: bench-pcap-loop CAPTURE\n");
    return 2;
  }
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline_with_tstamp_precision(argv[1], PCAP_TSTAMP_PRECISION_NANO, err);
  if (!p) {
    std::fprintf(stderr, "%s\n", err);
    return 1;
  }
  pcap_pkthdr* h;
  const u_char* d;
  unsigned long long frames = 0, bytes = 0, sum = 0;
  while (pcap_next_ex(p, &h, &d) == 1) {
    ++frames;
    bytes += h->caplen;
    for (bpf_u_int32 i = 0; i < h->caplen; i += 64) sum += d[i];
  }
  pcap_close(p);
  std::printf("%llu frames %llu bytes (checksum %llu)\n", frames, bytes, sum);
  return 0;
}
