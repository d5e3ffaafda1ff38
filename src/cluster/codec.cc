// nlohmann::json lives here (and nowhere else in the cluster module). Every decoder catches the
// library's exceptions: nothing thrown by it leaves this file. Encoders cannot throw but for memory:
// invalid UTF-8 is replaced rather than refused (see codec.h).
#include "cluster/codec.h"

#include <fmt/core.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "base/strings.h"

namespace berth::cluster {
namespace {

using nlohmann::json;

// ---- Enums: the names model.h gives them, read back.

// The stored name of an UpdateState: model.h names None "" (nothing to show); stored, "none" reads
// better and cannot be mistaken for a field written empty by accident.
std::string_view updateStateText(UpdateState s) {
  return s == UpdateState::None ? std::string_view("none") : updateStateName(s);
}

// The lists of every value: a value added to an enum must be added here too, or it is written but
// refused when read back (codec_test round-trips every value it lists, so list it there as well).
constexpr std::array kAvailabilities = {Availability::Active, Availability::Drain};
constexpr std::array kUpdateStates = {
    UpdateState::None,        UpdateState::Updating,       UpdateState::Paused,    UpdateState::Completed,
    UpdateState::RollingBack, UpdateState::RollbackPaused, UpdateState::RolledBack};
constexpr std::array kDesiredStates = {DesiredState::Running, DesiredState::Shutdown};
constexpr std::array kTaskStates = {TaskState::Pending,  TaskState::Assigned, TaskState::Starting,
                                    TaskState::Running,  TaskState::Complete, TaskState::Failed,
                                    TaskState::Shutdown, TaskState::Orphaned, TaskState::Waiting};

template <class E, std::size_t N, class NameFn>
std::optional<E> parseEnum(std::string_view text, const std::array<E, N>& values, NameFn name) {
  for (const E value : values) {
    if (name(value) == text) return value;
  }
  return std::nullopt;
}

std::optional<Availability> parseAvailability(std::string_view text) {
  return parseEnum(text, kAvailabilities, availabilityName);
}
std::optional<UpdateState> parseUpdateState(std::string_view text) {
  return parseEnum(text, kUpdateStates, updateStateText);
}
std::optional<DesiredState> parseDesiredState(std::string_view text) {
  return parseEnum(text, kDesiredStates, desiredStateName);
}
std::optional<TaskState> parseTaskState(std::string_view text) {
  return parseEnum(text, kTaskStates, taskStateName);
}

// ---- Times: integer nanoseconds since the epoch. Exact where system_clock counts nanoseconds
// (libstdc++); elsewhere the clock's own resolution is all there is to keep anyway.

std::int64_t nanosOf(WallTime t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

WallTime wallTimeOf(std::int64_t nanos) {
  return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::nanoseconds(nanos)));
}

// ---- Writing

std::string dump(const json& j) {
  // `replace`: a string that is not UTF-8 (engine output cut mid-character) must not make a
  // decision impossible to store; it is stored with U+FFFD instead.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json labelsJson(const std::map<std::string, std::string>& labels) {
  json j = json::object();
  for (const auto& [key, value] : labels) j[key] = value;
  return j;
}

// ---- Reading

// The first thing wrong with a record: the field (a dotted path for nested objects) and what.
struct Problem {
  std::string field;
  std::string what;
};

// A value as an error message shows it: scalars as written, containers by their kind.
std::string shown(const json& v) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    constexpr std::size_t kMax = 40;
    return s.size() <= kMax ? berth::quoted(s) : berth::quoted(s.substr(0, kMax)) + "...";
  }
  if (v.is_object() || v.is_array()) return v.type_name();
  return dump(v);
}

// Reads the members of one JSON object into a record's fields. A field that is absent or null keeps
// the value it has (the struct's default); the first field that is present but wrong is recorded in
// `problem` and the rest are still read (harmlessly) so that decoders need no early returns.
class Reader {
 public:
  Reader(const json& object, std::string prefix, std::optional<Problem>& problem)
      : object_(object), prefix_(std::move(prefix)), problem_(problem) {}

