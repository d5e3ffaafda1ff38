#include "spec/render.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>

#include "base/strings.h"
#include "spec/format.h"

namespace berth::spec {
namespace {

class Object {
 public:
  explicit Object(const RenderOptions& options) : options_(options) {}

  Object& str(const char* key, const std::string& v) {
    if (!v.empty()) value_.set(key, Value::string(v));
    return *this;
  }
  Object& boolean(const char* key, bool v) {
    if (v) value_.set(key, Value::boolean(true));
    return *this;
  }
  Object& optBool(const char* key, const std::optional<bool>& v) {
    if (v) value_.set(key, Value::boolean(*v));
    return *this;
  }
  Object& integer(const char* key, std::int64_t v) {
    if (v != 0) value_.set(key, Value::integer(v));
    return *this;
  }
  template <class T>
  Object& optInt(const char* key, const std::optional<T>& v) {
    if (v) value_.set(key, Value::integer(static_cast<std::int64_t>(*v)));
    return *this;
  }
  Object& number(const char* key, double v) {
    if (v != 0) value_.set(key, Value::number(v));
    return *this;
  }
  Object& bytes(const char* key, std::int64_t v) {
    if (v != 0) value_.set(key, Value::string(std::to_string(v)));
    return *this;
  }
  Object& duration(const char* key, const std::optional<Duration>& v) {
    if (v) value_.set(key, Value::string(formatDuration(*v)));
    return *this;
  }
  Object& strings(const char* key, const std::vector<std::string>& v) {
    if (!v.empty()) value_.set(key, list(v));
    return *this;
  }
  Object& mapping(const char* key, const Mapping& m) {
    if (m.empty()) return *this;
    Value v = Value::mapping();
    for (const auto& [k, x] : m) v.set(k, Value::string(x));
    value_.set(key, std::move(v));
    return *this;
  }
  Object& mappingWithEquals(const char* key, const MappingWithEquals& m) {
    if (m.empty()) return *this;
    Value v = Value::mapping();
    for (const auto& [k, x] : m) v.set(k, x ? Value::string(*x) : Value::null());
    value_.set(key, std::move(v));
    return *this;
  }
  Object& value(const char* key, Value v) {
    value_.set(key, std::move(v));
    return *this;
  }
  Object& valueIfNotEmpty(const char* key, Value v) {
    if (!v.isNull() && !v.empty()) value_.set(key, std::move(v));
    return *this;
  }
  Object& extensions(const Extensions& ext) {
    if (!options_.nestedExtensions) return *this;
    for (const auto& [k, v] : ext) value_.set(k, v);
    return *this;
  }
  Value take() { return std::move(value_); }

  static Value list(const std::vector<std::string>& v) {
    std::vector<Value> items;
    items.reserve(v.size());
    for (const auto& s : v) items.push_back(Value::string(s));
    return Value::sequence(std::move(items));
  }

 private:
  const RenderOptions& options_;
  Value value_ = Value::mapping();
};

// A sequence of render(item) for each item of a list.
template <class List, class Render>
Value sequenceOf(const List& items, Render render) {
  Value out = Value::sequence();
  for (const auto& item : items) out.push(render(item));
  return out;
}

// A mapping of name → render(value) for each entry of a map.
template <class Map, class Render>
Value mappingOf(const Map& entries, Render render) {
  Value out = Value::mapping();
  for (const auto& [name, value] : entries) out.set(name, render(value));
  return out;
}

std::string fileMode(std::uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0%o", mode);
  return buf;
}

Value ulimits(const std::map<std::string, Ulimit>& limits) {
  Value v = Value::mapping();
  for (const auto& [name, u] : limits) {
    if (u.single != 0) {
      v.set(name, Value::integer(u.single));
    } else {
      Value m = Value::mapping();
      if (u.soft != 0) m.set("soft", Value::integer(u.soft));
      if (u.hard != 0) m.set("hard", Value::integer(u.hard));
      v.set(name, std::move(m));
    }
  }
  return v;
}

Value extraHosts(const std::map<std::string, std::vector<std::string>>& hosts) {
  std::vector<std::string> entries;
  for (const auto& [host, ips] : hosts) {
    for (const auto& ip : ips) entries.push_back(host + "=" + ip);
  }
  std::sort(entries.begin(), entries.end());
  return Object::list(entries);
}

class Renderer {
 public:
  explicit Renderer(const RenderOptions& options) : o_(options) {}

