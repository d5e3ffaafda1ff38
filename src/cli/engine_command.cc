// `berth engine info`: the useful part of the engine's /info, and how berth reaches the engine.
// Also the one place the CLI turns the global options into an Engine (selectedEngine).
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"
#include "cli/global_options.h"
#include "engine/endpoint.h"
#include "engine/engine.h"
#include "hosts/resolve.h"

namespace berth::cli {
namespace {

std::string bytesText(std::int64_t bytes) {
  constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
  constexpr double kMiB = 1024.0 * 1024.0;
  if (bytes >= 1024LL * 1024 * 1024) return fmt::format("{:.1f} GiB", static_cast<double>(bytes) / kGiB);
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / kMiB);
}

std::string orUnknown(const std::string& s) { return s.empty() ? "unknown" : s; }

int runInfo(const GlobalOptions& global) {
  auto engine = selectedEngine(global);
  if (!engine) {
    std::cerr << "berth: " << engine.error().message() << "\n";
    return 1;
  }
  auto info = (*engine)->info();
  if (!info) {
    std::cerr << "berth: " << info.error().message() << "\n";
    return 1;
  }
  auto api = (*engine)->apiVersion();
  const engine::EngineInfo& i = *info;
  std::string cgroup = orUnknown(i.cgroupDriver);
  if (!i.cgroupVersion.empty()) cgroup += ", v" + i.cgroupVersion;
  std::cout << fmt::format(
      "Engine:            {}\n"
      " Name:             {}\n"
      " Server version:   {}\n"
      " API version:      {}\n"
      " Operating system: {}\n"
      " OS/Arch:          {}/{}\n"
      " Kernel:           {}\n"
      " Containers:       {} ({} running, {} paused, {} stopped)\n"
      " Images:           {}\n"
      " Storage driver:   {}\n"
      " Logging driver:   {}\n"
      " Cgroup:           {}\n"
      " CPUs:             {}\n"
      " Memory:           {}\n"
      " Root directory:   {}\n",
      (*engine)->address(), orUnknown(i.name), orUnknown(i.serverVersion),
      api ? api->toString() + " (negotiated)" : std::string("unknown"), orUnknown(i.operatingSystem),
      orUnknown(i.osType), orUnknown(i.architecture), orUnknown(i.kernelVersion), i.containers,
      i.containersRunning, i.containersPaused, i.containersStopped, i.images, orUnknown(i.storageDriver),
      orUnknown(i.loggingDriver), cgroup, i.ncpu, bytesText(i.memTotal), orUnknown(i.dockerRootDir));
  for (const auto& w : i.warnings) std::cout << " Warning: " << w << "\n";
  return 0;
}

}  // namespace

Result<std::unique_ptr<engine::Engine>> selectedEngine(const GlobalOptions& global) {
  // A registered host's name (src/hosts) or an engine URL.
  BERTH_ASSIGN_OR_RETURN(const hosts::ResolvedEngine resolved,
                         hosts::resolveEngine(global.host, engine::processEnvironment()));
  for (const std::string& warning : resolved.warnings) std::cerr << "berth: warning: " << warning << "\n";
  if (resolved.hostName) {
    // A fleet host that went away should cost seconds, not the default connect timeout.
    engine::EngineOptions options;
    options.connectTimeout = std::chrono::seconds(5);
    return engine::makeEngine(resolved.endpoint, options);
  }
  return engine::makeEngine(resolved.endpoint);
}

void registerEngineCommand(CLI::App& app, CommandContext& context) {
  CLI::App* engineCmd = app.add_subcommand("engine", "Inspect the Docker engine berth talks to");
  engineCmd->require_subcommand(1);
  CLI::App* info = engineCmd->add_subcommand(
      "info", "Show the engine's name, version, OS, resources and containers (-H, DOCKER_HOST)");
  info->callback([&context] { context.exitCode = runInfo(context.global); });
}

}  // namespace berth::cli
