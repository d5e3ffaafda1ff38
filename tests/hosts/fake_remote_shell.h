// FakeRemoteShell: a host's files in memory and the commands provisioning sends, understood by their
// shape (read, write, remove, probe, restart), with a call log and fault injection — enough to test
// every path of provisionEngineTls without a host.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/strings.h"
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
    if (c == initProbeScript()) return RemoteResult{0, probeOutput, ""};
    if (c == "hostname") return RemoteResult{0, hostname + "\n", ""};
    if (c == "systemctl cat docker.service") return RemoteResult{0, unitText, ""};
    // (String matching rather than std::regex: GCC 12's <regex> trips -Wmaybe-uninitialized in the
    // sanitizer build.)
    if (startsWith(c, "if [ -e '")) {  // read
      const std::string path = c.substr(9, c.find('\'', 9) - 9);
      const auto it = files.find(path);
      if (it == files.end()) return RemoteResult{0, "absent\n", ""};
      return RemoteResult{0, it->second.mode + "\n" + it->second.content, ""};
    }
    if (startsWith(c, "umask 077 && mkdir -p '")) {  // write: ... && chmod MODE 'TMP' && mv -f 'TMP' 'PATH'
      const auto chmod = c.find("&& chmod ");
      const std::string mode = c.substr(chmod + 9, c.find(' ', chmod + 9) - chmod - 9);
      const auto close = c.size() - 1;  // the final quote
      const auto open = c.rfind('\'', close - 1);
      const std::string path = c.substr(open + 1, close - open - 1);
      if (failWrite && *failWrite == path) {
        failWrite.reset();
        return RemoteResult{1, "", "cat: write error: No space left on device"};
      }
      files[path] = File{std::string(input), mode};
      return RemoteResult{0, "", ""};
    }
    if (startsWith(c, "rm -f '")) {
      files.erase(c.substr(7, c.size() - 8));
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
