#include "plan/translate.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "base/strings.h"
#include "base/tar_writer.h"
#include "plan/labels.h"
#include "plan/ssh_access.h"
#include "spec/hash.h"

namespace berth::plan {
namespace {

using engine::ContainerCreate;

Unexpected unsupported(const spec::Service& s, std::string_view what) {
  return fail(ErrorCode::InvalidArgument, fmt::format("service {}: {}", s.name, what));
}

Result<engine::RestartPolicy> restartPolicy(const spec::Service& s) {
  engine::RestartPolicy p;
  std::string text = s.restart;
  if (text.empty() && s.deploy && s.deploy->restartPolicy) {
    const spec::RestartPolicy& d = *s.deploy->restartPolicy;
    if (d.condition == "none") {
      text = "no";
    } else if (d.condition == "on-failure") {
      text = "on-failure";
      if (d.maxAttempts) text += ":" + std::to_string(*d.maxAttempts);
    } else {
      text = "always";  // "any" and the default
    }
  }
  if (text.empty() || text == "no") return p;
  if (text == "always") {
    p.name = engine::RestartPolicyName::Always;
    return p;
  }
  if (text == "unless-stopped") {
    p.name = engine::RestartPolicyName::UnlessStopped;
    return p;
  }
  if (startsWith(text, "on-failure")) {
    p.name = engine::RestartPolicyName::OnFailure;
    if (text.size() > 10) {
      if (text[10] != ':') return unsupported(s, "restart: invalid policy " + quoted(text));
      try {
        p.maximumRetryCount = std::stoi(text.substr(11));
      } catch (...) {
        return unsupported(s, "restart: invalid retry count in " + quoted(text));
      }
    }
    return p;
  }
  return unsupported(s, "restart: invalid policy " + quoted(text) +
                            " (expected no, always, unless-stopped or on-failure[:N])");
}

std::optional<engine::HealthConfig> healthConfig(const spec::Service& s) {
  if (!s.healthcheck) return std::nullopt;
  const spec::Healthcheck& h = *s.healthcheck;
  engine::HealthConfig c;
  if (h.disable) {
    c.test = {"NONE"};
    return c;
  }
  if (h.test) c.test = *h.test;
  if (h.interval) c.interval = *h.interval;
  if (h.timeout) c.timeout = *h.timeout;
  if (h.startPeriod) c.startPeriod = *h.startPeriod;
  if (h.retries) c.retries = static_cast<int>(*h.retries);
  return c;
}

// "service:X" / "container:Y" namespace references as the engine takes them.
std::string namespaceMode(const spec::Project& project, const std::string& mode) {
  if (startsWith(mode, "service:")) {
    const std::string target = mode.substr(8);
    auto it = project.services.find(target);
    if (it != project.services.end()) return "container:" + containerName(project, it->second, 1);
    return "container:" + project.name + "-" + target + "-1";
  }
  return mode;
}

std::string resourceName(const std::map<std::string, spec::Network>& all, const std::string& key) {
  auto it = all.find(key);
  return it == all.end() || it->second.name.empty() ? key : it->second.name;
}

void addPorts(const spec::Service& s, ContainerCreate& c) {
  std::set<std::string> exposed;
  for (const spec::Port& p : s.ports) {
    if (p.target == 0) continue;
    const std::string key = std::to_string(p.target) + "/" + (p.protocol.empty() ? "tcp" : p.protocol);
    exposed.insert(key);
    c.hostConfig.portBindings[key].push_back(engine::PortBinding{p.hostIp, p.published});
  }
  for (const std::string& e : s.expose) {
    std::string port = e;
    std::string proto = "tcp";
    if (auto slash = e.find('/'); slash != std::string::npos) {
      port = e.substr(0, slash);
      proto = e.substr(slash + 1);
    }
    if (auto dash = port.find('-'); dash != std::string::npos) {
      try {
        const int lo = std::stoi(port.substr(0, dash));
        const int hi = std::stoi(port.substr(dash + 1));
        for (int i = lo; i <= hi && i - lo < 65536; ++i) exposed.insert(std::to_string(i) + "/" + proto);
      } catch (...) {
        exposed.insert(e);
      }
    } else {
      exposed.insert(port + "/" + proto);
    }
  }
  c.config.exposedPorts.assign(exposed.begin(), exposed.end());
}

Status addMounts(const spec::Project& project, const spec::Service& s, const TranslateOptions& options,
                 ContainerCreate& c) {
  std::set<std::string> targets;
  for (const spec::VolumeMount& v : s.volumes) {
    targets.insert(v.target);
    if (v.type == "bind") {
      const spec::BindOptions bind = v.bind.value_or(spec::BindOptions{});
      if (bind.createHostPath) {
        std::string entry = v.source + ":" + v.target;
        std::vector<std::string> opts;
        if (v.readOnly) opts.push_back("ro");
        if (!bind.selinux.empty()) opts.push_back(bind.selinux);
        if (!bind.propagation.empty()) opts.push_back(bind.propagation);
        if (!opts.empty()) entry += ":" + join(opts, ",");
        c.hostConfig.binds.push_back(std::move(entry));
      } else {
        engine::Mount m;
        m.type = engine::MountType::Bind;
        m.source = v.source;
        m.target = v.target;
        m.readOnly = v.readOnly;
        m.consistency = v.consistency;
        if (!bind.propagation.empty()) m.bindOptions = engine::BindOptions{bind.propagation, false};
        c.hostConfig.mounts.push_back(std::move(m));
      }
    } else if (v.type == "volume") {
      engine::Mount m;
      m.type = engine::MountType::Volume;
      m.target = v.target;
      m.readOnly = v.readOnly;
      m.consistency = v.consistency;
      if (v.source.empty()) {
        if (auto it = options.inheritedVolumes.find(v.target); it != options.inheritedVolumes.end()) {
          m.source = it->second;
        }
      } else {
        auto it = project.volumes.find(v.source);
        m.source = it == project.volumes.end() || it->second.name.empty() ? v.source : it->second.name;
      }
      if (v.volume) {
        if (!v.volume->subpath.empty()) {
          return unsupported(s, "volumes: " + v.target + ": volume.subpath needs a newer engine API");
        }
        if (v.volume->nocopy || !v.volume->labels.empty()) {
          engine::VolumeOptions vo;
          vo.noCopy = v.volume->nocopy;
          vo.labels = engine::Labels(v.volume->labels.begin(), v.volume->labels.end());
          m.volumeOptions = std::move(vo);
        }
      }
      c.hostConfig.mounts.push_back(std::move(m));
    } else if (v.type == "tmpfs") {
      engine::Mount m;
      m.type = engine::MountType::Tmpfs;
      m.target = v.target;
      m.readOnly = v.readOnly;
      if (v.tmpfs && (v.tmpfs->size != 0 || v.tmpfs->mode != 0)) {
        m.tmpfsOptions = engine::TmpfsOptions{v.tmpfs->size, v.tmpfs->mode};
      }
      c.hostConfig.mounts.push_back(std::move(m));
    } else {
      return unsupported(s, "volumes: " + v.target + ": mount type " + quoted(v.type) +
                                " is not supported on a Linux engine");
    }
  }
  // Anonymous volumes of the replaced container that the new configuration does not mount
  // otherwise (VOLUME in the image): mounted again at the same place, so their data stays.
  for (const auto& [target, name] : options.inheritedVolumes) {
    if (targets.count(target) != 0) continue;
    engine::Mount m;
    m.type = engine::MountType::Volume;
    m.source = name;
    m.target = target;
    c.hostConfig.mounts.push_back(std::move(m));
  }
  for (const std::string& t : s.tmpfs) {
    const auto colon = t.find(':');
    c.hostConfig.tmpfs[t.substr(0, colon)] = colon == std::string::npos ? "" : t.substr(colon + 1);
  }
  return ok();
}

Status addFileReferences(const spec::Project& project, const spec::Service& s, ContainerSpec& spec) {
  const auto add = [&](const std::vector<spec::FileReference>& refs,
                       const std::map<std::string, spec::FileObject>& objects, std::string_view kind,
                       std::string_view defaultDir) -> Status {
    for (const spec::FileReference& r : refs) {
      auto it = objects.find(r.source);
      if (it == objects.end()) {
        return unsupported(s, fmt::format("{} {}: not defined at the top level", kind, r.source));
      }
      const spec::FileObject& o = it->second;
      std::string target = r.target;
      if (target.empty()) target = std::string(defaultDir) + r.source;
      if (!startsWith(target, "/")) target = std::string(defaultDir) + target;
      if (o.external) {
        return unsupported(s, fmt::format("{} {}: external {}s need a swarm; define it with file, "
                                          "environment or content",
                                          kind, r.source, kind));
      }
      if (!o.file.empty()) {
        engine::Mount m;
        m.type = engine::MountType::Bind;
        m.source = o.file;
        m.target = target;
        m.readOnly = true;
        spec.create.hostConfig.mounts.push_back(std::move(m));
      } else {
        spec.files.push_back(InjectedFile{target, o.content, r.mode.value_or(0444)});
      }
    }
    return ok();
  };
  BERTH_TRY(add(s.secrets, project.secrets, "secret", "/run/secrets/"));
  BERTH_TRY(add(s.configs, project.configs, "config", "/"));
  return ok();
}

void addResources(const spec::Service& s, engine::Resources& r) {
  const spec::Resource* limits = s.deploy && s.deploy->limits ? &*s.deploy->limits : nullptr;
  const spec::Resource* reservations =
      s.deploy && s.deploy->reservations ? &*s.deploy->reservations : nullptr;
  r.memory = s.memLimit != 0 ? s.memLimit : (limits ? limits->memory : 0);
  r.memoryReservation = s.memReservation != 0 ? s.memReservation : (reservations ? reservations->memory : 0);
  r.memorySwap = s.memswapLimit;
  if (s.memSwappiness != 0) r.memorySwappiness = s.memSwappiness;
  const double cpus = s.cpus != 0 ? s.cpus : (limits ? limits->cpus : 0);
  r.nanoCpus = static_cast<std::int64_t>(std::llround(cpus * 1e9));
  r.cpuShares = s.cpuShares;
  r.cpuPeriod = s.cpuPeriod;
  r.cpuQuota = s.cpuQuota;
  r.cpusetCpus = s.cpuset;
  const std::int64_t pids = s.pidsLimit != 0 ? s.pidsLimit : (limits ? limits->pids : 0);
  if (pids != 0) r.pidsLimit = pids;
  if (s.oomKillDisable) r.oomKillDisable = true;
  if (s.blkioConfig) r.blkioWeight = s.blkioConfig->weight;
  for (const auto& [name, u] : s.ulimits) {
    engine::Ulimit e;
    e.name = name;
    e.soft = u.single != 0 ? u.single : u.soft;
    e.hard = u.single != 0 ? u.single : u.hard;
    r.ulimits.push_back(std::move(e));
  }
  for (const spec::DeviceMapping& d : s.devices) {
    engine::DeviceMapping m;
    m.pathOnHost = d.source;
    m.pathInContainer = d.target.empty() ? d.source : d.target;
    if (!d.permissions.empty()) m.cgroupPermissions = d.permissions;
    r.devices.push_back(std::move(m));
  }
}

std::string dependsOnLabel(const spec::Service& s) {
  std::vector<std::string> parts;
  for (const auto& [name, d] : s.dependsOn) {
    parts.push_back(fmt::format("{}:{}:{}", name, d.condition, d.restart ? "true" : "false"));
  }
  return join(parts, ",");
}

// The service's networks in the order compose attaches them: higher priority first, then by name.
std::vector<std::string> orderedNetworks(const spec::Service& s) {
  std::vector<std::string> keys;
  for (const auto& [key, n] : s.networks) keys.push_back(key);
  std::stable_sort(keys.begin(), keys.end(), [&](const std::string& a, const std::string& b) {
    const auto& na = s.networks.at(a);
    const auto& nb = s.networks.at(b);
    const int pa = na ? std::max(na->priority, na->gwPriority) : 0;
    const int pb = nb ? std::max(nb->priority, nb->gwPriority) : 0;
    return pa > pb;
  });
  return keys;
}

}  // namespace

std::string filesArchive(const std::vector<InjectedFile>& files) {
  TarWriter tar;
  std::set<std::string> dirs;
  for (const InjectedFile& f : files) {
    std::string rel = f.path;
    while (startsWith(rel, "/")) rel.erase(0, 1);
    std::string dir;
    const auto parts = split(rel, '/');
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      dir += (dir.empty() ? "" : "/") + parts[i];
      if (dirs.insert(dir).second) tar.addDirectory(dir, 0755);
    }
    tar.addFile(rel, f.content, f.mode);
  }
  return tar.finish();
}

