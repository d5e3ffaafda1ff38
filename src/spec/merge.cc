#include "spec/merge.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace berth::spec::internal {
namespace {

using Segments = std::vector<std::string>;

bool matches(const Segments& path, std::initializer_list<const char*> pattern) {
  if (path.size() != pattern.size()) return false;
  std::size_t i = 0;
  for (const char* p : pattern) {
    if (std::string_view(p) != "*" && path[i] != p) return false;
    ++i;
  }
  return true;
}

enum class Rule {
  Default,
  Override,    // replace
  ToSequence,  // KEY=VALUE lists, appended
  ExtraHosts,  // KEY=VALUE lists, appended without duplicates
  Logging,
  Build,
  DependsOn,
  MapOfNull,  // networks, models: list or mapping syntax
  Ulimit,
  IpamConfig,
};

Rule ruleFor(const Segments& p) {
  if (p.size() >= 2 && p[0] == "services") {
    if (p.size() == 3) {
      const std::string& k = p[2];
      if (k == "command" || k == "entrypoint") return Rule::Override;
      if (k == "logging") return Rule::Logging;
      if (k == "build") return Rule::Build;
      if (k == "depends_on") return Rule::DependsOn;
      if (k == "networks" || k == "models") return Rule::MapOfNull;
      if (k == "extra_hosts") return Rule::ExtraHosts;
      if (k == "annotations" || k == "environment" || k == "labels" || k == "sysctls" || k == "env_file" ||
          k == "label_file" || k == "dns" || k == "dns_opt" || k == "dns_search" || k == "tmpfs") {
        return Rule::ToSequence;
      }
    }
    if (matches(p, {"services", "*", "healthcheck", "test"})) return Rule::Override;
    if (matches(p, {"services", "*", "ulimits", "*"})) return Rule::Ulimit;
    if (matches(p, {"services", "*", "build", "args"}) ||
        matches(p, {"services", "*", "build", "additional_contexts"}) ||
        matches(p, {"services", "*", "build", "labels"}) ||
        matches(p, {"services", "*", "deploy", "labels"}) ||
        matches(p, {"services", "*", "volumes", "*", "volume", "labels"})) {
      return Rule::ToSequence;
    }
    if (matches(p, {"services", "*", "build", "extra_hosts"})) return Rule::ExtraHosts;
  }
  if (matches(p, {"networks", "*", "labels"}) || matches(p, {"volumes", "*", "labels"})) {
    return Rule::ToSequence;
  }
  if (matches(p, {"networks", "*", "ipam", "config"})) return Rule::IpamConfig;
  if (matches(p, {"models", "*", "runtime_flags"})) return Rule::Override;
  return Rule::Default;
}

std::string kindName(const Node& n) {
  switch (n.kind) {
    case NodeKind::Null:
      return "null";
    case NodeKind::Scalar:
      return "scalar";
    case NodeKind::Sequence:
      return "list";
    case NodeKind::Mapping:
      return "mapping";
  }
  return "value";
}

std::string dotted(const Segments& p) {
  std::string out;
  for (const auto& s : p) {
    if (!out.empty()) out += ".";
    out += s;
  }
  return out;
}

// environment-style values as a KEY=VALUE sequence (mapping entries sorted, as compose does).
Node toSequence(Node value) {
  if (value.isSequence()) return value;
  if (value.isScalar()) {
    Node seq = Node::sequence(value.mark);
    seq.items.push_back(std::move(value));
    return seq;
  }
  Node seq = Node::sequence(value.mark);
  if (!value.isMapping()) return seq;
  for (Entry& e : value.entries) {
    if (e.value.isNull()) {
      seq.items.push_back(Node::string(e.key, e.keyMark));
    } else if (e.value.isSequence()) {
      for (const Node& item : e.value.items) {
        seq.items.push_back(Node::string(e.key + "=" + scalarString(item), item.mark));
      }
    } else {
      seq.items.push_back(Node::string(e.key + "=" + scalarString(e.value), e.value.mark));
    }
  }
  std::stable_sort(seq.items.begin(), seq.items.end(),
                   [](const Node& a, const Node& b) { return a.text < b.text; });
  return seq;
}

Node toMapping(Node value, bool dependencyDefaults) {
  if (!value.isSequence()) return value;
  Node map = Node::mapping(value.mark);
  std::unordered_set<std::string> seen;
  for (Node& item : value.items) {
    const std::string key = scalarString(item);
    if (!seen.insert(key).second) continue;
    Node v = Node::null(item.mark);
    if (dependencyDefaults) {
      v = Node::mapping(item.mark);
      v.set("condition", Node::string("service_started", item.mark), item.mark);
      Node required;
      required.kind = NodeKind::Scalar;
      required.type = ScalarType::Bool;
      required.text = "true";
      required.mark = item.mark;
      v.set("required", std::move(required), item.mark);
    }
    map.entries.push_back(Entry{key, item.mark, std::move(v)});
  }
  return map;
}

class Merger {
 public:
  Merger(Diagnostics& diag, const MergeOptions& options) : diag_(diag), options_(options) {}

