#include "fakes/fake_engine.h"

#include <fmt/core.h>

#include <algorithm>
#include <thread>

#include "base/strings.h"
#include "base/tar_writer.h"
#include "engine/image_reference.h"
#include "engine/json_codec.h"

namespace berth::fakes {

using namespace berth::engine;

struct FakeEngine::Container {
  ContainerInspect inspect;
  std::int64_t created = 0;
  int inspectsSinceStart = 0;
  std::map<std::string, std::string> files;
};

namespace {

bool isAnonymous(const std::string& name) { return name.size() == 64 && name.find('_') == std::string::npos; }

Error notFound(const std::string& address, const std::string& what) {
  return Error(ErrorCode::NotFound, "engine " + address + ": " + what);
}

// The entries of a ustar archive: name → content (regular files only).
std::map<std::string, std::string> untar(std::string_view tar) {
  std::map<std::string, std::string> out;
  std::size_t pos = 0;
  std::string paxPath;
  while (pos + 512 <= tar.size()) {
    const std::string_view h = tar.substr(pos, 512);
    if (h[0] == '\0') break;
    std::string name(h.substr(0, 100).data(), strnlen(h.substr(0, 100).data(), 100));
    const std::string prefix(h.substr(345, 155).data(), strnlen(h.substr(345, 155).data(), 155));
    if (!prefix.empty()) name = prefix + "/" + name;
    const std::size_t size = std::stoull(std::string(h.substr(124, 11)), nullptr, 8);
    const char type = h[156];
    const std::string body(tar.substr(pos + 512, size));
    if (type == 'x') {
      const auto p = body.find(" path=");
      if (p != std::string::npos) paxPath = body.substr(p + 6, body.find('\n', p) - p - 6);
    } else {
      if (!paxPath.empty()) name = paxPath;
      paxPath.clear();
      if (type == '0' || type == '\0') out[name] = body;
    }
    pos += 512 + (size + 511) / 512 * 512;
  }
  return out;
}

// --- The save tar: each image's inspect JSON (read back with the real decoder) and filler.

constexpr std::size_t kSavePiece = 8 * 1024;
constexpr std::size_t kLayerFiller = 40 * 1024;

std::string jsonString(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string jsonList(const std::vector<std::string>& items) {
  std::vector<std::string> texts;
  for (const auto& i : items) texts.push_back(jsonString(i));
  return "[" + join(texts, ",") + "]";
}

// {"80/tcp": {}, ...}: how the API spells a set.
std::string jsonSet(const std::vector<std::string>& keys) {
  std::vector<std::string> entries;
  for (const auto& k : keys) entries.push_back(jsonString(k) + ":{}");
  return "{" + join(entries, ",") + "}";
}

std::string jsonMap(const Labels& map) {
  std::vector<std::string> entries;
  for (const auto& [k, v] : map) entries.push_back(jsonString(k) + ":" + jsonString(v));
  return "{" + join(entries, ",") + "}";
}

std::string imageJson(const std::string& id, const std::vector<std::string>& tags, const ImageConfig& c) {
  std::string config = fmt::format(
      R"({{"User":{},"Env":{},"Cmd":{},"Entrypoint":{},"WorkingDir":{},"Labels":{},"ExposedPorts":{},)"
      R"("Volumes":{},"StopSignal":{})",
      jsonString(c.user), jsonList(c.env), jsonList(c.cmd), jsonList(c.entrypoint), jsonString(c.workingDir),
      jsonMap(c.labels), jsonSet(c.exposedPorts), jsonSet(c.volumes), jsonString(c.stopSignal));
  if (c.healthcheck) {
    const HealthConfig& h = *c.healthcheck;
    config += fmt::format(
        R"(,"Healthcheck":{{"Test":{},"Interval":{},"Timeout":{},"StartPeriod":{},"Retries":{}}})",
        jsonList(h.test), h.interval.count(), h.timeout.count(), h.startPeriod.count(), h.retries);
  }
  return fmt::format(R"({{"Id":{},"RepoTags":{},"Config":{}}}}})", jsonString(id), jsonList(tags), config);
}

}  // namespace

// A streamed load: keeps the pieces and loads them at finish().
class FakeEngine::Load final : public ImageLoad {
 public:
  Load(FakeEngine& engine, std::optional<std::pair<std::size_t, Error>> fault)
      : engine_(engine), fault_(std::move(fault)) {}

  Status write(std::string_view piece) override {
    if (failure_) return fail(*failure_);
    BERTH_CHECK(!finished_);
    if (cancelled_) return failWith(cancelled());
    if (piece.empty()) return ok();
    engine_.observeLoadPiece(piece);
    if (cancelled_) return failWith(cancelled());
    if (fault_ && tar_.size() + piece.size() > fault_->first) return failWith(fault_->second);
    tar_ += piece;
    return ok();
  }

  Result<std::vector<std::string>> finish() override {
    if (failure_) return fail(*failure_);
    BERTH_CHECK(!finished_);
    finished_ = true;
    if (cancelled_) return fail(cancelled());
    return engine_.finishLoad(tar_);
  }

  void cancel() override { cancelled_ = true; }

 private:
  Error cancelled() const {
    return Error(ErrorCode::Cancelled, "engine " + engine_.address_ + ": load images: cancelled");
  }
  Status failWith(Error e) {
    failure_ = std::move(e);
    return fail(*failure_);
  }

