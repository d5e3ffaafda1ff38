#include "spec/yaml_reader.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <map>
#include <optional>
#include <sstream>
#include <unordered_map>

#include "base/strings.h"
#include "spec/format.h"

namespace berth::spec::internal {
namespace {

// Thrown from inside the event handler to stop yaml-cpp once we have given up on a document; caught
// in readYaml below and never propagated further.
struct Abort {};

constexpr const char* kStrTag = "tag:yaml.org,2002:str";

class TreeBuilder final : public YAML::EventHandler {
 public:
  TreeBuilder(int file, Diagnostics& diag, const ReadLimits& limits)
      : file_(file), diag_(diag), limits_(limits) {}

  std::optional<Node> takeDocument() { return std::move(document_); }
  const YAML::Mark& lastNullMark() const { return lastNullMark_; }
  // Between documents. The node budget is per file, so it is not reset.
  void reset() {
    stack_.clear();
    document_.reset();
    anchors_.clear();
  }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}

  void OnAnchor(const YAML::Mark&, const std::string& name) override { pendingAnchorName_ = name; }

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    lastNullMark_ = mark;
    Node n = Node::null(toMark(mark));
    count(1, mark);
    add(std::move(n), anchor, mark);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) {
      fatal(mark, "unknown anchor");
    }
    if (!it->second.complete) {
      fatal(mark, "cycle detected: alias *" + it->second.name + " at " + currentPath().str() +
                      " refers to its own enclosing node " + it->second.path);
    }
    if (nodes_ + it->second.size > limits_.maxNodes) {
      fatal(mark, "excessive aliasing: expanding aliases would create more than " +
                      std::to_string(limits_.maxNodes) + " nodes");
    }
    nodes_ += it->second.size;
    Node copy = it->second.node;
    copy.mark = toMark(mark);
    add(std::move(copy), 0, mark, /*isAlias=*/true);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    count(1, mark);
    Node n;
    n.kind = NodeKind::Scalar;
    n.text = value;
    n.mark = toMark(mark);
    n.tag = tagOf(tag);
    if (tag == "!" || tag == kStrTag) {
      n.type = ScalarType::String;
      n.quoted = true;
    } else {
      resolvePlainScalar(n);
    }
    add(std::move(n), anchor, mark);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    count(1, mark);
    Node n = Node::sequence(toMark(mark));
    n.tag = tagOf(tag);
    open(std::move(n), anchor, mark);
  }
  void OnSequenceEnd() override { close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    count(1, mark);
    Node n = Node::mapping(toMark(mark));
    n.tag = tagOf(tag);
    open(std::move(n), anchor, mark);
  }
  void OnMapEnd() override {
    applyMergeKeys(stack_.back());
    close();
  }

 private:
  struct Frame {
    Node node;
    Path path;
    YAML::anchor_t anchor = 0;
    std::string anchorName;
    // Mappings: the key waiting for its value.
    bool haveKey = false;
    bool keyIsMerge = false;
    std::string key;
    Mark keyMark;
    std::vector<Node> mergeSources;                 // values of `<<` keys, in order
    std::unordered_map<std::string, int> keyLines;  // keys seen so far -> their line
  };

  struct Anchored {
    std::string name;
    std::string path;
    bool complete = false;
    Node node;
    std::size_t size = 0;
  };

  Mark toMark(const YAML::Mark& m) const { return Mark{file_, m.line + 1, m.column + 1}; }

  static NodeTag tagOf(const std::string& tag) {
    if (tag == "!reset") return NodeTag::Reset;
    if (tag == "!override") return NodeTag::Override;
    if (tag == "!merge") return NodeTag::Merge;
    return NodeTag::None;
  }

  [[noreturn]] void fatal(const YAML::Mark& mark, std::string message) {
    diag_.error(toMark(mark), std::move(message));
    throw Abort{};
  }

  void count(std::size_t n, const YAML::Mark& mark) {
    nodes_ += n;
    if (nodes_ > limits_.maxNodes) {
      fatal(mark, "document too large: more than " + std::to_string(limits_.maxNodes) + " nodes");
    }
  }

  Path currentPath() const {
    if (stack_.empty()) return Path();
    const Frame& f = stack_.back();
    if (f.node.isMapping()) return f.haveKey ? f.path.key(f.key) : f.path;
    return f.path.index(f.node.items.size());
  }

  void open(Node n, YAML::anchor_t anchor, const YAML::Mark& mark) {
    if (stack_.size() >= limits_.maxDepth) {
      fatal(mark, "nesting too deep: more than " + std::to_string(limits_.maxDepth) + " levels");
    }
    Frame f;
    f.path = currentPath();
    if (!stack_.empty() && stack_.back().node.isMapping() && !stack_.back().haveKey) {
      fatal(mark, "mapping keys must be strings (found a " +
                      std::string(n.isMapping() ? "mapping" : "sequence") + ")");
    }
    f.node = std::move(n);
    f.anchor = anchor;
    if (anchor != 0) {
      Anchored& a = anchors_[anchor];
      a.name = pendingAnchorName_;
      a.path = f.path.empty() ? "(top level)" : f.path.str();
      a.complete = false;
    }
    pendingAnchorName_.clear();
    stack_.push_back(std::move(f));
  }

  void close() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    if (f.anchor != 0) remember(f.anchor, f.node);
    place(std::move(f.node));
  }

  void remember(YAML::anchor_t anchor, const Node& node) {
    Anchored& a = anchors_[anchor];
    a.node = node;
    a.size = countNodes(node);
    a.complete = true;
  }

  // A complete scalar/null/alias value.
  void add(Node n, YAML::anchor_t anchor, const YAML::Mark& mark, bool isAlias = false) {
    if (anchor != 0) {
      Anchored& a = anchors_[anchor];
      a.name = pendingAnchorName_;
      a.path = currentPath().str();
      remember(anchor, n);
    }
    pendingAnchorName_.clear();
    if (!stack_.empty() && stack_.back().node.isMapping() && !stack_.back().haveKey) {
      takeKey(n, mark, isAlias);
      return;
    }
    place(std::move(n));
  }

  void takeKey(const Node& n, const YAML::Mark& mark, bool isAlias) {
    Frame& f = stack_.back();
    if (n.isMapping() || n.isSequence()) {
      fatal(mark, "mapping keys must be strings");
    }
    if (!n.isString()) {
      const std::string shown = n.isNull() ? (n.text.empty() ? "null" : n.text) : n.text;
      if (f.path.empty()) {
        diag_.error(toMark(mark), "non-string key at top level: " + shown);
      } else {
        diag_.error(toMark(mark), "non-string key in " + f.path.str() + ": " + shown);
      }
      throw Abort{};
    }
    f.haveKey = true;
    f.key = n.text;
    f.keyMark = toMark(mark);
    f.keyIsMerge = !n.quoted && !isAlias && n.text == "<<";
  }

  void place(Node n) {
    if (stack_.empty()) {
      document_ = std::move(n);
      return;
    }
    Frame& f = stack_.back();
    if (f.node.isSequence()) {
      f.node.items.push_back(std::move(n));
      return;
    }
    // Mapping value.
    f.haveKey = false;
    if (f.keyIsMerge) {
      f.keyIsMerge = false;
      if (n.isMapping()) {
        f.mergeSources.push_back(std::move(n));
      } else if (n.isSequence()) {
        for (Node& item : n.items) {
          if (!item.isMapping()) {
            diag_.error(item.mark, f.path, "merge key << expects a mapping or a list of mappings");
            throw Abort{};
          }
          f.mergeSources.push_back(std::move(item));
        }
      } else {
        diag_.error(n.mark, f.path, "merge key << expects a mapping or a list of mappings");
        throw Abort{};
      }
      return;
    }
    // An empty value has no text of its own: point at its key.
    if (n.isNull() && n.text.empty()) n.mark = f.keyMark;
    if (auto [it, inserted] = f.keyLines.emplace(f.key, f.keyMark.line); !inserted) {
      diag_.error(
          f.keyMark, f.path.key(f.key),
          "mapping key " + ::berth::quoted(f.key) + " already defined at line " + std::to_string(it->second));
      throw Abort{};
    }
    f.node.entries.push_back(Entry{f.key, f.keyMark, std::move(n)});
  }

  // YAML merge keys: keys from `<<` sources are added unless the mapping defines them itself; among
  // several sources the first one wins.
  void applyMergeKeys(Frame& f) {
    for (Node& source : f.mergeSources) {
      for (Entry& e : source.entries) {
        if (f.keyLines.emplace(e.key, e.keyMark.line).second) f.node.entries.push_back(std::move(e));
      }
    }
    f.mergeSources.clear();
  }

  int file_;
  Diagnostics& diag_;
  const ReadLimits& limits_;
  std::vector<Frame> stack_;
  std::optional<Node> document_;
  std::map<YAML::anchor_t, Anchored> anchors_;
  std::string pendingAnchorName_;
  std::size_t nodes_ = 0;
  YAML::Mark lastNullMark_;
};

