#include "spec/node.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "spec/format.h"

namespace berth::spec::internal {

int Sources::add(std::string name) {
  names_.push_back(std::move(name));
  return static_cast<int>(names_.size()) - 1;
}

const std::string& Sources::name(int index) const {
  static const std::string kUnknown = "<input>";
  if (index < 0 || static_cast<std::size_t>(index) >= names_.size()) return kUnknown;
  return names_[static_cast<std::size_t>(index)];
}

std::string Sources::where(const Mark& mark) const {
  if (mark.file < 0) return "";
  std::string out = name(mark.file);
  if (mark.line > 0) out += ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column);
  return out;
}

Node Node::null(Mark mark) {
  Node n;
  n.mark = mark;
  return n;
}

Node Node::string(std::string text, Mark mark) {
  Node n;
  n.kind = NodeKind::Scalar;
  n.type = ScalarType::String;
  n.text = std::move(text);
  n.quoted = true;
  n.mark = mark;
  return n;
}

Node Node::mapping(Mark mark) {
  Node n;
  n.kind = NodeKind::Mapping;
  n.mark = mark;
  return n;
}

Node Node::sequence(Mark mark) {
  Node n;
  n.kind = NodeKind::Sequence;
  n.mark = mark;
  return n;
}

const Node* Node::find(std::string_view key) const {
  const Entry* e = findEntry(key);
  return e == nullptr ? nullptr : &e->value;
}

Node* Node::find(std::string_view key) {
  for (auto& e : entries) {
    if (e.key == key) return &e.value;
  }
  return nullptr;
}

const Entry* Node::findEntry(std::string_view key) const {
  for (const auto& e : entries) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

void Node::set(std::string key, Node value, Mark keyMark) {
  if (kind == NodeKind::Null) kind = NodeKind::Mapping;
  for (auto& e : entries) {
    if (e.key == key) {
      e.value = std::move(value);
      return;
    }
  }
  entries.push_back(Entry{std::move(key), keyMark, std::move(value)});
}

bool Node::erase(std::string_view key) {
  const auto it = std::find_if(entries.begin(), entries.end(), [&](const Entry& e) { return e.key == key; });
  if (it == entries.end()) return false;
  entries.erase(it);
  return true;
}

namespace {

bool looksLikeFloat(std::string_view s) {
  // [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  std::size_t digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    ++i;
    ++digits;
  }
  std::size_t fraction = 0;
  bool dot = false;
  if (i < s.size() && s[i] == '.') {
    dot = true;
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      ++i;
      ++fraction;
    }
  }
  if (digits == 0 && (!dot || fraction == 0)) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    std::size_t exp = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      ++i;
      ++exp;
    }
    if (exp == 0) return false;
  }
  return i == s.size();
}

}  // namespace

void resolvePlainScalar(Node& node) {
  const std::string& t = node.text;
  node.kind = NodeKind::Scalar;
  node.type = ScalarType::String;
  if (t.empty() || t == "~" || t == "null" || t == "Null" || t == "NULL") {
    node.kind = NodeKind::Null;
    return;
  }
  if (t == "true" || t == "True" || t == "TRUE" || t == "false" || t == "False" || t == "FALSE") {
    node.type = ScalarType::Bool;
    return;
  }
  if (parseYamlInt(t).has_value()) {
    node.type = ScalarType::Int;
    return;
  }
  if (looksLikeFloat(t) || t == ".inf" || t == ".Inf" || t == ".INF" || t == "+.inf" || t == "+.Inf" ||
      t == "+.INF" || t == "-.inf" || t == "-.Inf" || t == "-.INF" || t == ".nan" || t == ".NaN" ||
      t == ".NAN") {
    node.type = ScalarType::Float;
    return;
  }
}

std::string scalarString(const Node& node) {
  if (node.kind != NodeKind::Scalar) return "";
  switch (node.type) {
    case ScalarType::String:
      return node.text;
    case ScalarType::Bool:
      return yamlBool(node.text) ? "true" : "false";
    case ScalarType::Int: {
      const auto v = parseYamlInt(node.text);
      return v ? std::to_string(*v) : node.text;
    }
    case ScalarType::Float: {
      const auto v = parseYamlFloat(node.text);
      return v ? formatGoFloat(*v) : node.text;
    }
  }
  return node.text;
}

std::size_t countNodes(const Node& node) {
  std::size_t n = 1;
  for (const auto& item : node.items) n += countNodes(item);
  for (const auto& e : node.entries) n += countNodes(e.value);
  return n;
}

Path Path::key(std::string_view k) const {
  Path p;
  p.text_ = text_.empty() ? std::string(k) : text_ + "." + std::string(k);
  return p;
}

Path Path::index(std::size_t i) const {
  Path p;
  p.text_ = text_ + "[" + std::to_string(i) + "]";
  return p;
}

void Diagnostics::error(const Mark& mark, const Path& path, std::string message) {
  list_.push_back(Diagnostic{mark, path.str(), std::move(message)});
}

void Diagnostics::error(const Mark& mark, std::string message) {
  list_.push_back(Diagnostic{mark, "", std::move(message)});
}

std::string Diagnostics::render() const {
  std::vector<const Diagnostic*> sorted;
  sorted.reserve(list_.size());
  for (const auto& d : list_) sorted.push_back(&d);
  std::stable_sort(sorted.begin(), sorted.end(), [](const Diagnostic* a, const Diagnostic* b) {
    if (a->mark.file != b->mark.file) return a->mark.file < b->mark.file;
    if (a->mark.line != b->mark.line) return a->mark.line < b->mark.line;
    return a->mark.column < b->mark.column;
  });
  constexpr std::size_t kMaxLines = 100;
  std::string out;
  std::string previous;
  std::size_t lines = 0;
  for (const Diagnostic* d : sorted) {
    if (lines == kMaxLines) {
      out += "\n... and more errors (only the first " + std::to_string(kMaxLines) + " are shown)";
      break;
    }
    std::string line;
    const std::string where = sources_->where(d->mark);
    if (!where.empty()) line += where + ": ";
    if (!d->path.empty()) line += d->path + ": ";
    line += d->message;
    if (line == previous) continue;  // the same finding reached twice (e.g. through an alias)
    if (!out.empty()) out += "\n";
    out += line;
    previous = line;
    ++lines;
  }
  return out;
}

}  // namespace berth::spec::internal
