// main() of every integration test binary (they link berth_testing instead of gtest_main): makes
// SIGINT/SIGTERM/SIGHUP tear the test hosts down before the binary dies, then runs the tests. Hosts
// still running at exit (sharedEngine()) are stopped by atexit handlers; if the binary is killed
// outright, each host's holder notices and cleans up on its own (see test_host.h).
#include <gtest/gtest.h>

#include "harness/test_host.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  berth::testing::installTerminationHandlers();
  return RUN_ALL_TESTS();
}
