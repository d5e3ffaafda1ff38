// berth_network_bench (bench/network drives it): the mesh against the plain link, and the ingress
// against the replica reached directly, in one run on the test harness's three namespace hosts
// (each its own dockerd; hosts linked through the root namespace; wireguard-go, since the machine's
// kernel has no WireGuard module) with berthd's mesh on. Prints a Markdown report on stdout.
//
//   throughput  a 100 MB HTTP download (busybox httpd -> nc | wc -c, timed) between two containers on
//               different hosts: over the mesh (a stack network) and over the plain link (the same
//               pair with host networking, to the other host's own address); median of 3
//   latency     ping between the same pairs, 20 echoes, average round trip
//   ingress     requests per second from the benchmark process (8 connections, each HTTP/1.0 GET
//               then close, 3 s): to the replica's port published by its engine (`mode: host`,
//               the direct path), through the ingress on the replica's host, and through the
//               ingress on another host (relayed over the mesh)
//
// It is a GoogleTest binary only to reuse the integration tests' fleet (tests/integration/controller).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "harness/names.h"
#include "harness/wait.h"
#include "integration/controller/controller_fixture.h"

namespace berth::testing::controller {
namespace {

CommandResult execIn(int host, const std::string& container, const std::string& script) {
  auto r = runCommand({"docker", "-H", Fleet::get().host(host).unixSocketUrl(), "exec", container, "sh", "-c", script},
                      {.timeout = 120s});
  return r ? *r : CommandResult{};
}

// The output of `time sh -c '... | wc -c'` in busybox: the byte count, then "real\t0m 0.91s" → MB/s.
double transferRate(const std::string& out) {
  const double bytes = std::atof(out.c_str());
  const auto real = out.find("real");
  if (real == std::string::npos) return 0;
  const std::string t = out.substr(real + 4);
  const auto m = t.find('m');
  if (m == std::string::npos) return 0;
  const double seconds = std::atof(t.c_str()) * 60 + std::atof(t.substr(m + 1).c_str());
  return seconds > 0 ? bytes / seconds / 1e6 : 0;
}

// busybox ping's "round-trip min/avg/max = 0.101/0.153/0.320 ms" → avg.
double pingAverage(const std::string& out) {
  const auto eq = out.find("min/avg/max = ");
  if (eq == std::string::npos) return 0;
  const auto slash = out.find('/', eq + 14);
  return std::atof(out.substr(slash + 1).c_str());
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Requests per second: `connections` threads, each GET-and-close in a loop for `duration`.
double requestsPerSecond(const std::string& address, int port, int connections, std::chrono::seconds duration) {
  std::atomic<long> done{0};
  std::atomic<long> failed{0};
  const auto end = std::chrono::steady_clock::now() + duration;
  std::vector<std::jthread> threads;
  for (int t = 0; t < connections; ++t) {
    threads.emplace_back([&] {
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(static_cast<std::uint16_t>(port));
      inet_pton(AF_INET, address.c_str(), &sa.sin_addr);
      const char request[] = "GET / HTTP/1.0\r\n\r\n";
      char buf[4096];
      while (std::chrono::steady_clock::now() < end) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool good = ::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0 &&
                    ::write(fd, request, sizeof request - 1) == static_cast<ssize_t>(sizeof request - 1);
        std::size_t got = 0;
        while (good) {
          const ssize_t n = ::read(fd, buf, sizeof buf);
          if (n <= 0) break;
          got += static_cast<std::size_t>(n);
        }
        ::close(fd);
        if (good && got > 0) {
          ++done;
        } else {
          ++failed;
        }
      }
    });
  }
  threads.clear();
  if (failed > 0) std::fprintf(stderr, "[bench] %s:%d: %ld failed requests\n", address.c_str(), port, failed.load());
  return static_cast<double>(done) / static_cast<double>(duration.count());
}

std::string place(const std::string& hostname) {
  return "    deploy: {placement: {constraints: [node.hostname == " + hostname + "]}}\n";
}

TEST(NetworkBench, MeshAgainstTheLinkAndIngressAgainstDirect) {
  Fleet& fleet = Fleet::get();
  const std::string stack = uniqueName("nb");
  const std::string serve = "mkdir -p /www && dd if=/dev/zero of=/www/big bs=1M count=100 2>/dev/null && "
                            "hostname > /www/index.html && exec httpd -f -p ";
  StackDir dir("services:\n"
               "  mesh-srv:\n    image: busybox:latest\n    command: [sh, -c, \"" + serve + "80 -h /www\"]\n"
               "    networks: [net]\n" + place("node-2") +
               "  mesh-cli:\n    image: busybox:latest\n    command: [sleep, \"3600\"]\n    networks: [net]\n" +
               place("node-1") +
               "  link-srv:\n    image: busybox:latest\n    command: [sh, -c, \"" + serve + "18090 -h /www\"]\n"
               "    network_mode: host\n" + place("node-2") +
               "  link-cli:\n    image: busybox:latest\n    command: [sleep, \"3600\"]\n    network_mode: host\n" +
               place("node-1") +
               "  web:\n    image: busybox:latest\n"
               "    command: [sh, -c, \"mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www\"]\n"
               "    ports:\n      - \"18100:80\"\n      - {target: 80, published: 18101, mode: host}\n"
               "    networks: [net]\n" + place("node-2") +
               "networks:\n  net: {}\n");
  auto deployed = fleet.berth({"stack", "deploy", "-c", dir.file(), stack});
  ASSERT_EQ(deployed.exitCode, 0) << deployed.describe() << fleet.berthdLog();
  const std::string meshCli = stack + "-mesh-cli-1", linkCli = stack + "-link-cli-1";
  const std::string node2 = fleet.host(1).address();
  // Ready when the client fetches the page over both paths and the ingress answers.
  Status s = waitFor(
      "the pairs and the ingress answer",
      [&]() -> Status {
        auto a = execIn(0, meshCli, "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 mesh-srv 80");
        auto b = execIn(0, linkCli, "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 " + node2 + " 18090");
        if (a.out.find("200 OK") == std::string::npos || b.out.find("200 OK") == std::string::npos)
          return fail(ErrorCode::NotFound, a.out + b.out);
        if (requestsPerSecond(fleet.host(0).address(), 18100, 1, 1s) <= 0) return fail(ErrorCode::NotFound, "ingress");
        return ok();
      },
      60s, 500ms);
  ASSERT_TRUE(s) << s.error().message() << fleet.berthdLog();

  const auto download = [&](const std::string& client, const std::string& target, int port) {
    std::vector<double> rates;
    for (int i = 0; i < 3; ++i) {
      auto r = execIn(0, client, "time sh -c \"printf 'GET /big HTTP/1.0\\r\\n\\r\\n' | nc " + target + " " +
                                     std::to_string(port) + " | wc -c\" 2>&1");
      rates.push_back(transferRate(r.out));
    }
    return median(rates);
  };
  const double meshRate = download(meshCli, "mesh-srv", 80);
  const double linkRate = download(linkCli, node2, 18090);
  const std::string meshSrvIp = [&] {
    auto c = fleet.engineOf(1).inspectContainer(stack + "-mesh-srv-1");
    return c ? c->networkSettings.networks.at(stack + "_net").ipAddress : std::string();
  }();
  const double meshPing = pingAverage(execIn(0, meshCli, "ping -c 20 -i 0.2 -q " + meshSrvIp).out);
  const double linkPing = pingAverage(execIn(0, linkCli, "ping -c 20 -i 0.2 -q " + node2).out);

  const double direct = requestsPerSecond(node2, 18101, 8, 3s);
  const double ingressLocal = requestsPerSecond(node2, 18100, 8, 3s);
  const double ingressRelayed = requestsPerSecond(fleet.host(0).address(), 18100, 8, 3s);

  std::printf("## Network: the mesh against the plain link, the ingress against direct\n\n");
  std::printf("| Measure | berth's mesh / ingress | plain link / direct | ratio |\n|---|---|---|---|\n");
  std::printf("| throughput between containers on two hosts (MB/s) | %.0f | %.0f | %.2fx |\n", meshRate, linkRate,
              linkRate > 0 ? meshRate / linkRate : 0);
  std::printf("| ping between the same pair (ms, avg of 20) | %.3f | %.3f | %.2fx |\n", meshPing, linkPing,
              linkPing > 0 ? meshPing / linkPing : 0);
  std::printf("| requests/s, ingress on the replica's host vs its engine-published port | %.0f | %.0f | %.2fx |\n",
              ingressLocal, direct, direct > 0 ? ingressLocal / direct : 0);
  std::printf("| requests/s, ingress on another host (relayed over the mesh) vs direct | %.0f | %.0f | %.2fx |\n",
              ingressRelayed, direct, direct > 0 ? ingressRelayed / direct : 0);
  EXPECT_GT(meshRate, 0);
  EXPECT_GT(linkRate, 0);
  EXPECT_GT(direct, 0);
  EXPECT_GT(ingressLocal, 0);
  EXPECT_GT(ingressRelayed, 0);
  fleet.removeStack(stack);
}

}  // namespace
}  // namespace berth::testing::controller
