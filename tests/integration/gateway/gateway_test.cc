// `berth gateway` end to end: a project brought up with x-berth-ssh on its services, the gateway
// running on the engine's host (in the namespace host's network, as it would run on a real one), and
// real SSH clients: OpenSSH's `ssh` for commands, stdin, stderr, exit status and refusals, and a
// libssh client for what `ssh` cannot script (a PTY whose window changes, port forwarding).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libssh/libssh.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/files.h"
#include "base/tar_writer.h"
#include "engine/endpoint.h"
#include "engine/engine.h"
#include "base/strings.h"
#include "harness/background_process.h"
#include "harness/berth_binary.h"
#include "harness/names.h"
#include "harness/subprocess.h"
#include "harness/temp_dir.h"
#include "harness/test_host.h"
#include "harness/wait.h"

namespace berth::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

constexpr const char* kCompose = R"(
services:
  shell:
    image: busybox
    command: [sleep, "600"]
    stop_signal: SIGKILL
    x-berth-ssh:
      authorized_keys:
        - file: ./keys/alice.pub
      user: "1234"
  web:
    image: busybox
    command: [sh, -c, "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 8080 -h /www"]
    stop_signal: SIGKILL
    x-berth-ssh:
      authorized_keys: [{file: ./keys/bob.pub}]
      allow_forwarding: true
  idle:
    image: busybox
    command: [sleep, "600"]
    stop_signal: SIGKILL
    x-berth-ssh:
      authorized_keys: [{file: ./keys/alice.pub}]
  plain:
    image: busybox
    command: [sleep, "600"]
    stop_signal: SIGKILL
)";

CommandResult run(const std::vector<std::string>& argv, CommandOptions options = {}) {
  if (options.timeout == std::chrono::milliseconds(std::chrono::seconds(60))) options.timeout = 30s;
  auto r = runCommand(argv, options);
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : CommandResult{};
}

// A running gateway: `berth gateway` in the engine host's network namespace (so it reaches the
// containers' addresses, as on a real host), listening on the host's address.
class RunningGateway {
 public:
  static std::unique_ptr<RunningGateway> start(const TestHost& host, const fs::path& hostKey) {
    auto g = std::unique_ptr<RunningGateway>(new RunningGateway());
    // The host's network (forwarding reaches the containers' addresses), PID and mount namespaces
    // (a forwarded agent's socket goes into a container through /proc/PID/root of its process).
    auto p = BackgroundProcess::start({"nsenter", "-t", std::to_string(host.holderPid()), "-n", "-p", "-m", "--",
                                       BERTH_BINARY, "-H", host.unixSocketUrl(), "gateway", "--listen",
                                       host.address() + ":0", "--host-key", hostKey.string()});
    EXPECT_TRUE(p) << p.error().message();
    if (!p) return nullptr;
    g->process_ = std::move(*p);
    if (!g->process_->waitForOutput("listening on", 30s)) {
      ADD_FAILURE() << "the gateway did not start: " << g->process_->describe();
      return nullptr;
    }
    // "listening on ADDR:PORT, host key fingerprint SHA256:..." and "host key FILE (ssh-ed25519 ...)".
    const std::string err = g->process_->err();
    const auto listening = err.find("listening on ");
    const auto fingerprint = err.find(", host key fingerprint ");
    const auto keyLine = err.find("(ssh-ed25519 ");
    if (listening == std::string::npos || fingerprint == std::string::npos || keyLine == std::string::npos) {
      ADD_FAILURE() << err;
      return nullptr;
    }
    const std::string address = err.substr(listening + 13, fingerprint - listening - 13);
    g->port_ = std::stoi(address.substr(address.rfind(':') + 1));
    const auto fpStart = fingerprint + 23;
    g->fingerprint_ = err.substr(fpStart, err.find_first_of(" \n", fpStart) - fpStart);
    g->publicKey_ = err.substr(keyLine + 1, err.find(')', keyLine) - keyLine - 1);
    g->address_ = host.address();
    return g;
  }

  BackgroundProcess& process() { return *process_; }
  int port() const { return port_; }
  const std::string& address() const { return address_; }
  const std::string& fingerprint() const { return fingerprint_; }
  const std::string& publicKey() const { return publicKey_; }