  Value project(const Project& p) {
    Value v = Value::mapping();
    v.set("name", Value::string(p.name));
    v.set("services", mappingOf(p.services, [&](const Service& s) { return service(s); }));
    const auto section = [&](const char* key, Value entries) {
      if (!entries.empty()) v.set(key, std::move(entries));
    };
    section("networks", mappingOf(p.networks, [&](const Network& n) { return network(n); }));
    section("volumes", mappingOf(p.volumes, [&](const Volume& vol) { return volume(vol); }));
    section("secrets", mappingOf(p.secrets, [&](const FileObject& f) { return fileObject(f, false); }));
    section("configs", mappingOf(p.configs, [&](const FileObject& f) { return fileObject(f, true); }));
    section("models", mappingOf(p.models, [&](const Model& model) {
              return Object(o_)
                  .str("name", model.name)
                  .str("model", model.model)
                  .integer("context_size", model.contextSize)
                  .strings("runtime_flags", model.runtimeFlags)
                  .extensions(model.extensions)
                  .take();
            }));
    for (const auto& [k, x] : p.extensions) v.set(k, x);  // top-level x-* are always kept
    return v;
  }

  Value service(const Service& s) {
    Object v(o_);
    v.strings("profiles", s.profiles).mapping("annotations", s.annotations).optBool("attach", s.attach);
    if (s.build) v.value("build", build(*s.build));
    if (s.develop) v.valueIfNotEmpty("develop", develop(*s.develop));
    if (s.blkioConfig) v.valueIfNotEmpty("blkio_config", blkio(*s.blkioConfig));
    v.strings("cap_add", s.capAdd)
        .strings("cap_drop", s.capDrop)
        .str("cgroup_parent", s.cgroupParent)
        .str("cgroup", s.cgroup)
        .integer("cpu_count", s.cpuCount)
        .number("cpu_percent", s.cpuPercent)
        .integer("cpu_period", s.cpuPeriod)
        .integer("cpu_quota", s.cpuQuota)
        .integer("cpu_rt_period", s.cpuRtPeriod)
        .integer("cpu_rt_runtime", s.cpuRtRuntime)
        .number("cpus", s.cpus)
        .str("cpuset", s.cpuset)
        .integer("cpu_shares", s.cpuShares);
    if (s.command) v.value("command", Object::list(*s.command));
    if (!s.configs.empty()) v.value("configs", fileReferences(s.configs));
    v.str("container_name", s.containerName);
    if (s.credentialSpec) {
      v.valueIfNotEmpty("credential_spec", Object(o_)
                                               .str("config", s.credentialSpec->config)
                                               .str("file", s.credentialSpec->file)
                                               .str("registry", s.credentialSpec->registry)
                                               .extensions(s.credentialSpec->extensions)
                                               .take());
    }
    v.valueIfNotEmpty(
        "depends_on", mappingOf(s.dependsOn, [&](const Dependency& d) {
          Object dep(o_);
          dep.str("condition", d.condition).boolean("restart", d.restart);
          return dep.value("required", Value::boolean(d.required)).extensions(d.extensions).take();
        }));
    if (s.deploy) v.value("deploy", deploy(*s.deploy));
    v.strings("device_cgroup_rules", s.deviceCgroupRules);
    v.valueIfNotEmpty("devices", sequenceOf(s.devices, [&](const DeviceMapping& d) {
                        return Object(o_)
                            .str("source", d.source)
                            .str("target", d.target)
                            .str("permissions", d.permissions)
                            .extensions(d.extensions)
                            .take();
                      }));
    v.strings("dns", s.dns).strings("dns_opt", s.dnsOpt).strings("dns_search", s.dnsSearch);
    v.str("domainname", s.domainName);
    if (s.entrypoint) v.value("entrypoint", Object::list(*s.entrypoint));
    if (s.provider) {
      Value options = Value::mapping();
      for (const auto& [k, vals] : s.provider->options) options.set(k, Object::list(vals));
      Object prov(o_);
      prov.str("type", s.provider->type).valueIfNotEmpty("options", std::move(options));
      v.value("provider", prov.extensions(s.provider->extensions).take());
    }
    v.mappingWithEquals("environment", s.environment);
    v.valueIfNotEmpty("env_file", sequenceOf(s.envFiles, [&](const EnvFile& f) {
                        Object e(o_);
                        e.str("path", f.path);
                        if (!f.required) e.value("required", Value::boolean(false));
                        return e.str("format", f.format).take();
                      }));
    v.strings("expose", s.expose).strings("external_links", s.externalLinks);
    if (!s.extraHosts.empty()) v.value("extra_hosts", extraHosts(s.extraHosts));
    v.strings("group_add", s.groupAdd);
    if (!s.gpus.empty()) v.value("gpus", deviceRequests(s.gpus));
    v.str("hostname", s.hostname);
    if (s.healthcheck) v.valueIfNotEmpty("healthcheck", healthcheck(*s.healthcheck));
    v.str("image", s.image).optBool("init", s.init).str("ipc", s.ipc).str("isolation", s.isolation);
    v.mapping("labels", s.labels).strings("label_file", s.labelFiles).strings("links", s.links);
    if (s.logging) {
      v.valueIfNotEmpty("logging", Object(o_)
                                       .str("driver", s.logging->driver)
                                       .mapping("options", s.logging->options)
                                       .extensions(s.logging->extensions)
                                       .take());
    }
    v.bytes("mem_limit", s.memLimit)
        .bytes("mem_reservation", s.memReservation)
        .bytes("memswap_limit", s.memswapLimit)
        .integer("mem_swappiness", s.memSwappiness)
        .str("mac_address", s.macAddress);
    v.valueIfNotEmpty("models", mappingOf(s.models, [&](const std::optional<ServiceModel>& m) {
                        if (!m) return Value::null();
                        return Object(o_)
                            .str("endpoint_var", m->endpointVar)
                            .str("model_var", m->modelVar)
                            .extensions(m->extensions)
                            .take();
                      }));
    v.str("network_mode", s.networkMode);
    v.valueIfNotEmpty("networks", mappingOf(s.networks, [&](const std::optional<ServiceNetwork>& n) {
                        if (!n) return Value::null();
                        return Object(o_)
                            .strings("aliases", n->aliases)
                            .mapping("driver_opts", n->driverOpts)
                            .integer("gw_priority", n->gwPriority)
                            .str("interface_name", n->interfaceName)
                            .str("ipv4_address", n->ipv4Address)
                            .str("ipv6_address", n->ipv6Address)
                            .strings("link_local_ips", n->linkLocalIps)
                            .str("mac_address", n->macAddress)
                            .integer("priority", n->priority)
                            .extensions(n->extensions)
                            .take();
                      }));
    v.boolean("oom_kill_disable", s.oomKillDisable)
        .integer("oom_score_adj", s.oomScoreAdj)
        .str("pid", s.pid)
        .integer("pids_limit", s.pidsLimit)
        .str("platform", s.platform);
    v.valueIfNotEmpty("ports", sequenceOf(s.ports, [&](const Port& p) { return port(p); }));
    v.boolean("privileged", s.privileged)
        .str("pull_policy", s.pullPolicy)
        .boolean("read_only", s.readOnly)
        .str("restart", s.restart)
        .str("runtime", s.runtime)
        .optInt("scale", s.scale);
    if (!s.secrets.empty()) v.value("secrets", fileReferences(s.secrets));
    v.strings("security_opt", s.securityOpt)
        .bytes("shm_size", s.shmSize)
        .boolean("stdin_open", s.stdinOpen)
        .duration("stop_grace_period", s.stopGracePeriod)
        .str("stop_signal", s.stopSignal)
        .mapping("storage_opt", s.storageOpt)
        .mapping("sysctls", s.sysctls)
        .strings("tmpfs", s.tmpfs)
        .boolean("tty", s.tty);
    if (!s.ulimits.empty()) v.value("ulimits", ulimits(s.ulimits));
    v.boolean("use_api_socket", s.useApiSocket)
        .str("user", s.user)
        .str("userns_mode", s.usernsMode)
        .str("uts", s.uts);
    v.valueIfNotEmpty("volumes", sequenceOf(s.volumes, [&](const VolumeMount& m) { return mount(m); }));
    v.strings("volumes_from", s.volumesFrom).str("working_dir", s.workingDir);
    if (!s.preStart.empty()) v.value("pre_start", hooks(s.preStart, true));
    if (!s.postStart.empty()) v.value("post_start", hooks(s.postStart, false));
    if (!s.preStop.empty()) v.value("pre_stop", hooks(s.preStop, false));
    return v.extensions(s.extensions).take();
  }

