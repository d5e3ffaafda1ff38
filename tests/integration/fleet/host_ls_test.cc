// `berth host ls` over a fleet in every state — running, engine stopped, unreachable (packets
// dropped), TLS error — queried in parallel with a short timeout; and commands against an
// unreachable host that give up within seconds, naming the host's address.
#include <gtest/gtest.h>

#include <future>

#include "fleet_fixture.h"
#include "harness/tls_material.h"
#include "pki/ca_store.h"

namespace berth::testing::fleet {
namespace {

// The error berth ended with: its last line (certificate warnings come before it).
std::string lastLine(const std::string& text) {
  const std::string trimmed = text.substr(0, text.find_last_not_of('\n') + 1);
  return trimmed.substr(trimmed.rfind('\n') + 1);
}

// Runs of spaces (table padding) as one.
std::string collapseSpaces(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c != ' ' || out.empty() || out.back() != ' ') out += c;
  }
  return out;
}

class HostLsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(berth_.run({"ca", "init"}).exitCode, 0);
    auto store = pki::CaStore::open(berth_.caDir());
    ASSERT_TRUE(store) << store.error().message();
    // Three engines that trust berth's CA, started in parallel.
    std::vector<std::future<Result<std::unique_ptr<TestHost>>>> starting;
    for (int i = 0; i < 4; ++i) {
      starting.push_back(std::async(std::launch::async, [&] {
        return TestHost::start(
            HostOptions{.loadBusybox = false, .tls = true, .tlsAuthority = store->authority()});
      }));
    }
    for (auto& f : starting) {
      auto h = f.get();
      ASSERT_TRUE(h) << h.error().message();
      hosts_.push_back(std::move(*h));
    }
    const char* names[] = {"alpha", "bravo", "charlie", "delta"};
    for (std::size_t i = 0; i < hosts_.size(); ++i) {
      const CommandResult add = berth_.run({"host", "add", names[i], "--url", hosts_[i]->tlsUrl()});
      ASSERT_EQ(add.exitCode, 0) << add.describe();
      EXPECT_EQ(add.out, "Added host " + std::string(names[i]) + " (" + hosts_[i]->tlsUrl() +
                             "): engine 20.10.24+dfsg1, mutual TLS with berth's CA\n");
    }
  }
  void TearDown() override {
    if (hosts_.size() > 2) (void)hosts_[2]->setReachable(true);
  }

  Berth berth_;
  std::vector<std::unique_ptr<TestHost>> hosts_;
};

TEST_F(HostLsTest, ShowsEachHostsStateWithinSeconds) {
  ASSERT_TRUE(hosts_[1]->stopEngine().has_value());
  ASSERT_TRUE(hosts_[2]->setReachable(false).has_value());
  // delta's client certificate replaced by one from a CA its engine does not trust.
  TempDir foreign;
  ASSERT_TRUE(mintForeignClientCert(foreign.path()));
  const fs::path deltaClient = berth_.hostsDir() / "delta" / "client";
  fs::copy_file(foreign / "cert.pem", deltaClient / "cert.pem", fs::copy_options::overwrite_existing);
  fs::copy_file(foreign / "key.pem", deltaClient / "key.pem", fs::copy_options::overwrite_existing);
  ASSERT_EQ(berth_.run({"host", "label", "alpha", "zone=a", "ssd=yes"}).exitCode, 0);

  const auto began = std::chrono::steady_clock::now();
  const CommandResult ls = berth_.run({"host", "ls", "--timeout", "2"});
  const auto took = std::chrono::steady_clock::now() - began;
  ASSERT_EQ(ls.exitCode, 0) << ls.describe();
  // In parallel: the unreachable host costs its 2 s timeout once, not once per host.
  EXPECT_LT(took, 6s) << ls.out;
  const std::vector<std::string> lines = split(ls.out, '\n');
  ASSERT_EQ(lines.size(), 6u) << ls.out;
  EXPECT_TRUE(
      startsWith(lines[0], "NAME      URL                     STATE         ENGINE           CONTAINERS"))
      << ls.out;
  EXPECT_EQ(lines[1], "alpha     " + hosts_[0]->tlsUrl() +
                          "   running       20.10.24+dfsg1   0 (0 running)   ssd=yes,zone=a")
      << ls.out;
  EXPECT_TRUE(startsWith(lines[2], "bravo     " + hosts_[1]->tlsUrl() +
                                       "   stopped       -                -               -        "))
      << ls.out;
  EXPECT_NE(lines[2].find("connection refused by " + hosts_[1]->address() + ":2376"), std::string::npos)
      << ls.out;
  EXPECT_TRUE(startsWith(lines[3], "charlie   " + hosts_[2]->tlsUrl() + "   unreachable   -")) << ls.out;
  EXPECT_NE(lines[3].find("timed out connecting to " + hosts_[2]->address() + ":2376"), std::string::npos)
      << ls.out;
  EXPECT_TRUE(startsWith(lines[4], "delta     " + hosts_[3]->tlsUrl() + "   TLS error     -")) << ls.out;
  EXPECT_NE(lines[4].find("refused berth's client certificate"), std::string::npos) << ls.out;

  // -q: names only, without querying anything.
  EXPECT_EQ(berth_.run({"host", "ls", "-q"}).out, "alpha\nbravo\ncharlie\ndelta\n");
}

