// Interoperability with Debian's docker-compose 1.29 on the same engine (always pointed at the
// private engine through DOCKER_HOST): each tool sees and manages the other's containers, networks
// and volumes for the same file, through the compose labels.
#include "integration/converge/converge_fixture.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;

constexpr const char* kStack = R"(
services:
  web:
    image: busybox
    command: [sleep, "600"]
    stop_signal: SIGKILL
    volumes: [data:/data]
  worker:
    image: busybox
    command: [sleep, "600"]
    stop_signal: SIGKILL
volumes:
  data: {}
)";

class InteropTest : public ConvergeTest {
 protected:
  CommandResult dockerCompose(std::vector<std::string> args) {
    args.insert(args.begin(), {"docker-compose", "-p", project_});
    CommandOptions o;
    o.env = {"DOCKER_HOST=" + host_->unixSocketUrl()};
    o.unsetEnv = {"DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "COMPOSE_PROJECT_NAME", "COMPOSE_FILE"};
    o.workingDirectory = dir_.path();
    o.timeout = std::chrono::seconds(120);
    auto r = runCommand(args, o);
    if (!r) {
      ADD_FAILURE() << r.error().message();
      return {};
    }
    return *r;
  }
};

TEST_F(InteropTest, DockerComposeSeesAndRemovesBerthsProject) {
  compose(kStack);
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  auto ps = dockerCompose({"ps"});
  ASSERT_EQ(ps.exitCode, 0) << ps.describe();
  EXPECT_THAT(ps.out, HasSubstr(name("web")));
  EXPECT_THAT(ps.out, HasSubstr(name("worker")));
  EXPECT_THAT(ps.out, HasSubstr("Up"));
  auto stop = dockerCompose({"stop", "worker"});
  ASSERT_EQ(stop.exitCode, 0) << stop.describe();
  EXPECT_FALSE(inspect(name("worker")).state.running);
  auto down = dockerCompose({"down", "-v"});
  ASSERT_EQ(down.exitCode, 0) << down.describe();
  EXPECT_FALSE(exists(name("web")));
  EXPECT_FALSE(exists(name("worker")));
  EXPECT_FALSE(engine_->inspectNetwork(project_ + "_default"));
  EXPECT_FALSE(engine_->inspectVolume(project_ + "_data"));
}

TEST_F(InteropTest, BerthSeesManagesAndConvergesDockerComposesProject) {
  compose(kStack);
  auto up = dockerCompose({"up", "-d"});
  ASSERT_EQ(up.exitCode, 0) << up.describe();
  const std::string legacy = project_ + "_web_1";  // docker-compose 1.29's naming
  ASSERT_TRUE(exists(legacy));
  auto ps = berth({"ps"});
  ASSERT_EQ(ps.exitCode, 0) << ps.describe();
  EXPECT_THAT(ps.out, HasSubstr(legacy));
  EXPECT_THAT(ps.out, HasSubstr(project_ + "_worker_1"));
  EXPECT_EQ(berth({"ps", "--services"}).out, "web\nworker\n");
  ASSERT_EQ(berth({"stop", "worker"}).exitCode, 0);
  EXPECT_FALSE(inspect(project_ + "_worker_1").state.running);
  // berth takes the project over: the containers become berth's (docker-compose hashes its
  // configuration differently), in the same network and volume, one per service.
  shell("web", "echo from-compose > /data/file");
  auto converge = berth({"up", "-d", "-t", "0"});
  ASSERT_EQ(converge.exitCode, 0) << converge.describe();
  EXPECT_THAT(converge.err, ::testing::Not(HasSubstr("Network " + project_ + "_default  Creating")));
  EXPECT_FALSE(exists(legacy));
  EXPECT_TRUE(inspect(name("web")).state.running);
  EXPECT_EQ(shell("web", "cat /data/file"), "from-compose\n");
  EXPECT_EQ(berth({"ps", "-q"}).out.size(), 2u * 13u);
  auto down = berth({"down", "-v", "-t", "0"});
  ASSERT_EQ(down.exitCode, 0) << down.describe();
  EXPECT_FALSE(engine_->inspectNetwork(project_ + "_default"));
  EXPECT_FALSE(engine_->inspectVolume(project_ + "_data"));
}

TEST_F(InteropTest, BerthRemovesDockerComposesProjectWithoutAFile) {
  compose(kStack);
  ASSERT_EQ(dockerCompose({"up", "-d"}).exitCode, 0);
  TempDir elsewhere("berth-interop-nofile-");
  auto down = berth({"down", "-v", "-t", "0"}, {.workingDirectory = elsewhere.path()});
  ASSERT_EQ(down.exitCode, 0) << down.describe();
  EXPECT_FALSE(exists(project_ + "_web_1"));
  EXPECT_FALSE(engine_->inspectNetwork(project_ + "_default"));
  EXPECT_FALSE(engine_->inspectVolume(project_ + "_data"));
  EXPECT_EQ(dockerCompose({"ps", "-q"}).out, "");
}

}  // namespace
}  // namespace berth::testing
