#include "base/time.h"

#include <gtest/gtest.h>

namespace berth {
namespace {

using namespace std::chrono;

SystemNanos utc(int y, unsigned mo, unsigned d, int h, int mi, int s, std::int64_t ns = 0) {
  return SystemNanos(sys_days(year_month_day{year(y), month(mo), day(d)}) + hours(h) + minutes(mi) +
                     seconds(s)) +
         nanoseconds(ns);
}

TEST(Rfc3339Test, ReadsUtcWithAndWithoutFraction) {
  EXPECT_EQ(parseRfc3339("2024-05-01T10:00:00Z"), utc(2024, 5, 1, 10, 0, 0));
  EXPECT_EQ(parseRfc3339("2024-05-01T10:00:00.123456789Z"), utc(2024, 5, 1, 10, 0, 0, 123456789));
  EXPECT_EQ(parseRfc3339("2024-05-01T10:00:00.5Z"), utc(2024, 5, 1, 10, 0, 0, 500000000));
}

TEST(Rfc3339Test, AppliesTheZoneOffset) {
  // Engines on a machine with a local zone write /info's SystemTime with its offset.
  EXPECT_EQ(parseRfc3339("2024-05-01T12:00:00.25+02:00"), utc(2024, 5, 1, 10, 0, 0, 250000000));
  EXPECT_EQ(parseRfc3339("2024-05-01T05:30:00-04:30"), utc(2024, 5, 1, 10, 0, 0));
  EXPECT_EQ(parseRfc3339("2024-01-01T00:30:00+01:00"), utc(2023, 12, 31, 23, 30, 0));
}

TEST(Rfc3339Test, RefusesWhatIsNotATimestamp) {
  for (const char* bad :
       {"", "2024-05-01", "2024-05-01T10:00:00", "2024-05-01T10:00:00.Z", "2024-13-01T10:00:00Z",
        "2024-02-30T10:00:00Z", "2024-05-01T24:00:00Z", "2024-05-01T10:00:00Z trailing",
        "2024-05-01T10:00:00+0200", "hello world, long enough"}) {
    EXPECT_EQ(parseRfc3339(bad), std::nullopt) << bad;
  }
}

TEST(Rfc3339Test, UnixSecondsTextAsTheEngineTakesIt) {
  EXPECT_EQ(unixSecondsText(utc(2024, 5, 1, 10, 0, 0, 123456789)), "1714557600.123456789");
  EXPECT_EQ(unixSecondsText(utc(1970, 1, 1, 0, 0, 0, 5)), "0.000000005");
  // Half a second before 1970: the engine reads the seconds and the nanoseconds apart, as
  // time.Unix(-1, 500000000).
  EXPECT_EQ(unixSecondsText(utc(1969, 12, 31, 23, 59, 59, 500000000)), "-1.500000000");
}

}  // namespace
}  // namespace berth
