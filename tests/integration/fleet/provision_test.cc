// End to end: a host whose engine listens only on its unix socket, provisioned by `berth host add
// --ssh --provision` over real SSH; then berth, the Debian docker CLI and curl against its mutual
// TLS, the clients it must refuse, and rotation revoking old client certificates.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "fleet_fixture.h"
#include "harness/tls_material.h"
#include "pki/authority.h"
#include "pki/ca_store.h"

namespace berth::testing::fleet {
namespace {

class ProvisionedHostTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto started = TestHost::start(HostOptions{.hostname = "web-node", .loadBusybox = false, .ssh = true});
    ASSERT_TRUE(started) << started.error().message();
    host_ = started->release();
    berth_ = new Berth();
    originalDaemonJson_ = new std::string(hostFile(*host_, "/etc/docker/daemon.json"));
    add_ = new CommandResult(
        berth_->run(concat({"host", "add", "web", "--provision", "--label", "zone=a"}, sshArgs(*host_))));
  }
  static void TearDownTestSuite() {
    delete add_;
    delete originalDaemonJson_;
    delete berth_;
    delete host_;
    host_ = nullptr;
  }
  void SetUp() override { ASSERT_EQ(add_->exitCode, 0) << add_->describe() << host_->engineLogTail(); }

  static fs::path clientDir() { return berth_->hostsDir() / "web" / "client"; }
  static std::string url() { return "tcp://" + host_->address() + ":2376"; }
  // berth engine info against the engine's URL with a DOCKER_CERT_PATH bundle.
  static CommandResult berthWithBundle(const fs::path& bundle) {
    return berth_->run({"-H", url(), "engine", "info"},
                       {"DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH=" + bundle.string()}, 60s);
  }

  static TestHost* host_;
  static Berth* berth_;
  static std::string* originalDaemonJson_;
  static CommandResult* add_;
};
TestHost* ProvisionedHostTest::host_ = nullptr;
Berth* ProvisionedHostTest::berth_ = nullptr;
std::string* ProvisionedHostTest::originalDaemonJson_ = nullptr;
CommandResult* ProvisionedHostTest::add_ = nullptr;

unsigned mode(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 0777;
}

