// plan::observe: asks one engine what it has for a project — one filtered list call per kind of
// object (containers, networks, volumes by the com.docker.compose.project label; images by
// reference), issued concurrently — and returns the Observed that plan::diff compares with the model.
//
// Blocks for the slowest of the calls. Errors are the engine's (Unavailable when it cannot be
// reached, ...), with what was being listed.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "engine/engine.h"
#include "plan/observed.h"

namespace berth::plan {

struct ObserveOptions {
  bool containers = true;
  bool stoppedContainers = true;  // list stopped containers too (all=1)
  bool networks = true;
  bool volumes = true;
  std::vector<std::string> images{};  // references to look up; none: no image call
};

Result<Observed> observe(engine::Engine& engine, const std::string& project,
                         const ObserveOptions& options = {});

// Only the images (after a build or pull, before diffing again).
Result<std::map<std::string, ObservedImage>> observeImages(engine::Engine& engine,
                                                           const std::vector<std::string>& references);

}  // namespace berth::plan
