#include "spec/loader.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <set>
#include <system_error>
#include <unordered_map>

#include "base/files.h"
#include "base/strings.h"
#include "spec/binder.h"
#include "spec/dotenv.h"
#include "spec/format.h"
#include "spec/interpolation.h"
#include "spec/merge.h"
#include "spec/node.h"
#include "spec/project_rules.h"
#include "spec/yaml_reader.h"

namespace berth::spec {

namespace fs = std::filesystem;
using namespace internal;  // NOLINT: this file is the glue of the internal pieces

std::string normalizeProjectName(std::string_view name) {
  std::string out;
  for (const char c : name) {
    const char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '_' || l == '-') out += l;
  }
  const std::size_t start = out.find_first_not_of("_-");
  return start == std::string::npos ? std::string() : out.substr(start);
}

bool isValidProjectName(std::string_view name) { return !name.empty() && normalizeProjectName(name) == name; }

namespace {

constexpr std::size_t kMaxIncludeDepth = 32;
constexpr std::size_t kMaxExtendsDepth = 64;
constexpr std::size_t kMaxTotalNodes = 2000000;

std::string invalidProjectName(const std::string& name) {
  return "invalid project name " + ::berth::quoted(name) +
         ": must consist only of lowercase alphanumeric characters, hyphens, and underscores as "
         "well as start with a letter or number";
}

std::string absolute(const std::string& path, const std::string& base) {
  fs::path p(path);
  if (p.is_absolute()) return p.lexically_normal().string();
  return (fs::path(base) / p).lexically_normal().string();
}

std::string dirOf(const std::string& path) { return fs::path(path).parent_path().string(); }

bool isRemote(const std::string& p) {
  return p.find("://") != std::string::npos || startsWith(p, "git@") || startsWith(p, "github.com/");
}

bool isAbsoluteAnywhere(const std::string& p) {
  if (p.empty()) return false;
  if (p[0] == '/' || p[0] == '~' || startsWith(p, "\\\\")) return true;
  return p.size() > 2 && std::isalpha(static_cast<unsigned char>(p[0])) != 0 && p[1] == ':' &&
         (p[2] == '\\' || p[2] == '/');
}

// `relDir / p` for a path relative to another file's directory, kept relative.
std::string rebase(const std::string& relDir, const std::string& p) {
  if (relDir.empty() || relDir == "." || p.empty() || isAbsoluteAnywhere(p) || isRemote(p)) return p;
  std::string out = (fs::path(relDir) / p).lexically_normal().string();
  if (out.size() > 1 && out.back() == '/') out.pop_back();
  return out.empty() ? "." : out;
}

void rebaseScalar(Node& n, const std::string& relDir) {
  if (n.isString()) n.text = rebase(relDir, n.text);
}

void rebaseScalarOrList(Node& n, const std::string& relDir) {
  if (n.isSequence()) {
    for (Node& item : n.items) rebaseScalar(item, relDir);
  } else {
    rebaseScalar(n, relDir);
  }
}

// Rebases the relative paths of a raw service definition that was written in another directory.
void rebaseService(Node& svc, const std::string& relDir) {
  if (!svc.isMapping() || relDir.empty() || relDir == ".") return;
  for (Entry& e : svc.entries) {
    Node& v = e.value;
    if (e.key == "build") {
      if (v.isString()) {
        rebaseScalar(v, relDir);
      } else if (v.isMapping()) {
        if (Node* c = v.find("context")) rebaseScalar(*c, relDir);
        if (Node* ac = v.find("additional_contexts"); ac != nullptr && ac->isMapping()) {
          for (Entry& a : ac->entries) rebaseScalar(a.value, relDir);
        }
      }
    } else if (e.key == "env_file") {
      const auto one = [&](Node& item) {
        if (item.isMapping()) {
          if (Node* path = item.find("path")) rebaseScalar(*path, relDir);
        } else {
          rebaseScalar(item, relDir);
        }
      };
      if (v.isSequence()) {
        for (Node& item : v.items) one(item);
      } else {
        one(v);
      }
    } else if (e.key == "label_file") {
      rebaseScalarOrList(v, relDir);
    } else if (e.key == "x-berth-ssh" && v.isMapping()) {
      if (Node* keys = v.find("authorized_keys"); keys != nullptr && keys->isSequence()) {
        for (Node& item : keys->items) {
          if (Node* file = item.isMapping() ? item.find("file") : nullptr) rebaseScalar(*file, relDir);
        }
      }
    } else if (e.key == "extends" && v.isMapping()) {
      if (Node* f = v.find("file")) rebaseScalar(*f, relDir);
    } else if (e.key == "volumes" && v.isSequence()) {
      for (Node& item : v.items) {
        if (item.isString() && !item.text.empty() && item.text[0] == '.') {
          // Short syntax with a relative bind source: rebase the source part.
          const std::size_t colon = item.text.find(':');
          const std::string source = item.text.substr(0, colon);
          std::string rebased = rebase(relDir, source);
          if (!rebased.empty() && rebased[0] != '.' && rebased[0] != '/') rebased = "./" + rebased;
          item.text = rebased + (colon == std::string::npos ? "" : item.text.substr(colon));
        } else if (item.isMapping()) {
          const Node* type = item.find("type");
          if (type != nullptr && type->isString() && type->text == "bind") {
            if (Node* s = item.find("source")) rebaseScalar(*s, relDir);
          }
        }
      }
    } else if (e.key == "develop" && v.isMapping()) {
      if (Node* watch = v.find("watch"); watch != nullptr && watch->isSequence()) {
        for (Node& w : watch->items) {
          if (Node* path = w.isMapping() ? w.find("path") : nullptr) rebaseScalarOrList(*path, relDir);
        }
      }
    }
  }
}

void rebaseModel(Node& model, const std::string& relDir) {
  if (Node* services = model.find("services"); services != nullptr && services->isMapping()) {
    for (Entry& e : services->entries) rebaseService(e.value, relDir);
  }
  for (const char* kind : {"secrets", "configs"}) {
    if (Node* objects = model.find(kind); objects != nullptr && objects->isMapping()) {
      for (Entry& e : objects->entries) {
        if (Node* f = e.value.isMapping() ? e.value.find("file") : nullptr) rebaseScalar(*f, relDir);
      }
    }
  }
}

bool sameTree(const Node& a, const Node& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case NodeKind::Null:
      return true;
    case NodeKind::Scalar:
      return scalarString(a) == scalarString(b) && a.type == b.type;
    case NodeKind::Sequence:
      return std::equal(a.items.begin(), a.items.end(), b.items.begin(), b.items.end(), sameTree);
    case NodeKind::Mapping:
      return std::equal(
          a.entries.begin(), a.entries.end(), b.entries.begin(), b.entries.end(),
          [](const Entry& x, const Entry& y) { return x.key == y.key && sameTree(x.value, y.value); });
  }
  return false;
}

