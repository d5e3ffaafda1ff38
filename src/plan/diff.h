// plan::diff and friends: pure functions from the compose model and an observation to a Plan.
//
// diff (what `up` and `create` do):
//   - networks and volumes the services use and the engine lacks are created;
//   - images: services with `build:` are built when their image is missing (or always with
//     BuildPolicy::Always, never with Never); other images are pulled when missing, or always with
//     pull_policy: always; pull_policy: never with a missing image is an error naming the service;
//   - containers: `{project}-{service}-{n}` for n = 1..replicas; an existing container is recreated
//     only when its config-hash label differs from spec::serviceConfigHash, its image is not the
//     image the reference now names, or a service whose namespace it shares (network_mode
//     service:X, ipc, pid, volumes_from) gets a new container; a stopped one is started; scale down
//     removes the highest numbers first; recreation re-attaches the old container's anonymous
//     volumes; containers of services no longer in the file are orphans (removed with
//     removeOrphans, else a warning);
//   - order: networks, volumes and images before the containers that use them; a service's
//     containers after its dependencies' (started), after a wait for their condition
//     (service_healthy, service_completed_successfully); dependants with depends_on restart: true are
//     restarted when a dependency is replaced.
// A second diff against what the first plan produced is empty.
//
// The stop/start/... planners select the project's containers (optionally of some services) and
// order them: starts in dependency order, stops and removals dependants first.
//
// Pure: no I/O, no clock. Errors: InvalidArgument (unknown service, scale with container_name,
// unusable attribute), NotFound (an image that may not be pulled).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "plan/observed.h"
#include "plan/plan.h"
#include "spec/model.h"

namespace berth::plan {

enum class RecreatePolicy { Diverged, Force, Never };  // default, --force-recreate, --no-recreate

// berthd's convergence of one host: exactly these containers of a service, by number, each with
// labels of its own (the task it belongs to). A container is kept while its labels match, whatever
// its configuration (a rolling update replaces tasks, and so containers, one by one); a container
// whose labels differ is replaced, one whose number is not listed is removed.
struct Slot {
  int number = 0;
  engine::Labels labels{};
  bool start = true;        // start the container when it exists but does not run
  bool startFirst = false;  // replace with the new container running (healthy) before the old stops
  friend bool operator==(const Slot&, const Slot&) = default;
};
enum class BuildPolicy { Missing, Always, Never };     // default, --build, --no-build

struct UpOptions {
  // Only these services (and their dependencies unless noDeps); empty: every enabled service.
  std::vector<std::string> services{};
  bool noDeps = false;
  RecreatePolicy recreate = RecreatePolicy::Diverged;
  bool removeOrphans = false;
  bool noStart = false;
  std::map<std::string, int> scale{};  // --scale SERVICE=N, over scale/deploy.replicas
  BuildPolicy build = BuildPolicy::Missing;
  // --pull: "always", "missing", "never" or "build" instead of each service's pull_policy.
  std::string pull{};
  // Wait for every started container to be running (healthy when it has a healthcheck).
  bool wait = false;
  std::optional<int> timeout{};  // stop grace (seconds) when recreating
  std::string version{};         // com.docker.compose.version
  // When a service is listed here, its containers are exactly these slots (see Slot); services not
  // listed keep compose's numbering 1..replicas. `slots` with an empty list removes the service's
  // containers from this engine.
  std::map<std::string, std::vector<Slot>> slots{};
  // Do not order containers after, or wait for, their depends_on (the controller spreads a stack
  // over hosts; a dependency may run elsewhere).
  bool ignoreDependsOn = false;
  // Give containers their service's name as a network alias (compose does). The controller's mesh
  // answers service names itself, with every host's replicas; the engine's alias would answer with
  // the local ones only.
  bool serviceAliases = true;
};

Result<Plan> diff(const spec::Project& project, const Observed& observed, const UpOptions& options);

// Only the image actions diff would plan (builds and pulls): `up` runs them first, observes the
// images again and then diffs, so that a rebuilt image recreates exactly the containers it changed.
Result<Plan> imagePlan(const spec::Project& project, const Observed& observed, const UpOptions& options);

// Only the networks and volumes the services (not their dependencies) need and the engine lacks:
// `run --no-deps` creates these before its one-off container.
Result<Plan> resourcePlan(const spec::Project& project, const Observed& observed,
                          const std::vector<std::string>& services, const std::string& version);

enum class RemoveImages { None, Local, All };  // down --rmi

struct DownOptions {
  bool removeVolumes = false;  // -v: named volumes of the project and anonymous volumes
  RemoveImages removeImages = RemoveImages::None;
  bool removeOrphans = false;
  std::optional<int> timeout{};
};

// Everything of the project goes: containers (dependants first), one-off containers, networks, and
// with the options volumes and images. A project without services (no compose file) means every
// object carrying the project label.
Plan planDown(const spec::Project& project, const Observed& observed, const DownOptions& options);

// The containers the simple lifecycle commands act on, selected by service (empty: all services of
// the project). Errors: InvalidArgument for a service the project does not have.
struct Selection {
  std::vector<std::string> services{};
  bool includeOneOff = false;
};

// Stopped containers, dependencies first, waiting for depends_on conditions.
Result<Plan> planStart(const spec::Project& project, const Observed& observed, const Selection& selection);
// Running containers, dependants first.
Result<Plan> planStop(const spec::Project& project, const Observed& observed, const Selection& selection,
                      std::optional<int> timeout);
// Every container, dependencies first.
Result<Plan> planRestart(const spec::Project& project, const Observed& observed, const Selection& selection,
                         std::optional<int> timeout);
Result<Plan> planKill(const spec::Project& project, const Observed& observed, const Selection& selection,
                      const std::string& signal);
Result<Plan> planPause(const spec::Project& project, const Observed& observed, const Selection& selection);
Result<Plan> planUnpause(const spec::Project& project, const Observed& observed, const Selection& selection);
// Stopped containers (running ones too, stopped first, with stopFirst), dependants first.
Result<Plan> planRemove(const spec::Project& project, const Observed& observed, const Selection& selection,
                        bool stopFirst, bool removeVolumes);

// The services in dependency order (dependencies first; ties by name). Errors on a cycle.
Result<std::vector<std::string>> dependencyOrder(const spec::Project& project);

}  // namespace berth::plan
