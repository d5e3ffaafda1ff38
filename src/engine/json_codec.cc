// nlohmann::json lives here (and nowhere else in the engine). Every entry point catches its
// exceptions: nothing thrown by the library leaves this file.
#include "engine/json_codec.h"

#include <fmt/core.h>

#include <array>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "base/time.h"

namespace berth::engine::json {
namespace {

using nlohmann::json;

const json& nullJson() {
  static const json kNull;
  return kNull;
}

// --- Tolerant readers: missing, null or mistyped values read as empty.

const json& at(const json& j, const char* key) {
  if (!j.is_object()) return nullJson();
  const auto it = j.find(key);
  return it == j.end() ? nullJson() : *it;
}

std::string str(const json& j, const char* key) {
  const json& v = at(j, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

std::int64_t i64(const json& j, const char* key) {
  const json& v = at(j, key);
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_number_float()) return static_cast<std::int64_t>(v.get<double>());
  return 0;
}

std::uint64_t u64(const json& j, const char* key) {
  const json& v = at(j, key);
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer()) {
    const auto n = v.get<std::int64_t>();
    return n < 0 ? 0 : static_cast<std::uint64_t>(n);
  }
  return 0;
}

int i32(const json& j, const char* key) { return static_cast<int>(i64(j, key)); }

bool boolean(const json& j, const char* key) {
  const json& v = at(j, key);
  return v.is_boolean() && v.get<bool>();
}

std::optional<bool> optBool(const json& j, const char* key) {
  const json& v = at(j, key);
  if (!v.is_boolean()) return std::nullopt;
  return v.get<bool>();
}

std::optional<std::int64_t> optI64(const json& j, const char* key) {
  const json& v = at(j, key);
  if (!v.is_number()) return std::nullopt;
  return i64(j, key);
}

std::vector<std::string> strings(const json& v) {
  std::vector<std::string> out;
  if (!v.is_array()) return out;
  for (const auto& e : v) {
    if (e.is_string()) out.push_back(e.get<std::string>());
  }
  return out;
}
std::vector<std::string> strings(const json& j, const char* key) { return strings(at(j, key)); }

std::optional<std::vector<std::string>> optStrings(const json& j, const char* key) {
  const json& v = at(j, key);
  if (!v.is_array()) return std::nullopt;
  return strings(v);
}

std::map<std::string, std::string> stringMap(const json& j, const char* key) {
  std::map<std::string, std::string> out;
  const json& v = at(j, key);
  if (!v.is_object()) return out;
  for (const auto& [k, value] : v.items()) {
    if (value.is_string()) out[k] = value.get<std::string>();
  }
  return out;
}

// Keys of an object used as a set: {"80/tcp": {}}.
std::vector<std::string> keys(const json& j, const char* key) {
  std::vector<std::string> out;
  const json& v = at(j, key);
  if (!v.is_object()) return out;
  for (const auto& [k, value] : v.items()) out.push_back(k);
  return out;
}

// --- Writers that leave out empty values (the API's omitempty).

void put(json& j, const char* key, const std::string& value) {
  if (!value.empty()) j[key] = value;
}
void put(json& j, const char* key, const std::vector<std::string>& value) {
  if (!value.empty()) j[key] = value;
}
void put(json& j, const char* key, const std::map<std::string, std::string>& value) {
  if (!value.empty()) j[key] = value;
}
void putBool(json& j, const char* key, bool value) {
  if (value) j[key] = true;
}
void putInt(json& j, const char* key, std::int64_t value) {
  if (value != 0) j[key] = value;
}
void putSet(json& j, const char* key, const std::vector<std::string>& value) {
  if (value.empty()) return;
  json set = json::object();
  for (const auto& v : value) set[v] = json::object();
  j[key] = std::move(set);
}

// --- Parsing with the exceptions contained.

template <class T, class F>
Result<T> decode(std::string_view body, std::string_view what, F&& f) {
  try {
    const json j = json::parse(body.begin(), body.end());
    return f(j);
  } catch (const json::exception& e) {
    std::string excerpt(body.substr(0, 200));
    return fail(ErrorCode::Internal, fmt::format("unexpected answer from the engine ({}): {}: {}", what,
                                                 e.what(), berth::quoted(excerpt)));
  }
}

Unexpected wrongShape(std::string_view what, std::string_view expected) {
  return fail(ErrorCode::Internal,
              fmt::format("unexpected answer from the engine ({}): expected {}", what, expected));
}

// --- Shared pieces.

std::optional<HealthConfig> decodeHealth(const json& v) {
  if (!v.is_object()) return std::nullopt;
  HealthConfig h;
  h.test = strings(v, "Test");
  h.interval = std::chrono::nanoseconds(i64(v, "Interval"));
  h.timeout = std::chrono::nanoseconds(i64(v, "Timeout"));
  h.startPeriod = std::chrono::nanoseconds(i64(v, "StartPeriod"));
  h.retries = i32(v, "Retries");
  return h;
}

json encodeHealth(const HealthConfig& h) {
  json j = json::object();
  put(j, "Test", h.test);
  putInt(j, "Interval", h.interval.count());
  putInt(j, "Timeout", h.timeout.count());
  putInt(j, "StartPeriod", h.startPeriod.count());
  putInt(j, "Retries", h.retries);
  return j;
}

std::string_view mountTypeName(MountType type) {
  switch (type) {
    case MountType::Bind:
      return "bind";
    case MountType::Volume:
      return "volume";
    case MountType::Tmpfs:
      return "tmpfs";
    case MountType::Npipe:
      return "npipe";
  }
  return "volume";
}

std::optional<MountType> parseMountType(const std::string& text) {
  if (text == "bind") return MountType::Bind;
  if (text == "volume") return MountType::Volume;
  if (text == "tmpfs") return MountType::Tmpfs;
  if (text == "npipe") return MountType::Npipe;
  return std::nullopt;
}

std::string_view restartName(RestartPolicyName name) {
  switch (name) {
    case RestartPolicyName::None:
      return "no";
    case RestartPolicyName::Always:
      return "always";
    case RestartPolicyName::UnlessStopped:
      return "unless-stopped";
    case RestartPolicyName::OnFailure:
      return "on-failure";
  }
  return "no";
}

RestartPolicyName parseRestartName(const std::string& text) {
  if (text == "always") return RestartPolicyName::Always;
  if (text == "unless-stopped") return RestartPolicyName::UnlessStopped;
  if (text == "on-failure") return RestartPolicyName::OnFailure;
  return RestartPolicyName::None;
}

json encodePortMap(const PortMap& ports) {
  json j = json::object();
  for (const auto& [port, bindings] : ports) {
    json list = json::array();
    for (const auto& b : bindings) list.push_back({{"HostIp", b.hostIp}, {"HostPort", b.hostPort}});
    j[port] = std::move(list);
  }
  return j;
}

PortMap decodePortMap(const json& v) {
  PortMap out;
  if (!v.is_object()) return out;
  for (const auto& [port, list] : v.items()) {
    auto& bindings = out[port];
    if (!list.is_array()) continue;
    for (const auto& b : list) bindings.push_back({str(b, "HostIp"), str(b, "HostPort")});
  }
  return out;
}

json encodeMount(const Mount& m) {
  json j = json::object();
  j["Type"] = std::string(mountTypeName(m.type));
  put(j, "Source", m.source);
  j["Target"] = m.target;
  putBool(j, "ReadOnly", m.readOnly);
  put(j, "Consistency", m.consistency);
  if (m.bindOptions) {
    json b = json::object();
    put(b, "Propagation", m.bindOptions->propagation);
    putBool(b, "NonRecursive", m.bindOptions->nonRecursive);
    j["BindOptions"] = std::move(b);
  }
  if (m.volumeOptions) {
    json v = json::object();
    putBool(v, "NoCopy", m.volumeOptions->noCopy);
    put(v, "Labels", m.volumeOptions->labels);
    if (!m.volumeOptions->driverName.empty() || !m.volumeOptions->driverOptions.empty()) {
      json d = json::object();
      put(d, "Name", m.volumeOptions->driverName);
      put(d, "Options", m.volumeOptions->driverOptions);
      v["DriverConfig"] = std::move(d);
    }
    j["VolumeOptions"] = std::move(v);
  }
  if (m.tmpfsOptions) {
    json t = json::object();
    putInt(t, "SizeBytes", m.tmpfsOptions->sizeBytes);
    putInt(t, "Mode", m.tmpfsOptions->mode);
    j["TmpfsOptions"] = std::move(t);
  }
  return j;
}

std::optional<Mount> decodeMount(const json& v) {
  const auto type = parseMountType(str(v, "Type"));
  if (!type) return std::nullopt;
  Mount m;
  m.type = *type;
  m.source = str(v, "Source");
  m.target = str(v, "Target");
  m.readOnly = boolean(v, "ReadOnly");
  m.consistency = str(v, "Consistency");
  if (const json& b = at(v, "BindOptions"); b.is_object()) {
    m.bindOptions = BindOptions{str(b, "Propagation"), boolean(b, "NonRecursive")};
  }
  if (const json& o = at(v, "VolumeOptions"); o.is_object()) {
    VolumeOptions vo;
    vo.noCopy = boolean(o, "NoCopy");
    vo.labels = stringMap(o, "Labels");
    vo.driverName = str(at(o, "DriverConfig"), "Name");
    vo.driverOptions = stringMap(at(o, "DriverConfig"), "Options");
    m.volumeOptions = std::move(vo);
  }
  if (const json& t = at(v, "TmpfsOptions"); t.is_object()) {
    m.tmpfsOptions = TmpfsOptions{i64(t, "SizeBytes"), static_cast<std::uint32_t>(i64(t, "Mode"))};
  }
  return m;
}

void encodeResources(json& j, const Resources& r) {
  putInt(j, "Memory", r.memory);
  putInt(j, "MemoryReservation", r.memoryReservation);
  putInt(j, "MemorySwap", r.memorySwap);
  if (r.memorySwappiness) j["MemorySwappiness"] = *r.memorySwappiness;
  putInt(j, "NanoCpus", r.nanoCpus);
  putInt(j, "CpuShares", r.cpuShares);
  putInt(j, "CpuPeriod", r.cpuPeriod);
  putInt(j, "CpuQuota", r.cpuQuota);
  put(j, "CpusetCpus", r.cpusetCpus);
  put(j, "CpusetMems", r.cpusetMems);
  if (r.pidsLimit) j["PidsLimit"] = *r.pidsLimit;
  putInt(j, "BlkioWeight", r.blkioWeight);
  if (r.oomKillDisable) j["OomKillDisable"] = *r.oomKillDisable;
  if (!r.ulimits.empty()) {
    json list = json::array();
    for (const auto& u : r.ulimits) list.push_back({{"Name", u.name}, {"Soft", u.soft}, {"Hard", u.hard}});
    j["Ulimits"] = std::move(list);
  }
  if (!r.devices.empty()) {
    json list = json::array();
    for (const auto& d : r.devices) {
      list.push_back({{"PathOnHost", d.pathOnHost},
                      {"PathInContainer", d.pathInContainer},
                      {"CgroupPermissions", d.cgroupPermissions}});
    }
    j["Devices"] = std::move(list);
  }
}

Resources decodeResources(const json& j) {
  Resources r;
  r.memory = i64(j, "Memory");
  r.memoryReservation = i64(j, "MemoryReservation");
  r.memorySwap = i64(j, "MemorySwap");
  r.memorySwappiness = optI64(j, "MemorySwappiness");
  r.nanoCpus = i64(j, "NanoCpus");
  r.cpuShares = i64(j, "CpuShares");
  r.cpuPeriod = i64(j, "CpuPeriod");
  r.cpuQuota = i64(j, "CpuQuota");
  r.cpusetCpus = str(j, "CpusetCpus");
  r.cpusetMems = str(j, "CpusetMems");
  r.pidsLimit = optI64(j, "PidsLimit");
  r.blkioWeight = i64(j, "BlkioWeight");
  r.oomKillDisable = optBool(j, "OomKillDisable");
  if (const json& list = at(j, "Ulimits"); list.is_array()) {
    for (const auto& u : list) r.ulimits.push_back({str(u, "Name"), i64(u, "Soft"), i64(u, "Hard")});
  }
  if (const json& list = at(j, "Devices"); list.is_array()) {
    for (const auto& d : list) {
      r.devices.push_back({str(d, "PathOnHost"), str(d, "PathInContainer"), str(d, "CgroupPermissions")});
    }
  }
  return r;
}

json encodeHostConfig(const HostConfig& h) {
  json j = json::object();
  put(j, "Binds", h.binds);
  if (!h.mounts.empty()) {
    json list = json::array();
    for (const auto& m : h.mounts) list.push_back(encodeMount(m));
    j["Mounts"] = std::move(list);
  }
  put(j, "Tmpfs", h.tmpfs);
  if (!h.portBindings.empty()) j["PortBindings"] = encodePortMap(h.portBindings);
  putBool(j, "PublishAllPorts", h.publishAllPorts);
  put(j, "NetworkMode", h.networkMode);
  if (h.restartPolicy.name != RestartPolicyName::None) {
    j["RestartPolicy"] = {{"Name", std::string(restartName(h.restartPolicy.name))},
                          {"MaximumRetryCount", h.restartPolicy.maximumRetryCount}};
  }
  putBool(j, "AutoRemove", h.autoRemove);
  encodeResources(j, h.resources);
  put(j, "CapAdd", h.capAdd);
  put(j, "CapDrop", h.capDrop);
  putBool(j, "Privileged", h.privileged);
  putBool(j, "ReadonlyRootfs", h.readonlyRootfs);
  if (h.init) j["Init"] = *h.init;
  if (!h.logConfig.type.empty() || !h.logConfig.config.empty()) {
    json lc = json::object();
    put(lc, "Type", h.logConfig.type);
    put(lc, "Config", h.logConfig.config);
    j["LogConfig"] = std::move(lc);
  }
  put(j, "ExtraHosts", h.extraHosts);
  put(j, "Dns", h.dns);
  put(j, "DnsSearch", h.dnsSearch);
  put(j, "DnsOptions", h.dnsOptions);
  put(j, "Sysctls", h.sysctls);
  putInt(j, "ShmSize", h.shmSize);
  put(j, "SecurityOpt", h.securityOpt);
  put(j, "GroupAdd", h.groupAdd);
  put(j, "IpcMode", h.ipcMode);
  put(j, "PidMode", h.pidMode);
  put(j, "UTSMode", h.utsMode);
  put(j, "UsernsMode", h.usernsMode);
  put(j, "CgroupnsMode", h.cgroupnsMode);
  put(j, "CgroupParent", h.cgroupParent);
  put(j, "VolumesFrom", h.volumesFrom);
  put(j, "Links", h.links);
  put(j, "Runtime", h.runtime);
  putInt(j, "OomScoreAdj", h.oomScoreAdj);
  return j;
}

HostConfig decodeHostConfig(const json& j) {
  HostConfig h;
  h.binds = strings(j, "Binds");
  if (const json& list = at(j, "Mounts"); list.is_array()) {
    for (const auto& m : list) {
      if (auto mount = decodeMount(m)) h.mounts.push_back(std::move(*mount));
    }
  }
  h.tmpfs = stringMap(j, "Tmpfs");
  h.portBindings = decodePortMap(at(j, "PortBindings"));
  h.publishAllPorts = boolean(j, "PublishAllPorts");
  h.networkMode = str(j, "NetworkMode");
  h.restartPolicy.name = parseRestartName(str(at(j, "RestartPolicy"), "Name"));
  h.restartPolicy.maximumRetryCount = i32(at(j, "RestartPolicy"), "MaximumRetryCount");
  h.autoRemove = boolean(j, "AutoRemove");
  h.resources = decodeResources(j);
  h.capAdd = strings(j, "CapAdd");
  h.capDrop = strings(j, "CapDrop");
  h.privileged = boolean(j, "Privileged");
  h.readonlyRootfs = boolean(j, "ReadonlyRootfs");
  h.init = optBool(j, "Init");
  h.logConfig.type = str(at(j, "LogConfig"), "Type");
  h.logConfig.config = stringMap(at(j, "LogConfig"), "Config");
  h.extraHosts = strings(j, "ExtraHosts");
  h.dns = strings(j, "Dns");
  h.dnsSearch = strings(j, "DnsSearch");
  h.dnsOptions = strings(j, "DnsOptions");
  h.sysctls = stringMap(j, "Sysctls");
  h.shmSize = i64(j, "ShmSize");
  h.securityOpt = strings(j, "SecurityOpt");
  h.groupAdd = strings(j, "GroupAdd");
  h.ipcMode = str(j, "IpcMode");
  h.pidMode = str(j, "PidMode");
  h.utsMode = str(j, "UTSMode");
  h.usernsMode = str(j, "UsernsMode");
  h.cgroupnsMode = str(j, "CgroupnsMode");
  h.cgroupParent = str(j, "CgroupParent");
  h.volumesFrom = strings(j, "VolumesFrom");
  h.links = strings(j, "Links");
  h.runtime = str(j, "Runtime");
  h.oomScoreAdj = i32(j, "OomScoreAdj");
  return h;
}

void encodeConfig(json& j, const ContainerConfig& c) {
  j["Image"] = c.image;
  put(j, "Hostname", c.hostname);
  put(j, "Domainname", c.domainname);
  put(j, "User", c.user);
  put(j, "Env", c.env);
  if (c.cmd) j["Cmd"] = *c.cmd;
  if (c.entrypoint) j["Entrypoint"] = *c.entrypoint;
  put(j, "WorkingDir", c.workingDir);
  put(j, "Labels", c.labels);
  putSet(j, "ExposedPorts", c.exposedPorts);
  putSet(j, "Volumes", c.volumes);
  putBool(j, "Tty", c.tty);
  putBool(j, "OpenStdin", c.openStdin);
  putBool(j, "StdinOnce", c.stdinOnce);
  putBool(j, "AttachStdin", c.attachStdin);
  putBool(j, "AttachStdout", c.attachStdout);
  putBool(j, "AttachStderr", c.attachStderr);
  if (c.healthcheck) j["Healthcheck"] = encodeHealth(*c.healthcheck);
  put(j, "StopSignal", c.stopSignal);
  if (c.stopTimeout) j["StopTimeout"] = *c.stopTimeout;
  putBool(j, "NetworkDisabled", c.networkDisabled);
  put(j, "MacAddress", c.macAddress);
  put(j, "Shell", c.shell);
}

ContainerConfig decodeConfig(const json& j) {
  ContainerConfig c;
  c.image = str(j, "Image");
  c.hostname = str(j, "Hostname");
  c.domainname = str(j, "Domainname");
  c.user = str(j, "User");
  c.env = strings(j, "Env");
  c.cmd = optStrings(j, "Cmd");
  c.entrypoint = optStrings(j, "Entrypoint");
  c.workingDir = str(j, "WorkingDir");
  c.labels = stringMap(j, "Labels");
  c.exposedPorts = keys(j, "ExposedPorts");
  c.volumes = keys(j, "Volumes");
  c.tty = boolean(j, "Tty");
  c.openStdin = boolean(j, "OpenStdin");
  c.stdinOnce = boolean(j, "StdinOnce");
  c.attachStdin = boolean(j, "AttachStdin");
  c.attachStdout = boolean(j, "AttachStdout");
  c.attachStderr = boolean(j, "AttachStderr");
  c.healthcheck = decodeHealth(at(j, "Healthcheck"));
  c.stopSignal = str(j, "StopSignal");
  if (const json& t = at(j, "StopTimeout"); t.is_number()) c.stopTimeout = t.get<int>();
  c.networkDisabled = boolean(j, "NetworkDisabled");
  c.macAddress = str(j, "MacAddress");
  c.shell = strings(j, "Shell");
  return c;
}

json encodeEndpoint(const EndpointSettings& e) {
  json j = json::object();
  put(j, "Aliases", e.aliases);
  put(j, "Links", e.links);
  if (!e.ipv4Address.empty() || !e.ipv6Address.empty()) {
    json ipam = json::object();
    put(ipam, "IPv4Address", e.ipv4Address);
    put(ipam, "IPv6Address", e.ipv6Address);
    j["IPAMConfig"] = std::move(ipam);
  }
  put(j, "DriverOpts", e.driverOpts);
  return j;
}

EndpointState decodeEndpointState(const json& j) {
  EndpointState e;
  e.settings.aliases = strings(j, "Aliases");
  e.settings.links = strings(j, "Links");
  e.settings.ipv4Address = str(at(j, "IPAMConfig"), "IPv4Address");
  e.settings.ipv6Address = str(at(j, "IPAMConfig"), "IPv6Address");
  e.settings.driverOpts = stringMap(j, "DriverOpts");
  e.networkId = str(j, "NetworkID");
  e.endpointId = str(j, "EndpointID");
  e.gateway = str(j, "Gateway");
  e.ipAddress = str(j, "IPAddress");
  e.ipPrefixLen = i32(j, "IPPrefixLen");
  e.ipv6Gateway = str(j, "IPv6Gateway");
  e.globalIpv6Address = str(j, "GlobalIPv6Address");
  e.macAddress = str(j, "MacAddress");
  return e;
}

std::map<std::string, EndpointState> decodeNetworks(const json& v) {
  std::map<std::string, EndpointState> out;
  if (!v.is_object()) return out;
  for (const auto& [name, e] : v.items()) out[name] = decodeEndpointState(e);
  return out;
}

std::vector<MountPoint> decodeMountPoints(const json& v) {
  std::vector<MountPoint> out;
  if (!v.is_array()) return out;
  for (const auto& m : v) {
    MountPoint p;
    p.type = str(m, "Type");
    p.name = str(m, "Name");
    p.source = str(m, "Source");
    p.destination = str(m, "Destination");
    p.driver = str(m, "Driver");
    p.mode = str(m, "Mode");
    p.rw = boolean(m, "RW");
    p.propagation = str(m, "Propagation");
    out.push_back(std::move(p));
  }
  return out;
}

ContainerStatus parseStatus(const std::string& text) {
  if (text == "created") return ContainerStatus::Created;
  if (text == "running") return ContainerStatus::Running;
  if (text == "paused") return ContainerStatus::Paused;
  if (text == "restarting") return ContainerStatus::Restarting;
  if (text == "removing") return ContainerStatus::Removing;
  if (text == "exited") return ContainerStatus::Exited;
  if (text == "dead") return ContainerStatus::Dead;
  return ContainerStatus::Unknown;
}

HealthStatus parseHealth(const std::string& text) {
  if (text == "starting") return HealthStatus::Starting;
  if (text == "healthy") return HealthStatus::Healthy;
  if (text == "unhealthy") return HealthStatus::Unhealthy;
  return HealthStatus::None;
}

std::string stripSlash(std::string name) {
  if (!name.empty() && name.front() == '/') name.erase(0, 1);
  return name;
}

Ipam decodeIpam(const json& v) {
  Ipam ipam;
  ipam.driver = str(v, "Driver");
  ipam.options = stringMap(v, "Options");
  if (const json& list = at(v, "Config"); list.is_array()) {
    for (const auto& c : list) {
      ipam.config.push_back(
          {str(c, "Subnet"), str(c, "IPRange"), str(c, "Gateway"), stringMap(c, "AuxiliaryAddresses")});
    }
  }
  return ipam;
}

Network decodeNetworkObject(const json& j) {
  Network n;
  n.id = str(j, "Id");
  n.name = str(j, "Name");
  n.created = str(j, "Created");
  n.scope = str(j, "Scope");
  n.driver = str(j, "Driver");
  n.enableIpv6 = boolean(j, "EnableIPv6");
  n.internal = boolean(j, "Internal");
  n.attachable = boolean(j, "Attachable");
  n.ingress = boolean(j, "Ingress");
  n.ipam = decodeIpam(at(j, "IPAM"));
  n.labels = stringMap(j, "Labels");
  n.options = stringMap(j, "Options");
  if (const json& cs = at(j, "Containers"); cs.is_object()) {
    for (const auto& [id, c] : cs.items()) {
      n.containers[id] = {str(c, "Name"), str(c, "EndpointID"), str(c, "MacAddress"), str(c, "IPv4Address"),
                          str(c, "IPv6Address")};
    }
  }
  return n;
}

Volume decodeVolumeObject(const json& j) {
  Volume v;
  v.name = str(j, "Name");
  v.driver = str(j, "Driver");
  v.mountpoint = str(j, "Mountpoint");
  v.createdAt = str(j, "CreatedAt");
  v.scope = str(j, "Scope");
  v.labels = stringMap(j, "Labels");
  v.options = stringMap(j, "Options");
  if (const json& u = at(j, "UsageData"); u.is_object()) {
    VolumeUsage usage;
    if (at(u, "Size").is_number_integer()) usage.size = at(u, "Size").get<std::int64_t>();
    if (at(u, "RefCount").is_number_integer()) usage.refCount = at(u, "RefCount").get<std::int64_t>();
    v.usage = usage;
  }
  return v;
}

CpuUsage decodeCpu(const json& v) {
  return {u64(at(v, "cpu_usage"), "total_usage"), u64(v, "system_cpu_usage"), i32(v, "online_cpus")};
}

}  // namespace

// --- Encoders

std::string encodeContainerCreate(const ContainerCreate& spec) {
  json j = json::object();
  encodeConfig(j, spec.config);
  j["HostConfig"] = encodeHostConfig(spec.hostConfig);
  if (!spec.networks.empty()) {
    json endpoints = json::object();
    for (const auto& [name, e] : spec.networks) endpoints[name] = encodeEndpoint(e);
    j["NetworkingConfig"] = {{"EndpointsConfig", std::move(endpoints)}};
  }
  return j.dump();
}

std::string encodeNetworkCreate(const NetworkCreate& spec) {
  json j = json::object();
  j["Name"] = spec.name;
  j["CheckDuplicate"] = true;
  put(j, "Driver", spec.driver);
  putBool(j, "Internal", spec.internal);
  putBool(j, "Attachable", spec.attachable);
  putBool(j, "EnableIPv6", spec.enableIpv6);
  put(j, "Labels", spec.labels);
  put(j, "Options", spec.options);
  if (!spec.ipam.driver.empty() || !spec.ipam.config.empty() || !spec.ipam.options.empty()) {
    json ipam = json::object();
    put(ipam, "Driver", spec.ipam.driver);
    put(ipam, "Options", spec.ipam.options);
    json pools = json::array();
    for (const auto& p : spec.ipam.config) {
      json pool = json::object();
      put(pool, "Subnet", p.subnet);
      put(pool, "IPRange", p.ipRange);
      put(pool, "Gateway", p.gateway);
      put(pool, "AuxiliaryAddresses", p.auxAddresses);
      pools.push_back(std::move(pool));
    }
    if (!pools.empty()) ipam["Config"] = std::move(pools);
    j["IPAM"] = std::move(ipam);
  }
  return j.dump();
}

std::string encodeNetworkConnect(const std::string& container, const EndpointSettings& endpoint) {
  return json{{"Container", container}, {"EndpointConfig", encodeEndpoint(endpoint)}}.dump();
}

std::string encodeNetworkDisconnect(const std::string& container, bool force) {
  return json{{"Container", container}, {"Force", force}}.dump();
}

std::string encodeVolumeCreate(const VolumeCreate& spec) {
  json j = json::object();
  put(j, "Name", spec.name);
  put(j, "Driver", spec.driver);
  put(j, "DriverOpts", spec.driverOpts);
  put(j, "Labels", spec.labels);
  return j.dump();
}

std::string encodeExecCreate(const ExecCreate& spec) {
  json j = json::object();
  j["Cmd"] = spec.cmd;
  put(j, "Env", spec.env);
  put(j, "User", spec.user);
  put(j, "WorkingDir", spec.workingDir);
  j["Tty"] = spec.tty;
  j["AttachStdin"] = spec.attachStdin;
  j["AttachStdout"] = spec.attachStdout;
  j["AttachStderr"] = spec.attachStderr;
  putBool(j, "Privileged", spec.privileged);
  put(j, "DetachKeys", spec.detachKeys);
  return j.dump();
}

std::string encodeExecStart(bool detach, bool tty) { return json{{"Detach", detach}, {"Tty", tty}}.dump(); }

std::string encodeFilters(const Filters& filters) {
  json j = json::object();
  for (const auto& [key, values] : filters) j[key] = values;
  return j.dump();
}

std::string encodeStringMap(const std::map<std::string, std::string>& map) { return json(map).dump(); }

std::string encodeStringList(const std::vector<std::string>& list) { return json(list).dump(); }

// --- Decoders

std::optional<std::string> errorMessage(std::string_view body) {
  try {
    const json j = json::parse(body.begin(), body.end());
    const json& m = at(j, "message");
    if (m.is_string()) return m.get<std::string>();
  } catch (const json::exception&) {
  }
  return std::nullopt;
}

Result<EngineVersion> decodeVersion(std::string_view body) {
  return decode<EngineVersion>(body, "version", [](const json& j) -> Result<EngineVersion> {
    if (!j.is_object()) return wrongShape("version", "an object");
    EngineVersion v;
    v.version = str(j, "Version");
    v.apiVersion = str(j, "ApiVersion");
    v.minApiVersion = str(j, "MinAPIVersion");
    v.gitCommit = str(j, "GitCommit");
    v.goVersion = str(j, "GoVersion");
    v.os = str(j, "Os");
    v.arch = str(j, "Arch");
    v.kernelVersion = str(j, "KernelVersion");
    v.buildTime = str(j, "BuildTime");
    return v;
  });
}

Result<EngineInfo> decodeInfo(std::string_view body) {
  return decode<EngineInfo>(body, "info", [](const json& j) -> Result<EngineInfo> {
    if (!j.is_object()) return wrongShape("info", "an object");
    EngineInfo i;
    i.id = str(j, "ID");
    i.name = str(j, "Name");
    i.serverVersion = str(j, "ServerVersion");
    i.operatingSystem = str(j, "OperatingSystem");
    i.osType = str(j, "OSType");
    i.osVersion = str(j, "OSVersion");
    i.kernelVersion = str(j, "KernelVersion");
    i.architecture = str(j, "Architecture");
    i.containers = i32(j, "Containers");
    i.containersRunning = i32(j, "ContainersRunning");
    i.containersPaused = i32(j, "ContainersPaused");
    i.containersStopped = i32(j, "ContainersStopped");
    i.images = i32(j, "Images");
    i.storageDriver = str(j, "Driver");
    i.loggingDriver = str(j, "LoggingDriver");
    i.cgroupDriver = str(j, "CgroupDriver");
    i.cgroupVersion = str(j, "CgroupVersion");
    i.ncpu = i32(j, "NCPU");
    i.memTotal = i64(j, "MemTotal");
    i.dockerRootDir = str(j, "DockerRootDir");
    i.defaultRuntime = str(j, "DefaultRuntime");
    i.liveRestoreEnabled = boolean(j, "LiveRestoreEnabled");
    i.labels = strings(j, "Labels");
    i.warnings = strings(j, "Warnings");
    i.systemTime = parseRfc3339(str(j, "SystemTime"));
    return i;
  });
}

Result<std::vector<ImageSummary>> decodeImageList(std::string_view body) {
  return decode<std::vector<ImageSummary>>(
      body, "image list", [](const json& j) -> Result<std::vector<ImageSummary>> {
        if (!j.is_array()) return wrongShape("image list", "an array");
        std::vector<ImageSummary> out;
        for (const auto& e : j) {
          ImageSummary s;
          s.id = str(e, "Id");
          s.parentId = str(e, "ParentId");
          s.repoTags = strings(e, "RepoTags");
          s.repoDigests = strings(e, "RepoDigests");
          s.created = i64(e, "Created");
          s.size = i64(e, "Size");
          s.labels = stringMap(e, "Labels");
          s.containers = at(e, "Containers").is_number() ? i32(e, "Containers") : -1;
          out.push_back(std::move(s));
        }
        return out;
      });
}

Result<ImageInspect> decodeImageInspect(std::string_view body) {
  return decode<ImageInspect>(body, "image", [](const json& j) -> Result<ImageInspect> {
    if (!j.is_object()) return wrongShape("image", "an object");
    ImageInspect i;
    i.id = str(j, "Id");
    i.repoTags = strings(j, "RepoTags");
    i.repoDigests = strings(j, "RepoDigests");
    i.parent = str(j, "Parent");
    i.comment = str(j, "Comment");
    i.created = str(j, "Created");
    i.author = str(j, "Author");
    i.architecture = str(j, "Architecture");
    i.os = str(j, "Os");
    i.size = i64(j, "Size");
    const json& c = at(j, "Config");
    i.config.user = str(c, "User");
    i.config.env = strings(c, "Env");
    i.config.cmd = strings(c, "Cmd");
    i.config.entrypoint = strings(c, "Entrypoint");
    i.config.workingDir = str(c, "WorkingDir");
    i.config.labels = stringMap(c, "Labels");
    i.config.exposedPorts = keys(c, "ExposedPorts");
    i.config.volumes = keys(c, "Volumes");
    i.config.stopSignal = str(c, "StopSignal");
    i.config.healthcheck = decodeHealth(at(c, "Healthcheck"));
    return i;
  });
}

Result<std::vector<ImageDeleteItem>> decodeImageDelete(std::string_view body) {
  return decode<std::vector<ImageDeleteItem>>(body, "image removal",
                                              [](const json& j) -> Result<std::vector<ImageDeleteItem>> {
                                                if (!j.is_array())
                                                  return wrongShape("image removal", "an array");
                                                std::vector<ImageDeleteItem> out;
                                                for (const auto& e : j)
                                                  out.push_back({str(e, "Untagged"), str(e, "Deleted")});
                                                return out;
                                              });
}

Result<ContainerCreated> decodeContainerCreated(std::string_view body) {
  return decode<ContainerCreated>(body, "create container", [](const json& j) -> Result<ContainerCreated> {
    if (str(j, "Id").empty()) return wrongShape("create container", "an object with an Id");
    return ContainerCreated{str(j, "Id"), strings(j, "Warnings")};
  });
}

Result<ContainerInspect> decodeContainerInspect(std::string_view body) {
  return decode<ContainerInspect>(body, "container", [](const json& j) -> Result<ContainerInspect> {
    if (!j.is_object()) return wrongShape("container", "an object");
    ContainerInspect c;
    c.id = str(j, "Id");
    c.name = stripSlash(str(j, "Name"));
    c.created = str(j, "Created");
    c.path = str(j, "Path");
    c.args = strings(j, "Args");
    const json& s = at(j, "State");
    c.state.status = parseStatus(str(s, "Status"));
    c.state.running = boolean(s, "Running");
    c.state.paused = boolean(s, "Paused");
    c.state.restarting = boolean(s, "Restarting");
    c.state.oomKilled = boolean(s, "OOMKilled");
    c.state.dead = boolean(s, "Dead");
    c.state.pid = i32(s, "Pid");
    c.state.exitCode = i32(s, "ExitCode");
    c.state.error = str(s, "Error");
    c.state.startedAt = str(s, "StartedAt");
    c.state.finishedAt = str(s, "FinishedAt");
    if (const json& h = at(s, "Health"); h.is_object()) {
      HealthState health;
      health.status = parseHealth(str(h, "Status"));
      health.failingStreak = i32(h, "FailingStreak");
      if (const json& log = at(h, "Log"); log.is_array()) {
        for (const auto& e : log) {
          health.log.push_back({str(e, "Start"), str(e, "End"), i32(e, "ExitCode"), str(e, "Output")});
        }
      }
      c.state.health = std::move(health);
    }
    c.image = str(j, "Image");
    c.restartCount = i32(j, "RestartCount");
    c.driver = str(j, "Driver");
    c.platform = str(j, "Platform");
    c.config = decodeConfig(at(j, "Config"));
    c.hostConfig = decodeHostConfig(at(j, "HostConfig"));
    c.mounts = decodeMountPoints(at(j, "Mounts"));
    const json& ns = at(j, "NetworkSettings");
    c.networkSettings.ports = decodePortMap(at(ns, "Ports"));
    c.networkSettings.networks = decodeNetworks(at(ns, "Networks"));
    c.networkSettings.sandboxKey = str(ns, "SandboxKey");
    return c;
  });
}

Result<std::vector<ContainerSummary>> decodeContainerList(std::string_view body) {
  return decode<std::vector<ContainerSummary>>(
      body, "container list", [](const json& j) -> Result<std::vector<ContainerSummary>> {
        if (!j.is_array()) return wrongShape("container list", "an array");
        std::vector<ContainerSummary> out;
        for (const auto& e : j) {
          ContainerSummary s;
          s.id = str(e, "Id");
          for (auto& n : strings(e, "Names")) s.names.push_back(stripSlash(std::move(n)));
          s.image = str(e, "Image");
          s.imageId = str(e, "ImageID");
          s.command = str(e, "Command");
          s.created = i64(e, "Created");
          s.state = parseStatus(str(e, "State"));
          s.status = str(e, "Status");
          s.labels = stringMap(e, "Labels");
          if (const json& ports = at(e, "Ports"); ports.is_array()) {
            for (const auto& p : ports) {
              s.ports.push_back({str(p, "IP"), i32(p, "PrivatePort"), i32(p, "PublicPort"), str(p, "Type")});
            }
          }
          s.networks = decodeNetworks(at(at(e, "NetworkSettings"), "Networks"));
          s.mounts = decodeMountPoints(at(e, "Mounts"));
          s.networkMode = str(at(e, "HostConfig"), "NetworkMode");
          out.push_back(std::move(s));
        }
        return out;
      });
}

Result<WaitResult> decodeWaitResult(std::string_view body) {
  return decode<WaitResult>(body, "wait", [](const json& j) -> Result<WaitResult> {
    if (!j.is_object() || !at(j, "StatusCode").is_number()) return wrongShape("wait", "a StatusCode");
    return WaitResult{i64(j, "StatusCode"), str(at(j, "Error"), "Message")};
  });
}

Result<ContainerStats> decodeStats(std::string_view body) {
  return decode<ContainerStats>(body, "stats", [](const json& j) -> Result<ContainerStats> {
    if (!j.is_object()) return wrongShape("stats", "an object");
    ContainerStats s;
    s.read = str(j, "read");
    s.cpu = decodeCpu(at(j, "cpu_stats"));
    s.preCpu = decodeCpu(at(j, "precpu_stats"));
    s.memoryUsage = u64(at(j, "memory_stats"), "usage");
    s.memoryLimit = u64(at(j, "memory_stats"), "limit");
    s.pidsCurrent = u64(at(j, "pids_stats"), "current");
    if (const json& nets = at(j, "networks"); nets.is_object()) {
      for (const auto& [name, n] : nets.items()) {
        s.networks[name] = {u64(n, "rx_bytes"), u64(n, "tx_bytes"), u64(n, "rx_packets"),
                            u64(n, "tx_packets")};
      }
    }
    if (const json& io = at(at(j, "blkio_stats"), "io_service_bytes_recursive"); io.is_array()) {
      for (const auto& e : io) {
        const std::string op = str(e, "op");
        if (op == "Read" || op == "read") s.blockRead += u64(e, "value");
        if (op == "Write" || op == "write") s.blockWrite += u64(e, "value");
      }
    }
    return s;
  });
}

Result<TopResult> decodeTop(std::string_view body) {
  return decode<TopResult>(body, "top", [](const json& j) -> Result<TopResult> {
    if (!j.is_object()) return wrongShape("top", "an object");
    TopResult t;
    t.titles = strings(j, "Titles");
    if (const json& ps = at(j, "Processes"); ps.is_array()) {
      for (const auto& p : ps) t.processes.push_back(strings(p));
    }
    return t;
  });
}

Result<PathStat> decodePathStat(std::string_view base64Header) {
  const auto text = base64Decode(base64Header);
  if (!text) {
    return fail(ErrorCode::Internal,
                "unexpected answer from the engine (path stat): malformed base64 header");
  }
  return decode<PathStat>(*text, "path stat", [](const json& j) -> Result<PathStat> {
    if (!j.is_object()) return wrongShape("path stat", "an object");
    return PathStat{str(j, "name"), i64(j, "size"), static_cast<std::uint32_t>(u64(j, "mode")),
                    str(j, "mtime"), str(j, "linkTarget")};
  });
}

Result<std::string> decodeId(std::string_view body) {
  return decode<std::string>(body, "create", [](const json& j) -> Result<std::string> {
    const std::string id = str(j, "Id");
    if (id.empty()) return wrongShape("create", "an object with an Id");
    return id;
  });
}

Result<Network> decodeNetwork(std::string_view body) {
  return decode<Network>(body, "network", [](const json& j) -> Result<Network> {
    if (!j.is_object()) return wrongShape("network", "an object");
    return decodeNetworkObject(j);
  });
}

Result<std::vector<Network>> decodeNetworkList(std::string_view body) {
  return decode<std::vector<Network>>(body, "network list",
                                      [](const json& j) -> Result<std::vector<Network>> {
                                        if (!j.is_array()) return wrongShape("network list", "an array");
                                        std::vector<Network> out;
                                        for (const auto& e : j) out.push_back(decodeNetworkObject(e));
                                        return out;
                                      });
}

Result<Volume> decodeVolume(std::string_view body) {
  return decode<Volume>(body, "volume", [](const json& j) -> Result<Volume> {
    if (!j.is_object()) return wrongShape("volume", "an object");
    return decodeVolumeObject(j);
  });
}

namespace {

// The "Volumes" array of an object answer (GET /volumes and GET /system/df both carry one).
Result<std::vector<Volume>> decodeVolumesOf(std::string_view body, std::string_view what) {
  return decode<std::vector<Volume>>(body, what, [what](const json& j) -> Result<std::vector<Volume>> {
    if (!j.is_object()) return wrongShape(what, "an object");
    std::vector<Volume> out;
    if (const json& list = at(j, "Volumes"); list.is_array()) {
      for (const auto& v : list) out.push_back(decodeVolumeObject(v));
    }
    return out;
  });
}

}  // namespace

Result<std::vector<Volume>> decodeVolumeList(std::string_view body) { return decodeVolumesOf(body, "volume list"); }

Result<std::vector<Volume>> decodeDiskUsageVolumes(std::string_view body) {
  return decodeVolumesOf(body, "disk usage");
}

Result<ExecInspect> decodeExecInspect(std::string_view body) {
  return decode<ExecInspect>(body, "exec", [](const json& j) -> Result<ExecInspect> {
    if (!j.is_object()) return wrongShape("exec", "an object");
    ExecInspect e;
    e.id = str(j, "ID");
    e.containerId = str(j, "ContainerID");
    e.running = boolean(j, "Running");
    if (!e.running && at(j, "ExitCode").is_number()) e.exitCode = i32(j, "ExitCode");
    e.pid = i32(j, "Pid");
    e.openStdin = boolean(j, "OpenStdin");
    e.tty = boolean(at(j, "ProcessConfig"), "tty");
    return e;
  });
}

Result<Event> decodeEvent(std::string_view line) {
  return decode<Event>(line, "event", [](const json& j) -> Result<Event> {
    if (!j.is_object()) return wrongShape("event", "an object");
    Event e;
    e.type = str(j, "Type");
    e.action = str(j, "Action");
    e.actorId = str(at(j, "Actor"), "ID");
    e.attributes = stringMap(at(j, "Actor"), "Attributes");
    e.scope = str(j, "scope");
    e.time = i64(j, "time");
    e.timeNano = i64(j, "timeNano");
    return e;
  });
}

Result<StreamMessage> decodeStreamMessage(std::string_view line) {
  return decode<StreamMessage>(line, "progress", [](const json& j) -> Result<StreamMessage> {
    if (!j.is_object()) return wrongShape("progress", "an object");
    StreamMessage m;
    m.stream = str(j, "stream");
    m.status = str(j, "status");
    m.progress = str(j, "progress");
    m.id = str(j, "id");
    m.error = str(j, "error");
    if (m.error.empty()) m.error = str(at(j, "errorDetail"), "message");
    m.auxId = str(at(j, "aux"), "ID");
    return m;
  });
}

std::optional<std::string> base64Decode(std::string_view text) {
  static constexpr std::array<signed char, 256> kTable = [] {
    std::array<signed char, 256> t{};
    t.fill(-1);
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<signed char>(i);
    return t;
  }();
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    int values[4];
    int padding = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text[i + static_cast<std::size_t>(k)];
      if (c == '=') {
        if (i + 4 != text.size() || k < 2) return std::nullopt;
        values[k] = 0;
        ++padding;
        continue;
      }
      if (padding > 0) return std::nullopt;
      values[k] = kTable[static_cast<unsigned char>(c)];
      if (values[k] < 0) return std::nullopt;
    }
    const unsigned triple = static_cast<unsigned>(values[0]) << 18 | static_cast<unsigned>(values[1]) << 12 |
                            static_cast<unsigned>(values[2]) << 6 | static_cast<unsigned>(values[3]);
    out += static_cast<char>((triple >> 16) & 0xff);
    if (padding < 2) out += static_cast<char>((triple >> 8) & 0xff);
    if (padding < 1) out += static_cast<char>(triple & 0xff);
  }
  return out;
}

}  // namespace berth::engine::json