std::string containerName(const spec::Project& project, const spec::Service& service, int number) {
  if (!service.containerName.empty()) return service.containerName;
  return fmt::format("{}-{}-{}", project.name, service.name, number);
}

std::string oneOffContainerName(const spec::Project& project, const spec::Service& service,
                                const std::string& slug) {
  return fmt::format("{}-{}-run-{}", project.name, service.name, slug.substr(0, 12));
}

std::string serviceImage(const spec::Project& project, const spec::Service& service) {
  if (!service.image.empty()) return service.image;
  return project.name + "-" + service.name;
}

std::vector<std::string> namespaceDependencies(const spec::Service& s) {
  std::set<std::string> out;
  for (const std::string* ns : {&s.networkMode, &s.ipc, &s.pid, &s.uts, &s.cgroup}) {
    if (startsWith(*ns, "service:")) out.insert(ns->substr(8));
  }
  for (const std::string& from : s.volumesFrom) {
    if (!startsWith(from, "container:")) out.insert(from.substr(0, from.find(':')));
  }
  return {out.begin(), out.end()};
}

std::vector<std::string> serviceDependencies(const spec::Service& s) {
  std::set<std::string> out;
  for (const auto& [name, d] : s.dependsOn) out.insert(name);
  for (const std::string& n : namespaceDependencies(s)) out.insert(n);
  return {out.begin(), out.end()};
}