TEST_F(HostLsTest, CommandsAgainstAnUnreachableHostGiveUpWithinSecondsNamingIt) {
  ASSERT_TRUE(hosts_[2]->setReachable(false).has_value());
  const auto began = std::chrono::steady_clock::now();
  const CommandResult r = berth_.run({"-H", "charlie", "engine", "info"});
  const auto took = std::chrono::steady_clock::now() - began;
  EXPECT_EQ(r.exitCode, 1) << r.describe();
  EXPECT_LT(took, 10s);
  // The host by the name the user gave, and its address.
  EXPECT_TRUE(startsWith(lastLine(r.err), "berth: host charlie (" + hosts_[2]->tlsUrl() + "): ")) << r.err;
  EXPECT_NE(r.err.find("timed out connecting to " + hosts_[2]->address() + ":2376"), std::string::npos)
      << r.err;
  // The same through BERTH_HOST, for a host whose engine is stopped.
  ASSERT_TRUE(hosts_[1]->stopEngine().has_value());
  const CommandResult stopped = berth_.run({"engine", "info"}, {"BERTH_HOST=bravo"});
  EXPECT_EQ(stopped.exitCode, 1) << stopped.describe();
  EXPECT_TRUE(startsWith(lastLine(stopped.err), "berth: host bravo (" + hosts_[1]->tlsUrl() + "): "))
      << stopped.err;
  EXPECT_NE(stopped.err.find("connection refused by " + hosts_[1]->address() + ":2376"), std::string::npos)
      << stopped.err;
  // A URL is still named as an engine.
  const CommandResult byUrl = berth_.run(
      {"-H", hosts_[1]->tlsUrl(), "engine", "info"},
      {"DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH=" + (berth_.hostsDir() / "bravo" / "client").string()});
  EXPECT_TRUE(startsWith(lastLine(byUrl.err), "berth: engine " + hosts_[1]->tlsUrl() + ": ")) << byUrl.err;
  // The others still work meanwhile.
  EXPECT_EQ(berth_.run({"-H", "alpha", "engine", "info"}).exitCode, 0);

  // Registering an unreachable engine fails as quickly, and registers nothing.
  const auto addBegan = std::chrono::steady_clock::now();
  const CommandResult add = berth_.run({"host", "add", "echo", "--url", hosts_[2]->tlsUrl()});
  EXPECT_LT(std::chrono::steady_clock::now() - addBegan, 10s);
  EXPECT_EQ(add.exitCode, 1) << add.describe();
  EXPECT_TRUE(startsWith(add.err, "berth: host echo (" + hosts_[2]->tlsUrl() +
                                      "): berth could not connect with a client certificate from its CA: "))
      << add.err;
  EXPECT_FALSE(fs::exists(berth_.hostsDir() / "echo"));
}

