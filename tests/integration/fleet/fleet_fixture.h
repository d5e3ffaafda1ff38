// Helpers for the fleet integration tests: the real `berth` binary with a private
// XDG_CONFIG_HOME (its CA and host inventory), SSH arguments for a test host, and the clients that
// must be accepted or refused by a provisioned engine (berth itself, the Debian docker CLI, curl).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "base/files.h"
#include "base/strings.h"
#include "harness/berth_binary.h"
#include "harness/subprocess.h"
#include "harness/temp_dir.h"
#include "harness/test_host.h"
#include "harness/wait.h"

namespace berth::testing::fleet {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// The docker CLI from Debian's docker.io package (the one whose behaviour `host env` must fit).
inline constexpr const char* kDebianDockerCli = "/usr/bin/docker";

class Berth {
 public:
  Berth() = default;
  const fs::path& config() const { return config_.path(); }
  fs::path hostsDir() const { return config_ / "berth" / "hosts"; }
  fs::path caDir() const { return config_ / "berth" / "ca"; }

  CommandResult run(const std::vector<std::string>& args, std::vector<std::string> env = {},
                    std::chrono::milliseconds timeout = 120s) const {
    env.push_back("XDG_CONFIG_HOME=" + config_.path().string());
    auto r = runBerth(args, {.env = env, .timeout = timeout});
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : CommandResult{};
  }

 private:
  TempDir config_{"berth-fleet-"};
};

// --ssh root@ADDRESS --identity KEY --known-hosts FILE for a test host.
inline std::vector<std::string> sshArgs(const TestHost& host) {
  return {"--ssh",         "root@" + host.address(),     "--identity", host.sshIdentity().string(),
          "--known-hosts", host.sshKnownHosts().string()};
}

inline std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// GET /_ping over TLS with curl, checking the engine against `ca`; cert/key may be empty.
inline CommandResult curlPing(const std::string& url, const fs::path& ca, const fs::path& cert = {},
                              const fs::path& key = {}) {
  std::string https = url;
  https.replace(0, 6, "https://");  // tcp:// → https://
  std::vector<std::string> argv{"curl", "-sS", "--noproxy", "*", "--max-time", "5", "--cacert", ca.string()};
  if (!cert.empty()) argv.insert(argv.end(), {"--cert", cert.string(), "--key", key.string()});
  argv.push_back(https + "/_ping");
  auto r = runCommand(argv, {.timeout = 20s});
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : CommandResult{};
}

// Whether the engine's log says `text` (it logs why it refused a handshake), within a few seconds.
inline bool engineLogged(const TestHost& host, const std::string& text) {
  std::string log;
  const bool found = waitUntil(
      [&] {
        auto content = readFile(host.engineLogPath());
        log = content ? *content : "";
        return log.find(text) != std::string::npos;
      },
      5s);
  if (!found)
    ADD_FAILURE() << "engine log lacks " << text << ":\n"
                  << log.substr(log.size() > 3000 ? log.size() - 3000 : 0);
  return found;
}

// The text of a file inside a host.
inline std::string hostFile(const TestHost& host, const std::string& path) {
  auto r = host.run({"cat", path});
  EXPECT_TRUE(r) << r.error().message();
  return r && r->exitCode == 0 ? r->out : std::string("<missing " + path + ">");
}

}  // namespace berth::testing::fleet
