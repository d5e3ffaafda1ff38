// Env files (`.env`, `--env-file`, a service's `env_file`, `label_file`) in compose's dotenv syntax:
// KEY=value, KEY: value, `export KEY=value`, single quotes (literal), double quotes (escapes such as
// \n and \t, and ${VAR} substitution), unquoted values with " #" comments, and a bare KEY that takes
// its value from the lookup when the lookup has it. A UTF-8 byte-order mark is skipped.
//
// Pure functions except readEnvFiles, which reads the named files.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "spec/interpolation.h"

namespace berth::spec {

using EnvMap = std::map<std::string, std::string>;

// Parses `content` into `out` (existing entries are overwritten). Substitutions look up `lookup`
// first and then the values already in `out`. `format` is "" or "dotenv" for the syntax above and
// "raw" for KEY=VALUE lines taken verbatim. Errors name the line:
// "line 7: key cannot contain a space", "line 2: unterminated quoted value \"abc".
Status parseEnvFile(std::string_view content, EnvMap& out, const Lookup& lookup,
                    std::string_view format = "");

// The project environment from env files, as `--env-file`/`.env` are read: files in order, later
// files override earlier ones; substitutions see `processEnv` first, then values of earlier files.
// The result holds only the files' variables. Errors: "failed to read FILE: ..." and
// "couldn't find env file: FILE".
Result<EnvMap> readEnvFiles(const std::vector<std::string>& paths, const EnvMap& processEnv);

}  // namespace berth::spec
