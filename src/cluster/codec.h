// The stored form of the controller's records (cluster/model.h): one JSON object per record, as the
// SQLite store keeps them in its `json` columns (and as an etcd store would keep them as values).
//
// Format, so that a database written by one berthd is read by the next:
//   - keys are the struct members' names ("specGeneration"); EngineFacts is nested under "facts";
//   - times (WallTime) are integer nanoseconds since the Unix epoch, so they round-trip exactly;
//   - enums are their lower-case names (availabilityName, taskStateName, ...; UpdateState::None is
//     "none");
//   - an absent std::optional is an absent key; every other member is always written.
// Reading is forward compatible: keys this build does not know are ignored, and missing keys (or
// null) leave the struct's default. A key that is present with the wrong type, an out-of-range
// integer or an enum name this build does not know is an error, not a default: a record that is
// read wrong would be written back wrong.
//
// Strings that are not valid UTF-8 (JSON cannot carry them) are written with U+FFFD in place of each
// invalid byte sequence: the only case in which a record does not round-trip exactly.
//
// Errors: ErrorCode::Internal, naming the record and what is wrong:
//   task abc123: field "state": unknown value "bogus"
//   host h1: field "facts.ncpu": expected an integer, got string
//   service web/api: invalid JSON: parse error at line 1, column 5: ...
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"
#include "cluster/model.h"

namespace berth::cluster {

std::string toJson(const Host& host);
std::string toJson(const Stack& stack);
std::string toJson(const StackVersion& version);
std::string toJson(const ServiceRecord& service);
std::string toJson(const Task& task);

Result<Host> hostFromJson(std::string_view text);
Result<Stack> stackFromJson(std::string_view text);
Result<StackVersion> stackVersionFromJson(std::string_view text);
Result<ServiceRecord> serviceFromJson(std::string_view text);
Result<Task> taskFromJson(std::string_view text);

}  // namespace berth::cluster
