// The model's small rules that are not the scheduler's or the reconciler's.
#include "cluster/model.h"

#include <gtest/gtest.h>

namespace berth::cluster {
namespace {

TEST(ChangesObservationTest, LifecycleAndHealthEventsAskForAListing) {
  for (const char* action :
       {"create", "start", "restart", "die", "kill", "oom", "stop", "destroy", "pause", "unpause", "rename",
        "update", "health_status: healthy", "health_status: unhealthy"}) {
    EXPECT_TRUE(changesObservation(action)) << action;
  }
  // An action berthd does not know yet is taken as a change: a listing too many, never one too few.
  EXPECT_TRUE(changesObservation("checkpoint"));
}

TEST(ChangesObservationTest, ExecsAndCopiesDoNot) {
  // What a healthcheck makes every interval, with the command after a colon as the engine sends it.
  for (const char* action :
       {"exec_create: /bin/sh -c true", "exec_start: /bin/sh -c true", "exec_die", "exec_detach", "attach",
        "detach", "resize", "top", "copy", "archive-path", "extract-to-dir", "export", "commit"}) {
    EXPECT_FALSE(changesObservation(action)) << action;
  }
}

}  // namespace
}  // namespace berth::cluster
