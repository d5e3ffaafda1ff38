#include "spec/binder.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <set>

#include "base/strings.h"
#include "spec/format.h"

namespace berth::spec::internal {
namespace {

using Keys = std::vector<std::string_view>;
using Handler = std::function<void(const std::string& key, const Node& value, const Path& path)>;
using ItemHandler = std::function<void(const Node& item, const Path& path)>;

bool isTombstone(const Node& n) { return n.tag == NodeTag::Reset; }
bool isExtensionKey(std::string_view key) { return startsWith(key, "x-"); }

Value toValue(const Node& n) {
  switch (n.kind) {
    case NodeKind::Null:
      return Value::null();
    case NodeKind::Sequence: {
      std::vector<Value> items;
      for (const Node& item : n.items) items.push_back(toValue(item));
      return Value::sequence(std::move(items));
    }
    case NodeKind::Mapping: {
      Value m = Value::mapping();
      for (const Entry& e : n.entries) {
        if (!isTombstone(e.value)) m.set(e.key, toValue(e.value));
      }
      return m;
    }
    case NodeKind::Scalar:
      switch (n.type) {
        case ScalarType::String:
          return Value::string(n.text);
        case ScalarType::Bool:
          return Value::boolean(yamlBool(n.text));
        case ScalarType::Int: {
          if (auto v = parseYamlInt(n.text)) return Value::integer(*v);
          return Value::string(n.text);
        }
        case ScalarType::Float: {
          if (auto v = parseYamlFloat(n.text)) return Value::number(*v);
          return Value::string(n.text);
        }
      }
  }
  return Value::null();
}

// Keeps the last definition of each key, in the position of the first (compose's unicity rule).
template <class T, class KeyFn>
void dedupe(std::vector<T>& items, KeyFn key) {
  std::vector<T> out;
  std::map<std::string, std::size_t> seen;
  for (T& item : items) {
    const std::string k = key(item);
    if (auto it = seen.find(k); it != seen.end()) {
      out[it->second] = std::move(item);
    } else {
      seen.emplace(k, out.size());
      out.push_back(std::move(item));
    }
  }
  items = std::move(out);
}

std::string keyValueKey(const std::string& s) { return s.substr(0, s.find('=')); }

// Port ranges expand to one entry per port; a service cannot have more than all of them.
constexpr std::size_t kMaxPorts = 65536;

class Binder {
 public:
  Binder(const BindSettings& settings, Diagnostics& diag, SourceMap& marks)
      : settings_(settings), diag_(diag), marks_(marks) {}

  Project project(const Node& root) {
    Project p;
    const Path top;
    fields(root, top, &p.extensions,
           {"name", "version", "services", "networks", "volumes", "secrets", "configs", "models", "include"},
           [&](const std::string& key, const Node& v, const Path& path) {
             if (key == "name") {
               if (!v.isString() && !v.isNull()) err(v, path, "must be a string");
             } else if (key == "version") {
               p.warnings.push_back(
                   "the attribute `version` is obsolete, it will be ignored, "
                   "please remove it to avoid potential confusion");
             } else if (key == "services") {
               namedMap(v, path, [&](const std::string& name, const Node& sv, const Path& sp) {
                 if (!validName(name, sv, sp)) return;
                 Service s = service(name, sv, sp);
                 p.services.emplace(name, std::move(s));
               });
             } else if (key == "networks") {
               namedMap(v, path, [&](const std::string& name, const Node& nv, const Path& np) {
                 if (!validName(name, nv, np)) return;
                 p.networks.emplace(name, network(nv, np));
               });
             } else if (key == "volumes") {
               namedMap(v, path, [&](const std::string& name, const Node& vv, const Path& vp) {
                 if (!validName(name, vv, vp)) return;
                 p.volumes.emplace(name, volume(vv, vp));
               });
             } else if (key == "secrets") {
               namedMap(v, path, [&](const std::string& name, const Node& sv, const Path& sp) {
                 if (!validName(name, sv, sp)) return;
                 p.secrets.emplace(name, fileObject(sv, sp, /*isConfig=*/false));
               });
             } else if (key == "configs") {
               namedMap(v, path, [&](const std::string& name, const Node& cv, const Path& cp) {
                 if (!validName(name, cv, cp)) return;
                 p.configs.emplace(name, fileObject(cv, cp, /*isConfig=*/true));
               });
             } else if (key == "models") {
               namedMap(v, path, [&](const std::string& name, const Node& mv, const Path& mp) {
                 if (!validName(name, mv, mp)) return;
                 p.models.emplace(name, model(mv, mp));
               });
             }
             // "include" has been applied by the loader.
           });
    return p;
  }

 private:
  // ---- diagnostics and positions --------------------------------------------------------------

  void err(const Node& at, const Path& p, std::string message) {
    diag_.error(at.mark, p, std::move(message));
  }
  void note(const Path& p, const Mark& m) { marks_.emplace(p.str(), m); }

  bool unresolved(const Node& n) const {
    return !settings_.interpolated && n.isString() && n.text.find('$') != std::string::npos;
  }

  bool validName(const std::string& name, const Node& v, const Path& p) {
    const bool ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' || c == '-';
    });
    if (!ok && settings_.validate) {
      err(v, p, "invalid name " + ::berth::quoted(name) + ": only letters, digits, '.', '_' and '-' allowed");
      return false;
    }
    return true;
  }

  // ---- structure --------------------------------------------------------------------------------

  bool expectMapping(const Node& n, const Path& p) {
    if (n.isMapping()) return true;
    err(n, p, "must be a mapping");
    return false;
  }

  // Calls fn for every known key of mapping `n`; x-* keys go to `ext` when given; anything else is
  // an unknown key.
  void fields(const Node& n, const Path& p, Extensions* ext, const Keys& known, const Handler& fn) {
    if (!expectMapping(n, p)) return;
    for (const Entry& e : n.entries) {
      if (isTombstone(e.value)) continue;
      const Path child = p.key(e.key);
      if (std::find(known.begin(), known.end(), e.key) != known.end()) {
        fn(e.key, e.value, child);
        continue;
      }
      if (ext != nullptr && isExtensionKey(e.key)) {
        (*ext)[e.key] = toValue(e.value);
        continue;
      }
      if (!settings_.validate) continue;
      std::string message = "additional properties '" + e.key + "' not allowed";
      std::vector<std::string> candidates(known.begin(), known.end());
      if (auto m = nearestMatch(e.key, candidates)) message += "; did you mean '" + *m + "'?";
      diag_.error(e.keyMark, p, message);
    }
  }

  // A user-named map (services, networks, ...): fn(name, value, path) for each entry.
  void namedMap(const Node& n, const Path& p, const Handler& fn) {
    if (n.isNull()) return;
    if (!expectMapping(n, p)) return;
    for (const Entry& e : n.entries) {
      if (isTombstone(e.value)) continue;
      const Path child = p.key(e.key);
      note(child, e.keyMark);
      fn(e.key, e.value, child);
    }
  }

  // fn(item, path) for each item of list `n`; anything else is the error `notAList`.
  void eachItem(const Node& n, const Path& p, const ItemHandler& fn,
                const std::string& notAList = "must be a list") {
    if (!n.isSequence()) {
      err(n, p, notAList);
      return;
    }
    for (std::size_t i = 0; i < n.items.size(); ++i) fn(n.items[i], p.index(i));
  }

  // A service's depends_on, networks and models: a list of names, or a mapping of name → settings.
  // fn(name, settings, path) for each; a listed name has null settings, as an entry left empty has.
  void namesOrMapping(const Node& n, const Path& p, const std::string& what, const Handler& fn) {
    if (n.isSequence()) {
      const Node noSettings;
      for (std::size_t i = 0; i < n.items.size(); ++i) {
        const std::string name = str(n.items[i], p.index(i));
        note(p.key(name), n.items[i].mark);
        fn(name, noSettings, p.key(name));
      }
      return;
    }
    if (!n.isMapping()) {
      err(n, p, "must be a list of " + what + " names or a mapping");
      return;
    }
    namedMap(n, p, fn);
  }

  // ---- scalars ----------------------------------------------------------------------------------

  std::string str(const Node& n, const Path& p) {
    if (n.isString()) return n.text;
    if (!settings_.validate && n.isScalar()) return scalarString(n);
    err(n, p, "must be a string");
    return "";
  }

  // Fields whose schema allows a string or a number.
  std::string strOrNumber(const Node& n, const Path& p) {
    if (n.isScalar() && n.type != ScalarType::Bool) return scalarString(n);
    if (!settings_.validate && n.isScalar()) return scalarString(n);
    err(n, p, "must be a string or a number");
    return "";
  }

  std::optional<bool> boolean(const Node& n, const Path& p) {
    if (n.isScalar() && n.type == ScalarType::Bool) return yamlBool(n.text);
    if (n.isString()) {
      if (auto b = parseLenientBool(n.text)) return b;
      if (unresolved(n)) return std::nullopt;
    }
    err(n, p, "must be a boolean");
    return std::nullopt;
  }