// Resolves bare environment entries (list "KEY" or mapping KEY: null) from env, in a raw model.
void resolveBareEnvironment(Node& model, const Environment& env) {
  Node* services = model.find("services");
  if (services == nullptr || !services->isMapping()) return;
  for (Entry& s : services->entries) {
    Node* environment = s.value.isMapping() ? s.value.find("environment") : nullptr;
    if (environment == nullptr) continue;
    if (environment->isSequence()) {
      for (Node& item : environment->items) {
        if (!item.isString() || item.text.find('=') != std::string::npos) continue;
        if (auto it = env.find(item.text); it != env.end()) item.text += "=" + it->second;
      }
    } else if (environment->isMapping()) {
      for (Entry& e : environment->entries) {
        if (!e.value.isNull() || e.value.tag != NodeTag::None) continue;
        if (auto it = env.find(e.key); it != env.end()) e.value = Node::string(it->second, e.value.mark);
      }
    }
  }
}

struct FileContext {
  std::string path;        // absolute path of the file
  std::string workingDir;  // project directory of the model the file belongs to
  std::string baseDir;     // what the file's relative paths are relative to
  const Environment* env;
};

class Loader {
 public:
  explicit Loader(const LoadOptions& options) : options_(options), diag_(sources_) {}

  Result<Project> run(const ConfigDetails& details) {
    projectDir_ = details.workingDir;
    contents_ = &details.contents;
    Environment env = details.environment;

    // Parse the main files first: the project name comes from them and every later step needs it.
    std::vector<std::string> paths;
    for (const std::string& f : details.files) paths.push_back(absolute(f, details.workingDir));
    if (paths.empty()) return fail(ErrorCode::InvalidArgument, "no compose file specified");
    for (const std::string& p : paths) {
      if (parsed(p) == nullptr) return failure();
    }

    std::string name;
    if (details.projectName) {
      name = *details.projectName;
      if (!isValidProjectName(name)) return fail(ErrorCode::InvalidArgument, invalidProjectName(name));
    } else {
      BERTH_ASSIGN_OR_RETURN(name, nameFromFiles(paths, env));
      if (name.empty()) name = details.defaultProjectName;
    }
    env["COMPOSE_PROJECT_NAME"] = name;

    Node merged = Node::mapping();
    for (const std::string& p : paths) {
      std::vector<std::string> includeStack;
      loadInto(merged, FileContext{p, projectDir_, projectDir_, &env}, includeStack);
      if (!diag_.empty()) return failure();
    }
    if (merged.entries.empty()) return fail(ErrorCode::InvalidArgument, "empty compose file");

    SourceMap marks;
    BindSettings settings;
    settings.validate = options_.validate;
    settings.interpolated = options_.interpolate;
    Project project = bindProject(merged, settings, diag_, marks);
    if (!diag_.empty()) return failure();
    if (options_.validate && name.empty()) {
      return fail(ErrorCode::InvalidArgument, "project name must not be empty");
    }

    project.name = name;
    project.workingDir = projectDir_;
    project.composeFiles = paths;
    project.environment = env;
    for (std::string& w : warnings_) project.warnings.push_back(std::move(w));

    applyBuildDefaults(project);
    resolveBareVariables(project, env);
    if (options_.resolvePaths) resolvePaths(project, env);
    if (options_.normalize) normalize(project);
    applyProfiles(project, options_.profiles);
    if (!options_.selectedServices.empty()) BERTH_TRY(selectServices(project, options_.selectedServices));
    if (options_.consistency) {
      checkConsistency(project, marks, diag_);
      if (!diag_.empty()) return failure();
    }
    if (options_.resolveEnvironment) BERTH_TRY(resolveEnvFiles(project, options_.discardEnvFiles));
    BERTH_TRY(resolveLabelFiles(project));
    BERTH_TRY(resolveSshKeyFiles(project, options_.interpolate));
    return project;
  }