  void mergeMappings(Node& base, Node over, Segments& path) {
    if (base.isNull()) base = Node::mapping(over.mark);
    // Index the base's keys once: mappings can be large and lookups must stay cheap.
    std::unordered_map<std::string, std::size_t> index;
    index.reserve(base.entries.size() + over.entries.size());
    for (std::size_t i = 0; i < base.entries.size(); ++i) index.emplace(base.entries[i].key, i);
    std::vector<bool> removed(base.entries.size(), false);
    const auto put = [&](Entry& e) {
      if (auto it = index.find(e.key); it != index.end()) {
        base.entries[it->second] = Entry{e.key, e.keyMark, std::move(e.value)};
        removed[it->second] = false;
        return;
      }
      index.emplace(e.key, base.entries.size());
      base.entries.push_back(Entry{e.key, e.keyMark, std::move(e.value)});
      removed.push_back(false);
    };
    for (Entry& e : over.entries) {
      if (e.value.tag == NodeTag::Reset) {
        if (options_.keepTags) {
          put(e);  // a tombstone, for an earlier file
        } else if (auto it = index.find(e.key); it != index.end()) {
          removed[it->second] = true;
        }
        continue;
      }
      if (e.value.tag == NodeTag::Override) {
        if (!options_.keepTags) stripTags(e.value);
        put(e);
        continue;
      }
      auto it = index.find(e.key);
      if (it == index.end() || removed[it->second] || base.entries[it->second].value.tag == NodeTag::Reset) {
        if (!options_.keepTags) stripTags(e.value);
        put(e);
        continue;
      }
      path.push_back(e.key);
      mergeValue(base.entries[it->second].value, std::move(e.value), path);
      path.pop_back();
    }
    if (std::find(removed.begin(), removed.end(), true) != removed.end()) {
      std::vector<Entry> kept;
      kept.reserve(base.entries.size());
      for (std::size_t i = 0; i < base.entries.size(); ++i) {
        if (!removed[i]) kept.push_back(std::move(base.entries[i]));
      }
      base.entries = std::move(kept);
    }
  }

  void mergeValue(Node& base, Node over, Segments& path) {
    if (over.tag == NodeTag::Merge && base.isSequence() && over.isSequence()) {
      positional(base, std::move(over), path);
      return;
    }
    switch (ruleFor(path)) {
      case Rule::Override:
        replace(base, std::move(over));
        return;
      case Rule::Ulimit:
        if (!over.isNull()) replace(base, std::move(over));
        return;
      case Rule::ToSequence: {
        if (over.isNull()) return;
        Node merged = toSequence(std::move(base));
        dropReset(merged, over);
        for (Node& item : toSequence(std::move(over)).items) merged.items.push_back(std::move(item));
        base = std::move(merged);
        return;
      }
      case Rule::ExtraHosts: {
        if (over.isNull()) return;
        Node merged = toSequence(std::move(base));
        dropReset(merged, over);
        std::unordered_set<std::string> present;
        for (const Node& n : merged.items) present.insert(scalarString(n));
        for (Node& item : toSequence(std::move(over)).items) {
          if (present.insert(scalarString(item)).second) merged.items.push_back(std::move(item));
        }
        base = std::move(merged);
        return;
      }
      case Rule::Logging:
        if (base.isMapping() && over.isMapping()) {
          const Node* b = base.find("driver");
          const Node* o = over.find("driver");
          if (b != nullptr && o != nullptr && scalarString(*b) != scalarString(*o)) {
            replace(base, std::move(over));
          } else {
            mergeMappings(base, std::move(over), path);
          }
          return;
        }
        break;
      case Rule::Build: {
        const auto asMap = [](Node n) {
          if (!n.isScalar()) return n;
          Node m = Node::mapping(n.mark);
          const Mark mark = n.mark;
          m.set("context", std::move(n), mark);
          return m;
        };
        if (over.isNull()) return;
        base = asMap(std::move(base));
        Node o = asMap(std::move(over));
        if (base.isMapping() && o.isMapping()) {
          mergeMappings(base, std::move(o), path);
          return;
        }
        over = std::move(o);
        break;
      }
      case Rule::DependsOn:
      case Rule::MapOfNull: {
        if (over.isNull()) return;
        const bool deps = ruleFor(path) == Rule::DependsOn;
        base = toMapping(std::move(base), deps);
        Node o = toMapping(std::move(over), deps);
        if (base.isMapping() && o.isMapping()) {
          mergeMappings(base, std::move(o), path);
          return;
        }
        over = std::move(o);
        break;
      }
      case Rule::IpamConfig:
        if (base.isSequence() && over.isSequence()) {
          ipamConfig(base, std::move(over), path);
          return;
        }
        break;
      case Rule::Default:
        break;
    }
    if (over.isNull()) return;
    if (base.isMapping()) {
      if (!over.isMapping()) {
        mismatch(base, over, path);
        return;
      }
      mergeMappings(base, std::move(over), path);
      return;
    }
    if (base.isSequence()) {
      if (!over.isSequence()) {
        mismatch(base, over, path);
        return;
      }
      for (Node& item : over.items) {
        if (!options_.keepTags) stripTags(item);
        base.items.push_back(std::move(item));
      }
      return;
    }
    replace(base, std::move(over));
  }

