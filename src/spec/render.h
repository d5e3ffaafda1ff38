// The canonical printer: a Project in the shape `docker compose config` prints it — compose key
// names, long syntax everywhere, durations as "1m30s", byte sizes as decimal strings, file modes as
// octal strings, maps sorted by key, zero values omitted. Secret contents are never printed.
//
// Output is deterministic: the same Project always renders to the same bytes. The YAML it writes
// loads back to the same Project. Pure functions.
#pragma once

#include <string>

#include "spec/model.h"
#include "spec/value.h"

namespace berth::spec {

struct RenderOptions {
  // x-* keys below the top level (in services, ports, networks...). `docker compose config` keeps
  // them in YAML and drops them in JSON; berth does the same by default.
  bool nestedExtensions = true;
};

Value renderValue(const Project& project, const RenderOptions& options = {});
// One service as rendered under `services.<name>` (the basis of the configuration hash).
Value renderServiceValue(const Service& service, const RenderOptions& options = {});

std::string renderYaml(const Project& project, const RenderOptions& options = {});
// JSON, two-space indented; nested x-* keys are omitted unless options say otherwise.
std::string renderJson(const Project& project, const RenderOptions& options = {false});

// Writers for any Value (used by the renderers above and by `berth config` listings).
std::string writeYaml(const Value& value);
std::string writeJson(const Value& value, int indent = 2);

}  // namespace berth::spec
