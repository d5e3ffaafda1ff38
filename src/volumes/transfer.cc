#include "volumes/transfer.h"

#include <fmt/core.h>

#include <algorithm>
#include <memory>
#include <random>
#include <set>

#include "base/log.h"
#include "base/strings.h"
#include "base/tar_reader.h"
#include "base/tar_writer.h"
#include "pki/digest.h"
#include "plan/labels.h"

namespace berth::volumes {
namespace {

constexpr std::string_view kMountPath = "/volume";
constexpr std::string_view kHelperLabel = "io.berth.volume-helper";

void say(const CopyOptions& options, std::string_view text) {
  if (options.note) options.note(text);
}

// How messages name a container: its name, else its short ID.
std::string containerName(const engine::ContainerSummary& c) {
  return c.names.empty() ? c.id.substr(0, 12) : c.names.front();
}

// The helper image: one empty directory (the mount point) and a command that never runs.
Status ensureHelperImage(engine::Engine& engine) {
  auto found = engine.inspectImage(std::string(kHelperImage));
  if (found) return ok();
  if (found.error().code() != ErrorCode::NotFound) return fail(found.error());
  TarWriter rootfs;
  rootfs.addDirectory("volume", 0755);
  engine::ImportImageOptions options;
  const auto colon = kHelperImage.find(':');
  options.repo = std::string(kHelperImage.substr(0, colon));
  options.tag = std::string(kHelperImage.substr(colon + 1));
  options.message = "berth: holds a volume for backup, restore and move";
  options.changes = {"CMD [\"/volume-helper-never-runs\"]", fmt::format("LABEL {}=1", kHelperLabel)};
  BERTH_TRY(engine.importImage(rootfs.finish(), options));
  return ok();
}

// A created, never started container that holds `volume` at /volume; removed when destroyed.
class Helper {
 public:
  static Result<std::unique_ptr<Helper>> create(engine::Engine& engine, const std::string& volume, bool readOnly) {
    engine::ContainerCreate spec;
    spec.name = fmt::format("berth-volume-{}-{:08x}", volume, static_cast<unsigned>(std::random_device{}()));
    spec.config.image = std::string(kHelperImage);
    spec.config.labels[std::string(kHelperLabel)] = volume;
    spec.hostConfig.networkMode = "none";
    engine::Mount mount;
    mount.type = engine::MountType::Volume;
    mount.source = volume;
    mount.target = std::string(kMountPath);
    mount.readOnly = readOnly;
    spec.hostConfig.mounts.push_back(mount);
    BERTH_ASSIGN_OR_RETURN(auto created, engine.createContainer(spec));
    return std::unique_ptr<Helper>(new Helper(engine, created.id));
  }
  ~Helper() {
    if (auto s = engine_.removeContainer(id_, {.force = true, .volumes = false}); !s) {
      log::warn("could not remove the volume helper container {}: {}", id_, s.error().message());
    }
  }
  Helper(const Helper&) = delete;
  Helper& operator=(const Helper&) = delete;
  const std::string& id() const { return id_; }

 private:
  Helper(engine::Engine& engine, std::string id) : engine_(engine), id_(std::move(id)) {}
  engine::Engine& engine_;
  std::string id_;
};

// The running containers that mount `volume` read-write, stopped for a copy and started again
// when this goes (also when the copy failed).
class StoppedWriters {
 public:
  static Result<std::unique_ptr<StoppedWriters>> stop(engine::Engine& engine, const std::string& volume,
                                                      const CopyOptions& options) {
    auto stopped = std::unique_ptr<StoppedWriters>(new StoppedWriters(engine, options));
    engine::ListContainersOptions list;
    list.filters = {{"volume", {volume}}};
    BERTH_ASSIGN_OR_RETURN(auto running, engine.listContainers(list));
    for (const engine::ContainerSummary& c : running) {
      const bool writes = std::any_of(c.mounts.begin(), c.mounts.end(), [&](const engine::MountPoint& m) {
        return m.type == "volume" && m.name == volume && m.rw;
      });
      if (!writes) continue;
      const std::string name = containerName(c);
      if (!options.stopWriters) {
        say(options, fmt::format("warning: {} writes to volume {} while it is copied (--no-stop): the copy may "
                                 "not be consistent",
                                 name, volume));
        continue;
      }
      say(options, fmt::format("stopping {} (it writes to volume {}) for the copy", name, volume));
      BERTH_TRY(engine.stopContainer(c.id, std::nullopt));
      stopped->containers_.push_back({c.id, name});
    }
    return stopped;
  }
  ~StoppedWriters() {
    for (const auto& [id, name] : containers_) {
      say(options_, fmt::format("starting {} again", name));
      if (auto s = engine_.startContainer(id); !s) {
        say(options_, fmt::format("warning: could not start {} again: {}", name, s.error().message()));
      }
    }
  }
  StoppedWriters(const StoppedWriters&) = delete;
  StoppedWriters& operator=(const StoppedWriters&) = delete;

