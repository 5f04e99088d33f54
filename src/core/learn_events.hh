// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// Every result of offering a record (or a whole response) to the learner.
// One list generates the enum, the names printed by `nsgate learn`, and the
// Prometheus label values (DESIGN §5.6).

#include <array>
#include <cstddef>
#include <cstdint>

#include "core/x_names.hh"

namespace nsgate {

#define NSGATE_LEARN_EVENTS(X)                                                                  \
  X(added, "an address was learned for a zone")                                                 \
  X(refreshed, "a known address was seen again for the same zone; its expiry moved on")         \
  X(pending, "an NS target came without glue; waiting for its address")                        \
  X(pending_expired, "an NS target's address did not arrive within ns_address_window")         \
  X(unmatched_response, "rule 1: no matching query (client, server, ports, id, name, type)")    \
  X(source_not_allowed, "rule 2: the answering server is not itself allowed")                   \
  X(source_teaches_nothing, "rule 2: the answering server is a static allow without a zone")    \
  X(ns_out_of_bailiwick, "rule 3: NS owner is outside the zones the server serves")             \
  X(glue_not_ns_target, "rule 3: address record for a name that no accepted NS names")          \
  X(glue_out_of_bailiwick, "rule 3: glue owner is outside the zones the server serves")         \
  X(answer_not_delegation, "an address answer for a name that no NS named teaches nothing")     \
  X(unusable_address, "rule 4: unspecified, loopback, multicast, link-local, reserved or v4-mapped")\
  X(private_address, "rule 4: private-use address and learning.allow_private is off")           \
  X(fragment, "rule 5: the response came in IP fragments or was cut short by the capture")                                        \
  X(malformed, "rule 5: the response did not parse cleanly")                                    \
  X(response_from_inside, "a response that came from the inside port (a host there can forge any)")   \
  X(not_standard_response, "not a standard query response with exactly one question, of class IN")           \
  X(error_rcode, "response code other than NOERROR")                                            \
  X(truncated_tc, "TC bit set; the resolver retries over TCP")                                  \
  X(per_response_cap, "more new addresses, or NS targets left waiting, in one response than learning.per_response_cap")     \
  X(per_zone_cap, "the zone already has learning.per_zone_cap addresses")                       \
  X(per_address_zone_cap, "the address already serves learning.zones_per_address zones (the soonest to expire of those as deep as the new one makes room, else the new one is refused)")       \
  X(table_full, "the table is at capacity")                                                     \
  X(pending_full, "too many NS targets waiting for their addresses (max_pending_ns, a sixteenth of it per server)")                            \
  X(query_evicted, "a query was forgotten to make room: learning.max_tracked_queries reached")  \
  X(query_not_from_client, "a query was not tracked: its client is not in learning.clients")     \
  X(expired, "a learned address reached its expiry and was deleted")

enum class LearnEvent : uint8_t { NSGATE_LEARN_EVENTS(NSGATE_X_ENUMERATOR) };
inline constexpr size_t kLearnEventCount = 0 NSGATE_LEARN_EVENTS(NSGATE_X_COUNT);
const char* to_string(LearnEvent e);
const char* describe(LearnEvent e);

using LearnCounters = std::array<uint64_t, kLearnEventCount>;

}  // namespace nsgate