 private:
  Value build(const Build& b) {
    Object v(o_);
    v.str("context", b.context)
        .str("dockerfile", b.dockerfile)
        .str("dockerfile_inline", b.dockerfileInline)
        .strings("entitlements", b.entitlements)
        .mappingWithEquals("args", b.args)
        .str("provenance", b.provenance)
        .str("sbom", b.sbom);
    if (!b.ssh.empty()) {
      std::vector<std::string> keys;
      for (const auto& k : b.ssh) keys.push_back(k.path.empty() ? k.id : k.id + "=" + k.path);
      v.value("ssh", Object::list(keys));
    }
    v.mapping("labels", b.labels)
        .strings("cache_from", b.cacheFrom)
        .strings("cache_to", b.cacheTo)
        .boolean("no_cache", b.noCache)
        .strings("no_cache_filter", b.noCacheFilter)
        .mapping("additional_contexts", b.additionalContexts)
        .boolean("pull", b.pull);
    if (!b.extraHosts.empty()) v.value("extra_hosts", extraHosts(b.extraHosts));
    v.str("isolation", b.isolation).str("network", b.network).str("target", b.target);
    if (!b.secrets.empty()) v.value("secrets", fileReferences(b.secrets));
    v.bytes("shm_size", b.shmSize).strings("tags", b.tags);
    if (!b.ulimits.empty()) v.value("ulimits", ulimits(b.ulimits));
    v.strings("platforms", b.platforms).boolean("privileged", b.privileged);
    return v.extensions(b.extensions).take();
  }

