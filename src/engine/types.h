// The Docker Engine API's requests and answers as plain C++ structs (API 1.41 shapes; JSON only
// inside the engine's .cc files). Field names follow the API's, in camelCase, so the API reference
// documents them; comments note only what is berth-specific or easy to get wrong.
//
// Every member has a default, so designated and aggregate initialisation may leave any out.
// Conventions: an empty string, vector or map means "not set" (the engine's default), std::optional
// marks fields where "unset" differs from an empty or zero value (Cmd: unset = the image's, [] =
// none). Durations are nanoseconds as the API counts them; sizes are bytes.
//
// Thread-safety: plain values.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/time.h"

namespace berth::engine {

using Labels = std::map<std::string, std::string>;

// Which stream a piece of container output belongs to (the multiplexed stream's frame types).
enum class OutputStream { Stdin, Stdout, Stderr, System };
// "stdin", "stdout", "stderr", "system".
std::string_view outputStreamName(OutputStream stream);
// List filters as the API takes them: {"label": {"com.docker.compose.project=web"}, "status": {...}}.
using Filters = std::map<std::string, std::vector<std::string>>;

// ---------------------------------------------------------------------------------------------
// System

struct PingResult {
  std::string apiVersion{};  // the engine's newest API version
  std::string osType{};      // "linux"
  bool experimental = false;
  std::string builderVersion{};
};

struct EngineVersion {
  std::string version{};        // "20.10.24+dfsg1"
  std::string apiVersion{};     // the engine's newest
  std::string minApiVersion{};  // the engine's oldest
  std::string gitCommit{};
  std::string goVersion{};
  std::string os{};
  std::string arch{};
  std::string kernelVersion{};
  std::string buildTime{};
};

struct EngineInfo {
  std::string id{};
  std::string name{};  // host name of the engine's machine
  std::string serverVersion{};
  std::string operatingSystem{};
  std::string osType{};
  std::string osVersion{};
  std::string kernelVersion{};
  std::string architecture{};
  int containers = 0;
  int containersRunning = 0;
  int containersPaused = 0;
  int containersStopped = 0;
  int images = 0;
  std::string storageDriver{};
  std::string loggingDriver{};
  std::string cgroupDriver{};   // "cgroupfs", "systemd"
  std::string cgroupVersion{};  // "1", "2"
  int ncpu = 0;
  std::int64_t memTotal = 0;
  std::string dockerRootDir{};
  std::string defaultRuntime{};
  bool liveRestoreEnabled = false;
  std::vector<std::string> labels{};
  std::vector<std::string> warnings{};
  // The engine machine's clock when it answered (SystemTime); absent if unreadable. `since` and
  // `until` of logs and events are in this clock, which need not agree with berth's.
  std::optional<SystemNanos> systemTime{};
};

// ---------------------------------------------------------------------------------------------
// Images

struct HealthConfig {
  // ["CMD", args...], ["CMD-SHELL", command], ["NONE"] (disables the image's), or empty (inherit).
  std::vector<std::string> test{};
  std::chrono::nanoseconds interval{0};
  std::chrono::nanoseconds timeout{0};
  std::chrono::nanoseconds startPeriod{0};
  int retries = 0;