Result<ContainerSpec> containerSpec(const spec::Project& project, const spec::Service& s, int number,
                                    const TranslateOptions& options) {
  ContainerSpec spec;
  ContainerCreate& c = spec.create;
  c.name = options.oneOff ? oneOffContainerName(project, s, options.slug) : containerName(project, s, number);
  c.platform = s.platform;

  engine::ContainerConfig& cfg = c.config;
  cfg.image = serviceImage(project, s);
  cfg.hostname = s.hostname;
  cfg.domainname = s.domainName;
  cfg.user = s.user;
  for (const auto& [k, v] : s.environment) {
    if (v) cfg.env.push_back(k + "=" + *v);
  }
  cfg.cmd = s.command;
  cfg.entrypoint = s.entrypoint;
  cfg.workingDir = s.workingDir;
  cfg.tty = s.tty;
  cfg.openStdin = s.stdinOpen;
  cfg.healthcheck = healthConfig(s);
  cfg.stopSignal = s.stopSignal;
  if (s.stopGracePeriod) {
    cfg.stopTimeout =
        static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(*s.stopGracePeriod).count());
  }
  cfg.macAddress = s.macAddress;

  cfg.labels = engine::Labels(s.labels.begin(), s.labels.end());
  cfg.labels[std::string(labels::kProject)] = project.name;
  cfg.labels[std::string(labels::kService)] = s.name;
  cfg.labels[std::string(labels::kContainerNumber)] = std::to_string(number);
  cfg.labels[std::string(labels::kOneOff)] = options.oneOff ? "True" : "False";
  cfg.labels[std::string(labels::kConfigHash)] = spec::serviceConfigHash(project, s);
  cfg.labels[std::string(labels::kWorkingDir)] = project.workingDir;
  cfg.labels[std::string(labels::kConfigFiles)] = join(project.composeFiles, ",");
  cfg.labels[std::string(labels::kDependsOn)] = dependsOnLabel(s);
  cfg.labels[std::string(labels::kImage)] = options.imageId.empty() ? cfg.image : options.imageId;
  cfg.labels[std::string(labels::kVersion)] = options.version;
  if (options.oneOff && !options.slug.empty()) cfg.labels[std::string(labels::kSlug)] = options.slug;
  // Who may log in through `berth gateway`, readable from the container alone (plan/ssh_access.h).
  if (s.ssh) cfg.labels[std::string(kSshAccessLabel)] = encodeSshAccess(*s.ssh);

  addPorts(s, c);

  engine::HostConfig& h = c.hostConfig;
  BERTH_ASSIGN_OR_RETURN(h.restartPolicy, restartPolicy(s));
  addResources(s, h.resources);
  h.capAdd = s.capAdd;
  h.capDrop = s.capDrop;
  h.privileged = s.privileged;
  h.readonlyRootfs = s.readOnly;
  h.init = s.init;
  if (s.logging) {
    h.logConfig.type = s.logging->driver;
    h.logConfig.config =
        std::map<std::string, std::string>(s.logging->options.begin(), s.logging->options.end());
  }
  for (const auto& [host, addresses] : s.extraHosts) {
    for (const std::string& a : addresses) h.extraHosts.push_back(host + ":" + a);
  }
  h.dns = s.dns;
  h.dnsSearch = s.dnsSearch;
  h.dnsOptions = s.dnsOpt;
  h.sysctls = std::map<std::string, std::string>(s.sysctls.begin(), s.sysctls.end());
  h.shmSize = s.shmSize;
  h.securityOpt = s.securityOpt;
  h.groupAdd = s.groupAdd;
  h.ipcMode = namespaceMode(project, s.ipc);
  h.pidMode = namespaceMode(project, s.pid);
  h.utsMode = s.uts;
  h.usernsMode = s.usernsMode;
  h.cgroupnsMode = s.cgroup;
  h.cgroupParent = s.cgroupParent;
  h.runtime = s.runtime;
  h.oomScoreAdj = static_cast<int>(s.oomScoreAdj);
  for (const std::string& from : s.volumesFrom) {
    if (startsWith(from, "container:")) {
      h.volumesFrom.push_back(from.substr(10));
      continue;
    }
    const auto colon = from.find(':');
    const std::string svc = from.substr(0, colon);
    const std::string mode = colon == std::string::npos ? "" : from.substr(colon);
    auto it = project.services.find(svc);
    h.volumesFrom.push_back((it == project.services.end() ? project.name + "-" + svc + "-1"
                                                          : containerName(project, it->second, 1)) +
                            mode);
  }
  BERTH_TRY(addMounts(project, s, options, c));
  BERTH_TRY(addFileReferences(project, s, spec));

  if (!s.networkMode.empty()) {
    h.networkMode = namespaceMode(project, s.networkMode);
  } else {
    bool first = true;
    for (const std::string& key : orderedNetworks(s)) {
      const std::optional<spec::ServiceNetwork>& sn = s.networks.at(key);
      engine::EndpointSettings e;
      if (!options.oneOff) {
        e.aliases.push_back(c.name);
        if (options.serviceAliases) e.aliases.push_back(s.name);
      }
      if (sn) {
        for (const std::string& a : sn->aliases) {
          if (std::find(e.aliases.begin(), e.aliases.end(), a) == e.aliases.end()) e.aliases.push_back(a);
        }
        e.ipv4Address = sn->ipv4Address;
        e.ipv6Address = sn->ipv6Address;
        e.driverOpts = std::map<std::string, std::string>(sn->driverOpts.begin(), sn->driverOpts.end());
      }
      const std::string name = resourceName(project.networks, key);
      if (first) {
        h.networkMode = name;
        c.networks[name] = std::move(e);
        first = false;
      } else {
        spec.connect.emplace_back(name, std::move(e));
      }
    }
  }
  // Links only mean something on the legacy default bridge.
  if (h.networkMode == "bridge" || h.networkMode.empty()) {
    for (const std::string& link : s.links) {
      const auto colon = link.find(':');
      const std::string svc = link.substr(0, colon);
      const std::string alias = colon == std::string::npos ? svc : link.substr(colon + 1);
      auto it = project.services.find(svc);
      h.links.push_back((it == project.services.end() ? project.name + "-" + svc + "-1"
                                                      : containerName(project, it->second, 1)) +
                        ":" + alias);
    }
    for (const std::string& link : s.externalLinks) {
      h.links.push_back(link.find(':') == std::string::npos ? link + ":" + link : link);
    }
  }
  return spec;
}