  Value develop(const Develop& d) {
    Object v(o_);
    v.valueIfNotEmpty("watch", sequenceOf(d.watch, [&](const WatchRule& w) {
                        Object rule(o_);
                        rule.str("path", w.path).str("action", w.action).str("target", w.target);
                        if (!w.exec.empty()) rule.value("exec", hook(w.exec.front(), false));
                        rule.strings("include", w.include)
                            .strings("ignore", w.ignore)
                            .boolean("initial_sync", w.initialSync);
                        return rule.extensions(w.extensions).take();
                      }));
    return v.extensions(d.extensions).take();
  }

  Value blkio(const BlkioConfig& b) {
    // Every path is printed with its number, even 0 (unlike Object's fields, which skip zeros).
    const auto device = [](const std::string& path, const char* key, std::int64_t number) {
      Value e = Value::mapping();
      e.set("path", Value::string(path));
      e.set(key, Value::integer(number));
      return e;
    };
    const auto throttles = [&](const std::vector<ThrottleDevice>& list) {
      return sequenceOf(list, [&](const ThrottleDevice& t) { return device(t.path, "rate", t.rate); });
    };
    Object v(o_);
    v.integer("weight", b.weight);
    v.valueIfNotEmpty("weight_device", sequenceOf(b.weightDevice, [&](const WeightDevice& w) {
                        return device(w.path, "weight", w.weight);
                      }));
    v.valueIfNotEmpty("device_read_bps", throttles(b.deviceReadBps))
        .valueIfNotEmpty("device_read_iops", throttles(b.deviceReadIops))
        .valueIfNotEmpty("device_write_bps", throttles(b.deviceWriteBps))
        .valueIfNotEmpty("device_write_iops", throttles(b.deviceWriteIops));
    return v.extensions(b.extensions).take();
  }

