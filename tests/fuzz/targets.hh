// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// The fuzz targets' bodies, shared by the libFuzzer binaries and the replay
// test that runs every seed and every past crash in the unit suite.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace nsgate::fuzz {

// Input: first byte picks the link type, the rest is one captured frame.
// Runs the decoder, the DNS extractor and the learner on it.
void packet_target(const uint8_t* data, size_t size);
// Input: one DNS message. Runs the parser to the end and offers the message
// to a learner as a response from a root server.
void dns_target(const uint8_t* data, size_t size);

// Input: a snapshot file. Must be refused or decoded, never crash, and a
// decoded snapshot must encode back to the same bytes.
void snapshot_target(const uint8_t* data, size_t size);
// Input: bytes a switch sent. Split into messages by their headers; every
// decoder of the OpenFlow codec runs on each (refuse or decode, never crash).
void openflow_target(const uint8_t* data, size_t size);

// A valid snapshot to seed the snapshot target with.
std::vector<uint8_t> snapshot_seed();

// Link types in the order the first byte of a packet input selects them.
inline constexpr uint32_t kLinkTypes[] = {1, 113, 276, 101, 0, 108, 228, 229};

}  // namespace nsgate::fuzz
