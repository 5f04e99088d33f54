// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// Snapshots of the learned table with provenance.
//
// File layout (all integers big-endian):
//   header (40 bytes): magic "NSGATE\0S", u32 version, u32 entry count,
//     i64 taken_at (Unix ns), u64 body length, u32 CRC-32 of the body,
//     u32 CRC-32 of the preceding 36 header bytes
//   body: entry count records, each u16 length followed by that many bytes:
//     address (16), kind (u8), zone, ns (text), ns_ttl, addr_ttl (u32),
//     expires, query_time (i64), query_id (u16), query_name (text),
//     response_time (i64), server (16); text is a u16 length and the
//     characters (version 1: a u8 length, names cut at 255; still read).
// Times inside are Unix-epoch nanoseconds (wall clock), so a snapshot taken
// live can be loaded after a restart and remaining TTLs follow from the
// wall clock at load time.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/provenance.hh"

namespace nsgate::snapshot {

inline constexpr uint32_t kVersion = 2;  // what encode() writes; decode() reads 1 and 2

struct Contents {
  TimeNs taken_at = 0;
  std::vector<Provenance> entries;
};

std::vector<std::byte> encode(const Contents& c);
// Returns false with a message naming the problem (truncated, bad checksum,
// wrong version...) and leaves `out` empty.
bool decode(std::span<const std::byte> file, Contents& out, std::string& error);

// Written to PATH.tmp, fsync'ed, renamed over PATH, and the folder fsync'ed:
// a crash leaves either the old or the new file, never a torn one.
bool write_file(const std::string& path, const Contents& c, std::string& error);
bool read_file(const std::string& path, Contents& out, std::string& error);
// Removes the temporary files write_file left beside `path` (PATH.tmp.
// and six characters) when a writer was killed mid-way, those not changed
// for `older_than` (a writer still at work keeps its own); each can be as
// large as a snapshot. Returns the names removed.
std::vector<std::string> remove_stale_temps(const std::string& path, TimeNs older_than);

uint32_t crc32(std::span<const std::byte> data);

// Moves a record's times by `delta` (wall <-> monotonic); unset times and
// "never" stay as they are.
void shift_clock(Provenance& p, TimeNs delta);

}  // namespace nsgate::snapshot