  std::optional<std::int64_t> integer(const Node& n, const Path& p,
                                      std::int64_t min = std::numeric_limits<std::int64_t>::min(),
                                      std::int64_t max = std::numeric_limits<std::int64_t>::max()) {
    std::optional<std::int64_t> v;
    if (n.isScalar() && (n.type == ScalarType::Int || n.type == ScalarType::String)) {
      v = parseYamlInt(trim(n.text));
    }
    if (!v) {
      if (unresolved(n)) return std::nullopt;
      err(n, p, "must be an integer");
      return std::nullopt;
    }
    if (*v < min) {
      err(n, p, "must be greater than or equal to " + std::to_string(min));
      return std::nullopt;
    }
    if (*v > max) {
      err(n, p, "must be less than or equal to " + std::to_string(max));
      return std::nullopt;
    }
    return v;
  }

  std::optional<double> number(const Node& n, const Path& p) {
    if (n.isScalar() && n.type != ScalarType::Bool) {
      if (auto i = parseYamlInt(trim(n.text))) return static_cast<double>(*i);
      if (auto d = parseYamlFloat(trim(n.text))) return d;
    }
    if (unresolved(n)) return std::nullopt;
    err(n, p, "must be a number");
    return std::nullopt;
  }

  std::optional<Duration> duration(const Node& n, const Path& p) {
    if (!n.isScalar()) {
      err(n, p, "must be a duration string such as \"1m30s\"");
      return std::nullopt;
    }
    if (unresolved(n)) return std::nullopt;
    auto d = parseDuration(scalarString(n));
    if (!d) {
      err(n, p, d.error().message() + " (use a number with a unit: \"10s\", \"1m30s\", \"500ms\")");
      return std::nullopt;
    }
    return *d;
  }

  std::optional<std::int64_t> bytes(const Node& n, const Path& p) {
    if (n.isScalar() && n.type == ScalarType::Int) {
      if (auto v = parseYamlInt(n.text)) return v;
    }
    if (n.isScalar() && n.type == ScalarType::String) {
      if (unresolved(n)) return std::nullopt;
      if (auto i = parseYamlInt(trim(n.text))) return i;  // "-1" (unlimited), "1024"
      auto b = parseBytes(trim(n.text));
      if (b) return *b;
      err(n, p, b.error().message() + " (use a number of bytes or a size such as \"512m\")");
      return std::nullopt;
    }
    err(n, p, "must be a number of bytes or a size such as \"512m\"");
    return std::nullopt;
  }

  std::vector<std::string> strList(const Node& n, const Path& p, bool allowString = false,
                                   bool allowNumbers = false) {
    std::vector<std::string> out;
    if (allowString && n.isScalar()) {
      out.push_back(allowNumbers ? strOrNumber(n, p) : str(n, p));
      return out;
    }
    eachItem(
        n, p,
        [&](const Node& item, const Path& ip) {
          out.push_back(allowNumbers ? strOrNumber(item, ip) : str(item, ip));
        },
        allowString ? "must be a string or a list" : "must be a list");
    return out;
  }

  // list_or_dict: {KEY: value} or ["KEY=value", "KEY"]. A null value (or a bare KEY) stays null.
  MappingWithEquals listOrDict(const Node& n, const Path& p, bool checkTrailingSpace = false) {
    MappingWithEquals out;
    if (n.isMapping()) {
      for (const Entry& e : n.entries) {
        if (isTombstone(e.value)) continue;
        if (e.value.isNull()) {
          out[e.key] = std::nullopt;
        } else if (e.value.isScalar()) {
          out[e.key] = scalarString(e.value);
        } else {
          err(e.value, p.key(e.key), "must be a boolean, null, number or string");
        }
      }
      return out;
    }
    eachItem(
        n, p,
        [&](const Node& item, const Path& ip) {
          if (!item.isScalar()) {
            err(item, ip, "must be a string");
            return;
          }
          const std::string text = scalarString(item);
          const std::size_t eq = text.find('=');
          const std::string key = text.substr(0, eq);
          if (checkTrailingSpace && !key.empty() && key.back() == ' ') {
            err(item, ip, "environment variable " + key + " is declared with a trailing space");
            return;
          }
          if (eq == std::string::npos) {
            out[key] = std::nullopt;
          } else {
            out[key] = text.substr(eq + 1);
          }
        },
        "must be a mapping or a list of KEY=VALUE strings");
    return out;
  }

  // Labels and alike: a bare KEY means an empty value.
  Mapping labels(const Node& n, const Path& p) {
    Mapping out;
    for (auto& [k, v] : listOrDict(n, p)) out[k] = v.value_or("");
    return out;
  }

  // driver_opts-style mappings of scalars.
  Mapping stringMap(const Node& n, const Path& p, bool allowNull = false) {
    Mapping out;
    if (!expectMapping(n, p)) return out;
    for (const Entry& e : n.entries) {
      if (isTombstone(e.value)) continue;
      if (e.value.isScalar()) {
        out[e.key] = scalarString(e.value);
      } else if (e.value.isNull() && allowNull) {
        out[e.key] = "";
      } else {
        err(e.value, p.key(e.key), "must be a string or a number");
      }
    }
    return out;
  }

  std::optional<std::vector<std::string>> command(const Node& n, const Path& p) {
    if (n.isNull()) return std::nullopt;
    if (n.isScalar()) {
      auto words = splitShellWords(scalarString(n));
      if (!words) {
        err(n, p, words.error().message());
        return std::nullopt;
      }
      return *words;
    }
    return strList(n, p);
  }

  std::uint32_t fileMode(const Node& n, const Path& p) {
    if (n.isScalar() && n.type == ScalarType::Int) {
      if (auto v = parseYamlInt(n.text); v && *v >= 0 && *v <= 07777) {
        return static_cast<std::uint32_t>(*v);
      }
    } else if (n.isString()) {
      // A string mode is octal: "0440", "440".
      std::uint32_t value = 0;
      bool valid = !n.text.empty();
      for (const char c : n.text) {
        if (c < '0' || c > '7' || value > 07777) {
          valid = false;
          break;
        }
        value = value * 8 + static_cast<std::uint32_t>(c - '0');
      }
      if (valid && value <= 07777) return value;
      if (unresolved(n)) return 0;
    }
    err(n, p, "must be a file mode such as 0440");
    return 0;
  }

  std::map<std::string, Ulimit> ulimits(const Node& n, const Path& p) {
    std::map<std::string, Ulimit> out;
    if (!expectMapping(n, p)) return out;
    for (const Entry& e : n.entries) {
      if (isTombstone(e.value)) continue;
      const Path up = p.key(e.key);
      Ulimit u;
      if (e.value.isScalar()) {
        u.single = integer(e.value, up).value_or(0);
      } else if (e.value.isMapping()) {
        bool soft = false;
        bool hard = false;
        fields(e.value, up, nullptr, {"soft", "hard"},
               [&](const std::string& k, const Node& v, const Path& kp) {
                 if (k == "soft") {
                   u.soft = integer(v, kp).value_or(0);
                   soft = true;
                 } else {
                   u.hard = integer(v, kp).value_or(0);
                   hard = true;
                 }
               });
        if (settings_.validate && (!soft || !hard)) {
          err(e.value, up, std::string("missing property '") + (soft ? "hard" : "soft") + "'");
        }
      } else {
        err(e.value, up, "must be an integer or a mapping with soft and hard");
      }
      out[e.key] = u;
    }
    return out;
  }

  std::map<std::string, std::vector<std::string>> extraHosts(const Node& n, const Path& p) {
    std::map<std::string, std::vector<std::string>> out;
    const auto add = [&](const std::string& host, const std::string& ip) {
      auto& ips = out[host];
      if (std::find(ips.begin(), ips.end(), ip) == ips.end()) ips.push_back(ip);
    };
    if (n.isMapping()) {
      for (const Entry& e : n.entries) {
        if (isTombstone(e.value)) continue;
        if (e.value.isSequence()) {
          for (const std::string& ip : strList(e.value, p.key(e.key))) add(e.key, ip);
        } else {
          add(e.key, str(e.value, p.key(e.key)));
        }
      }
      return out;
    }
    eachItem(
        n, p,
        [&](const Node& item, const Path& ip) {
          const std::string entry = str(item, ip);
          if (entry.empty()) return;
          if (unresolved(item) && entry.find_first_of("=:") == std::string::npos) return;
          auto parsed = parseExtraHost(entry);
          if (!parsed) {
            err(item, ip, parsed.error().message());
            return;
          }
          for (const std::string& address : parsed->second) add(parsed->first, address);
        },
        "must be a mapping or a list of \"HOST=IP\" entries");
    return out;
  }

  // ---- services ---------------------------------------------------------------------------------

