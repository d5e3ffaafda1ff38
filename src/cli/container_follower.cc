#include "cli/container_follower.h"

#include <fmt/core.h>

#include <charconv>
#include <vector>

#include "cli/project.h"
#include "plan/labels.h"

namespace berth::cli {
namespace {

SystemNanos systemNow() {
  return std::chrono::time_point_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now());
}

std::string attribute(const std::map<std::string, std::string>& attributes, const std::string& key) {
  auto it = attributes.find(key);
  return it == attributes.end() ? std::string() : it->second;
}

int exitCodeOf(const engine::Event& event) {
  const std::string text = attribute(event.attributes, "exitCode");
  int code = 0;
  (void)std::from_chars(text.data(), text.data() + text.size(), code);
  return code;
}

engine::Filters projectContainers(const std::string& project) {
  return {{"label", {std::string(plan::labels::kProject) + "=" + project}}};
}

// The engine refuses to read logs kept by a driver that keeps none for it ("configured logging driver
// does not support reading", 501); `docker compose up` attaches to such containers instead.
bool loggingDriverKeepsNothing(const Error& error) {
  return error.message().find("does not support reading") != std::string::npos;
}

}  // namespace

std::chrono::nanoseconds engineClockAhead(engine::Engine& engine) {
  const SystemNanos asked = systemNow();
  const auto info = engine.info();
  const SystemNanos answered = systemNow();
  if (!info || !info->systemTime) return std::chrono::nanoseconds(0);
  return *info->systemTime - (asked + (answered - asked) / 2);
}

ContainerFollower::ContainerFollower(engine::Engine& engine, LogPrinter& printer, FollowOptions options,
                                     FollowListener listener)
    : engine_(engine),
      printer_(printer),
      options_(std::move(options)),
      listener_(std::move(listener)),
      since_(unixSecondsText(options_.since)) {}

ContainerFollower::~ContainerFollower() { stop(); }

void ContainerFollower::start() {
  events_ = std::jthread([this](std::stop_token stop) { watchEvents(stop); });
}

void ContainerFollower::stop() {
  if (events_.joinable()) {
    events_.request_stop();
    events_.join();
  }
  // No session starts any more: the events thread started them all.
  std::map<std::string, std::jthread> sessions;
  {
    std::lock_guard lock(mu_);
    sessions.swap(sessions_);
  }
  for (auto& [id, session] : sessions) session.request_stop();
  sessions.clear();  // joins
}

void ContainerFollower::expectStarted(const std::vector<std::string>& names) {
  {
    std::lock_guard lock(mu_);
    for (const std::string& name : names) tracker_.expectStarted(name);
  }
  changed();
}

bool ContainerFollower::allExited() const {
  std::lock_guard lock(mu_);
  return caughtUp_ && tracker_.allExited();
}

std::optional<Error> ContainerFollower::logError() const {
  std::lock_guard lock(mu_);
  return logError_;
}

void ContainerFollower::watchEvents(std::stop_token stop) {
  // Up to `caughtUp` the engine replays what happened since `since`; from it on, events are live.
  // The same instant ends one and starts the other, so no event falls in between.
  const std::string caughtUp = unixSecondsText(systemNow() + options_.engineClockAhead);
  engine::EventsOptions replay;
  replay.since = since_;
  replay.until = caughtUp;
  replay.filters = projectContainers(options_.project);
  replay.filters["type"] = {"container"};
  replay.filters["event"] = {"create", "start", "die", "stop", "destroy"};
  const auto handle = [this](const engine::Event& e) { return onEvent(e); };
  Status s = engine_.events(replay, handle, stop);

  if (s) {
    // Containers running since before `up` (the convergence left them alone) start no event.
    engine::ListContainersOptions list;
    list.filters = projectContainers(options_.project);
    auto running = engine_.listContainers(list);
    if (running) {
      for (const engine::ContainerSummary& c : *running) {
        std::string name = c.names.empty() ? c.id : c.names.front();
        if (!name.empty() && name.front() == '/') name.erase(0, 1);
        if (auto container = inScope(c.id, c.labels, std::move(name))) {
          bool follow = false;
          {
            std::lock_guard lock(mu_);
            // One that started while `up` converged is followed since its "start" already.
            follow = !tracker_.tracks(container->id) && tracker_.started(*container);
          }
          if (follow) startSession(*container);
        }
      }
    } else {
      s = fail(running.error());
    }
  }
  if (s) {
    {
      std::lock_guard lock(mu_);
      caughtUp_ = true;
    }
    changed();
    engine::EventsOptions live = replay;
    live.since = caughtUp;
    live.until.clear();
    s = engine_.events(live, handle, stop);
  }
  if (!s && !stop.stop_requested() && listener_.failed) listener_.failed(s.error());
}