  Value fileReferences(const std::vector<FileReference>& refs) {
    return sequenceOf(refs, [&](const FileReference& r) {
      Object v(o_);
      v.str("source", r.source).str("target", r.target).str("uid", r.uid).str("gid", r.gid);
      if (r.mode) v.value("mode", Value::string(fileMode(*r.mode)));
      return v.extensions(r.extensions).take();
    });
  }

  Value deviceRequests(const std::vector<DeviceRequest>& list) {
    return sequenceOf(list, [&](const DeviceRequest& d) {
      Object v(o_);
      v.strings("capabilities", d.capabilities).str("driver", d.driver).integer("count", d.count);
      v.strings("device_ids", d.deviceIds).mapping("options", d.options);
      return v.extensions(d.extensions).take();
    });
  }

  Value healthcheck(const Healthcheck& h) {
    Object v(o_);
    if (h.test) v.value("test", Object::list(*h.test));
    v.duration("timeout", h.timeout)
        .duration("interval", h.interval)
        .optInt("retries", h.retries)
        .duration("start_period", h.startPeriod)
        .duration("start_interval", h.startInterval)
        .boolean("disable", h.disable);
    return v.extensions(h.extensions).take();
  }

  Value updateConfig(const UpdateConfig& u) {
    return Object(o_)
        .optInt("parallelism", u.parallelism)
        .duration("delay", u.delay)
        .str("failure_action", u.failureAction)
        .duration("monitor", u.monitor)
        .number("max_failure_ratio", u.maxFailureRatio)
        .str("order", u.order)
        .extensions(u.extensions)
        .take();
  }

  Value resource(const Resource& r) {
    Object v(o_);
    v.number("cpus", r.cpus).bytes("memory", r.memory).integer("pids", r.pids);
    if (!r.devices.empty()) v.value("devices", deviceRequests(r.devices));
    v.valueIfNotEmpty("generic_resources", sequenceOf(r.genericResources, [&](const GenericResource& g) {
                        Value spec = Value::mapping();
                        if (!g.kind.empty()) spec.set("kind", Value::string(g.kind));
                        if (g.value != 0) spec.set("value", Value::integer(g.value));
                        Object e(o_);
                        e.valueIfNotEmpty("discrete_resource_spec", std::move(spec));
                        return e.extensions(g.extensions).take();
                      }));
    return v.extensions(r.extensions).take();
  }

  Value deploy(const Deploy& d) {
    Object v(o_);
    v.str("mode", d.mode).optInt("replicas", d.replicas).mapping("labels", d.labels);
    if (d.updateConfig) v.valueIfNotEmpty("update_config", updateConfig(*d.updateConfig));
    if (d.rollbackConfig) v.valueIfNotEmpty("rollback_config", updateConfig(*d.rollbackConfig));
    Value resources = Value::mapping();
    if (d.limits) {
      Value l = resource(*d.limits);
      if (!l.empty()) resources.set("limits", std::move(l));
    }
    if (d.reservations) {
      Value r = resource(*d.reservations);
      if (!r.empty()) resources.set("reservations", std::move(r));
    }
    v.valueIfNotEmpty("resources", std::move(resources));
    if (d.restartPolicy) {
      v.valueIfNotEmpty("restart_policy", Object(o_)
                                              .str("condition", d.restartPolicy->condition)
                                              .duration("delay", d.restartPolicy->delay)
                                              .optInt("max_attempts", d.restartPolicy->maxAttempts)
                                              .duration("window", d.restartPolicy->window)
                                              .extensions(d.restartPolicy->extensions)
                                              .take());
    }
    Value preferences = sequenceOf(d.placement.preferences, [](const std::string& spread) {
      Value e = Value::mapping();
      e.set("spread", Value::string(spread));
      return e;
    });
    Object placement(o_);
    placement.strings("constraints", d.placement.constraints)
        .valueIfNotEmpty("preferences", std::move(preferences))
        .integer("max_replicas_per_node", static_cast<std::int64_t>(d.placement.maxReplicasPerNode));
    v.valueIfNotEmpty("placement", placement.extensions(d.placement.extensions).take());
    v.str("endpoint_mode", d.endpointMode);
    return v.extensions(d.extensions).take();
  }