 private:
  StoppedWriters(engine::Engine& engine, const CopyOptions& options) : engine_(engine), options_(options) {}
  engine::Engine& engine_;
  const CopyOptions& options_;
  std::vector<std::pair<std::string, std::string>> containers_;  // ID, name
};

bool underVolume(std::string_view path) {
  return path == "volume" || path == "volume/" || startsWith(path, "volume/");
}

// Whether the volume the helper holds has any file (reads the archive up to its second entry).
Result<bool> holdsFiles(engine::Engine& engine, const std::string& helper) {
  bool any = false;
  TarReader reader([&](const TarEntry& e) -> Status {
    if (e.path != "volume" && e.path != "volume/") any = true;
    return ok();
  });
  auto listed = engine.getArchiveTo(
      helper, std::string(kMountPath), [&](std::string_view piece) { return reader.feed(piece) && !any; }, {});
  if (any) return true;
  if (!listed) return fail(listed.error());
  return false;
}

// The volume's users on `engine` (any state), by name.
Result<std::vector<std::string>> usersOf(engine::Engine& engine, const std::string& volume) {
  engine::ListContainersOptions list;
  list.all = true;
  list.filters = {{"volume", {volume}}};
  BERTH_ASSIGN_OR_RETURN(auto containers, engine.listContainers(list));
  std::vector<std::string> names;
  for (const auto& c : containers) {
    if (c.labels.count(std::string(kHelperLabel)) != 0) continue;
    names.push_back(containerName(c));
  }
  return names;
}

Result<engine::Volume> inspect(engine::Engine& engine, const std::string& volume) {
  auto v = engine.inspectVolume(volume);
  if (!v && v.error().code() == ErrorCode::NotFound) {
    return fail(ErrorCode::NotFound, fmt::format("no volume {} on engine {}", volume, engine.address()));
  }
  return v;
}

engine::VolumeCreate sameAs(const engine::Volume& v) {
  engine::VolumeCreate create;
  create.name = v.name;
  create.driver = v.driver;
  create.driverOpts = v.options;
  create.labels = v.labels;
  return create;
}

// Reads the tar of the volume `helper` holds and hands each piece to `out`, checking the tar's
// framing as it passes and hashing it: what backup and move send on.
Result<CopyResult> readArchive(engine::Engine& engine, const std::string& helper, const std::string& volume,
                               const ByteSink& out, std::stop_token stop) {
  CopyResult result;
  pki::Sha256 sha;
  std::optional<Error> failure;
  TarReader reader;
  auto copied = engine.getArchiveTo(
      helper, std::string(kMountPath),
      [&](std::string_view piece) {
        if (auto s = reader.feed(piece); !s) {
          failure = Error(ErrorCode::Internal,
                          fmt::format("engine {} sent a broken archive of volume {}: {}", engine.address(), volume,
                                      s.error().message()));
          return false;
        }
        sha.update(piece);
        result.bytes += piece.size();
        if (auto s = out(piece); !s) {
          failure = s.error();
          return false;
        }
        return true;
      },
      stop);
  if (failure) return fail(*failure);
  if (!copied) return fail(copied.error());
  BERTH_TRY(reader.finish());
  result.entries = reader.entries();
  result.sha256 = sha.hex();
  return result;
}

}  // namespace

Result<CopyResult> backup(engine::Engine& engine, const std::string& volume, const ByteSink& out,
                          const CopyOptions& options) {
  BERTH_TRY(inspect(engine, volume));
  BERTH_TRY(ensureHelperImage(engine));
  BERTH_ASSIGN_OR_RETURN(auto writers, StoppedWriters::stop(engine, volume, options));
  BERTH_ASSIGN_OR_RETURN(auto helper, Helper::create(engine, volume, true));
  return readArchive(engine, helper->id(), volume, out, options.stop);
}

Result<CopyResult> restore(engine::Engine& engine, const std::string& volume, const ByteSource& in,
                           const RestoreOptions& options) {
  engine::Volume props;
  bool created = false;
  if (auto v = engine.inspectVolume(volume)) {
    props = std::move(*v);
  } else if (v.error().code() == ErrorCode::NotFound) {
    engine::VolumeCreate create = options.create;
    create.name = volume;
    BERTH_ASSIGN_OR_RETURN(props, engine.createVolume(create));
    created = true;
    say(options, fmt::format("created volume {}", volume));
  } else {
    return fail(v.error());
  }
  BERTH_TRY(ensureHelperImage(engine));
  BERTH_ASSIGN_OR_RETURN(auto writers, StoppedWriters::stop(engine, volume, options));
  BERTH_ASSIGN_OR_RETURN(auto helper, Helper::create(engine, volume, false));
  bool wasEmpty = created;
  if (!created) {
    BERTH_ASSIGN_OR_RETURN(const bool holds, holdsFiles(engine, helper->id()));
    wasEmpty = !holds;
    if (holds && !options.force) {
      return fail(ErrorCode::Conflict,
                  fmt::format("volume {} on engine {} is not empty: restore into an empty volume, or pass --force "
                              "to extract the backup over its files",
                              volume, engine.address()));
    }
  }
  engine::PutArchiveOptions put;
  put.copyUidGid = true;  // the owners the backup recorded, not root
  BERTH_ASSIGN_OR_RETURN(auto upload, engine.beginPutArchive(helper->id(), "/", put));
  // Ctrl-C also ends a write that waits for the engine.
  std::optional<std::stop_callback<std::function<void()>>> interrupt;
  interrupt.emplace(options.stop, std::function<void()>([&upload] { upload->cancel(); }));

  // Whatever fails from here, a volume that was empty is made empty again (removed and made anew
  // with the same driver, options and labels): a half-restored volume would look like data.
  const auto undo = [&](Error error) -> Result<CopyResult> {
    // The upload's connection closes first: the engine holds the helper while the request is open.
    interrupt.reset();
    upload->cancel();
    upload.reset();
    helper.reset();
    if (!wasEmpty) {
      return fail(error.code(), fmt::format("{} (volume {} was not empty before --force: it may now hold part of "
                                            "the backup)",
                                            error.message(), volume));
    }
    if (auto removed = engine.removeVolume(volume, false); !removed) {
      return fail(error.code(), fmt::format("{} (and volume {} could not be emptied again: {})", error.message(),
                                            volume, removed.error().message()));
    }
    if (!created) {
      if (auto again = engine.createVolume(sameAs(props)); !again) {
        return fail(error.code(), fmt::format("{} (and volume {} could not be made again: {})", error.message(),
                                              volume, again.error().message()));
      }
    }
    return fail(std::move(error));
  };

  TarReader reader([&](const TarEntry& e) -> Status {
    if (!underVolume(e.path)) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("not a volume backup of berth's: the entry {} is not under volume/", e.path));
    }
    return ok();
  });
  CopyResult result;
  pki::Sha256 sha;
  while (true) {
    if (options.stop.stop_requested()) return undo(Error(ErrorCode::Cancelled, "interrupted"));
    auto piece = in();
    if (!piece) return undo(std::move(piece).error());
    if (piece->empty()) break;
    if (auto s = reader.feed(*piece); !s) return undo(std::move(s).error());
    sha.update(*piece);
    result.bytes += piece->size();
    if (auto s = upload->write(*piece); !s) return undo(std::move(s).error());
  }
  if (auto s = reader.finish(); !s) return undo(std::move(s).error());
  if (auto s = upload->finish(); !s) return undo(std::move(s).error());
  result.entries = reader.entries();
  result.sha256 = sha.hex();
  return result;
}

