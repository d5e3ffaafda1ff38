// One registration function per command family; app.cc calls each. Add a family here and in
// app.cc's list; keep the family's code in its own file.
#pragma once

#include <memory>

#include "base/result.h"
#include "cli/app.h"

namespace berth::engine {
class Engine;
}

namespace berth::cli {

struct GlobalOptions;

void registerVersionCommand(CLI::App& app, CommandContext& context);
void registerCaCommand(CLI::App& app, CommandContext& context);
void registerEngineCommand(CLI::App& app, CommandContext& context);
void registerConfigCommand(CLI::App& app, CommandContext& context);
// Project commands (issue 4): up/create, down, ps, logs, exec, run, the lifecycle family (start,
// stop, restart, kill, rm, pause, unpause, wait), top/images/port, events, build/pull.
void registerUpCommand(CLI::App& app, CommandContext& context);
void registerDownCommand(CLI::App& app, CommandContext& context);
void registerPsCommand(CLI::App& app, CommandContext& context);
void registerLogsCommand(CLI::App& app, CommandContext& context);
void registerExecCommand(CLI::App& app, CommandContext& context);
void registerRunCommand(CLI::App& app, CommandContext& context);
void registerLifecycleCommands(CLI::App& app, CommandContext& context);
void registerInspectCommands(CLI::App& app, CommandContext& context);
void registerEventsCommand(CLI::App& app, CommandContext& context);
void registerImageCommands(CLI::App& app, CommandContext& context);
void registerHostCommand(CLI::App& app, CommandContext& context);
// The controller's commands (stack_command.cc): stack deploy/ls/ps/services/rm/rebalance, service
// ls/ps/inspect/scale/logs/update/rollback, image push.
void registerStackCommands(CLI::App& app, CommandContext& context);
void registerServiceCommands(CLI::App& app, CommandContext& context);
void registerImagePushCommand(CLI::App& app, CommandContext& context);
// `berth volume ls/backup/restore/move` (volume_command.cc).
void registerVolumeCommands(CLI::App& app, CommandContext& context);
// `berth gateway` (gateway_command.cc).
void registerGatewayCommand(CLI::App& app, CommandContext& context);
// `berth ssh rotate` (ssh_command.cc).
void registerSshCommands(CLI::App& app, CommandContext& context);
// `berth systemd generate/install/remove` (systemd_command.cc).
void registerSystemdCommands(CLI::App& app, CommandContext& context);
// `berth events --controller`: the controller's event stream (events_command.cc hands over).
int runControllerEvents(const GlobalOptions& global, const std::string& controller, bool json);

// The engine the global options select: -H/--host NAME of a registered host (`berth host add`, with
// its TLS material from the inventory) or URL, else DOCKER_HOST, else unix:///var/run/docker.sock
// (with DOCKER_TLS_VERIFY/DOCKER_CERT_PATH/DOCKER_API_VERSION). Warns on stderr about certificates it
// uses that expire within 30 days. Does not connect yet. Defined in engine_command.cc.
Result<std::unique_ptr<engine::Engine>> selectedEngine(const GlobalOptions& global);

}  // namespace berth::cli
