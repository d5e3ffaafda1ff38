// FakeEngine: an in-memory Docker engine for tests of the planner and apply. It keeps containers,
// networks, volumes and images as a real engine would (names unique, images needed to create,
// anonymous volumes, networks needed to start, removal refused while running), records every call
// in a log, and injects faults:
//
//   FakeEngine engine;
//   engine.addImage("busybox:latest");
//   engine.failNext("startContainer", Error(ErrorCode::Internal, "boom"));
//   engine.exitOnStart("p-db-1", 1, "db: cannot open data\n");   // the container dies at once
//   engine.healthyAfter("p-db-1", 3);                            // healthy on the 3rd inspect
//   ... apply(plan, engine, ...) ...
//   EXPECT_THAT(engine.mutations(), ElementsAre("createContainer p-db-1", "startContainer p-db-1"));
//
// Log entries are "<method> <target>", the target being a container's *name* (IDs are resolved),
// a network, volume or image name. mutations() leaves out the read-only calls.
//
// Images travel between fakes as a real engine's do: saveImages / saveImagesTo make a tar (for each
// image "<hex>.json", its inspect JSON with the tags asked for and its config, and "<hex>/layer.tar",
// 40 KiB of filler), streamed in 8 KiB pieces; loadImage / beginImageLoad take such a tar and keep
// the images with their IDs, tags and configs. A streamed load is logged once, as "loadImage" when
// it finishes (beginImageLoad itself is logged as a read), and a streamed save as "saveImages
// <refs>", so failNext("loadImage" | "saveImages", ...) fails either form; failStreamAfter makes a
// stream break in the middle. The fake's load holds the tar it receives in memory (so does the
// whole fake); streaming is what the real engine's does.
//
// Thread-safety: every method may be called from several threads at once (one mutex); with
// setLatency the calls sleep outside the lock so that apply's parallelism can be observed
// (maxInFlight()).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace berth::fakes {

class FakeEngine final : public engine::Engine {
 public:
  // `address` names the engine in address() and in every error (default "fake://engine": "engine
  // fake://engine: ...").
  FakeEngine();
  explicit FakeEngine(std::string address);
  ~FakeEngine() override;

  // --- Setting up
  // Adds (or re-points) an image tag; returns its ID. `id` empty: a new one.
  std::string addImage(const std::string& ref, std::string id = {}, const engine::ImageConfig& config = {});
  // Images that pullImage can fetch (everything else fails like an unreachable registry).
  void addToRegistry(const std::string& ref);
  // The next call of `method` fails with `error` (once per call to failNext).
  void failNext(const std::string& method, Error error);
  // Calls of `method` on `target` (a container, network, volume or image name) always fail.
  void failOn(const std::string& method, const std::string& target, Error error);
  // The next streamed "saveImages" (saveImagesTo) or "loadImage" (an ImageLoad) fails with `error`
  // once `bytes` bytes went through: the save delivers what comes before and returns the error, the
  // load's write that would pass the mark fails (and so does everything after it).
  void failStreamAfter(const std::string& method, std::size_t bytes, Error error);
  // Called with each piece an ImageLoad of this engine is given, before it takes it (e.g. to stop a
  // copy half-way). Runs on the writer's thread, outside the fake's lock.
  void onImageLoadPiece(std::function<void(std::string_view piece)> hook);
  // When started, the container exits at once with `code`, having printed `output`.
  void exitOnStart(const std::string& name, int code, std::string output = {});
  // A started container with a healthcheck reports healthy from the n-th inspect after its start
  // (default: the first), or unhealthy with unhealthyAfter.
  void healthyAfter(const std::string& name, int inspects);
  void unhealthyAfter(const std::string& name, int inspects);
  void setLogs(const std::string& name, std::string output);
  // Each call sleeps this long (outside the lock) so that concurrent calls overlap.
  void setLatency(std::chrono::milliseconds latency) { latency_ = latency; }
  // info()'s SystemTime: the machine's clock plus this (an engine whose clock is off).
  void setClockAhead(std::chrono::nanoseconds ahead) { clockAhead_ = ahead; }

