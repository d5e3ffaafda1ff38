// Engine: one Docker engine, as berth uses it. The real implementation speaks the Engine API over a
// Transport (engine/http_engine.h, made by makeEngine); tests of the planner and reconciler use a
// fake with the same interface.
//
// Every method blocks until the engine answered, with a deadline (EngineOptions): nothing waits
// forever except streams the caller stops itself (events, followed logs, attached sessions), which
// take a std::stop_token. Errors read "engine <url>: <what was asked>: <what the engine said>
// (<HTTP status>)", e.g. "engine unix:///run/x.sock: create container web-1: No such image:
// web:latest (404)", with codes NotFound (404), Conflict (409), InvalidArgument (400),
// PermissionDenied (401/403), Internal (500), Unavailable / DeadlineExceeded for the connection.
//
// Thread-safety: all methods may be called from many threads at once.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "engine/api_version.h"
#include "engine/types.h"

namespace berth::engine {

struct Endpoint;

// Container output: which stream and the bytes.
using OutputSink = std::function<void(OutputStream stream, std::string_view data)>;
// A line of progress (build, load): the text the engine printed, without JSON.
using ProgressFn = std::function<void(std::string_view text)>;
// Writes a stream (a build context's tar) to the sink it is given, piece by piece; the sink's error
// stops it and is returned.
using ContextWriter = std::function<Status(const std::function<Status(std::string_view piece)>& sink)>;
// Receives each event; returns false to stop the stream.
using EventFn = std::function<bool(const Event& event)>;

// The stdin and output of an attached container or exec, over a hijacked connection. One thread may
// read output while another writes stdin; cancel() may be called from any thread.
class AttachedStream {
 public:
  virtual ~AttachedStream() = default;

  // Raw TTY stream (everything is stdout) rather than multiplexed stdout/stderr.
  virtual bool tty() const = 0;
  // Sends bytes to the process's stdin. Blocks until written (at most the engine's request timeout).
  virtual Status writeStdin(std::string_view data) = 0;
  // Half-closes: the process reads end-of-file on stdin; its output keeps coming.
  virtual Status closeStdin() = 0;
  // Blocks until output arrives; nullopt when the output ended (the process exited or detached).
  virtual Result<std::optional<OutputChunk>> readOutput() = 0;
  // Makes blocked and later calls fail with Cancelled.
  virtual void cancel() = 0;
};

// A `docker load` in progress (Engine::beginImageLoad): the `docker save` tar is written piece by
// piece as it is produced, so an image never has to be held whole. Nothing is buffered beyond the
// piece being written; a write blocks until the engine took the piece (one slow engine slows its
// writer down rather than filling memory).
//
// Destroying a load before finish() (or after a failed write) abandons it: the engine sees the
// request cut short and loads nothing.
//
// Thread-safety: write() and finish() from one thread at a time; cancel() from any thread. Must not
// outlive the Engine that made it.
class ImageLoad {
 public:
  virtual ~ImageLoad() = default;
  // Sends the next piece of the tar (any size; empty is ignored). Blocks until it was written, at
  // most the engine's long timeout for the whole load. Errors read like the engine's other errors
  // ("engine <url>: load images: ..."); when the engine refused the load before reading all of it,
  // the error is what it answered. After an error the load is over: later writes and finish() fail
  // the same way.
  virtual Status write(std::string_view piece) = 0;
  // Ends the tar and waits for the engine to load it; returns what loadImage returns. Call once.
  // A tar the engine cannot load fails with its message, InvalidArgument as for other progress
  // streams ("engine <url>: load images: Error processing tar file(exit status 1): archive/tar:
  // invalid tar header": dockerd reads a bad tar to its end and then says so).
  virtual Result<std::vector<std::string>> finish() = 0;
  // Makes a blocked write() or finish(), and every later one, fail with Cancelled; the engine loads
  // nothing (unless finish() already returned). Never blocks.
  virtual void cancel() = 0;
};

// A tar streamed into a container's filesystem (PUT /containers/{id}/archive), made by
// Engine::beginPutArchive: write() each piece as it is produced, then finish(). Nothing is buffered
// beyond the piece being written, so an archive of any size (a volume's backup) passes through in
// constant memory. Destroying an upload before finish() abandons it: the engine sees the request
// cut short and extracts nothing further.
//
// Thread-safety: write() and finish() from one thread at a time; cancel() from any thread. Must not
// outlive the Engine that made it.
class ArchiveUpload {
 public:
  virtual ~ArchiveUpload() = default;
  // Sends the next piece of the tar (any size; empty is ignored). Blocks until it was written, at
  // most the engine's long timeout for the whole upload. When the engine refused the archive before
  // reading all of it (no such container or path, a bad tar), the error is what it answered. After
  // an error the upload is over: later writes and finish() fail the same way.
  virtual Status write(std::string_view piece) = 0;
  // Ends the tar and waits for the engine to extract it. Errors: the engine's answer
  // (NotFound for a missing container or path, InvalidArgument for a tar it cannot read). Call once.
  virtual Status finish() = 0;
  // Makes a blocked write() or finish(), and every later one, fail with Cancelled. Never blocks.
  virtual void cancel() = 0;
};

class Engine {
 public:
  virtual ~Engine() = default;

