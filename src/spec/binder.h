// Internal to src/spec: validates a merged raw tree against the compose specification and binds it
// to the typed model (model.h), turning every short syntax into its canonical long form and
// removing redefinitions (ports, volumes, secrets... declared twice keep the last definition in the
// first position, as compose does). All problems found are reported together through Diagnostics,
// each with the position of the offending key or value and its key path.
#pragma once

#include <map>
#include <string>

#include "spec/model.h"
#include "spec/node.h"

namespace berth::spec::internal {

struct BindSettings {
  bool validate = true;      // unknown keys are errors (otherwise ignored)
  bool interpolated = true;  // false: tolerate values that still hold ${...}
};

// Positions of bound attributes by key path ("services.web.volumes[1]"), for errors found later
// (consistency checks).
using SourceMap = std::map<std::string, Mark>;

Project bindProject(const Node& root, const BindSettings& settings, Diagnostics& diag, SourceMap& marks);

}  // namespace berth::spec::internal