  Service service(const std::string& name, const Node& n, const Path& p) {
    Service s;
    s.name = name;
    fields(n, p, &s.extensions,
           {"annotations",
            "attach",
            "blkio_config",
            "build",
            "cap_add",
            "cap_drop",
            "cgroup",
            "cgroup_parent",
            "command",
            "configs",
            "container_name",
            "cpu_count",
            "cpu_percent",
            "cpu_period",
            "cpu_quota",
            "cpu_rt_period",
            "cpu_rt_runtime",
            "cpus",
            "cpuset",
            "cpu_shares",
            "credential_spec",
            "depends_on",
            "deploy",
            "develop",
            "device_cgroup_rules",
            "devices",
            "dns",
            "dns_opt",
            "dns_search",
            "domainname",
            "entrypoint",
            "env_file",
            "environment",
            "expose",
            "extends",
            "external_links",
            "extra_hosts",
            "gpus",
            "group_add",
            "healthcheck",
            "hostname",
            "image",
            "init",
            "ipc",
            "isolation",
            "label_file",
            "labels",
            "links",
            "logging",
            "mac_address",
            "mem_limit",
            "mem_reservation",
            "mem_swappiness",
            "memswap_limit",
            "models",
            "network_mode",
            "networks",
            "oom_kill_disable",
            "oom_score_adj",
            "pid",
            "pids_limit",
            "platform",
            "ports",
            "post_start",
            "pre_start",
            "pre_stop",
            "privileged",
            "profiles",
            "provider",
            "pull_policy",
            "pull_refresh_after",
            "read_only",
            "restart",
            "runtime",
            "scale",
            "secrets",
            "security_opt",
            "shm_size",
            "stdin_open",
            "stop_grace_period",
            "stop_signal",
            "storage_opt",
            "sysctls",
            "tmpfs",
            "tty",
            "ulimits",
            "use_api_socket",
            "user",
            "userns_mode",
            "uts",
            "volumes",
            "volumes_from",
            "working_dir"},
           [&](const std::string& k, const Node& v, const Path& kp) {
             note(kp, v.mark);
             serviceField(s, k, v, kp);
           });
    // berth's own extension: fields() has kept it verbatim in s.extensions (the canonical output
    // prints it as written); it is also bound, with the same errors as any attribute.
    const Entry* ssh = n.isMapping() ? n.findEntry("x-berth-ssh") : nullptr;
    if (ssh != nullptr && !isTombstone(ssh->value)) {
      const Path sp = p.key("x-berth-ssh");
      note(sp, ssh->value.mark);
      s.ssh = sshAccess(ssh->value, sp);
    }
    return s;
  }

  // x-berth-ssh: {authorized_keys: [KEY | {file: PATH}], user, allow_forwarding, to: [SERVICE]}.
  SshAccess sshAccess(const Node& n, const Path& p) {
    SshAccess a;
    Extensions nested;  // x-* keys inside are tolerated, as everywhere in compose (and kept verbatim)
    fields(n, p, &nested, {"authorized_keys", "user", "allow_forwarding", "to"},
           [&](const std::string& k, const Node& v, const Path& kp) {
             if (k == "authorized_keys") {
               eachItem(v, kp, [&](const Node& item, const Path& ip) { authorizedKey(a, item, ip); });
             } else if (k == "user") {
               a.user = str(v, kp);
             } else if (k == "allow_forwarding") {
               a.allowForwarding = boolean(v, kp).value_or(false);
             } else {
               a.to = strList(v, kp);
               // Positions for the consistency check (an unknown service in `to`).
               for (std::size_t i = 0; v.isSequence() && i < v.items.size(); ++i)
                 note(kp.index(i), v.items[i].mark);
             }
           });
    return a;
  }

  void authorizedKey(SshAccess& a, const Node& item, const Path& p) {
    if (item.isMapping()) {
      bool haveFile = false;
      fields(item, p, nullptr, {"file"}, [&](const std::string&, const Node& v, const Path& fp) {
        haveFile = true;
        std::string file = str(v, fp);
        if (!file.empty()) {
          a.keyFiles.push_back(std::move(file));
        } else if (v.isString()) {
          err(v, fp, "must not be empty");
        }
      });
      if (!haveFile && settings_.validate) err(item, p, "missing property 'file'");
      return;
    }
    if (!item.isString()) {
      err(item, p, "must be an SSH public key \"TYPE BASE64 [COMMENT]\" or a mapping with `file`");
      return;
    }
    if (unresolved(item)) {  // --no-interpolate: "${KEY}" is not the key itself
      a.authorizedKeys.push_back(item.text);
      return;
    }
    if (Status st = checkSshPublicKey(item.text); !st) {
      err(item, p, st.error().message());
      return;
    }
    a.authorizedKeys.emplace_back(trim(item.text));
  }

  void serviceField(Service& s, const std::string& k, const Node& v, const Path& p) {
    // Most attributes may be null to mean "not set" (an override can clear nothing that way).
    if (v.isNull() && k != "command" && k != "entrypoint" && k != "build") {
      if (k == "deploy" || k == "develop" || k == "pid") return;
      if (settings_.validate) err(v, p, "must not be null");
      return;
    }
    if (k == "annotations")
      s.annotations = labels(v, p);
    else if (k == "attach")
      s.attach = boolean(v, p);
    else if (k == "blkio_config")
      s.blkioConfig = blkio(v, p);
    else if (k == "build")
      s.build = build(v, p);
    else if (k == "cap_add")
      s.capAdd = uniqueStrings(v, p);
    else if (k == "cap_drop")
      s.capDrop = uniqueStrings(v, p);
    else if (k == "cgroup") {
      s.cgroup = str(v, p);
      if (settings_.validate && !s.cgroup.empty() && s.cgroup != "host" && s.cgroup != "private" &&
          !unresolved(v)) {
        err(v, p, "must be one of \"host\", \"private\"");
      }
    } else if (k == "cgroup_parent")
      s.cgroupParent = str(v, p);
    else if (k == "command")
      s.command = command(v, p);
    else if (k == "configs")
      s.configs = fileReferences(v, p, "");
    else if (k == "container_name")
      s.containerName = str(v, p);
    else if (k == "cpu_count")
      s.cpuCount = integer(v, p, 0).value_or(0);
    else if (k == "cpu_percent") {
      s.cpuPercent = static_cast<double>(integer(v, p, 0, 100).value_or(0));
    } else if (k == "cpu_period")
      s.cpuPeriod = integer(v, p).value_or(0);
    else if (k == "cpu_quota")
      s.cpuQuota = integer(v, p).value_or(0);
    else if (k == "cpu_rt_period")
      s.cpuRtPeriod = integer(v, p).value_or(0);
    else if (k == "cpu_rt_runtime")
      s.cpuRtRuntime = integer(v, p).value_or(0);
    else if (k == "cpus")
      s.cpus = number(v, p).value_or(0);
    else if (k == "cpuset")
      s.cpuset = str(v, p);
    else if (k == "cpu_shares")
      s.cpuShares = integer(v, p).value_or(0);
    else if (k == "credential_spec") {
      CredentialSpec c;
      fields(v, p, &c.extensions, {"config", "file", "registry"},
             [&](const std::string& ck, const Node& cv, const Path& cp) {
               (ck == "config" ? c.config : ck == "file" ? c.file : c.registry) = str(cv, cp);
             });
      s.credentialSpec = std::move(c);
    } else if (k == "depends_on")
      s.dependsOn = dependsOn(v, p);
    else if (k == "deploy")
      s.deploy = deploy(v, p);
    else if (k == "develop")
      s.develop = develop(v, p);
    else if (k == "device_cgroup_rules")
      s.deviceCgroupRules = strList(v, p);
    else if (k == "devices")
      s.devices = devices(v, p);
    else if (k == "dns")
      s.dns = uniqueStrings(v, p, true);
    else if (k == "dns_opt")
      s.dnsOpt = uniqueStrings(v, p);
    else if (k == "dns_search")
      s.dnsSearch = uniqueStrings(v, p, true);
    else if (k == "domainname")
      s.domainName = str(v, p);
    else if (k == "entrypoint")
      s.entrypoint = command(v, p);
    else if (k == "env_file")
      s.envFiles = envFiles(v, p);
    else if (k == "environment")
      s.environment = listOrDict(v, p, /*checkTrailingSpace=*/true);
    else if (k == "expose") {
      s.expose = strList(v, p, false, /*allowNumbers=*/true);
      dedupe(s.expose, [](const std::string& e) { return e; });
    } else if (k == "extends") {
      // Resolved by the loader before binding.
    } else if (k == "external_links")
      s.externalLinks = strList(v, p);
    else if (k == "extra_hosts")
      s.extraHosts = extraHosts(v, p);
    else if (k == "gpus")
      s.gpus = gpus(v, p);
    else if (k == "group_add")
      s.groupAdd = strList(v, p, false, true);
    else if (k == "healthcheck")
      s.healthcheck = healthcheck(v, p);
    else if (k == "hostname")
      s.hostname = str(v, p);
    else if (k == "image")
      s.image = str(v, p);
    else if (k == "init")
      s.init = boolean(v, p);
    else if (k == "ipc")
      s.ipc = str(v, p);
    else if (k == "isolation")
      s.isolation = str(v, p);
    else if (k == "label_file")
      s.labelFiles = strList(v, p, /*allowString=*/true);
    else if (k == "labels")
      s.labels = labels(v, p);
    else if (k == "links")
      s.links = uniqueStrings(v, p);
    else if (k == "logging")
      s.logging = logging(v, p);
    else if (k == "mac_address")
      s.macAddress = str(v, p);
    else if (k == "mem_limit")
      s.memLimit = bytes(v, p).value_or(0);
    else if (k == "mem_reservation")
      s.memReservation = bytes(v, p).value_or(0);
    else if (k == "mem_swappiness")
      s.memSwappiness = integer(v, p, 0, 100).value_or(0);
    else if (k == "memswap_limit")
      s.memswapLimit = bytes(v, p).value_or(0);
    else if (k == "models")
      s.models = serviceModels(v, p);
    else if (k == "network_mode")
      s.networkMode = str(v, p);
    else if (k == "networks")
      s.networks = serviceNetworks(v, p);
    else if (k == "oom_kill_disable")
      s.oomKillDisable = boolean(v, p).value_or(false);
    else if (k == "oom_score_adj")
      s.oomScoreAdj = integer(v, p, -1000, 1000).value_or(0);
    else if (k == "pid")
      s.pid = str(v, p);
    else if (k == "pids_limit")
      s.pidsLimit = integer(v, p).value_or(0);
    else if (k == "platform")
      s.platform = str(v, p);
    else if (k == "ports")
      s.ports = ports(v, p);
    else if (k == "post_start")
      s.postStart = hooks(v, p, false);
    else if (k == "pre_start")
      s.preStart = hooks(v, p, true);
    else if (k == "pre_stop")
      s.preStop = hooks(v, p, false);
    else if (k == "privileged")
      s.privileged = boolean(v, p).value_or(false);
    else if (k == "profiles")
      s.profiles = uniqueStrings(v, p);
    else if (k == "provider")
      s.provider = provider(v, p);
    else if (k == "pull_policy")
      s.pullPolicy = str(v, p);
    else if (k == "pull_refresh_after")
      (void)str(v, p);
    else if (k == "read_only")
      s.readOnly = boolean(v, p).value_or(false);
    else if (k == "restart")
      s.restart = str(v, p);
    else if (k == "runtime")
      s.runtime = str(v, p);
    else if (k == "scale") {
      if (auto sc = integer(v, p)) s.scale = static_cast<int>(std::clamp<std::int64_t>(*sc, -1, 1 << 30));
    } else if (k == "secrets")
      s.secrets = fileReferences(v, p, "/run/secrets");
    else if (k == "security_opt")
      s.securityOpt = strList(v, p);
    else if (k == "shm_size")
      s.shmSize = bytes(v, p).value_or(0);
    else if (k == "stdin_open")
      s.stdinOpen = boolean(v, p).value_or(false);
    else if (k == "stop_grace_period")
      s.stopGracePeriod = duration(v, p);
    else if (k == "stop_signal")
      s.stopSignal = str(v, p);
    else if (k == "storage_opt")
      s.storageOpt = stringMap(v, p);
    else if (k == "sysctls")
      s.sysctls = labels(v, p);
    else if (k == "tmpfs") {
      s.tmpfs = strList(v, p, /*allowString=*/true);
      dedupe(s.tmpfs, keyValueKey);
      for (std::size_t i = 0; i < s.tmpfs.size(); ++i) {
        note(p.index(i), i < v.items.size() ? v.items[i].mark : v.mark);
      }
    } else if (k == "tty")
      s.tty = boolean(v, p).value_or(false);
    else if (k == "ulimits")
      s.ulimits = ulimits(v, p);
    else if (k == "use_api_socket")
      s.useApiSocket = boolean(v, p).value_or(false);
    else if (k == "user")
      s.user = str(v, p);
    else if (k == "userns_mode")
      s.usernsMode = str(v, p);
    else if (k == "uts")
      s.uts = str(v, p);
    else if (k == "volumes")
      s.volumes = mounts(v, p);
    else if (k == "volumes_from")
      s.volumesFrom = strList(v, p);
    else if (k == "working_dir")
      s.workingDir = str(v, p);
  }