 private:
  // `KEY: !reset` inside an environment-like mapping removes KEY from the base list.
  static void dropReset(Node& list, Node& over) {
    if (!over.isMapping()) return;
    std::unordered_set<std::string> reset;
    for (const Entry& e : over.entries) {
      if (e.value.tag == NodeTag::Reset) reset.insert(e.key);
    }
    if (reset.empty()) return;
    list.items.erase(std::remove_if(list.items.begin(), list.items.end(),
                                    [&](const Node& n) {
                                      const std::string text = scalarString(n);
                                      return reset.count(text.substr(0, text.find_first_of("=:"))) != 0;
                                    }),
                     list.items.end());
    over.entries.erase(std::remove_if(over.entries.begin(), over.entries.end(),
                                      [](const Entry& e) { return e.value.tag == NodeTag::Reset; }),
                       over.entries.end());
  }

  void replace(Node& base, Node over) {
    if (!options_.keepTags) stripTags(over);
    base = std::move(over);
  }

  void mismatch(const Node& base, const Node& over, const Segments& path) {
    diag_.error(over.mark, "cannot override " + dotted(path) + ": a " + kindName(over) +
                               " cannot replace a " + kindName(base));
  }

  void positional(Node& base, Node over, Segments& path) {
    for (std::size_t i = 0; i < over.items.size(); ++i) {
      Node& o = over.items[i];
      if (i >= base.items.size()) {
        if (!options_.keepTags) stripTags(o);
        base.items.push_back(std::move(o));
        continue;
      }
      if (o.isNull() || ((o.isMapping() || o.isSequence()) && o.entries.empty() && o.items.empty())) {
        continue;  // a no-op placeholder keeps the base element
      }
      path.push_back(std::to_string(i));
      mergeValue(base.items[i], std::move(o), path);
      path.pop_back();
    }
  }

  // compose merges ipam pools by subnet: an override pool with a known subnet is merged into it,
  // others are added.
  void ipamConfig(Node& base, Node over, Segments& path) {
    if (over.items.empty()) return;
    const auto subnet = [](const Node& n) {
      const Node* s = n.isMapping() ? n.find("subnet") : nullptr;
      return s == nullptr ? std::string() : scalarString(*s);
    };
    Node result = Node::sequence(base.mark);
    for (Node& original : base.items) {
      for (const Node& o : over.items) {
        Node candidate = o;
        if (subnet(candidate) != subnet(original)) {
          const bool known = std::any_of(result.items.begin(), result.items.end(),
                                         [&](const Node& n) { return subnet(n) == subnet(candidate); });
          if (!known) {
            if (!options_.keepTags) stripTags(candidate);
            result.items.push_back(std::move(candidate));
          }
          continue;
        }
        Node merged = original;
        if (merged.isMapping() && candidate.isMapping()) {
          mergeMappings(merged, std::move(candidate), path);
        } else {
          merged = std::move(candidate);
        }
        const auto it = std::find_if(result.items.begin(), result.items.end(),
                                     [&](const Node& n) { return subnet(n) == subnet(merged); });
        if (it != result.items.end()) {
          *it = std::move(merged);
        } else {
          result.items.push_back(std::move(merged));
        }
      }
    }
    if (base.items.empty()) {
      for (Node& o : over.items) {
        if (!options_.keepTags) stripTags(o);
        result.items.push_back(std::move(o));
      }
    }
    base = std::move(result);
  }

  Diagnostics& diag_;
  const MergeOptions& options_;
};

}  // namespace

void stripTags(Node& node) {
  node.tag = NodeTag::None;
  for (Node& item : node.items) stripTags(item);
  node.entries.erase(std::remove_if(node.entries.begin(), node.entries.end(),
                                    [](const Entry& e) { return e.value.tag == NodeTag::Reset; }),
                     node.entries.end());
  for (Entry& e : node.entries) stripTags(e.value);
}

void mergeInto(Node& base, Node over, const std::vector<std::string>& path, Diagnostics& diag,
               const MergeOptions& options) {
  Segments p = path;
  Merger merger(diag, options);
  if (over.tag == NodeTag::Override || over.tag == NodeTag::Reset) {
    if (!options.keepTags) stripTags(over);
    base = std::move(over);
    return;
  }
  merger.mergeValue(base, std::move(over), p);
}

}  // namespace berth::spec::internal