  void read(const char* key, std::string& out) {
    const json* v = member(key);
    if (v == nullptr) return;
    if (!v->is_string()) return expected(key, "a string", *v);
    out = v->get<std::string>();
  }

  void read(const char* key, bool& out) {
    const json* v = member(key);
    if (v == nullptr) return;
    if (!v->is_boolean()) return expected(key, "true or false", *v);
    out = v->get<bool>();
  }

  void read(const char* key, int& out) { readInteger(key, out); }
  void read(const char* key, std::int64_t& out) { readInteger(key, out); }

  void read(const char* key, std::optional<int>& out) {
    if (member(key) == nullptr) return;
    int value = 0;
    if (readInteger(key, value)) out = value;
  }

  void read(const char* key, WallTime& out) {
    std::int64_t nanos = 0;
    if (member(key) != nullptr && readInteger(key, nanos)) out = wallTimeOf(nanos);
  }

  void read(const char* key, std::map<std::string, std::string>& out) {
    const json* v = member(key);
    if (v == nullptr) return;
    if (!v->is_object()) return expected(key, "an object", *v);
    std::map<std::string, std::string> labels;
    for (const auto& [k, value] : v->items()) {
      if (!value.is_string()) {
        return report(key, fmt::format("key {}: expected a string, got {}", berth::quoted(k), shown(value)));
      }
      labels[k] = value.get<std::string>();
    }
    out = std::move(labels);
  }

  template <class E>
  void readEnum(const char* key, E& out, std::optional<E> (*parse)(std::string_view)) {
    const json* v = member(key);
    if (v == nullptr) return;
    if (!v->is_string()) return expected(key, "a string", *v);
    const std::optional<E> value = parse(v->get_ref<const std::string&>());
    if (!value) return report(key, "unknown value " + shown(*v));
    out = *value;
  }

  // A nested object's reader; an absent (or null, or mistyped: reported) member reads as empty.
  Reader object(const char* key) {
    static const json kEmpty = json::object();
    const json* v = member(key);
    if (v != nullptr && !v->is_object()) expected(key, "an object", *v);
    const json& nested = v != nullptr && v->is_object() ? *v : kEmpty;
    return Reader(nested, prefix_ + key + ".", problem_);
  }

 private:
  const json* member(const char* key) const {
    const auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  template <class Int>
  bool readInteger(const char* key, Int& out) {
    const json* v = member(key);
    if (v == nullptr) return false;
    if (!v->is_number_integer()) {
      expected(key, "an integer", *v);
      return false;
    }
    // nlohmann reads non-negative integers as unsigned and negative ones as signed.
    if (v->is_number_unsigned()) {
      const auto n = v->get<std::uint64_t>();
      if (n > static_cast<std::uint64_t>(std::numeric_limits<Int>::max())) {
        report(key, fmt::format("{} is out of range", n));
        return false;
      }
      out = static_cast<Int>(n);
      return true;
    }
    const auto n = v->get<std::int64_t>();
    if (n < std::numeric_limits<Int>::min() || n > std::numeric_limits<Int>::max()) {
      report(key, fmt::format("{} is out of range", n));
      return false;
    }
    out = static_cast<Int>(n);
    return true;
  }

  void expected(const char* key, std::string_view what, const json& got) {
    report(key, fmt::format("expected {}, got {}", what, shown(got)));
  }

  void report(const char* key, std::string what) {
    if (!problem_) problem_ = Problem{prefix_ + key, std::move(what)};
  }

  const json& object_;
  std::string prefix_;
  std::optional<Problem>& problem_;
};

// "task abc123", or "task" while the record's key is not known (yet, or at all).
std::string recordName(std::string_view kind, std::string_view key) {
  return key.empty() ? std::string(kind) : fmt::format("{} {}", kind, key);
}

// Parses `text` as a JSON object; the error names the record kind only (its key is inside).
Result<json> parseObject(std::string_view kind, std::string_view text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    // what() reads "[json.exception.parse_error.101] parse error at ...": the bracket is noise.
    std::string_view what = e.what();
    if (const auto end = what.find("] "); !what.empty() && what.front() == '[' && end != what.npos) {
      what.remove_prefix(end + 2);
    }
    return fail(ErrorCode::Internal, fmt::format("{}: invalid JSON: {}", kind, what));
  }
  if (!j.is_object()) {
    return fail(ErrorCode::Internal, fmt::format("{}: expected a JSON object, got {}", kind, shown(j)));
  }
  return j;
}