  std::vector<std::string> uniqueStrings(const Node& n, const Path& p, bool allowString = false) {
    std::vector<std::string> out = strList(n, p, allowString);
    dedupe(out, keyValueKey);
    return out;
  }

  std::map<std::string, Dependency> dependsOn(const Node& n, const Path& p) {
    std::map<std::string, Dependency> out;
    namesOrMapping(n, p, "service", [&](const std::string& name, const Node& settings, const Path& dp) {
      Dependency d;
      bool haveCondition = false;
      if (!settings.isNull()) {
        fields(settings, dp, &d.extensions, {"condition", "restart", "required"},
               [&](const std::string& k, const Node& v, const Path& kp) {
                 if (k == "condition") {
                   d.condition = str(v, kp);
                   haveCondition = true;
                   if (settings_.validate && !unresolved(v) && d.condition != "service_started" &&
                       d.condition != "service_healthy" && d.condition != "service_completed_successfully") {
                     err(v, kp,
                         "must be one of \"service_started\", \"service_healthy\", "
                         "\"service_completed_successfully\"");
                   }
                 } else if (k == "restart") {
                   d.restart = boolean(v, kp).value_or(false);
                 } else {
                   d.required = boolean(v, kp).value_or(true);
                 }
               });
      }
      if (!haveCondition && settings_.validate && settings.isMapping()) {
        err(settings, dp, "missing property 'condition'");
      }
      out[name] = std::move(d);
    });
    return out;
  }

  std::vector<EnvFile> envFiles(const Node& n, const Path& p) {
    std::vector<EnvFile> out;
    const auto one = [&](const Node& item, const Path& ip) {
      EnvFile f;
      if (item.isScalar()) {
        f.path = str(item, ip);
      } else if (item.isMapping()) {
        bool havePath = false;
        fields(item, ip, nullptr, {"path", "required", "format"},
               [&](const std::string& k, const Node& v, const Path& kp) {
                 if (k == "path") {
                   f.path = str(v, kp);
                   havePath = true;
                 } else if (k == "required") {
                   f.required = boolean(v, kp).value_or(true);
                 } else {
                   f.format = str(v, kp);
                 }
               });
        if (!havePath) err(item, ip, "missing property 'path'");
      } else {
        err(item, ip, "must be a path or a mapping with path");
      }
      out.push_back(std::move(f));
    };
    if (n.isSequence()) {
      eachItem(n, p, one);
    } else {
      one(n, p);
    }
    dedupe(out, [](const EnvFile& f) { return f.path; });
    return out;
  }

  std::vector<FileReference> fileReferences(const Node& n, const Path& p, const std::string& defaultDir) {
    std::vector<FileReference> out;
    std::vector<Mark> itemMarks;
    eachItem(n, p, [&](const Node& item, const Path& ip) {
      FileReference r;
      if (item.isScalar()) {
        r.source = str(item, ip);
      } else {
        fields(item, ip, &r.extensions, {"source", "target", "uid", "gid", "mode"},
               [&](const std::string& k, const Node& v, const Path& kp) {
                 if (k == "source")
                   r.source = str(v, kp);
                 else if (k == "target")
                   r.target = str(v, kp);
                 else if (k == "uid")
                   r.uid = strOrNumber(v, kp);
                 else if (k == "gid")
                   r.gid = strOrNumber(v, kp);
                 else
                   r.mode = fileMode(v, kp);
               });
      }
      if (r.target.empty() && defaultDir == "/run/secrets" && !r.source.empty()) {
        r.target = defaultDir + "/" + r.source;
      }
      out.push_back(std::move(r));
      itemMarks.push_back(item.mark);
    });
    dedupe(out,
           [&](const FileReference& r) { return r.target.empty() ? defaultDir + "/" + r.source : r.target; });
    for (std::size_t i = 0; i < out.size(); ++i)
      note(p.index(i), i < itemMarks.size() ? itemMarks[i] : n.mark);
    return out;
  }

  std::vector<DeviceMapping> devices(const Node& n, const Path& p) {
    std::vector<DeviceMapping> out;
    eachItem(n, p, [&](const Node& item, const Path& ip) {
      DeviceMapping d;
      if (item.isScalar()) {
        const std::vector<std::string> parts = split(str(item, ip), ':');
        if (parts.size() == 1) {
          d.source = d.target = parts[0];
          d.permissions = "rwm";
        } else if (parts.size() == 2) {
          d.source = parts[0];
          d.target = parts[1];
          d.permissions = "rwm";
        } else if (parts.size() == 3) {
          d.source = parts[0];
          d.target = parts[1];
          d.permissions = parts[2];
        } else {
          err(item, ip, "confusing device mapping, please use long syntax: " + item.text);
        }
      } else {
        bool haveSource = false;
        fields(item, ip, &d.extensions, {"source", "target", "permissions"},
               [&](const std::string& k, const Node& v, const Path& kp) {
                 if (k == "source") {
                   d.source = str(v, kp);
                   haveSource = true;
                 } else if (k == "target") {
                   d.target = str(v, kp);
                 } else {
                   d.permissions = str(v, kp);
                 }
               });
        if (!haveSource && settings_.validate && item.isMapping()) {
          err(item, ip, "missing property 'source'");
        }
        if (d.target.empty()) d.target = d.source;
      }
      out.push_back(std::move(d));
    });
    dedupe(out, [](const DeviceMapping& d) { return d.target; });
    return out;
  }