  FakeEngine& engine_;
  std::optional<std::pair<std::size_t, Error>> fault_;
  std::string tar_;
  std::optional<Error> failure_;
  bool finished_ = false;
  std::atomic<bool> cancelled_{false};
};

FakeEngine::FakeEngine() : FakeEngine("fake://engine") {}
FakeEngine::FakeEngine(std::string address) : address_(std::move(address)) {}
FakeEngine::~FakeEngine() = default;

std::string FakeEngine::newId() {
  std::string hex = fmt::format("{:016x}", nextId_++);
  std::string id;
  while (id.size() < 64) id += hex;
  return id.substr(0, 64);
}

std::optional<Error> FakeEngine::enter(const std::string& method, const std::string& target, bool mutating) {
  {
    std::lock_guard lock(mu_);
    calls_.emplace_back(target.empty() ? method : method + " " + target, mutating);
  }
  const int now = ++inFlight_;
  int seen = maxInFlight_.load();
  while (now > seen && !maxInFlight_.compare_exchange_weak(seen, now)) {
  }
  if (latency_.count() > 0) std::this_thread::sleep_for(latency_);
  std::lock_guard lock(mu_);
  if (auto it = failNext_.find(method); it != failNext_.end() && !it->second.empty()) {
    Error e = it->second.front();
    it->second.erase(it->second.begin());
    return e;
  }
  if (auto it = failOn_.find({method, target}); it != failOn_.end()) return it->second;
  return std::nullopt;
}

void FakeEngine::leave() { --inFlight_; }

namespace {
// Runs leave() at scope exit.
class InFlight {
 public:
  explicit InFlight(std::atomic<int>& counter) : counter_(counter) {}
  ~InFlight() { --counter_; }

 private:
  std::atomic<int>& counter_;
};
}  // namespace

#define FAKE_ENTER(method, target, mutating)                                   \
  std::string fakeTarget_ = (target);                                          \
  {                                                                            \
    std::lock_guard resolve(mu_);                                              \
    if (const Container* c = find(fakeTarget_)) fakeTarget_ = c->inspect.name; \
  }                                                                            \
  auto fault_ = enter(method, fakeTarget_, mutating);                          \
  InFlight inFlightGuard_(inFlight_);                                          \
  if (fault_) return fail(*fault_);                                            \
  std::lock_guard lock_(mu_)

// --- Setting up and looking

std::string FakeEngine::addImage(const std::string& ref, std::string id, const ImageConfig& config) {
  std::lock_guard lock(mu_);
  if (id.empty()) id = "sha256:" + newId();
  images_[normalizeImageReference(ref)] = Image{id, config};
  return id;
}

void FakeEngine::addToRegistry(const std::string& ref) {
  std::lock_guard lock(mu_);
  registry_.insert(normalizeImageReference(ref));
}

void FakeEngine::failStreamAfter(const std::string& method, std::size_t bytes, Error error) {
  std::lock_guard lock(mu_);
  failStreamAfter_[method].emplace_back(bytes, std::move(error));
}

void FakeEngine::onImageLoadPiece(std::function<void(std::string_view piece)> hook) {
  std::lock_guard lock(mu_);
  loadPieceHook_ = std::move(hook);
}

std::optional<std::pair<std::size_t, Error>> FakeEngine::takeStreamFault(const std::string& method) {
  auto it = failStreamAfter_.find(method);
  if (it == failStreamAfter_.end() || it->second.empty()) return std::nullopt;
  auto fault = std::move(it->second.front());
  it->second.erase(it->second.begin());
  return fault;
}

void FakeEngine::observeLoadPiece(std::string_view piece) {
  std::function<void(std::string_view)> hook;
  {
    std::lock_guard lock(mu_);
    hook = loadPieceHook_;
  }
  if (hook) hook(piece);
}

void FakeEngine::failNext(const std::string& method, Error error) {
  std::lock_guard lock(mu_);
  failNext_[method].push_back(std::move(error));
}

void FakeEngine::failOn(const std::string& method, const std::string& target, Error error) {
  std::lock_guard lock(mu_);
  failOn_.insert_or_assign({method, target}, std::move(error));
}

void FakeEngine::exitOnStart(const std::string& name, int code, std::string output) {
  std::lock_guard lock(mu_);
  exitOnStart_[name] = ExitScript{code, std::move(output)};
}

void FakeEngine::healthyAfter(const std::string& name, int inspects) {
  std::lock_guard lock(mu_);
  healthScript_[name] = {inspects, true};
}

void FakeEngine::unhealthyAfter(const std::string& name, int inspects) {
  std::lock_guard lock(mu_);
  healthScript_[name] = {inspects, false};
}

void FakeEngine::setLogs(const std::string& name, std::string output) {
  std::lock_guard lock(mu_);
  logs_[name] = std::move(output);
}

std::vector<std::string> FakeEngine::calls() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [c, m] : calls_) out.push_back(c);
  return out;
}

std::vector<std::string> FakeEngine::mutations() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [c, m] : calls_) {
    if (m) out.push_back(c);
  }
  return out;
}

void FakeEngine::clearCalls() {
  std::lock_guard lock(mu_);
  calls_.clear();
  maxInFlight_ = 0;
}

FakeEngine::Container* FakeEngine::find(const std::string& nameOrId) {
  if (nameOrId.empty()) return nullptr;
  if (auto it = containers_.find(nameOrId); it != containers_.end()) return it->second.get();
  for (auto& [id, c] : containers_) {
    if (c->inspect.name == nameOrId) return c.get();
  }
  if (nameOrId.size() >= 12) {
    for (auto& [id, c] : containers_) {
      if (startsWith(id, nameOrId)) return c.get();
    }
  }
  return nullptr;
}

const FakeEngine::Container* FakeEngine::find(const std::string& nameOrId) const {
  return const_cast<FakeEngine*>(this)->find(nameOrId);
}

std::optional<ContainerInspect> FakeEngine::container(const std::string& nameOrId) const {
  std::lock_guard lock(mu_);
  const Container* c = find(nameOrId);
  if (c == nullptr) return std::nullopt;
  return c->inspect;
}

