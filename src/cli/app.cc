#include "cli/app.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "base/log.h"
#include "base/strings.h"
#include "cli/commands.h"
#include "cli/global_options.h"

namespace berth::cli {
namespace {

constexpr CommandRegistrar kCommandFamilies[] = {
    registerVersionCommand, registerCaCommand,     registerEngineCommand,     registerConfigCommand,
    registerUpCommand,      registerDownCommand,   registerPsCommand,         registerLogsCommand,
    registerExecCommand,    registerRunCommand,    registerLifecycleCommands, registerInspectCommands,
    registerEventsCommand,  registerImageCommands, registerHostCommand, registerStackCommands,
    registerServiceCommands, registerImagePushCommand, registerVolumeCommands, registerGatewayCommand, registerSshCommands, registerSystemdCommands,
};

std::vector<std::string> subcommandNames(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    names.push_back(sub->get_name());
  }
  return names;
}

std::vector<std::string> optionNames(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* a = &app; a != nullptr; a = a->get_parent()) {
    for (const CLI::Option* opt : a->get_options()) {
      for (const auto& l : opt->get_lnames()) names.push_back("--" + l);
    }
  }
  return names;
}

// The deepest subcommand that was selected on the command line.
const CLI::App& selectedCommand(const CLI::App& app) {
  for (const CLI::App* sub : app.get_subcommands()) return selectedCommand(*sub);
  return app;
}

std::string commandPath(const CLI::App& app) {
  std::string path = app.get_name();
  for (const CLI::App* p = app.get_parent(); p != nullptr; p = p->get_parent()) {
    path = p->get_name() + " " + path;
  }
  return path;
}

// Explains an argument CLI11 could not place, suggesting the nearest command or flag.
void reportUnexpected(const CLI::App& root, const std::vector<std::string>& extras) {
  const CLI::App& cmd = selectedCommand(root);
  if (extras.empty()) {
    std::cerr << "berth: unexpected arguments for '" << commandPath(cmd) << "'\n";
    return;
  }
  const std::string& word = extras.front();
  if (startsWith(word, "-")) {
    const std::string flag = word.substr(0, word.find('='));
    std::cerr << "berth: unknown flag " << flag << " for '" << commandPath(cmd) << "'";
    if (auto m = nearestMatch(flag, optionNames(cmd))) std::cerr << "; did you mean " << *m << "?";
    std::cerr << "\nRun '" << commandPath(cmd) << " --help' for usage.\n";
    return;
  }
  const auto subs = subcommandNames(cmd);
  if (!subs.empty()) {
    std::cerr << "berth: unknown command " << quoted(word) << " for '" << commandPath(cmd) << "'";
    if (auto m = nearestMatch(word, subs)) std::cerr << "; did you mean " << quoted(*m) << "?";
    std::cerr << "\nRun '" << commandPath(cmd) << " --help' for the list of commands.\n";
    return;
  }
  std::cerr << "berth: unexpected argument " << quoted(word) << " for '" << commandPath(cmd) << "'\nRun '"
            << commandPath(cmd) << " --help' for usage.\n";
}

}  // namespace

const char* clientVersion() { return BERTH_VERSION; }

int run(int argc, char** argv) {
  GlobalOptions global;
  int exitCode = 0;
  CommandContext context{global, exitCode};

  CLI::App app("berth — run compose files on one Docker engine or a fleet of hosts", "berth");
  app.require_subcommand(1);
  app.allow_extras(false);
  app.set_version_flag("--version", std::string("berth version ") + clientVersion());
  app.add_option("-f,--file", global.files, "Compose configuration files (repeatable)")->type_name("FILE");
  app.add_option("-p,--project-name", global.projectName, "Project name")->type_name("NAME");
  app.add_option("--project-directory", global.projectDirectory,
                 "Alternate working directory (default: the first file's directory)")
      ->type_name("DIR");
  app.add_option("--env-file", global.envFiles, "Environment files (repeatable)")->type_name("FILE");
  app.add_option("--profile", global.profiles, "Profiles to enable (repeatable)")->type_name("NAME");
  app.add_option("-H,--host", global.host, "Engine to use: a registered host name or an engine URL")
      ->type_name("HOST")
      ->envname("BERTH_HOST");
  app.add_option("--controller", global.controller,
                 "The controller (berthd) for stack, service and host commands: unix:///PATH.sock or "
                 "tcp://ADDR:PORT (default: BERTH_CONTROLLER)")
      ->type_name("URL");
  app.add_option("--progress", global.progress, "Progress output: auto, tty, plain, json, quiet")
      ->type_name("MODE")
      ->check(CLI::IsMember({"auto", "tty", "plain", "json", "quiet"}))
      ->capture_default_str();
  app.add_option("--log-level", global.logLevel, "Log level: debug, info, warn, error")
      ->type_name("LEVEL")
      ->capture_default_str();

  for (const CommandRegistrar registrar : kCommandFamilies) registrar(app, context);

  // Subcommands keep unknown arguments so that we can explain them ourselves below.
  for (CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    sub->allow_extras(false);
  }
  app.parse_complete_callback([&] {
    const auto level = log::parseLevel(global.logLevel);
    if (!level) throw CLI::ValidationError("--log-level", "must be one of debug, info, warn, error");
    log::setLevel(*level);
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ExtrasError&) {
    reportUnexpected(app, app.remaining(true));
    return 2;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::RequiredError& e) {
    if (!app.remaining(true).empty()) {
      reportUnexpected(app, app.remaining(true));
      return 2;
    }
    if (app.get_subcommands().empty()) {
      std::cerr << app.help();
      std::cerr << "berth: a command is required\n";
      return 2;
    }
    std::cerr << "berth: " << e.what() << "\n";
    return 2;
  } catch (const CLI::ParseError& e) {
    std::cerr << "berth: " << e.what() << "\nRun '" << commandPath(selectedCommand(app))
              << " --help' for usage.\n";
    return 2;
  }
  return exitCode;
}

}  // namespace berth::cli