// Runs `decode` (which fills a record through a Reader) and turns its problem into the error.
// `name` gives the record's name from what was decoded, so that the message names it when its key
// fields could be read.
template <class T, class DecodeFn, class NameFn>
Result<T> decodeRecord(std::string_view kind, std::string_view text, DecodeFn decode, NameFn name) {
  T record{};
  std::optional<Problem> problem;
  try {
    BERTH_ASSIGN_OR_RETURN(const json j, parseObject(kind, text));
    Reader reader(j, "", problem);
    decode(reader, record);
  } catch (const json::exception& e) {
    // Not expected (the reader checks every type before it converts); kept so that no exception
    // escapes whatever a future field does.
    return fail(ErrorCode::Internal, fmt::format("{}: {}", recordName(kind, name(record)), e.what()));
  }
  if (problem) {
    return fail(ErrorCode::Internal, fmt::format("{}: field {}: {}", recordName(kind, name(record)),
                                                 berth::quoted(problem->field), problem->what));
  }
  return record;
}

}  // namespace

// ---- Encoders. Every member is written (an absent optional is left out), keys as in model.h.

std::string toJson(const Host& host) {
  json facts = json::object();
  facts["hostname"] = host.facts.hostname;
  facts["engineVersion"] = host.facts.engineVersion;
  facts["ncpu"] = host.facts.ncpu;
  facts["memoryBytes"] = host.facts.memoryBytes;
  facts["engineLabels"] = labelsJson(host.facts.engineLabels);

  json j = json::object();
  j["name"] = host.name;
  j["id"] = host.id;
  j["index"] = host.index;
  j["url"] = host.url;
  j["labels"] = labelsJson(host.labels);
  j["availability"] = availabilityName(host.availability);
  j["facts"] = std::move(facts);
  j["addedAt"] = nanosOf(host.addedAt);
  return dump(j);
}

std::string toJson(const Stack& stack) {
  json j = json::object();
  j["name"] = stack.name;
  j["generation"] = stack.generation;
  j["createdAt"] = nanosOf(stack.createdAt);
  j["updatedAt"] = nanosOf(stack.updatedAt);
  j["removing"] = stack.removing;
  j["removeVolumes"] = stack.removeVolumes;
  return dump(j);
}

std::string toJson(const StackVersion& version) {
  json j = json::object();
  j["stack"] = version.stack;
  j["generation"] = version.generation;
  j["project"] = version.project;
  return dump(j);
}

std::string toJson(const ServiceRecord& service) {
  json j = json::object();
  j["stack"] = service.stack;
  j["name"] = service.name;
  j["specGeneration"] = service.specGeneration;
  j["previousGeneration"] = service.previousGeneration;
  j["forceCounter"] = service.forceCounter;
  if (service.replicas) j["replicas"] = *service.replicas;
  j["pinnedHost"] = service.pinnedHost;
  j["updateState"] = updateStateText(service.updateState);
  j["updateMessage"] = service.updateMessage;
  j["updateStartedAt"] = nanosOf(service.updateStartedAt);
  j["lastBatchAt"] = nanosOf(service.lastBatchAt);
  j["updateFailures"] = service.updateFailures;
  return dump(j);
}

std::string toJson(const Task& task) {
  json j = json::object();
  j["id"] = task.id;
  j["stack"] = task.stack;
  j["service"] = task.service;
  j["slot"] = task.slot;
  j["host"] = task.host;
  j["desired"] = desiredStateName(task.desired);
  j["state"] = taskStateName(task.state);
  j["error"] = task.error;
  if (task.exitCode) j["exitCode"] = *task.exitCode;
  j["containerId"] = task.containerId;
  j["specGeneration"] = task.specGeneration;
  j["forceCounter"] = task.forceCounter;
  j["replaces"] = task.replaces;
  j["notBefore"] = nanosOf(task.notBefore);
  j["createdAt"] = nanosOf(task.createdAt);
  j["stateSince"] = nanosOf(task.stateSince);
  j["runningSince"] = nanosOf(task.runningSince);
  j["restarts"] = task.restarts;
  j["windowStart"] = nanosOf(task.windowStart);
  j["crashLoop"] = task.crashLoop;
  return dump(j);
}