  Value port(const Port& p) {
    if (!p.unparsed.empty()) return Value::string(p.unparsed);
    Object v(o_);
    v.str("name", p.name).str("mode", p.mode).str("host_ip", p.hostIp);
    v.integer("target", p.target).str("published", p.published).str("protocol", p.protocol);
    v.str("app_protocol", p.appProtocol);
    return v.extensions(p.extensions).take();
  }

  Value mount(const VolumeMount& m) {
    Object v(o_);
    v.str("type", m.type).str("source", m.source).str("target", m.target);
    v.boolean("read_only", m.readOnly).str("consistency", m.consistency);
    if (m.bind) {
      Object b(o_);
      b.str("selinux", m.bind->selinux).str("propagation", m.bind->propagation);
      if (!m.bind->createHostPath) b.value("create_host_path", Value::boolean(false));
      b.str("recursive", m.bind->recursive);
      v.value("bind", b.extensions(m.bind->extensions).take());
    }
    if (m.volume) {
      v.value("volume", Object(o_)
                            .mapping("labels", m.volume->labels)
                            .boolean("nocopy", m.volume->nocopy)
                            .str("subpath", m.volume->subpath)
                            .extensions(m.volume->extensions)
                            .take());
    }
    if (m.tmpfs) {
      v.value("tmpfs", Object(o_)
                           .bytes("size", m.tmpfs->size)
                           .integer("mode", m.tmpfs->mode)
                           .extensions(m.tmpfs->extensions)
                           .take());
    }
    if (m.image) {
      v.value("image", Object(o_).str("subpath", m.image->subpath).extensions(m.image->extensions).take());
    }
    return v.extensions(m.extensions).take();
  }

  Value hook(const Hook& h, bool preStart) {
    Object v(o_);
    if (preStart) v.str("image", h.image);
    v.value("command", Object::list(h.command))
        .str("user", h.user)
        .boolean("privileged", h.privileged)
        .str("working_dir", h.workingDir)
        .mappingWithEquals("environment", h.environment);
    if (preStart) v.boolean("per_replica", h.perReplica);
    return v.extensions(h.extensions).take();
  }

  Value hooks(const std::vector<Hook>& list, bool preStart) {
    return sequenceOf(list, [&](const Hook& h) { return hook(h, preStart); });
  }

  Value network(const Network& n) {
    Object v(o_);
    v.str("name", n.name).str("driver", n.driver).mapping("driver_opts", n.driverOpts);
    Value pools = sequenceOf(n.ipam.config, [&](const IpamPool& pool) {
      return Object(o_)
          .str("subnet", pool.subnet)
          .str("gateway", pool.gateway)
          .str("ip_range", pool.ipRange)
          .mapping("aux_addresses", pool.auxAddresses)
          .extensions(pool.extensions)
          .take();
    });
    Object ipam(o_);
    ipam.str("driver", n.ipam.driver).valueIfNotEmpty("config", std::move(pools));
    ipam.mapping("options", n.ipam.options).extensions(n.ipam.extensions);
    v.valueIfNotEmpty("ipam", ipam.take());
    v.boolean("external", n.external)
        .boolean("internal", n.internal)
        .boolean("attachable", n.attachable)
        .mapping("labels", n.labels)
        .optBool("enable_ipv4", n.enableIpv4)
        .optBool("enable_ipv6", n.enableIpv6);
    return v.extensions(n.extensions).take();
  }

  Value volume(const Volume& vol) {
    return Object(o_)
        .str("name", vol.name)
        .str("driver", vol.driver)
        .mapping("driver_opts", vol.driverOpts)
        .boolean("external", vol.external)
        .mapping("labels", vol.labels)
        .extensions(vol.extensions)
        .take();
  }

