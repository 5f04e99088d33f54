// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// Per-worker data-path counters. Each worker writes only its own block (one
// cache line apart); readers sum them. One list makes the enum and names.

#include <array>
#include <cstdint>

#include "core/verdict.hh"
#include "core/x_names.hh"

namespace nsgate::dp {

#define NSGATE_DP_COUNTERS(X)                                                    \
  X(rx_inside, "packets received on the inside port")                          \
  X(rx_outside, "packets received on the outside port")                        \
  X(rx_mirror, "packets received on the mirror port")                          \
  X(tx_outside, "packets sent to the outside port")                            \
  X(tx_inside, "packets sent to the inside port")                              \
  X(tx_failed, "packets a port did not accept (freed)")                        \
  X(tx_fragmented, "IPv4 frames above the outgoing port's MTU, sent in fragments") \
  X(tx_unfragmented, "frames above the outgoing port's MTU sent as they are: not IPv4, DF set, cut short, or no mbufs") \
  X(dropped, "packets dropped by verdict")                                     \
  X(drop_captured, "dropped packets copied to the drop_capture port")          \
  X(handoff, "DNS packets handed to the learner")                              \
  X(handoff_dropped, "DNS packets not handed to the learner: its ring was full") \
  X(handoff_not_client, "queries not handed to the learner: their source is not in learning.clients") \
  X(events_dropped, "query events lost: the event ring was full")             \
  X(held, "DNS responses held until the learner had read them (hold_responses)") \
  X(hold_full, "DNS responses forwarded without waiting: the hold ring was full") \
  X(lookups_cached, "DNS query destinations answered from the worker's lookup cache, not the table") \
  X(polls, "worker loop iterations")                                           \
  X(busy_polls, "worker loop iterations that received at least one packet")

enum class Counter : uint8_t { NSGATE_DP_COUNTERS(NSGATE_X_ENUMERATOR) };
inline constexpr size_t kCounterCount = 0 NSGATE_DP_COUNTERS(NSGATE_X_COUNT);
const char* to_string(Counter c);
const char* describe(Counter c);

struct alignas(64) WorkerCounters {
  std::array<uint64_t, kCounterCount> c{};
  std::array<uint64_t, kVerdictCount> verdicts{};
  void add(Counter k, uint64_t n = 1) { c[static_cast<size_t>(k)] += n; }
  uint64_t get(Counter k) const { return c[static_cast<size_t>(k)]; }
};

}  // namespace nsgate::dp
