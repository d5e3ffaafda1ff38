#include "cli/project.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <iostream>
#include <set>

#include "base/log.h"
#include "base/strings.h"
#include "cli/commands.h"
#include "cli/global_options.h"
#include "cli/progress.h"
#include "engine/build_context.h"
#include "plan/observe.h"
#include "plan/labels.h"
#include "plan/translate.h"
#include "trust/delivery.h"

extern char** environ;  // NOLINT: the process environment, read here and handed to the loader

namespace berth::cli {

namespace {

spec::Environment processEnvironment() {
  spec::Environment env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const std::size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

}  // namespace

Result<spec::ProjectOptions> projectOptions(const GlobalOptions& global) {
  spec::ProjectOptions po;
  po.files = global.files;
  po.projectName = global.projectName;
  po.projectDirectory = global.projectDirectory;
  po.envFiles = global.envFiles;
  po.profiles = global.profiles;
  po.processEnvironment = processEnvironment();
  std::error_code ec;
  po.currentDirectory = std::filesystem::current_path(ec).string();
  if (ec) return fail(ErrorCode::Internal, "cannot determine the current directory: " + ec.message());
  return po;
}

Result<ProjectContext> openProject(const GlobalOptions& global, const OpenOptions& options) {
  ProjectContext context;
  BERTH_ASSIGN_OR_RETURN(spec::ProjectOptions po, projectOptions(global));
  po.load.selectedServices = options.services;

  auto project = spec::loadProject(po);
  if (project) {
    context.project = std::move(*project);
    for (const std::string& w : context.project.warnings) log::warn("{}", w);
  } else {
    // `berth -p NAME down` (ps, logs, stop...) without a compose file works from labels alone.
    std::optional<std::string> name = global.projectName;
    if (!name) {
      if (auto it = po.processEnvironment.find("COMPOSE_PROJECT_NAME"); it != po.processEnvironment.end()) {
        name = it->second;
      }
    }
    const bool noFile = project.error().code() == ErrorCode::NotFound && global.files.empty() &&
                        startsWith(project.error().message(), "no configuration file provided");
    if (options.projectOptional && noFile && (!name || name->empty())) {
      context.project.name.clear();
      context.hasFile = false;
      if (options.needEngine) {
        BERTH_ASSIGN_OR_RETURN(context.engine, selectedEngine(global));
      }
      return context;
    }
    if (!(options.fileOptional && noFile && name && !name->empty())) return fail(project.error());
    if (!spec::isValidProjectName(*name)) {
      return fail(ErrorCode::InvalidArgument,
                  "invalid project name " + berth::quoted(*name) +
                      ": must consist only of lowercase alphanumeric characters, hyphens and underscores "
                      "and start with a letter or digit");
    }
    context.project.name = *name;
    context.hasFile = false;
  }
  if (options.needEngine) {
    BERTH_ASSIGN_OR_RETURN(context.engine, selectedEngine(global));
  }
  return context;
}

std::vector<std::string> projectImages(const spec::Project& project) {
  std::set<std::string> refs;
  for (const auto& [name, s] : project.services) refs.insert(plan::serviceImage(project, s));
  return {refs.begin(), refs.end()};
}

Result<plan::Observed> observeProject(ProjectContext& context, bool images) {
  plan::ObserveOptions o;
  if (images) o.images = projectImages(context.project);
  return plan::observe(*context.engine, context.project.name, o);
}

plan::ApplyOptions defaultApplyOptions() {
  plan::ApplyOptions o;
  if (const char* limit = std::getenv("COMPOSE_PARALLEL_LIMIT")) {
    try {
      const int n = std::stoi(limit);
      if (n > 0) o.parallelism = n;
    } catch (...) {
      log::warn("COMPOSE_PARALLEL_LIMIT={} is not a number; using {}", limit, o.parallelism);
    }
  }
  o.buildContext = plan::openDirectoryBuildContext;
  return o;
}

namespace {

bool createsContainers(const plan::Plan& plan) {
  return std::any_of(plan.actions.begin(), plan.actions.end(), [](const plan::Action& a) {
    return a.kind == plan::ActionKind::CreateContainer || a.kind == plan::ActionKind::RecreateContainer;
  });
}

int containerNumber(const engine::Labels& labels) {
  auto it = labels.find(std::string(plan::labels::kContainerNumber));
  if (it == labels.end()) return 1;
  try {
    return std::stoi(it->second);
  } catch (...) {
    return 1;
  }
}

Result<std::optional<trust::Delivery>> trustDelivery(const ProjectContext& context, const plan::Observed* observed) {
  if (!context.hasFile || trust::linksOf(context.project).empty()) return std::optional<trust::Delivery>();
  BERTH_ASSIGN_OR_RETURN(trust::TrustStore store, trust::TrustStore::open(context.project.name));
  // known_hosts pins every replica a target has or will have.
  std::map<std::string, int> replicas;
  for (const auto& [name, s] : context.project.services) replicas[name] = s.replicaCount();
  if (observed != nullptr) {
    for (const plan::ObservedContainer& c : observed->containers) {
      if (!c.oneOff) replicas[c.service] = std::max(replicas[c.service], c.number);
    }
  }
  return std::optional<trust::Delivery>(std::in_place, context.project, std::move(store), std::move(replicas));
}

}  // namespace

Status deliverTrust(ProjectContext& context) {
  plan::ObserveOptions o;
  o.networks = false;
  o.volumes = false;
  BERTH_ASSIGN_OR_RETURN(plan::Observed observed, plan::observe(*context.engine, context.project.name, o));
  BERTH_ASSIGN_OR_RETURN(auto delivery, trustDelivery(context, &observed));
  if (!delivery) return ok();
  for (const plan::ObservedContainer& c : observed.containers) {
    if (c.oneOff || !delivery->links().involves(c.service)) continue;
    BERTH_TRY(delivery->deliver(*context.engine, c.id, trust::ContainerRole{c.service, c.number}));
  }
  return ok();
}

Status runPlan(ProjectContext& context, const GlobalOptions& global, const plan::Plan& plan,
               std::string_view title, std::stop_token stop, const plan::ApplyOptions* options,
               OutputAboveProgress* output) {
  for (const std::string& w : plan.warnings) std::cerr << "berth: warning: " << w << "\n";
  if (plan.empty()) return ok();
  BERTH_ASSIGN_OR_RETURN(const ProgressMode mode, parseProgressMode(global.progress));
  plan::ApplyOptions applyOptions = options == nullptr ? defaultApplyOptions() : *options;
  // x-berth-ssh trust: a container gets its keys before it starts; after a plan that made
  // containers, the project's others are brought up to date (a target scaled up is pinned by its
  // callers, a new caller is authorized by its targets).
  std::optional<trust::Delivery> delivery;
  if (createsContainers(plan)) {
    BERTH_ASSIGN_OR_RETURN(delivery, trustDelivery(context, nullptr));
  }
  if (delivery) {
    applyOptions.prepareContainer = [&delivery](engine::Engine& engine, const std::string& id,
                                                const plan::Action& a) -> Status {
      return delivery->deliver(engine, id,
                               trust::ContainerRole{a.service, containerNumber(a.container.create.config.labels)});
    };
  }
  auto view = makeProgressView(mode, std::string(title));
  if (output != nullptr) output->show(*view);
  SystemClock clock;
  Status s = plan::apply(plan, *context.engine, *view, clock, applyOptions, stop);
  if (output != nullptr) {
    output->finish();
  } else {
    view->finish();
  }
  if (s && delivery) s = deliverTrust(context);
  return s;
}

int reportError(const Error& error) {
  if (error.code() == ErrorCode::Cancelled) {
    std::cerr << "berth: cancelled\n";
    return 130;
  }
  std::cerr << "berth: " << error.message() << "\n";
  return 1;
}

Result<plan::ObservedContainer> serviceContainer(const plan::Observed& observed, const std::string& service,
                                                 std::optional<int> index) {
  const auto list = observed.serviceContainers(service);
  if (index) {
    for (const plan::ObservedContainer* c : list) {
      if (c->number == *index) return *c;
    }
    return fail(ErrorCode::NotFound,
                fmt::format("service \"{}\" has no container with index {}", service, *index));
  }
  for (const plan::ObservedContainer* c : list) {
    if (c->running()) return *c;
  }
  if (list.empty()) return fail(ErrorCode::NotFound, fmt::format("service \"{}\" has no container", service));
  return fail(ErrorCode::Conflict, fmt::format("service \"{}\" is not running", service));
}

std::string shortContainerName(const std::string& project, const std::string& name) {
  if (startsWith(name, project + "-")) return name.substr(project.size() + 1);
  if (startsWith(name, project + "_")) return name.substr(project.size() + 1);
  return name;
}

}  // namespace berth::cli
