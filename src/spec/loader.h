// Loading compose files into the canonical model (model.h), exactly as `docker compose` v2 reads
// them: file discovery, project name, .env / --env-file, interpolation, multi-file merge with
// !reset/!override, extends, include, profiles, validation, normalization and consistency checks.
//
// Two levels:
//   loadProject(ProjectOptions) — what the CLI does: -f / COMPOSE_FILE / default file discovery,
//     --project-directory, -p / COMPOSE_PROJECT_NAME, --env-file / .env, --profile /
//     COMPOSE_PROFILES.
//   load(ConfigDetails, LoadOptions) — the loader proper: these files, this environment.
//
// The loader never reads the process environment or the current directory by itself; callers pass
// them in (main() does, tests pass fixed values). It reads the compose files and the files they
// reference (env files, label files, extends/include targets).
//
// Errors: ErrorCode::InvalidArgument for anything wrong in the files, one problem per line, each
// "FILE:LINE:COLUMN: KEY.PATH: what is wrong" (several problems are reported together);
// ErrorCode::NotFound when a file does not exist. Blocks on file reads only; thread-compatible.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "spec/model.h"

namespace berth::spec {

using Environment = std::map<std::string, std::string>;

struct LoadOptions {
  bool interpolate = true;                    // --no-interpolate: keep ${VAR} as written
  bool normalize = true;                      // --no-normalize: no default network, resource names, implicit
                                              // dependencies, build defaults
  bool resolvePaths = true;                   // --no-path-resolution: keep relative paths relative
  bool consistency = true;                    // --no-consistency: skip cross-reference checks
  bool resolveEnvironment = true;             // --no-env-resolution: do not merge env_file into environment
  bool validate = true;                       // unknown keys are errors
  bool discardEnvFiles = false;               // drop env_file once merged into environment (`config` does)
  std::vector<std::string> profiles;          // active profiles; "*" enables all
  std::vector<std::string> selectedServices;  // keep only these and their dependencies, enabling
                                              // their profiles
};

struct ConfigDetails {
  std::vector<std::string> files;  // in merge order; relative paths are relative to workingDir
  std::string workingDir;          // absolute project directory
  Environment environment;         // everything interpolation may see (HOME too, for "~")
  // -p: used verbatim, must match ^[a-z0-9][a-z0-9_-]*$.
  std::optional<std::string> projectName;
  // Used when no file has a `name:` (the CLI passes the normalized directory name).
  std::string defaultProjectName;
  // Files given by content instead of read from disk: absolute path → text (berthd loads the
  // canonical YAML of a stored stack this way). Paths not listed here are read as usual.
  std::map<std::string, std::string> contents;
};

Result<Project> load(const ConfigDetails& details, const LoadOptions& options);

struct ProjectOptions {
  std::vector<std::string> files;               // -f, in order ("-" is not supported)
  std::optional<std::string> projectDirectory;  // --project-directory
  std::optional<std::string> projectName;       // -p
  std::vector<std::string> envFiles;            // --env-file; default <project dir>/.env
  std::vector<std::string> profiles;            // --profile; default COMPOSE_PROFILES
  Environment processEnvironment;               // the process environment
  std::string currentDirectory;                 // absolute; relative -f/--env-file paths
  LoadOptions load;
  bool loadDotEnv = true;  // read .env / --env-file
};

// The CLI's view: resolves files, environment and name as `docker compose` does, then load().
Result<Project> loadProject(const ProjectOptions& options);

// The environment loadProject interpolates with: the process environment plus the env files
// (--env-file, else .env in the project directory), the process winning. Errors when an
// --env-file is missing or malformed.
Result<Environment> projectEnvironment(const ProjectOptions& options);

// compose's project name normalization: lower case, only [a-z0-9_-], leading '_'/'-' dropped.
std::string normalizeProjectName(std::string_view name);
// Whether `name` is usable as given (-p, COMPOSE_PROJECT_NAME).
bool isValidProjectName(std::string_view name);

}  // namespace berth::spec
