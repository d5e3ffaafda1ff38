// Internal to src/spec: the raw YAML tree the loader works on before binding it to the typed model
// (model.h). Every node remembers where it came from (file, line, column) so that errors found after
// interpolation, extends, include and merge still point at the text the user wrote. Tags `!reset`,
// `!override` and `!merge` are kept on nodes for the merge step.
//
// Also defines Path (the "services.web.ports[0]" of error messages) and Diagnostics, the collector
// that lets one load report several errors together.
//
// Plain values; not thread-safe to share mutable instances.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::spec::internal {

// A position in a source file: file is an index into Sources, line and column are 1-based.
struct Mark {
  int file = -1;
  int line = 0;
  int column = 0;
};

// The file names positions refer to. Append-only; indices stay valid.
class Sources {
 public:
  int add(std::string name);
  const std::string& name(int index) const;
  // "compose.yaml:12:9" (or "compose.yaml" when the position is unknown).
  std::string where(const Mark& mark) const;

 private:
  std::vector<std::string> names_;
};

enum class NodeKind { Null, Scalar, Sequence, Mapping };
enum class ScalarType { String, Int, Float, Bool };
enum class NodeTag { None, Reset, Override, Merge };

struct Entry;

struct Node {
  NodeKind kind = NodeKind::Null;
  ScalarType type = ScalarType::String;  // for scalars: the YAML 1.2 core-schema type
  std::string text;                      // scalar text as written (after interpolation)
  bool quoted = false;                   // written quoted or with an explicit !!str tag
  bool interpolated = false;             // text produced by variable substitution
  NodeTag tag = NodeTag::None;
  Mark mark;
  std::vector<Node> items;     // Sequence
  std::vector<Entry> entries;  // Mapping, in document order, keys unique

  static Node null(Mark mark = {});
  static Node string(std::string text, Mark mark = {});
  static Node mapping(Mark mark = {});
  static Node sequence(Mark mark = {});

  bool isNull() const { return kind == NodeKind::Null; }
  bool isScalar() const { return kind == NodeKind::Scalar; }
  bool isString() const { return kind == NodeKind::Scalar && type == ScalarType::String; }
  bool isMapping() const { return kind == NodeKind::Mapping; }
  bool isSequence() const { return kind == NodeKind::Sequence; }

  const Node* find(std::string_view key) const;
  Node* find(std::string_view key);
  const Entry* findEntry(std::string_view key) const;
  // Sets (replacing in place) or appends key.
  void set(std::string key, Node value, Mark keyMark = {});
  bool erase(std::string_view key);
};

struct Entry {
  std::string key;
  Mark keyMark;
  Node value;
};

// Re-resolves the type of a plain scalar text the way YAML 1.2's core schema does (null, booleans,
// integers in decimal/octal/hex, floats); anything else is a string.
void resolvePlainScalar(Node& node);

// The value of a scalar as a string the way compose converts numbers and booleans to strings
// ("42", "2.5", "true"); empty for null.
std::string scalarString(const Node& node);

// The number of nodes in a tree (for work budgets).
std::size_t countNodes(const Node& node);

// A key path: "services.web.ports[0]".
class Path {
 public:
  Path() = default;
  explicit Path(std::string text) : text_(std::move(text)) {}
  Path key(std::string_view k) const;
  Path index(std::size_t i) const;
  const std::string& str() const { return text_; }
  bool empty() const { return text_.empty(); }

 private:
  std::string text_;
};

struct Diagnostic {
  Mark mark;
  std::string path;
  std::string message;
};

// Collects errors; render() orders them by position and formats one per line as
// "FILE:LINE:COL: PATH: MESSAGE".
class Diagnostics {
 public:
  explicit Diagnostics(const Sources& sources) : sources_(&sources) {}
  void error(const Mark& mark, const Path& path, std::string message);
  void error(const Mark& mark, std::string message);  // without a key path
  bool empty() const { return list_.empty(); }
  std::size_t size() const { return list_.size(); }
  std::string render() const;
  Error toError() const { return Error(ErrorCode::InvalidArgument, render()); }

 private:
  const Sources* sources_;
  std::vector<Diagnostic> list_;
};

}  // namespace berth::spec::internal