// yaml-cpp's wording for a tab in indentation is obscure; say what go-yaml (and so compose) says.
std::string describeParseError(std::string_view text, const YAML::Mark& mark, const std::string& msg) {
  const std::vector<std::string> lines = split(text, '\n');
  for (int l = mark.line - 1; l <= mark.line + 1; ++l) {
    if (l < 0 || static_cast<std::size_t>(l) >= lines.size()) continue;
    const std::string& line = lines[static_cast<std::size_t>(l)];
    const std::size_t firstNonSpace = line.find_first_not_of(" \t");
    const std::string_view indent = std::string_view(line).substr(0, firstNonSpace);
    if (indent.find('\t') != std::string_view::npos) {
      return "found a tab character that violates indentation";
    }
  }
  return msg;
}

// Position of the first byte that is not part of valid UTF-8, if any.
std::optional<Mark> invalidUtf8(std::string_view text, int file) {
  int line = 1;
  int column = 1;
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t n = 1;
    if (c >= 0x80) {
      if (c >= 0xc2 && c <= 0xdf)
        n = 2;
      else if (c >= 0xe0 && c <= 0xef)
        n = 3;
      else if (c >= 0xf0 && c <= 0xf4)
        n = 4;
      else
        return Mark{file, line, column};
      if (i + n > text.size()) return Mark{file, line, column};
      for (std::size_t k = 1; k < n; ++k) {
        if ((static_cast<unsigned char>(text[i + k]) & 0xc0) != 0x80) return Mark{file, line, column};
      }
      // Overlong and surrogate forms.
      const auto d = static_cast<unsigned char>(text[i + 1]);
      if ((c == 0xe0 && d < 0xa0) || (c == 0xed && d >= 0xa0) || (c == 0xf0 && d < 0x90) ||
          (c == 0xf4 && d >= 0x90)) {
        return Mark{file, line, column};
      }
    }
    if (c == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
    i += n;
  }
  return std::nullopt;
}

}  // namespace

