// `berth version` and `berth engine info` through the real binary, over the shared engine's Unix
// socket: -H, DOCKER_HOST, BERTH_HOST, DOCKER_API_VERSION, and the errors and exit codes when the
// engine cannot be reached. (TLS and ssh:// through the binary are in transports_test.cc.)
#include "engine_fixture.h"
#include "harness/berth_binary.h"
#include "harness/subprocess.h"
#include "harness/temp_dir.h"

namespace berth::engine::testing {
namespace {

using berth::testing::CommandOptions;
using berth::testing::runBerth;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override { host_ = &berth::testing::sharedEngine(); }
  berth::testing::TestHost* host_ = nullptr;
};

TEST_F(CliTest, VersionShowsClientEngineAndNegotiatedApi) {
  auto r = runBerth({"-H", host_->unixSocketUrl(), "version"});
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->exitCode, 0) << r->describe();
  EXPECT_EQ(r->out.rfind("Client:\n Version:      0.1.0\n API versions: 1.40 to 1.41\n\nServer: " +
                             host_->unixSocketUrl() + "\n Engine:\n  Version:     20.10.",
                         0),
            0u)
      << r->out;
  EXPECT_NE(r->out.find("\n  API version: 1.41 (minimum 1.12)\n"), std::string::npos) << r->out;
  EXPECT_NE(r->out.find("\n  OS/Arch:     linux/"), std::string::npos) << r->out;
  EXPECT_NE(r->out.find("\n Negotiated API version: 1.41\n"), std::string::npos) << r->out;
  EXPECT_EQ(r->err, "");
}

TEST_F(CliTest, EngineInfoFromDockerHost) {
  CommandOptions options;
  options.env = {"DOCKER_HOST=" + host_->unixSocketUrl()};
  auto r = runBerth({"engine", "info"}, options);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->exitCode, 0) << r->describe();
  for (const std::string& line : std::vector<std::string>{
           "Engine:            " + host_->unixSocketUrl() + "\n",
           " Name:             " + host_->hostname() + "\n", " API version:      1.41 (negotiated)\n",
           " Storage driver:   overlay2\n", " Root directory:   "}) {
    EXPECT_NE(r->out.find(line), std::string::npos) << line << "\n" << r->out;
  }
  EXPECT_NE(r->out.find(" Containers:       "), std::string::npos);
  EXPECT_NE(r->out.find(" running, "), std::string::npos);
  EXPECT_NE(r->out.find(" Memory:           "), std::string::npos);
}

TEST_F(CliTest, HostFlagWinsOverDockerHostAndBerthHostWorks) {
  CommandOptions options;
  options.env = {"DOCKER_HOST=unix:///nonexistent/docker.sock"};
  auto flag = runBerth({"-H", host_->unixSocketUrl(), "engine", "info"}, options);
  ASSERT_TRUE(flag);
  EXPECT_EQ(flag->exitCode, 0) << flag->describe();
  options.env.push_back("BERTH_HOST=" + host_->unixSocketUrl());
  auto env = runBerth({"engine", "info"}, options);
  ASSERT_TRUE(env);
  EXPECT_EQ(env->exitCode, 0) << env->describe();
}

TEST_F(CliTest, DockerApiVersionPinsTheVersion) {
  CommandOptions options;
  options.env = {"DOCKER_API_VERSION=1.40"};
  auto r = runBerth({"-H", host_->unixSocketUrl(), "version"}, options);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->exitCode, 0) << r->describe();
  EXPECT_NE(r->out.find("\n Negotiated API version: 1.40\n"), std::string::npos) << r->out;
}

TEST_F(CliTest, UnreachableEngineIsAClearErrorAfterTheClientPart) {
  berth::testing::TempDir dir;
  const std::string url = "unix://" + (dir / "docker.sock").string();
  auto r = runBerth({"-H", url, "version"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exitCode, 1);
  EXPECT_EQ(r->out, "Client:\n Version:      0.1.0\n API versions: 1.40 to 1.41\n");
  EXPECT_EQ(r->err, "berth: engine " + url + ": version: cannot connect to " +
                        (dir / "docker.sock").string() + ": no such socket (is dockerd running?)\n");
  auto info = runBerth({"-H", url, "engine", "info"});
  ASSERT_TRUE(info);
  EXPECT_EQ(info->exitCode, 1);
  EXPECT_EQ(info->out, "");
  EXPECT_EQ(info->err, "berth: engine " + url + ": info: cannot connect to " +
                           (dir / "docker.sock").string() + ": no such socket (is dockerd running?)\n");
}

TEST_F(CliTest, BadEngineUrlIsAnError) {
  auto r = runBerth({"-H", "https://10.0.0.2:2376", "engine", "info"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exitCode, 1);
  EXPECT_NE(r->err.find("use tcp:// for engines on TCP (with DOCKER_TLS_VERIFY=1 for TLS)"),
            std::string::npos)
      << r->err;
  CommandOptions options;
  options.env = {"DOCKER_HOST=10.0.0.2:2375"};
  auto env = runBerth({"version"}, options);
  ASSERT_TRUE(env);
  EXPECT_EQ(env->exitCode, 1);
  EXPECT_NE(env->err.find("DOCKER_HOST: engine URL \"10.0.0.2:2375\": no scheme"), std::string::npos)
      << env->err;
}

TEST_F(CliTest, EngineNeedsASubcommand) {
  auto r = runBerth({"engine"});
  ASSERT_TRUE(r);
  EXPECT_NE(r->exitCode, 0);
  auto help = runBerth({"engine", "--help"});
  ASSERT_TRUE(help);
  EXPECT_EQ(help->exitCode, 0);
  EXPECT_NE(help->out.find("info"), std::string::npos) << help->out;
}

}  // namespace
}  // namespace berth::engine::testing
