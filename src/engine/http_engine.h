// HttpEngine: the Engine over the Docker Engine API (HTTP/1.1 on a Transport). Made by makeEngine
// (engine/engine.h); declared here for tests that build one over their own transport.
//
// Paths are versioned with the negotiated API version ("/v1.41/containers/json"), negotiated once
// through /_ping on the first call that needs it. Streams (logs, events, build output, attach) are
// decoded incrementally; exec and attach hijack a fresh connection, everything else shares a
// keep-alive pool.
//
// Thread-safety: all methods may be called from many threads at once.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "engine/endpoint.h"
#include "engine/engine.h"

namespace berth::engine {

namespace transport {
class HttpClient;
class Transport;
struct HttpRequest;
struct HttpResponse;
using Timeout = std::chrono::milliseconds;
using IdleFn = std::function<std::chrono::steady_clock::time_point()>;  // as in http_client.h
}  // namespace transport

class HttpEngine final : public Engine {
 public:
  // Talks to `endpoint` (its URL, description and pinned API version) through `client`.
  HttpEngine(const Endpoint& endpoint, std::unique_ptr<transport::HttpClient> client, EngineOptions options);
  ~HttpEngine() override;

  const std::string& address() const override { return address_; }
  Result<ApiVersion> apiVersion() override;

  void closeIdleConnections() override;
  Result<PingResult> ping() override;
  Result<EngineVersion> version() override;
  Result<EngineInfo> info() override;

  Result<std::vector<ImageSummary>> listImages(const ListImagesOptions& options) override;
  Result<ImageInspect> inspectImage(const std::string& ref) override;
  Result<BuildResult> buildImageStreamed(const ContextWriter& writer, const BuildOptions& options,
                                         const ProgressFn& onProgress) override;
  Result<BuildResult> buildImage(std::string_view contextTar, const BuildOptions& options,
                                 const ProgressFn& onProgress) override;
  Result<std::string> importImage(std::string_view rootfsTar, const ImportImageOptions& options) override;
  Result<std::vector<std::string>> loadImage(std::string_view tar) override;
  Result<std::unique_ptr<ImageLoad>> beginImageLoad() override;
  Result<std::string> saveImages(const std::vector<std::string>& refs) override;
  Status saveImagesTo(const std::vector<std::string>& refs,
                      const std::function<bool(std::string_view piece)>& sink, std::stop_token stop) override;
  Status pullImage(const std::string& ref, const std::string& platform,
                   const ProgressFn& onProgress) override;
  Status tagImage(const std::string& source, const std::string& repo, const std::string& tag) override;
  Result<std::vector<ImageDeleteItem>> removeImage(const std::string& ref,
                                                   const RemoveImageOptions& options) override;

  Result<ContainerCreated> createContainer(const ContainerCreate& spec) override;
  Status startContainer(const std::string& id) override;
  Status stopContainer(const std::string& id, std::optional<int> timeoutSeconds) override;
  Status killContainer(const std::string& id, const std::string& signal) override;
  Status restartContainer(const std::string& id, std::optional<int> timeoutSeconds) override;
  Status removeContainer(const std::string& id, const RemoveContainerOptions& options) override;
  Result<ContainerInspect> inspectContainer(const std::string& id) override;
  Result<std::vector<ContainerSummary>> listContainers(const ListContainersOptions& options) override;
  Status containerLogs(const std::string& id, const LogsOptions& options, const OutputSink& sink,
                       std::stop_token stop) override;
  Result<WaitResult> waitContainer(const std::string& id, WaitCondition condition,
                                   std::chrono::milliseconds timeout) override;
  Status putArchive(const std::string& id, const std::string& path, std::string_view tar,
                    const PutArchiveOptions& options) override;
  Result<ArchiveResult> getArchive(const std::string& id, const std::string& path) override;
  Result<PathStat> getArchiveTo(const std::string& id, const std::string& path,
                                const std::function<bool(std::string_view piece)>& sink,
                                std::stop_token stop) override;
  Result<std::unique_ptr<ArchiveUpload>> beginPutArchive(const std::string& id, const std::string& path,
                                                         const PutArchiveOptions& options) override;
  Result<PathStat> statPath(const std::string& id, const std::string& path) override;
  Result<ContainerStats> containerStats(const std::string& id) override;
  Status pauseContainer(const std::string& id) override;
  Status unpauseContainer(const std::string& id) override;
  Result<TopResult> topContainer(const std::string& id, const std::string& psArgs) override;
  Status renameContainer(const std::string& id, const std::string& newName) override;
  Result<std::unique_ptr<AttachedStream>> attachContainer(const std::string& id,
                                                          const AttachOptions& options) override;
  Status resizeContainerTty(const std::string& id, int height, int width) override;