  Value fileObject(const FileObject& f, bool isConfig) {
    Object v(o_);
    v.str("name", f.name).str("file", f.file).str("environment", f.environment);
    // Secret values are never printed; a config's inline content is part of its definition.
    if (isConfig && f.environment.empty()) v.str("content", f.content);
    v.boolean("external", f.external)
        .mapping("labels", f.labels)
        .str("driver", f.driver)
        .mapping("driver_opts", f.driverOpts)
        .str("template_driver", f.templateDriver);
    return v.extensions(f.extensions).take();
  }

  const RenderOptions& o_;
};

// ---- YAML writer --------------------------------------------------------------------------------

// Length of the UTF-8 sequence starting at s[i], or 0 when it is not valid UTF-8.
std::size_t utf8Length(const std::string& s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  if (c < 0x80) return 1;
  if ((c & 0xe0) == 0xc0 && c >= 0xc2)
    n = 2;
  else if ((c & 0xf0) == 0xe0)
    n = 3;
  else if ((c & 0xf8) == 0xf0 && c <= 0xf4)
    n = 4;
  else
    return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
  }
  return n;
}

bool validUtf8(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8Length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

bool looksLikeOtherType(const std::string& s) {
  static const char* const kSpecial[] = {
      "~",   "null", "Null", "NULL", "true", "True",  "TRUE",  "false", "False", "FALSE", "yes", "Yes",
      "YES", "no",   "No",   "NO",   "on",   "On",    "ON",    "off",   "Off",   "OFF",   "y",   "Y",
      "n",   "N",    ".inf", ".Inf", ".INF", "-.inf", "+.inf", ".nan",  ".NaN",  ".NAN",  "<<"};
  for (const char* k : kSpecial) {
    if (s == k) return true;
  }
  return parseYamlInt(s).has_value() || parseYamlFloat(s).has_value();
}

bool needsQuotes(const std::string& s) {
  if (s.empty() || looksLikeOtherType(s)) return true;
  const char first = s.front();
  if (std::string_view(",[]{}#&*!|>'\"%@`").find(first) != std::string_view::npos) return true;
  // "-g", "?x", ":x" are plain scalars; "- x", "-" and "? x" are not.
  if ((first == '-' || first == '?' || first == ':') && (s.size() == 1 || s[1] == ' ')) return true;
  if (first == ' ' || s.back() == ' ' || s.back() == ':') return true;
  if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos) return true;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return !validUtf8(s);
}

// Valid UTF-8 passes through; a stray byte becomes U+FFFD (YAML cannot hold raw bytes).
std::string withValidUtf8(const std::string& s) {
  if (validUtf8(s)) return s;
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8Length(s, i);
    if (n == 0) {
      out += "\uFFFD";
      ++i;
    } else {
      out.append(s, i, n);
      i += n;
    }
  }
  return out;
}

// A YAML double-quoted scalar: the escapes of error messages' quoting are YAML's own.
std::string doubleQuoted(const std::string& s) { return ::berth::quoted(withValidUtf8(s)); }

// A block literal keeps multi-line text readable; only used when it round-trips exactly.
bool literalFriendly(const std::string& s) {
  if (s.find('\n') == std::string::npos) return false;
  if (s.front() == ' ' || s.front() == '\n') return false;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n') || u == 0x7f) return false;
  }
  if (!validUtf8(s)) return false;
  for (const std::string& line : split(s, '\n')) {
    if (!line.empty() && (line.back() == ' ' || line.back() == '\t')) return false;
  }
  return true;
}

std::string scalarText(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Null:
      return "null";
    case Value::Kind::Bool:
      return v.asBool() ? "true" : "false";
    case Value::Kind::Int:
      return std::to_string(v.asInt());
    case Value::Kind::Float: {
      const double d = v.asFloat();
      if (std::isnan(d)) return ".nan";
      if (std::isinf(d)) return d > 0 ? ".inf" : "-.inf";
      std::string s = formatGoFloat(d);
      // Keep it a float when read back.
      if (s.find_first_of(".eE") == std::string::npos) s += ".0";
      return s;
    }
    case Value::Kind::String:
      return needsQuotes(v.asString()) ? doubleQuoted(v.asString()) : v.asString();
    case Value::Kind::Sequence:
      return "[]";
    case Value::Kind::Mapping:
      return "{}";
  }
  return "null";
}