  std::vector<DeviceRequest> deviceRequests(const Node& n, const Path& p, bool requireCapabilities) {
    std::vector<DeviceRequest> out;
    eachItem(n, p, [&](const Node& item, const Path& ip) {
      DeviceRequest d;
      bool haveCount = false;
      bool haveIds = false;
      bool haveCapabilities = false;
      fields(item, ip, &d.extensions, {"capabilities", "count", "device_ids", "driver", "options"},
             [&](const std::string& k, const Node& v, const Path& kp) {
               if (k == "capabilities") {
                 d.capabilities = strList(v, kp);
                 haveCapabilities = true;
               } else if (k == "count") {
                 haveCount = true;
                 if (v.isString() && toLower(v.text) == "all") {
                   d.count = -1;
                 } else if (auto c = v.isScalar() ? parseYamlInt(scalarString(v)) : std::nullopt) {
                   d.count = *c;
                 } else if (!unresolved(v)) {
                   err(v, kp,
                       "invalid value " + ::berth::quoted(scalarString(v)) +
                           ", the only value allowed is 'all' or a number");
                 }
               } else if (k == "device_ids") {
                 d.deviceIds = strList(v, kp);
                 haveIds = true;
               } else if (k == "driver") {
                 d.driver = str(v, kp);
               } else {
                 d.options = labels(v, kp);
               }
             });
      if (!item.isMapping()) return;
      if (requireCapabilities && !haveCapabilities && settings_.validate) {
        err(item, ip, "missing property 'capabilities'");
      }
      if (haveCount && haveIds) {
        err(item, ip, "\"count\" and \"device_ids\" attributes are exclusive");
      }
      if (!haveCount && !haveIds) d.count = -1;
      out.push_back(std::move(d));
    });
    return out;
  }

  std::vector<DeviceRequest> gpus(const Node& n, const Path& p) {
    if (n.isString() && toLower(n.text) == "all") {
      DeviceRequest d;
      d.count = -1;
      return {d};
    }
    return deviceRequests(n, p, /*requireCapabilities=*/false);
  }

  std::optional<Healthcheck> healthcheck(const Node& n, const Path& p) {
    Healthcheck h;
    fields(n, p, &h.extensions,
           {"disable", "interval", "retries", "test", "timeout", "start_period", "start_interval"},
           [&](const std::string& k, const Node& v, const Path& kp) {
             if (k == "disable")
               h.disable = boolean(v, kp).value_or(false);
             else if (k == "interval")
               h.interval = duration(v, kp);
             else if (k == "timeout")
               h.timeout = duration(v, kp);
             else if (k == "start_period")
               h.startPeriod = duration(v, kp);
             else if (k == "start_interval")
               h.startInterval = duration(v, kp);
             else if (k == "retries") {
               if (auto r = number(v, kp)) {
                 if (*r < 0)
                   err(v, kp, "must be greater than or equal to 0");
                 else
                   h.retries = static_cast<std::uint64_t>(*r);
               }
             } else {
               if (v.isScalar()) {
                 h.test = std::vector<std::string>{"CMD-SHELL", scalarString(v)};
               } else if (!v.isNull()) {
                 h.test = strList(v, kp);
               }
             }
           });
    return h;
  }

  std::optional<Logging> logging(const Node& n, const Path& p) {
    Logging l;
    fields(n, p, &l.extensions, {"driver", "options"},
           [&](const std::string& k, const Node& v, const Path& kp) {
             if (k == "driver")
               l.driver = str(v, kp);
             else if (!v.isNull())
               l.options = stringMap(v, kp, /*allowNull=*/true);
           });
    return l;
  }

  std::map<std::string, std::optional<ServiceNetwork>> serviceNetworks(const Node& n, const Path& p) {
    std::map<std::string, std::optional<ServiceNetwork>> out;
    namesOrMapping(n, p, "network", [&](const std::string& name, const Node& settings, const Path& np) {
      if (settings.isNull()) {
        out[name] = std::nullopt;
        return;
      }
      ServiceNetwork sn;
      fields(settings, np, &sn.extensions,
             {"aliases", "driver_opts", "gw_priority", "interface_name", "ipv4_address", "ipv6_address",
              "link_local_ips", "mac_address", "priority"},
             [&](const std::string& k, const Node& v, const Path& kp) {
               if (k == "aliases")
                 sn.aliases = uniqueStrings(v, kp);
               else if (k == "driver_opts")
                 sn.driverOpts = stringMap(v, kp);
               else if (k == "gw_priority")
                 sn.gwPriority = static_cast<int>(integer(v, kp, -(1 << 30), 1 << 30).value_or(0));
               else if (k == "priority")
                 sn.priority = static_cast<int>(integer(v, kp, -(1 << 30), 1 << 30).value_or(0));
               else if (k == "interface_name")
                 sn.interfaceName = str(v, kp);
               else if (k == "ipv4_address")
                 sn.ipv4Address = str(v, kp);
               else if (k == "ipv6_address")
                 sn.ipv6Address = str(v, kp);
               else if (k == "link_local_ips")
                 sn.linkLocalIps = uniqueStrings(v, kp);
               else
                 sn.macAddress = str(v, kp);
             });
      out[name] = std::move(sn);
    });
    return out;
  }

  std::map<std::string, std::optional<ServiceModel>> serviceModels(const Node& n, const Path& p) {
    std::map<std::string, std::optional<ServiceModel>> out;
    namesOrMapping(n, p, "model", [&](const std::string& name, const Node& settings, const Path& mp) {
      if (settings.isNull()) {
        out[name] = std::nullopt;
        return;
      }
      ServiceModel m;
      fields(settings, mp, &m.extensions, {"endpoint_var", "model_var"},
             [&](const std::string& k, const Node& v, const Path& kp) {
               (k == "endpoint_var" ? m.endpointVar : m.modelVar) = str(v, kp);
             });
      out[name] = std::move(m);
    });
    return out;
  }

  std::vector<Port> ports(const Node& n, const Path& p) {
    std::vector<Port> out;
    bool tooMany = false;
    eachItem(n, p, [&](const Node& item, const Path& ip) {
      if (tooMany) return;
      note(ip, item.mark);
      if (item.isScalar()) {
        const std::string spec = scalarString(item);
        if (item.type == ScalarType::Bool) {
          err(item, ip, "must be a number, a string or a mapping");
          return;
        }
        if (unresolved(item)) {
          Port raw;
          raw.unparsed = spec;
          out.push_back(std::move(raw));
          return;
        }
        auto parsed = parsePortSpec(spec);
        if (!parsed) {
          err(item, ip,
              parsed.error().message() + " (expected \"[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]\")");
          return;
        }
        if (out.size() + parsed->size() > kMaxPorts) {
          err(item, ip, "too many ports: a service may publish at most " + std::to_string(kMaxPorts));
          tooMany = true;
          return;
        }
        for (Port& port : *parsed) out.push_back(std::move(port));
        return;
      }
      Port port;
      bool haveTarget = false;
      fields(item, ip, &port.extensions,
             {"name", "mode", "host_ip", "target", "published", "protocol", "app_protocol"},
             [&](const std::string& k, const Node& v, const Path& kp) {
               if (k == "name")
                 port.name = str(v, kp);
               else if (k == "mode")
                 port.mode = str(v, kp);
               else if (k == "host_ip")
                 port.hostIp = str(v, kp);
               else if (k == "protocol")
                 port.protocol = str(v, kp);
               else if (k == "app_protocol")
                 port.appProtocol = str(v, kp);
               else if (k == "target") {
                 haveTarget = true;
                 if (auto t = integer(v, kp, 0, 65535)) port.target = static_cast<std::uint32_t>(*t);
               } else {
                 port.published = strOrNumber(v, kp);
               }
             });
      if (item.isMapping() && !haveTarget && settings_.validate) {
        err(item, ip, "missing property 'target'");
      }
      if (port.mode.empty()) port.mode = "ingress";
      if (port.protocol.empty()) port.protocol = "tcp";
      out.push_back(std::move(port));
    });
    dedupe(out, [](const Port& port) {
      if (!port.unparsed.empty()) return port.unparsed;
      return (port.hostIp.empty() ? std::string("0.0.0.0") : port.hostIp) + ":" +
             (port.published.empty() ? std::string("<nil>") : port.published) + ":" +
             std::to_string(port.target) + "/" + port.protocol;
    });
    return out;
  }

