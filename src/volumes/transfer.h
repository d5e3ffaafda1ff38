// Volumes: backup, restore, move — a volume's files streamed through the engine's archive API.
//
// Every copy goes through a helper container that only holds the volume: created from a tiny local
// image (one empty directory, imported once per engine: no registry, no tar inside), never started,
// the volume mounted at /volume. GET /containers/{id}/archive?path=/volume streams the volume's
// files as a tar whose entries are `volume/...`; a PUT of such a tar at / puts them back, owners
// and modes included. Nothing is staged on disk or held in memory: bytes flow from one engine (or
// file) to the other (or file) in pieces of at most 64 KiB.
//
// Consistency: containers that run with the volume mounted read-write are stopped for the copy and
// started again afterwards (unless `stopWriters` is off: the copy is then of a live volume).
//
// Thread-safety: functions run on the caller's thread; the engines must not be used by another
// thread for the same volume meanwhile.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "engine/engine.h"
#include "volumes/zstd_stream.h"

namespace berth::volumes {

// Produces a stream's bytes: each call returns the next piece, an empty piece at the end.
using ByteSource = std::function<Result<std::string_view>()>;

struct CopyOptions {
  bool stopWriters = true;
  // Ends the copy early (Ctrl-C): the copy then fails with Cancelled and cleans up as for any failure.
  std::stop_token stop{};
  // What berth does on the user's behalf ("stopping p-db-1"), and warnings.
  std::function<void(std::string_view)> note{};
};

struct CopyResult {
  std::uint64_t bytes = 0;    // of the tar stream
  std::uint64_t entries = 0;  // files, directories, links
  std::string sha256{};       // of the tar stream, hex
};

// Streams the files of `volume` as a tar (entries under volume/) to `out`.
// Errors: NotFound (no such volume, naming the engine), the engine's and `out`'s.
Result<CopyResult> backup(engine::Engine& engine, const std::string& volume, const ByteSink& out,
                          const CopyOptions& options);

struct RestoreOptions : CopyOptions {
  bool force = false;  // extract over the files of a volume that is not empty
  // For a volume restore creates because it does not exist (a compose project's labels).
  engine::VolumeCreate create{};
};

// Puts the tar that `in` yields (as backup() writes it) into `volume`, creating the volume when it
// does not exist. Refuses (Conflict) a volume that holds files unless `force`. The stream is checked
// as it passes (tar framing, checksums, every entry under volume/): a corrupt or truncated backup
// fails with InvalidArgument, and a volume that was empty before is left empty again.
Result<CopyResult> restore(engine::Engine& engine, const std::string& volume, const ByteSource& in,
                           const RestoreOptions& options);

struct MoveOptions : CopyOptions {
  bool keepSource = false;  // copy: the source volume stays
  std::string targetName{};  // how messages name the target ("host web-2")
};

// Copies `volume` from `from` to a new volume of the same name, driver, options and labels on `to`,
// streamed engine to engine, then checks the copy (the SHA-256 of the tar the target gives back
// equals the one sent) and removes the source volume unless `keepSource`. The target must not
// have a volume of that name (Conflict); unless `keepSource`, no container on the source may use
// the volume (Conflict, naming them). Whatever fails, the source is untouched and the target volume
// removed.
Result<CopyResult> move(engine::Engine& from, engine::Engine& to, const std::string& volume,
                        const MoveOptions& options);

// A volume as `berth volume ls` shows it.
struct VolumeRow {
  std::string name{};
  std::string driver{};
  std::int64_t size = -1;  // bytes; -1: the engine did not say
  std::vector<std::string> containers{};  // names of the containers that mount it
};

// The volumes labelled as `project`'s (com.docker.compose.project), with sizes and users; every
// volume of the engine when `project` is empty.
Result<std::vector<VolumeRow>> listProjectVolumes(engine::Engine& engine, const std::string& project);

// The helper image's reference (local only; made by import on first use).
inline constexpr std::string_view kHelperImage = "berth-volume-helper:1";

}  // namespace berth::volumes
