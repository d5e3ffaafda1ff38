#include "spec/format.h"

#include <gtest/gtest.h>

namespace berth::spec {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;

TEST(DurationTest, ParsesGoSyntaxAndDays) {
  EXPECT_EQ(*parseDuration("1m30s"), seconds(90));
  EXPECT_EQ(*parseDuration("1.5h"), minutes(90));
  EXPECT_EQ(*parseDuration("500ms"), milliseconds(500));
  EXPECT_EQ(*parseDuration("10us"), nanoseconds(10000));
  EXPECT_EQ(*parseDuration("2d"), hours(48));
  EXPECT_EQ(*parseDuration("1w"), hours(168));
  EXPECT_EQ(*parseDuration("0"), nanoseconds(0));
  EXPECT_EQ(*parseDuration("-5s"), seconds(-5));
}

TEST(DurationTest, RejectsMissingUnitsAndGarbage) {
  EXPECT_EQ(parseDuration("10").error().message(), "invalid duration \"10\"");
  EXPECT_EQ(parseDuration("").error().message(), "invalid duration \"\"");
  EXPECT_EQ(parseDuration("5 s").error().message(), "invalid duration \"5 s\"");
  EXPECT_EQ(parseDuration("1x").error().message(), "invalid duration \"1x\"");
  EXPECT_FALSE(parseDuration("99999999999999h").has_value());
}

TEST(DurationTest, FormatsLikeGo) {
  EXPECT_EQ(formatDuration(seconds(90)), "1m30s");
  EXPECT_EQ(formatDuration(seconds(60)), "1m0s");
  EXPECT_EQ(formatDuration(hours(1)), "1h0m0s");
  EXPECT_EQ(formatDuration(seconds(10)), "10s");
  EXPECT_EQ(formatDuration(milliseconds(1500)), "1.5s");
  EXPECT_EQ(formatDuration(milliseconds(500)), "500ms");
  EXPECT_EQ(formatDuration(nanoseconds(1500)), "1.5\xc2\xb5s");
  EXPECT_EQ(formatDuration(nanoseconds(0)), "0s");
  EXPECT_EQ(formatDuration(seconds(-2)), "-2s");
}

TEST(BytesTest, BinaryUnits) {
  EXPECT_EQ(*parseBytes("1024"), 1024);
  EXPECT_EQ(*parseBytes("1k"), 1024);
  EXPECT_EQ(*parseBytes("1kb"), 1024);
  EXPECT_EQ(*parseBytes("50M"), 52428800);
  EXPECT_EQ(*parseBytes("2gb"), 2147483648);
  EXPECT_EQ(*parseBytes("640KiB"), 655360);
  EXPECT_EQ(*parseBytes("1.5g"), 1610612736);
  EXPECT_EQ(parseBytes("lots").error().message(), "invalid size \"lots\"");
  EXPECT_EQ(parseBytes("-1").error().message(), "invalid size \"-1\"");
}

TEST(ShellWordsTest, QuotesAndEscapes) {
  EXPECT_EQ(*splitShellWords("bundle exec thin -p 3000"),
            (std::vector<std::string>{"bundle", "exec", "thin", "-p", "3000"}));
  EXPECT_EQ(*splitShellWords("/bin/ash -c \"rm -rf /tmp/x\""),
            (std::vector<std::string>{"/bin/ash", "-c", "rm -rf /tmp/x"}));
  EXPECT_EQ(*splitShellWords("sh -c 'echo $HOME' a\\ b \"\""),
            (std::vector<std::string>{"sh", "-c", "echo $HOME", "a b", ""}));
  EXPECT_EQ(*splitShellWords("echo a && echo b"), (std::vector<std::string>{"echo", "a", "&&", "echo", "b"}));
  EXPECT_EQ(splitShellWords("echo 'open").error().message(),
            "invalid command line string: unterminated quote");
}

TEST(PortSpecTest, ShortSyntaxForms) {
  auto one = parsePortSpec("8080:80");
  ASSERT_TRUE(one);
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].target, 80u);
  EXPECT_EQ((*one)[0].published, "8080");
  EXPECT_EQ((*one)[0].protocol, "tcp");

  auto range = parsePortSpec("127.0.0.1:5000-5002:6000-6002/udp");
  ASSERT_TRUE(range);
  ASSERT_EQ(range->size(), 3u);
  EXPECT_EQ((*range)[2].target, 6002u);
  EXPECT_EQ((*range)[2].published, "5002");
  EXPECT_EQ((*range)[2].hostIp, "127.0.0.1");
  EXPECT_EQ((*range)[2].protocol, "udp");

  auto dynamic = parsePortSpec("9000-9010:80");
  ASSERT_TRUE(dynamic);
  EXPECT_EQ((*dynamic)[0].published, "9000-9010");

  auto v6 = parsePortSpec("[::1]:8080:80");
  ASSERT_TRUE(v6);
  EXPECT_EQ((*v6)[0].hostIp, "::1");
}