 private:
  RunningGateway() = default;
  std::unique_ptr<BackgroundProcess> process_;
  int port_ = 0;
  std::string address_;
  std::string fingerprint_;
  std::string publicKey_;
};

// A libssh client session, for PTYs and forwarding.
struct SshClient {
  ssh_session session = nullptr;
  ~SshClient() {
    if (session != nullptr) {
      ssh_disconnect(session);
      ssh_free(session);
    }
  }
};

class GatewayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    host_ = &sharedEngine();
    dir_ = new TempDir("berth-gateway-");
    project_ = new std::string(uniqueName("gw"));
    dir_->write("compose.yaml", kCompose);
    fs::create_directories(dir_->path() / "keys");
    for (const char* who : {"alice", "bob", "mallory"}) {
      const fs::path key = dir_->path() / "keys" / who;
      auto r = run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", std::string(who) + "@test", "-f",
                    key.string()});
      ASSERT_EQ(r.exitCode, 0) << r.describe();
    }
    auto up = berth({"up", "-d"});
    ASSERT_EQ(up.exitCode, 0) << up.describe();
    gateway_ = RunningGateway::start(*host_, dir_->path() / "gateway" / "host_key").release();
    ASSERT_NE(gateway_, nullptr);
    // known_hosts pins the key the gateway printed: no prompt, no trust on first use.
    pin(*gateway_, "known_hosts");
  }

  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
    if (dir_ != nullptr) (void)berth({"down", "-t", "0"});
    delete dir_;
    dir_ = nullptr;
    delete project_;
    project_ = nullptr;
  }

  static CommandResult berth(std::vector<std::string> args) {
    args.insert(args.begin(), {"-p", *project_});
    CommandOptions o;
    o.env = {"DOCKER_HOST=" + host_->unixSocketUrl()};
    o.workingDirectory = dir_->path();
    o.timeout = 120s;
    auto r = runBerth(args, o);
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : CommandResult{};
  }

  static fs::path key(const std::string& who) { return dir_->path() / "keys" / who; }

  static std::unique_ptr<engine::Engine> engine() {
    auto endpoint = engine::parseEndpoint(host_->unixSocketUrl());
    EXPECT_TRUE(endpoint);
    auto e = engine::makeEngine(*endpoint);
    EXPECT_TRUE(e);
    return e ? std::move(*e) : nullptr;
  }
  static std::string container(const std::string& service) { return *project_ + "-" + service + "-1"; }

  // `ssh -p PORT LOGIN@gateway ARGS...` with only `identity`, checking the pinned host key.
  static std::vector<std::string> sshArgv(const RunningGateway& gateway, const fs::path& knownHosts,
                                          const std::string& identity, const std::string& login,
                                          const std::vector<std::string>& args) {
    std::vector<std::string> argv{"ssh",
                                  "-F",
                                  "/dev/null",
                                  "-p",
                                  std::to_string(gateway.port()),
                                  "-o",
                                  "UserKnownHostsFile=" + knownHosts.string(),
                                  "-o",
                                  "StrictHostKeyChecking=yes",
                                  "-o",
                                  "BatchMode=yes",
                                  "-o",
                                  "IdentitiesOnly=yes",
                                  "-o",
                                  "ConnectTimeout=10"};
    if (!identity.empty()) {
      argv.push_back("-i");
      argv.push_back(key(identity).string());
    }
    argv.push_back(login + "@" + gateway.address());
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  static CommandResult ssh(const std::string& identity, const std::string& login, std::vector<std::string> args,
                           CommandOptions options = {}) {
    return run(sshArgv(*gateway_, dir_->path() / "known_hosts", identity, login, args), options);
  }

  static void pin(const RunningGateway& gateway, const std::string& file) {
    dir_->write(file, "[" + gateway.address() + "]:" + std::to_string(gateway.port()) + " " + gateway.publicKey() +
                          "\n");
  }

  // A libssh client logged in as `login` with `identity`'s key; asserts on failure.
  static std::unique_ptr<SshClient> connect(const std::string& identity, const std::string& login) {
    auto c = std::make_unique<SshClient>();
    c->session = ssh_new();
    const std::string host = gateway_->address();
    const unsigned int port = static_cast<unsigned int>(gateway_->port());
    const long timeout = 10;
    ssh_options_set(c->session, SSH_OPTIONS_HOST, host.c_str());
    ssh_options_set(c->session, SSH_OPTIONS_PORT, &port);
    ssh_options_set(c->session, SSH_OPTIONS_USER, login.c_str());
    ssh_options_set(c->session, SSH_OPTIONS_TIMEOUT, &timeout);
    const std::string knownHosts = (dir_->path() / "known_hosts").string();
    ssh_options_set(c->session, SSH_OPTIONS_KNOWNHOSTS, knownHosts.c_str());
    ssh_options_set(c->session, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
    if (ssh_connect(c->session) != SSH_OK) {
      ADD_FAILURE() << "connect: " << ssh_get_error(c->session);
      return nullptr;
    }
    if (ssh_session_is_known_server(c->session) != SSH_KNOWN_HOSTS_OK) {
      ADD_FAILURE() << "the gateway's host key is not the one it printed";
      return nullptr;
    }
    ssh_key privateKey = nullptr;
    if (ssh_pki_import_privkey_file(key(identity).c_str(), nullptr, nullptr, nullptr, &privateKey) != SSH_OK) {
      ADD_FAILURE() << "cannot read " << key(identity);
      return nullptr;
    }
    const int rc = ssh_userauth_publickey(c->session, nullptr, privateKey);
    ssh_key_free(privateKey);
    if (rc != SSH_AUTH_SUCCESS) {
      ADD_FAILURE() << "login as " << login << " refused: " << ssh_get_error(c->session);
      return nullptr;
    }
    return c;
  }

  // Reads from `channel` until `text` has arrived (or 20 s pass); everything read.
  static std::string readUntil(ssh_channel channel, const std::string& text) {
    std::string got;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    char buffer[4096];
    while (got.find(text) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      const int n = ssh_channel_read_timeout(channel, buffer, sizeof buffer, 0, 500);
      if (n == SSH_ERROR) break;
      if (n > 0) got.append(buffer, static_cast<std::size_t>(n));
      if (n == 0 && ssh_channel_is_eof(channel) != 0) break;
    }
    return got;
  }

  static TestHost* host_;
  static TempDir* dir_;
  static std::string* project_;
  static RunningGateway* gateway_;
};

TestHost* GatewayTest::host_ = nullptr;
TempDir* GatewayTest::dir_ = nullptr;
std::string* GatewayTest::project_ = nullptr;
RunningGateway* GatewayTest::gateway_ = nullptr;

TEST_F(GatewayTest, ACommandRunsInTheContainerAsItsUserWithStdioAndExitStatus) {
  // CONTAINER@host and SERVICE.PROJECT@host land in the same container, as the service's user.
  for (const std::string& login : {container("shell"), "shell." + *project_}) {
    auto r = ssh("alice", login, {"id -u; tr '\\0' ' ' < /proc/1/cmdline"});
    EXPECT_EQ(r.exitCode, 0) << r.describe();
    EXPECT_THAT(r.out, HasSubstr("1234\nsleep 600 ")) << login;
  }

  // stdin in, stdout and stderr apart, the exit status back.
  CommandOptions withInput;
  withInput.stdinData = "line one\nline two\n";
  auto piped = ssh("alice", container("shell"), {"wc -l; echo to-stderr >&2; exit 7"}, withInput);
  EXPECT_EQ(piped.exitCode, 7) << piped.describe();
  EXPECT_THAT(piped.out, HasSubstr("2"));
  EXPECT_THAT(piped.out, Not(HasSubstr("to-stderr")));
  EXPECT_THAT(piped.err, HasSubstr("to-stderr"));

  // A larger output arrives whole (the SSH window is refilled as the client reads).
  auto big = ssh("alice", container("shell"), {"head -c 3000000 /dev/zero | tr '\\0' x"});
  EXPECT_EQ(big.exitCode, 0) << big.err;
  EXPECT_EQ(big.out.size(), 3000000u);

  // The session is logged: the key's fingerprint and comment, the container, the exit status.
  auto print = run({"ssh-keygen", "-lf", key("alice").string() + ".pub"});
  const std::string fingerprint = split(print.out, ' ').at(1);
  EXPECT_TRUE(gateway_->process().waitForOutput("exit status 7", 10s)) << gateway_->process().describe();
  const std::string log = gateway_->process().err();
  EXPECT_THAT(log, HasSubstr(fingerprint + " (alice@test) logged in to " + container("shell") + " as 1234"));
  EXPECT_THAT(log, HasSubstr("command \"wc -l; echo to-stderr >&2; exit 7\""));
}

TEST_F(GatewayTest, OnlyTheServicesOwnKeysGetInAndNeverByPassword) {
  // bob's key opens web, not shell; mallory's opens nothing; a service without x-berth-ssh and an
  // unknown name are refused the same way.
  EXPECT_EQ(ssh("bob", container("web"), {"true"}).exitCode, 0);
  for (const auto& [who, login] : std::vector<std::pair<std::string, std::string>>{
           {"bob", container("shell")},
           {"mallory", container("shell")},
           {"alice", container("plain")},
           {"alice", "no-such-container"},
           {"alice", "shell.other-project"}}) {
    auto r = ssh(who, login, {"id"});
    EXPECT_EQ(r.exitCode, 255) << who << " as " << login << ": " << r.describe();
    EXPECT_THAT(r.err, HasSubstr("Permission denied (publickey)")) << who << " as " << login;
    EXPECT_THAT(r.out, Not(HasSubstr("uid="))) << who << " as " << login;
  }
  // Passwords and keyboard-interactive are not offered at all.
  auto password = ssh("", container("shell"), {"-o", "PreferredAuthentications=password,keyboard-interactive",
                                              "-o", "PubkeyAuthentication=no", "id"});
  EXPECT_EQ(password.exitCode, 255) << password.describe();
  EXPECT_THAT(password.err, HasSubstr("Permission denied (publickey)"));
  EXPECT_TRUE(gateway_->process().waitForOutput("refused key", 10s));
  EXPECT_THAT(gateway_->process().err(), HasSubstr("for \"" + container("plain") + "\""));
}

TEST_F(GatewayTest, AnAgentIsForwardedIntoTheContainerOnlyWhenItsServiceAllowsIt) {
  // The client's agent, holding a key nobody authorized (it is only listed).
  const fs::path agentSocket = dir_->path() / "agent.sock";
  auto agent = BackgroundProcess::start({"ssh-agent", "-D", "-a", agentSocket.string()});
  ASSERT_TRUE(agent) << agent.error().message();
  ASSERT_TRUE(waitUntil([&] { return fs::exists(agentSocket); }, 10s)) << (*agent)->describe();
  CommandOptions withAgent;
  withAgent.env = {"SSH_AUTH_SOCK=" + agentSocket.string()};
  auto added = run({"ssh-add", key("mallory").string()}, withAgent);
  ASSERT_EQ(added.exitCode, 0) << added.describe();

  // A probe that speaks the agent protocol, into web (busybox has no ssh-add).
  auto probe = readFile(AGENT_PROBE);
  ASSERT_TRUE(probe);
  TarWriter tar;
  tar.addFile("usr/local/bin/agent-probe", *probe, 0755);
  ASSERT_TRUE(engine()->putArchive(container("web"), "/", tar.finish(), {}));

  // web allows forwarding: the agent answers from inside the container.
  auto listed = ssh("bob", container("web"), {"-A", "agent-probe; echo sock=$SSH_AUTH_SOCK"}, withAgent);
  EXPECT_EQ(listed.exitCode, 0) << listed.describe() << gateway_->process().describe();
  EXPECT_THAT(listed.out, HasSubstr("1 keys:\nmallory@test\n"));
  EXPECT_THAT(listed.out, HasSubstr("sock=/tmp/berth-agent-"));
  // The socket goes with the session.
  auto after = ssh("bob", container("web"), {"ls /tmp"});
  EXPECT_THAT(after.out, Not(HasSubstr("berth-agent-")));

  // shell does not: no socket, and the gateway says why.
  auto refused = ssh("alice", container("shell"), {"-A", "echo \"[$SSH_AUTH_SOCK]\""}, withAgent);
  EXPECT_EQ(refused.exitCode, 0) << refused.describe();
  EXPECT_EQ(refused.out, "[]\n");
  EXPECT_TRUE(gateway_->process().waitForOutput("refused agent forwarding: " + container("shell"), 10s));
}

TEST_F(GatewayTest, AStoppedContainerRefusesTheSessionWithTheEnginesReason) {
  ASSERT_EQ(berth({"stop", "idle"}).exitCode, 0);
  auto r = ssh("alice", container("idle"), {"true"});
  EXPECT_EQ(r.exitCode, 1) << r.describe();
  EXPECT_THAT(r.err, HasSubstr("berth gateway: "));
  EXPECT_THAT(r.err, HasSubstr("is not running"));
  EXPECT_TRUE(gateway_->process().waitForOutput("cannot start in " + container("idle"), 10s))
      << gateway_->process().describe();
}

TEST_F(GatewayTest, AShellGetsAPtyThatFollowsTheClientsWindow) {
  auto client = connect("alice", container("shell"));
  ASSERT_NE(client, nullptr);
  ssh_channel channel = ssh_channel_new(client->session);
  ASSERT_EQ(ssh_channel_open_session(channel), SSH_OK);
  ASSERT_EQ(ssh_channel_request_pty_size(channel, "xterm", 100, 30), SSH_OK);
  ASSERT_EQ(ssh_channel_request_shell(channel), SSH_OK);
  const std::string ask = "echo size:$(stty size):$TERM:$(id -u):; tty\n";
  ssh_channel_write(channel, ask.data(), static_cast<uint32_t>(ask.size()));
  const std::string first = readUntil(channel, "/dev/pts/");
  EXPECT_THAT(first, HasSubstr("size:30 100:xterm:1234:")) << first;
  ASSERT_EQ(ssh_channel_change_pty_size(channel, 120, 40), SSH_OK);
  const std::string again = "echo size:$(stty size):\n";
  // The resize reaches the engine asynchronously: ask until the new size shows (with a deadline).
  bool resized = false;
  std::string seen;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!resized && std::chrono::steady_clock::now() < deadline) {
    ssh_channel_write(channel, again.data(), static_cast<uint32_t>(again.size()));
    seen = readUntil(channel, "size:4");
    resized = seen.find("size:40 120:") != std::string::npos;
  }
  EXPECT_TRUE(resized) << seen;
  const std::string bye = "exit 3\n";
  ssh_channel_write(channel, bye.data(), static_cast<uint32_t>(bye.size()));
  readUntil(channel, "\x01never");  // to the end of the output
  const auto status = waitUntil([&] { return ssh_channel_get_exit_status(channel) != -1; }, 10s);
  EXPECT_TRUE(status);
  EXPECT_EQ(ssh_channel_get_exit_status(channel), 3);
  ssh_channel_close(channel);
  ssh_channel_free(channel);
}

