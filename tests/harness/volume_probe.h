// What a volume holds, seen from inside a container: runs a shell script in a throwaway busybox
// container with the volume at /data (the volume tests compare what backup, restore and move leave
// with what was there), and the script that lists every path's type, mode, owner, link count, size,
// mtime, link target and SHA-256.
#pragma once

#include <string>

#include "base/result.h"
#include "engine/engine.h"

namespace berth::testing {

// Every path under /data, one line each, sorted.
extern const char* const kVolumeManifestScript;

// The script's stdout. Errors: the engine's, or the script's non-zero exit (with its output).
Result<std::string> runInVolume(engine::Engine& engine, const std::string& volume, const std::string& script);

}  // namespace berth::testing
