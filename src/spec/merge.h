// Internal to src/spec: compose-spec merge rules on raw trees, used for override files, `extends` and
// resources imported by `include`.
//
// Rules: mappings merge key by key; scalars are replaced; a null override keeps the base; sequences
// are appended, except command/entrypoint/healthcheck.test (replaced); environment, labels,
// annotations, sysctls, build args/labels/additional_contexts, deploy labels, dns*, tmpfs, env_file
// and label_file are turned into KEY=VALUE lists and appended (the binder then keeps the last
// definition of each key); extra_hosts appends entries not present yet; depends_on, networks and
// models accept list or mapping syntax and merge as mappings; a ulimit is replaced as a whole;
// logging options merge only when both sides use the same driver; ipam configs merge by subnet;
// `build: DIR` is `build: {context: DIR}`. Tags: `!reset` removes the key, `!override` replaces the
// value instead of merging it, `!merge` merges two sequences element by element.
//
// With keepTags, `!reset`/`!override` entries of the override stay in the result (a reset as a
// tombstone) so that a later merge with an earlier file still honours them (extends, include).
#pragma once

#include <string>
#include <vector>

#include "spec/node.h"

namespace berth::spec::internal {

struct MergeOptions {
  bool keepTags = false;
};

// Merges `over` into `base`. `path` is the key path of base (e.g. {"services", "web"}); errors
// ("cannot override services.web.deploy: ...") go to diag.
void mergeInto(Node& base, Node over, const std::vector<std::string>& path, Diagnostics& diag,
               const MergeOptions& options = {});

// Removes tombstones and clears tags in a tree.
void stripTags(Node& node);

}  // namespace berth::spec::internal
