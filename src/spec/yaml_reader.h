// Internal to src/spec: YAML text to Node trees (node.h), one per document, with the limits that
// keep hostile input harmless: a maximum input size, nesting depth and node count, where the node
// count includes every copy an alias makes (so "billion laughs" alias bombs are refused after a
// bounded amount of work rather than expanded). Merge keys (`<<`) are applied, anchors and aliases
// are resolved into copies, tags !reset/!override/!merge are kept on nodes, and duplicate or
// non-string mapping keys are errors.
//
// yaml-cpp is used only in yaml_reader.cc; its exceptions never leave it.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "spec/node.h"

namespace berth::spec::internal {

struct ReadLimits {
  std::size_t maxBytes = 8u << 20;  // 8 MiB per file
  std::size_t maxDepth = 100;       // nested collections
  std::size_t maxNodes = 500000;    // per document, alias copies included
};

// Parses all documents of `text` (file index `file` in the caller's Sources). Problems are added to
// `diag` with positions; the result then holds no documents. Empty documents are skipped.
std::vector<Node> readYaml(std::string_view text, int file, Diagnostics& diag, const ReadLimits& limits = {});

}  // namespace berth::spec::internal
