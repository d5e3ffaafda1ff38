// The controller's event log: events keep every field through the ring, come back numbered and in
// order from any point, the oldest go when the ring is full, and waiters wake on an append.
#include "cluster/events.h"

#include <gtest/gtest.h>

#include <chrono>
#include <stop_token>
#include <string>
#include <thread>

namespace berth::cluster {
namespace {

using namespace std::chrono_literals;

ControllerEvent event(std::string action, std::string message = "") {
  return ControllerEvent{.time = WallTime(std::chrono::seconds(1714557600)),
                         .type = "task",
                         .action = std::move(action),
                         .stack = "shop",
                         .service = "web",
                         .task = "0123456789ab",
                         .name = "web.2",
                         .host = "h1",
                         .message = std::move(message)};
}

std::string actions(const std::vector<ControllerEvent>& events) {
  std::string out;
  for (const auto& e : events) out += std::to_string(e.seq) + ":" + e.action + " ";
  return out;
}

TEST(EventLog, EveryFieldComesBackAsAppended) {
  EventLog log;
  ControllerEvent full = event("failed", "exited with status 3");
  full.time = WallTime(std::chrono::nanoseconds(1714557600123456789));
  log.append({full});
  const auto got = log.since(0);
  ASSERT_EQ(got.size(), 1u);
  full.seq = 1;
  EXPECT_EQ(got[0], full);

  // Empty texts stay empty, in their places.
  ControllerEvent sparse{.type = "host", .action = "down", .name = "h3", .message = "no answer for 5s"};
  log.append({sparse});
  sparse.seq = 2;
  EXPECT_EQ(log.since(1), std::vector<ControllerEvent>{sparse});
}

TEST(EventLog, ReadsFromAnyPointInOrder) {
  EventLog log;
  log.append({event("placed"), event("starting")});
  log.append({event("running")});
  EXPECT_EQ(actions(log.since(0)), "1:placed 2:starting 3:running ");
  EXPECT_EQ(actions(log.since(2)), "3:running ");
  EXPECT_EQ(actions(log.since(3)), "");
  EXPECT_EQ(actions(log.since(99)), "");
  EXPECT_EQ(log.lastSeq(), 3u);
}

TEST(EventLog, TheOldestGoWhenTheRingIsFull) {
  EventLog log(3);
  for (const char* a : {"a", "b", "c", "d", "e"}) log.append({event(a)});
  EXPECT_EQ(actions(log.since(0)), "3:c 4:d 5:e ");
  EXPECT_EQ(actions(log.since(1)), "3:c 4:d 5:e ");  // 2 is gone: what is left, not a gap
  EXPECT_EQ(actions(log.since(3)), "4:d 5:e ");
  EXPECT_EQ(log.lastSeq(), 5u);
}

TEST(EventLog, AMessageIsCutAtANul) {
  EventLog log;
  log.append({event("failed", std::string("engine said\0 more", 17))});
  EXPECT_EQ(log.since(0).at(0).message, "engine said");
  EXPECT_EQ(log.since(0).at(0).host, "h1");
}

TEST(EventLog, AWaiterWakesOnAnAppend) {
  EventLog log;
  log.append({event("placed")});
  std::jthread writer([&] {
    std::this_thread::sleep_for(20ms);
    log.append({event("running")});
  });
  std::stop_source stop;
  const auto got = log.wait(1, 10s, stop.get_token());
  EXPECT_EQ(actions(got), "2:running ");
}

TEST(EventLog, AWaiterReturnsEmptyAtItsTimeout) {
  EventLog log;
  std::stop_source stop;
  EXPECT_TRUE(log.wait(0, 10ms, stop.get_token()).empty());
}

}  // namespace
}  // namespace berth::cluster
