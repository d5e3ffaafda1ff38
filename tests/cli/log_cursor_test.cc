// A container's output across log sessions: each line shown once, the engine's timestamps kept or
// dropped; cutting the engine's pieces into lines.
#include "cli/log_cursor.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli/log_stream.h"

namespace berth::cli {
namespace {

TEST(LogCursorTest, StartsAtItsSinceAndThenAtTheLastLineShown) {
  LogCursor c("1714557599.000000000");
  EXPECT_EQ(c.since(), "1714557599.000000000");
  EXPECT_EQ(c.accept("2024-05-01T10:00:00.123456789Z hello", false), "hello");
  EXPECT_EQ(c.since(), "1714557600.123456789");
}

TEST(LogCursorTest, KeepsTheTimestampWhenAskedTo) {
  LogCursor c("0");
  EXPECT_EQ(c.accept("2024-05-01T10:00:00.000000001Z hello", true), "2024-05-01T10:00:00.000000001Z hello");
  EXPECT_EQ(c.accept("2024-05-01T10:00:00.000000002Z ", false), "");
}

TEST(LogCursorTest, ANewSessionSkipsWhatWasShown) {
  LogCursor c("0");
  ASSERT_TRUE(c.accept("2024-05-01T10:00:00.100000000Z one", false));
  ASSERT_TRUE(c.accept("2024-05-01T10:00:00.200000000Z two", false));
  ASSERT_TRUE(c.accept("2024-05-01T10:00:00.200000000Z two again, same instant", false));
  // The next session asks from the last timestamp on (the engine's `since` includes it).
  c.beginSession();
  EXPECT_EQ(c.since(), "1714557600.200000000");
  EXPECT_EQ(c.accept("2024-05-01T10:00:00.200000000Z two", false), std::nullopt);
  EXPECT_EQ(c.accept("2024-05-01T10:00:00.200000000Z two again, same instant", false), std::nullopt);
  EXPECT_EQ(c.accept("2024-05-01T10:00:00.200000000Z three, still the same instant", false),
            "three, still the same instant");
  EXPECT_EQ(c.accept("2024-05-01T10:00:01Z four", false), "four");
  EXPECT_EQ(c.accept("2024-05-01T10:00:00.500000000Z older", false), std::nullopt);
}

TEST(LogCursorTest, ALineWithoutATimestampIsShownAsItIs) {
  LogCursor c("5");
  EXPECT_EQ(c.accept("no timestamp here", false), "no timestamp here");
  EXPECT_EQ(c.accept("", false), "");
  EXPECT_EQ(c.since(), "5");
}

TEST(LineSplitterTest, CutsPiecesIntoLines) {
  std::vector<std::string> lines;
  LineSplitter s([&](std::string_view line) { lines.emplace_back(line); });
  s.add("one\ntw");
  s.add("o\r\n\nthr");
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two", ""}));
  s.flush();
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two", "", "thr"}));
  s.flush();
  EXPECT_EQ(lines.size(), 4u);
}

}  // namespace
}  // namespace berth::cli