std::vector<std::string> FakeEngine::containerNames() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [id, c] : containers_) out.push_back(c->inspect.name);
  std::sort(out.begin(), out.end());
  return out;
}

std::set<std::string> FakeEngine::networkNames() const {
  std::lock_guard lock(mu_);
  std::set<std::string> out;
  for (const auto& [name, n] : networks_) out.insert(name);
  return out;
}

std::set<std::string> FakeEngine::volumeNames() const {
  std::lock_guard lock(mu_);
  std::set<std::string> out;
  for (const auto& [name, v] : volumes_) out.insert(name);
  return out;
}

std::optional<std::string> FakeEngine::imageId(const std::string& ref) const {
  std::lock_guard lock(mu_);
  auto it = images_.find(normalizeImageReference(ref));
  if (it == images_.end()) return std::nullopt;
  return it->second.id;
}

std::map<std::string, std::string> FakeEngine::files(const std::string& container) const {
  std::lock_guard lock(mu_);
  const Container* c = find(container);
  return c == nullptr ? std::map<std::string, std::string>{} : c->files;
}

std::string FakeEngine::lastBuildContext() const {
  std::lock_guard lock(mu_);
  return lastBuildContext_;
}

bool FakeEngine::matches(const Labels& labels, const Filters& filters) const {
  if (auto it = filters.find("label"); it != filters.end()) {
    for (const std::string& f : it->second) {
      const auto eq = f.find('=');
      const std::string key = f.substr(0, eq);
      auto l = labels.find(key);
      if (l == labels.end()) return false;
      if (eq != std::string::npos && l->second != f.substr(eq + 1)) return false;
    }
  }
  return true;
}

Volume& FakeEngine::ensureVolume(const std::string& name, const Labels& labels) {
  auto it = volumes_.find(name);
  if (it != volumes_.end()) return it->second;
  Volume v;
  v.name = name;
  v.driver = "local";
  v.mountpoint = "/var/lib/docker/volumes/" + name + "/_data";
  v.labels = labels;
  v.scope = "local";
  return volumes_[name] = v;
}

// --- System

Result<ApiVersion> FakeEngine::apiVersion() { return ApiVersion{1, 41}; }

Result<PingResult> FakeEngine::ping() {
  FAKE_ENTER("ping", "", false);
  return PingResult{"1.41", "linux", false, "1"};
}

Result<EngineVersion> FakeEngine::version() {
  FAKE_ENTER("version", "", false);
  EngineVersion v;
  v.version = "20.10.24-fake";
  v.apiVersion = "1.41";
  return v;
}

Result<EngineInfo> FakeEngine::info() {
  FAKE_ENTER("info", "", false);
  EngineInfo i;
  i.name = "fake";
  i.containers = static_cast<int>(containers_.size());
  i.systemTime =
      std::chrono::time_point_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now()) + clockAhead_;
  return i;
}

// --- Images

Result<std::vector<ImageSummary>> FakeEngine::listImages(const ListImagesOptions& options) {
  FAKE_ENTER("listImages", "", false);
  std::vector<std::string> wanted;
  if (auto it = options.filters.find("reference"); it != options.filters.end()) {
    for (const std::string& r : it->second) wanted.push_back(normalizeImageReference(r));
  }
  std::map<std::string, ImageSummary> byId;
  for (const auto& [ref, img] : images_) {
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), ref) == wanted.end()) continue;
    ImageSummary& s = byId[img.id];
    s.id = img.id;
    s.repoTags.push_back(ref);
    s.size = 1000;
    s.labels = img.config.labels;
  }
  std::vector<ImageSummary> out;
  for (auto& [id, s] : byId) out.push_back(std::move(s));
  return out;
}

Result<ImageInspect> FakeEngine::inspectImage(const std::string& ref) {
  FAKE_ENTER("inspectImage", ref, false);
  for (const auto& [r, img] : images_) {
    if (r == normalizeImageReference(ref) || img.id == ref) {
      ImageInspect i;
      i.id = img.id;
      i.repoTags.push_back(r);
      i.config = img.config;
      i.size = 1000;
      return i;
    }
  }
  return fail(notFound(address_, "inspect image " + ref + ": No such image: " + ref + " (404)"));
}

Result<BuildResult> FakeEngine::buildImage(std::string_view contextTar, const BuildOptions& options,
                                           const ProgressFn& onProgress) {
  FAKE_ENTER("buildImage", options.tags.empty() ? std::string() : options.tags.front(), true);
  lastBuildContext_ = std::string(contextTar);
  const auto files = untar(contextTar);
  if (files.count(options.dockerfile) == 0) {
    return fail(
        ErrorCode::InvalidArgument,
        "engine " + address_ + ": build image: Cannot locate specified Dockerfile: " + options.dockerfile);
  }
  if (onProgress) onProgress("Step 1/1 : FROM scratch\n");
  const std::string id = "sha256:" + newId();
  for (const std::string& t : options.tags) images_[normalizeImageReference(t)] = Image{id, {}};
  return BuildResult{id, "Successfully built " + id.substr(7, 12) + "\n"};
}

Result<std::string> FakeEngine::importImage(std::string_view, const ImportImageOptions& options) {
  FAKE_ENTER("importImage", options.repo, true);
  const std::string id = "sha256:" + newId();
  if (!options.repo.empty()) {
    images_[normalizeImageReference(options.repo + ":" + (options.tag.empty() ? "latest" : options.tag))] = {
        id, {}};
  }
  return id;
}

Result<std::vector<std::string>> FakeEngine::loadImage(std::string_view tar) {
  FAKE_ENTER("loadImage", "", true);
  return loadTar(tar);
}

Result<std::unique_ptr<ImageLoad>> FakeEngine::beginImageLoad() {
  FAKE_ENTER("beginImageLoad", "", false);
  return std::unique_ptr<ImageLoad>(std::make_unique<Load>(*this, takeStreamFault("loadImage")));
}