 private:
  struct ParsedFile {
    int index = -1;
    std::vector<Node> docs;
  };

  Unexpected failure() const { return fail(diag_.toError()); }

  std::string display(const std::string& path) const {
    const fs::path rel = fs::path(path).lexically_relative(projectDir_);
    if (!rel.empty() && rel.native().rfind("..", 0) != 0) return rel.string();
    return path;
  }

  // A file's text: as given in ConfigDetails::contents, else from disk.
  Result<std::string> contentOf(const std::string& path) const {
    if (contents_ != nullptr) {
      if (auto it = contents_->find(path); it != contents_->end()) return it->second;
    }
    return readFile(path);
  }

  // Reads and parses a file once; nullptr (with diagnostics) on failure.
  const ParsedFile* parsed(const std::string& path) {
    if (auto it = files_.find(path); it != files_.end()) return &it->second;
    const int index = sources_.add(display(path));
    auto text = contentOf(path);
    if (!text) {
      diag_.error(Mark{index, 0, 0},
                  text.error().code() == ErrorCode::NotFound ? "no such file" : text.error().message());
      return nullptr;
    }
    std::size_t before = diag_.size();
    ParsedFile f;
    f.index = index;
    f.docs = readYaml(*text, index, diag_);
    if (diag_.size() != before) return nullptr;
    for (const Node& doc : f.docs) {
      totalNodes_ += countNodes(doc);
      if (!doc.isMapping()) {
        diag_.error(doc.mark, "top-level object must be a mapping");
        return nullptr;
      }
    }
    return &files_.emplace(path, std::move(f)).first->second;
  }

