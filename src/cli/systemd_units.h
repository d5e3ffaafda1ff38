// Unit files for systemd (`berth systemd generate/install/remove`): one unit per service of a
// project, in the spirit of podman's generated units, and units for berthd and the gateway.
//
// A service's unit runs `berth up --no-deps SERVICE` attached: it converges the service (creates,
// recreates or starts its containers) and then follows them, so the unit is "active" exactly while
// they run. When they die or are removed, `up` returns and systemd starts it again (Restart=always),
// which converges again: the containers come back, their named volumes' data with them. Stopping the
// unit stops the containers the way `up` does on SIGTERM, with the service's stop signal and grace
// period (TimeoutStopSec leaves room for it). depends_on becomes Requires=/After= on the
// dependencies' units, and an ExecStartPre that waits, with `up --wait`, until a dependency is
// running or healthy as its condition asks.
//
// Everything is named by absolute path (berth, the compose files, env files, the project
// directory), and the engine berth used when the units were made is written into them, so the
// units do not depend on the shell that made them.
//
// Pure functions: no I/O.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "spec/model.h"

namespace berth::cli {

struct UnitContext {
  std::string berth{};                      // absolute path of the berth binary
  std::string project{};                    // -p
  std::vector<std::string> files{};         // absolute compose files, in order
  std::string projectDirectory{};           // absolute
  std::vector<std::string> envFiles{};      // absolute --env-file
  std::vector<std::string> profiles{};      // --profile
  std::vector<std::string> hostArgs{};      // {"-H", "web-1"} when -H was given
  std::map<std::string, std::string> environment{};  // DOCKER_HOST, DOCKER_CERT_PATH, XDG_CONFIG_HOME...
  bool localEngine = true;                  // the engine is this machine's docker.service
  bool user = false;                        // --user units (WantedBy=default.target)
  std::string version{};                    // berth's version, for the header
};

struct UnitFile {
  std::string name{};     // "berth-shop-web.service"
  std::string content{};
};

// The unit's name for a service of a project.
std::string serviceUnitName(const std::string& project, const std::string& service);

// Units for the named services (all the project's when empty), in service order. Unknown services
// are the caller's to refuse.
std::vector<UnitFile> serviceUnits(const spec::Project& project, const std::vector<std::string>& services,
                                   const UnitContext& context);

// berthd and the gateway, sandboxed as far as their jobs allow.
UnitFile berthdUnit(const std::string& berthd, const std::string& dataDir, const std::vector<std::string>& listens,
                    const UnitContext& context);
UnitFile gatewayUnit(const std::string& listen, const std::string& hostKey, const UnitContext& context);

// Quotes a word for an Exec*= line (systemd's rules: "..." with \ and " escaped, % doubled).
std::string unitWord(const std::string& word);

}  // namespace berth::cli
