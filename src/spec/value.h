// spec::Value: a plain, ordered JSON/YAML-like value. It carries what the typed model cannot know the
// shape of (x-* extensions) and is the intermediate form of the canonical printer (render.h): the
// model is rendered into a Value, which is then written as YAML or JSON.
//
// Invariants: a Mapping keeps its keys in insertion order and never holds the same key twice when
// built through set(). Plain value type; no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace berth::spec {

class Value {
 public:
  enum class Kind { Null, Bool, Int, Float, String, Sequence, Mapping };
  using Entry = std::pair<std::string, Value>;

  Value() = default;
  static Value null() { return Value(); }
  static Value boolean(bool b);
  static Value integer(std::int64_t i);
  static Value number(double d);
  static Value string(std::string s);
  static Value sequence(std::vector<Value> items = {});
  static Value mapping(std::vector<Entry> entries = {});

  Kind kind() const { return kind_; }
  bool isNull() const { return kind_ == Kind::Null; }
  bool isMapping() const { return kind_ == Kind::Mapping; }
  bool isSequence() const { return kind_ == Kind::Sequence; }
  bool isString() const { return kind_ == Kind::String; }

  bool asBool() const { return bool_; }
  std::int64_t asInt() const { return int_; }
  double asFloat() const { return float_; }
  const std::string& asString() const { return string_; }
  const std::vector<Value>& items() const { return items_; }
  std::vector<Value>& items() { return items_; }
  const std::vector<Entry>& entries() const { return entries_; }
  std::vector<Entry>& entries() { return entries_; }

  // Mapping helpers. find() returns nullptr when absent (or when this is not a mapping).
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  // Sets key (replacing an existing entry in place); turns a Null into a Mapping.
  void set(std::string key, Value value);
  // Appends to a Sequence; turns a Null into a Sequence.
  void push(Value value);
  bool empty() const;  // an empty Sequence or Mapping

  friend bool operator==(const Value& a, const Value& b);

 private:
  Kind kind_ = Kind::Null;
  bool bool_ = false;
  std::int64_t int_ = 0;
  double float_ = 0;
  std::string string_;
  std::vector<Value> items_;
  std::vector<Entry> entries_;
};

}  // namespace berth::spec