Result<std::vector<std::string>> FakeEngine::finishLoad(std::string_view tar) {
  FAKE_ENTER("loadImage", "", true);
  return loadTar(tar);
}

Result<std::vector<std::string>> FakeEngine::loadTar(std::string_view tar) {
  // What dockerd says of an archive that is not a tar.
  const auto broken = [&] {
    return fail(ErrorCode::Internal, "engine " + address_ + ": load images: unexpected EOF (500)");
  };
  if (tar.size() < 1024 || tar.substr(257, 5) != "ustar") return broken();
  std::vector<std::pair<std::string, Image>> found;  // tag (or the ID, untagged) → image
  for (const auto& [name, content] : untar(tar)) {
    if (!endsWith(name, ".json") || name.find('/') != std::string::npos) continue;
    auto image = json::decodeImageInspect(content);
    if (!image || image->id.empty()) return broken();
    if (image->repoTags.empty()) found.emplace_back(image->id, Image{image->id, image->config});
    for (const auto& tag : image->repoTags) found.emplace_back(tag, Image{image->id, image->config});
  }
  if (found.empty()) {
    return fail(ErrorCode::Internal, "engine " + address_ + ": load images: no image in the archive (500)");
  }
  std::vector<std::string> loaded;
  for (auto& [ref, image] : found) {
    images_[startsWith(ref, "sha256:") ? ref : normalizeImageReference(ref)] = image;
    loaded.push_back(ref);
  }
  return loaded;
}

Result<std::string> FakeEngine::saveTar(const std::vector<std::string>& refs) {
  struct Saved {
    const Image* image;
    std::vector<std::string> tags;
  };
  std::vector<Saved> saved;
  for (const auto& ref : refs) {
    // Like dockerd: a tag travels with the image, an ID alone carries none.
    const bool byId = startsWith(ref, "sha256:");
    const Image* image = nullptr;
    for (const auto& [r, img] : images_) {
      if (byId ? img.id == ref : r == normalizeImageReference(ref)) {
        image = &img;
        break;
      }
    }
    if (image == nullptr) {
      return fail(
          notFound(address_, "save images " + join(refs, " ") + ": No such image: " + ref + " (404)"));
    }
    auto it =
        std::find_if(saved.begin(), saved.end(), [&](const Saved& s) { return s.image->id == image->id; });
    if (it == saved.end()) it = saved.insert(saved.end(), Saved{image, {}});
    const std::string tag = normalizeImageReference(ref);
    if (!byId && std::find(it->tags.begin(), it->tags.end(), tag) == it->tags.end()) it->tags.push_back(tag);
  }
  TarWriter tar;
  for (const auto& s : saved) {
    const std::string hex = s.image->id.substr(s.image->id.find(':') + 1);
    tar.addFile(hex + ".json", imageJson(s.image->id, s.tags, s.image->config));
    std::string filler;
    while (filler.size() < kLayerFiller) filler += s.image->id;
    filler.resize(kLayerFiller);
    tar.addFile(hex + "/layer.tar", filler);
  }
  return tar.finish();
}

Result<std::string> FakeEngine::saveImages(const std::vector<std::string>& refs) {
  std::string tar;
  BERTH_TRY(saveImagesTo(refs,
                         [&](std::string_view piece) {
                           tar += piece;
                           return true;
                         },
                         {}));
  return tar;
}

Status FakeEngine::saveImagesTo(const std::vector<std::string>& refs,
                                const std::function<bool(std::string_view piece)>& sink,
                                std::stop_token stop) {
  const std::string what = "save images " + join(refs, " ");
  // Not FAKE_ENTER: `sink` runs without the lock (it may load into this very engine).
  auto fault = enter("saveImages", join(refs, " "), false);
  InFlight inFlightGuard(inFlight_);
  if (fault) return fail(*fault);
  std::string tar;
  std::optional<std::pair<std::size_t, Error>> streamFault;
  {
    std::lock_guard lock(mu_);
    BERTH_ASSIGN_OR_RETURN(tar, saveTar(refs));
    streamFault = takeStreamFault("saveImages");
  }
  const std::size_t end = streamFault ? std::min(streamFault->first, tar.size()) : tar.size();
  const auto stopped = [&] {
    return fail(ErrorCode::Cancelled, "engine " + address_ + ": " + what + ": stopped");
  };
  for (std::size_t pos = 0; pos < end; pos += kSavePiece) {
    if (stop.stop_requested()) return stopped();
    if (!sink(std::string_view(tar).substr(pos, std::min(kSavePiece, end - pos)))) return stopped();
  }
  if (streamFault && streamFault->first < tar.size()) return fail(std::move(streamFault->second));
  return ok();
}

Status FakeEngine::pullImage(const std::string& ref, const std::string&, const ProgressFn& onProgress) {
  FAKE_ENTER("pullImage", ref, true);
  if (registry_.count(normalizeImageReference(ref)) == 0) {
    return fail(ErrorCode::Internal, "engine " + address_ + ": pull image " + ref +
                                         ": Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup "
                                         "registry-1.docker.io: no such host");
  }
  if (onProgress) onProgress("Pulling from library/" + ref);
  auto& img = images_[normalizeImageReference(ref)];
  if (img.id.empty()) img.id = "sha256:" + newId();
  return ok();
}

Status FakeEngine::tagImage(const std::string& source, const std::string& repo, const std::string& tag) {
  FAKE_ENTER("tagImage", source, true);
  for (const auto& [r, img] : images_) {
    if (r == normalizeImageReference(source) || img.id == source) {
      const Image copy = img;
      images_[normalizeImageReference(repo + ":" + (tag.empty() ? "latest" : tag))] = copy;
      return ok();
    }
  }
  return fail(notFound(address_, "tag image " + source + ": No such image (404)"));
}