  friend bool operator==(const HealthConfig&, const HealthConfig&) = default;
};

struct ImageSummary {
  std::string id{};
  std::string parentId{};
  std::vector<std::string> repoTags{};
  std::vector<std::string> repoDigests{};
  std::int64_t created = 0;  // seconds since the epoch
  std::int64_t size = 0;
  Labels labels{};
  int containers = -1;  // -1: not computed by the engine
};

struct ListImagesOptions {
  bool all = false;   // include intermediate images
  Filters filters{};  // dangling, label, reference, before, since
};

// The parts of an image's config a compose runner inherits.
struct ImageConfig {
  std::string user{};
  std::vector<std::string> env{};
  std::vector<std::string> cmd{};
  std::vector<std::string> entrypoint{};
  std::string workingDir{};
  Labels labels{};
  std::vector<std::string> exposedPorts{};  // "80/tcp"
  std::vector<std::string> volumes{};       // "/data"
  std::string stopSignal{};
  std::optional<HealthConfig> healthcheck{};
};

struct ImageInspect {
  std::string id{};
  std::vector<std::string> repoTags{};
  std::vector<std::string> repoDigests{};
  std::string parent{};
  std::string comment{};
  std::string created{};  // RFC 3339
  std::string author{};
  std::string architecture{};
  std::string os{};
  std::int64_t size = 0;
  ImageConfig config{};
};

struct BuildOptions {
  std::string dockerfile = "Dockerfile";  // path inside the context
  std::vector<std::string> tags{};        // "name:tag"
  std::map<std::string, std::string> buildArgs{};
  std::string target{};  // multi-stage target
  Labels labels{};
  bool noCache = false;
  bool pull = false;
  bool remove = true;         // remove intermediate containers after a successful build
  bool forceRemove = false;   // ... and after a failed one
  std::string networkMode{};  // RUN steps' network: "default", "none", "host"
  std::vector<std::string> cacheFrom{};
  std::vector<std::string> extraHosts{};  // "name:ip"
  std::string platform{};
  std::int64_t shmSize = 0;
};

struct BuildResult {
  std::string imageId{};  // "sha256:..."
  std::string output{};   // everything the build printed
};

struct ImportImageOptions {
  std::string repo{};  // "name" to tag the new image with (optional)
  std::string tag{};
  std::string message{};
  std::vector<std::string> changes{};  // Dockerfile instructions: "CMD [\"sh\"]", "ENV A=b"
  std::string platform{};
};

struct RemoveImageOptions {
  bool force = false;
  bool noPrune = false;
};

struct ImageDeleteItem {
  std::string untagged{};
  std::string deleted{};
};

// ---------------------------------------------------------------------------------------------
// Containers

struct PortBinding {
  std::string hostIp{};
  std::string hostPort{};  // "" = any free port