TEST_F(GatewayTest, ForwardingReachesOnlyTheContainerAndOnlyWhenItsServiceAllowsIt) {
  // web allows it: `ssh -L 8080:localhost:8080` reaches the container's own port.
  auto client = connect("bob", container("web"));
  ASSERT_NE(client, nullptr);
  ssh_channel channel = ssh_channel_new(client->session);
  ASSERT_EQ(ssh_channel_open_forward(channel, "localhost", 8080, "127.0.0.1", 40000), SSH_OK)
      << ssh_get_error(client->session);
  const std::string request = "GET /index.html HTTP/1.0\r\n\r\n";
  ssh_channel_write(channel, request.data(), static_cast<uint32_t>(request.size()));
  EXPECT_THAT(readUntil(channel, "hello-from-web"), HasSubstr("hello-from-web"));
  ssh_channel_close(channel);
  ssh_channel_free(channel);

  // Another address than the container's own is refused: the gateway is no way onto the network.
  ssh_channel elsewhere = ssh_channel_new(client->session);
  EXPECT_NE(ssh_channel_open_forward(elsewhere, host_->gatewayAddress().c_str(), 22, "127.0.0.1", 40001), SSH_OK);
  ssh_channel_free(elsewhere);
  // Remote forwarding (ssh -R) is never served.
  EXPECT_NE(ssh_channel_listen_forward(client->session, "127.0.0.1", 40002, nullptr), SSH_OK);

  // shell does not allow forwarding.
  auto other = connect("alice", container("shell"));
  ASSERT_NE(other, nullptr);
  ssh_channel refused = ssh_channel_new(other->session);
  EXPECT_NE(ssh_channel_open_forward(refused, "localhost", 8080, "127.0.0.1", 40003), SSH_OK);
  ssh_channel_free(refused);
  EXPECT_TRUE(gateway_->process().waitForOutput("does not allow it (x-berth-ssh allow_forwarding)", 10s))
      << gateway_->process().describe();
  EXPECT_THAT(gateway_->process().err(), HasSubstr("only " + container("web") + " itself is reachable"));
}

