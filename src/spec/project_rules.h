// Internal to src/spec: what happens to a bound project after the files are merged: defaults,
// path resolution, normalization, profiles and service selection, environment and label files,
// and the consistency checks that need the whole project.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "spec/binder.h"
#include "spec/loader.h"
#include "spec/model.h"
#include "spec/node.h"

namespace berth::spec::internal {

// build.context defaults to "." (always, as compose does even without normalization).
void applyBuildDefaults(Project& project);

// Relative paths (build contexts, bind sources, env/label files, x-berth-ssh key files,
// secret/config files, watch paths, local bind volumes' device) become absolute against
// project.workingDir; "~" uses HOME from env.
void resolvePaths(Project& project, const Environment& env);

// Bare environment entries and build args take their value from env when it has them.
void resolveBareVariables(Project& project, const Environment& env);

// Default network, resource names, implicit dependencies, build dockerfile default, pull policy
// alias, pre_start image inheritance.
void normalize(Project& project);

// Moves services whose profiles are all inactive to disabledServices.
void applyProfiles(Project& project, const std::vector<std::string>& profiles);

// Keeps `names` and their dependencies (enabling profiles of named services). Errors:
// "no such service: X".
Status selectServices(Project& project, const std::vector<std::string>& names);

// Merges env_file contents into environment (service values win) and reads config/secret values
// from the environment. Errors: "env file X not found", parse errors of the file.
Status resolveEnvFiles(Project& project, bool discardEnvFiles);

// Adds label_file contents under the service's labels (service labels win).
Status resolveLabelFiles(Project& project);

// Appends the keys of each x-berth-ssh key file to the service's authorizedKeys (after the inline
// ones, files in order). Errors name the service: NotFound "services.web.x-berth-ssh.authorized_keys:
// key file /abs/keys.pub not found"; InvalidArgument for a bad line ("...authorized_keys:
// /abs/keys.pub:3: not an SSH public key (expected ...)") and for a file without a key ("key file
// /abs/keys.pub has no keys"). Without interpolation, a file name still holding ${...} is skipped.
Status resolveSshKeyFiles(Project& project, bool interpolated);

// Cross-reference checks; every finding goes to diag with the position recorded in marks.
void checkConsistency(const Project& project, const SourceMap& marks, Diagnostics& diag);

}  // namespace berth::spec::internal