engine::NetworkCreate networkSpec(const spec::Project& project, const std::string& key,
                                  const spec::Network& n, const std::string& version) {
  engine::NetworkCreate c;
  c.name = n.name.empty() ? project.name + "_" + key : n.name;
  c.driver = n.driver;
  c.internal = n.internal;
  c.attachable = n.attachable;
  c.enableIpv6 = n.enableIpv6.value_or(false);
  c.labels = engine::Labels(n.labels.begin(), n.labels.end());
  c.labels[std::string(labels::kProject)] = project.name;
  c.labels[std::string(labels::kNetwork)] = key;
  c.labels[std::string(labels::kVersion)] = version;
  c.options = std::map<std::string, std::string>(n.driverOpts.begin(), n.driverOpts.end());
  c.ipam.driver = n.ipam.driver;
  c.ipam.options = std::map<std::string, std::string>(n.ipam.options.begin(), n.ipam.options.end());
  for (const spec::IpamPool& p : n.ipam.config) {
    engine::IpamPool pool;
    pool.subnet = p.subnet;
    pool.gateway = p.gateway;
    pool.ipRange = p.ipRange;
    pool.auxAddresses = std::map<std::string, std::string>(p.auxAddresses.begin(), p.auxAddresses.end());
    c.ipam.config.push_back(std::move(pool));
  }
  return c;
}

