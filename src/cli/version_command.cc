// `berth version`: the client's version. (The engine part arrives with the engine client.)
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/commands.h"

namespace berth::cli {

void registerVersionCommand(CLI::App& app, CommandContext& context) {
  CLI::App* cmd = app.add_subcommand("version", "Show the berth version information");
  cmd->callback([&context] {
    std::cout << "berth version " << clientVersion() << "\n";
    context.exitCode = 0;
  });
}

}  // namespace berth::cli