  friend bool operator==(const PortBinding&, const PortBinding&) = default;
};
// "80/tcp" → host bindings.
using PortMap = std::map<std::string, std::vector<PortBinding>>;

enum class MountType { Bind, Volume, Tmpfs, Npipe };

struct BindOptions {
  std::string propagation{};  // "rprivate", "shared", ...
  bool nonRecursive = false;
  friend bool operator==(const BindOptions&, const BindOptions&) = default;
};

struct VolumeOptions {
  bool noCopy = false;
  Labels labels{};
  std::string driverName{};
  std::map<std::string, std::string> driverOptions{};
  friend bool operator==(const VolumeOptions&, const VolumeOptions&) = default;
};

struct TmpfsOptions {
  std::int64_t sizeBytes = 0;
  std::uint32_t mode = 0;  // octal permission bits, 0 = default (1777)
  friend bool operator==(const TmpfsOptions&, const TmpfsOptions&) = default;
};

struct Mount {
  MountType type = MountType::Volume;
  std::string source{};  // host path (bind), volume name (volume; empty = anonymous), unused (tmpfs)
  std::string target{};  // path in the container
  bool readOnly = false;
  std::string consistency{};
  std::optional<BindOptions> bindOptions{};
  std::optional<VolumeOptions> volumeOptions{};
  std::optional<TmpfsOptions> tmpfsOptions{};
  friend bool operator==(const Mount&, const Mount&) = default;
};

enum class RestartPolicyName { None, Always, UnlessStopped, OnFailure };

struct RestartPolicy {
  RestartPolicyName name = RestartPolicyName::None;
  int maximumRetryCount = 0;  // on-failure only
  friend bool operator==(const RestartPolicy&, const RestartPolicy&) = default;
};

struct Ulimit {
  std::string name{};  // "nofile"
  std::int64_t soft = 0;
  std::int64_t hard = 0;
  friend bool operator==(const Ulimit&, const Ulimit&) = default;
};

struct DeviceMapping {
  std::string pathOnHost{};
  std::string pathInContainer{};
  std::string cgroupPermissions = "rwm";
  friend bool operator==(const DeviceMapping&, const DeviceMapping&) = default;
};

struct LogConfig {
  std::string type{};  // "json-file", "local", "none", ...; empty = the engine's default
  std::map<std::string, std::string> config{};
  friend bool operator==(const LogConfig&, const LogConfig&) = default;
};

struct Resources {
  std::int64_t memory = 0;  // bytes; 0 = unlimited
  std::int64_t memoryReservation = 0;
  std::int64_t memorySwap = 0;  // -1 = unlimited swap
  std::optional<std::int64_t> memorySwappiness{};
  std::int64_t nanoCpus = 0;  // 1.5 CPUs = 1500000000
  std::int64_t cpuShares = 0;
  std::int64_t cpuPeriod = 0;
  std::int64_t cpuQuota = 0;
  std::string cpusetCpus{};
  std::string cpusetMems{};
  std::optional<std::int64_t> pidsLimit{};  // -1 or 0 = unlimited
  std::int64_t blkioWeight = 0;
  std::optional<bool> oomKillDisable{};
  std::vector<Ulimit> ulimits{};
  std::vector<DeviceMapping> devices{};
  friend bool operator==(const Resources&, const Resources&) = default;
};

struct HostConfig {
  std::vector<std::string> binds{};  // "src:dst[:opts]" short form
  std::vector<Mount> mounts{};
  std::map<std::string, std::string> tmpfs{};  // path → options ("size=64m,mode=1777")
  PortMap portBindings{};
  bool publishAllPorts = false;
  std::string networkMode{};  // "bridge", "host", "none", "container:<id>", or a network name
  RestartPolicy restartPolicy{};
  bool autoRemove = false;
  Resources resources{};
  std::vector<std::string> capAdd{};
  std::vector<std::string> capDrop{};
  bool privileged = false;
  bool readonlyRootfs = false;
  std::optional<bool> init{};  // unset = the engine's default
  LogConfig logConfig{};
  std::vector<std::string> extraHosts{};  // "name:ip"
  std::vector<std::string> dns{};
  std::vector<std::string> dnsSearch{};
  std::vector<std::string> dnsOptions{};
  std::map<std::string, std::string> sysctls{};
  std::int64_t shmSize = 0;
  std::vector<std::string> securityOpt{};
  std::vector<std::string> groupAdd{};
  std::string ipcMode{};
  std::string pidMode{};
  std::string utsMode{};
  std::string usernsMode{};
  std::string cgroupnsMode{};  // "private", "host"
  std::string cgroupParent{};
  std::vector<std::string> volumesFrom{};
  std::vector<std::string> links{};
  std::string runtime{};
  int oomScoreAdj = 0;
  friend bool operator==(const HostConfig&, const HostConfig&) = default;
};

// A container's settings on one network: what create/connect send.
struct EndpointSettings {
  std::vector<std::string> aliases{};
  std::vector<std::string> links{};
  std::string ipv4Address{};  // static address (IPAMConfig)
  std::string ipv6Address{};
  std::map<std::string, std::string> driverOpts{};
  friend bool operator==(const EndpointSettings&, const EndpointSettings&) = default;
};

struct ContainerConfig {
  std::string image{};
  std::string hostname{};
  std::string domainname{};
  std::string user{};
  std::vector<std::string> env{};  // "KEY=value"
  std::optional<std::vector<std::string>> cmd{};
  std::optional<std::vector<std::string>> entrypoint{};
  std::string workingDir{};
  Labels labels{};
  std::vector<std::string> exposedPorts{};  // "80/tcp"
  std::vector<std::string> volumes{};       // anonymous volumes: "/data"
  bool tty = false;
  bool openStdin = false;
  bool stdinOnce = false;
  bool attachStdin = false;
  bool attachStdout = false;
  bool attachStderr = false;
  std::optional<HealthConfig> healthcheck{};
  std::string stopSignal{};
  std::optional<int> stopTimeout{};  // seconds
  bool networkDisabled = false;
  std::string macAddress{};
  std::vector<std::string> shell{};
  friend bool operator==(const ContainerConfig&, const ContainerConfig&) = default;
};

struct ContainerCreate {
  std::string name{};  // empty: the engine picks one
  std::string platform{};
  ContainerConfig config{};
  HostConfig hostConfig{};
  // Network name → endpoint settings. The engine (API 1.41) accepts one network at create; connect
  // the others after creating.
  std::map<std::string, EndpointSettings> networks{};
};

struct ContainerCreated {
  std::string id{};
  std::vector<std::string> warnings{};
};

enum class ContainerStatus { Created, Running, Paused, Restarting, Removing, Exited, Dead, Unknown };
enum class HealthStatus { None, Starting, Healthy, Unhealthy };

std::string_view containerStatusName(ContainerStatus status);
std::string_view healthStatusName(HealthStatus status);

struct HealthLogEntry {
  std::string start{};
  std::string end{};
  int exitCode = 0;
  std::string output{};
};

struct HealthState {
  HealthStatus status = HealthStatus::None;
  int failingStreak = 0;
  std::vector<HealthLogEntry> log{};
};

struct ContainerState {
  ContainerStatus status = ContainerStatus::Unknown;
  bool running = false;
  bool paused = false;
  bool restarting = false;
  bool oomKilled = false;
  bool dead = false;
  int pid = 0;
  int exitCode = 0;
  std::string error{};
  std::string startedAt{};
  std::string finishedAt{};
  std::optional<HealthState> health{};  // only for containers with a healthcheck
};

struct MountPoint {
  std::string type{};  // "bind", "volume", "tmpfs"
  std::string name{};  // volume name
  std::string source{};
  std::string destination{};
  std::string driver{};
  std::string mode{};
  bool rw = true;
  std::string propagation{};
};

// A container's endpoint on one network, as inspect and list report it.
struct EndpointState {
  EndpointSettings settings{};  // aliases, static addresses as configured
  std::string networkId{};
  std::string endpointId{};
  std::string gateway{};
  std::string ipAddress{};
  int ipPrefixLen = 0;
  std::string ipv6Gateway{};
  std::string globalIpv6Address{};
  std::string macAddress{};
};

struct NetworkSettings {
  PortMap ports{};  // published ports with the host ports the engine chose
  std::map<std::string, EndpointState> networks{};
  std::string sandboxKey{};
};

struct ContainerInspect {
  std::string id{};
  std::string name{};  // without the leading "/"
  std::string created{};
  std::string path{};
  std::vector<std::string> args{};
  ContainerState state{};
  std::string image{};  // image ID ("sha256:...")
  int restartCount = 0;
  std::string driver{};
  std::string platform{};
  ContainerConfig config{};
  HostConfig hostConfig{};
  std::vector<MountPoint> mounts{};
  NetworkSettings networkSettings{};
};

struct PortSummary {
  std::string ip{};
  int privatePort = 0;
  int publicPort = 0;
  std::string type{};  // "tcp", "udp"
};

struct ContainerSummary {
  std::string id{};
  std::vector<std::string> names{};  // without the leading "/"
  std::string image{};
  std::string imageId{};
  std::string command{};
  std::int64_t created = 0;
  ContainerStatus state = ContainerStatus::Unknown;
  std::string status{};  // "Up 5 minutes (healthy)"
  Labels labels{};
  std::vector<PortSummary> ports{};
  std::map<std::string, EndpointState> networks{};
  std::vector<MountPoint> mounts{};
  std::string networkMode{};  // HostConfig.NetworkMode: "container:<ID>" when it shares another's
};

struct ListContainersOptions {
  bool all = false;   // include stopped containers
  Filters filters{};  // label, name, status, id, network, ...
};

struct RemoveContainerOptions {
  bool force = false;    // kill it if running
  bool volumes = false;  // remove its anonymous volumes
};

struct LogsOptions {
  bool stdoutStream = true;
  bool stderrStream = true;
  bool follow = false;
  bool timestamps = false;
  std::string since{};  // Unix time or RFC 3339
  std::string until{};
  std::string tail = "all";
};

enum class WaitCondition { NotRunning, NextExit, Removed };

struct WaitResult {
  std::int64_t statusCode = 0;
  std::string error{};
};

struct PathStat {
  std::string name{};
  std::int64_t size = 0;
  std::uint32_t mode = 0;  // Go's os.FileMode bits
  std::string mtime{};
  std::string linkTarget{};
};

struct ArchiveResult {
  std::string tar{};
  PathStat stat{};
};

struct PutArchiveOptions {
  bool noOverwriteDirNonDir = false;
  bool copyUidGid = false;
};

struct CpuUsage {
  std::uint64_t totalUsage = 0;   // ns
  std::uint64_t systemUsage = 0;  // ns
  int onlineCpus = 0;
};

struct NetworkIoStats {
  std::uint64_t rxBytes = 0;
  std::uint64_t txBytes = 0;
  std::uint64_t rxPackets = 0;
  std::uint64_t txPackets = 0;
};

struct ContainerStats {
  std::string read{};  // time of the sample
  CpuUsage cpu{};
  CpuUsage preCpu{};  // the previous sample (zero with one-shot stats)
  std::uint64_t memoryUsage = 0;
  std::uint64_t memoryLimit = 0;
  std::uint64_t pidsCurrent = 0;
  std::map<std::string, NetworkIoStats> networks{};
  std::uint64_t blockRead = 0;
  std::uint64_t blockWrite = 0;
};

struct TopResult {
  std::vector<std::string> titles{};
  std::vector<std::vector<std::string>> processes{};
};

// ---------------------------------------------------------------------------------------------
// Networks

struct IpamPool {
  std::string subnet{};
  std::string ipRange{};
  std::string gateway{};
  std::map<std::string, std::string> auxAddresses{};
  friend bool operator==(const IpamPool&, const IpamPool&) = default;
};

struct Ipam {
  std::string driver{};  // empty = "default"
  std::vector<IpamPool> config{};
  std::map<std::string, std::string> options{};
  friend bool operator==(const Ipam&, const Ipam&) = default;
};

struct NetworkCreate {
  std::string name{};
  std::string driver{};  // empty = "bridge"
  bool internal = false;
  bool attachable = false;
  bool enableIpv6 = false;
  Labels labels{};
  std::map<std::string, std::string> options{};  // driver options
  Ipam ipam{};
};

struct NetworkContainer {
  std::string name{};
  std::string endpointId{};
  std::string macAddress{};
  std::string ipv4Address{};  // CIDR
  std::string ipv6Address{};
};

struct Network {
  std::string id{};
  std::string name{};
  std::string created{};
  std::string scope{};
  std::string driver{};
  bool enableIpv6 = false;
  bool internal = false;
  bool attachable = false;
  bool ingress = false;
  Ipam ipam{};
  Labels labels{};
  std::map<std::string, std::string> options{};
  // Container ID → endpoint (inspect only; list leaves it empty).
  std::map<std::string, NetworkContainer> containers{};
};

// ---------------------------------------------------------------------------------------------
// Volumes

struct VolumeCreate {
  std::string name{};    // empty: the engine picks one
  std::string driver{};  // empty = "local"
  std::map<std::string, std::string> driverOpts{};
  Labels labels{};
};

// What a volume takes (GET /system/df computes it; -1: not known).
struct VolumeUsage {
  std::int64_t size = -1;      // bytes
  std::int64_t refCount = -1;  // containers that mount it
};

struct Volume {
  std::string name{};
  std::string driver{};
  std::string mountpoint{};
  std::string createdAt{};
  std::string scope{};
  Labels labels{};
  std::map<std::string, std::string> options{};
  std::optional<VolumeUsage> usage{};  // only from Engine::volumeUsage
};

// ---------------------------------------------------------------------------------------------
// Exec and attach

struct ExecCreate {
  std::vector<std::string> cmd{};
  std::vector<std::string> env{};
  std::string user{};
  std::string workingDir{};
  bool tty = false;
  bool attachStdin = false;
  bool attachStdout = true;
  bool attachStderr = true;
  bool privileged = false;
  std::string detachKeys{};
};

struct ExecInspect {
  std::string id{};
  std::string containerId{};
  bool running = false;
  std::optional<int> exitCode{};  // set once the process ended
  int pid = 0;
  bool openStdin = false;
  bool tty = false;
};

struct AttachOptions {
  bool stdinStream = false;
  bool stdoutStream = true;
  bool stderrStream = true;
  bool logs = false;  // replay what the container printed before attaching
  std::string detachKeys{};
};

struct OutputChunk {
  OutputStream stream = OutputStream::Stdout;
  std::string data{};
};

// ---------------------------------------------------------------------------------------------
// Events

struct EventsOptions {
  std::string since{};  // Unix time (may be fractional) or RFC 3339; empty: from now
  std::string until{};  // empty: until stopped
  Filters filters{};    // type, event, label, container, ...
  // Over zero: the whole answer must have come within this (a stream with `until`, which the
  // engine ends then); zero: no limit (an open stream has no end to wait for).
  std::chrono::milliseconds timeout{0};
  // Optional, for a caller that does timed work on the thread following the stream (berthd's host
  // agents probe their host between events): called on that thread once the stream is requested,
  // after each batch of events, and whenever the stream has been quiet until the time the previous
  // call returned; returns when it wants to be called next. Engines that deliver events without a
  // long wait (the test fakes) may never call it.
  std::function<std::chrono::steady_clock::time_point()> idle{};
};

struct Event {
  std::string type{};    // "container", "image", "network", "volume", "daemon", ...
  std::string action{};  // "start", "die", "health_status: healthy", ...
  std::string actorId{};
  std::map<std::string, std::string> attributes{};  // labels, "name", "exitCode", ...
  std::string scope{};
  std::int64_t time = 0;      // seconds
  std::int64_t timeNano = 0;  // nanoseconds
};

}  // namespace berth::engine