engine::VolumeCreate volumeSpec(const spec::Project& project, const std::string& key, const spec::Volume& v,
                                const std::string& version) {
  engine::VolumeCreate c;
  c.name = v.name.empty() ? project.name + "_" + key : v.name;
  c.driver = v.driver;
  c.driverOpts = std::map<std::string, std::string>(v.driverOpts.begin(), v.driverOpts.end());
  c.labels = engine::Labels(v.labels.begin(), v.labels.end());
  c.labels[std::string(labels::kProject)] = project.name;
  c.labels[std::string(labels::kVolume)] = key;
  c.labels[std::string(labels::kVersion)] = version;
  return c;
}

Result<ImageBuild> imageBuild(const spec::Project& project, const spec::Service& s) {
  if (!s.build) return fail(ErrorCode::InvalidArgument, "service " + s.name + " has no build section");
  const spec::Build& b = *s.build;
  ImageBuild out;
  out.service = s.name;
  out.image = serviceImage(project, s);
  out.context = b.context.empty() ? project.workingDir : b.context;
  if (out.context.find("://") != std::string::npos || startsWith(out.context, "git@")) {
    return unsupported(s, "build.context " + quoted(out.context) +
                              ": remote build contexts are not supported; use a directory");
  }
  if (!b.additionalContexts.empty()) return unsupported(s, "build.additional_contexts needs BuildKit");
  if (!b.secrets.empty()) return unsupported(s, "build.secrets needs BuildKit");
  if (!b.ssh.empty()) return unsupported(s, "build.ssh needs BuildKit");
  out.dockerfile = b.dockerfile.empty() ? "Dockerfile" : b.dockerfile;
  out.dockerfileInline = b.dockerfileInline;
  engine::BuildOptions& o = out.options;
  o.tags.push_back(out.image);
  for (const std::string& t : b.tags) o.tags.push_back(t);
  for (const auto& [k, v] : b.args) {
    if (v) o.buildArgs[k] = *v;
  }
  o.target = b.target;
  o.labels = engine::Labels(b.labels.begin(), b.labels.end());
  o.noCache = b.noCache;
  o.pull = b.pull;
  o.networkMode = b.network;
  o.cacheFrom = b.cacheFrom;
  for (const auto& [host, addresses] : b.extraHosts) {
    for (const std::string& a : addresses) o.extraHosts.push_back(host + ":" + a);
  }
  if (!b.platforms.empty()) o.platform = b.platforms.front();
  if (!s.platform.empty()) o.platform = s.platform;
  o.shmSize = b.shmSize;
  return out;
}

}  // namespace berth::plan
