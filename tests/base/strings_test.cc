#include "base/strings.h"

#include <gtest/gtest.h>

namespace berth {
namespace {

TEST(StringsTest, SplitKeepsEmptyFields) {
  EXPECT_EQ(split("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(split("", ','), (std::vector<std::string>{""}));
}

TEST(StringsTest, TrimAndLower) {
  EXPECT_EQ(trim("  x y \n"), "x y");
  EXPECT_EQ(toLower("MyProject"), "myproject");
}

TEST(StringsTest, EditDistance) {
  EXPECT_EQ(editDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(editDistance("", "abc"), 3u);
  EXPECT_EQ(editDistance("same", "same"), 0u);
}

TEST(StringsTest, NearestMatchSuggestsOnlyPlausibleTypos) {
  const std::vector<std::string> commands = {"up", "down", "ps", "logs", "config", "version"};
  EXPECT_EQ(nearestMatch("verison", commands), "version");
  EXPECT_EQ(nearestMatch("confg", commands), "config");
  EXPECT_EQ(nearestMatch("xyzzyplugh", commands), std::nullopt);
}

TEST(StringsTest, QuotedEscapesControlCharacters) {
  EXPECT_EQ(quoted("a\"b\n\x01"), "\"a\\\"b\\n\\x01\"");
  EXPECT_EQ(quoted("tab\there\r\x7f"), "\"tab\\there\\r\\x7f\"");
  EXPECT_EQ(quoted("back\\slash"), "\"back\\\\slash\"");
  EXPECT_EQ(quoted("caf\xc3\xa9"), "\"caf\xc3\xa9\"");  // other bytes pass through
}

}  // namespace
}  // namespace berth
