// BERTH_CHECK: for berth's own invariants only. It aborts with file:line, so it must never be used
// on anything the environment controls (YAML, network data, engine answers): those get a Result.
#pragma once

#include <string_view>

namespace berth::detail {
[[noreturn]] void checkFailed(const char* file, int line, std::string_view condition,
                              std::string_view message);
}  // namespace berth::detail

#define BERTH_CHECK(cond) \
  ((cond) ? static_cast<void>(0) : ::berth::detail::checkFailed(__FILE__, __LINE__, #cond, ""))
#define BERTH_CHECK_MSG(cond, msg) \
  ((cond) ? static_cast<void>(0) : ::berth::detail::checkFailed(__FILE__, __LINE__, #cond, (msg)))