  std::vector<VolumeMount> mounts(const Node& n, const Path& p) {
    std::vector<VolumeMount> out;
    std::vector<Mark> itemMarks;
    eachItem(n, p, [&](const Node& item, const Path& ip) {
      if (item.isScalar()) {
        auto parsed = parseVolumeSpec(str(item, ip));
        if (!parsed) {
          err(item, ip, parsed.error().message());
          return;
        }
        out.push_back(std::move(*parsed));
        itemMarks.push_back(item.mark);
        return;
      }
      VolumeMount m;
      bool haveType = false;
      fields(item, ip, &m.extensions,
             {"type", "source", "target", "read_only", "consistency", "bind", "volume", "tmpfs", "image"},
             [&](const std::string& k, const Node& v, const Path& kp) {
               if (k == "type") {
                 haveType = true;
                 m.type = str(v, kp);
                 static const std::set<std::string> kTypes = {"bind",  "volume",  "tmpfs",
                                                              "npipe", "cluster", "image"};
                 if (settings_.validate && !kTypes.contains(m.type) && !unresolved(v)) {
                   err(v, kp,
                       "must be one of \"bind\", \"volume\", \"tmpfs\", \"npipe\", "
                       "\"cluster\", \"image\"");
                 }
               } else if (k == "source")
                 m.source = str(v, kp);
               else if (k == "target")
                 m.target = str(v, kp);
               else if (k == "read_only")
                 m.readOnly = boolean(v, kp).value_or(false);
               else if (k == "consistency")
                 m.consistency = str(v, kp);
               else if (k == "bind")
                 m.bind = bindOptions(v, kp);
               else if (k == "volume")
                 m.volume = volumeOptions(v, kp);
               else if (k == "tmpfs")
                 m.tmpfs = tmpfsOptions(v, kp);
               else
                 m.image = imageOptions(v, kp);
             });
      if (!item.isMapping()) return;
      if (!haveType && settings_.validate) err(item, ip, "missing property 'type'");
      if (m.type == "bind" && m.source.empty()) {
        err(item, ip, "invalid mount config for type \"bind\": field Source must not be empty");
      }
      out.push_back(std::move(m));
      itemMarks.push_back(item.mark);
    });
    // Deduplicate by target, keeping positions in step with the entries.
    std::vector<std::pair<VolumeMount, Mark>> paired;
    for (std::size_t i = 0; i < out.size(); ++i) paired.emplace_back(std::move(out[i]), itemMarks[i]);
    dedupe(paired, [](const std::pair<VolumeMount, Mark>& m) { return m.first.target; });
    out.clear();
    for (std::size_t i = 0; i < paired.size(); ++i) {
      note(p.index(i), paired[i].second);
      out.push_back(std::move(paired[i].first));
    }
    return out;
  }

  std::optional<BindOptions> bindOptions(const Node& n, const Path& p) {
    BindOptions b;
    if (n.isNull()) return b;
    fields(n, p, &b.extensions, {"propagation", "create_host_path", "selinux", "recursive"},
           [&](const std::string& k, const Node& v, const Path& kp) {
             if (k == "propagation")
               b.propagation = str(v, kp);
             else if (k == "create_host_path")
               b.createHostPath = boolean(v, kp).value_or(true);
             else if (k == "selinux") {
               b.selinux = str(v, kp);
               if (settings_.validate && b.selinux != "z" && b.selinux != "Z" && !unresolved(v)) {
                 err(v, kp, "must be one of \"z\", \"Z\"");
               }
             } else
               b.recursive = str(v, kp);
           });
    return b;
  }

  std::optional<VolumeOptions> volumeOptions(const Node& n, const Path& p) {
    VolumeOptions o;
    if (n.isNull()) return o;
    fields(n, p, &o.extensions, {"labels", "nocopy", "subpath"},
           [&](const std::string& k, const Node& v, const Path& kp) {
             if (k == "labels")
               o.labels = labels(v, kp);
             else if (k == "nocopy")
               o.nocopy = boolean(v, kp).value_or(false);
             else
               o.subpath = str(v, kp);
           });
    return o;
  }

  std::optional<TmpfsOptions> tmpfsOptions(const Node& n, const Path& p) {
    TmpfsOptions t;
    if (n.isNull()) return t;
    fields(n, p, &t.extensions, {"size", "mode"}, [&](const std::string& k, const Node& v, const Path& kp) {
      if (k == "size") {
        if (v.isScalar() && v.type == ScalarType::Int) {
          const auto size = parseYamlInt(v.text);
          if (size && *size < 0) {
            err(v, kp, "must be greater than or equal to 0");
          } else if (size) {
            t.size = *size;
          }
        } else if (v.isString()) {
          t.size = bytes(v, kp).value_or(0);
        } else {
          err(v, kp, "must be an integer or a size such as \"64m\"");
        }
      } else {
        t.mode = fileMode(v, kp);
      }
    });
    return t;
  }

  std::optional<ImageOptions> imageOptions(const Node& n, const Path& p) {
    ImageOptions o;
    if (n.isNull()) return o;
    fields(n, p, &o.extensions, {"subpath"},
           [&](const std::string&, const Node& v, const Path& kp) { o.subpath = str(v, kp); });
    return o;
  }

  std::vector<Hook> hooks(const Node& n, const Path& p, bool preStart) {
    std::vector<Hook> out;
    eachItem(n, p, [&](const Node& item, const Path& ip) { out.push_back(hook(item, ip, preStart)); });
    return out;
  }

  Hook hook(const Node& n, const Path& p, bool preStart) {
    Hook h;
    bool haveCommand = false;
    const Keys keys =
        preStart ? Keys{"command", "image", "user", "privileged", "working_dir", "environment", "per_replica"}
                 : Keys{"command", "user", "privileged", "working_dir", "environment"};
    fields(n, p, &h.extensions, keys, [&](const std::string& k, const Node& v, const Path& kp) {
      if (k == "command") {
        haveCommand = true;
        h.command = command(v, kp).value_or(std::vector<std::string>{});
      } else if (k == "image")
        h.image = str(v, kp);
      else if (k == "user")
        h.user = str(v, kp);
      else if (k == "privileged")
        h.privileged = boolean(v, kp).value_or(false);
      else if (k == "working_dir")
        h.workingDir = str(v, kp);
      else if (k == "per_replica")
        h.perReplica = boolean(v, kp).value_or(false);
      else
        h.environment = listOrDict(v, kp);
    });
    if (!preStart && !haveCommand && n.isMapping() && settings_.validate) {
      err(n, p, "missing property 'command'");
    }
    return h;
  }

  std::optional<Provider> provider(const Node& n, const Path& p) {
    Provider pr;
    bool haveType = false;
    fields(n, p, &pr.extensions, {"type", "options"},
           [&](const std::string& k, const Node& v, const Path& kp) {
             if (k == "type") {
               pr.type = str(v, kp);
               haveType = true;
               return;
             }
             if (!expectMapping(v, kp)) return;
             for (const Entry& e : v.entries) {
               if (e.value.isSequence()) {
                 pr.options[e.key] = strList(e.value, kp.key(e.key), false, true);
               } else if (e.value.isScalar()) {
                 pr.options[e.key] = {scalarString(e.value)};
               } else {
                 err(e.value, kp.key(e.key), "must be a string, a number, a boolean or a list");
               }
             }
           });
    if (!haveType && n.isMapping() && settings_.validate) err(n, p, "missing property 'type'");
    return pr;
  }

  std::optional<BlkioConfig> blkio(const Node& n, const Path& p) {
    BlkioConfig b;
    const auto throttles = [&](const Node& v, const Path& kp) {
      std::vector<ThrottleDevice> out;
      eachItem(v, kp, [&](const Node& item, const Path& ip) {
        ThrottleDevice t;
        fields(item, ip, nullptr, {"path", "rate"}, [&](const std::string& k, const Node& x, const Path& xp) {
          if (k == "path")
            t.path = str(x, xp);
          else
            t.rate = bytes(x, xp).value_or(0);
        });
        out.push_back(std::move(t));
      });
      return out;
    };
    fields(n, p, &b.extensions,
           {"weight", "weight_device", "device_read_bps", "device_read_iops", "device_write_bps",
            "device_write_iops"},
           [&](const std::string& k, const Node& v, const Path& kp) {
             if (k == "weight") {
               b.weight = static_cast<std::uint16_t>(integer(v, kp, 10, 1000).value_or(0));
             } else if (k == "weight_device") {
               eachItem(v, kp, [&](const Node& item, const Path& ip) {
                 WeightDevice w;
                 fields(item, ip, nullptr, {"path", "weight"},
                        [&](const std::string& wk, const Node& x, const Path& xp) {
                          if (wk == "path")
                            w.path = str(x, xp);
                          else
                            w.weight = static_cast<std::uint16_t>(integer(x, xp, 10, 1000).value_or(0));
                        });
                 b.weightDevice.push_back(std::move(w));
               });
             } else if (k == "device_read_bps")
               b.deviceReadBps = throttles(v, kp);
             else if (k == "device_read_iops")
               b.deviceReadIops = throttles(v, kp);
             else if (k == "device_write_bps")
               b.deviceWriteBps = throttles(v, kp);
             else
               b.deviceWriteIops = throttles(v, kp);
           });
    return b;
  }

