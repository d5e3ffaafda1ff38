// FakeRemoteShell: a host's files in memory and the commands provisioning sends, understood by their
// shape (read, write, remove, probe, restart), with a call log and fault injection — enough to test
// every path of provisionEngineTls without a host.
#pragma once

#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "hosts/init_system.h"
#include "hosts/remote.h"

namespace berth::hosts::testing {

class FakeRemoteShell final : public RemoteShell {
 public:
  struct File {
    std::string content;
    std::string mode = "644";
  };

  std::map<std::string, File> files;
  std::string probeOutput = "systemd-booted=no\nsystemctl=yes\ninit-script=yes\nservice=yes\ndockerd=yes\n";
  std::string hostname = "node-1";
  std::string unitText;
  std::vector<std::string> log;  // every command, in order
  int restarts = 0;
  // The restart with this 1-based number fails (exit 1, "dockerd exited during start-up").
  std::optional<int> failRestart;
  bool failEveryRestart = false;
  // The next write to this path fails (once).
  std::optional<std::string> failWrite;

  const std::string& describe() const override { return name_; }

  Result<RemoteResult> run(std::string_view command, std::string_view input,
                           std::chrono::milliseconds) override {
    const std::string c(command);
    log.push_back(c);
    std::smatch m;
    static const std::regex read(R"(^if \[ -e '([^']+)' \]; then stat)");
    static const std::regex write(
        R"(^umask 077 && mkdir -p '[^']*' && cat > '[^']+' && chmod (\d+) '[^']+' && mv -f '[^']+' '([^']+)'$)");
    static const std::regex remove(R"(^rm -f '([^']+)'$)");
    if (c == initProbeScript()) return RemoteResult{0, probeOutput, ""};
    if (c == "hostname") return RemoteResult{0, hostname + "\n", ""};
    if (c == "systemctl cat docker.service") return RemoteResult{0, unitText, ""};
    if (std::regex_search(c, m, read)) {
      const auto it = files.find(m[1]);
      if (it == files.end()) return RemoteResult{0, "absent\n", ""};
      return RemoteResult{0, it->second.mode + "\n" + it->second.content, ""};
    }
    if (std::regex_match(c, m, write)) {
      if (failWrite && *failWrite == m[2]) {
        failWrite.reset();
        return RemoteResult{1, "", "cat: write error: No space left on device"};
      }
      files[m[2]] = File{std::string(input), m[1]};
      return RemoteResult{0, "", ""};
    }
    if (std::regex_match(c, m, remove)) {
      files.erase(m[1]);
      return RemoteResult{0, "", ""};
    }
    if (c.find("restart") != std::string::npos) {
      ++restarts;
      if (failEveryRestart || (failRestart && *failRestart == restarts))
        return RemoteResult{1, "", "dockerd exited during start-up"};
      return RemoteResult{0, "docker started", ""};
    }
    return RemoteResult{127, "", "fake: unknown command: " + c};
  }

 private:
  std::string name_ = "root@10.0.0.2:22";
};

}  // namespace berth::hosts::testing
