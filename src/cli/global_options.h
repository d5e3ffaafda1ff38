// The options every berth command accepts, as compose and docker users know them.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace berth::cli {

struct GlobalOptions {
  std::vector<std::string> files;          // -f/--file, repeatable, in order
  std::optional<std::string> projectName;  // -p/--project-name
  std::optional<std::string> projectDirectory;
  std::vector<std::string> envFiles;  // --env-file, repeatable
  std::vector<std::string> profiles;  // --profile, repeatable
  std::optional<std::string> host;    // -H/--host: a registered host's name or an engine URL
  // --controller: berthd's URL (else BERTH_CONTROLLER): stack, service and host commands go to it.
  std::optional<std::string> controller;
  std::string logLevel = "warn";
  std::string progress = "auto";  // --progress: auto, tty, plain, json, quiet
};

}  // namespace berth::cli
