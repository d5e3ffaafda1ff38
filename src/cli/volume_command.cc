// `berth volume ls | backup | restore | move`: a project's volumes, and their data copied to a file,
// back from one, or to another engine — streamed through the engines' archive API (volumes/transfer.h).
// VOLUME is a key of the compose file's `volumes:` (its name on the engine is looked up) or, without
// a compose file or for another volume, the engine's name for it.
#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/files.h"
#include "base/strings.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/global_options.h"
#include "cli/project.h"
#include "cli/terminal.h"
#include "plan/translate.h"
#include "volumes/transfer.h"
#include "volumes/zstd_stream.h"

namespace berth::cli {
namespace {

namespace fs = std::filesystem;

struct VolumeFlags {
  std::string volume;
  std::string output;  // backup: FILE, or - for stdout
  std::string input;   // restore: FILE, or - for stdin
  std::string to;      // move: a registered host (or engine URL)
  bool force = false;
  bool noStop = false;
  bool keepSource = false;
  std::string format = "table";
};

// The engine's name for VOLUME, and how restore would create it (the project's labels).
struct VolumeTarget {
  std::string name;
  engine::VolumeCreate create;
};

VolumeTarget resolveVolume(const ProjectContext& ctx, const std::string& volume) {
  VolumeTarget t;
  t.name = volume;
  if (ctx.hasFile) {
    if (auto it = ctx.project.volumes.find(volume); it != ctx.project.volumes.end()) {
      if (it->second.external) {
        t.name = it->second.name;  // the project only uses it: restore creates it bare
      } else {
        t.create = plan::volumeSpec(ctx.project, it->first, it->second, clientVersion());
        t.name = t.create.name;
      }
    }
  }
  return t;
}

volumes::CopyOptions copyOptions(const VolumeFlags& f, std::stop_token stop) {
  volumes::CopyOptions o;
  o.stopWriters = !f.noStop;
  o.stop = stop;
  o.note = [](std::string_view text) { std::cerr << text << "\n"; };
  return o;
}

// As reportError, but an interrupted copy also says what it left behind.
int reportCopyError(const Error& error) {
  if (error.code() == ErrorCode::Cancelled) {
    std::cerr << "berth: interrupted: " << error.message() << "\n";
    return 130;
  }
  return reportError(error);
}

std::string sizeText(std::int64_t bytes) { return bytes < 0 ? "-" : humanSize(bytes); }

int runLs(const GlobalOptions& global, const VolumeFlags& f) {
  auto ctx = openProject(global, {.fileOptional = true, .projectOptional = true});
  if (!ctx) return reportError(ctx.error());
  auto rows = volumes::listProjectVolumes(*ctx->engine, ctx->project.name);
  if (!rows) return reportError(rows.error());
  if (f.format == "json") {
    for (const auto& r : *rows) {
      nlohmann::json j{{"Name", r.name}, {"Driver", r.driver}, {"Size", r.size}, {"Containers", r.containers}};
      std::cout << j.dump() << "\n";
    }
    return 0;
  }
  std::vector<std::vector<std::string>> cells{{"VOLUME", "DRIVER", "SIZE", "USED BY"}};
  for (const auto& r : *rows) {
    cells.push_back({r.name, r.driver, sizeText(r.size), r.containers.empty() ? "-" : join(r.containers, ", ")});
  }
  std::cout << table(cells);
  return 0;
}

// Writes to `path` through a temporary file renamed into place at the end, so that a failed or
// interrupted backup leaves no file that looks like one; "-" is stdout.
class BackupFile {
 public:
  static Result<BackupFile> open(const std::string& path) {
    BackupFile f;
    f.path_ = path;
    if (path == "-") {
      f.fd_ = STDOUT_FILENO;
      return f;
    }
    f.partial_ = path + ".partial";
    f.fd_ = ::open(f.partial_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (f.fd_ < 0) return fail(ErrorCode::InvalidArgument, fmt::format("{}: {}", f.partial_, std::strerror(errno)));
    return f;
  }
  BackupFile() = default;
  BackupFile(BackupFile&& o) noexcept { *this = std::move(o); }
  BackupFile& operator=(BackupFile&& o) noexcept {
    std::swap(fd_, o.fd_);
    std::swap(path_, o.path_);
    std::swap(partial_, o.partial_);
    std::swap(done_, o.done_);
    return *this;
  }
  ~BackupFile() {
    if (fd_ >= 0 && fd_ != STDOUT_FILENO) ::close(fd_);
    if (!done_ && !partial_.empty()) ::unlink(partial_.c_str());
  }

  Status write(std::string_view piece) {
    while (!piece.empty()) {
      const ssize_t n = ::write(fd_, piece.data(), piece.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail(ErrorCode::Unavailable, fmt::format("writing {}: {}", shown(), std::strerror(errno)));
      piece.remove_prefix(static_cast<std::size_t>(n));
    }
    return ok();
  }

  Status commit() {
    if (fd_ == STDOUT_FILENO) return ok();
    if (::fsync(fd_) != 0) return fail(ErrorCode::Unavailable, fmt::format("{}: {}", partial_, std::strerror(errno)));
    ::close(fd_);
    fd_ = -1;
    if (::rename(partial_.c_str(), path_.c_str()) != 0) {
      return fail(ErrorCode::Unavailable, fmt::format("{}: {}", path_, std::strerror(errno)));
    }
    done_ = true;
    return ok();
  }

  std::string shown() const { return path_ == "-" ? "stdout" : path_; }

 private:
  int fd_ = -1;
  std::string path_;
  std::string partial_;
  bool done_ = false;
};

int runBackup(const GlobalOptions& global, const VolumeFlags& f) {
  if (f.output.empty()) return reportError(Error(ErrorCode::InvalidArgument, "volume backup: -o FILE is required"));
  auto ctx = openProject(global, {.fileOptional = true, .projectOptional = true});
  if (!ctx) return reportError(ctx.error());
  const VolumeTarget volume = resolveVolume(*ctx, f.volume);
  auto file = BackupFile::open(f.output);
  if (!file) return reportError(file.error());
  std::stop_source cancel;
  InterruptWatcher watcher([&](int) { cancel.request_stop(); });
  const bool compress = f.output.ends_with(".zst");
  volumes::ZstdCompressor zstd([&](std::string_view piece) { return file->write(piece); });
  const volumes::ByteSink out = [&](std::string_view piece) -> Status {
    return compress ? zstd.write(piece) : file->write(piece);
  };
  auto done = volumes::backup(*ctx->engine, volume.name, out, copyOptions(f, cancel.get_token()));
  if (!done) return reportCopyError(done.error());
  if (compress) {
    if (Status s = zstd.finish(); !s) return reportError(s.error());
  }
  if (Status s = file->commit(); !s) return reportError(s.error());
  std::cerr << fmt::format("backed up volume {}: {} entries, {} of tar to {} (sha256 {})\n", volume.name,
                           done->entries, humanSize(static_cast<std::int64_t>(done->bytes)), file->shown(),
                           done->sha256);
  return 0;
}

// Reads a backup file (or stdin) in pieces, through zstd when it starts with zstd's magic number.
class BackupReader {
 public:
  static Result<std::unique_ptr<BackupReader>> open(const std::string& path) {
    auto r = std::unique_ptr<BackupReader>(new BackupReader());
    r->shown_ = path == "-" ? "stdin" : path;
    r->fd_ = path == "-" ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (r->fd_ < 0) return fail(ErrorCode::InvalidArgument, fmt::format("{}: {}", path, std::strerror(errno)));
    return r;
  }
  ~BackupReader() {
    if (fd_ > STDIN_FILENO) ::close(fd_);
  }

  // The next piece of the tar; empty at its end.
  Result<std::string_view> next() {
    while (true) {
      if (!decoded_.empty()) {
        piece_.swap(decoded_);
        decoded_.clear();
        return std::string_view(piece_);
      }
      if (ended_) return std::string_view();
      buffer_.resize(64 * 1024);
      const ssize_t n = ::read(fd_, buffer_.data(), buffer_.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail(ErrorCode::InvalidArgument, fmt::format("reading {}: {}", shown_, std::strerror(errno)));
      const std::string_view in(buffer_.data(), static_cast<std::size_t>(n));
      if (first_) {
        first_ = false;
        if (volumes::looksLikeZstd(in)) {
          zstd_ = std::make_unique<volumes::ZstdDecompressor>([this](std::string_view out) -> Status {
            decoded_.append(out);
            return ok();
          });
        }
      }
      if (n == 0) {
        ended_ = true;
        if (zstd_) {
          if (Status s = zstd_->finish(); !s) return fail(ErrorCode::InvalidArgument, fmt::format("{}: {}", shown_, s.error().message()));
        }
        continue;
      }
      if (!zstd_) {
        piece_.assign(in);
        return std::string_view(piece_);
      }
      if (Status s = zstd_->write(in); !s) {
        return fail(ErrorCode::InvalidArgument, fmt::format("{}: {}", shown_, s.error().message()));
      }
    }
  }

 private:
  BackupReader() = default;
  int fd_ = -1;
  std::string shown_;
  std::string buffer_;
  std::string piece_;
  std::string decoded_;
  std::unique_ptr<volumes::ZstdDecompressor> zstd_;
  bool first_ = true;
  bool ended_ = false;
};

int runRestore(const GlobalOptions& global, const VolumeFlags& f) {
  if (f.input.empty()) return reportError(Error(ErrorCode::InvalidArgument, "volume restore: -i FILE is required"));
  auto ctx = openProject(global, {.fileOptional = true, .projectOptional = true});
  if (!ctx) return reportError(ctx.error());
  const VolumeTarget volume = resolveVolume(*ctx, f.volume);
  auto reader = BackupReader::open(f.input);
  if (!reader) return reportError(reader.error());
  std::stop_source cancel;
  InterruptWatcher watcher([&](int) { cancel.request_stop(); });
  volumes::RestoreOptions o;
  static_cast<volumes::CopyOptions&>(o) = copyOptions(f, cancel.get_token());
  o.force = f.force;
  o.create = volume.create;
  auto done = volumes::restore(*ctx->engine, volume.name, [&] { return (*reader)->next(); }, o);
  if (!done) return reportCopyError(done.error());
  std::cerr << fmt::format("restored volume {}: {} entries, {} of tar (sha256 {})\n", volume.name, done->entries,
                           humanSize(static_cast<std::int64_t>(done->bytes)), done->sha256);
  return 0;
}

int runMove(const GlobalOptions& global, const VolumeFlags& f) {
  if (f.to.empty()) return reportError(Error(ErrorCode::InvalidArgument, "volume move: --to HOST is required"));
  auto ctx = openProject(global, {.fileOptional = true, .projectOptional = true});
  if (!ctx) return reportError(ctx.error());
  const VolumeTarget volume = resolveVolume(*ctx, f.volume);
  GlobalOptions targetOptions = global;
  targetOptions.host = f.to;
  auto target = selectedEngine(targetOptions);
  if (!target) return reportError(target.error());
  std::stop_source cancel;
  InterruptWatcher watcher([&](int) { cancel.request_stop(); });
  volumes::MoveOptions o;
  static_cast<volumes::CopyOptions&>(o) = copyOptions(f, cancel.get_token());
  o.keepSource = f.keepSource;
  o.targetName = fmt::format("host {} ({})", f.to, (*target)->address());
  auto done = volumes::move(*ctx->engine, **target, volume.name, o);
  if (!done) return reportCopyError(done.error());
  std::cerr << fmt::format("{} volume {} to {}: {} entries, {} of tar, checked (sha256 {})\n",
                           f.keepSource ? "copied" : "moved", volume.name, o.targetName, done->entries,
                           humanSize(static_cast<std::int64_t>(done->bytes)), done->sha256);
  return 0;
}

}  // namespace

void registerVolumeCommands(CLI::App& app, CommandContext& context) {
  auto f = std::make_shared<VolumeFlags>();
  CLI::App* volume = app.add_subcommand("volume", "Manage a project's volumes: list, back up, restore, move");
  volume->require_subcommand(1);

  CLI::App* ls = volume->add_subcommand("ls", "List the project's volumes with their size and users");
  ls->add_option("--format", f->format, "Format the output: table or json")->check(CLI::IsMember({"table", "json"}));
  ls->callback([&context, f] { context.exitCode = runLs(context.global, *f); });

  const auto noStop = [f](CLI::App* cmd) {
    cmd->add_flag("--no-stop", f->noStop,
                  "Copy while the containers that write to the volume keep running (the copy may be inconsistent)");
  };
  CLI::App* backup = volume->add_subcommand("backup", "Write a volume's files to a tar file (zstd when it ends in .zst)");
  backup->add_option("VOLUME", f->volume, "The volume (compose key or engine name)")->required();
  backup->add_option("-o,--output", f->output, "The file to write (- for stdout)")->required();
  noStop(backup);
  backup->callback([&context, f] { context.exitCode = runBackup(context.global, *f); });

  CLI::App* restore = volume->add_subcommand("restore", "Put a backup's files into a volume");
  restore->add_option("VOLUME", f->volume, "The volume (compose key or engine name)")->required();
  restore->add_option("-i,--input", f->input, "The backup to read (- for stdin; zstd is recognised)")->required();
  restore->add_flag("--force", f->force, "Extract over the files of a volume that is not empty");
  noStop(restore);
  restore->callback([&context, f] { context.exitCode = runRestore(context.global, *f); });

  CLI::App* move = volume->add_subcommand("move", "Move a volume to a registered host's engine, checked");
  move->add_option("VOLUME", f->volume, "The volume (compose key or engine name)")->required();
  move->add_option("--to", f->to, "The registered host (or engine URL) to move it to")->required();
  move->add_flag("--keep-source", f->keepSource, "Copy: leave the volume on the current engine too");
  noStop(move);
  move->callback([&context, f] { context.exitCode = runMove(context.global, *f); });
}

}  // namespace berth::cli