Result<std::vector<ImageDeleteItem>> FakeEngine::removeImage(const std::string& ref,
                                                             const RemoveImageOptions& options) {
  FAKE_ENTER("removeImage", ref, true);
  auto it = images_.find(normalizeImageReference(ref));
  if (it == images_.end())
    return fail(notFound(address_, "remove image " + ref + ": No such image: " + ref + " (404)"));
  const std::string id = it->second.id;
  if (!options.force) {
    for (const auto& [cid, c] : containers_) {
      if (c->inspect.image == id) {
        return fail(ErrorCode::Conflict, "engine " + address_ + ": remove image " + ref +
                                             ": image is being used by container " + cid.substr(0, 12) +
                                             " (409)");
      }
    }
  }
  images_.erase(it);
  return std::vector<ImageDeleteItem>{{ref, id}};
}

// --- Containers

Result<ContainerCreated> FakeEngine::createContainer(const ContainerCreate& spec) {
  FAKE_ENTER("createContainer", spec.name, true);
  if (!spec.name.empty() && find(spec.name) != nullptr) {
    return fail(ErrorCode::Conflict, "engine " + address_ + ": create container " + spec.name +
                                         ": Conflict. The container name \"/" + spec.name +
                                         "\" is already in use (409)");
  }
  auto img = images_.find(normalizeImageReference(spec.config.image));
  if (img == images_.end()) {
    return fail(notFound(
        address_, "create container " + spec.name + ": No such image: " + spec.config.image + " (404)"));
  }
  const std::string& mode = spec.hostConfig.networkMode;
  if (startsWith(mode, "container:") && find(mode.substr(10)) == nullptr) {
    return fail(notFound(
        address_, "create container " + spec.name + ": No such container: " + mode.substr(10) + " (404)"));
  }
  for (const auto& [net, e] : spec.networks) {
    if (networks_.count(net) == 0 && net != "bridge" && net != "host" && net != "none") {
      return fail(
          notFound(address_, "create container " + spec.name + ": network " + net + " not found (404)"));
    }
  }
  auto c = std::make_unique<Container>();
  const std::string id = newId();
  ContainerInspect& i = c->inspect;
  i.id = id;
  i.name = spec.name.empty() ? "fake_" + id.substr(0, 8) : spec.name;
  i.image = img->second.id;
  i.config = spec.config;
  i.hostConfig = spec.hostConfig;
  if (startsWith(mode, "container:")) {
    // The engine resolves the owner's name to its ID when it creates the container.
    i.hostConfig.networkMode = "container:" + find(mode.substr(10))->inspect.id;
  }
  i.state.status = ContainerStatus::Created;
  c->created = static_cast<std::int64_t>(nextId_);
  std::set<std::string> targets;
  for (const Mount& m : spec.hostConfig.mounts) {
    targets.insert(m.target);
    MountPoint p;
    p.destination = m.target;
    p.rw = !m.readOnly;
    if (m.type == MountType::Volume) {
      p.type = "volume";
      p.name = m.source.empty() ? newId() : m.source;
      p.source = ensureVolume(p.name, {}).mountpoint;
      p.driver = "local";
    } else if (m.type == MountType::Bind) {
      p.type = "bind";
      p.source = m.source;
    } else {
      continue;
    }
    i.mounts.push_back(std::move(p));
  }
  for (const std::string& b : spec.hostConfig.binds) {
    const auto parts = split(b, ':');
    if (parts.size() < 2) continue;
    targets.insert(parts[1]);
    MountPoint p;
    p.destination = parts[1];
    if (startsWith(parts[0], "/")) {
      p.type = "bind";
      p.source = parts[0];
    } else {
      p.type = "volume";
      p.name = parts[0];
      p.source = ensureVolume(p.name, {}).mountpoint;
    }
    i.mounts.push_back(std::move(p));
  }
  for (const std::string& v : img->second.config.volumes) {
    if (targets.count(v) != 0) continue;
    MountPoint p;
    p.type = "volume";
    p.name = newId();
    p.source = ensureVolume(p.name, {}).mountpoint;
    p.destination = v;
    i.mounts.push_back(std::move(p));
  }
  for (const auto& [net, e] : spec.networks) {
    EndpointState s;
    s.settings = e;
    s.networkId = networks_.count(net) ? networks_[net].id : net;
    i.networkSettings.networks[net] = s;
  }
  if (spec.networks.empty() && (mode.empty() || mode == "bridge")) i.networkSettings.networks["bridge"] = {};
  containers_[id] = std::move(c);
  return ContainerCreated{id, {}};
}

Status FakeEngine::startContainer(const std::string& id) {
  FAKE_ENTER("startContainer", id, true);
  Container* c = find(id);
  if (c == nullptr)
    return fail(notFound(address_, "start container " + id + ": No such container: " + id + " (404)"));
  ContainerState& st = c->inspect.state;
  if (st.running) return ok();
  for (const auto& [net, e] : c->inspect.networkSettings.networks) {
    if (networks_.count(net) == 0 && net != "bridge" && net != "host" && net != "none") {
      return fail(notFound(address_, "start container " + id + ": network " + net + " not found (404)"));
    }
  }
  const std::string& mode = c->inspect.hostConfig.networkMode;
  if (startsWith(mode, "container:")) {
    const Container* owner = find(mode.substr(10));
    if (owner == nullptr || !owner->inspect.state.running) {
      return fail(ErrorCode::Internal, "engine " + address_ + ": start container " + id +
                                           ": cannot join network of a non running container (500)");
    }
  }
  st.status = ContainerStatus::Running;
  st.running = true;
  st.exitCode = 0;
  st.pid = 1000 + static_cast<int>(nextId_++);
  c->inspectsSinceStart = 0;
  std::optional<HealthConfig> hc = c->inspect.config.healthcheck;
  if (!hc) {
    for (const auto& [ref, img] : images_) {
      if (img.id == c->inspect.image && img.config.healthcheck) hc = img.config.healthcheck;
    }
  }
  if (hc && !hc->test.empty() && hc->test.front() != "NONE") {
    st.health = HealthState{HealthStatus::Starting, 0, {}};
  } else {
    st.health.reset();
  }
  if (auto it = exitOnStart_.find(c->inspect.name); it != exitOnStart_.end()) {
    st.status = ContainerStatus::Exited;
    st.running = false;
    st.exitCode = it->second.code;
    logs_[c->inspect.name] += it->second.output;
  }
  return ok();
}