std::vector<Node> readYaml(std::string_view text, int file, Diagnostics& diag, const ReadLimits& limits) {
  std::vector<Node> documents;
  if (text.size() > limits.maxBytes) {
    diag.error(Mark{file, 0, 0}, "file too large: " + std::to_string(text.size()) + " bytes (the limit is " +
                                     std::to_string(limits.maxBytes) + ")");
    return documents;
  }
  if (auto bad = invalidUtf8(text, file)) {
    diag.error(*bad, "invalid UTF-8: compose files must be UTF-8 text");
    return documents;
  }
  std::istringstream in{std::string(text)};
  TreeBuilder builder(file, diag, limits);
  try {
    YAML::Parser parser(in);
    // yaml-cpp 0.7 never consumes a stray flow indicator (",") at the top of a document: it reports
    // an empty document and starts over at the same token, forever. Many empty documents in a row
    // mean exactly that.
    int emptyInARow = 0;
    while (true) {
      builder.reset();
      if (!parser.HandleNextDocument(builder)) break;
      if (std::optional<Node> doc = builder.takeDocument(); doc && !doc->isNull()) {
        documents.push_back(std::move(*doc));
        emptyInARow = 0;
      } else if (++emptyInARow > 64) {
        const YAML::Mark& at = builder.lastNullMark();
        const std::size_t pos = at.pos >= 0 ? static_cast<std::size_t>(at.pos) : 0;
        const std::string token = pos < text.size() ? std::string(1, text[pos]) : std::string();
        diag.error(Mark{file, at.line + 1, at.column + 1},
                   "unexpected " + (token.empty() ? std::string("token") : ::berth::quoted(token)) +
                       " where a value should start");
        documents.clear();
        break;
      }
    }
  } catch (const Abort&) {
    documents.clear();
  } catch (const YAML::Exception& e) {
    diag.error(Mark{file, e.mark.line + 1, e.mark.column + 1}, describeParseError(text, e.mark, e.msg));
    documents.clear();
  } catch (const std::exception& e) {
    diag.error(Mark{file, 0, 0}, std::string("cannot parse YAML: ") + e.what());
    documents.clear();
  }
  return documents;
}

}  // namespace berth::spec::internal
