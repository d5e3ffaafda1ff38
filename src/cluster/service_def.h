// ServiceDef: what the controller needs to know about one version of a service's compose definition
// — how many tasks, where they may run, when a dead one is restarted, how an update rolls out — read
// once from the compose model so that the scheduler and reconciler work on small plain values.
//
// Defaults follow the compose specification (and Swarm where compose leaves them open):
//   deploy.mode replicated, replicas 1 (`scale:` counts too);
//   restart_policy: condition any, delay 0, max_attempts unlimited, window 0 (every failure counts);
//   update_config / rollback_config: parallelism 1, delay 0, order stop-first, failure_action pause
//   (rollback_config: pause), monitor 5s, max_failure_ratio 0.
//
// Pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "base/result.h"
#include "cluster/scheduler.h"
#include "spec/model.h"

namespace berth::cluster {

enum class RestartCondition { Any, OnFailure, None };
enum class FailureAction { Pause, Rollback, Continue };

struct RestartRule {
  RestartCondition condition = RestartCondition::Any;
  std::chrono::milliseconds delay{0};
  std::optional<int> maxAttempts{};
  std::chrono::milliseconds window{0};
};

struct RolloutRule {
  int parallelism = 1;  // 0: all at once
  std::chrono::milliseconds delay{0};
  bool startFirst = false;
  FailureAction failureAction = FailureAction::Pause;
  std::chrono::milliseconds monitor{5000};
  double maxFailureRatio = 0;
};

// A port the mesh's ingress publishes on every host (docs/network.md).
struct IngressPort {
  int published = 0;
  int target = 0;
  friend bool operator==(const IngressPort&, const IngressPort&) = default;
};

// A route of the mesh's HTTP ingress (`x-berth-ingress`): requests for `host` (any host when
// empty) whose path starts with `path` go to the service's `port`.
struct HttpRoute {
  std::string host{};
  std::string path = "/";
  int port = 80;
  friend bool operator==(const HttpRoute&, const HttpRoute&) = default;
};

struct ServiceDef {
  std::string stack{};
  std::string name{};
  std::int64_t generation = 0;
  std::string configHash{};  // spec::serviceConfigHash: equal hashes need no new containers
  std::string image{};       // the reference its containers run
  bool global = false;
  int replicas = 1;
  PlacementSpec placement{};
  RestartRule restart{};
  RolloutRule update{};
  RolloutRule rollback{};
  bool healthcheck = false;  // its containers report health: "running" waits for healthy
  // Mounts a named local volume: its tasks stay on the host that holds the data.
  bool volumeBound = false;
  std::chrono::seconds stopGrace{10};
  // Published ports as "8080->80/tcp" (a published range or an unpublished port as the engine
  // would show it), for listings.
  std::vector<std::string> ports{};
  // With the mesh: its `mode: ingress` ports (the default), which no container publishes itself.
  std::vector<IngressPort> ingress{};
  // With the mesh: `x-berth-ingress`, HTTP routes by host name and path prefix.
  std::vector<HttpRoute> http{};
  // The service as rendered in the stack's canonical YAML, for `service inspect`.
  std::string definition{};
};

// (stack, service, generation) → definition.
using DefKey = std::tuple<std::string, std::string, std::int64_t>;
using DefCatalog = std::map<DefKey, ServiceDef>;

// Reads the definition of `service` in `project` (stack version `generation`). Errors
// (InvalidArgument, naming the service and the attribute) for what the controller cannot honour: a
// bad placement constraint, an unknown restart condition, failure action or update order, a
// replicated-job or global-job mode, container_name with more than one replica.
// `mesh`: the controller runs the mesh, whose ingress takes `mode: ingress` ports (errors for a UDP
// or ranged one, which the ingress cannot carry: `mode: host` publishes those) and `x-berth-ingress`
// routes ({host, path, port} or a list of them; errors name the service and the key). Without the
// mesh, `x-berth-ingress` is an error: nothing would serve it.
Result<ServiceDef> serviceDef(const spec::Project& project, const spec::Service& service,
                              std::int64_t generation, bool mesh = false);

}  // namespace berth::cluster
