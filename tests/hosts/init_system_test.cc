#include "hosts/init_system.h"

#include <gtest/gtest.h>

namespace berth::hosts {
namespace {

InitProbe probe(bool booted, bool systemctl, bool initScript, bool service = true, bool dockerd = true) {
  return {.systemdBooted = booted,
          .systemctl = systemctl,
          .initScript = initScript,
          .service = service,
          .dockerd = dockerd};
}

TEST(InitSystemTest, SystemdOnlyWhenBootedWithIt) {
  EXPECT_EQ(*detectInitSystem(probe(true, true, false)), InitSystem::Systemd);
  EXPECT_EQ(*detectInitSystem(probe(true, true, true)), InitSystem::Systemd);
  // systemctl installed on a machine not booted with systemd (the test hosts): the init script.
  EXPECT_EQ(*detectInitSystem(probe(false, true, true)), InitSystem::SysV);
  EXPECT_EQ(*detectInitSystem(probe(false, false, true)), InitSystem::SysV);
}

TEST(InitSystemTest, ExplainsWhatIsMissing) {
  EXPECT_EQ(
      detectInitSystem(probe(false, true, false)).error().message(),
      "cannot tell how the host runs its engine: it was not booted with systemd (no /run/systemd/system) "
      "and has no /etc/init.d/docker");
  EXPECT_EQ(detectInitSystem(probe(true, false, true)).error().message(),
            "the host runs systemd (/run/systemd/system exists) but has no systemctl");
  EXPECT_EQ(
      detectInitSystem(probe(false, false, true, true, false)).error().message(),
      "the host has no dockerd on its PATH (install Docker Engine first, e.g. `apt-get install docker.io`)");
}

TEST(InitSystemTest, CommandsPerInitSystem) {
  EXPECT_EQ(restartEngineCommand(InitSystem::Systemd, probe(true, true, false)),
            "systemctl daemon-reload && systemctl restart docker.service");
  EXPECT_EQ(restartEngineCommand(InitSystem::SysV, probe(false, false, true, true)),
            "service docker restart");
  EXPECT_EQ(restartEngineCommand(InitSystem::SysV, probe(false, false, true, false)),
            "/etc/init.d/docker restart");
  EXPECT_EQ(engineStatusCommand(InitSystem::SysV, probe(false, false, true, true)), "service docker status");
  EXPECT_EQ(engineStatusCommand(InitSystem::Systemd, probe(true, true, false)),
            "systemctl is-active docker.service");
}

TEST(InitSystemTest, ParsesTheProbeScriptsOutput) {
  auto p = parseInitProbe("systemd-booted=no\nsystemctl=yes\ninit-script=yes\nservice=no\ndockerd=yes\n");
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_FALSE(p->systemdBooted);
  EXPECT_TRUE(p->systemctl);
  EXPECT_TRUE(p->initScript);
  EXPECT_FALSE(p->service);
  EXPECT_TRUE(p->dockerd);
  EXPECT_EQ(parseInitProbe("systemd-booted=maybe\n").error().message(),
            "unexpected probe output \"systemd-booted=maybe\"");
  EXPECT_EQ(parseInitProbe("systemd-booted=no\n").error().code(), ErrorCode::InvalidArgument);
  EXPECT_NE(initProbeScript().find("test -d /run/systemd/system"), std::string::npos);
}

}  // namespace
}  // namespace berth::hosts
