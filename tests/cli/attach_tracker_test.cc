// What attached `up` does about each container: when a log session starts, when an exit is
// reported, when `up` is done.
#include "cli/attach_tracker.h"

#include <gtest/gtest.h>

namespace berth::cli {
namespace {

const TrackedContainer kWeb{"id-web", "p-web-1", "web"};
const TrackedContainer kDb{"id-db", "p-db-1", "db"};

TEST(AttachTrackerTest, NothingTrackedIsAllExited) {
  AttachTracker t;
  EXPECT_TRUE(t.allExited());
}

TEST(AttachTrackerTest, ARunIsFollowedOnceAndItsExitReportedAfterItsLastLines) {
  AttachTracker t;
  EXPECT_TRUE(t.started(kWeb));
  EXPECT_FALSE(t.allExited());
  // The engine's "die" arrives before the session saw the end of the output: reported later.
  EXPECT_EQ(t.died(kWeb.id, 3, false), std::nullopt);
  EXPECT_FALSE(t.allExited());
  const auto end = t.sessionEnded(kWeb.id);
  EXPECT_FALSE(end.followAgain);
  ASSERT_EQ(end.exits.size(), 1u);
  EXPECT_EQ(end.exits[0].container.name, "p-web-1");
  EXPECT_EQ(end.exits[0].exitCode, 3);
  EXPECT_FALSE(end.exits[0].restarting);
  EXPECT_TRUE(t.allExited());
}

TEST(AttachTrackerTest, AnExitAfterTheSessionEndedIsReportedAtOnce) {
  AttachTracker t;
  ASSERT_TRUE(t.started(kWeb));
  EXPECT_TRUE(t.sessionEnded(kWeb.id).exits.empty());
  EXPECT_FALSE(t.allExited());  // no "die" yet: it may still run
  const auto exit = t.died(kWeb.id, 0, false);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->container.service, "web");
  EXPECT_TRUE(t.allExited());
}

TEST(AttachTrackerTest, ARestartWhileTheSessionRunsContinuesTheSession) {
  AttachTracker t;
  ASSERT_TRUE(t.started(kWeb));
  EXPECT_EQ(t.died(kWeb.id, 1, true), std::nullopt);
  EXPECT_FALSE(t.started(kWeb));  // the session has not ended yet: no second one
  const auto end = t.sessionEnded(kWeb.id);
  EXPECT_TRUE(end.followAgain);
  ASSERT_EQ(end.exits.size(), 1u);
  EXPECT_TRUE(end.exits[0].restarting);
  EXPECT_FALSE(t.allExited());
  EXPECT_EQ(t.died(kWeb.id, 1, false), std::nullopt);
  const auto last = t.sessionEnded(kWeb.id);
  EXPECT_FALSE(last.followAgain);
  ASSERT_EQ(last.exits.size(), 1u);
  EXPECT_TRUE(t.allExited());
}

TEST(AttachTrackerTest, ARestartAfterTheSessionEndedStartsANewOne) {
  AttachTracker t;
  ASSERT_TRUE(t.started(kWeb));
  (void)t.sessionEnded(kWeb.id);
  const auto exit = t.died(kWeb.id, 1, true);
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->restarting);
  EXPECT_FALSE(t.allExited());  // waiting to restart
  EXPECT_TRUE(t.started(kWeb));
}

TEST(AttachTrackerTest, UpIsDoneOnlyWhenEveryContainerExited) {
  AttachTracker t;
  ASSERT_TRUE(t.started(kDb));
  t.created(kWeb);  // starts once db is healthy
  (void)t.sessionEnded(kDb.id);
  ASSERT_TRUE(t.died(kDb.id, 0, false));
  EXPECT_FALSE(t.allExited());
  ASSERT_TRUE(t.started(kWeb));
  (void)t.sessionEnded(kWeb.id);
  ASSERT_TRUE(t.died(kWeb.id, 0, false));
  EXPECT_TRUE(t.allExited());
}

TEST(AttachTrackerTest, ARemovedOrStoppedContainerIsNoLongerAlive) {
  AttachTracker t;
  t.created(kWeb);
  EXPECT_FALSE(t.allExited());
  t.gone(kWeb.id);
  EXPECT_TRUE(t.allExited());
}

TEST(AttachTrackerTest, ContainersNeverStartedAreIgnored) {
  AttachTracker t;
  EXPECT_EQ(t.died("someone-else", 1, false), std::nullopt);
  t.gone("someone-else");
  EXPECT_TRUE(t.sessionEnded("someone-else").exits.empty());
  EXPECT_FALSE(t.tracks("someone-else"));
  EXPECT_TRUE(t.allExited());
}

TEST(AttachTrackerTest, TheLatestNameIsReported) {
  AttachTracker t;
  t.created({"id-web", "1f2e3d4c_p-web-1", "web"});  // recreated: a temporary name first
  ASSERT_TRUE(t.started(kWeb));
  (void)t.sessionEnded(kWeb.id);
  const auto exit = t.died(kWeb.id, 0, false);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->container.name, "p-web-1");
}

}  // namespace
}  // namespace berth::cli
