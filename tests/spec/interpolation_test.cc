#include "spec/interpolation.h"

#include <gtest/gtest.h>

#include <map>

#include "spec/dotenv.h"

namespace berth::spec {
namespace {

Lookup from(std::map<std::string, std::string> env) {
  return [env = std::move(env)](std::string_view name) -> std::optional<std::string> {
    if (auto it = env.find(std::string(name)); it != env.end()) return it->second;
    return std::nullopt;
  };
}

std::string sub(std::string_view text, std::map<std::string, std::string> env = {}) {
  auto r = substitute(text, from(std::move(env)));
  if (!r) return "ERROR: " + r.error().message();
  return *r;
}

TEST(InterpolationTest, EveryForm) {
  const std::map<std::string, std::string> env = {{"SET", "v"}, {"EMPTY", ""}};
  EXPECT_EQ(sub("$SET ${SET}", env), "v v");
  EXPECT_EQ(sub("${UNSET:-d} ${EMPTY:-d} ${SET:-d}", env), "d d v");
  EXPECT_EQ(sub("${UNSET-d} ${EMPTY-d} ${SET-d}", env), "d  v");
  EXPECT_EQ(sub("${UNSET:+a} ${EMPTY:+a} ${SET:+a}", env), "  a");
  EXPECT_EQ(sub("${UNSET+a} ${EMPTY+a} ${SET+a}", env), " a a");
  EXPECT_EQ(sub("${SET:?boom} ${EMPTY?boom}", env), "v ");
  EXPECT_EQ(sub("$$SET $${SET} cost: 5$", env), "$SET ${SET} cost: 5$");
}

TEST(InterpolationTest, NestedDefaults) {
  EXPECT_EQ(sub("${A:-${B:-${C:-deep}}}"), "deep");
  EXPECT_EQ(sub("${A:-${B}-x}", {{"B", "b"}}), "b-x");
  EXPECT_EQ(sub("${A:-{\"json\":1}}"), "{\"json\":1}");
  EXPECT_EQ(sub("${A:+${A},}tail", {{"A", "a"}}), "a,tail");
}

TEST(InterpolationTest, RequiredVariablesFailWithTheirMessage) {
  EXPECT_EQ(sub("${DB_PASSWORD:?set DB_PASSWORD in .env}"),
            "ERROR: required variable DB_PASSWORD is missing a value: set DB_PASSWORD in .env");
  EXPECT_EQ(sub("${X?}"), "ERROR: required variable X is missing a value");
  EXPECT_EQ(sub("${X:?}", {{"X", ""}}), "ERROR: required variable X is missing a value");
  EXPECT_EQ(sub("${X:?missing ${Y}}", {{"Y", "y"}}),
            "ERROR: required variable X is missing a value: missing y");
}

TEST(InterpolationTest, InvalidSyntaxQuotesTheTemplate) {
  EXPECT_EQ(sub("a ${"), "ERROR: Invalid template: \"a ${\"");
  EXPECT_EQ(sub("${ x}"), "ERROR: Invalid template: \"${ x}\"");
  EXPECT_EQ(sub("${x!}"), "ERROR: Invalid template: \"${x!}\"");
}

TEST(InterpolationTest, ReportsUnsetVariables) {
  std::vector<std::string> unset;
  auto r = substitute("${A}${B:-x}$C", from({}), &unset);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "x");
  EXPECT_EQ(unset, (std::vector<std::string>{"A", "C"}));
}

TEST(InterpolationTest, NestingIsBounded) {
  std::string deep;
  for (int i = 0; i < 200; ++i) deep += "${A:-";
  deep += "x";
  for (int i = 0; i < 200; ++i) deep += "}";
  EXPECT_EQ(sub(deep), "ERROR: variable substitution nested more than 64 levels deep");
}

TEST(DotenvTest, SyntaxAndSubstitution) {
  EnvMap out;
  const Lookup env = from({{"HOST", "db"}});
  ASSERT_TRUE(
      parseEnvFile("# comment\n"
                   "export A=1\n"
                   "B = two words # comment\n"
                   "C='single $HOST'\n"
                   "D=\"double $HOST\\n\"\n"
                   "E: yaml-style\n"
                   "F=${A}${A}\n"
                   "HOST\n",
                   out, env));
  EXPECT_EQ(out, (EnvMap{{"A", "1"},
                         {"B", "two words"},
                         {"C", "single $HOST"},
                         {"D", "double db\n"},
                         {"E", "yaml-style"},
                         {"F", "11"},
                         {"HOST", "db"}}));
}

TEST(DotenvTest, ErrorsNameTheLine) {
  EnvMap out;
  const Lookup none = from({});
  EXPECT_EQ(parseEnvFile("A=1\n\nBAD KEY=2\n", out, none).error().message(),
            "line 3: key cannot contain a space");
  EXPECT_EQ(parseEnvFile("A=\"open\n", out, none).error().message(),
            "line 1: unterminated quoted value \"open");
  EXPECT_EQ(parseEnvFile("A$=1\n", out, none).error().message(),
            "line 1: unexpected character \"$\" in variable name \"A$=1\"");
}

TEST(DotenvTest, RawFormatKeepsValuesVerbatim) {
  EnvMap out;
  ASSERT_TRUE(parseEnvFile("A='quoted' # not a comment\nB=$HOME\n", out, from({}), "raw"));
  EXPECT_EQ(out["A"], "'quoted' # not a comment");
  EXPECT_EQ(out["B"], "$HOME");
  EXPECT_EQ(parseEnvFile("A=1", out, from({}), "toml").error().message(),
            "unsupported env_file format \"toml\"");
}

}  // namespace
}  // namespace berth::spec
