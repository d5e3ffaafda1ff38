// `berth run SERVICE [COMMAND...]`: a one-off container of the service (`{project}-{service}-run-{id}`,
// labelled oneoff=True), after starting its dependencies (unless --no-deps). Attached (a TTY when
// stdin is one, unless -T) berth exits with the container's exit code; -d prints its name. --rm
// removes it (and its anonymous volumes) when it exits. Flags as `docker compose run`.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <iostream>
#include <random>

#include "base/strings.h"
#include "cli/commands.h"
#include "cli/global_options.h"
#include "cli/project.h"
#include "cli/session.h"
#include "cli/terminal.h"
#include "plan/observe.h"
#include "plan/translate.h"

namespace berth::cli {
namespace {

struct RunFlags {
  bool detach = false;
  bool rm = false;
  bool noDeps = false;
  bool noTty = false;
  bool servicePorts = false;
  bool build = false;
  std::string name;
  std::vector<std::string> env;
  std::vector<std::string> labels;
  std::vector<std::string> publish;
  std::vector<std::string> volumes;
  std::optional<std::string> entrypoint;
  std::string user;
  std::string workdir;
  std::string service;
};

std::string randomSlug() {
  std::random_device rd;
  std::string out;
  while (out.size() < 64) out += fmt::format("{:08x}", rd());
  return out.substr(0, 64);
}

// Parses -p "[IP:][HOST:]CONTAINER[/PROTO]".
Result<spec::Port> parsePublish(const std::string& text) {
  spec::Port p;
  std::string rest = text;
  if (auto slash = rest.rfind('/'); slash != std::string::npos) {
    p.protocol = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  const std::vector<std::string> parts = split(rest, ':');
  try {
    if (parts.size() == 1) {
      p.target = static_cast<std::uint32_t>(std::stoul(parts[0]));
    } else if (parts.size() == 2) {
      p.published = parts[0];
      p.target = static_cast<std::uint32_t>(std::stoul(parts[1]));
    } else if (parts.size() == 3) {
      p.hostIp = parts[0];
      p.published = parts[1];
      p.target = static_cast<std::uint32_t>(std::stoul(parts[2]));
    } else {
      return fail(ErrorCode::InvalidArgument,
                  "--publish " + berth::quoted(text) + ": expected [IP:][HOST:]CONTAINER[/PROTO]");
    }
  } catch (...) {
    return fail(ErrorCode::InvalidArgument,
                "--publish " + berth::quoted(text) + ": expected [IP:][HOST:]CONTAINER[/PROTO]");
  }
  return p;
}

// Dependencies converged and their conditions met, as `up` would leave them.
Status startDependencies(ProjectContext& ctx, const GlobalOptions& global, const spec::Service& service,
                         std::stop_token stop) {
  std::vector<std::string> deps = plan::serviceDependencies(service);
  if (deps.empty()) return ok();
  plan::UpOptions u;
  u.services = deps;
  u.version = clientVersion();
  BERTH_ASSIGN_OR_RETURN(plan::Observed observed, observeProject(ctx, true));
  BERTH_ASSIGN_OR_RETURN(const plan::Plan images, plan::imagePlan(ctx.project, observed, u));
  if (!images.empty()) {
    BERTH_TRY(runPlan(ctx, global, images, "Building", stop));
    BERTH_ASSIGN_OR_RETURN(observed.images, plan::observeImages(*ctx.engine, projectImages(ctx.project)));
  }
  u.build = plan::BuildPolicy::Never;
  BERTH_ASSIGN_OR_RETURN(plan::Plan plan, plan::diff(ctx.project, observed, u));
  // The one-off container waits like a dependant would.
  for (const auto& [dep, d] : service.dependsOn) {
    if (d.condition == "service_started" || ctx.project.services.count(dep) == 0) continue;
    plan::Action w;
    w.kind = plan::ActionKind::WaitForService;
    w.target = dep;
    w.service = dep;
    w.waiter = service.name;
    w.condition = d.condition == "service_healthy" ? plan::ServiceCondition::Healthy
                                                   : plan::ServiceCondition::CompletedSuccessfully;
    const spec::Service& ds = ctx.project.services.at(dep);
    for (int i = 1; i <= ds.replicaCount(); ++i)
      w.containers.push_back(plan::containerName(ctx.project, ds, i));
    for (std::size_t i = 0; i < plan.actions.size(); ++i) {
      if (plan.actions[i].service == dep && plan.actions[i].kind != plan::ActionKind::WaitForService) {
        w.after.push_back(i);
      }
    }
    plan.add(std::move(w));
  }
  return runPlan(ctx, global, plan, "Running", stop);
}

int runRun(const GlobalOptions& global, const RunFlags& f, const std::vector<std::string>& command) {
  auto ctx = openProject(global, {.services = {f.service}});
  if (!ctx) return reportError(ctx.error());
  auto it = ctx->project.services.find(f.service);
  if (it == ctx->project.services.end())
    return reportError(Error(ErrorCode::InvalidArgument, "no such service: " + f.service));
  spec::Service service = it->second;

  std::stop_source cancel;
  {
    InterruptWatcher watcher([&](int) { cancel.request_stop(); });
    if (!f.noDeps) {
      Status s = startDependencies(*ctx, global, service, cancel.get_token());
      if (!s) return reportError(s.error());
    }
    // The service's own image.
    plan::UpOptions u;
    u.services = {f.service};
    u.noDeps = true;
    u.build = f.build ? plan::BuildPolicy::Always : plan::BuildPolicy::Missing;
    auto observed = observeProject(*ctx, true);
    if (!observed) return reportError(observed.error());
    auto images = plan::imagePlan(ctx->project, *observed, u);
    if (!images) return reportError(images.error());
    Status s = runPlan(*ctx, global, *images, "Building", cancel.get_token());
    if (!s) return reportError(s.error());
    // Its networks and volumes (with --no-deps nothing else made them).
    auto resources = plan::resourcePlan(ctx->project, *observed, {f.service}, clientVersion());
    if (!resources) return reportError(resources.error());
    s = runPlan(*ctx, global, *resources, "Running", cancel.get_token());
    if (!s) return reportError(s.error());
  }

  // The one-off variant of the service.
  if (!command.empty()) service.command = command;
  if (f.entrypoint) {
    service.entrypoint = f.entrypoint->empty() ? std::vector<std::string>{} : split(*f.entrypoint, ' ');
    if (command.empty()) service.command = std::vector<std::string>{};
  }
  for (const std::string& e : f.env) {
    const auto eq = e.find('=');
    if (eq == std::string::npos) {
      const char* v = std::getenv(e.c_str());
      service.environment[e] = v == nullptr ? std::nullopt : std::optional<std::string>(v);
    } else {
      service.environment[e.substr(0, eq)] = e.substr(eq + 1);
    }
  }
  for (const std::string& l : f.labels) {
    const auto eq = l.find('=');
    service.labels[l.substr(0, eq)] = eq == std::string::npos ? "" : l.substr(eq + 1);
  }
  if (!f.user.empty()) service.user = f.user;
  if (!f.workdir.empty()) service.workingDir = f.workdir;
  if (!f.servicePorts) service.ports.clear();
  for (const std::string& p : f.publish) {
    auto port = parsePublish(p);
    if (!port) return reportError(port.error());
    service.ports.push_back(*port);
  }
  for (const std::string& v : f.volumes) {
    const std::vector<std::string> parts = split(v, ':');
    spec::VolumeMount m;
    if (parts.size() == 1) {
      m.type = "volume";
      m.target = parts[0];
    } else {
      m.source = parts[0];
      m.target = parts[1];
      m.readOnly = parts.size() > 2 && parts[2] == "ro";
      m.type = startsWith(m.source, "/") || startsWith(m.source, ".") ? "bind" : "volume";
    }
    service.volumes.push_back(m);
  }
  service.restart.clear();
  service.containerName.clear();
  const bool tty = !f.noTty && !f.detach && isTerminal(0);
  service.tty = tty;
  service.stdinOpen = !f.detach;
  service.scale.reset();
  if (service.deploy) service.deploy->restartPolicy.reset();

  plan::TranslateOptions t;
  t.version = clientVersion();
  t.oneOff = true;
  t.slug = randomSlug();
  auto spec = plan::containerSpec(ctx->project, service, 1, t);
  if (!spec) return reportError(spec.error());
  if (!f.name.empty()) spec->create.name = f.name;
  engine::ContainerConfig& cfg = spec->create.config;
  cfg.attachStdin = !f.detach;
  cfg.attachStdout = !f.detach;
  cfg.attachStderr = !f.detach;
  cfg.stdinOnce = !f.detach;
  engine::Engine& engine = *ctx->engine;

  auto created = engine.createContainer(spec->create);
  if (!created) return reportError(created.error());
  const std::string id = created->id;
  const std::string name = spec->create.name;
  const auto cleanup = [&] {
    if (!f.rm) return;
    engine::RemoveContainerOptions ro;
    ro.force = true;
    ro.volumes = true;
    (void)engine.removeContainer(id, ro);
  };
  for (const auto& [network, endpoint] : spec->connect) {
    if (Status s = engine.connectNetwork(network, id, endpoint); !s) {
      cleanup();
      return reportError(s.error());
    }
  }
  if (!spec->files.empty()) {
    if (Status s = engine.putArchive(id, "/", plan::filesArchive(spec->files), {}); !s) {
      cleanup();
      return reportError(s.error());
    }
  }
  if (f.detach) {
    if (Status s = engine.startContainer(name); !s) {
      cleanup();
      return reportError(s.error());
    }
    std::cout << name << "\n";
    return 0;
  }
  engine::AttachOptions ao;
  ao.stdinStream = true;
  auto stream = engine.attachContainer(id, ao);
  if (!stream) {
    cleanup();
    return reportError(stream.error());
  }
  if (Status s = engine.startContainer(name); !s) {
    cleanup();
    return reportError(s.error());
  }
  SessionOptions so;
  so.tty = tty;
  so.resize = [&engine, id](int rows, int cols) { (void)engine.resizeContainerTty(id, rows, cols); };
  Status pumped = pumpSession(**stream, so, cancel.get_token());
  if (!pumped && pumped.error().code() == ErrorCode::Cancelled) {
    // Ctrl-C without a TTY: pass it on, as `docker run` does, and leave.
    (void)engine.killContainer(id, "SIGINT");
    cleanup();
    return 130;
  }
  auto waited = engine.waitContainer(id, engine::WaitCondition::NotRunning, std::chrono::seconds(30));
  cleanup();
  if (!pumped) return reportError(pumped.error());
  if (!waited) return reportError(waited.error());
  return static_cast<int>(waited->statusCode);
}

}  // namespace

void registerRunCommand(CLI::App& app, CommandContext& context) {
  auto f = std::make_shared<RunFlags>();
  CLI::App* run = app.add_subcommand("run", "Run a one-off command on a service");
  run->add_flag("-d,--detach", f->detach, "Run container in background and print container name");
  run->add_flag("--rm", f->rm, "Automatically remove the container when it exits");
  run->add_flag("--no-deps", f->noDeps, "Don't start linked services");
  run->add_flag("-T,--no-TTY", f->noTty,
                "Disable pseudo-TTY allocation (default: a TTY when stdin is a terminal)");
  run->add_flag("--service-ports", f->servicePorts,
                "Run command with all service's ports enabled and mapped to the host");
  run->add_flag("--build", f->build, "Build image before starting container");
  run->add_option("--name", f->name, "Assign a name to the container");
  run->add_option("-e,--env", f->env, "Set environment variables")
      ->type_name("KEY=VAL")
      ->allow_extra_args(false);
  run->add_option("-l,--label", f->labels, "Add or override a label")
      ->type_name("KEY=VAL")
      ->allow_extra_args(false);
  run->add_option("-p,--publish", f->publish, "Publish a container's port(s) to the host")
      ->allow_extra_args(false);
  run->add_option("-v,--volume", f->volumes, "Bind mount a volume")->allow_extra_args(false);
  run->add_option("--entrypoint", f->entrypoint, "Override the entrypoint of the image");
  run->add_option("-u,--user", f->user, "Run as specified username or uid");
  run->add_option("-w,--workdir", f->workdir, "Working directory inside the container");
  run->add_option("service", f->service, "Service")->required()->type_name("SERVICE");
  run->prefix_command();
  run->callback([&context, f, run] { context.exitCode = runRun(context.global, *f, run->remaining()); });
}

}  // namespace berth::cli
