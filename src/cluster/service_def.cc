#include "cluster/service_def.h"

#include <charconv>

#include <fmt/core.h>

#include "base/strings.h"
#include "plan/translate.h"
#include "spec/hash.h"
#include "spec/render.h"

namespace berth::cluster {
namespace {

std::chrono::milliseconds ms(const std::optional<spec::Duration>& d, std::chrono::milliseconds fallback) {
  if (!d) return fallback;
  return std::chrono::duration_cast<std::chrono::milliseconds>(*d);
}

Result<RolloutRule> rollout(const std::string& service, const char* key,
                            const std::optional<spec::UpdateConfig>& config) {
  RolloutRule r;
  if (!config) return r;
  const auto bad = [&](const std::string& what) {
    return fail(ErrorCode::InvalidArgument, fmt::format("service {}: deploy.{}: {}", service, key, what));
  };
  if (config->parallelism) r.parallelism = static_cast<int>(*config->parallelism);
  r.delay = ms(config->delay, r.delay);
  r.monitor = ms(config->monitor, r.monitor);
  r.maxFailureRatio = config->maxFailureRatio;
  if (config->order.empty() || config->order == "stop-first") {
    r.startFirst = false;
  } else if (config->order == "start-first") {
    r.startFirst = true;
  } else {
    return bad("order " + quoted(config->order) + " is not stop-first or start-first");
  }
  if (config->failureAction.empty() || config->failureAction == "pause") {
    r.failureAction = FailureAction::Pause;
  } else if (config->failureAction == "rollback") {
    r.failureAction = FailureAction::Rollback;
  } else if (config->failureAction == "continue") {
    r.failureAction = FailureAction::Continue;
  } else {
    return bad("failure_action " + quoted(config->failureAction) + " is not pause, rollback or continue");
  }
  return r;
}

bool mountsNamedLocalVolume(const spec::Project& project, const spec::Service& service) {
  for (const spec::VolumeMount& m : service.volumes) {
    if (m.type != "volume" || m.source.empty()) continue;
    auto it = project.volumes.find(m.source);
    if (it == project.volumes.end()) continue;
    if (it->second.driver.empty() || it->second.driver == "local") return true;
  }
  return false;
}

// x-berth-ingress: {host: NAME, path: /PREFIX, port: N} or a list of those.
Result<std::vector<HttpRoute>> httpRoutes(const spec::Service& service) {
  std::vector<HttpRoute> out;
  auto ext = service.extensions.find("x-berth-ingress");
  if (ext == service.extensions.end()) return out;
  const auto bad = [&](const std::string& why) {
    return fail(ErrorCode::InvalidArgument, fmt::format("service {}: x-berth-ingress: {}", service.name, why));
  };
  std::vector<const spec::Value*> items;
  if (ext->second.isSequence()) {
    for (const spec::Value& v : ext->second.items()) items.push_back(&v);
  } else {
    items.push_back(&ext->second);
  }
  // The port a route goes to when it names none: the service's one declared port, else 80.
  int defaultPort = 80;
  if (service.ports.size() == 1) defaultPort = static_cast<int>(service.ports.front().target);
  for (const spec::Value* item : items) {
    if (!item->isMapping()) return bad("expected {host: NAME, path: /PREFIX, port: N} or a list of them");
    HttpRoute r;
    r.port = defaultPort;
    for (const auto& [key, v] : item->entries()) {
      if (key == "host") {
        if (!v.isString() || v.asString().empty() || v.asString().find_first_of(" /:") != std::string::npos) {
          return bad("host must be a host name (shop.example.com)");
        }
        r.host = v.asString();
      } else if (key == "path") {
        if (!v.isString() || v.asString().empty() || v.asString().front() != '/' ||
            v.asString().find_first_of(" \t") != std::string::npos) {
          return bad("path must be a prefix starting with / (/api)");
        }
        r.path = v.asString();
      } else if (key == "port") {
        const std::int64_t p = v.kind() == spec::Value::Kind::Int ? v.asInt()
                               : v.isString()                     ? std::atoll(v.asString().c_str())
                                                                  : 0;
        if (p < 1 || p > 65535) return bad("port must be the container's port, 1 to 65535");
        r.port = static_cast<int>(p);
      } else {
        return bad(fmt::format("unknown key {} (host, path, port)", key));
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

Result<ServiceDef> serviceDef(const spec::Project& project, const spec::Service& service,
                              std::int64_t generation, bool mesh) {
  ServiceDef d;
  d.stack = project.name;
  d.name = service.name;
  d.generation = generation;
  d.configHash = spec::serviceConfigHash(project, service);
  d.image = plan::serviceImage(project, service);
  d.replicas = service.replicaCount();
  d.placement.stack = project.name;
  d.placement.service = service.name;
  d.healthcheck = service.healthcheck.has_value() && !service.healthcheck->disable &&
                  !(service.healthcheck->test && !service.healthcheck->test->empty() &&
                    service.healthcheck->test->front() == "NONE");
  d.volumeBound = mountsNamedLocalVolume(project, service);
  for (const spec::Port& port : service.ports) {
    if (mesh && port.mode != "host" && !port.published.empty()) {
      const std::string what = fmt::format("service {}: port {}:{}/{}", service.name, port.published, port.target,
                                           port.protocol);
      if (port.protocol != "tcp") {
        return fail(ErrorCode::InvalidArgument,
                    what + ": the ingress carries TCP only; publish it with `mode: host` on the replicas' hosts");
      }
      if (!port.hostIp.empty()) {
        return fail(ErrorCode::InvalidArgument,
                    fmt::format("{} on {}: the ingress publishes on every address of every host; publish a port "
                                "bound to one address with `mode: host`",
                                what, port.hostIp));
      }
      int published = 0;
      auto [end, ec] = std::from_chars(port.published.data(), port.published.data() + port.published.size(), published);
      if (ec != std::errc() || end != port.published.data() + port.published.size() || published < 1 ||
          published > 65535) {
        return fail(ErrorCode::InvalidArgument,
                    what + ": the ingress publishes single ports; publish a range with `mode: host`");
      }
      d.ports.push_back(fmt::format("*:{}->{}/tcp", published, port.target));
      d.ingress.push_back({published, static_cast<int>(port.target)});
      continue;
    }
    if (!port.published.empty()) {
      d.ports.push_back(fmt::format("{}->{}/{}", port.published, port.target, port.protocol));
      // A fixed host port (not a range) can be published by one container per host.
      if (port.published.find('-') == std::string::npos) {
        d.placement.hostPorts.push_back(fmt::format("{}{}/{}", port.hostIp.empty() ? "" : port.hostIp + ":",
                                                    port.published, port.protocol));
      }
    } else {
      d.ports.push_back(fmt::format("{}/{}", port.target, port.protocol));
    }
  }
  BERTH_ASSIGN_OR_RETURN(d.http, httpRoutes(service));
  if (!mesh && !d.http.empty()) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("service {}: x-berth-ingress needs berthd's network (it runs with --no-mesh)", service.name));
  }
  d.definition = spec::writeYaml(spec::renderServiceValue(service));
  if (service.stopGracePeriod) {
    d.stopGrace = std::chrono::duration_cast<std::chrono::seconds>(*service.stopGracePeriod);
  }
  const auto bad = [&](const std::string& what) {
    return fail(ErrorCode::InvalidArgument, fmt::format("service {}: {}", service.name, what));
  };
  if (service.deploy) {
    const spec::Deploy& deploy = *service.deploy;
    if (deploy.mode.empty() || deploy.mode == "replicated") {
      d.global = false;
    } else if (deploy.mode == "global") {
      d.global = true;
    } else {
      return bad("deploy.mode " + quoted(deploy.mode) + " is not supported by the controller (replicated or global)");
    }
    for (const std::string& text : deploy.placement.constraints) {
      auto c = parseConstraint(text);
      if (!c) return bad("deploy.placement.constraints: " + c.error().message());
      d.placement.constraints.push_back(std::move(*c));
    }
    for (const std::string& pref : deploy.placement.preferences) {
      std::string key = pref;
      if (startsWith(key, "spread=")) key = key.substr(7);
      if (startsWith(key, "spread:")) key = key.substr(7);
      while (!key.empty() && key.front() == ' ') key.erase(0, 1);
      if (!startsWith(key, "node.labels.") || key.size() <= 12) {
        return bad("deploy.placement.preferences: " + quoted(pref) + ": expected spread: node.labels.KEY");
      }
      d.placement.spreadLabels.push_back(key.substr(12));
    }
    d.placement.maxPerHost = static_cast<int>(deploy.placement.maxReplicasPerNode);
    if (deploy.reservations) {
      d.placement.cpus = deploy.reservations->cpus;
      d.placement.memory = deploy.reservations->memory;
    }
    if (deploy.restartPolicy) {
      const spec::RestartPolicy& p = *deploy.restartPolicy;
      if (p.condition.empty() || p.condition == "any") {
        d.restart.condition = RestartCondition::Any;
      } else if (p.condition == "on-failure") {
        d.restart.condition = RestartCondition::OnFailure;
      } else if (p.condition == "none") {
        d.restart.condition = RestartCondition::None;
      } else {
        return bad("deploy.restart_policy.condition " + quoted(p.condition) +
                   " is not any, on-failure or none");
      }
      d.restart.delay = ms(p.delay, d.restart.delay);
      if (p.maxAttempts) d.restart.maxAttempts = static_cast<int>(*p.maxAttempts);
      d.restart.window = ms(p.window, d.restart.window);
    }
    BERTH_ASSIGN_OR_RETURN(d.update, rollout(service.name, "update_config", deploy.updateConfig));
    BERTH_ASSIGN_OR_RETURN(d.rollback, rollout(service.name, "rollback_config", deploy.rollbackConfig));
  }
  if (!service.containerName.empty() && (d.global || d.replicas > 1)) {
    return bad(fmt::format("container_name {} allows one container; the controller runs several", service.containerName));
  }
  if (d.replicas < 0) return bad("replicas must not be negative");
  return d;
}

}  // namespace berth::cluster
