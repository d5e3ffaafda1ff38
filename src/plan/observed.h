// Observed: what an engine has for one project, found by the com.docker.compose.project label — the
// second input of plan::diff. Built from the engine's list answers by observedFrom (pure), or by
// plan::observe (observe.h), which asks the engine.
//
// Plain values; copy freely.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/types.h"

namespace berth::plan {

struct ObservedContainer {
  std::string id{};
  std::string name{};
  std::string service{};     // com.docker.compose.service
  int number = 0;            // com.docker.compose.container-number (0 when absent or not a number)
  bool oneOff = false;       // com.docker.compose.oneoff=True (`run` containers)
  std::string configHash{};  // com.docker.compose.config-hash
  std::string image{};       // the image as the container was created with ("busybox:latest")
  std::string imageId{};     // "sha256:..."
  engine::ContainerStatus state = engine::ContainerStatus::Unknown;
  std::string status{};  // "Up 3 minutes (healthy)"
  std::string command{};
  std::int64_t created = 0;
  engine::Labels labels{};
  std::vector<engine::MountPoint> mounts{};
  std::vector<engine::PortSummary> ports{};
  std::vector<std::string> networks{};  // network names
  std::string networkMode{};            // "container:<ID>" when it shares another's namespace

  bool running() const;  // running, restarting or paused: "up" as compose counts it
};

struct ObservedNetwork {
  std::string id{};
  std::string name{};
  std::string driver{};
  bool internal = false;
  engine::Labels labels{};
};

struct ObservedVolume {
  std::string name{};
  std::string driver{};
  engine::Labels labels{};
};

struct ObservedImage {
  std::string id{};  // "sha256:..."
  std::vector<std::string> repoTags{};
  std::int64_t size = 0;
  std::int64_t created = 0;
};

struct Observed {
  std::string project{};
  // Sorted by (service, one-off last, number, name).
  std::vector<ObservedContainer> containers{};
  std::map<std::string, ObservedNetwork> networks{};  // by engine-side name
  std::map<std::string, ObservedVolume> volumes{};    // by engine-side name
  // Normalized reference ("busybox:latest") → image; only the references that were asked for.
  std::map<std::string, ObservedImage> images{};

  // The service's containers (one-offs excluded), ordered by number.
  std::vector<const ObservedContainer*> serviceContainers(std::string_view service) const;
  const ObservedImage* image(std::string_view reference) const;
};

// Builds the observation from list answers: containers of the project (by label), the project's
// networks and volumes, and images (kept for the references in `wantedImages`).
Observed observedFrom(std::string project, const std::vector<engine::ContainerSummary>& containers,
                      const std::vector<engine::Network>& networks,
                      const std::vector<engine::Volume>& volumes,
                      const std::vector<engine::ImageSummary>& images,
                      const std::vector<std::string>& wantedImages);

ObservedContainer observedContainer(const engine::ContainerSummary& summary);

}  // namespace berth::plan
