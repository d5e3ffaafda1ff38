#include "hosts/shell_env.h"

#include <fmt/core.h>

#include "base/strings.h"

namespace berth::hosts {

std::optional<Shell> parseShell(std::string_view name) {
  const std::string n = toLower(name);
  if (n == "bash" || n == "sh" || n == "zsh" || n == "dash" || n == "ksh") return Shell::Bash;
  if (n == "fish") return Shell::Fish;
  if (n == "powershell" || n == "pwsh") return Shell::PowerShell;
  if (n == "cmd") return Shell::Cmd;
  return std::nullopt;
}

Shell shellFromEnvironment(const char* shellVariable) {
  if (shellVariable == nullptr) return Shell::Bash;
  std::string_view s(shellVariable);
  if (const auto slash = s.rfind('/'); slash != std::string_view::npos) s = s.substr(slash + 1);
  return parseShell(s).value_or(Shell::Bash);
}

std::string quoteForShell(Shell shell, std::string_view value) {
  std::string out;
  switch (shell) {
    case Shell::Bash:
      // Single quotes keep everything literal; a quote itself ends, escapes and reopens.
      out = "'";
      for (const char c : value) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
      return out + "'";
    case Shell::Fish:
      out = "'";
      for (const char c : value) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
      }
      return out + "'";
    case Shell::PowerShell:
      out = "'";
      for (const char c : value) out += c == '\'' ? std::string("''") : std::string(1, c);
      return out + "'";
    case Shell::Cmd:
      return std::string(value);  // SET NAME=VALUE takes the rest of the line as it is
  }
  return std::string(value);
}

std::string formatEnv(Shell shell, const EnvAssignments& vars, std::string_view usage) {
  std::string out;
  for (const auto& [name, value] : vars) {
    switch (shell) {
      case Shell::Bash:
        out += value ? fmt::format("export {}={}\n", name, quoteForShell(shell, *value))
                     : fmt::format("unset {}\n", name);
        break;
      case Shell::Fish:
        out += value ? fmt::format("set -gx {} {};\n", name, quoteForShell(shell, *value))
                     : fmt::format("set -e {};\n", name);
        break;
      case Shell::PowerShell:
        out += value ? fmt::format("$Env:{} = {}\n", name, quoteForShell(shell, *value))
                     : fmt::format("Remove-Item Env:\\{} -ErrorAction SilentlyContinue\n", name);
        break;
      case Shell::Cmd:
        out += value ? fmt::format("SET {}={}\n", name, *value) : fmt::format("SET {}=\n", name);
        break;
    }
  }
  switch (shell) {
    case Shell::Bash:
      out += fmt::format("# Run this command to configure your shell:\n# eval \"$({})\"\n", usage);
      break;
    case Shell::Fish:
      out += fmt::format("# Run this command to configure your shell:\n# eval ({})\n", usage);
      break;
    case Shell::PowerShell:
      out += fmt::format("# Run this command to configure your shell:\n# & {} | Invoke-Expression\n", usage);
      break;
    case Shell::Cmd:
      out += fmt::format(
          "REM Run this command to configure your shell:\n"
          "REM @FOR /f \"tokens=*\" %i IN ('{}') DO @%i\n",
          usage);
      break;
  }
  return out;
}

}  // namespace berth::hosts