TEST_F(GatewayTest, SigtermEndsOpenSessionsAndStopsCleanly) {
  auto second = RunningGateway::start(*host_, dir_->path() / "gateway-2" / "host_key");
  ASSERT_NE(second, nullptr);
  pin(*second, "known_hosts_2");
  auto client = BackgroundProcess::start(
      sshArgv(*second, dir_->path() / "known_hosts_2", "alice", container("shell"), {"echo started; sleep 120"}));
  ASSERT_TRUE(client) << client.error().message();
  ASSERT_TRUE((*client)->waitForOutput("started", 20s)) << (*client)->describe() << second->process().describe();
  // nsenter forked the gateway into the host's PID namespace and waits for it (and exits with its
  // status): the signal goes to the gateway itself.
  const auto children = readFile("/proc/" + std::to_string(second->process().pid()) + "/task/" +
                                 std::to_string(second->process().pid()) + "/children");
  ASSERT_TRUE(children && !trim(*children).empty());
  ASSERT_EQ(::kill(std::stoi(std::string(trim(*children))), SIGTERM), 0);
  EXPECT_EQ(second->process().wait(20s), std::optional<int>(0)) << second->process().describe();
  // The client is let go rather than left hanging.
  EXPECT_TRUE((*client)->wait(20s).has_value()) << (*client)->describe();
  EXPECT_THAT(second->process().err(), HasSubstr("the gateway is stopping"));
}