std::optional<TrackedContainer> ContainerFollower::inScope(const std::string& id,
                                                           const std::map<std::string, std::string>& labels,
                                                           std::string name) const {
  if (options_.ignored.count(id) != 0) return std::nullopt;
  const std::string service = attribute(labels, std::string(plan::labels::kService));
  if (options_.services.count(service) == 0) return std::nullopt;
  if (attribute(labels, std::string(plan::labels::kOneOff)) == "True") return std::nullopt;
  return TrackedContainer{id, std::move(name), service};
}

bool ContainerFollower::onEvent(const engine::Event& event) {
  // An event's attributes are the container's labels, its name and, for "die", its exit code.
  const auto container = inScope(event.actorId, event.attributes, attribute(event.attributes, "name"));
  if (!container) return true;
  if (event.action == "create") {
    std::lock_guard lock(mu_);
    tracker_.created(*container);
  } else if (event.action == "start") {
    bool follow = false;
    {
      std::lock_guard lock(mu_);
      follow = tracker_.started(*container);
    }
    if (follow) startSession(*container);
  } else if (event.action == "die") {
    // The engine marks a container that its restart policy brings back as restarting before it
    // sends "die". A container removed meanwhile is simply not restarting.
    auto inspect = engine_.inspectContainer(container->id);
    const bool restarting = inspect && (inspect->state.restarting || inspect->state.running);
    std::optional<ContainerExit> exit;
    {
      std::lock_guard lock(mu_);
      exit = tracker_.died(container->id, exitCodeOf(event), restarting);
    }
    if (exit) report(*exit);
  } else {  // "stop", "destroy"
    // "stop" after "die" changes nothing; alone, it stopped a container waiting to restart.
    bool gone = event.action == "destroy";
    if (!gone) {
      auto inspect = engine_.inspectContainer(container->id);
      gone = !inspect || !(inspect->state.restarting || inspect->state.running);
    }
    if (gone) {
      std::lock_guard lock(mu_);
      tracker_.gone(container->id);
    }
  }
  changed();
  return true;
}

void ContainerFollower::startSession(const TrackedContainer& container) {
  // The container's previous session (if any) ended already: the tracker starts one only then.
  std::jthread previous;
  {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(container.id);
    if (it != sessions_.end()) previous = std::move(it->second);
  }
  if (previous.joinable()) previous.join();
  std::lock_guard lock(mu_);
  sessions_[container.id] =
      std::jthread([this, container](std::stop_token stop) { followLogs(container, stop); });
}

void ContainerFollower::followLogs(const TrackedContainer& container, std::stop_token stop) {
  for (;;) {
    LogCursor cursor(since_);
    {
      std::lock_guard lock(mu_);
      cursor = cursors_.try_emplace(container.id, since_).first->second;
    }
    cursor.beginSession();
    engine::LogsOptions options;
    options.follow = true;
    options.timestamps = true;  // for the cursor; printed only when asked for
    options.since = cursor.since();
    LineSplitter lines([&](std::string_view line) {
      if (auto text = cursor.accept(line, options_.timestamps)) {
        printer_.line(container.name, container.service, *text);
      }
    });
    Status s = engine_.containerLogs(
        container.id, options, [&](engine::OutputStream, std::string_view data) { lines.add(data); }, stop);
    if (!s && loggingDriverKeepsNothing(s.error())) s = attachOutput(container, lines, stop);
    lines.flush();
    AttachTracker::SessionEnd end;
    {
      std::lock_guard lock(mu_);
      cursors_.insert_or_assign(container.id, cursor);
      end = tracker_.sessionEnded(container.id);
      // A container removed before its output could be read has nothing more to show.
      if (!s && !stop.stop_requested() && s.error().code() != ErrorCode::NotFound && !logError_) {
        logError_ = s.error();
      }
    }
    for (const ContainerExit& exit : end.exits) report(exit);
    if (!end.followAgain || stop.stop_requested()) break;
  }
  changed();
}

Status ContainerFollower::attachOutput(const TrackedContainer& container, LineSplitter& lines,
                                       std::stop_token stop) {
  auto attached = engine_.attachContainer(container.id, {});
  // Exited before berth got to it (409: "cannot attach to a stopped container"): its output is gone.
  if (!attached && attached.error().code() == ErrorCode::Conflict) return ok();
  if (!attached) return fail(std::move(attached).error());
  auto& stream = *attached;
  std::stop_callback cancelOnStop(stop, [&] { stream->cancel(); });
  for (;;) {
    auto chunk = stream->readOutput();
    if (!chunk) return stop.stop_requested() ? ok() : fail(chunk.error());
    if (!*chunk) return ok();
    lines.add((*chunk)->data);
  }
}

void ContainerFollower::report(const ContainerExit& exit) {
  printer_.note(exit.container.name, exit.container.service,
                fmt::format("{} exited with code {}",
                            shortContainerName(options_.project, exit.container.name), exit.exitCode));
  if (listener_.exited) listener_.exited(exit);
}

void ContainerFollower::changed() {
  if (listener_.changed) listener_.changed();
}

}  // namespace berth::cli