Status FakeEngine::stopContainer(const std::string& id, std::optional<int>) {
  FAKE_ENTER("stopContainer", id, true);
  Container* c = find(id);
  if (c == nullptr)
    return fail(notFound(address_, "stop container " + id + ": No such container: " + id + " (404)"));
  ContainerState& st = c->inspect.state;
  if (st.running) {
    st.status = ContainerStatus::Exited;
    st.running = false;
    st.paused = false;
    st.exitCode = 0;
  }
  return ok();
}

Status FakeEngine::killContainer(const std::string& id, const std::string& signal) {
  FAKE_ENTER("killContainer", id, true);
  Container* c = find(id);
  if (c == nullptr)
    return fail(notFound(address_, "kill container " + id + ": No such container: " + id + " (404)"));
  ContainerState& st = c->inspect.state;
  if (!st.running) {
    return fail(ErrorCode::Conflict, "engine " + address_ + ": kill container " + id + ": Container " + id +
                                         " is not running (409)");
  }
  if (signal == "SIGKILL" || signal == "KILL" || signal == "9" || signal == "SIGTERM" || signal == "TERM") {
    st.status = ContainerStatus::Exited;
    st.running = false;
    st.exitCode = signal.find("TERM") != std::string::npos ? 143 : 137;
  }
  return ok();
}

Status FakeEngine::restartContainer(const std::string& id, std::optional<int>) {
  FAKE_ENTER("restartContainer", id, true);
  Container* c = find(id);
  if (c == nullptr)
    return fail(notFound(address_, "restart container " + id + ": No such container: " + id + " (404)"));
  c->inspect.state.status = ContainerStatus::Running;
  c->inspect.state.running = true;
  c->inspectsSinceStart = 0;
  if (c->inspect.state.health) c->inspect.state.health->status = HealthStatus::Starting;
  return ok();
}

Status FakeEngine::removeContainer(const std::string& id, const RemoveContainerOptions& options) {
  FAKE_ENTER("removeContainer", id, true);
  Container* c = find(id);
  if (c == nullptr)
    return fail(notFound(address_, "remove container " + id + ": No such container: " + id + " (404)"));
  if (c->inspect.state.running && !options.force) {
    return fail(ErrorCode::Conflict, "engine " + address_ + ": remove container " + id +
                                         ": You cannot remove a running container. Stop the container before "
                                         "attempting removal or force remove (409)");
  }
  const std::vector<MountPoint> mounts = c->inspect.mounts;
  containers_.erase(c->inspect.id);
  if (options.volumes) {
    for (const MountPoint& m : mounts) {
      if (m.type != "volume" || !isAnonymous(m.name)) continue;
      bool used = false;
      for (const auto& [cid, other] : containers_) {
        for (const MountPoint& om : other->inspect.mounts) used = used || om.name == m.name;
      }
      if (!used) volumes_.erase(m.name);
    }
  }
  return ok();
}

Result<ContainerInspect> FakeEngine::inspectContainer(const std::string& id) {
  FAKE_ENTER("inspectContainer", id, false);
  Container* c = find(id);
  if (c == nullptr)
    return fail(notFound(address_, "inspect container " + id + ": No such container: " + id + " (404)"));
  ContainerState& st = c->inspect.state;
  if (st.running && st.health && st.health->status == HealthStatus::Starting) {
    ++c->inspectsSinceStart;
    auto script = healthScript_.find(c->inspect.name);
    const int needed = script == healthScript_.end() ? 1 : script->second.first;
    const bool healthy = script == healthScript_.end() || script->second.second;
    if (c->inspectsSinceStart >= needed)
      st.health->status = healthy ? HealthStatus::Healthy : HealthStatus::Unhealthy;
  }
  return c->inspect;
}

ContainerSummary FakeEngine::summary(const Container& c) const {
  ContainerSummary s;
  s.id = c.inspect.id;
  s.names = {c.inspect.name};
  s.image = c.inspect.config.image;
  s.imageId = c.inspect.image;
  s.created = c.created;
  s.state = c.inspect.state.status;
  s.status = c.inspect.state.running ? "Up 1 second" : fmt::format("Exited ({})", c.inspect.state.exitCode);
  s.labels = c.inspect.config.labels;
  s.mounts = c.inspect.mounts;
  s.networks = c.inspect.networkSettings.networks;
  s.networkMode = c.inspect.hostConfig.networkMode;
  return s;
}