  bool budget(const Node& at) {
    if (totalNodes_ <= kMaxTotalNodes) return true;
    diag_.error(at.mark, "too much to load: includes and extends expand to more than " +
                             std::to_string(kMaxTotalNodes) + " nodes");
    return false;
  }

  Result<std::string> nameFromFiles(const std::vector<std::string>& paths, const Environment& env) {
    std::string fromFiles;
    const Node* nameNode = nullptr;
    for (const std::string& p : paths) {
      for (const Node& doc : files_.at(p).docs) {
        const Node* n = doc.find("name");
        if (n != nullptr && n->isString() && !n->text.empty()) {
          fromFiles = n->text;
          nameNode = n;
        }
      }
    }
    if (nameNode == nullptr) return std::string();
    if (options_.interpolate) {
      auto substituted = substitute(fromFiles, lookupIn(env), nullptr);
      if (!substituted) {
        diag_.error(nameNode->mark, Path().key("name"), substituted.error().message());
        return failure();
      }
      fromFiles = *substituted;
    }
    if (options_.normalize) fromFiles = normalizeProjectName(fromFiles);
    return fromFiles;
  }

  static Lookup lookupIn(const Environment& env) {
    return [&env](std::string_view name) -> std::optional<std::string> {
      if (auto it = env.find(std::string(name)); it != env.end()) return it->second;
      return std::nullopt;
    };
  }

  // ---- per file ---------------------------------------------------------------------------------

  void loadInto(Node& accumulated, const FileContext& ctx, std::vector<std::string>& includeStack) {
    const ParsedFile* file = parsed(ctx.path);
    if (file == nullptr) return;
    includeStack.push_back(ctx.path);
    for (const Node& original : file->docs) {
      Node doc = original;
      totalNodes_ += countNodes(doc);
      if (!budget(doc)) return;
      if (options_.interpolate) {
        interpolate(doc, Path(), *ctx.env);
        if (!diag_.empty()) return;
      }
      applyExtends(doc, ctx);
      if (!diag_.empty()) return;
      applyIncludes(doc, ctx, includeStack);
      if (!diag_.empty()) return;
      mergeInto(accumulated, std::move(doc), {}, diag_);
      if (!diag_.empty()) return;
    }
    includeStack.pop_back();
  }

  void interpolate(Node& n, const Path& path, const Environment& env) {
    if (n.isString() && n.text.find('$') != std::string::npos) {
      std::vector<std::string> unset;
      auto result = substitute(n.text, lookupIn(env), &unset);
      if (!result) {
        const std::string& message = result.error().message();
        if (startsWith(message, "Invalid template")) {
          diag_.error(n.mark, "invalid interpolation format for " + path.str() +
                                  ". You may need to escape any $ with another $. " + message);
        } else {
          diag_.error(n.mark, path, message);
        }
        return;
      }
      for (const std::string& var : unset) warnUnset(var);
      n.text = std::move(*result);
      n.interpolated = true;
      return;
    }
    for (std::size_t i = 0; i < n.items.size(); ++i) interpolate(n.items[i], path.index(i), env);
    for (Entry& e : n.entries) interpolate(e.value, path.key(e.key), env);
  }

  void warnUnset(const std::string& var) {
    const std::string w =
        "The " + ::berth::quoted(var) + " variable is not set. Defaulting to a blank string.";
    if (std::find(warnings_.begin(), warnings_.end(), w) == warnings_.end()) warnings_.push_back(w);
  }

  // ---- extends ----------------------------------------------------------------------------------

  struct ExtendsFrame {
    std::string file;
    std::string service;
  };

  // Services by name, for lookups that stay cheap in large files.
  struct ServiceIndex {
    explicit ServiceIndex(Node& s) : services(&s) {
      for (std::size_t i = 0; i < s.entries.size(); ++i) positions.emplace(s.entries[i].key, i);
    }
    Node* find(const std::string& name) const {
      auto it = positions.find(name);
      return it == positions.end() ? nullptr : &services->entries[it->second].value;
    }
    Node* services;
    std::unordered_map<std::string, std::size_t> positions;
  };