TEST(PortSpecTest, Errors) {
  EXPECT_EQ(parsePortSpec("127.0.1:8080:80").error().message(), "Invalid ip address: 127.0.1");
  EXPECT_EQ(parsePortSpec("80:abc").error().message(), "invalid containerPort: abc");
  EXPECT_EQ(parsePortSpec("70000").error().message(), "invalid containerPort: 70000");
  EXPECT_EQ(parsePortSpec("1-3:4-7").error().message(),
            "invalid ranges specified for container and host Ports: 4-7 and 1-3");
  EXPECT_EQ(parsePortSpec("80/icmp").error().message(), "invalid proto: icmp");
}

TEST(VolumeSpecTest, BindNamedAnonymousAndOptions) {
  auto bind = parseVolumeSpec("./data:/data:ro,z");
  ASSERT_TRUE(bind);
  EXPECT_EQ(bind->type, "bind");
  EXPECT_EQ(bind->source, "./data");
  EXPECT_TRUE(bind->readOnly);
  ASSERT_TRUE(bind->bind);
  EXPECT_EQ(bind->bind->selinux, "z");

  auto named = parseVolumeSpec("cache:/var/cache:nocopy");
  ASSERT_TRUE(named);
  EXPECT_EQ(named->type, "volume");
  ASSERT_TRUE(named->volume);
  EXPECT_TRUE(named->volume->nocopy);

  auto anonymous = parseVolumeSpec("/var/lib/x");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->type, "volume");
  EXPECT_EQ(anonymous->source, "");

  auto withVariable = parseVolumeSpec("/src:/dst/${X:-a:b}:ro");
  ASSERT_TRUE(withVariable);
  EXPECT_EQ(withVariable->target, "/dst/${X:-a:b}");

  EXPECT_EQ(parseVolumeSpec("/a:/b:ro:x").error().message(), "invalid spec: /a:/b:ro:x: too many colons");
  EXPECT_EQ(parseVolumeSpec("").error().message(), "invalid empty volume spec");
}

TEST(ExtraHostTest, Separators) {
  auto eq = parseExtraHost("db=10.0.0.1,10.0.0.2");
  ASSERT_TRUE(eq);
  EXPECT_EQ(eq->first, "db");
  EXPECT_EQ(eq->second, (std::vector<std::string>{"10.0.0.1", "10.0.0.2"}));
  auto colon = parseExtraHost("v6:ff02::1");
  ASSERT_TRUE(colon);
  EXPECT_EQ(colon->second, (std::vector<std::string>{"ff02::1"}));
  EXPECT_EQ(parseExtraHost("nohost").error().message(), "invalid additional host, missing IP: nohost");
}

TEST(YamlScalarTest, IntegersFloatsBooleans) {
  EXPECT_EQ(*parseYamlInt("42"), 42);
  EXPECT_EQ(*parseYamlInt("-7"), -7);
  EXPECT_EQ(*parseYamlInt("0x1F"), 31);
  EXPECT_EQ(*parseYamlInt("0o440"), 288);
  EXPECT_EQ(*parseYamlInt("0440"), 288);
  EXPECT_EQ(*parseYamlInt("1_000"), 1000);
  EXPECT_FALSE(parseYamlInt("08").has_value());
  EXPECT_FALSE(parseYamlInt("1.5").has_value());
  EXPECT_FALSE(parseYamlInt("99999999999999999999").has_value());
  EXPECT_DOUBLE_EQ(*parseYamlFloat("2.5"), 2.5);
  EXPECT_DOUBLE_EQ(*parseYamlFloat("1e3"), 1000);
  EXPECT_EQ(parseLenientBool("Yes"), true);
  EXPECT_EQ(parseLenientBool("off"), false);
  EXPECT_EQ(parseLenientBool("maybe"), std::nullopt);
}

TEST(GoFloatTest, MatchesFmtV) {
  EXPECT_EQ(formatGoFloat(2.5), "2.5");
  EXPECT_EQ(formatGoFloat(1.0), "1");
  EXPECT_EQ(formatGoFloat(0.001), "0.001");
  EXPECT_EQ(formatGoFloat(0.00001), "1e-05");
  EXPECT_EQ(formatGoFloat(123456.0), "123456");
  EXPECT_EQ(formatGoFloat(1234567.0), "1.234567e+06");
  EXPECT_EQ(formatGoFloat(-3.25), "-3.25");
}

}  // namespace
}  // namespace berth::spec