Result<CopyResult> move(engine::Engine& from, engine::Engine& to, const std::string& volume,
                        const MoveOptions& options) {
  const std::string target = options.targetName.empty() ? "engine " + to.address() : options.targetName;
  BERTH_ASSIGN_OR_RETURN(const engine::Volume source, inspect(from, volume));
  if (auto existing = to.inspectVolume(volume)) {
    return fail(ErrorCode::Conflict,
                fmt::format("{} already has a volume {}: remove it there first", target, volume));
  } else if (existing.error().code() != ErrorCode::NotFound) {
    return fail(existing.error());
  }
  if (!options.keepSource) {
    BERTH_ASSIGN_OR_RETURN(auto users, usersOf(from, volume));
    if (!users.empty()) {
      return fail(ErrorCode::Conflict,
                  fmt::format("volume {} is used by {} on engine {}: remove the containers first (berth down "
                              "keeps volumes), or copy with --keep-source",
                              volume, join(users, ", "), from.address()));
    }
  }
  BERTH_TRY(ensureHelperImage(from));
  BERTH_TRY(ensureHelperImage(to));
  BERTH_ASSIGN_OR_RETURN(auto writers, StoppedWriters::stop(from, volume, options));
  BERTH_ASSIGN_OR_RETURN(auto sourceHelper, Helper::create(from, volume, true));
  BERTH_TRY(to.createVolume(sameAs(source)));

  std::unique_ptr<Helper> targetHelper;
  std::unique_ptr<engine::ArchiveUpload> upload;
  std::optional<std::stop_callback<std::function<void()>>> interrupt;
  // Whatever fails from here, the target volume goes; the source was only read.
  const auto undo = [&](Error error) -> Result<CopyResult> {
    // The upload's connection closes first: the engine holds the helper while the request is open.
    interrupt.reset();
    if (upload) upload->cancel();
    upload.reset();
    targetHelper.reset();
    if (auto removed = to.removeVolume(volume, true); !removed) {
      return fail(error.code(), fmt::format("{} (and the partial copy, volume {} on {}, could not be removed: {})",
                                            error.message(), volume, target, removed.error().message()));
    }
    return fail(error.code(), fmt::format("{} (nothing changed: the partial copy on {} was removed)",
                                          error.message(), target));
  };
  auto made = Helper::create(to, volume, false);
  if (!made) return undo(std::move(made).error());
  targetHelper = std::move(*made);

  engine::PutArchiveOptions put;
  put.copyUidGid = true;
  auto begun = to.beginPutArchive(targetHelper->id(), "/", put);
  if (!begun) return undo(std::move(begun).error());
  upload = std::move(*begun);
  // Ctrl-C also ends a write that waits for the target engine.
  interrupt.emplace(options.stop, std::function<void()>([&upload] { upload->cancel(); }));
  auto sent = readArchive(
      from, sourceHelper->id(), volume, [&](std::string_view piece) { return upload->write(piece); }, options.stop);
  if (!sent) return undo(std::move(sent).error());
  CopyResult result = *sent;
  if (auto s = upload->finish(); !s) return undo(std::move(s).error());
  interrupt.reset();
  upload.reset();

  // The check: the target gives back the same stream, byte for byte.
  pki::Sha256 back;
  auto reread = to.getArchiveTo(
      targetHelper->id(), std::string(kMountPath),
      [&](std::string_view piece) {
        back.update(piece);
        return true;
      },
      options.stop);
  if (!reread) return undo(std::move(reread).error());
  if (options.stop.stop_requested()) return undo(Error(ErrorCode::Cancelled, "interrupted"));
  const std::string received = back.hex();
  if (received != result.sha256) {
    return undo(Error(ErrorCode::Internal,
                      fmt::format("the copy of volume {} on {} differs from the source (SHA-256 {} sent, {} read "
                                  "back)",
                                  volume, target, result.sha256, received)));
  }
  targetHelper.reset();
  sourceHelper.reset();
  writers.reset();
  if (!options.keepSource) {
    if (auto removed = from.removeVolume(volume, false); !removed) {
      return fail(removed.error().code(),
                  fmt::format("volume {} was copied to {} and checked, but the source could not be removed: {}",
                              volume, target, removed.error().message()));
    }
  }
  return result;
}

