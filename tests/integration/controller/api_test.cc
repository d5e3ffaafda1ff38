// berthd's API as users meet it: the TCP listener with mutual TLS (a client certificate from berth's
// CA is served; none, another CA's or an expired one is refused before any request is read),
// Prometheus metrics there and on --metrics-listen, the controller's event stream, a service's logs
// merged from every host, and images carried to the hosts by `berth image push`.
#include <gmock/gmock.h>

#include <cctype>

#include "harness/tls_material.h"
#include "integration/controller/controller_fixture.h"

namespace berth::testing::controller {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A berthd of its own (no hosts) listening on tcp://127.0.0.1:PORT with a server certificate from
// the fleet's CA; its URL is read from its "ready:" line.
class TlsController {
 public:
  explicit TlsController(const fs::path& config, std::vector<std::string> extra = {}) : config_(config) {
    auto issued = runBerth({"ca", "issue", "server", "berthd", "--ip", "127.0.0.1", "--out", (dir_.path() / "tls").string()},
                           {.env = {"XDG_CONFIG_HOME=" + config.string()}});
    EXPECT_TRUE(issued && issued->exitCode == 0) << (issued ? issued->describe() : issued.error().message());
    std::vector<std::string> argv{BERTHD_BINARY, "--data-dir", (dir_.path() / "data").string(), "--tls-dir",
                                  (dir_.path() / "tls").string(), "--listen", "tcp://127.0.0.1:0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto p = BackgroundProcess::start(argv);
    EXPECT_TRUE(p) << p.error().message();
    process_ = std::move(*p);
    EXPECT_TRUE(process_->waitForOutput("ready:", 30s)) << process_->describe();
    // Every "tcp://127.0.0.1:PORT" berthd printed, in order (no std::regex: GCC 12 warns in it
    // under the sanitizers).
    const std::string out = process_->out();
    constexpr std::string_view kPrefix = "tcp://127.0.0.1:";
    for (auto at = out.find(kPrefix); at != std::string::npos; at = out.find(kPrefix, at + 1)) {
      std::size_t end = at + kPrefix.size();
      while (end < out.size() && std::isdigit(static_cast<unsigned char>(out[end])) != 0) ++end;
      if (end > at + kPrefix.size()) urls_.push_back(out.substr(at, end - at));
    }
    if (!urls_.empty()) url_ = urls_.front();
  }
  const std::string& url() const { return url_; }
  const std::vector<std::string>& urls() const { return urls_; }
  BackgroundProcess& process() { return *process_; }
  fs::path serverCa() const { return dir_.path() / "tls" / "ca.pem"; }

  CommandResult berth(const std::vector<std::string>& args, std::vector<std::string> env = {}) const {
    env.push_back("XDG_CONFIG_HOME=" + config_.string());
    env.push_back("BERTH_CONTROLLER=" + url_);
    auto r = runBerth(args, {.env = env, .timeout = 60s});
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : CommandResult{};
  }

 private:
  fs::path config_;
  TempDir dir_{"berth-ctl-tls-"};
  std::unique_ptr<BackgroundProcess> process_;
  std::string url_;
  std::vector<std::string> urls_;
};

CommandResult curl(const std::vector<std::string>& extra) {
  std::vector<std::string> argv{"curl", "-sS", "--noproxy", "*", "--max-time", "5"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto r = runCommand(argv, {.timeout = 20s});
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : CommandResult{};
}

TEST(ControllerTlsTest, ServesClientsOfBerthsCaAndRefusesEveryoneElseBeforeReadingARequest) {
  TempDir config("berth-ctl-tls-config-");
  ASSERT_EQ(runBerth({"ca", "init"}, {.env = {"XDG_CONFIG_HOME=" + config.path().string()}})->exitCode, 0);
  TlsController ctl(config.path());
  ASSERT_FALSE(ctl.url().empty()) << ctl.process().describe();

  // berth issues itself a client certificate from its CA the first time, and is served.
  auto ok = ctl.berth({"stack", "ls"});
  EXPECT_EQ(ok.exitCode, 0) << ok.describe();
  EXPECT_THAT(ok.err, HasSubstr("issued a client certificate for controllers"));
  EXPECT_THAT(ok.out, HasSubstr("NAME"));
  const fs::path client = config.path() / "berth" / "controller";
  const std::string https = "https://" + ctl.url().substr(6);
  auto served = curl({"--cacert", ctl.serverCa().string(), "--cert", (client / "cert.pem").string(), "--key",
                      (client / "key.pem").string(), https + "/v1/info"});
  EXPECT_EQ(served.exitCode, 0) << served.describe();
  EXPECT_THAT(served.out, HasSubstr("\"hosts\":0"));

  // No certificate, another CA's, an expired one: refused in the handshake.
  auto none = curl({"--cacert", ctl.serverCa().string(), https + "/v1/info"});
  EXPECT_NE(none.exitCode, 0) << none.describe();
  EXPECT_THAT(none.out, Not(HasSubstr("hosts")));
  TempDir foreign;
  ASSERT_TRUE(mintForeignClientCert(foreign.path()));
  auto other = curl({"--cacert", ctl.serverCa().string(), "--cert", (foreign.path() / "cert.pem").string(), "--key",
                     (foreign.path() / "key.pem").string(), https + "/v1/info"});
  EXPECT_NE(other.exitCode, 0) << other.describe();
  EXPECT_THAT(other.out, Not(HasSubstr("hosts")));
  // berth with another CA's certificate gets a clear TLS error.
  fs::copy_file(ctl.serverCa(), foreign.path() / "ca.pem", fs::copy_options::overwrite_existing);
  auto refused = ctl.berth({"stack", "ls"}, {"BERTH_CONTROLLER_CERT_PATH=" + foreign.path().string()});
  EXPECT_EQ(refused.exitCode, 1) << refused.describe();
  EXPECT_THAT(refused.err, HasSubstr("controller " + ctl.url()));
  EXPECT_THAT(refused.err, HasSubstr("TLS"));
  // An expired certificate from berth's own CA.
  TempDir expired;
  auto ca = pki::CaStore::open(config.path() / "berth" / "ca");
  ASSERT_TRUE(ca);
  const auto now = std::chrono::system_clock::now();
  auto old = ca->issue({.kind = pki::CertificateKind::Client,
                        .commonName = "old",
                        .validity = {now - std::chrono::hours(48), now - std::chrono::hours(24)}});
  ASSERT_TRUE(old);
  ASSERT_TRUE(pki::writeBundle(expired.path(), *old, ca->authority().certificate()));
  auto late = ctl.berth({"stack", "ls"}, {"BERTH_CONTROLLER_CERT_PATH=" + expired.path().string()});
  EXPECT_EQ(late.exitCode, 1) << late.describe();
  // The client sees the handshake fail before berthd has logged why: wait for the line.
  EXPECT_TRUE(ctl.process().waitForOutput("expired", 10s)) << ctl.process().describe();
  // None of the refused clients got as far as a request.
  EXPECT_THAT(ctl.process().err(), Not(HasSubstr("GET /v1/info tcp")));

  // SIGTERM: a clean stop.
  ctl.process().signal(SIGTERM);
  EXPECT_EQ(ctl.process().wait(20s), std::optional<int>(0)) << ctl.process().describe();
}

TEST(ControllerApiTest, MetricsEventsAndMergedLogs) {
  Fleet& fleet = Fleet::get();
  const std::string stack = uniqueName("obs");
  // Events from now on.
  auto events = BackgroundProcess::start(
      {BERTH_BINARY, "events", "--controller", "--format", "json"},
      {.env = {"BERTH_CONTROLLER=" + fleet.controllerUrl()}});
  ASSERT_TRUE(events) << events.error().message();
  StackDir dir(R"(
services:
  talk:
    image: busybox
    command: [sh, -c, "echo hello from $$(hostname); exec sleep 3600"]
    stop_signal: SIGKILL
    deploy: {replicas: 3}
)");
  ASSERT_EQ(fleet.berth({"stack", "deploy", "-c", dir.file(), stack}).exitCode, 0) << fleet.berthdLog();
  EXPECT_TRUE((*events)->waitForOutput("\"action\":\"running\"", 20s)) << (*events)->describe();
  EXPECT_THAT((*events)->out(), HasSubstr("{\"action\":\"placed\",\"host\":\"h1\""));
  EXPECT_THAT((*events)->out(), HasSubstr("\"stack\":\"" + stack + "\""));

  // Logs of every replica, from every host, each line prefixed with its task and host.
  const Status logged = waitFor(
      "three replicas' greetings",
      [&]() -> Status {
        auto logs = fleet.berth({"service", "logs", stack + "_talk"});
        int n = 0;
        for (const std::string& line : split(logs.out, '\n')) {
          if (line.find("hello from") != std::string::npos) ++n;
        }
        return n == 3 ? ok() : fail(ErrorCode::NotFound, logs.out + logs.err);
      },
      20s, 200ms);
  EXPECT_TRUE(logged) << logged.error().message();
  auto logs = fleet.berth({"service", "logs", stack + "_talk"});
  EXPECT_THAT(logs.out, HasSubstr("talk.1."));
  EXPECT_THAT(logs.out, HasSubstr("@h1"));
  EXPECT_THAT(logs.out, HasSubstr("@h2"));
  EXPECT_THAT(logs.out, HasSubstr("@h3"));

  // Metrics over the unix socket (the TCP listener serves the same, see ControllerTlsTest).
  auto metrics = runCommand({"curl", "-sS", "--unix-socket", fleet.controllerUrl().substr(7), "http://berthd/metrics"},
                            {.timeout = 20s});
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->out, HasSubstr("berth_hosts{state=\"ready\"} 3"));
  EXPECT_THAT(metrics->out, HasSubstr("berth_tasks{desired=\"running\",state=\"running\"}"));
  EXPECT_THAT(metrics->out, HasSubstr("berth_reconcile_pass_seconds_count"));
  EXPECT_THAT(metrics->out, HasSubstr("berth_engine_errors_total{host=\"h1\"}"));
  EXPECT_THAT(metrics->out, HasSubstr("berth_placement_failures_total"));
  (*events)->signal(SIGINT);
  fleet.removeStack(stack);
}

TEST(ControllerApiTest, MetricsListenServesOnlyMetricsOverPlainHttp) {
  TempDir config("berth-ctl-metrics-config-");
  ASSERT_EQ(runBerth({"ca", "init"}, {.env = {"XDG_CONFIG_HOME=" + config.path().string()}})->exitCode, 0);
  TlsController ctl(config.path(), {"--metrics-listen", "127.0.0.1:0"});
  ASSERT_EQ(ctl.urls().size(), 2u) << ctl.process().describe();
  const std::string plain = "http://" + ctl.urls()[1].substr(6);
  auto m = curl({plain + "/metrics"});
  EXPECT_EQ(m.exitCode, 0) << m.describe();
  EXPECT_THAT(m.out, HasSubstr("# TYPE berth_hosts gauge"));
  auto api = curl({"-w", "%{http_code}", plain + "/v1/info"});
  EXPECT_THAT(api.out, HasSubstr("404"));
  EXPECT_THAT(api.out, Not(HasSubstr("hosts\":")));
}

TEST(ControllerApiTest, ImagePushCarriesAnImageToEveryHostThatLacksIt) {
  Fleet& fleet = Fleet::get();
  const std::string image = "berth-test/pushed:" + uniqueName("v");
  // Built on the CLI's engine only.
  TempDir ctx;
  ctx.write("Dockerfile", "FROM busybox\nRUN echo pushed > /pushed\n");
  auto built = runCommand({"docker", "-H", sharedEngine().unixSocketUrl(), "build", "-q", "-t", image, ctx.path().string()},
                          {.unsetEnv = {"DOCKER_CONTEXT"}, .timeout = 120s});
  ASSERT_TRUE(built && built->exitCode == 0) << (built ? built->describe() : built.error().message());
  for (int i = 0; i < kHosts; ++i) EXPECT_FALSE(fleet.engineOf(i).inspectImage(image));
  auto push = fleet.berth({"image", "push", image});
  ASSERT_EQ(push.exitCode, 0) << push.describe() << fleet.berthdLog();
  EXPECT_THAT(push.err, HasSubstr("Sending image " + image + " to h1, h2, h3"));
  for (int i = 0; i < kHosts; ++i) {
    auto img = fleet.engineOf(i).inspectImage(image);
    ASSERT_TRUE(img) << fleet.hostName(i);
  }
  // Again: nothing to send.
  auto again = fleet.berth({"image", "push", image});
  EXPECT_EQ(again.exitCode, 0);
  EXPECT_THAT(again.err, Not(HasSubstr("Sending")));
  auto missing = fleet.berth({"image", "push", "nosuch/image:1"});
  EXPECT_EQ(missing.exitCode, 1);
  EXPECT_THAT(missing.err, HasSubstr("nosuch/image:1"));
}

}  // namespace
}  // namespace berth::testing::controller
