// Helpers for the planner's unit tests: a project from YAML text, an observation of a FakeEngine,
// and `up`/`down` run the way the CLI runs them (observe, images first, diff, apply).
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>

#include "fakes/fake_clock.h"
#include "fakes/fake_engine.h"
#include "plan/apply.h"
#include "plan/diff.h"
#include "plan/observe.h"
#include "engine/build_context.h"
#include "spec/loader.h"
#include "spec/model.h"

namespace berth::plan::testing {

// Loads `yaml` as compose.yaml of project `name` (aborts the test binary on a load error).
spec::Project loadOrDie(const std::string& yaml, const std::string& name = "p");

// What `engine` has for `project` (images: those the project's services use).
Observed observeOrDie(engine::Engine& engine, const spec::Project& project);

// diff(project, observe(engine)) as text.
std::string planText(engine::Engine& engine, const spec::Project& project, const UpOptions& options = {},
                     const DescribeOptions& describeOptions = {});

// Progress that keeps "Kind name: text" lines.
class RecordingProgress final : public Progress {
 public:
  void event(const ProgressEvent& e) override;
  std::vector<std::string> lines() const;
  std::function<void(const ProgressEvent&)> onEvent;

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

struct Runner {
  fakes::FakeEngine engine;
  fakes::FakeClock clock;
  RecordingProgress progress;
  ApplyOptions applyOptions;

  Runner();
  // observe → image plan → apply → diff → apply, as `berth up` does.
  Status up(const spec::Project& project, const UpOptions& options = {}, std::stop_token stop = {});
  Status down(const spec::Project& project, const DownOptions& options = {});
};

inline spec::Project loadOrDie(const std::string& yaml, const std::string& name) {
  char tmpl[] = "/tmp/berth-plan-test-XXXXXX";
  const char* dir = mkdtemp(tmpl);
  if (dir == nullptr) std::abort();
  const std::string path = std::string(dir) + "/compose.yaml";
  std::ofstream(path) << yaml;
  spec::ConfigDetails details;
  details.files = {path};
  details.workingDir = dir;
  details.projectName = name;
  auto p = spec::load(details, {});
  std::filesystem::remove_all(dir);
  if (!p) {
    ADD_FAILURE() << "load: " << p.error().message();
    return spec::Project{};
  }
  return *p;
}

inline Observed observeOrDie(engine::Engine& engine, const spec::Project& project) {
  ObserveOptions o;
  for (const auto& [name, s] : project.services) o.images.push_back(serviceImage(project, s));
  auto observed = observe(engine, project.name, o);
  if (!observed) {
    ADD_FAILURE() << "observe: " << observed.error().message();
    return Observed{};
  }
  return *observed;
}

inline std::string planText(engine::Engine& engine, const spec::Project& project, const UpOptions& options,
                            const DescribeOptions& describeOptions) {
  auto plan = diff(project, observeOrDie(engine, project), options);
  if (!plan) return "error: " + plan.error().message();
  return describe(*plan, describeOptions);
}

inline void RecordingProgress::event(const ProgressEvent& e) {
  {
    std::lock_guard lock(mu_);
    lines_.push_back(e.kind + " " + e.name + ": " + e.text);
  }
  if (onEvent) onEvent(e);
}

inline std::vector<std::string> RecordingProgress::lines() const {
  std::lock_guard lock(mu_);
  return lines_;
}

inline Runner::Runner() {
  engine.addImage("busybox:latest");
  applyOptions.buildContext = openDirectoryBuildContext;
}

inline Status Runner::up(const spec::Project& project, const UpOptions& options, std::stop_token stop) {
  Observed observed = observeOrDie(engine, project);
  BERTH_ASSIGN_OR_RETURN(Plan images, imagePlan(project, observed, options));
  if (!images.empty()) {
    BERTH_TRY(apply(images, engine, progress, clock, applyOptions, stop));
    observed = observeOrDie(engine, project);
  }
  UpOptions rest = options;
  rest.build = BuildPolicy::Never;
  if (rest.pull == "always") rest.pull = "missing";
  BERTH_ASSIGN_OR_RETURN(Plan plan, diff(project, observed, rest));
  return apply(plan, engine, progress, clock, applyOptions, stop);
}

inline Status Runner::down(const spec::Project& project, const DownOptions& options) {
  const Plan plan = planDown(project, observeOrDie(engine, project), options);
  return apply(plan, engine, progress, clock, applyOptions);
}

}  // namespace berth::plan::testing