TEST_F(HostLsTest, ADamagedRecordIsListedAsInvalidWithoutHidingTheOthers) {
  // A record cut short (a full disk, a bad edit): echo's host.json is no longer JSON.
  const fs::path broken = berth_.hostsDir() / "bravo" / "host.json";
  ASSERT_TRUE(writeFileAtomic(broken, "{\n  \"version\": 1,\n  \"name\": \"bravo\",\n  \"url\": \"tcp://")
                  .has_value());
  const std::string damage =
      "host bravo: damaged record " + broken.string() +
      ": not valid JSON: parse error at line 4, column 17: syntax error while parsing value - "
      "invalid string: missing closing quote; last read: '\"tcp://'; fix the file or "
      "forget the host with `berth host rm bravo`";

  const CommandResult ls = berth_.run({"host", "ls", "--timeout", "2"});
  // Like docker-machine ls: the listing succeeds, the damaged host shows its error.
  ASSERT_EQ(ls.exitCode, 0) << ls.describe();
  const std::vector<std::string> lines = split(ls.out, '\n');
  ASSERT_EQ(lines.size(), 6u) << ls.out;
  EXPECT_TRUE(startsWith(lines[1], "alpha     " + hosts_[0]->tlsUrl() + "   running ")) << ls.out;
  ASSERT_TRUE(endsWith(lines[2], damage)) << ls.out;
  // NAME URL STATE ENGINE CONTAINERS LABELS, then ERRORS.
  EXPECT_EQ(split(collapseSpaces(lines[2].substr(0, lines[2].size() - damage.size())), ' '),
            (std::vector<std::string>{"bravo", "-", "invalid", "-", "-", "-", ""}))
      << ls.out;
  EXPECT_TRUE(startsWith(lines[3], "charlie   " + hosts_[2]->tlsUrl() + "   running ")) << ls.out;
  EXPECT_TRUE(startsWith(lines[4], "delta     " + hosts_[3]->tlsUrl() + "   running ")) << ls.out;

  // -q: the names a command can use; the damaged one said on stderr.
  const CommandResult quiet = berth_.run({"host", "ls", "-q"});
  EXPECT_EQ(quiet.exitCode, 0) << quiet.describe();
  EXPECT_EQ(quiet.out, "alpha\ncharlie\ndelta\n");
  EXPECT_EQ(quiet.err, "berth: warning: " + damage + "\n");

  // Commands that name it say what is wrong with which file.
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"-H", "bravo", "engine", "info"},
                                             {"host", "env", "bravo"},
                                             {"host", "inspect", "bravo"},
                                             {"host", "rotate-certs", "bravo"},
                                             {"ca", "issue", "client", "x", "--host", "bravo"}}) {
    const CommandResult r = berth_.run(args);
    EXPECT_EQ(r.exitCode, 1) << r.describe();
    EXPECT_EQ(r.err, "berth: " + damage + "\n") << join(args, " ");
  }
  // Other hosts and the CA listing are unaffected.
  EXPECT_EQ(berth_.run({"-H", "charlie", "engine", "info"}).exitCode, 0);
  const CommandResult ca = berth_.run({"ca", "ls"});
  EXPECT_EQ(ca.exitCode, 0) << ca.describe();
  EXPECT_NE(ca.err.find("berth: warning: " + damage + "\n"), std::string::npos) << ca.err;

  // The way out the message gives works.
  const CommandResult rm = berth_.run({"host", "rm", "bravo"});
  EXPECT_EQ(rm.exitCode, 0) << rm.describe();
  EXPECT_EQ(rm.out, "Removed host bravo (its record was damaged) and berth's keys for it\n");
  EXPECT_FALSE(fs::exists(berth_.hostsDir() / "bravo"));
  EXPECT_EQ(berth_.run({"host", "ls", "-q"}).out, "alpha\ncharlie\ndelta\n");
}

TEST_F(HostLsTest, WarnsAboutCertificatesThatExpireWithin30Days) {
  // The harness gives its engines server certificates valid for a week: berth saw it at `host add`.
  EXPECT_EQ(*readFile(berth_.hostsDir() / "alpha" / "server.pem"), *readFile(hosts_[0]->tls().serverCert));
  const std::string expected =
      "berth: warning: host alpha's server certificate CN=" + hosts_[0]->hostname() + " expires in ";
  const CommandResult info = berth_.run({"-H", "alpha", "engine", "info"});
  EXPECT_EQ(info.exitCode, 0) << info.describe();
  EXPECT_TRUE(startsWith(info.err, expected)) << info.err;
  EXPECT_NE(info.err.find("; renew it with `berth host rotate-certs alpha`\n"), std::string::npos)
      << info.err;
  EXPECT_NE(berth_.run({"host", "env", "alpha"}).err.find(expected), std::string::npos);
  EXPECT_NE(berth_.run({"host", "ls"}).err.find(expected), std::string::npos);
  // berth's own client certificate is good for a year: no warning about it.
  EXPECT_EQ(info.err.find("client certificate"), std::string::npos) << info.err;
}

TEST_F(HostLsTest, AddRefusesAnEngineThatDoesNotTrustBerthsCa) {
  auto other = TestHost::start(HostOptions{.loadBusybox = false, .tls = true});  // the harness CA
  ASSERT_TRUE(other) << other.error().message();
  const CommandResult add = berth_.run({"host", "add", "stranger", "--url", (*other)->tlsUrl()});
  EXPECT_EQ(add.exitCode, 1) << add.describe();
  EXPECT_NE(add.err.find("the engine's certificate is not signed by the CA berth trusts"), std::string::npos)
      << add.err;
  EXPECT_FALSE(fs::exists(berth_.hostsDir() / "stranger"));
}

TEST(SshTimeoutTest, AddOverSshToAnUnreachableHostGivesUpWithinSeconds) {
  Berth berth;
  auto started = TestHost::start(HostOptions{.engine = false, .ssh = true});
  ASSERT_TRUE(started) << started.error().message();
  TestHost& host = **started;
  ASSERT_TRUE(host.setReachable(false).has_value());
  const auto began = std::chrono::steady_clock::now();
  const CommandResult add =
      berth.run(concat({"host", "add", "gone", "--provision", "--timeout", "5"}, sshArgs(host)));
  EXPECT_LT(std::chrono::steady_clock::now() - began, 12s);
  EXPECT_EQ(add.exitCode, 1) << add.describe();
  EXPECT_TRUE(startsWith(add.err, "berth: host gone: ssh root@" + host.address() + ":22: cannot connect: "))
      << add.err;
  EXPECT_FALSE(fs::exists(berth.hostsDir() / "gone"));
  ASSERT_TRUE(host.setReachable(true).has_value());
}

}  // namespace
}  // namespace berth::testing::fleet