Result<std::vector<ContainerSummary>> FakeEngine::listContainers(const ListContainersOptions& options) {
  FAKE_ENTER("listContainers", "", false);
  std::vector<std::pair<std::int64_t, ContainerSummary>> out;
  for (const auto& [id, c] : containers_) {
    if (!options.all && !c->inspect.state.running) continue;
    if (!matches(c->inspect.config.labels, options.filters)) continue;
    if (auto it = options.filters.find("name"); it != options.filters.end()) {
      bool any = false;
      for (const std::string& n : it->second) any = any || c->inspect.name.find(n) != std::string::npos;
      if (!any) continue;
    }
    out.emplace_back(c->created, summary(*c));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<ContainerSummary> list;
  for (auto& [t, s] : out) list.push_back(std::move(s));
  return list;
}

Status FakeEngine::containerLogs(const std::string& id, const LogsOptions& options, const OutputSink& sink,
                                 std::stop_token) {
  FAKE_ENTER("containerLogs", id, false);
  const Container* c = find(id);
  if (c == nullptr) return fail(notFound(address_, "logs " + id + ": No such container (404)"));
  std::string text = logs_[c->inspect.name];
  if (options.tail != "all" && !options.tail.empty()) {
    const std::size_t n = std::stoul(options.tail);
    std::vector<std::string> lines = split(text, '\n');
    if (!lines.empty() && lines.back().empty()) lines.pop_back();
    if (lines.size() > n) lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(n));
    text.clear();
    for (const std::string& l : lines) text += l + "\n";
  }
  if (!text.empty()) sink(OutputStream::Stdout, text);
  return ok();
}

Result<WaitResult> FakeEngine::waitContainer(const std::string& id, WaitCondition,
                                             std::chrono::milliseconds) {
  FAKE_ENTER("waitContainer", id, false);
  const Container* c = find(id);
  if (c == nullptr) return fail(notFound(address_, "wait " + id + ": No such container (404)"));
  if (c->inspect.state.running)
    return fail(ErrorCode::DeadlineExceeded, "engine " + address_ + ": wait " + id + ": still running");
  return WaitResult{c->inspect.state.exitCode, {}};
}

Status FakeEngine::putArchive(const std::string& id, const std::string& path, std::string_view tar,
                              const PutArchiveOptions&) {
  FAKE_ENTER("putArchive", id, true);
  Container* c = find(id);
  if (c == nullptr) return fail(notFound(address_, "put archive " + id + ": No such container (404)"));
  for (auto& [name, content] : untar(tar)) {
    c->files[(path == "/" ? "/" : path + "/") + name] = content;
  }
  return ok();
}

Result<ArchiveResult> FakeEngine::getArchive(const std::string& id, const std::string&) {
  FAKE_ENTER("getArchive", id, false);
  return fail(ErrorCode::Internal, "getArchive: not supported by the fake engine");
}

Result<PathStat> FakeEngine::getArchiveTo(const std::string& id, const std::string&,
                                          const std::function<bool(std::string_view piece)>&, std::stop_token) {
  FAKE_ENTER("getArchiveTo", id, false);
  return fail(ErrorCode::Internal, "getArchiveTo: not supported by the fake engine");
}

Result<std::unique_ptr<engine::ArchiveUpload>> FakeEngine::beginPutArchive(const std::string& id, const std::string&,
                                                                           const PutArchiveOptions&) {
  FAKE_ENTER("beginPutArchive", id, false);
  return fail(ErrorCode::Internal, "beginPutArchive: not supported by the fake engine");
}

Result<PathStat> FakeEngine::statPath(const std::string& id, const std::string&) {
  FAKE_ENTER("statPath", id, false);
  return fail(ErrorCode::Internal, "statPath: not supported by the fake engine");
}

Result<ContainerStats> FakeEngine::containerStats(const std::string& id) {
  FAKE_ENTER("containerStats", id, false);
  return ContainerStats{};
}

Status FakeEngine::pauseContainer(const std::string& id) {
  FAKE_ENTER("pauseContainer", id, true);
  Container* c = find(id);
  if (c == nullptr) return fail(notFound(address_, "pause " + id + ": No such container (404)"));
  c->inspect.state.status = ContainerStatus::Paused;
  c->inspect.state.paused = true;
  return ok();
}

Status FakeEngine::unpauseContainer(const std::string& id) {
  FAKE_ENTER("unpauseContainer", id, true);
  Container* c = find(id);
  if (c == nullptr) return fail(notFound(address_, "unpause " + id + ": No such container (404)"));
  c->inspect.state.status = ContainerStatus::Running;
  c->inspect.state.paused = false;
  return ok();
}

Result<TopResult> FakeEngine::topContainer(const std::string& id, const std::string&) {
  FAKE_ENTER("topContainer", id, false);
  TopResult r;
  r.titles = {"UID", "PID", "CMD"};
  r.processes = {{"root", "1", "sleep 600"}};
  return r;
}

Status FakeEngine::renameContainer(const std::string& id, const std::string& newName) {
  FAKE_ENTER("renameContainer", id, true);
  Container* c = find(id);
  if (c == nullptr) return fail(notFound(address_, "rename " + id + ": No such container (404)"));
  if (find(newName) != nullptr) {
    return fail(ErrorCode::Conflict,
                "engine " + address_ + ": rename container " + id + ": name " + newName + " in use (409)");
  }
  c->inspect.name = newName;
  return ok();
}

Result<std::unique_ptr<AttachedStream>> FakeEngine::attachContainer(const std::string& id,
                                                                    const AttachOptions&) {
  FAKE_ENTER("attachContainer", id, false);
  return fail(ErrorCode::Internal, "attach: not supported by the fake engine");
}

Status FakeEngine::resizeContainerTty(const std::string& id, int, int) {
  FAKE_ENTER("resizeContainerTty", id, false);
  return ok();
}

// --- Networks

Result<std::string> FakeEngine::createNetwork(const NetworkCreate& spec) {
  FAKE_ENTER("createNetwork", spec.name, true);
  if (networks_.count(spec.name) != 0) {
    return fail(ErrorCode::Conflict, "engine " + address_ + ": create network " + spec.name +
                                         ": network with name " + spec.name + " already exists (409)");
  }
  Network n;
  n.id = newId();
  n.name = spec.name;
  n.driver = spec.driver.empty() ? "bridge" : spec.driver;
  n.internal = spec.internal;
  n.attachable = spec.attachable;
  n.labels = spec.labels;
  n.options = spec.options;
  n.ipam = spec.ipam;
  n.scope = "local";
  networks_[spec.name] = n;
  return n.id;
}

