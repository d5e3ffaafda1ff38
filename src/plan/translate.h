// Translation of the compose model into engine requests: a service replica into a container, a
// top-level network or volume into its engine object, a `build:` section into build options. This is
// where compose semantics meet the Engine API (names, labels, aliases, mounts, resources), so every
// rule about what a container looks like lives here and nowhere else.
//
// Names: containers `{project}-{service}-{n}` (or container_name), one-off containers
// `{project}-{service}-run-{id}`, networks and volumes `{project}_{key}` (spec normalization sets
// them), images of services without `image:` `{project}-{service}`.
//
// Pure functions: no I/O. Errors (InvalidArgument) name the service and the attribute an engine
// cannot honour.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "engine/types.h"
#include "spec/model.h"

namespace berth::plan {

// A file placed into a container after it is created and before it starts (secrets and configs
// with inline or environment content).
struct InjectedFile {
  std::string path{};  // absolute, in the container
  std::string content{};
  std::uint32_t mode = 0444;
  friend bool operator==(const InjectedFile&, const InjectedFile&) = default;
};

// The files as a tar to extract at "/" (parent directories included).
std::string filesArchive(const std::vector<InjectedFile>& files);

// Everything needed to make one container: the create request (with the first network), the other
// networks to connect before it starts, and files to copy in.
struct ContainerSpec {
  engine::ContainerCreate create{};
  std::vector<std::pair<std::string, engine::EndpointSettings>> connect{};
  std::vector<InjectedFile> files{};
};

struct TranslateOptions {
  std::string version{};  // com.docker.compose.version
  std::string imageId{};  // com.docker.compose.image, when known
  // One-off (`run`) container: oneoff=True, no service alias on networks, the slug label.
  bool oneOff = false;
  std::string slug{};
  // The service's name as a network alias (UpOptions::serviceAliases).
  bool serviceAliases = true;
  // Anonymous volumes of a container being replaced: mount target → volume name. They are mounted
  // at the same targets so that recreation keeps their data.
  std::map<std::string, std::string> inheritedVolumes{};
};

std::string containerName(const spec::Project& project, const spec::Service& service, int number);
std::string oneOffContainerName(const spec::Project& project, const spec::Service& service,
                                const std::string& slug);
// The image the service's containers run: `image:`, else `{project}-{service}`.
std::string serviceImage(const spec::Project& project, const spec::Service& service);
// Services a container of `service` needs before it can be created: depends_on plus the services
// named by network_mode/ipc/pid/uts/cgroup "service:X" and volumes_from.
std::vector<std::string> serviceDependencies(const spec::Service& service);
// The services whose first container `service` shares a namespace with or takes volumes from (a
// container of these that is replaced forces `service`'s containers to be replaced too).
std::vector<std::string> namespaceDependencies(const spec::Service& service);

Result<ContainerSpec> containerSpec(const spec::Project& project, const spec::Service& service, int number,
                                    const TranslateOptions& options);
engine::NetworkCreate networkSpec(const spec::Project& project, const std::string& key,
                                  const spec::Network& network, const std::string& version);
engine::VolumeCreate volumeSpec(const spec::Project& project, const std::string& key,
                                const spec::Volume& volume, const std::string& version);

// How to build the service's image: the context directory (absolute), the Dockerfile's path (relative
// to the context, or absolute when outside it), inline Dockerfile text, and the engine's options.
struct ImageBuild {
  std::string service{};
  std::string image{};    // the tag the containers use
  std::string context{};  // directory
  std::string dockerfile{};
  std::string dockerfileInline{};
  engine::BuildOptions options{};
  friend bool operator==(const ImageBuild& a, const ImageBuild& b) {
    return a.service == b.service && a.image == b.image && a.context == b.context &&
           a.dockerfile == b.dockerfile && a.dockerfileInline == b.dockerfileInline;
  }
};
Result<ImageBuild> imageBuild(const spec::Project& project, const spec::Service& service);

}  // namespace berth::plan
