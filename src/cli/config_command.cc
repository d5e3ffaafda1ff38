// `berth config`: loads the compose files the way every berth command will (spec::loadProject) and
// prints the resolved, canonical model — YAML by default, JSON with --format json — or one of the
// listings (--services, --volumes, --networks, --profiles, --images, --hash). -q only validates.
// The flags mirror `docker compose config`.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "base/log.h"
#include "base/strings.h"
#include "cli/commands.h"
#include "cli/global_options.h"
#include "cli/project.h"
#include "spec/hash.h"
#include "spec/loader.h"
#include "spec/render.h"

namespace berth::cli {
namespace {

struct ConfigOptions {
  std::string format = "yaml";
  bool services = false;
  bool volumes = false;
  bool networks = false;
  bool profiles = false;
  bool images = false;
  std::optional<std::string> hash;
  bool quiet = false;
  bool noInterpolate = false;
  bool noNormalize = false;
  bool noPathResolution = false;
  bool noConsistency = false;
  bool noEnvResolution = false;
  std::string output;
  std::vector<std::string> selected;
};

std::string lines(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += i + "\n";
  return out;
}

// The printed text for the options, or an error.
Result<std::string> render(const ConfigOptions& o, const spec::Project& project) {
  if (o.services) {
    std::vector<std::string> names;
    for (const auto& [name, s] : project.services) names.push_back(name);
    return lines(names);
  }
  if (o.volumes) {
    std::vector<std::string> names;
    for (const auto& [name, v] : project.volumes) names.push_back(name);
    return lines(names);
  }
  if (o.networks) {
    std::vector<std::string> names;
    for (const auto& [name, n] : project.networks) names.push_back(name);
    return lines(names);
  }
  if (o.profiles) {
    std::set<std::string> all;
    for (const auto* services : {&project.services, &project.disabledServices}) {
      for (const auto& [name, s] : *services) all.insert(s.profiles.begin(), s.profiles.end());
    }
    return lines(std::vector<std::string>(all.begin(), all.end()));
  }
  if (o.images) {
    std::vector<std::string> images;
    for (const auto& [name, s] : project.services) {
      images.push_back(s.image.empty() ? project.name + "-" + name : s.image);
    }
    return lines(images);
  }
  if (o.hash) {
    std::vector<std::string> wanted;
    if (*o.hash != "*") {
      for (const std::string& name : split(*o.hash, ',')) {
        const std::string t(trim(name));
        if (project.services.count(t) == 0) return fail(ErrorCode::NotFound, "no such service: " + t);
        wanted.push_back(t);
      }
    } else {
      for (const auto& [name, s] : project.services) wanted.push_back(name);
    }
    std::string out;
    for (const std::string& name : wanted) {
      out += name + " " + spec::serviceConfigHash(project, project.services.at(name)) + "\n";
    }
    return out;
  }
  if (o.format == "json") return spec::renderJson(project);
  return spec::renderYaml(project);
}

int run(const GlobalOptions& global, const ConfigOptions& o) {
  auto loadOptions = projectOptions(global);
  if (!loadOptions) return reportError(loadOptions.error());
  spec::ProjectOptions& options = *loadOptions;
  options.load.interpolate = !o.noInterpolate;
  options.load.normalize = !o.noNormalize;
  options.load.resolvePaths = !o.noPathResolution;
  options.load.consistency = !o.noConsistency;
  options.load.resolveEnvironment = !o.noEnvResolution;
  options.load.discardEnvFiles = true;  // as `docker compose config` prints it
  options.load.selectedServices = o.selected;

  auto project = spec::loadProject(options);
  if (!project) {
    std::cerr << "berth: " << project.error().message() << "\n";
    return 1;
  }
  for (const std::string& w : project->warnings) log::warn("{}", w);
  if (o.quiet) return 0;
  auto text = render(o, *project);
  if (!text) {
    std::cerr << "berth: " << text.error().message() << "\n";
    return 1;
  }
  if (!o.output.empty()) {
    std::ofstream out(o.output, std::ios::binary | std::ios::trunc);
    out << *text;
    if (!out) {
      std::cerr << "berth: write " << o.output << ": failed\n";
      return 1;
    }
    return 0;
  }
  std::cout << *text;
  return 0;
}

}  // namespace

void registerConfigCommand(CLI::App& app, CommandContext& context) {
  auto options = std::make_shared<ConfigOptions>();
  CLI::App* cmd =
      app.add_subcommand("config", "Parse, resolve and render the compose files in canonical format");
  cmd->add_option("--format", options->format, "Output format: yaml or json")
      ->check(CLI::IsMember({"yaml", "json"}))
      ->capture_default_str();
  cmd->add_flag("--services", options->services, "Print the service names, one per line");
  cmd->add_flag("--volumes", options->volumes, "Print the volume names, one per line");
  cmd->add_flag("--networks", options->networks, "Print the network names, one per line");
  cmd->add_flag("--profiles", options->profiles, "Print the profile names, one per line");
  cmd->add_flag("--images", options->images, "Print the image names, one per line");
  cmd->add_option("--hash", options->hash,
                  "Print the configuration hash of services: \"*\" for all or a comma-separated list")
      ->type_name("SERVICES");
  cmd->add_flag("-q,--quiet", options->quiet, "Only validate the configuration, print nothing");
  cmd->add_flag("--no-interpolate", options->noInterpolate, "Don't interpolate environment variables");
  cmd->add_flag("--no-normalize", options->noNormalize, "Don't normalize the compose model");
  cmd->add_flag("--no-path-resolution", options->noPathResolution, "Don't resolve file paths");
  cmd->add_flag("--no-consistency", options->noConsistency,
                "Don't check model consistency (warning: may produce invalid compose output)");
  cmd->add_flag("--no-env-resolution", options->noEnvResolution, "Don't resolve service env files");
  cmd->add_option("-o,--output", options->output, "Save to this file instead of printing")->type_name("FILE");
  cmd->add_option("services", options->selected, "Only these services (and their dependencies)")
      ->type_name("SERVICE");
  // Global options (-f, -p, --profile, --env-file...) may also follow the command, as with compose.
  cmd->fallthrough();
  cmd->callback([&context, options] { context.exitCode = run(context.global, *options); });
}

}  // namespace berth::cli