// ---- Decoders. The key fields are read first so that an error further down names the record.

Result<Host> hostFromJson(std::string_view text) {
  return decodeRecord<Host>(
      "host", text,
      [](Reader& r, Host& h) {
        r.read("name", h.name);
        r.read("id", h.id);
        r.read("index", h.index);
        r.read("url", h.url);
        r.read("labels", h.labels);
        r.readEnum("availability", h.availability, parseAvailability);
        Reader facts = r.object("facts");
        facts.read("hostname", h.facts.hostname);
        facts.read("engineVersion", h.facts.engineVersion);
        facts.read("ncpu", h.facts.ncpu);
        facts.read("memoryBytes", h.facts.memoryBytes);
        facts.read("engineLabels", h.facts.engineLabels);
        r.read("addedAt", h.addedAt);
      },
      [](const Host& h) { return h.name; });
}

Result<Stack> stackFromJson(std::string_view text) {
  return decodeRecord<Stack>(
      "stack", text,
      [](Reader& r, Stack& s) {
        r.read("name", s.name);
        r.read("generation", s.generation);
        r.read("createdAt", s.createdAt);
        r.read("updatedAt", s.updatedAt);
        r.read("removing", s.removing);
        r.read("removeVolumes", s.removeVolumes);
      },
      [](const Stack& s) { return s.name; });
}

Result<StackVersion> stackVersionFromJson(std::string_view text) {
  return decodeRecord<StackVersion>(
      "stack version", text,
      [](Reader& r, StackVersion& v) {
        r.read("stack", v.stack);
        r.read("generation", v.generation);
        r.read("project", v.project);
      },
      [](const StackVersion& v) {
        return v.stack.empty() ? std::string() : fmt::format("{}/{}", v.stack, v.generation);
      });
}

Result<ServiceRecord> serviceFromJson(std::string_view text) {
  return decodeRecord<ServiceRecord>(
      "service", text,
      [](Reader& r, ServiceRecord& s) {
        r.read("stack", s.stack);
        r.read("name", s.name);
        r.read("specGeneration", s.specGeneration);
        r.read("previousGeneration", s.previousGeneration);
        r.read("forceCounter", s.forceCounter);
        r.read("replicas", s.replicas);
        r.read("pinnedHost", s.pinnedHost);
        r.readEnum("updateState", s.updateState, parseUpdateState);
        r.read("updateMessage", s.updateMessage);
        r.read("updateStartedAt", s.updateStartedAt);
        r.read("lastBatchAt", s.lastBatchAt);
        r.read("updateFailures", s.updateFailures);
      },
      [](const ServiceRecord& s) {
        return s.stack.empty() && s.name.empty() ? std::string() : fmt::format("{}/{}", s.stack, s.name);
      });
}

Result<Task> taskFromJson(std::string_view text) {
  return decodeRecord<Task>(
      "task", text,
      [](Reader& r, Task& t) {
        r.read("id", t.id);
        r.read("stack", t.stack);
        r.read("service", t.service);
        r.read("slot", t.slot);
        r.read("host", t.host);
        r.readEnum("desired", t.desired, parseDesiredState);
        r.readEnum("state", t.state, parseTaskState);
        r.read("error", t.error);
        r.read("exitCode", t.exitCode);
        r.read("containerId", t.containerId);
        r.read("specGeneration", t.specGeneration);
        r.read("forceCounter", t.forceCounter);
        r.read("replaces", t.replaces);
        r.read("notBefore", t.notBefore);
        r.read("createdAt", t.createdAt);
        r.read("stateSince", t.stateSince);
        r.read("runningSince", t.runningSince);
        r.read("restarts", t.restarts);
        r.read("windowStart", t.windowStart);
        r.read("crashLoop", t.crashLoop);
      },
      [](const Task& t) { return t.id; });
}

}  // namespace berth::cluster