  // The engine's canonical URL ("unix:///var/run/docker.sock"), as messages name it.
  virtual const std::string& address() const = 0;
  // The API version in use: the lower of the engine's and kMaxApiVersion, negotiated through
  // /_ping on first use (or DOCKER_API_VERSION).
  virtual Result<ApiVersion> apiVersion() = 0;

  // Closes the connections kept open for reuse (the next call opens one). For a client that will
  // be quiet for a while, such as berthd's to a host between deploys. Engines without a connection
  // pool have nothing to do.
  virtual void closeIdleConnections() {}

  // --- System
  virtual Result<PingResult> ping() = 0;
  virtual Result<EngineVersion> version() = 0;
  virtual Result<EngineInfo> info() = 0;

  // --- Images
  virtual Result<std::vector<ImageSummary>> listImages(const ListImagesOptions& options) = 0;
  virtual Result<ImageInspect> inspectImage(const std::string& ref) = 0;
  // Builds from a tar of the build context. `onProgress` (may be empty) gets the build's output as it
  // happens. A failing step is an error with the engine's message (code Internal for the build
  // itself, InvalidArgument for a bad Dockerfile).
  virtual Result<BuildResult> buildImage(std::string_view contextTar, const BuildOptions& options,
                                         const ProgressFn& onProgress) = 0;
  // The same with the context streamed as `writer` produces it (engine::BuildContextSource::writeTo),
  // so a context of any size is never held whole. The default gathers it and calls buildImage, for
  // engines (fakes) that do not stream.
  virtual Result<BuildResult> buildImageStreamed(const ContextWriter& writer, const BuildOptions& options,
                                                 const ProgressFn& onProgress) {
    std::string tar;
    BERTH_TRY(writer([&](std::string_view piece) -> Status {
      tar += piece;
      return ok();
    }));
    return buildImage(tar, options, onProgress);
  }
  // Creates an image from a tar of a root file system; returns its ID.
  virtual Result<std::string> importImage(std::string_view rootfsTar, const ImportImageOptions& options) = 0;
  // Loads images from a `docker save` tar; returns what the engine loaded ("busybox:latest", IDs).
  // The tar is in memory whole: to stream one, use beginImageLoad.
  virtual Result<std::vector<std::string>> loadImage(std::string_view tar) = 0;
  // Starts a `docker load` whose tar is written piece by piece (ImageLoad). Errors: reaching the
  // engine (the load's request is sent before this returns).
  virtual Result<std::unique_ptr<ImageLoad>> beginImageLoad() = 0;
  // A `docker save` tar of the images (with their tags), for loadImage on another engine. Holds the
  // whole tar in memory: to stream it, use saveImagesTo.
  virtual Result<std::string> saveImages(const std::vector<std::string>& refs) = 0;
  // Streams the `docker save` tar of `refs` to `sink` as it arrives from the engine, in pieces of at
  // most 64 KiB (as the transport delivers them), holding none of it. `sink` returns false to stop;
  // then, and when `stop` is requested, returns Cancelled. A missing image is NotFound (the engine
  // refuses before sending anything). Blocks until the tar ended, at most the engine's long timeout.
  // An engine that fails after it started sending can only cut the stream short (or, for dockerd,
  // append its error message to it): the tar then does not load, so check what a load produced.
  virtual Status saveImagesTo(const std::vector<std::string>& refs,
                              const std::function<bool(std::string_view piece)>& sink,
                              std::stop_token stop) = 0;
  // Pulls `ref` ("name[:tag]" or "name@digest") from its registry. `platform` may be empty;
  // `onProgress` (may be empty) gets the engine's status lines. Errors carry the engine's message
  // (an unreachable registry is InvalidArgument or Internal with the registry's address in it).
  virtual Status pullImage(const std::string& ref, const std::string& platform,
                           const ProgressFn& onProgress) = 0;
  virtual Status tagImage(const std::string& source, const std::string& repo, const std::string& tag) = 0;
  virtual Result<std::vector<ImageDeleteItem>> removeImage(const std::string& ref,
                                                           const RemoveImageOptions& options) = 0;

