// SPDX-License-Identifier: BSD-3-Clause
#pragma once

#include <cstdint>

namespace nsgate {

// The splitmix64 finaliser: every input bit reaches every output bit, so a
// hash built by folding fields in with it may be masked to its low bits.
inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace nsgate
