#include "harness/volume_probe.h"

#include <fmt/core.h>

#include <chrono>

#include "harness/busybox_image.h"
#include "harness/names.h"

namespace berth::testing {

const char* const kVolumeManifestScript =
    "cd /data && find . | sort | while read -r p; do "
    "s=$(stat -c '%F %a %u:%g %s' \"$p\"); "
    "if [ -L \"$p\" ]; then echo \"$p $s -> $(readlink \"$p\")\"; "
    "elif [ -f \"$p\" ]; then echo \"$p $s $(stat -c '%h links, mtime %Y' \"$p\") $(sha256sum < \"$p\" | cut -c1-64)\"; "
    "else echo \"$p $s\"; fi; done";

Result<std::string> runInVolume(engine::Engine& engine, const std::string& volume, const std::string& script) {
  engine::ContainerCreate spec;
  spec.name = uniqueName("probe");
  spec.config.image = kBusyboxImage;
  spec.config.cmd = std::vector<std::string>{"sh", "-c", script};
  engine::Mount m;
  m.type = engine::MountType::Volume;
  m.source = volume;
  m.target = "/data";
  spec.hostConfig.mounts.push_back(m);
  BERTH_ASSIGN_OR_RETURN(auto created, engine.createContainer(spec));
  std::string out;
  auto finished = [&]() -> Result<engine::WaitResult> {
    BERTH_TRY(engine.startContainer(created.id));
    BERTH_ASSIGN_OR_RETURN(auto waited, engine.waitContainer(created.id, engine::WaitCondition::NotRunning,
                                                             std::chrono::seconds(120)));
    BERTH_TRY(engine.containerLogs(created.id, {}, [&](engine::OutputStream, std::string_view d) { out += d; }, {}));
    return waited;
  }();
  (void)engine.removeContainer(created.id, {.force = true, .volumes = false});
  if (!finished) return fail(finished.error());
  if (finished->statusCode != 0) {
    return fail(ErrorCode::Internal, fmt::format("the script in volume {} exited {}: {}", volume,
                                                 finished->statusCode, out));
  }
  return out;
}

}  // namespace berth::testing