  // --- Containers
  virtual Result<ContainerCreated> createContainer(const ContainerCreate& spec) = 0;
  // Starting a running container succeeds (the engine answers 304).
  virtual Status startContainer(const std::string& id) = 0;
  // Stopping a stopped container succeeds. `timeoutSeconds`: grace before SIGKILL (unset: the
  // container's StopTimeout, else 10s).
  virtual Status stopContainer(const std::string& id, std::optional<int> timeoutSeconds) = 0;
  virtual Status killContainer(const std::string& id, const std::string& signal) = 0;
  virtual Status restartContainer(const std::string& id, std::optional<int> timeoutSeconds) = 0;
  virtual Status removeContainer(const std::string& id, const RemoveContainerOptions& options) = 0;
  virtual Result<ContainerInspect> inspectContainer(const std::string& id) = 0;
  virtual Result<std::vector<ContainerSummary>> listContainers(const ListContainersOptions& options) = 0;
  // Delivers the container's output to `sink`; with options.follow, until the container stops or
  // `stop` is requested (then returns ok).
  virtual Status containerLogs(const std::string& id, const LogsOptions& options, const OutputSink& sink,
                               std::stop_token stop) = 0;
  // Blocks until the condition holds or `timeout` passes (DeadlineExceeded).
  virtual Result<WaitResult> waitContainer(const std::string& id, WaitCondition condition,
                                           std::chrono::milliseconds timeout) = 0;
  // Extracts `tar` into the directory `path` in the container.
  virtual Status putArchive(const std::string& id, const std::string& path, std::string_view tar,
                            const PutArchiveOptions& options) = 0;
  // A tar of `path` in the container, with its stat.
  virtual Result<ArchiveResult> getArchive(const std::string& id, const std::string& path) = 0;
  // Streams the tar of `path` in the container to `sink` as it arrives from the engine, in pieces
  // of at most 64 KiB, holding none of it; returns the path's stat (the answer's
  // X-Docker-Container-Path-Stat). `sink` returns false to stop; then, and when `stop` is requested,
  // returns Cancelled. Errors: NotFound for a missing container or path (before any byte). Blocks
  // until the tar ended, at most the engine's long timeout.
  virtual Result<PathStat> getArchiveTo(const std::string& id, const std::string& path,
                                        const std::function<bool(std::string_view piece)>& sink,
                                        std::stop_token stop) = 0;
  // Starts a PUT of a tar into the container at `path` (a directory that exists), whose body the
  // returned upload streams. The request's head is sent before this returns.
  virtual Result<std::unique_ptr<ArchiveUpload>> beginPutArchive(const std::string& id, const std::string& path,
                                                                 const PutArchiveOptions& options) = 0;
  virtual Result<PathStat> statPath(const std::string& id, const std::string& path) = 0;
  // One sample of the container's resource usage.
  virtual Result<ContainerStats> containerStats(const std::string& id) = 0;
  virtual Status pauseContainer(const std::string& id) = 0;
  virtual Status unpauseContainer(const std::string& id) = 0;
  virtual Result<TopResult> topContainer(const std::string& id, const std::string& psArgs) = 0;
  virtual Status renameContainer(const std::string& id, const std::string& newName) = 0;
  // Attaches to a container's stdio (inspecting it first to know whether it has a TTY).
  virtual Result<std::unique_ptr<AttachedStream>> attachContainer(const std::string& id,
                                                                  const AttachOptions& options) = 0;
  virtual Status resizeContainerTty(const std::string& id, int height, int width) = 0;

