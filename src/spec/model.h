// The canonical compose model: what a set of compose files means once loaded (spec/loader.h).
//
// Every attribute is in its one canonical form, whatever syntax the files used: ports and volumes in
// long syntax (port ranges expanded to one entry per port), environment and labels as maps,
// command/entrypoint/healthcheck.test as argument vectors, depends_on as a map of dependencies,
// durations as nanoseconds, byte sizes as integers, secrets' default targets filled in. This is the
// shape `docker compose config` prints (spec/render.h), so names follow the compose specification.
//
// Conventions: an empty string, a zero number or `false` means "not set" exactly where compose treats
// it so (and the printer omits it); std::optional marks attributes whose zero value is meaningful
// (`scale: 0`, `init: false`, an explicitly empty `command: []`). Maps are std::map so iteration and
// printing are sorted by key. x-* extensions are kept verbatim in `extensions` members.
//
// Plain values: no I/O, no shared state; copy freely.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "spec/value.h"

namespace berth::spec {

using Duration = std::chrono::nanoseconds;
using Extensions = std::map<std::string, Value>;     // x-* keys, verbatim
using Mapping = std::map<std::string, std::string>;  // labels, sysctls, driver options...
// environment and build args: a null value means "declared without a value" (KEY); it is resolved
// from the environment when the loader can, and otherwise passed through as unset.
using MappingWithEquals = std::map<std::string, std::optional<std::string>>;

struct Ulimit {
  std::int64_t single = 0;  // `nofile: 1024` (soft = hard); 0 when the soft/hard form is used
  std::int64_t soft = 0;
  std::int64_t hard = 0;
  friend bool operator==(const Ulimit&, const Ulimit&) = default;
};

// One published or exposed port, long syntax. `published` is a string because it may be a range
// ("8000-8010") or empty (an ephemeral host port).
struct Port {
  std::string name;
  std::string mode = "ingress";  // "ingress" or "host"
  std::string hostIp;
  std::uint32_t target = 0;
  std::string published;
  std::string protocol = "tcp";
  std::string appProtocol;
  // Only with interpolation disabled: a short-syntax entry that still holds a variable and so cannot
  // be parsed yet, printed back verbatim. Empty otherwise.
  std::string unparsed;
  Extensions extensions;
};

struct BindOptions {
  std::string propagation;     // rprivate, private, rshared, shared, rslave, slave
  std::string selinux;         // "z" or "Z"
  bool createHostPath = true;  // create the source directory if missing
  std::string recursive;       // enabled, disabled, writable, readonly
  Extensions extensions;
};

struct VolumeOptions {
  Mapping labels;
  bool nocopy = false;
  std::string subpath;
  Extensions extensions;
};

struct TmpfsOptions {
  std::int64_t size = 0;  // bytes; 0 = engine default
  std::uint32_t mode = 0;
  Extensions extensions;
};

struct ImageOptions {
  std::string subpath;
  Extensions extensions;
};

// A mount of a service: type is "bind", "volume", "tmpfs", "image", "npipe" or "cluster".
// For "volume" an empty source is an anonymous volume.
struct VolumeMount {
  std::string type;
  std::string source;
  std::string target;
  bool readOnly = false;
  std::string consistency;
  std::optional<BindOptions> bind;
  std::optional<VolumeOptions> volume;
  std::optional<TmpfsOptions> tmpfs;
  std::optional<ImageOptions> image;
  Extensions extensions;
};

// A reference from a service to a secret or config (and build secrets).
struct FileReference {
  std::string source;
  std::string target;  // secrets default to /run/secrets/<source>
  std::string uid;
  std::string gid;
  std::optional<std::uint32_t> mode;  // permission bits, printed in octal
  Extensions extensions;
};

struct Dependency {
  std::string condition = "service_started";  // service_started, service_healthy,
                                              // service_completed_successfully
  bool restart = false;                       // restart this service when the dependency is updated
  bool required = true;                       // false: the dependency may be absent or disabled
  Extensions extensions;
};

struct Healthcheck {
  std::optional<std::vector<std::string>> test;  // ["CMD", ...], ["CMD-SHELL", "..."], ["NONE"]
  std::optional<Duration> timeout;
  std::optional<Duration> interval;
  std::optional<std::uint64_t> retries;
  std::optional<Duration> startPeriod;
  std::optional<Duration> startInterval;
  bool disable = false;
  Extensions extensions;
};

struct DeviceRequest {
  std::vector<std::string> capabilities;
  std::string driver;
  std::int64_t count = 0;  // -1 = all
  std::vector<std::string> deviceIds;
  Mapping options;
  Extensions extensions;
};

struct GenericResource {
  std::string kind;
  std::int64_t value = 0;
  Extensions extensions;
};

struct Resource {
  double cpus = 0;
  std::int64_t memory = 0;  // bytes
  std::int64_t pids = 0;
  std::vector<DeviceRequest> devices;
  std::vector<GenericResource> genericResources;
  Extensions extensions;
};

struct UpdateConfig {
  std::optional<std::uint64_t> parallelism;
  std::optional<Duration> delay;
  std::string failureAction;
  std::optional<Duration> monitor;
  double maxFailureRatio = 0;
  std::string order;
  Extensions extensions;
};

struct RestartPolicy {
  std::string condition;
  std::optional<Duration> delay;
  std::optional<std::uint64_t> maxAttempts;
  std::optional<Duration> window;
  Extensions extensions;
};

struct Placement {
  std::vector<std::string> constraints;
  std::vector<std::string> preferences;  // spread expressions
  std::uint64_t maxReplicasPerNode = 0;
  Extensions extensions;
};

struct Deploy {
  std::string mode;             // replicated, global, replicated-job, global-job
  std::optional<int> replicas;  // not part of the configuration hash
  Mapping labels;
  std::optional<UpdateConfig> updateConfig;
  std::optional<UpdateConfig> rollbackConfig;
  std::optional<Resource> limits;
  std::optional<Resource> reservations;
  std::optional<RestartPolicy> restartPolicy;
  Placement placement;
  std::string endpointMode;
  Extensions extensions;
};

struct Logging {
  std::string driver;
  Mapping options;
  Extensions extensions;
};

struct ServiceNetwork {
  std::vector<std::string> aliases;
  Mapping driverOpts;
  int gwPriority = 0;
  std::string interfaceName;
  std::string ipv4Address;
  std::string ipv6Address;
  std::vector<std::string> linkLocalIps;
  std::string macAddress;
  int priority = 0;
  Extensions extensions;
};

struct DeviceMapping {
  std::string source;
  std::string target;
  std::string permissions;
  Extensions extensions;
};

struct EnvFile {
  std::string path;
  bool required = true;
  std::string format;  // "" (dotenv) or "raw"
};

struct SshKey {
  std::string id;    // "default" or a key name
  std::string path;  // empty: use the agent
};

struct Build {
  std::string context;
  std::string dockerfile;
  std::string dockerfileInline;
  std::vector<std::string> entitlements;
  MappingWithEquals args;
  std::string provenance;
  std::string sbom;
  std::vector<SshKey> ssh;
  Mapping labels;
  std::vector<std::string> cacheFrom;
  std::vector<std::string> cacheTo;
  bool noCache = false;
  std::vector<std::string> noCacheFilter;
  Mapping additionalContexts;
  bool pull = false;
  std::map<std::string, std::vector<std::string>> extraHosts;
  std::string isolation;
  std::string network;
  std::string target;
  std::vector<FileReference> secrets;
  std::int64_t shmSize = 0;
  std::vector<std::string> tags;
  std::map<std::string, Ulimit> ulimits;
  std::vector<std::string> platforms;
  bool privileged = false;
  Extensions extensions;
};

// A lifecycle hook (post_start, pre_stop) or an init step (pre_start, which may name its own image).
struct Hook {
  std::string image;
  std::vector<std::string> command;
  std::string user;
  bool privileged = false;
  std::string workingDir;
  MappingWithEquals environment;
  bool perReplica = false;  // pre_start only
  Extensions extensions;
};

struct WatchRule {
  std::string path;
  std::string action;  // sync, rebuild, restart, sync+restart, sync+exec
  std::string target;
  std::vector<std::string> ignore;
  std::vector<std::string> include;
  bool initialSync = false;
  std::vector<Hook> exec;  // sync+exec: at most one entry
  Extensions extensions;
};

struct Develop {
  std::vector<WatchRule> watch;
  Extensions extensions;
};

struct WeightDevice {
  std::string path;
  std::uint16_t weight = 0;
};

struct ThrottleDevice {
  std::string path;
  std::int64_t rate = 0;
};

struct BlkioConfig {
  std::uint16_t weight = 0;
  std::vector<WeightDevice> weightDevice;
  std::vector<ThrottleDevice> deviceReadBps;
  std::vector<ThrottleDevice> deviceReadIops;
  std::vector<ThrottleDevice> deviceWriteBps;
  std::vector<ThrottleDevice> deviceWriteIops;
  Extensions extensions;
};

struct CredentialSpec {
  std::string config;
  std::string file;
  std::string registry;
  Extensions extensions;
};

struct Provider {
  std::string type;
  std::map<std::string, std::vector<std::string>> options;
  Extensions extensions;
};

struct ServiceModel {
  std::string endpointVar;
  std::string modelVar;
  Extensions extensions;
};

// berth's own `x-berth-ssh` on a service (docs/access.md): who may log in to its containers through
// `berth gateway`, as which user, and which services it reaches over SSH itself. Bound from the
// extension (with file:line errors for a bad shape); the extension is also kept verbatim in
// Service::extensions, so the canonical output prints it as written.
struct SshAccess {
  // Public keys in authorized_keys form ("ssh-ed25519 AAAA... comment"): the inline ones, then the
  // key lines of each file in keyFiles, in order (the loader reads the files).
  std::vector<std::string> authorizedKeys;
  std::vector<std::string> keyFiles;  // `{file: PATH}` entries; absolute once paths are resolved
  std::string user;                   // the user inside the container; empty means root
  bool allowForwarding = false;       // ssh -L to the container and ssh -A into it
  std::vector<std::string> to;        // services this one reaches over SSH (trust between services)
  friend bool operator==(const SshAccess&, const SshAccess&) = default;
};

struct Service {
  std::string name;  // the key under `services`
  std::vector<std::string> profiles;
  Mapping annotations;
  std::optional<bool> attach;
  std::optional<Build> build;
  std::optional<Develop> develop;
  std::optional<BlkioConfig> blkioConfig;
  std::vector<std::string> capAdd;
  std::vector<std::string> capDrop;
  std::string cgroupParent;
  std::string cgroup;
  std::int64_t cpuCount = 0;
  double cpuPercent = 0;
  std::int64_t cpuPeriod = 0;
  std::int64_t cpuQuota = 0;
  std::int64_t cpuRtPeriod = 0;
  std::int64_t cpuRtRuntime = 0;
  double cpus = 0;
  std::string cpuset;
  std::int64_t cpuShares = 0;
  std::optional<std::vector<std::string>> command;  // nullopt: the image's CMD
  std::vector<FileReference> configs;
  std::string containerName;
  std::optional<CredentialSpec> credentialSpec;
  std::map<std::string, Dependency> dependsOn;
  std::optional<Deploy> deploy;
  std::vector<std::string> deviceCgroupRules;
  std::vector<DeviceMapping> devices;
  std::vector<std::string> dns;
  std::vector<std::string> dnsOpt;
  std::vector<std::string> dnsSearch;
  std::string domainName;
  std::optional<std::vector<std::string>> entrypoint;  // nullopt: the image's ENTRYPOINT
  std::optional<Provider> provider;
  MappingWithEquals environment;
  std::vector<EnvFile> envFiles;
  std::vector<std::string> expose;
  std::vector<std::string> externalLinks;
  std::map<std::string, std::vector<std::string>> extraHosts;  // host -> addresses
  std::vector<std::string> groupAdd;
  std::vector<DeviceRequest> gpus;
  std::string hostname;
  std::optional<Healthcheck> healthcheck;
  std::string image;
  std::optional<bool> init;
  std::string ipc;
  std::string isolation;
  Mapping labels;
  std::vector<std::string> labelFiles;
  std::vector<std::string> links;
  std::optional<Logging> logging;
  std::int64_t memLimit = 0;
  std::int64_t memReservation = 0;
  std::int64_t memswapLimit = 0;
  std::int64_t memSwappiness = 0;
  std::string macAddress;
  std::map<std::string, std::optional<ServiceModel>> models;
  std::string networkMode;  // "host", "none", "bridge", "service:NAME", "container:NAME"
  std::map<std::string, std::optional<ServiceNetwork>> networks;  // null: defaults
  bool oomKillDisable = false;
  std::int64_t oomScoreAdj = 0;
  std::string pid;
  std::int64_t pidsLimit = 0;
  std::string platform;
  std::vector<Port> ports;
  std::vector<Hook> preStart;
  std::vector<Hook> postStart;
  std::vector<Hook> preStop;
  bool privileged = false;
  std::string pullPolicy;
  bool readOnly = false;
  std::string restart;
  std::string runtime;
  std::optional<int> scale;  // not part of the configuration hash
  std::vector<FileReference> secrets;
  std::vector<std::string> securityOpt;
  std::int64_t shmSize = 0;
  bool stdinOpen = false;
  std::optional<Duration> stopGracePeriod;
  std::string stopSignal;
  Mapping storageOpt;
  Mapping sysctls;
  std::vector<std::string> tmpfs;
  bool tty = false;
  std::map<std::string, Ulimit> ulimits;
  bool useApiSocket = false;
  std::string user;
  std::string usernsMode;
  std::string uts;
  std::vector<VolumeMount> volumes;
  std::vector<std::string> volumesFrom;
  std::string workingDir;
  std::optional<SshAccess> ssh;  // x-berth-ssh
  Extensions extensions;