  Result<std::string> createNetwork(const NetworkCreate& spec) override;
  Result<Network> inspectNetwork(const std::string& idOrName) override;
  Result<std::vector<Network>> listNetworks(const Filters& filters) override;
  Status connectNetwork(const std::string& network, const std::string& container,
                        const EndpointSettings& endpoint) override;
  Status disconnectNetwork(const std::string& network, const std::string& container, bool force) override;
  Status removeNetwork(const std::string& idOrName) override;

  Result<Volume> createVolume(const VolumeCreate& spec) override;
  Result<Volume> inspectVolume(const std::string& name) override;
  Result<std::vector<Volume>> listVolumes(const Filters& filters) override;
  Result<std::vector<Volume>> volumeUsage() override;
  Status removeVolume(const std::string& name, bool force) override;

  Result<std::string> createExec(const std::string& container, const ExecCreate& spec) override;
  Status startExecDetached(const std::string& execId) override;
  Result<std::unique_ptr<AttachedStream>> startExecAttached(const std::string& execId, bool tty) override;
  Result<ExecInspect> inspectExec(const std::string& execId) override;
  Status resizeExecTty(const std::string& execId, int height, int width) override;

  Status events(const EventsOptions& options, const EventFn& onEvent, std::stop_token stop) override;

 private:
  struct Call;
  // The API version, negotiated once; errors are the cause alone (callers say what was asked).
  Result<ApiVersion> negotiate();
  // Gets a piece of a streamed body (or a line); false stops the stream, an error fails the call.
  using PieceFn = std::function<Result<bool>(std::string_view piece)>;

  // "/v1.41" + pathAndQuery, negotiating the version first if needed.
  Result<std::string> versioned(std::string_view what, std::string_view pathAndQuery);
  Result<transport::HttpRequest> request(std::string_view what, const Call& c);
  // One request with its whole answer; an error status becomes an engine error about `what`.
  Result<transport::HttpResponse> call(std::string_view what, const Call& c);
  // A request whose answer body is streamed to `onPiece`. Returns whether the body ran to its end
  // (false: onPiece or `stop` ended it early, which is not an error).
  // `onIdle`: see transport::IdleFn.
  Result<bool> streamBody(std::string_view what, const Call& c, transport::Timeout headerTimeout,
                          transport::Timeout bodyTimeout, const PieceFn& onPiece, std::stop_token stop,
                          const transport::IdleFn& onIdle = {});
  // The same for a body of JSON lines, one line at a time.
  Status streamLines(std::string_view what, const Call& c, transport::Timeout headerTimeout,
                     transport::Timeout bodyTimeout, const PieceFn& onLine, std::stop_token stop,
                     const transport::IdleFn& onIdle = {});
  // A request whose answer is a stream of progress messages (build, load, import, pull); a message
  // with an error fails it (InvalidArgument). Returns the texts printed.
  Result<std::vector<std::string>> progressCall(std::string_view what, const Call& c,
                                                const ProgressFn& onProgress, std::string* auxId);
  Result<std::unique_ptr<AttachedStream>> hijack(std::string_view what, const Call& c, bool tty);

  std::string address_;
  std::string description_;  // Endpoint::describe(): how every error names this engine
  std::unique_ptr<transport::HttpClient> client_;
  std::optional<ApiVersion> pinned_;
  EngineOptions options_;
  std::mutex versionMu_;
  std::optional<ApiVersion> version_;  // guarded by versionMu_
};

// An engine client over `transport`, made for `endpoint`: what makeEngine and makeSocketEngine
// return. A transport that could not be made fails with the endpoint named.
Result<std::unique_ptr<Engine>> engineOver(const Endpoint& endpoint,
                                           Result<std::unique_ptr<transport::Transport>> transport,
                                           const EngineOptions& options);

}  // namespace berth::engine