  // --- Looking
  std::vector<std::string> calls() const;
  std::vector<std::string> mutations() const;
  void clearCalls();
  int maxInFlight() const { return maxInFlight_.load(); }
  std::optional<engine::ContainerInspect> container(const std::string& nameOrId) const;
  std::vector<std::string> containerNames() const;  // sorted
  std::set<std::string> networkNames() const;
  std::set<std::string> volumeNames() const;
  std::optional<std::string> imageId(const std::string& ref) const;
  // Files put into a container with putArchive: path in the archive → content.
  std::map<std::string, std::string> files(const std::string& container) const;
  // The last build: its context tar and options.
  std::string lastBuildContext() const;

  // --- Engine
  const std::string& address() const override { return address_; }
  Result<engine::ApiVersion> apiVersion() override;
  Result<engine::PingResult> ping() override;
  Result<engine::EngineVersion> version() override;
  Result<engine::EngineInfo> info() override;
  Result<std::vector<engine::ImageSummary>> listImages(const engine::ListImagesOptions& options) override;
  Result<engine::ImageInspect> inspectImage(const std::string& ref) override;
  Result<engine::BuildResult> buildImage(std::string_view contextTar, const engine::BuildOptions& options,
                                         const engine::ProgressFn& onProgress) override;
  Result<std::string> importImage(std::string_view rootfsTar,
                                  const engine::ImportImageOptions& options) override;
  Result<std::vector<std::string>> loadImage(std::string_view tar) override;
  Result<std::unique_ptr<engine::ImageLoad>> beginImageLoad() override;
  Result<std::string> saveImages(const std::vector<std::string>& refs) override;
  Status saveImagesTo(const std::vector<std::string>& refs,
                      const std::function<bool(std::string_view piece)>& sink, std::stop_token stop) override;
  Status pullImage(const std::string& ref, const std::string& platform,
                   const engine::ProgressFn& onProgress) override;
  Status tagImage(const std::string& source, const std::string& repo, const std::string& tag) override;
  Result<std::vector<engine::ImageDeleteItem>> removeImage(
      const std::string& ref, const engine::RemoveImageOptions& options) override;
  Result<engine::ContainerCreated> createContainer(const engine::ContainerCreate& spec) override;
  Status startContainer(const std::string& id) override;
  Status stopContainer(const std::string& id, std::optional<int> timeoutSeconds) override;
  Status killContainer(const std::string& id, const std::string& signal) override;
  Status restartContainer(const std::string& id, std::optional<int> timeoutSeconds) override;
  Status removeContainer(const std::string& id, const engine::RemoveContainerOptions& options) override;
  Result<engine::ContainerInspect> inspectContainer(const std::string& id) override;
  Result<std::vector<engine::ContainerSummary>> listContainers(
      const engine::ListContainersOptions& options) override;
  Status containerLogs(const std::string& id, const engine::LogsOptions& options,
                       const engine::OutputSink& sink, std::stop_token stop) override;
  Result<engine::WaitResult> waitContainer(const std::string& id, engine::WaitCondition condition,
                                           std::chrono::milliseconds timeout) override;
  Status putArchive(const std::string& id, const std::string& path, std::string_view tar,
                    const engine::PutArchiveOptions& options) override;
  Result<engine::ArchiveResult> getArchive(const std::string& id, const std::string& path) override;
  Result<engine::PathStat> getArchiveTo(const std::string& id, const std::string& path,
                                        const std::function<bool(std::string_view piece)>& sink,
                                        std::stop_token stop) override;
  Result<std::unique_ptr<engine::ArchiveUpload>> beginPutArchive(const std::string& id, const std::string& path,
                                                                 const engine::PutArchiveOptions& options) override;
  Result<engine::PathStat> statPath(const std::string& id, const std::string& path) override;
  Result<engine::ContainerStats> containerStats(const std::string& id) override;
  Status pauseContainer(const std::string& id) override;
  Status unpauseContainer(const std::string& id) override;
  Result<engine::TopResult> topContainer(const std::string& id, const std::string& psArgs) override;
  Status renameContainer(const std::string& id, const std::string& newName) override;
  Result<std::unique_ptr<engine::AttachedStream>> attachContainer(
      const std::string& id, const engine::AttachOptions& options) override;
  Status resizeContainerTty(const std::string& id, int height, int width) override;
  Result<std::string> createNetwork(const engine::NetworkCreate& spec) override;
  Result<engine::Network> inspectNetwork(const std::string& idOrName) override;
  Result<std::vector<engine::Network>> listNetworks(const engine::Filters& filters) override;
  Status connectNetwork(const std::string& network, const std::string& container,
                        const engine::EndpointSettings& endpoint) override;
  Status disconnectNetwork(const std::string& network, const std::string& container, bool force) override;
  Status removeNetwork(const std::string& idOrName) override;
  Result<engine::Volume> createVolume(const engine::VolumeCreate& spec) override;
  Result<engine::Volume> inspectVolume(const std::string& name) override;
  Result<std::vector<engine::Volume>> listVolumes(const engine::Filters& filters) override;
  Result<std::vector<engine::Volume>> volumeUsage() override;
  Status removeVolume(const std::string& name, bool force) override;
  Result<std::string> createExec(const std::string& container, const engine::ExecCreate& spec) override;
  Status startExecDetached(const std::string& execId) override;
  Result<std::unique_ptr<engine::AttachedStream>> startExecAttached(const std::string& execId,
                                                                    bool tty) override;
  Result<engine::ExecInspect> inspectExec(const std::string& execId) override;
  Status resizeExecTty(const std::string& execId, int height, int width) override;
  Status events(const engine::EventsOptions& options, const engine::EventFn& onEvent,
                std::stop_token stop) override;

