// `berth host env`: the environment that points the docker CLI (and berth) at a host, printed for
// `eval` in the user's shell, and the form that undoes it.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::hosts {

enum class Shell { Bash, Fish, PowerShell, Cmd };
// "bash" (also "sh", "zsh"), "fish", "powershell" (also "pwsh"), "cmd".
std::optional<Shell> parseShell(std::string_view name);
// The shell named by $SHELL's base name, bash when unknown.
Shell shellFromEnvironment(const char* shellVariable);

// Names set (value) or unset (nullopt), in order.
using EnvAssignments = std::vector<std::pair<std::string, std::optional<std::string>>>;

// The assignments for `shell`, each value quoted so that any text survives, then a comment with the
// command that applies them (`usage`, e.g. "berth host env web-1").
std::string formatEnv(Shell shell, const EnvAssignments& vars, std::string_view usage);

// Quoting used by formatEnv, one per shell.
std::string quoteForShell(Shell shell, std::string_view value);

}  // namespace berth::hosts
