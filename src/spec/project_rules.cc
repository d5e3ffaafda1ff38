#include "spec/project_rules.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <set>
#include <system_error>

#include "base/files.h"
#include "base/strings.h"
#include "spec/dotenv.h"
#include "spec/format.h"

namespace berth::spec::internal {

namespace fs = std::filesystem;

namespace {

bool isRemoteContext(const std::string& p) {
  return p.find("://") != std::string::npos || startsWith(p, "git@") || startsWith(p, "github.com/");
}

bool isWindowsAbsolute(const std::string& p) {
  if (startsWith(p, "\\\\")) return true;
  return p.size() > 2 && std::isalpha(static_cast<unsigned char>(p[0])) != 0 && p[1] == ':' &&
         (p[2] == '\\' || p[2] == '/');
}

template <class F>
void forAllServices(Project& project, F&& fn) {
  for (auto& [name, s] : project.services) fn(s);
  for (auto& [name, s] : project.disabledServices) fn(s);
}

}  // namespace

void applyBuildDefaults(Project& project) {
  forAllServices(project, [](Service& s) {
    if (s.build && s.build->context.empty()) s.build->context = ".";
  });
}

void resolvePaths(Project& project, const Environment& env) {
  const std::string home = env.count("HOME") != 0 ? env.at("HOME") : std::string();
  const std::string& wd = project.workingDir;
  const auto expandUser = [&](std::string p) {
    if (startsWith(p, "~") && !home.empty())
      p = (fs::path(home) / p.substr(std::min<std::size_t>(p.size(), p[1] == '/' ? 2 : 1)))
              .lexically_normal()
              .string();
    return p;
  };
  const auto abs = [&](const std::string& raw) {
    if (raw.empty()) return raw;
    const std::string p = expandUser(raw);
    if (fs::path(p).is_absolute() || isWindowsAbsolute(p)) return p;
    std::string out = (fs::path(wd) / p).lexically_normal().string();
    if (out.size() > 1 && out.back() == '/') out.pop_back();
    return out;
  };
  forAllServices(project, [&](Service& s) {
    if (s.build) {
      if (!isRemoteContext(s.build->context)) s.build->context = abs(s.build->context);
      for (auto& [k, v] : s.build->additionalContexts) {
        if (!isRemoteContext(v)) v = abs(v);
      }
      for (SshKey& key : s.build->ssh) {
        if (!key.path.empty()) key.path = abs(key.path);
      }
    }
    for (EnvFile& f : s.envFiles) f.path = abs(f.path);
    for (std::string& f : s.labelFiles) f = abs(f);
    if (s.ssh) {
      for (std::string& f : s.ssh->keyFiles) f = abs(f);
    }
    for (VolumeMount& v : s.volumes) {
      if (v.type == "bind" && !v.source.empty()) v.source = abs(v.source);
    }
    if (s.develop) {
      for (WatchRule& w : s.develop->watch) w.path = abs(w.path);
    }
  });
  for (auto& [name, f] : project.secrets) f.file = abs(f.file);
  for (auto& [name, f] : project.configs) f.file = abs(f.file);
  for (auto& [name, v] : project.volumes) {
    if (v.driver != "local") continue;
    auto o = v.driverOpts.find("o");
    auto device = v.driverOpts.find("device");
    if (o != v.driverOpts.end() && o->second == "bind" && device != v.driverOpts.end()) {
      device->second = abs(device->second);
    }
  }
}

void resolveBareVariables(Project& project, const Environment& env) {
  forAllServices(project, [&](Service& s) {
    for (auto& [k, v] : s.environment) {
      if (!v) {
        if (auto it = env.find(k); it != env.end()) v = it->second;
      }
    }
  });
}

void normalize(Project& project) {
  const auto setIfMissing = [](Service& s, const std::string& name, bool restart) {
    if (name.empty() || s.dependsOn.count(name) != 0) return;
    Dependency d;
    d.restart = restart;
    s.dependsOn[name] = d;
  };
  bool usesDefault = false;
  forAllServices(project, [&](Service& s) {
    if (s.networkMode.empty() && !s.provider && s.networks.empty()) {
      s.networks["default"] = std::nullopt;
    }
    if (s.networks.count("default") != 0) usesDefault = true;
    if (s.pullPolicy == "if_not_present") s.pullPolicy = "missing";
    if (s.build) {
      if (s.build->dockerfile.empty() && s.build->dockerfileInline.empty()) {
        s.build->dockerfile = "Dockerfile";
      }
      // Build args without a value take it from the environment, or are dropped.
      for (auto it = s.build->args.begin(); it != s.build->args.end();) {
        if (!it->second) {
          if (auto e = project.environment.find(it->first); e != project.environment.end()) {
            it->second = e->second;
          } else {
            it = s.build->args.erase(it);
            continue;
          }
        }
        ++it;
      }
    }
    for (auto& [k, v] : s.environment) {
      if (!v) {
        if (auto it = project.environment.find(k); it != project.environment.end()) v = it->second;
      }
    }
    for (const std::string& link : s.links) setIfMissing(s, link.substr(0, link.find(':')), true);
    for (const std::string* ns : {&s.networkMode, &s.ipc, &s.pid, &s.uts, &s.cgroup}) {
      if (startsWith(*ns, "service:")) setIfMissing(s, ns->substr(8), true);
    }
    for (const std::string& from : s.volumesFrom) {
      if (!startsWith(from, "container:")) setIfMissing(s, from.substr(0, from.find(':')), false);
    }
    for (Hook& h : s.preStart) {
      if (h.image.empty()) h.image = s.image;
    }
  });
  if (usesDefault && project.networks.count("default") == 0) project.networks["default"] = Network{};
  const auto nameFromKey = [&](auto& resources) {
    for (auto& [key, r] : resources) {
      if (!r.name.empty()) continue;
      r.name = r.external ? key : project.name + "_" + key;
    }
  };
  nameFromKey(project.networks);
  nameFromKey(project.volumes);
  nameFromKey(project.secrets);
  nameFromKey(project.configs);
}

void applyProfiles(Project& project, const std::vector<std::string>& profiles) {
  const bool all = std::find(profiles.begin(), profiles.end(), "*") != profiles.end();
  std::map<std::string, Service> everything = std::move(project.services);
  for (auto& [name, s] : project.disabledServices) everything.emplace(name, std::move(s));
  project.services.clear();
  project.disabledServices.clear();
  for (auto& [name, s] : everything) {
    bool enabled = all || s.profiles.empty();
    for (const std::string& p : s.profiles) {
      if (std::find(profiles.begin(), profiles.end(), p) != profiles.end()) enabled = true;
    }
    (enabled ? project.services : project.disabledServices).emplace(name, std::move(s));
  }
  project.profiles = profiles;
}

Status selectServices(Project& project, const std::vector<std::string>& names) {
  // Naming a service enables the profiles it belongs to.
  std::vector<std::string> profiles = project.profiles;
  for (const std::string& name : names) {
    if (project.services.count(name) != 0) continue;
    auto it = project.disabledServices.find(name);
    if (it == project.disabledServices.end()) {
      return fail(ErrorCode::NotFound, "no such service: " + name);
    }
    for (const std::string& p : it->second.profiles) profiles.push_back(p);
  }
  applyProfiles(project, profiles);

  std::set<std::string> keep;
  std::function<Status(const std::string&, bool)> visit = [&](const std::string& name,
                                                              bool required) -> Status {
    if (keep.count(name) != 0) return ok();
    auto it = project.services.find(name);
    if (it == project.services.end()) {
      if (!required) return ok();
      return fail(ErrorCode::NotFound, "no such service: " + name);
    }
    keep.insert(name);
    for (const auto& [dep, d] : it->second.dependsOn) BERTH_TRY(visit(dep, d.required));
    return ok();
  };
  for (const std::string& name : names) BERTH_TRY(visit(name, true));
  for (auto it = project.services.begin(); it != project.services.end();) {
    if (keep.count(it->first) == 0) {
      project.disabledServices.emplace(it->first, std::move(it->second));
      it = project.services.erase(it);
      continue;
    }
    for (auto d = it->second.dependsOn.begin(); d != it->second.dependsOn.end();) {
      d = keep.count(d->first) == 0 ? it->second.dependsOn.erase(d) : std::next(d);
    }
    ++it;
  }
  return ok();
}

Status resolveEnvFiles(Project& project, bool discardEnvFiles) {
  for (auto& entry : project.services) {
    const std::string& name = entry.first;
    Service& s = entry.second;
    EnvMap fromFiles;
    const Lookup lookup = [&](std::string_view key) -> std::optional<std::string> {
      const std::string k(key);
      if (auto it = project.environment.find(k); it != project.environment.end()) return it->second;
      if (auto it = s.environment.find(k); it != s.environment.end() && it->second) return *it->second;
      return std::nullopt;
    };
    for (const EnvFile& envFile : s.envFiles) {
      EnvFile f = envFile;
      if (!f.path.empty() && !fs::path(f.path).is_absolute())
        f.path = (fs::path(project.workingDir) / f.path).string();
      std::error_code ec;
      if (!fs::exists(f.path, ec)) {
        if (f.required) {
          return fail(ErrorCode::NotFound, "services." + name + ".env_file: env file " + f.path +
                                               " not found: no such file or directory");
        }
        continue;
      }
      BERTH_ASSIGN_OR_RETURN(std::string content, readFile(f.path));
      if (Status st = parseEnvFile(content, fromFiles, lookup, f.format); !st) {
        return Error(st.error()).withContext("services." + name + ".env_file: failed to read " + f.path);
      }
    }
    if (!fromFiles.empty()) {
      MappingWithEquals merged;
      for (auto& [k, v] : fromFiles) merged[k] = v;
      for (auto& [k, v] : s.environment) {
        if (v || merged.count(k) == 0) merged[k] = v;
      }
      s.environment = std::move(merged);
    }
    if (discardEnvFiles) s.envFiles.clear();
  }
  for (auto* objects : {&project.secrets, &project.configs}) {
    for (auto& [name, f] : *objects) {
      if (f.environment.empty()) continue;
      if (auto it = project.environment.find(f.environment); it != project.environment.end()) {
        f.content = it->second;
      }
    }
  }
  return ok();
}

Status resolveLabelFiles(Project& project) {
  for (auto& [name, s] : project.services) {
    if (s.labelFiles.empty()) continue;
    EnvMap fromFiles;
    const Lookup none = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
    for (const std::string& labelFile : s.labelFiles) {
      const std::string path =
          fs::path(labelFile).is_absolute() ? labelFile : (fs::path(project.workingDir) / labelFile).string();
      auto content = readFile(path);
      if (!content) {
        return fail(ErrorCode::NotFound,
                    "services." + name + ".label_file: label file " + path + " not found");
      }
      if (Status st = parseEnvFile(*content, fromFiles, none); !st) {
        return Error(st.error()).withContext("services." + name + ".label_file: failed to read " + path);
      }
    }
    for (auto& [k, v] : fromFiles) s.labels.emplace(k, v);  // the service's own labels win
  }
  return ok();
}

Status resolveSshKeyFiles(Project& project, bool interpolated) {
  for (auto& [name, s] : project.services) {
    if (!s.ssh) continue;
    const std::string where = "services." + name + ".x-berth-ssh.authorized_keys: ";
    for (const std::string& keyFile : s.ssh->keyFiles) {
      if (!interpolated && keyFile.find('$') != std::string::npos) continue;  // names no file yet
      const std::string path =
          fs::path(keyFile).is_absolute() ? keyFile : (fs::path(project.workingDir) / keyFile).string();
      auto content = readFile(path);
      if (!content) {
        if (content.error().code() == ErrorCode::NotFound) {
          return fail(ErrorCode::NotFound, where + "key file " + path + " not found");
        }
        return fail(content.error().code(), where + "cannot read key file " + content.error().message());
      }
      // authorized_keys(5) form: one key a line; blank lines and # comments are skipped.
      std::size_t keys = 0;
      const std::vector<std::string> lines = split(*content, '\n');
      for (std::size_t i = 0; i < lines.size(); ++i) {
        const std::string_view line = trim(lines[i]);
        if (line.empty() || line.front() == '#') continue;
        if (Status st = checkSshPublicKey(line); !st) {
          return fail(ErrorCode::InvalidArgument,
                      where + path + ":" + std::to_string(i + 1) + ": " + st.error().message());
        }
        s.ssh->authorizedKeys.emplace_back(line);
        ++keys;
      }
      if (keys == 0) return fail(ErrorCode::InvalidArgument, where + "key file " + path + " has no keys");
    }
  }
  return ok();
}

namespace {

class ConsistencyChecker {
 public:
  ConsistencyChecker(const Project& project, const SourceMap& marks, Diagnostics& diag)
      : project_(project), marks_(marks), diag_(diag) {}

