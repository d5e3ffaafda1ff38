// runBerth: runs the `berth` binary that this build made, for integration tests. The path comes from
// the BERTH_BINARY compile definition that tests/integration/CMakeLists.txt gives every integration
// test binary (the harness library itself is built without it, hence a header-only helper).
//
//   auto r = runBerth({"-H", engine.unixSocketUrl(), "version"});
//   ASSERT_TRUE(r) << r.error().message();
//   EXPECT_EQ(r->exitCode, 0) << r->describe();
#pragma once

#include <string>
#include <vector>

#include "harness/subprocess.h"

namespace berth::testing {

#ifdef BERTH_BINARY
inline Result<CommandResult> runBerth(const std::vector<std::string>& args, CommandOptions options = {}) {
  return runBinary(BERTH_BINARY, args, std::move(options));
}
#endif

}  // namespace berth::testing