  void applyExtends(Node& doc, const FileContext& ctx) {
    Node* services = doc.find("services");
    if (services == nullptr || !services->isMapping()) return;
    const ServiceIndex index(*services);
    for (std::size_t i = 0; i < services->entries.size(); ++i) {
      const Node& v = services->entries[i].value;
      if (!v.isMapping() || v.findEntry("extends") == nullptr) continue;
      std::vector<ExtendsFrame> chain;
      resolveExtends(services->entries[i].key, index, ctx, chain);
      if (!diag_.empty()) return;
    }
  }

  // Replaces services[name] by its definition merged over the service it extends.
  void resolveExtends(const std::string& name, const ServiceIndex& services, const FileContext& ctx,
                      std::vector<ExtendsFrame>& chain) {
    Node* svc = services.find(name);
    if (svc == nullptr || !svc->isMapping()) return;
    const Entry* ext = svc->findEntry("extends");
    if (ext == nullptr) return;
    const Path path = Path().key("services").key(name).key("extends");
    std::string ref;
    std::string otherFile;
    if (ext->value.isString()) {
      ref = ext->value.text;
    } else if (ext->value.isMapping()) {
      for (const Entry& e : ext->value.entries) {
        if (e.key == "service" && e.value.isString())
          ref = e.value.text;
        else if (e.key == "file" && e.value.isString())
          otherFile = e.value.text;
        else if (e.key != "service" && e.key != "file" && options_.validate) {
          diag_.error(e.keyMark, path, "additional properties '" + e.key + "' not allowed");
          return;
        }
      }
      if (ref.empty()) {
        diag_.error(ext->value.mark, path, "missing property 'service'");
        return;
      }
    } else {
      diag_.error(ext->value.mark, path, "must be a service name or a mapping with service and file");
      return;
    }
    for (const ExtendsFrame& f : chain) {
      if (f.file == ctx.path && f.service == name) {
        std::string cycle;
        for (const ExtendsFrame& g : chain) cycle += g.service + " (" + display(g.file) + ") -> ";
        diag_.error(ext->value.mark, path, "circular extends: " + cycle + name);
        return;
      }
    }
    if (chain.size() >= kMaxExtendsDepth) {
      diag_.error(ext->value.mark, path,
                  "extends chain longer than " + std::to_string(kMaxExtendsDepth) + " services");
      return;
    }
    chain.push_back({ctx.path, name});

    Node base;
    if (!otherFile.empty()) {
      const std::string otherPath = absolute(otherFile, ctx.baseDir);
      const ParsedFile* file = parsed(otherPath);
      if (file == nullptr) {
        diag_.error(ext->value.mark, path, "cannot read " + otherFile);
        return;
      }
      // The whole other file, interpolated with the same environment, once per environment.
      const std::string cacheKey =
          otherPath + '\0' + std::to_string(reinterpret_cast<std::uintptr_t>(ctx.env));
      auto cached = extendedFiles_.find(cacheKey);
      if (cached == extendedFiles_.end()) {
        auto model = std::make_unique<ExtendedFile>();
        model->model = Node::mapping();
        for (const Node& original : file->docs) {
          Node d = original;
          totalNodes_ += countNodes(d);
          if (!budget(d)) return;
          if (options_.interpolate) interpolate(d, Path(), *ctx.env);
          if (!diag_.empty()) return;
          mergeInto(model->model, std::move(d), {}, diag_, MergeOptions{true});
        }
        Node* servicesNode = model->model.find("services");
        if (servicesNode != nullptr && servicesNode->isMapping()) {
          model->index = std::make_unique<ServiceIndex>(*servicesNode);
        }
        cached = extendedFiles_.emplace(cacheKey, std::move(model)).first;
      }
      const ServiceIndex* otherServices = cached->second->index.get();
      if (otherServices == nullptr || otherServices->find(ref) == nullptr) {
        diag_.error(ext->value.mark, path,
                    "cannot extend service " + ::berth::quoted(name) + ": service " + ::berth::quoted(ref) +
                        " not found in " + otherFile);
        return;
      }
      FileContext otherCtx{otherPath, ctx.workingDir, dirOf(otherPath), ctx.env};
      resolveExtends(ref, *otherServices, otherCtx, chain);
      if (!diag_.empty()) return;
      base = *otherServices->find(ref);
      const fs::path relDir = fs::path(dirOf(otherPath)).lexically_relative(ctx.baseDir);
      rebaseService(base, relDir.string());
    } else {
      if (services.find(ref) == nullptr) {
        diag_.error(ext->value.mark, path,
                    "cannot extend service " + ::berth::quoted(name) + ": service " + ::berth::quoted(ref) +
                        " not found");
        return;
      }
      resolveExtends(ref, services, ctx, chain);
      if (!diag_.empty()) return;
      base = *services.find(ref);
    }
    chain.pop_back();
    svc = services.find(name);  // resolving the base may have reallocated entries
    Node current = *svc;
    current.erase("extends");
    if (base.isNull()) {
      *svc = std::move(current);
      return;
    }
    stripTags(base);
    base.erase("extends");
    totalNodes_ += countNodes(base);
    if (!budget(base)) return;
    mergeInto(base, std::move(current), {"services", name}, diag_, MergeOptions{true});
    *services.find(name) = std::move(base);
  }