  void run() {
    for (const auto& [name, s] : project_.services) service(name, s);
    for (const auto& [name, secret] : project_.secrets) {
      if (secret.external || !secret.file.empty() || !secret.environment.empty()) continue;
      report("secrets." + name,
             "secret " + ::berth::quoted(name) + " must declare either `file` or `environment`");
    }
    cycles();
  }

 private:
  Mark markFor(const std::string& path) const {
    std::string p = path;
    while (true) {
      if (auto it = marks_.find(p); it != marks_.end()) return it->second;
      const std::size_t cut = p.find_last_of(".[");
      if (cut == std::string::npos) return Mark{};
      p = p.substr(0, cut);
    }
  }

  void report(const std::string& path, std::string message) {
    diag_.error(markFor(path), Path(path), std::move(message));
  }

  void service(const std::string& name, const Service& s) {
    const std::string sp = "services." + name;
    if (!s.build && s.image.empty() && !s.provider) {
      report(sp, "service " + ::berth::quoted(name) + " has neither an image nor a build context specified");
    }
    if (s.build) {
      if (!s.build->dockerfile.empty() && !s.build->dockerfileInline.empty()) {
        report(sp + ".build", "service " + ::berth::quoted(name) +
                                  " declares mutually exclusive dockerfile and dockerfile_inline");
      }
      if (!s.build->platforms.empty() && !s.platform.empty() &&
          std::find(s.build->platforms.begin(), s.build->platforms.end(), s.platform) ==
              s.build->platforms.end()) {
        report(sp + ".build.platforms",
               "build.platforms must include platform " + ::berth::quoted(s.platform));
      }
      for (const FileReference& secret : s.build->secrets) {
        if (project_.secrets.count(secret.source) == 0) {
          report(sp + ".build.secrets",
                 "service " + ::berth::quoted(name) + " refers to undefined build secret " + secret.source);
        }
      }
    }
    if (!s.networkMode.empty() && !s.networks.empty()) {
      report(sp + ".networks",
             "service " + name + " declares mutually exclusive `network_mode` and `networks`");
    }
    for (const auto& [net, cfg] : s.networks) {
      if (project_.networks.count(net) == 0) {
        report(sp + ".networks." + net,
               "service " + ::berth::quoted(name) + " refers to undefined network " + net);
      }
    }
    if (s.healthcheck && s.healthcheck->test && !s.healthcheck->test->empty()) {
      const std::string& first = s.healthcheck->test->front();
      if (first != "CMD" && first != "CMD-SHELL" && first != "NONE") {
        report(sp + ".healthcheck.test",
               "healthcheck.test must start either by \"CMD\", \"CMD-SHELL\" or \"NONE\"");
      }
    }
    for (const auto& [dep, d] : s.dependsOn) {
      if (project_.services.count(dep) != 0) continue;
      if (project_.disabledServices.count(dep) != 0 && !d.required) continue;
      report(sp + ".depends_on." + dep,
             "service " + ::berth::quoted(name) + " depends on undefined service " + ::berth::quoted(dep));
    }
    if (s.ssh) {
      for (std::size_t i = 0; i < s.ssh->to.size(); ++i) {
        const std::string& target = s.ssh->to[i];
        const std::string path = sp + ".x-berth-ssh.to[" + std::to_string(i) + "]";
        if (target == name) {
          report(path, "service " + ::berth::quoted(name) + " cannot reach itself over SSH");
        } else if (project_.services.count(target) == 0 && project_.disabledServices.count(target) == 0) {
          report(path, "service " + ::berth::quoted(name) + " reaches undefined service " +
                           ::berth::quoted(target) + " over SSH");
        }
      }
    }
    if (startsWith(s.networkMode, "service:")) {
      const std::string target = s.networkMode.substr(8);
      if (project_.services.count(target) == 0) {
        report(sp + ".network_mode",
               "service " + ::berth::quoted(target) + " not found for network_mode 'service:" + target + "'");
      }
    }
    for (std::size_t i = 0; i < s.volumes.size(); ++i) {
      const VolumeMount& v = s.volumes[i];
      if (v.type == "volume" && !v.source.empty() && project_.volumes.count(v.source) == 0) {
        report(sp + ".volumes[" + std::to_string(i) + "]",
               "service " + ::berth::quoted(name) + " refers to undefined volume " + v.source);
      }
    }
    for (std::size_t i = 0; i < s.configs.size(); ++i) {
      if (project_.configs.count(s.configs[i].source) == 0) {
        report(sp + ".configs[" + std::to_string(i) + "]",
               "service " + ::berth::quoted(name) + " refers to undefined config " + s.configs[i].source);
      }
    }
    for (std::size_t i = 0; i < s.secrets.size(); ++i) {
      if (project_.secrets.count(s.secrets[i].source) == 0) {
        report(sp + ".secrets[" + std::to_string(i) + "]",
               "service " + ::berth::quoted(name) + " refers to undefined secret " + s.secrets[i].source);
      }
    }
    if (s.scale && *s.scale < 0) report(sp + ".scale", "must be greater than or equal to 0");
    if (s.deploy && s.deploy->replicas && *s.deploy->replicas < 0) {
      report(sp + ".deploy.replicas", "must be greater than or equal to 0");
    }
    if (s.scale && s.deploy && s.deploy->replicas && *s.scale != *s.deploy->replicas) {
      report(sp + ".scale", "can't set distinct values on 'scale' and 'deploy.replicas'");
    }
    if (s.deploy && s.deploy->limits) {
      if (s.cpus != 0 && s.deploy->limits->cpus != s.cpus) {
        report(sp + ".cpus", "can't set distinct values on 'cpus' and 'deploy.resources.limits.cpus'");
      }
      if (s.memLimit != 0 && s.deploy->limits->memory != s.memLimit) {
        report(sp + ".mem_limit",
               "can't set distinct values on 'mem_limit' and 'deploy.resources.limits.memory'");
      }
      if (s.pidsLimit != 0 && s.deploy->limits->pids != s.pidsLimit) {
        report(sp + ".pids_limit",
               "can't set distinct values on 'pids_limit' and 'deploy.resources.limits.pids'");
      }
    }
    if (s.deploy && s.deploy->reservations && s.memReservation != 0 &&
        s.deploy->reservations->memory != s.memReservation) {
      report(sp + ".mem_reservation",
             "can't set distinct values on 'mem_reservation' and "
             "'deploy.resources.reservations.memory'");
    }
    if (s.replicaCount() > 1 && !s.containerName.empty()) {
      report(sp + ".container_name", std::string("can't set container_name and ") +
                                         (s.scale ? "scale" : "deploy.replicas") +
                                         " as container name must be unique");
    }
    if (s.develop) {
      for (const WatchRule& w : s.develop->watch) {
        if (w.action != "rebuild" && w.target.empty()) {
          report(sp + ".develop.watch", "target is required for non-rebuild actions");
          break;
        }
      }
    }
    // Two mounts on the same target.
    std::map<std::string, std::string> targets;
    for (std::size_t i = 0; i < s.tmpfs.size(); ++i) {
      const std::string target = s.tmpfs[i].substr(0, s.tmpfs[i].find(':'));
      targets.emplace(target, sp + ".tmpfs[" + std::to_string(i) + "]");
    }
    for (std::size_t i = 0; i < s.volumes.size(); ++i) {
      const std::string path = sp + ".volumes[" + std::to_string(i) + "]";
      auto [it, inserted] = targets.emplace(s.volumes[i].target, path);
      if (!inserted) {
        report(path, "target " + s.volumes[i].target + " already mounted as " + it->second);
      }
    }
  }

