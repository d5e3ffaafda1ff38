// Volume data through recreation, down/up and removal: only `down -v` (and `rm -v` for anonymous
// volumes) ever deletes volumes.
#include "integration/converge/converge_fixture.h"

namespace berth::testing {
namespace {

std::string stack(const std::string& version) {
  return R"(
services:
  store:
    image: busybox
    command: [sleep, "600"]
    stop_signal: SIGKILL
    environment: {VERSION: ")" +
         version + R"("}
    volumes:
      - named:/named
      - /anonymous
volumes: {named: {}}
)";
}

TEST_F(ConvergeTest, RecreationKeepsNamedAndAnonymousVolumeData) {
  compose(stack("1"));
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  shell("store", "echo kept > /named/file; echo also-kept > /anonymous/file");
  std::string anonymous;
  for (const auto& m : inspect(name("store")).mounts) {
    if (m.destination == "/anonymous") anonymous = m.name;
  }
  ASSERT_FALSE(anonymous.empty());
  const std::string before = id(name("store"));
  compose(stack("2"));
  auto r = berth({"up", "-d", "-t", "0"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  ASSERT_NE(id(name("store")), before);
  EXPECT_EQ(shell("store", "cat /named/file /anonymous/file"), "kept\nalso-kept\n");
  for (const auto& m : inspect(name("store")).mounts) {
    if (m.destination == "/anonymous") {
      EXPECT_EQ(m.name, anonymous);
    }
  }
  r = berth({"up", "-d", "--force-recreate", "-t", "0"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_EQ(shell("store", "cat /named/file /anonymous/file"), "kept\nalso-kept\n");
}

TEST_F(ConvergeTest, DownKeepsVolumesAndDownVRemovesThem) {
  compose(stack("1"));
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  shell("store", "echo kept > /named/file");
  std::string anonymous;
  for (const auto& m : inspect(name("store")).mounts) {
    if (m.destination == "/anonymous") anonymous = m.name;
  }
  ASSERT_EQ(berth({"down", "-t", "0"}).exitCode, 0);
  EXPECT_FALSE(exists(name("store")));
  EXPECT_TRUE(engine_->inspectVolume(project_ + "_named"));
  EXPECT_FALSE(engine_->inspectNetwork(project_ + "_default"));
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  EXPECT_EQ(shell("store", "cat /named/file"), "kept\n");
  for (const auto& m : inspect(name("store")).mounts) {
    if (m.destination == "/anonymous") anonymous = m.name;
  }
  auto r = berth({"down", "-v", "-t", "0"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_FALSE(engine_->inspectVolume(project_ + "_named"));
  EXPECT_FALSE(engine_->inspectVolume(anonymous));
}

TEST_F(ConvergeTest, RmVolumesRemovesOnlyAnonymousVolumes) {
  compose(stack("1"));
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  std::string anonymous;
  for (const auto& m : inspect(name("store")).mounts) {
    if (m.destination == "/anonymous") anonymous = m.name;
  }
  auto r = berth({"rm", "-f", "-s", "-v"});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_FALSE(exists(name("store")));
  EXPECT_FALSE(engine_->inspectVolume(anonymous));
  EXPECT_TRUE(engine_->inspectVolume(project_ + "_named"));
}

TEST_F(ConvergeTest, DownWithoutAComposeFileWorksFromTheLabels) {
  compose(stack("1"));
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  TempDir elsewhere("berth-converge-nofile-");
  auto r = berth({"ps"}, {.workingDirectory = elsewhere.path()});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_THAT(r.out, ::testing::HasSubstr(name("store")));
  r = berth({"down", "-v", "-t", "0"}, {.workingDirectory = elsewhere.path()});
  ASSERT_EQ(r.exitCode, 0) << r.describe();
  EXPECT_FALSE(exists(name("store")));
  EXPECT_FALSE(engine_->inspectNetwork(project_ + "_default"));
  EXPECT_FALSE(engine_->inspectVolume(project_ + "_named"));
}

}  // namespace
}  // namespace berth::testing
