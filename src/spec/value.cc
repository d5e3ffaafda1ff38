#include "spec/value.h"

namespace berth::spec {

Value Value::boolean(bool b) {
  Value v;
  v.kind_ = Kind::Bool;
  v.bool_ = b;
  return v;
}

Value Value::integer(std::int64_t i) {
  Value v;
  v.kind_ = Kind::Int;
  v.int_ = i;
  return v;
}

Value Value::number(double d) {
  Value v;
  v.kind_ = Kind::Float;
  v.float_ = d;
  return v;
}

Value Value::string(std::string s) {
  Value v;
  v.kind_ = Kind::String;
  v.string_ = std::move(s);
  return v;
}

Value Value::sequence(std::vector<Value> items) {
  Value v;
  v.kind_ = Kind::Sequence;
  v.items_ = std::move(items);
  return v;
}

Value Value::mapping(std::vector<Entry> entries) {
  Value v;
  v.kind_ = Kind::Mapping;
  v.entries_ = std::move(entries);
  return v;
}

const Value* Value::find(std::string_view key) const {
  if (kind_ != Kind::Mapping) return nullptr;
  for (const auto& [k, v] : entries_) {
    if (k == key) return &v;
  }
  return nullptr;
}

Value* Value::find(std::string_view key) {
  if (kind_ != Kind::Mapping) return nullptr;
  for (auto& [k, v] : entries_) {
    if (k == key) return &v;
  }
  return nullptr;
}

void Value::set(std::string key, Value value) {
  if (kind_ == Kind::Null) kind_ = Kind::Mapping;
  if (Value* existing = find(key)) {
    *existing = std::move(value);
    return;
  }
  entries_.emplace_back(std::move(key), std::move(value));
}

void Value::push(Value value) {
  if (kind_ == Kind::Null) kind_ = Kind::Sequence;
  items_.push_back(std::move(value));
}

bool Value::empty() const {
  return (kind_ == Kind::Sequence && items_.empty()) || (kind_ == Kind::Mapping && entries_.empty());
}

bool operator==(const Value& a, const Value& b) {
  if (a.kind_ != b.kind_) return false;
  switch (a.kind_) {
    case Value::Kind::Null:
      return true;
    case Value::Kind::Bool:
      return a.bool_ == b.bool_;
    case Value::Kind::Int:
      return a.int_ == b.int_;
    case Value::Kind::Float:
      return a.float_ == b.float_;
    case Value::Kind::String:
      return a.string_ == b.string_;
    case Value::Kind::Sequence:
      return a.items_ == b.items_;
    case Value::Kind::Mapping:
      return a.entries_ == b.entries_;
  }
  return false;
}

}  // namespace berth::spec