TEST_F(ProvisionedHostTest, AddProvisionsTheEngineThroughItsSysVInitScript) {
  const std::string& out = add_->out;
  EXPECT_NE(out.find("Created berth's CA in " + berth_->caDir().string()), std::string::npos) << out;
  EXPECT_NE(out.find("  [1/7] probe the host\n        web-node runs its engine with a SysV init script\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("  [6/7] restart the engine (service docker restart)\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Added host web (" + url() + "): engine "), std::string::npos) << out;

  // The engine's configuration: merged, not replaced; TLS files in /etc/docker/berth, key 0600.
  const std::string daemonJson = hostFile(*host_, "/etc/docker/daemon.json");
  EXPECT_NE(daemonJson.find("\"tcp://0.0.0.0:2376\""), std::string::npos) << daemonJson;
  EXPECT_NE(daemonJson.find("\"tlsverify\": true"), std::string::npos) << daemonJson;
  EXPECT_NE(daemonJson.find("\"tlscacert\": \"/etc/docker/berth/ca.pem\""), std::string::npos) << daemonJson;
  for (const char* kept :
       {"\"data-root\"", "\"cgroup-parent\"", "\"bip\"", "unix:///var/run/docker.sock", "docker.sock\""}) {
    EXPECT_NE(daemonJson.find(kept), std::string::npos) << kept << " lost from\n" << daemonJson;
  }
  auto keyMode = host_->run({"stat", "-c", "%a", "/etc/docker/berth/key.pem"});
  ASSERT_TRUE(keyMode);
  EXPECT_EQ(keyMode->out, "600\n");
  // Still answering locally, and the init script still manages it.
  EXPECT_TRUE(host_->waitForEngine(10s).has_value());
  auto status = host_->run({"service", "docker", "status"});
  ASSERT_TRUE(status);
  EXPECT_EQ(status->exitCode, 0) << status->describe();

  // The inventory: private, with the pinned SSH key and berth's own client certificate.
  EXPECT_EQ(mode(berth_->hostsDir()), 0700u);
  EXPECT_EQ(mode(berth_->hostsDir() / "web"), 0700u);
  EXPECT_EQ(mode(clientDir() / "key.pem"), 0600u);
  EXPECT_EQ(mode(berth_->hostsDir() / "web" / "client-ca" / "ca-key.pem"), 0600u);
  EXPECT_EQ(mode(berth_->caDir() / "ca-key.pem"), 0600u);
  const std::string known = *readFile(berth_->hostsDir() / "web" / "known_hosts");
  EXPECT_EQ(known, host_->address() + " " + host_->sshHostPublicKey() + "\n");
  auto client = pki::Certificate::load(clientDir() / "cert.pem");
  ASSERT_TRUE(client);
  EXPECT_EQ(client->info().subject, "CN=berth@web");
  EXPECT_TRUE(client->info().clientAuth);

  // The server certificate names the address and the hostname, and comes from berth's CA.
  auto ca = pki::CaStore::open(berth_->caDir());
  ASSERT_TRUE(ca);
  auto server = pki::Certificate::fromPem(hostFile(*host_, "/etc/docker/berth/cert.pem"));
  ASSERT_TRUE(server);
  EXPECT_TRUE(pki::verify(*server, ca->authority().certificate(),
                          {.purpose = pki::CertificateKind::Server, .name = host_->address()})
                  .has_value());
  EXPECT_EQ(server->info().dnsNames, std::vector<std::string>{"web-node"});
  // The CA key never left the config directory: nothing on the host holds it.
  auto grep = host_->run({"grep", "-rl", "PRIVATE KEY", "/etc/docker"});
  ASSERT_TRUE(grep);
  EXPECT_EQ(grep->out, "/etc/docker/berth/key.pem\n");
}

TEST_F(ProvisionedHostTest, LsShowsItRunningWithVersionContainersAndLabels) {
  const CommandResult ls = berth_->run({"host", "ls"});
  ASSERT_EQ(ls.exitCode, 0) << ls.describe();
  const std::vector<std::string> lines = split(ls.out, '\n');
  ASSERT_EQ(lines.size(), 3u) << ls.out;
  EXPECT_TRUE(startsWith(lines[0], "NAME   URL")) << ls.out;
  EXPECT_TRUE(startsWith(lines[1], "web    " + url() + "   running   ")) << ls.out;
  EXPECT_NE(lines[1].find("0 (0 running)   zone=a"), std::string::npos) << ls.out;
  EXPECT_EQ(ls.err, "");
}

TEST_F(ProvisionedHostTest, BerthCommandsTakeTheHostsName) {
  const CommandResult info = berth_->run({"-H", "web", "engine", "info"});
  ASSERT_EQ(info.exitCode, 0) << info.describe();
  EXPECT_TRUE(startsWith(info.out, "Engine:            " + url() + "\n Name:             web-node\n"))
      << info.out;
  // BERTH_HOST does the same.
  const CommandResult viaEnv = berth_->run({"engine", "info"}, {"BERTH_HOST=web"});
  EXPECT_EQ(viaEnv.exitCode, 0) << viaEnv.describe();
  EXPECT_EQ(viaEnv.out, info.out);
}

TEST_F(ProvisionedHostTest, HostEnvWorksWithTheDebianDockerCli) {
  const CommandResult env = berth_->run({"host", "env", "web", "--shell", "bash"});
  ASSERT_EQ(env.exitCode, 0) << env.describe();
  EXPECT_EQ(env.out,
            "export DOCKER_HOST='" + url() + "'\nexport DOCKER_TLS_VERIFY='1'\nexport DOCKER_CERT_PATH='" +
                clientDir().string() +
                "'\n# Run this command to configure your shell:\n# eval \"$(berth host env web --shell "
                "bash)\"\n");
  auto r = runCommand({"bash", "-c",
                       std::string("eval \"$(\"$BERTH\" host env web --shell bash)\" && ") +
                           kDebianDockerCli + " version --format '{{.Server.Os}} {{.Client.Version}}' && " +
                           kDebianDockerCli + " info --format '{{.Name}}'"},
                      {.env = {"BERTH=" BERTH_BINARY, "XDG_CONFIG_HOME=" + berth_->config().string(),
                               "HOME=" + berth_->config().string()},
                       .unsetEnv = {"DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"},
                       .timeout = 60s});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exitCode, 0) << r->describe();
  EXPECT_TRUE(startsWith(r->out, "linux 20.10")) << r->out;
  EXPECT_TRUE(endsWith(r->out, "\nweb-node\n")) << r->out;

  // And back: the unset form leaves the docker CLI on its default engine.
  auto unset = runCommand(
      {"bash", "-c",
       "eval \"$(\"$BERTH\" host env web)\" && eval \"$(\"$BERTH\" host env --unset)\" && "
       "echo \"${DOCKER_HOST-unset} ${DOCKER_TLS_VERIFY-unset} ${DOCKER_CERT_PATH-unset}\""},
      {.env = {"BERTH=" BERTH_BINARY, "XDG_CONFIG_HOME=" + berth_->config().string(), "SHELL=/bin/bash"},
       .timeout = 30s});
  ASSERT_TRUE(unset);
  EXPECT_EQ(unset->out, "unset unset unset\n") << unset->describe();
}

TEST_F(ProvisionedHostTest, InspectShowsTheRecordAndCertificates) {
  const CommandResult inspect = berth_->run({"host", "inspect", "web"});
  ASSERT_EQ(inspect.exitCode, 0) << inspect.describe();
  for (const std::string& s : {std::string("\"name\": \"web\""), "\"url\": \"" + url() + "\"",
                               std::string("\"provisioned\": true"), std::string("\"initSystem\": \"sysv\""),
                               std::string("\"generation\": 1"), std::string("\"subject\": \"CN=berth@web\""),
                               std::string("\"subject\": \"CN=berth client CA for web #1\""),
                               "\"hostKey\": \"" + host_->sshHostPublicKey() + "\""}) {
    EXPECT_NE(inspect.out.find(s), std::string::npos) << s << " not in\n" << inspect.out;
  }
}

TEST_F(ProvisionedHostTest, CaLsListsTheServerCertificateAndTheHostsClientCa) {
  const CommandResult ls = berth_->run({"ca", "ls"});
  ASSERT_EQ(ls.exitCode, 0) << ls.describe();
  const std::vector<std::string> lines = split(ls.out, '\n');
  ASSERT_GE(lines.size(), 5u) << ls.out;
  EXPECT_TRUE(startsWith(lines[1], "ca ")) << ls.out;
  EXPECT_TRUE(startsWith(lines[2], "server ")) << ls.out;
  EXPECT_NE(lines[2].find(" web "), std::string::npos) << ls.out;
  EXPECT_TRUE(endsWith(lines[2], "valid")) << ls.out;
  EXPECT_NE(ls.out.find("\nhost-ca       berth client CA for web #1"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("\nhost-client   berth@web "), std::string::npos) << ls.out;
}

TEST_F(ProvisionedHostTest, RefusesAClientWithoutACertificate) {
  // The engine's certificate checks out against berth's CA, but without a client certificate the
  // handshake is refused.
  const CommandResult r = curlPing(url(), clientDir() / "ca.pem");
  EXPECT_NE(r.exitCode, 0) << r.describe();
  EXPECT_NE(r.out, "OK");
  EXPECT_TRUE(engineLogged(*host_, "client didn't provide a certificate"));
  // With berth's own bundle the same check passes: it was the missing certificate.
  EXPECT_EQ(curlPing(url(), clientDir() / "ca.pem", clientDir() / "cert.pem", clientDir() / "key.pem").out,
            "OK");
}

TEST_F(ProvisionedHostTest, RefusesACertificateFromAnotherCaEvenBerthsOwn) {
  // The harness's CA: a stranger.
  TempDir foreign;
  ASSERT_TRUE(mintForeignClientCert(foreign.path()));
  fs::copy_file(clientDir() / "ca.pem", foreign / "ca.pem", fs::copy_options::overwrite_existing);
  const CommandResult r = berthWithBundle(foreign.path());
  EXPECT_EQ(r.exitCode, 1) << r.describe();
  EXPECT_NE(r.err.find("the engine refused berth's client certificate"), std::string::npos) << r.err;
  // A client certificate from berth's main CA is not enough either: the host trusts only its own
  // client CA (which is what makes rotation revoke).
  const CommandResult issued =
      berth_->run({"ca", "issue", "client", "alice", "--out", (foreign / "alice").string()});
  ASSERT_EQ(issued.exitCode, 0) << issued.describe();
  EXPECT_NE(curlPing(url(), foreign / "alice" / "ca.pem", foreign / "alice" / "cert.pem",
                     foreign / "alice" / "key.pem")
                .out,
            "OK");
  EXPECT_TRUE(engineLogged(*host_, "certificate signed by unknown authority"));
}

TEST_F(ProvisionedHostTest, RefusesAnExpiredCertificateFromTheHostsOwnClientCa) {
  const fs::path caDir = berth_->hostsDir() / "web" / "client-ca";
  auto ca = pki::Authority::fromParts(*pki::Certificate::load(caDir / "ca.pem"),
                                      *pki::PrivateKey::load(caDir / "ca-key.pem"));
  ASSERT_TRUE(ca) << ca.error().message();
  const auto now = std::chrono::system_clock::now();
  auto expired = ca->issue(
      {.kind = pki::CertificateKind::Client, .commonName = "old", .validity = {now - 48h, now - 24h}});
  ASSERT_TRUE(expired);
  TempDir bundle;
  ASSERT_TRUE(pki::writeBundle(bundle.path(), *expired, *pki::Certificate::load(clientDir() / "ca.pem")));
  const CommandResult r = berthWithBundle(bundle.path());
  EXPECT_EQ(r.exitCode, 1) << r.describe();
  EXPECT_NE(r.err.find("refused berth's client certificate"), std::string::npos) << r.err;
  // berth warns about it on the way (it is "expiring": expired yesterday).
  EXPECT_NE(r.err.find("berth: warning: the client certificate CN=old expired 1 day ago"), std::string::npos)
      << r.err;
  EXPECT_TRUE(engineLogged(*host_, "x509: certificate has expired"));
  // A fresh one from the same CA is accepted: it was the expiry.
  auto fresh = ca->issue(
      {.kind = pki::CertificateKind::Client, .commonName = "new", .validity = pki::validFor(now, 24h)});
  ASSERT_TRUE(fresh);
  ASSERT_TRUE(pki::writeBundle(bundle.path(), *fresh, *pki::Certificate::load(clientDir() / "ca.pem")));
  EXPECT_EQ(berthWithBundle(bundle.path()).exitCode, 0);
}

// Last in this suite: it changes the host's certificates.
TEST_F(ProvisionedHostTest, RotateCertsRevokesOldClientCertificates) {
  TempDir old;
  for (const char* f : {"ca.pem", "cert.pem", "key.pem"}) fs::copy_file(clientDir() / f, old / f);
  const std::string oldServer = hostFile(*host_, "/etc/docker/berth/cert.pem");
  ASSERT_EQ(curlPing(url(), old / "ca.pem", old / "cert.pem", old / "key.pem").out, "OK");
  // A certificate handed out to someone else for this host, from the host's client CA.
  const CommandResult alice = berth_->run({"ca", "issue", "client", "alice", "--host", "web"});
  ASSERT_EQ(alice.exitCode, 0) << alice.describe();
  EXPECT_TRUE(startsWith(alice.out,
                         "Issued client certificate CN=alice for host web (client CA generation 1, serial "))
      << alice.out;
  const fs::path aliceDir = berth_->config() / "berth" / "certs" / "client" / "alice@web";
  ASSERT_EQ(curlPing(url(), aliceDir / "ca.pem", aliceDir / "cert.pem", aliceDir / "key.pem").out, "OK");
  // `ca ls` lists it with its expiry, like every certificate berth issues.
  const std::string serial = pki::Certificate::load(aliceDir / "cert.pem")->info().serial;
  EXPECT_NE(alice.out.find("serial " + serial + ", expires "), std::string::npos) << alice.out;
  const auto aliceListed = [&]() -> std::string {
    for (const std::string& line : split(berth_->run({"ca", "ls"}).out, '\n')) {
      if (startsWith(line, "host-client   alice@web ")) return line;
    }
    return "";
  };
  const std::string listed = aliceListed();
  EXPECT_NE(listed.find(" " + serial + " "), std::string::npos) << listed;
  EXPECT_TRUE(endsWith(listed, "   valid")) << listed;

  const CommandResult rotate = berth_->run({"host", "rotate-certs", "web"});
  ASSERT_EQ(rotate.exitCode, 0) << rotate.describe() << host_->engineLogTail();
  EXPECT_NE(
      rotate.out.find("client CA generation 2; client certificates of generation 1 are no longer accepted"),
      std::string::npos)
      << rotate.out;
  EXPECT_NE(hostFile(*host_, "/etc/docker/berth/cert.pem"), oldServer);

  // The old client certificate is refused — by berth, the docker CLI and curl alike.
  const CommandResult refused = berthWithBundle(old.path());
  EXPECT_EQ(refused.exitCode, 1) << refused.describe();
  EXPECT_NE(refused.err.find("refused berth's client certificate"), std::string::npos) << refused.err;
  auto docker = runCommand(
      {kDebianDockerCli, "version"},
      {.env = {"DOCKER_HOST=" + url(), "DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH=" + old.path().string()},
       .unsetEnv = {"DOCKER_CONTEXT"},
       .timeout = 30s});
  ASSERT_TRUE(docker);
  EXPECT_NE(docker->exitCode, 0) << docker->describe();
  EXPECT_NE(curlPing(url(), old / "ca.pem", old / "cert.pem", old / "key.pem").out, "OK");
  EXPECT_NE(curlPing(url(), aliceDir / "ca.pem", aliceDir / "cert.pem", aliceDir / "key.pem").out, "OK");
  EXPECT_TRUE(engineLogged(*host_, "certificate signed by unknown authority"));
  // Gone from `ca ls` with the client CA that issued it.
  EXPECT_EQ(aliceListed(), "");

  // berth's new one works, by name.
  const CommandResult info = berth_->run({"-H", "web", "engine", "info"});
  EXPECT_EQ(info.exitCode, 0) << info.describe();
  const CommandResult inspect = berth_->run({"host", "inspect", "web"});
  EXPECT_NE(inspect.out.find("\"generation\": 2"), std::string::npos) << inspect.out;
  EXPECT_NE(inspect.out.find("CN=berth client CA for web #2"), std::string::npos) << inspect.out;
  // The daemon.json merge is idempotent: rotation left it as provisioning made it.
  const std::string daemonJson = hostFile(*host_, "/etc/docker/daemon.json");
  EXPECT_EQ(split(daemonJson, '\n').size(), split(daemonJson, '\n').size());
  EXPECT_EQ(daemonJson.find("tcp://0.0.0.0:2376"), daemonJson.rfind("tcp://0.0.0.0:2376")) << daemonJson;
}

TEST(HostRmTest, ForgetsTheHostAndItsKeys) {
  Berth berth;
  auto started = TestHost::start(HostOptions{.loadBusybox = false, .ssh = true});
  ASSERT_TRUE(started) << started.error().message();
  TestHost& host = **started;
  const CommandResult add = berth.run(concat({"host", "add", "edge"}, sshArgs(host)));
  ASSERT_EQ(add.exitCode, 0) << add.describe();
  // Without --provision the engine is reached over SSH (berth's ssh:// transport), host key pinned.
  EXPECT_NE(add.out.find("Added host edge (ssh://root@" + host.address() + "): engine "), std::string::npos)
      << add.out;
  const CommandResult info = berth.run({"-H", "edge", "engine", "info"});
  EXPECT_EQ(info.exitCode, 0) << info.describe();
  const CommandResult label = berth.run({"host", "label", "edge", "role=db", "tier=2"});
  EXPECT_EQ(label.out, "edge: role=db,tier=2\n") << label.describe();
  EXPECT_EQ(berth.run({"host", "label", "edge", "tier-"}).out, "edge: role=db\n");
  const CommandResult again = berth.run(concat({"host", "add", "edge"}, sshArgs(host)));
  EXPECT_EQ(again.exitCode, 1);
  EXPECT_EQ(again.err,
            "berth: host edge is already registered (`berth host rm edge` first, or `berth host rotate-certs "
            "edge` for "
            "new certificates)\n");
  const CommandResult rm = berth.run({"host", "rm", "edge"});
  EXPECT_EQ(rm.exitCode, 0) << rm.describe();
  EXPECT_FALSE(fs::exists(berth.hostsDir() / "edge"));
  const CommandResult gone = berth.run({"-H", "edge", "engine", "info"});
  EXPECT_EQ(gone.exitCode, 1);
  EXPECT_TRUE(startsWith(gone.err, "berth: no host named \"edge\"")) << gone.err;
}

}  // namespace
}  // namespace berth::testing::fleet