Result<std::vector<VolumeRow>> listProjectVolumes(engine::Engine& engine, const std::string& project) {
  engine::Filters filters;
  if (!project.empty()) filters = {{"label", {fmt::format("{}={}", plan::labels::kProject, project)}}};
  BERTH_ASSIGN_OR_RETURN(auto volumes, engine.listVolumes(filters));
  std::map<std::string, std::int64_t> sizes;
  if (!volumes.empty()) {
    BERTH_ASSIGN_OR_RETURN(auto usage, engine.volumeUsage());
    for (const auto& v : usage) {
      if (v.usage) sizes[v.name] = v.usage->size;
    }
  }
  engine::ListContainersOptions list;
  list.all = true;
  BERTH_ASSIGN_OR_RETURN(auto containers, engine.listContainers(list));
  std::vector<VolumeRow> rows;
  for (const auto& v : volumes) {
    VolumeRow row;
    row.name = v.name;
    row.driver = v.driver;
    if (auto it = sizes.find(v.name); it != sizes.end()) row.size = it->second;
    for (const auto& c : containers) {
      if (c.labels.count(std::string(kHelperLabel)) != 0) continue;
      for (const auto& m : c.mounts) {
        if (m.type == "volume" && m.name == v.name) {
          row.containers.push_back(containerName(c));
          break;
        }
      }
    }
    std::sort(row.containers.begin(), row.containers.end());
    rows.push_back(std::move(row));
  }
  std::sort(rows.begin(), rows.end(), [](const VolumeRow& a, const VolumeRow& b) { return a.name < b.name; });
  return rows;
}

}  // namespace berth::volumes