Result<Network> FakeEngine::inspectNetwork(const std::string& idOrName) {
  FAKE_ENTER("inspectNetwork", idOrName, false);
  for (const auto& [name, n] : networks_) {
    if (name == idOrName || n.id == idOrName) return n;
  }
  return fail(
      notFound(address_, "inspect network " + idOrName + ": network " + idOrName + " not found (404)"));
}

Result<std::vector<Network>> FakeEngine::listNetworks(const Filters& filters) {
  FAKE_ENTER("listNetworks", "", false);
  std::vector<Network> out;
  for (const auto& [name, n] : networks_) {
    if (!matches(n.labels, filters)) continue;
    if (auto it = filters.find("name"); it != filters.end()) {
      bool any = false;
      for (const std::string& f : it->second) any = any || name.find(f) != std::string::npos;
      if (!any) continue;
    }
    out.push_back(n);
  }
  return out;
}

Status FakeEngine::connectNetwork(const std::string& network, const std::string& container,
                                  const EndpointSettings& endpoint) {
  FAKE_ENTER("connectNetwork", network + " " + container, true);
  Container* c = find(container);
  if (c == nullptr) return fail(notFound(address_, "connect: No such container: " + container + " (404)"));
  auto n = networks_.find(network);
  if (n == networks_.end())
    return fail(notFound(address_, "connect: network " + network + " not found (404)"));
  EndpointState s;
  s.settings = endpoint;
  s.networkId = n->second.id;
  c->inspect.networkSettings.networks[network] = s;
  return ok();
}

Status FakeEngine::disconnectNetwork(const std::string& network, const std::string& container, bool) {
  FAKE_ENTER("disconnectNetwork", network + " " + container, true);
  Container* c = find(container);
  if (c == nullptr) return fail(notFound(address_, "disconnect: No such container: " + container + " (404)"));
  c->inspect.networkSettings.networks.erase(network);
  return ok();
}

Status FakeEngine::removeNetwork(const std::string& idOrName) {
  FAKE_ENTER("removeNetwork", idOrName, true);
  auto it = networks_.find(idOrName);
  if (it == networks_.end())
    return fail(notFound(address_, "remove network " + idOrName + ": network not found (404)"));
  for (const auto& [id, c] : containers_) {
    if (c->inspect.state.running && c->inspect.networkSettings.networks.count(idOrName) != 0) {
      return fail(ErrorCode::Conflict, "engine " + address_ + ": remove network " + idOrName +
                                           ": error while removing network: network " + idOrName +
                                           " has active endpoints (409)");
    }
  }
  networks_.erase(it);
  return ok();
}

// --- Volumes

Result<Volume> FakeEngine::createVolume(const VolumeCreate& spec) {
  FAKE_ENTER("createVolume", spec.name, true);
  const std::string name = spec.name.empty() ? newId() : spec.name;
  return ensureVolume(name, spec.labels);
}

Result<Volume> FakeEngine::inspectVolume(const std::string& name) {
  FAKE_ENTER("inspectVolume", name, false);
  auto it = volumes_.find(name);
  if (it == volumes_.end())
    return fail(notFound(address_, "inspect volume " + name + ": no such volume (404)"));
  return it->second;
}

Result<std::vector<Volume>> FakeEngine::listVolumes(const Filters& filters) {
  FAKE_ENTER("listVolumes", "", false);
  std::vector<Volume> out;
  for (const auto& [name, v] : volumes_) {
    if (matches(v.labels, filters)) out.push_back(v);
  }
  return out;
}

Result<std::vector<Volume>> FakeEngine::volumeUsage() {
  FAKE_ENTER("volumeUsage", "", false);
  return fail(ErrorCode::Internal, "volumeUsage: not supported by the fake engine");
}

Status FakeEngine::removeVolume(const std::string& name, bool) {
  FAKE_ENTER("removeVolume", name, true);
  auto it = volumes_.find(name);
  if (it == volumes_.end())
    return fail(notFound(address_, "remove volume " + name + ": no such volume (404)"));
  for (const auto& [id, c] : containers_) {
    for (const MountPoint& m : c->inspect.mounts) {
      if (m.name == name) {
        return fail(ErrorCode::Conflict, "engine " + address_ + ": remove volume " + name +
                                             ": volume is in use - [" + id.substr(0, 12) + "] (409)");
      }
    }
  }
  volumes_.erase(it);
  return ok();
}

// --- Exec and events

Result<std::string> FakeEngine::createExec(const std::string& container, const ExecCreate&) {
  FAKE_ENTER("createExec", container, true);
  return fail(ErrorCode::Internal, "exec: not supported by the fake engine");
}

Status FakeEngine::startExecDetached(const std::string& execId) {
  FAKE_ENTER("startExecDetached", execId, true);
  return fail(ErrorCode::Internal, "exec: not supported by the fake engine");
}

Result<std::unique_ptr<AttachedStream>> FakeEngine::startExecAttached(const std::string& execId, bool) {
  FAKE_ENTER("startExecAttached", execId, true);
  return fail(ErrorCode::Internal, "exec: not supported by the fake engine");
}

Result<ExecInspect> FakeEngine::inspectExec(const std::string& execId) {
  FAKE_ENTER("inspectExec", execId, false);
  return fail(ErrorCode::Internal, "exec: not supported by the fake engine");
}

Status FakeEngine::resizeExecTty(const std::string& execId, int, int) {
  FAKE_ENTER("resizeExecTty", execId, false);
  return ok();
}

Status FakeEngine::events(const EventsOptions&, const EventFn&, std::stop_token) {
  FAKE_ENTER("events", "", false);
  return ok();
}

}  // namespace berth::fakes