  // --- Networks
  // Returns the new network's ID.
  virtual Result<std::string> createNetwork(const NetworkCreate& spec) = 0;
  virtual Result<Network> inspectNetwork(const std::string& idOrName) = 0;
  virtual Result<std::vector<Network>> listNetworks(const Filters& filters) = 0;
  virtual Status connectNetwork(const std::string& network, const std::string& container,
                                const EndpointSettings& endpoint) = 0;
  virtual Status disconnectNetwork(const std::string& network, const std::string& container, bool force) = 0;
  virtual Status removeNetwork(const std::string& idOrName) = 0;

  // --- Volumes
  virtual Result<Volume> createVolume(const VolumeCreate& spec) = 0;
  virtual Result<Volume> inspectVolume(const std::string& name) = 0;
  virtual Result<std::vector<Volume>> listVolumes(const Filters& filters) = 0;
  // Every volume with its size and how many containers mount it (GET /system/df?type=volume: the
  // engine walks the volumes' files, so this takes a while on big volumes).
  virtual Result<std::vector<Volume>> volumeUsage() = 0;
  virtual Status removeVolume(const std::string& name, bool force) = 0;

  // --- Exec
  // Returns the exec's ID.
  virtual Result<std::string> createExec(const std::string& container, const ExecCreate& spec) = 0;
  // Starts the exec in the background.
  virtual Status startExecDetached(const std::string& execId) = 0;
  // Starts the exec attached to its stdio. `tty` must be what the exec was created with.
  virtual Result<std::unique_ptr<AttachedStream>> startExecAttached(const std::string& execId, bool tty) = 0;
  virtual Result<ExecInspect> inspectExec(const std::string& execId) = 0;
  virtual Status resizeExecTty(const std::string& execId, int height, int width) = 0;

  // --- Events
  // Calls `onEvent` for each event until it returns false, options.until passes, or `stop` is
  // requested; all three return ok.
  virtual Status events(const EventsOptions& options, const EventFn& onEvent, std::stop_token stop) = 0;
};

struct EngineOptions {
  std::chrono::milliseconds connectTimeout = std::chrono::seconds(10);
  // For ordinary calls (stop and restart add their grace period).
  std::chrono::milliseconds requestTimeout = std::chrono::seconds(60);
  // For builds, loads, imports, archives and non-followed logs.
  std::chrono::milliseconds longTimeout = std::chrono::minutes(30);
};

// The engine client for `endpoint`. Does not connect yet (the first call does). Fails when the
// endpoint's TLS material does not load.
Result<std::unique_ptr<Engine>> makeEngine(const Endpoint& endpoint, const EngineOptions& options);
Result<std::unique_ptr<Engine>> makeEngine(const Endpoint& endpoint);
// As makeEngine, for unix:// and tcp:// endpoints (plain or mutual TLS); an ssh:// one is refused
// (InvalidArgument). A program that makes its engines only this way does not link the ssh://
// transport, and so does not load libssh and the Kerberos libraries libssh brings: 1 MiB of
// berthd's resident memory, and berthd reaches hosts only over TCP with mutual TLS.
Result<std::unique_ptr<Engine>> makeSocketEngine(const Endpoint& endpoint, const EngineOptions& options);

// Frees what the TLS library keeps for the calling thread (its error queue and random generators,
// a few KiB), for a long-lived thread that connects now and then (berthd's host agents: 100 of them
// held 0.35 MiB). Connections are not affected; the thread's next TLS call makes what it needs.
void releaseThreadTlsState();

}  // namespace berth::engine