void writeBlockLiteral(std::string& out, const std::string& s, int indent) {
  std::string text = s;
  std::string chomp = "-";
  if (!text.empty() && text.back() == '\n') {
    text.pop_back();
    chomp = (!text.empty() && text.back() == '\n') ? "+" : "";
    if (chomp == "+") text.push_back('\n');
  }
  out += "|" + chomp + "\n";
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  for (const std::string& line : split(text, '\n')) {
    if (!line.empty()) out += pad + line;
    out += "\n";
  }
}

void writeNode(std::string& out, const Value& v, int indent);

void writeValueAfterKey(std::string& out, const Value& v, int indent) {
  if (v.isMapping() && !v.entries().empty()) {
    out += "\n";
    writeNode(out, v, indent + 2);
  } else if (v.isSequence() && !v.items().empty()) {
    out += "\n";
    writeNode(out, v, indent + 2);
  } else if (v.isString() && literalFriendly(v.asString())) {
    out += " ";
    writeBlockLiteral(out, v.asString(), indent + 2);
  } else {
    out += " " + scalarText(v) + "\n";
  }
}

void writeNode(std::string& out, const Value& v, int indent) {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  if (v.isMapping()) {
    for (const auto& [k, x] : v.entries()) {
      out += pad + (needsQuotes(k) ? doubleQuoted(k) : k) + ":";
      writeValueAfterKey(out, x, indent);
    }
    return;
  }
  if (v.isSequence()) {
    for (const Value& item : v.items()) {
      out += pad + "-";
      if (item.isMapping() && !item.entries().empty()) {
        // First key on the dash line, the rest aligned under it.
        std::string nested;
        writeNode(nested, item, indent + 2);
        out += " " + nested.substr(static_cast<std::size_t>(indent) + 2);
      } else if (item.isSequence() && !item.items().empty()) {
        out += "\n";
        writeNode(out, item, indent + 2);
      } else if (item.isString() && literalFriendly(item.asString())) {
        out += " ";
        writeBlockLiteral(out, item.asString(), indent + 2);
      } else {
        out += " " + scalarText(item) + "\n";
      }
    }
    return;
  }
  out += pad + scalarText(v) + "\n";
}

nlohmann::ordered_json toJson(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Null:
      return nullptr;
    case Value::Kind::Bool:
      return v.asBool();
    case Value::Kind::Int:
      return v.asInt();
    case Value::Kind::Float:
      if (!std::isfinite(v.asFloat())) return nullptr;
      return v.asFloat();
    case Value::Kind::String:
      return v.asString();
    case Value::Kind::Sequence: {
      nlohmann::ordered_json arr = nlohmann::ordered_json::array();
      for (const Value& item : v.items()) arr.push_back(toJson(item));
      return arr;
    }
    case Value::Kind::Mapping: {
      nlohmann::ordered_json obj = nlohmann::ordered_json::object();
      for (const auto& [k, x] : v.entries()) obj[k] = toJson(x);
      return obj;
    }
  }
  return nullptr;
}

}  // namespace

Value renderValue(const Project& project, const RenderOptions& options) {
  return Renderer(options).project(project);
}

Value renderServiceValue(const Service& service, const RenderOptions& options) {
  return Renderer(options).service(service);
}

std::string renderYaml(const Project& project, const RenderOptions& options) {
  return writeYaml(renderValue(project, options));
}

std::string renderJson(const Project& project, const RenderOptions& options) {
  return writeJson(renderValue(project, options));
}

std::string writeYaml(const Value& value) {
  std::string out;
  if ((value.isMapping() && value.entries().empty()) || (value.isSequence() && value.items().empty()) ||
      (!value.isMapping() && !value.isSequence())) {
    return scalarText(value) + "\n";
  }
  writeNode(out, value, 0);
  return out;
}

std::string writeJson(const Value& value, int indent) {
  // Invalid UTF-8 is replaced rather than thrown about: JSON output must never fail.
  return toJson(value).dump(indent, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace berth::spec
