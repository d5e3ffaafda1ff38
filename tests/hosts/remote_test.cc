#include "hosts/remote.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "hosts/credentials.h"

namespace berth::hosts {
namespace {

TEST(RemoteTest, ShellQuoteSurvivesQuotes) {
  EXPECT_EQ(shellQuote("/etc/docker/daemon.json"), "'/etc/docker/daemon.json'");
  EXPECT_EQ(shellQuote("it's"), "'it'\\''s'");
  EXPECT_EQ(shellQuote(""), "''");
}

TEST(RemoteTest, HostKeysFromKeysKnownHostsLinesAndFiles) {
  const std::string key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHx9";
  EXPECT_EQ(*parseHostKey(key), key);
  EXPECT_EQ(*parseHostKey(key + " root@web-1\n"), key);
  EXPECT_EQ(*parseHostKey("10.0.0.2,web-1 " + key), key);
  EXPECT_EQ(*parseHostKey("[10.0.0.2]:2222 ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAI"),
            "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAI");
  std::string path = ::testing::TempDir() + "berth-hostkey-XXXXXX";
  const int fd = ::mkstemp(path.data());
  ASSERT_GE(fd, 0);
  std::ofstream(path) << "# comment\n" << key << " comment\n";
  EXPECT_EQ(*parseHostKey(path), key);
  std::filesystem::remove(path);
  EXPECT_EQ(parseHostKey("not a key").error().code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(parseHostKey("ssh-ed25519").error().message(),
            "host key \"ssh-ed25519\": expected \"ssh-ed25519 AAAA...\" (a public key or known_hosts line) "
            "or a file "
            "holding one");
}

TEST(CredentialsTest, ServerNamesSplitIpsFromDnsNames) {
  std::vector<std::string> ips, dns;
  serverNames("10.0.0.2", "web-1", ips, dns);
  serverNames("web-1.example.com", "web-1", ips, dns);
  serverNames("fd00::2", "bad name!", ips, dns);
  EXPECT_EQ(ips, (std::vector<std::string>{"10.0.0.2", "fd00::2"}));
  EXPECT_EQ(dns, (std::vector<std::string>{"web-1", "web-1.example.com"}));
  EXPECT_EQ(clientCommonName("web-1"), "berth@web-1");
}

}  // namespace
}  // namespace berth::hosts