 private:
  struct Container;
  class Load;
  struct Image {
    std::string id;
    engine::ImageConfig config;
  };
  // Logs the call, applies injected faults and latency. Returns the fault, if any.
  std::optional<Error> enter(const std::string& method, const std::string& target, bool mutating);
  void leave();
  Container* find(const std::string& nameOrId);  // mu_ held
  const Container* find(const std::string& nameOrId) const;
  std::string newId();
  engine::ContainerSummary summary(const Container& c) const;
  engine::Volume& ensureVolume(const std::string& name, const engine::Labels& labels);
  bool matches(const engine::Labels& labels, const engine::Filters& filters) const;
  // The save tar of `refs` (mu_ held).
  Result<std::string> saveTar(const std::vector<std::string>& refs);
  // Loads a save tar (mu_ held); returns "Loaded image" names as the engine does.
  Result<std::vector<std::string>> loadTar(std::string_view tar);
  // The next failStreamAfter for `method`, if any (mu_ held).
  std::optional<std::pair<std::size_t, Error>> takeStreamFault(const std::string& method);
  // An ImageLoad's piece: the hook, if any (called without mu_).
  void observeLoadPiece(std::string_view piece);
  // An ImageLoad's finish(): logged and faulted as loadImage.
  Result<std::vector<std::string>> finishLoad(std::string_view tar);

  std::string address_;
  mutable std::mutex mu_;
  std::map<std::string, Image> images_;  // normalized ref → image
  std::set<std::string> registry_;
  std::map<std::string, std::unique_ptr<Container>> containers_;  // by ID
  std::map<std::string, engine::Network> networks_;               // by name
  std::map<std::string, engine::Volume> volumes_;                 // by name
  std::vector<std::pair<std::string, bool>> calls_;               // entry, mutating
  std::map<std::string, std::vector<Error>> failNext_;
  std::map<std::pair<std::string, std::string>, Error> failOn_;
  std::map<std::string, std::vector<std::pair<std::size_t, Error>>> failStreamAfter_;
  std::function<void(std::string_view)> loadPieceHook_;
  struct ExitScript {
    int code = 0;
    std::string output;
  };
  std::map<std::string, ExitScript> exitOnStart_;
  std::map<std::string, std::pair<int, bool>> healthScript_;  // name → inspects, healthy?
  std::map<std::string, std::string> logs_;
  std::string lastBuildContext_;
  std::uint64_t nextId_ = 1;
  std::chrono::milliseconds latency_{0};
  std::chrono::nanoseconds clockAhead_{0};
  std::atomic<int> inFlight_{0};
  std::atomic<int> maxInFlight_{0};
};

}  // namespace berth::fakes
