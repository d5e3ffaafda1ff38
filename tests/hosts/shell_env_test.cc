#include "hosts/shell_env.h"

#include <gtest/gtest.h>

namespace berth::hosts {
namespace {

const EnvAssignments kVars{{"DOCKER_HOST", "tcp://10.0.0.2:2376"},
                           {"DOCKER_TLS_VERIFY", "1"},
                           {"DOCKER_CERT_PATH", "/home/al/.config/berth/hosts/web-1/client"}};
const EnvAssignments kUnset{{"DOCKER_HOST", std::nullopt}, {"DOCKER_TLS_VERIFY", std::nullopt}};

TEST(ShellEnvTest, Bash) {
  EXPECT_EQ(formatEnv(Shell::Bash, kVars, "berth host env web-1"),
            "export DOCKER_HOST='tcp://10.0.0.2:2376'\n"
            "export DOCKER_TLS_VERIFY='1'\n"
            "export DOCKER_CERT_PATH='/home/al/.config/berth/hosts/web-1/client'\n"
            "# Run this command to configure your shell:\n"
            "# eval \"$(berth host env web-1)\"\n");
  EXPECT_EQ(formatEnv(Shell::Bash, kUnset, "berth host env --unset"),
            "unset DOCKER_HOST\nunset DOCKER_TLS_VERIFY\n"
            "# Run this command to configure your shell:\n# eval \"$(berth host env --unset)\"\n");
}

TEST(ShellEnvTest, Fish) {
  EXPECT_EQ(formatEnv(Shell::Fish, kVars, "berth host env web-1 --shell fish"),
            "set -gx DOCKER_HOST 'tcp://10.0.0.2:2376';\n"
            "set -gx DOCKER_TLS_VERIFY '1';\n"
            "set -gx DOCKER_CERT_PATH '/home/al/.config/berth/hosts/web-1/client';\n"
            "# Run this command to configure your shell:\n"
            "# eval (berth host env web-1 --shell fish)\n");
  EXPECT_EQ(formatEnv(Shell::Fish, kUnset, "x"),
            "set -e DOCKER_HOST;\nset -e DOCKER_TLS_VERIFY;\n# Run this command to configure your shell:\n# "
            "eval (x)\n");
}

TEST(ShellEnvTest, PowerShell) {
  EXPECT_EQ(formatEnv(Shell::PowerShell, kVars, "berth host env web-1 --shell powershell"),
            "$Env:DOCKER_HOST = 'tcp://10.0.0.2:2376'\n"
            "$Env:DOCKER_TLS_VERIFY = '1'\n"
            "$Env:DOCKER_CERT_PATH = '/home/al/.config/berth/hosts/web-1/client'\n"
            "# Run this command to configure your shell:\n"
            "# & berth host env web-1 --shell powershell | Invoke-Expression\n");
  EXPECT_EQ(formatEnv(Shell::PowerShell, kUnset, "x"),
            "Remove-Item Env:\\DOCKER_HOST -ErrorAction SilentlyContinue\n"
            "Remove-Item Env:\\DOCKER_TLS_VERIFY -ErrorAction SilentlyContinue\n"
            "# Run this command to configure your shell:\n# & x | Invoke-Expression\n");
}

TEST(ShellEnvTest, Cmd) {
  EXPECT_EQ(formatEnv(Shell::Cmd, {{"DOCKER_HOST", "tcp://h:2376"}, {"X", std::nullopt}}, "berth host env h"),
            "SET DOCKER_HOST=tcp://h:2376\nSET X=\n"
            "REM Run this command to configure your shell:\n"
            "REM @FOR /f \"tokens=*\" %i IN ('berth host env h') DO @%i\n");
}

TEST(ShellEnvTest, QuotingSurvivesAnyText) {
  EXPECT_EQ(quoteForShell(Shell::Bash, "it's $HOME `x`"), "'it'\\''s $HOME `x`'");
  EXPECT_EQ(quoteForShell(Shell::Fish, "it's a\\b"), "'it\\'s a\\\\b'");
  EXPECT_EQ(quoteForShell(Shell::PowerShell, "it's"), "'it''s'");
}

TEST(ShellEnvTest, ShellNames) {
  EXPECT_EQ(parseShell("zsh"), Shell::Bash);
  EXPECT_EQ(parseShell("sh"), Shell::Bash);
  EXPECT_EQ(parseShell("FISH"), Shell::Fish);
  EXPECT_EQ(parseShell("pwsh"), Shell::PowerShell);
  EXPECT_EQ(parseShell("tcsh"), std::nullopt);
  EXPECT_EQ(shellFromEnvironment("/usr/bin/fish"), Shell::Fish);
  EXPECT_EQ(shellFromEnvironment("/bin/zsh"), Shell::Bash);
  EXPECT_EQ(shellFromEnvironment(nullptr), Shell::Bash);
  EXPECT_EQ(shellFromEnvironment("/bin/tcsh"), Shell::Bash);
}

}  // namespace
}  // namespace berth::hosts
