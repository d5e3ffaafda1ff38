// The berth command line: global options, one registration function per command family, and the
// error handling that turns parse failures into "did you mean" suggestions.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace berth::cli {

struct GlobalOptions;

// Each command family adds its subcommands to `app`. A command's callback returns the process exit
// code through `exitCode` (berth exits with it after parsing succeeds).
struct CommandContext {
  GlobalOptions& global;
  int& exitCode;
};
using CommandRegistrar = void (*)(CLI::App& app, CommandContext& context);

// Runs berth with argv; returns the process exit code. Never throws.
int run(int argc, char** argv);

// Version of this berth build, e.g. "0.1.0".
const char* clientVersion();

}  // namespace berth::cli