  std::optional<Build> build(const Node& n, const Path& p) {
    Build b;
    if (n.isNull()) return std::nullopt;
    if (n.isScalar()) {
      b.context = str(n, p);
      return b;
    }
    fields(n, p, &b.extensions,
           {"context",
            "dockerfile",
            "dockerfile_inline",
            "entitlements",
            "args",
            "provenance",
            "sbom",
            "ssh",
            "labels",
            "cache_from",
            "cache_to",
            "no_cache",
            "no_cache_filter",
            "additional_contexts",
            "pull",
            "extra_hosts",
            "isolation",
            "network",
            "target",
            "secrets",
            "shm_size",
            "tags",
            "ulimits",
            "platforms",
            "privileged"},
           [&](const std::string& k, const Node& v, const Path& kp) {
             if (k == "context")
               b.context = str(v, kp);
             else if (k == "dockerfile")
               b.dockerfile = str(v, kp);
             else if (k == "dockerfile_inline")
               b.dockerfileInline = str(v, kp);
             else if (k == "entitlements")
               b.entitlements = strList(v, kp);
             else if (k == "args")
               b.args = listOrDict(v, kp);
             else if (k == "provenance")
               b.provenance = scalarOrBool(v, kp);
             else if (k == "sbom")
               b.sbom = scalarOrBool(v, kp);
             else if (k == "ssh")
               b.ssh = ssh(v, kp);
             else if (k == "labels")
               b.labels = labels(v, kp);
             else if (k == "cache_from")
               b.cacheFrom = strList(v, kp);
             else if (k == "cache_to")
               b.cacheTo = strList(v, kp);
             else if (k == "no_cache")
               b.noCache = boolean(v, kp).value_or(false);
             else if (k == "no_cache_filter")
               b.noCacheFilter = strList(v, kp, true);
             else if (k == "additional_contexts")
               b.additionalContexts = labels(v, kp);
             else if (k == "pull")
               b.pull = boolean(v, kp).value_or(false);
             else if (k == "extra_hosts")
               b.extraHosts = extraHosts(v, kp);
             else if (k == "isolation")
               b.isolation = str(v, kp);
             else if (k == "network")
               b.network = str(v, kp);
             else if (k == "target")
               b.target = str(v, kp);
             else if (k == "secrets")
               b.secrets = fileReferences(v, kp, "/run/secrets");
             else if (k == "shm_size")
               b.shmSize = bytes(v, kp).value_or(0);
             else if (k == "tags") {
               b.tags = strList(v, kp);
               dedupe(b.tags, keyValueKey);
             } else if (k == "ulimits")
               b.ulimits = ulimits(v, kp);
             else if (k == "platforms")
               b.platforms = strList(v, kp);
             else
               b.privileged = boolean(v, kp).value_or(false);
           });
    return b;
  }

  std::string scalarOrBool(const Node& n, const Path& p) {
    if (n.isScalar()) return scalarString(n);
    err(n, p, "must be a string or a boolean");
    return "";
  }

  std::vector<SshKey> ssh(const Node& n, const Path& p) {
    std::vector<SshKey> out;
    const auto add = [&](const std::string& id, const std::string& path) { out.push_back(SshKey{id, path}); };
    if (n.isSequence()) {
      for (std::size_t i = 0; i < n.items.size(); ++i) {
        const std::string entry = str(n.items[i], p.index(i));
        const std::size_t eq = entry.find('=');
        add(entry.substr(0, eq), eq == std::string::npos ? "" : entry.substr(eq + 1));
      }
    } else if (n.isMapping()) {
      for (const Entry& e : n.entries) {
        add(e.key, e.value.isNull() ? "" : str(e.value, p.key(e.key)));
      }
    } else if (n.isString()) {
      const std::size_t eq = n.text.find('=');
      add(n.text.substr(0, eq), eq == std::string::npos ? "" : n.text.substr(eq + 1));
    } else {
      err(n, p, "must be a list or a mapping of SSH agent sockets or keys");
    }
    return out;
  }

  std::optional<Deploy> deploy(const Node& n, const Path& p) {
    Deploy d;
    fields(n, p, &d.extensions,
           {"mode", "endpoint_mode", "replicas", "labels", "rollback_config", "update_config", "resources",
            "restart_policy", "placement"},
           [&](const std::string& k, const Node& v, const Path& kp) {
             note(kp, v.mark);
             if (k == "mode")
               d.mode = str(v, kp);
             else if (k == "endpoint_mode")
               d.endpointMode = str(v, kp);
             else if (k == "replicas") {
               if (auto r = integer(v, kp))
                 d.replicas = static_cast<int>(std::clamp<std::int64_t>(*r, -1, 1 << 30));
             } else if (k == "labels")
               d.labels = labels(v, kp);
             else if (k == "rollback_config")
               d.rollbackConfig = updateConfig(v, kp);
             else if (k == "update_config")
               d.updateConfig = updateConfig(v, kp);
             else if (k == "resources") {
               fields(v, kp, nullptr, {"limits", "reservations"},
                      [&](const std::string& rk, const Node& rv, const Path& rp) {
                        if (rk == "limits")
                          d.limits = resource(rv, rp, false);
                        else
                          d.reservations = resource(rv, rp, true);
                      });
             } else if (k == "restart_policy") {
               RestartPolicy r;
               fields(v, kp, &r.extensions, {"condition", "delay", "max_attempts", "window"},
                      [&](const std::string& rk, const Node& rv, const Path& rp) {
                        if (rk == "condition")
                          r.condition = str(rv, rp);
                        else if (rk == "delay")
                          r.delay = duration(rv, rp);
                        else if (rk == "window")
                          r.window = duration(rv, rp);
                        else if (auto m = integer(rv, rp, 0))
                          r.maxAttempts = static_cast<std::uint64_t>(*m);
                      });
               d.restartPolicy = std::move(r);
             } else {
               fields(v, kp, &d.placement.extensions, {"constraints", "preferences", "max_replicas_per_node"},
                      [&](const std::string& pk, const Node& pv, const Path& pp) {
                        if (pk == "constraints") {
                          d.placement.constraints = strList(pv, pp);
                        } else if (pk == "max_replicas_per_node") {
                          d.placement.maxReplicasPerNode =
                              static_cast<std::uint64_t>(integer(pv, pp, 0).value_or(0));
                        } else {
                          eachItem(pv, pp, [&](const Node& item, const Path& ip) {
                            fields(item, ip, nullptr, {"spread"},
                                   [&](const std::string&, const Node& sv, const Path& sp) {
                                     d.placement.preferences.push_back(str(sv, sp));
                                   });
                          });
                        }
                      });
             }
           });
    return d;
  }

  std::optional<UpdateConfig> updateConfig(const Node& n, const Path& p) {
    UpdateConfig u;
    fields(
        n, p, &u.extensions,
        {"parallelism", "delay", "failure_action", "monitor", "max_failure_ratio", "order"},
        [&](const std::string& k, const Node& v, const Path& kp) {
          if (k == "parallelism") {
            if (auto par = integer(v, kp, 0)) u.parallelism = static_cast<std::uint64_t>(*par);
          } else if (k == "delay")
            u.delay = duration(v, kp);
          else if (k == "failure_action")
            u.failureAction = str(v, kp);
          else if (k == "monitor")
            u.monitor = duration(v, kp);
          else if (k == "max_failure_ratio")
            u.maxFailureRatio = number(v, kp).value_or(0);
          else {
            u.order = str(v, kp);
            if (settings_.validate && u.order != "start-first" && u.order != "stop-first" && !unresolved(v)) {
              err(v, kp, "must be one of \"start-first\", \"stop-first\"");
            }
          }
        });
    return u;
  }

  std::optional<Resource> resource(const Node& n, const Path& p, bool reservations) {
    Resource r;
    const Keys keys = reservations ? Keys{"cpus", "memory", "pids", "devices", "generic_resources"}
                                   : Keys{"cpus", "memory", "pids"};
    fields(n, p, &r.extensions, keys, [&](const std::string& k, const Node& v, const Path& kp) {
      if (k == "cpus")
        r.cpus = number(v, kp).value_or(0);
      else if (k == "memory")
        r.memory = bytes(v, kp).value_or(0);
      else if (k == "pids")
        r.pids = integer(v, kp).value_or(0);
      else if (k == "devices")
        r.devices = deviceRequests(v, kp, /*requireCapabilities=*/true);
      else {
        eachItem(v, kp, [&](const Node& item, const Path& ip) {
          GenericResource g;
          fields(item, ip, &g.extensions, {"discrete_resource_spec"},
                 [&](const std::string&, const Node& dv, const Path& dp) {
                   fields(dv, dp, nullptr, {"kind", "value"},
                          [&](const std::string& gk, const Node& gv, const Path& gp) {
                            if (gk == "kind")
                              g.kind = str(gv, gp);
                            else
                              g.value = static_cast<std::int64_t>(number(gv, gp).value_or(0));
                          });
                 });
          r.genericResources.push_back(std::move(g));
        });
      }
    });
    return r;
  }

