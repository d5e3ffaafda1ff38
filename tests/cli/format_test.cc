// The CLI's output helpers: docker's human durations and sizes, port lists, tables, time flags.
#include <gtest/gtest.h>

#include "cli/format.h"

namespace berth::cli {
namespace {

TEST(FormatTest, HumanDurationsAsDockerPrintsThem) {
  EXPECT_EQ(humanDuration(0), "Less than a second");
  EXPECT_EQ(humanDuration(1), "1 second");
  EXPECT_EQ(humanDuration(59), "59 seconds");
  EXPECT_EQ(humanDuration(60), "About a minute");
  EXPECT_EQ(humanDuration(150), "2 minutes");
  EXPECT_EQ(humanDuration(3600), "About an hour");
  EXPECT_EQ(humanDuration(3 * 3600), "3 hours");
  EXPECT_EQ(humanDuration(3 * 86400), "3 days");
  EXPECT_EQ(humanDuration(20 * 86400), "2 weeks");
  EXPECT_EQ(humanDuration(90 * 86400), "3 months");
  EXPECT_EQ(humanDuration(800 * 86400), "2 years");
}

TEST(FormatTest, HumanSizes) {
  EXPECT_EQ(humanSize(999), "999B");
  EXPECT_EQ(humanSize(1980000), "1.98MB");
  EXPECT_EQ(humanSize(4200000000), "4.2GB");
}

TEST(FormatTest, PortsSortedAndDeduplicated) {
  std::vector<engine::PortSummary> ports = {{"::", 80, 8080, "tcp"},
                                            {"0.0.0.0", 80, 8080, "tcp"},
                                            {"", 443, 0, "tcp"},
                                            {"0.0.0.0", 53, 1053, "udp"}};
  EXPECT_EQ(portsText(ports), "0.0.0.0:1053->53/udp, 0.0.0.0:8080->80/tcp, :::8080->80/tcp, 443/tcp");
  EXPECT_EQ(portsText({}), "");
}

TEST(FormatTest, TablesAlignOnCharactersNotBytes) {
  EXPECT_EQ(table({{"NAME", "COMMAND", "PORTS"}, {"a-1", "\"sleep…\"", ""}, {"long-name-1", "x", "80/tcp"}}),
            "NAME          COMMAND    PORTS\n"
            "a-1           \"sleep…\"\n"
            "long-name-1   x          80/tcp\n");
}

TEST(FormatTest, TimeFlagsBecomeUnixTimes) {
  const std::int64_t now = 1700000000;
  EXPECT_EQ(*engineTimestamp("", now), "");
  EXPECT_EQ(*engineTimestamp("1699999000", now), "1699999000");
  EXPECT_EQ(*engineTimestamp("1699999000.5", now), "1699999000.5");
  EXPECT_EQ(*engineTimestamp("42m", now), "1699997480.000");
  EXPECT_EQ(*engineTimestamp("1h30m", now), "1699994600.000");
  EXPECT_EQ(*engineTimestamp("2023-11-14T22:13:20Z", now), "1700000000");
  EXPECT_EQ(*engineTimestamp("2023-11-14T22:13:20.250Z", now), "1700000000");
  EXPECT_EQ(*engineTimestamp("2023-11-14T23:13:20+01:00", now), "1700000000");
  EXPECT_EQ(*engineTimestamp("2023-11-14", now), "1699920000");
  auto bad = engineTimestamp("yesterday", now);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(),
            "invalid time \"yesterday\": expected a Unix time, a duration like 42m or an RFC 3339 time");
}

}  // namespace
}  // namespace berth::cli