  struct ExtendedFile {
    Node model;
    std::unique_ptr<ServiceIndex> index;
  };

  // ---- include ----------------------------------------------------------------------------------

  void applyIncludes(Node& doc, const FileContext& ctx, std::vector<std::string>& includeStack) {
    const Entry* includeEntry = doc.findEntry("include");
    if (includeEntry == nullptr) return;
    const Node include = includeEntry->value;
    doc.erase("include");
    const Path path = Path().key("include");
    if (include.isNull()) return;
    if (!include.isSequence()) {
      diag_.error(include.mark, path, "must be a list");
      return;
    }
    for (std::size_t i = 0; i < include.items.size(); ++i) {
      const Node& item = include.items[i];
      const Path ip = path.index(i);
      std::vector<std::string> files;
      std::vector<std::string> envFiles;
      std::string projectDirectory;
      bool haveEnvFile = false;
      const auto strings = [&](const Node& v, const Path& vp) {
        std::vector<std::string> out;
        if (v.isString()) {
          out.push_back(v.text);
        } else if (v.isSequence()) {
          for (std::size_t j = 0; j < v.items.size(); ++j) {
            if (v.items[j].isString())
              out.push_back(v.items[j].text);
            else
              diag_.error(v.items[j].mark, vp.index(j), "must be a string");
          }
        } else {
          diag_.error(v.mark, vp, "must be a string or a list");
        }
        return out;
      };
      if (item.isString()) {
        files.push_back(item.text);
      } else if (item.isMapping()) {
        for (const Entry& e : item.entries) {
          if (e.key == "path") {
            files = strings(e.value, ip.key("path"));
          } else if (e.key == "env_file") {
            envFiles = strings(e.value, ip.key("env_file"));
            haveEnvFile = true;
          } else if (e.key == "project_directory" && e.value.isString()) {
            projectDirectory = e.value.text;
          } else if (options_.validate) {
            diag_.error(e.keyMark, ip, "additional properties '" + e.key + "' not allowed");
          }
        }
      } else {
        diag_.error(item.mark, ip, "must be a path or a mapping with path");
      }
      if (!diag_.empty()) return;
      if (files.empty()) {
        diag_.error(item.mark, ip, "missing property 'path'");
        return;
      }
      for (std::string& f : files) f = absolute(f, ctx.workingDir);
      if (std::find(includeStack.begin(), includeStack.end(), files[0]) != includeStack.end() ||
          files[0] == ctx.path) {
        std::string chain;
        for (const std::string& s : includeStack) chain += display(s) + " -> ";
        diag_.error(item.mark, ip, "include cycle detected: " + chain + display(files[0]));
        return;
      }
      if (includeStack.size() >= kMaxIncludeDepth) {
        diag_.error(item.mark, ip,
                    "includes nested more than " + std::to_string(kMaxIncludeDepth) + " levels deep");
        return;
      }
      const std::string includeDir =
          projectDirectory.empty() ? dirOf(files[0]) : absolute(projectDirectory, ctx.workingDir);
      // The included project's environment: ours, plus its env files (ours win).
      if (!haveEnvFile) {
        const std::string dotEnv = (fs::path(includeDir) / ".env").string();
        std::error_code ec;
        if (fs::is_regular_file(dotEnv, ec)) envFiles.push_back(dotEnv);
      }
      std::vector<std::string> envPaths;
      for (const std::string& f : envFiles) {
        if (f == "/dev/null") continue;
        envPaths.push_back(absolute(f, ctx.workingDir));
      }
      auto fromFiles = readEnvFiles(envPaths, *ctx.env);
      if (!fromFiles) {
        diag_.error(item.mark, ip, fromFiles.error().message());
        return;
      }
      auto includeEnv = std::make_unique<Environment>(*ctx.env);
      for (auto& [k, v] : *fromFiles) includeEnv->emplace(k, v);

      Node imported = Node::mapping(item.mark);
      for (const std::string& f : files) {
        loadInto(imported, FileContext{f, includeDir, includeDir, includeEnv.get()}, includeStack);
        if (!diag_.empty()) return;
      }
      resolveBareEnvironment(imported, *includeEnv);
      const fs::path relDir = fs::path(includeDir).lexically_relative(ctx.workingDir);
      rebaseModel(imported, relDir.string());
      environments_.push_back(std::move(includeEnv));
      importResources(std::move(imported), doc);
    }
  }

