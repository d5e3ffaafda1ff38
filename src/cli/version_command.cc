// `berth version`: the client's version, the engine's, and the API version they agreed on. The client
// part is printed even when the engine cannot be reached (then the error follows and berth exits 1).
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"
#include "engine/api_version.h"
#include "engine/engine.h"

namespace berth::cli {
namespace {

int runVersion(const GlobalOptions& global) {
  std::cout << fmt::format(
      "Client:\n"
      " Version:      {}\n"
      " API versions: {} to {}\n",
      clientVersion(), engine::kMinApiVersion.toString(), engine::kMaxApiVersion.toString());
  std::cout.flush();
  auto engine = selectedEngine(global);
  if (!engine) {
    std::cerr << "berth: " << engine.error().message() << "\n";
    return 1;
  }
  auto v = (*engine)->version();
  if (!v) {
    std::cerr << "berth: " << v.error().message() << "\n";
    return 1;
  }
  auto api = (*engine)->apiVersion();
  if (!api) {
    std::cerr << "berth: " << api.error().message() << "\n";
    return 1;
  }
  std::cout << fmt::format(
      "\nServer: {}\n"
      " Engine:\n"
      "  Version:     {}\n"
      "  API version: {} (minimum {})\n"
      "  Go version:  {}\n"
      "  Git commit:  {}\n"
      "  OS/Arch:     {}/{}\n"
      "  Kernel:      {}\n"
      " Negotiated API version: {}\n",
      (*engine)->address(), v->version, v->apiVersion, v->minApiVersion, v->goVersion, v->gitCommit, v->os,
      v->arch, v->kernelVersion, api->toString());
  return 0;
}

}  // namespace

void registerVersionCommand(CLI::App& app, CommandContext& context) {
  CLI::App* cmd = app.add_subcommand(
      "version", "Show the berth version, the engine's, and the negotiated API version (-H, DOCKER_HOST)");
  cmd->callback([&context] { context.exitCode = runVersion(context.global); });
}

}  // namespace berth::cli