  // The number of containers: scale, else deploy.replicas, else 1.
  int replicaCount() const;
};

struct IpamPool {
  std::string subnet;
  std::string gateway;
  std::string ipRange;
  Mapping auxAddresses;
  Extensions extensions;
};

struct Ipam {
  std::string driver;
  std::vector<IpamPool> config;
  Mapping options;
  Extensions extensions;
};

struct Network {
  std::string name;  // engine-side name; normalization sets <project>_<key> unless external
  std::string driver;
  Mapping driverOpts;
  Ipam ipam;
  bool external = false;
  bool internal = false;
  bool attachable = false;
  Mapping labels;
  std::optional<bool> enableIpv4;
  std::optional<bool> enableIpv6;
  Extensions extensions;
};

struct Volume {
  std::string name;
  std::string driver;
  Mapping driverOpts;
  bool external = false;
  Mapping labels;
  Extensions extensions;
};

// A top-level secret or config: exactly one of file, environment, content, external.
struct FileObject {
  std::string name;
  std::string file;
  std::string environment;
  std::string content;  // inline content, or the value read from `environment`
  bool external = false;
  Mapping labels;
  std::string driver;
  Mapping driverOpts;
  std::string templateDriver;
  Extensions extensions;
};

struct Model {
  std::string name;
  std::string model;
  std::int64_t contextSize = 0;
  std::vector<std::string> runtimeFlags;
  Extensions extensions;
};

struct Project {
  std::string name;
  std::string workingDir;                           // absolute project directory
  std::vector<std::string> composeFiles;            // the files loaded, in order
  std::map<std::string, std::string> environment;   // what interpolation saw (process env + .env)
  std::map<std::string, Service> services;          // enabled services
  std::map<std::string, Service> disabledServices;  // inactive profiles / not selected
  std::map<std::string, Network> networks;
  std::map<std::string, Volume> volumes;
  std::map<std::string, FileObject> secrets;
  std::map<std::string, FileObject> configs;
  std::map<std::string, Model> models;
  Extensions extensions;              // top-level x-*
  std::vector<std::string> profiles;  // profiles in effect
  std::vector<std::string> warnings;  // non-fatal findings (obsolete `version`, ...)
};

}  // namespace berth::spec