  // Adds the included model's resources; a resource the including file also defines is merged,
  // the including file winning.
  void importResources(Node imported, Node& doc) {
    for (const char* key : {"services", "volumes", "networks", "secrets", "configs", "models"}) {
      Node* from = imported.find(key);
      if (from == nullptr || !from->isMapping()) continue;
      Node* to = doc.find(key);
      if (to == nullptr) {
        doc.set(key, Node::mapping(from->mark), from->mark);
        to = doc.find(key);
      }
      if (to->isNull()) *to = Node::mapping(from->mark);
      if (!to->isMapping()) continue;
      std::unordered_map<std::string, std::size_t> positions;
      for (std::size_t i = 0; i < to->entries.size(); ++i) positions.emplace(to->entries[i].key, i);
      for (Entry& e : from->entries) {
        auto pos = positions.find(e.key);
        if (pos == positions.end()) {
          positions.emplace(e.key, to->entries.size());
          to->entries.push_back(Entry{e.key, e.keyMark, std::move(e.value)});
          continue;
        }
        Node* existing = &to->entries[pos->second].value;
        if (sameTree(*existing, e.value)) continue;
        Node merged = std::move(e.value);
        mergeInto(merged, *existing, {key, e.key}, diag_, MergeOptions{true});
        *existing = std::move(merged);
      }
    }
  }

  const LoadOptions& options_;
  const std::map<std::string, std::string>* contents_ = nullptr;
  Sources sources_;
  Diagnostics diag_;
  std::string projectDir_;
  std::map<std::string, ParsedFile> files_;
  std::map<std::string, std::unique_ptr<ExtendedFile>> extendedFiles_;
  std::vector<std::unique_ptr<Environment>> environments_;
  std::vector<std::string> warnings_;
  std::size_t totalNodes_ = 0;
};

}  // namespace

Result<Project> load(const ConfigDetails& details, const LoadOptions& options) {
  return Loader(options).run(details);
}

// ---- CLI level ----------------------------------------------------------------------------------

