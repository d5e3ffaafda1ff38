#include "plan/observe.h"

#include <future>
#include <thread>

#include "engine/image_reference.h"
#include "plan/labels.h"

namespace berth::plan {
namespace {

engine::Filters projectFilter(const std::string& project) {
  return {{"label", {std::string(labels::kProject) + "=" + project}}};
}

}  // namespace

Result<std::map<std::string, ObservedImage>> observeImages(engine::Engine& engine,
                                                           const std::vector<std::string>& references) {
  if (references.empty()) return std::map<std::string, ObservedImage>{};
  engine::ListImagesOptions o;
  for (const std::string& r : references) {
    o.filters["reference"].push_back(engine::normalizeImageReference(r));
  }
  BERTH_ASSIGN_OR_RETURN(const auto images, engine.listImages(o));
  return observedFrom("", {}, {}, {}, images, references).images;
}

Result<Observed> observe(engine::Engine& engine, const std::string& project, const ObserveOptions& options) {
  // The calls are independent: run them side by side (each on its own connection), the containers
  // on this thread.
  Result<std::vector<engine::Network>> networks = std::vector<engine::Network>{};
  Result<std::vector<engine::Volume>> volumes = std::vector<engine::Volume>{};
  Result<std::map<std::string, ObservedImage>> images = std::map<std::string, ObservedImage>{};
  Result<std::vector<engine::ContainerSummary>> containers = std::vector<engine::ContainerSummary>{};
  {
    std::vector<std::jthread> calls;
    if (options.networks) calls.emplace_back([&] { networks = engine.listNetworks(projectFilter(project)); });
    if (options.volumes) calls.emplace_back([&] { volumes = engine.listVolumes(projectFilter(project)); });
    if (!options.images.empty()) calls.emplace_back([&] { images = observeImages(engine, options.images); });
    if (options.containers) {
      engine::ListContainersOptions o;
      o.all = options.stoppedContainers;
      o.filters = projectFilter(project);
      containers = engine.listContainers(o);
    }
  }
  if (!containers) return fail(containers.error());
  if (!networks) return fail(networks.error());
  if (!volumes) return fail(volumes.error());
  if (!images) return fail(images.error());
  Observed o = observedFrom(project, *containers, *networks, *volumes, {}, {});
  o.images = std::move(*images);
  return o;
}

}  // namespace berth::plan
