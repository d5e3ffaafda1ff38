// File-system helpers with Result errors that name the path, and berth's own config directory.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "base/result.h"

namespace berth {

Result<std::string> readFile(const std::filesystem::path& path);
// Writes atomically (temp file + rename) with the given permission bits, so a crash never leaves a
// half-written key or inventory behind.
Status writeFileAtomic(const std::filesystem::path& path, std::string_view content,
                       std::filesystem::perms perms = std::filesystem::perms::owner_read |
                                                      std::filesystem::perms::owner_write);
// Creates `dir` (and parents) and makes it 0700.
Status ensurePrivateDir(const std::filesystem::path& dir);

// $XDG_CONFIG_HOME/berth, else $HOME/.config/berth. Not created; see ensurePrivateDir.
Result<std::filesystem::path> berthConfigDir();

}  // namespace berth