namespace {

const char* const kDefaultFiles[] = {"compose.yaml", "compose.yml", "docker-compose.yml",
                                     "docker-compose.yaml"};
const char* const kDefaultOverrides[] = {"compose.override.yml", "compose.override.yaml",
                                         "docker-compose.override.yml", "docker-compose.override.yaml"};

bool isFile(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

// The directory the project lives in before COMPOSE_FILE is known: --project-directory, else the
// first -f file's directory, else the current directory.
std::string initialWorkingDir(const ProjectOptions& o) {
  if (o.projectDirectory) return absolute(*o.projectDirectory, o.currentDirectory);
  if (!o.files.empty()) return dirOf(absolute(o.files.front(), o.currentDirectory));
  return o.currentDirectory;
}

}  // namespace

Result<Environment> projectEnvironment(const ProjectOptions& options) {
  Environment env = options.processEnvironment;
  if (!options.loadDotEnv) return env;
  std::vector<std::string> envFiles;
  if (!options.envFiles.empty()) {
    for (const std::string& f : options.envFiles) envFiles.push_back(absolute(f, options.currentDirectory));
  } else {
    bool disabled = false;
    if (auto it = env.find("COMPOSE_DISABLE_ENV_FILE"); it != env.end()) {
      disabled = parseLenientBool(it->second).value_or(false) || it->second == "1";
    }
    const std::string dotEnv = (fs::path(initialWorkingDir(options)) / ".env").string();
    if (!disabled && isFile(dotEnv)) envFiles.push_back(dotEnv);
  }
  BERTH_ASSIGN_OR_RETURN(EnvMap fromFiles, readEnvFiles(envFiles, options.processEnvironment));
  for (auto& [k, v] : fromFiles) env.emplace(k, std::move(v));  // the process wins
  return env;
}

Result<Project> loadProject(const ProjectOptions& options) {
  BERTH_ASSIGN_OR_RETURN(Environment env, projectEnvironment(options));

  std::vector<std::string> files;
  for (const std::string& f : options.files) files.push_back(absolute(f, options.currentDirectory));
  if (files.empty()) {
    if (auto it = env.find("COMPOSE_FILE"); it != env.end() && !it->second.empty()) {
      std::string sep = ":";
      if (auto s = env.find("COMPOSE_PATH_SEPARATOR"); s != env.end() && !s->second.empty()) sep = s->second;
      const std::string base =
          options.projectDirectory ? initialWorkingDir(options) : options.currentDirectory;
      std::string rest = it->second;
      while (true) {
        const std::size_t pos = rest.find(sep);
        const std::string part = rest.substr(0, pos);
        if (!part.empty()) files.push_back(absolute(part, base));
        if (pos == std::string::npos) break;
        rest = rest.substr(pos + sep.size());
      }
    }
  }
  if (files.empty()) {
    // Search the project directory and its parents.
    for (fs::path dir = initialWorkingDir(options); !dir.empty(); dir = dir.parent_path()) {
      for (const char* name : kDefaultFiles) {
        if (isFile((dir / name).string())) {
          files.push_back((dir / name).string());
          break;
        }
      }
      if (!files.empty()) {
        for (const char* name : kDefaultOverrides) {
          if (isFile((dir / name).string())) {
            files.push_back((dir / name).string());
            break;
          }
        }
        break;
      }
      if (dir == dir.parent_path()) break;
    }
  }
  if (files.empty()) {
    return fail(ErrorCode::NotFound,
                "no configuration file provided: not found (looked for compose.yaml, compose.yml, "
                "docker-compose.yml, docker-compose.yaml in " +
                    initialWorkingDir(options) + " and its parents)");
  }
  for (const std::string& f : files) {
    if (!isFile(f)) return fail(ErrorCode::NotFound, "open " + f + ": no such file or directory");
  }

  ConfigDetails details;
  details.files = files;
  details.workingDir = options.projectDirectory
                           ? absolute(*options.projectDirectory, options.currentDirectory)
                           : dirOf(files.front());
  details.environment = env;
  if (options.projectName) {
    details.projectName = *options.projectName;
  } else if (auto it = env.find("COMPOSE_PROJECT_NAME"); it != env.end() && !it->second.empty()) {
    details.projectName = it->second;
  }
  details.defaultProjectName = normalizeProjectName(fs::path(details.workingDir).filename().string());

  LoadOptions loadOptions = options.load;
  if (options.profiles.empty() && loadOptions.profiles.empty()) {
    if (auto it = env.find("COMPOSE_PROFILES"); it != env.end()) {
      for (const std::string& p : split(it->second, ',')) {
        const std::string_view t = trim(p);
        if (!t.empty()) loadOptions.profiles.emplace_back(t);
      }
    }
  } else if (!options.profiles.empty()) {
    loadOptions.profiles = options.profiles;
  }
  return load(details, loadOptions);
}

}  // namespace berth::spec
