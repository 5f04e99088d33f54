// SPDX-License-Identifier: BSD-3-Clause
#pragma once

// Names and descriptions for enums generated from an X-macro list of
// X(name, text) entries (DESIGN §5.6: one list makes the enum, the counter
// names and the help text).

// In a header: `enum class E : uint8_t { LIST(NSGATE_X_ENUMERATOR) };` and
// `inline constexpr size_t kECount = 0 LIST(NSGATE_X_COUNT);`.
// NSGATE_DEFINE_NAMES / NSGATE_DEFINE_TO_STRING: at namespace scope in one
// .cc file.

#include <cstddef>
#include <iterator>

#define NSGATE_X_ENUMERATOR(name, text) name,
#define NSGATE_X_COUNT(name, text) +1
#define NSGATE_X_NAME(name, text) #name,
#define NSGATE_X_TEXT(name, text) text,

#define NSGATE_DEFINE_TO_STRING(Enum, LIST)                        \
  const char* to_string(Enum v) {                                  \
    static constexpr const char* kNames[] = {LIST(NSGATE_X_NAME)}; \
    auto i = static_cast<size_t>(v);                               \
    return i < std::size(kNames) ? kNames[i] : "?";                \
  }

#define NSGATE_DEFINE_NAMES(Enum, LIST)                            \
  NSGATE_DEFINE_TO_STRING(Enum, LIST)                              \
  const char* describe(Enum v) {                                   \
    static constexpr const char* kTexts[] = {LIST(NSGATE_X_TEXT)}; \
    auto i = static_cast<size_t>(v);                               \
    return i < std::size(kTexts) ? kTexts[i] : "?";                \
  }
