// What an idle berthd holds on to, observed from outside the process: one connection to each host's
// engine (its probes, listings and event windows share it; the connections a burst of work opened
// close once it is over), and no SSH library (berthd reaches hosts only over TCP with mutual TLS).
#include <gmock/gmock.h>

#include <fstream>
#include <set>
#include <sstream>

#include "integration/controller/controller_fixture.h"

namespace berth::testing::controller {
namespace {

// The inodes of the sockets process `pid` has open.
std::set<std::string> socketInodes(pid_t pid) {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& fd : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    const std::string target = fs::read_symlink(fd.path(), ec).string();
    if (target.starts_with("socket:[")) out.insert(target.substr(8, target.size() - 9));
  }
  return out;
}

// "10.213.2.2" as /proc/net/tcp writes a remote IPv4 address and port 2376: "0202D50A:0948".
std::string procNetAddress(const std::string& ip, int port) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  std::sscanf(ip.c_str(), "%u.%u.%u.%u", &a, &b, &c, &d);
  char text[32];
  std::snprintf(text, sizeof text, "%02X%02X%02X%02X:%04X", d, c, b, a, static_cast<unsigned>(port));
  return text;
}

// Process `pid`'s established TCP connections to `ip`:`port`.
int connectionsTo(pid_t pid, const std::string& ip, int port) {
  const std::set<std::string> mine = socketInodes(pid);
  std::ifstream tcp("/proc/" + std::to_string(pid) + "/net/tcp");
  const std::string remote = procNetAddress(ip, port);
  std::string line;
  std::getline(tcp, line);  // the header
  int n = 0;
  while (std::getline(tcp, line)) {
    std::istringstream fields(line);
    std::string slot, local, rem, state, queues, timer, retransmits, uid, timeout, inode;
    fields >> slot >> local >> rem >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
    if (rem == remote && state == "01" && mine.contains(inode)) ++n;
  }
  return n;
}

TEST(FootprintTest, AnIdleControllerHoldsOneConnectionPerHostAndNoSshLibrary) {
  Fleet& fleet = Fleet::get();
  fleet.waitHostsReady();
  const pid_t pid = fleet.berthd().pid();
  std::string counts;
  const Status one = waitFor(
      "one connection per host",
      [&]() -> Status {
        counts.clear();
        bool each = true;
        for (int i = 0; i < kHosts; ++i) {
          const int n = connectionsTo(pid, fleet.host(i).address(), kTlsPort);
          counts += fleet.hostName(i) + ": " + std::to_string(n) + " ";
          each = each && n == 1;
        }
        return each ? ok() : fail(ErrorCode::NotFound, counts);
      },
      60s, 250ms);
  EXPECT_TRUE(one) << one.error().message();

  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  std::stringstream all;
  all << maps.rdbuf();
  EXPECT_THAT(all.str(), ::testing::HasSubstr("libssl"));  // the file is read right
  EXPECT_THAT(all.str(), ::testing::Not(::testing::HasSubstr("libssh")));
  EXPECT_THAT(all.str(), ::testing::Not(::testing::HasSubstr("libkrb5")));
}

}  // namespace
}  // namespace berth::testing::controller