  std::optional<Develop> develop(const Node& n, const Path& p) {
    Develop d;
    fields(n, p, &d.extensions, {"watch"}, [&](const std::string&, const Node& v, const Path& kp) {
      note(kp, v.mark);
      eachItem(v, kp, [&](const Node& item, const Path& ip) {
        WatchRule w;
        std::vector<std::string> paths;
        bool haveAction = false;
        fields(item, ip, &w.extensions,
               {"path", "action", "target", "ignore", "include", "initial_sync", "exec"},
               [&](const std::string& k, const Node& wv, const Path& wp) {
                 if (k == "path")
                   paths = strList(wv, wp, /*allowString=*/true);
                 else if (k == "action") {
                   haveAction = true;
                   w.action = str(wv, wp);
                   static const std::set<std::string> kActions = {"rebuild", "sync", "restart",
                                                                  "sync+restart", "sync+exec"};
                   if (settings_.validate && !kActions.contains(w.action) && !unresolved(wv)) {
                     err(wv, wp,
                         "must be one of \"rebuild\", \"sync\", \"restart\", "
                         "\"sync+restart\", \"sync+exec\"");
                   }
                 } else if (k == "target")
                   w.target = str(wv, wp);
                 else if (k == "ignore")
                   w.ignore = strList(wv, wp, true);
                 else if (k == "include")
                   w.include = strList(wv, wp, true);
                 else if (k == "initial_sync")
                   w.initialSync = boolean(wv, wp).value_or(false);
                 else
                   w.exec.push_back(hook(wv, wp, false));
               });
        if (!item.isMapping()) return;
        if (settings_.validate) {
          if (paths.empty())
            err(item, ip, "missing property 'path'");
          else if (!haveAction)
            err(item, ip, "missing property 'action'");
        }
        if (paths.empty()) paths.emplace_back();
        for (const std::string& path : paths) {
          WatchRule copy = w;
          copy.path = path;
          d.watch.push_back(std::move(copy));
        }
      });
    });
    return d;
  }

  // ---- top-level resources ----------------------------------------------------------------------

  // `external: true` or the deprecated `external: {name: X}`; returns the external name if any.
  std::string external(const Node& v, const Path& kp, bool& externalFlag) {
    if (v.isMapping()) {
      externalFlag = true;
      std::string name;
      fields(v, kp, nullptr, {"name"},
             [&](const std::string&, const Node& nv, const Path& np) { name = str(nv, np); });
      return name;
    }
    externalFlag = boolean(v, kp).value_or(false);
    return "";
  }

  void checkExternal(const Node& n, const Path& p, bool isExternal, const std::string& name,
                     const std::string& externalName,
                     std::initializer_list<std::pair<const char*, bool>> conflicts) {
    if (!isExternal) return;
    if (!externalName.empty() && !name.empty() && externalName != name) {
      err(n, p, "name and external.name conflict; only use name");
    }
    for (const auto& [attr, present] : conflicts) {
      if (present)
        err(n, p, std::string("conflicting parameters \"external\" and \"") + attr + "\" specified");
    }
  }

  Network network(const Node& n, const Path& p) {
    Network net;
    if (n.isNull()) return net;
    std::string externalName;
    bool haveName = false;
    fields(n, p, &net.extensions,
           {"name", "driver", "driver_opts", "ipam", "external", "internal", "enable_ipv4", "enable_ipv6",
            "attachable", "labels"},
           [&](const std::string& k, const Node& v, const Path& kp) {
             if (k == "name") {
               net.name = str(v, kp);
               haveName = true;
             } else if (k == "driver")
               net.driver = str(v, kp);
             else if (k == "driver_opts")
               net.driverOpts = stringMap(v, kp);
             else if (k == "ipam")
               net.ipam = ipam(v, kp);
             else if (k == "external")
               externalName = external(v, kp, net.external);
             else if (k == "internal")
               net.internal = boolean(v, kp).value_or(false);
             else if (k == "enable_ipv4")
               net.enableIpv4 = boolean(v, kp);
             else if (k == "enable_ipv6")
               net.enableIpv6 = boolean(v, kp);
             else if (k == "attachable")
               net.attachable = boolean(v, kp).value_or(false);
             else
               net.labels = labels(v, kp);
           });
    checkExternal(n, p, net.external, haveName ? net.name : "", externalName, {});
    if (!externalName.empty() && net.name.empty()) net.name = externalName;
    return net;
  }

  Ipam ipam(const Node& n, const Path& p) {
    Ipam i;
    fields(n, p, &i.extensions, {"driver", "config", "options"},
           [&](const std::string& k, const Node& v, const Path& kp) {
             if (k == "driver") {
               i.driver = str(v, kp);
             } else if (k == "options") {
               i.options = stringMap(v, kp);
             } else {
               eachItem(v, kp, [&](const Node& item, const Path& ip) {
                 IpamPool pool;
                 fields(item, ip, &pool.extensions, {"subnet", "ip_range", "gateway", "aux_addresses"},
                        [&](const std::string& pk, const Node& pv, const Path& pp) {
                          if (pk == "subnet")
                            pool.subnet = str(pv, pp);
                          else if (pk == "ip_range")
                            pool.ipRange = str(pv, pp);
                          else if (pk == "gateway")
                            pool.gateway = str(pv, pp);
                          else
                            pool.auxAddresses = stringMap(pv, pp);
                        });
                 i.config.push_back(std::move(pool));
               });
             }
           });
    return i;
  }

  Volume volume(const Node& n, const Path& p) {
    Volume vol;
    if (n.isNull()) return vol;
    std::string externalName;
    bool haveName = false;
    bool haveDriver = false;
    bool haveDriverOpts = false;
    bool haveLabels = false;
    fields(n, p, &vol.extensions, {"name", "driver", "driver_opts", "external", "labels"},
           [&](const std::string& k, const Node& v, const Path& kp) {
             if (k == "name") {
               vol.name = str(v, kp);
               haveName = true;
             } else if (k == "driver") {
               vol.driver = str(v, kp);
               haveDriver = true;
             } else if (k == "driver_opts") {
               vol.driverOpts = stringMap(v, kp);
               haveDriverOpts = true;
             } else if (k == "external") {
               externalName = external(v, kp, vol.external);
             } else {
               vol.labels = labels(v, kp);
               haveLabels = true;
             }
           });
    checkExternal(n, p, vol.external, haveName ? vol.name : "", externalName,
                  {{"driver", haveDriver}, {"driver_opts", haveDriverOpts}, {"labels", haveLabels}});
    if (!externalName.empty() && vol.name.empty()) vol.name = externalName;
    return vol;
  }

  FileObject fileObject(const Node& n, const Path& p, bool isConfig) {
    FileObject f;
    std::string externalName;
    bool haveName = false;
    const Keys keys =
        isConfig ? Keys{"name", "content", "environment", "file", "external", "labels", "template_driver"}
                 : Keys{"name",   "environment", "file",        "external",
                        "labels", "driver",      "driver_opts", "template_driver"};
    fields(n, p, &f.extensions, keys, [&](const std::string& k, const Node& v, const Path& kp) {
      if (k == "name") {
        f.name = str(v, kp);
        haveName = true;
      } else if (k == "content")
        f.content = str(v, kp);
      else if (k == "environment")
        f.environment = str(v, kp);
      else if (k == "file")
        f.file = str(v, kp);
      else if (k == "external")
        externalName = external(v, kp, f.external);
      else if (k == "labels")
        f.labels = labels(v, kp);
      else if (k == "driver")
        f.driver = str(v, kp);
      else if (k == "driver_opts")
        f.driverOpts = stringMap(v, kp);
      else
        f.templateDriver = str(v, kp);
    });
    checkExternal(n, p, f.external, haveName ? f.name : "", externalName, {});
    if (!externalName.empty() && f.name.empty()) f.name = externalName;
    return f;
  }

  Model model(const Node& n, const Path& p) {
    Model m;
    bool haveModel = false;
    fields(n, p, &m.extensions, {"name", "model", "context_size", "runtime_flags"},
           [&](const std::string& k, const Node& v, const Path& kp) {
             if (k == "name")
               m.name = str(v, kp);
             else if (k == "model") {
               m.model = str(v, kp);
               haveModel = true;
             } else if (k == "context_size")
               m.contextSize = integer(v, kp, 0).value_or(0);
             else
               m.runtimeFlags = strList(v, kp);
           });
    if (!haveModel && n.isMapping() && settings_.validate) err(n, p, "missing property 'model'");
    return m;
  }

  const BindSettings& settings_;
  Diagnostics& diag_;
  SourceMap& marks_;
};

}  // namespace

Project bindProject(const Node& root, const BindSettings& settings, Diagnostics& diag, SourceMap& marks) {
  return Binder(settings, diag, marks).project(root);
}

}  // namespace berth::spec::internal