TEST(GatewayHostKeyTest, IsMadeOnceWithMode0600AndAReadableKeyIsRefused) {
  TestHost& host = sharedEngine();
  TempDir dir("berth-gateway-key-");
  const fs::path key = dir.path() / "keys" / "host";
  std::string fingerprint;
  {
    auto g = RunningGateway::start(host, key);
    ASSERT_NE(g, nullptr);
    EXPECT_THAT(g->process().err(), HasSubstr("generated host key"));
    fingerprint = g->fingerprint();
    struct stat st {};
    ASSERT_EQ(::stat(key.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }
  {
    auto g = RunningGateway::start(host, key);
    ASSERT_NE(g, nullptr);
    EXPECT_THAT(g->process().err(), HasSubstr("loaded host key"));
    EXPECT_EQ(g->fingerprint(), fingerprint);
  }
  fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                           fs::perms::others_read);
  auto refused = runBerth({"-H", host.unixSocketUrl(), "gateway", "--listen", "127.0.0.1:0", "--host-key",
                           key.string()});
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->exitCode, 1) << refused->describe();
  EXPECT_THAT(refused->err, HasSubstr("is readable by others (mode 0644); chmod 600 it"));
  auto badListen = runBerth({"-H", host.unixSocketUrl(), "gateway", "--listen", "nonsense"});
  ASSERT_TRUE(badListen);
  EXPECT_EQ(badListen->exitCode, 1);
  EXPECT_THAT(badListen->err, HasSubstr("--listen \"nonsense\": expected ADDRESS:PORT"));
}

}  // namespace
}  // namespace berth::testing
