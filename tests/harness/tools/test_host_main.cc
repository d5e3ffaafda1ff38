// berth-test-host: starts test hosts (the same as integration tests get) and keeps them up until
// Ctrl-C, for debugging by hand:
//   build/bin/berth-test-host [--count N] [--ssh] [--tls] [--bare]
// prints, per host, the address, DOCKER_HOST, the nsenter command to get a shell inside, and the
// ssh command; everything is torn down when the tool exits (however it exits).
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "harness/test_host.h"

int main(int argc, char** argv) {
  using berth::testing::HostOptions;
  using berth::testing::TestHost;
  int count = 1;
  HostOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--count" && i + 1 < argc) {
      count = std::atoi(argv[++i]);
    } else if (arg == "--ssh") {
      options.ssh = true;
    } else if (arg == "--tls") {
      options.tls = true;
    } else if (arg == "--bare") {
      options.engine = false;
    } else {
      std::fprintf(stderr, "usage: %s [--count N] [--ssh] [--tls] [--bare]\n", argv[0]);
      return 2;
    }
  }
  // Block the termination signals and wait for one; hosts are stopped by their destructors.
  sigset_t mask;
  sigemptyset(&mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&mask, sig);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);

  std::vector<std::unique_ptr<TestHost>> hosts;
  for (int i = 0; i < count; ++i) {
    auto host = TestHost::start(options);
    if (!host) {
      std::fprintf(stderr, "%s\n", host.error().message().c_str());
      return 1;
    }
    const TestHost& h = **host;
    std::printf("host %d: %s %s\n", h.index(), h.hostname().c_str(), h.address().c_str());
    if (options.engine) std::printf("  export DOCKER_HOST=%s\n", h.unixSocketUrl().c_str());
    if (options.tls) {
      std::printf("  export DOCKER_HOST=%s DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=%s\n", h.tlsUrl().c_str(),
                  h.tls().client.dir.c_str());
    }
    std::printf("  shell:  nsenter -t %d -m -n -u -i -p --wd=/ bash\n", static_cast<int>(h.holderPid()));
    if (options.ssh) {
      std::printf("  ssh -i %s -o UserKnownHostsFile=%s root@%s\n", h.sshIdentity().c_str(),
                  h.sshKnownHosts().c_str(), h.address().c_str());
    }
    std::printf("  files:  %s\n", h.directory().c_str());
    hosts.push_back(std::move(*host));
  }
  std::printf("Ctrl-C to stop.\n");
  std::fflush(stdout);
  int sig = 0;
  sigwait(&mask, &sig);
  for (auto& h : hosts) h->stop();
  return 0;
}