  void cycles() {
    enum class State { Unvisited, Visiting, Done };
    std::map<std::string, State> state;
    std::vector<std::string> stack;
    bool found = false;
    std::function<void(const std::string&)> visit = [&](const std::string& name) {
      if (found) return;
      state[name] = State::Visiting;
      stack.push_back(name);
      for (const auto& [dep, d] : project_.services.at(name).dependsOn) {
        if (project_.services.count(dep) == 0) continue;
        if (state[dep] == State::Visiting) {
          std::string cycle;
          const auto start = std::find(stack.begin(), stack.end(), dep);
          for (auto it = start; it != stack.end(); ++it) cycle += *it + " -> ";
          report("services." + dep + ".depends_on", "dependency cycle detected: " + cycle + dep);
          found = true;
          return;
        }
        if (state[dep] == State::Unvisited) visit(dep);
        if (found) return;
      }
      stack.pop_back();
      state[name] = State::Done;
    };
    for (const auto& [name, s] : project_.services) {
      if (state[name] == State::Unvisited) visit(name);
      if (found) return;
    }
  }

  const Project& project_;
  const SourceMap& marks_;
  Diagnostics& diag_;
};

}  // namespace

void checkConsistency(const Project& project, const SourceMap& marks, Diagnostics& diag) {
  ConsistencyChecker(project, marks, diag).run();
}

}  // namespace berth::spec::internal
