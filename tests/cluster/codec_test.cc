// The stored form of the controller's records: every field round-trips, the format is pinned (a
// database written by one berthd is read by the next), unknown fields are ignored and missing ones
// default, and damaged records are refused with an error that names them.
#include "cluster/codec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>

namespace berth::cluster {
namespace {

using ::testing::StartsWith;

WallTime at(std::int64_t nanos) {
  return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::nanoseconds(nanos)));
}

Host fullHost() {
  return Host{
      .name = "h1",
      .id = "0123456789ab",
      .index = 7,
      .url = "tcp://10.0.0.2:2376",
      .labels = {{"zone", "eu"}, {"disk", "ssd"}},
      .availability = Availability::Drain,
      .facts = {.hostname = "node-1",
                .engineVersion = "24.0.7",
                .ncpu = 8,
                .memoryBytes = std::numeric_limits<std::int64_t>::max(),
                .engineLabels = {{"com.example.rack", "r2"}}},
      .addedAt = at(1714557600123456789),
  };
}

Stack fullStack() {
  return Stack{.name = "web",
               .generation = 3,
               .createdAt = at(1714557600123456789),
               .updatedAt = at(1714557700000000001),
               .removing = true,
               .removeVolumes = true};
}

StackVersion fullVersion() {
  return StackVersion{
      .stack = "web",
      .generation = 3,
      .project = "name: web\nservices:\n  api:\n    image: \"busybox\"\n    command: [\"echo\", \"é\\n\"]\n"};
}

ServiceRecord fullService() {
  return ServiceRecord{.stack = "web",
                       .name = "api",
                       .specGeneration = 3,
                       .previousGeneration = 2,
                       .forceCounter = 4,
                       .replicas = 0,  // set to zero is not absent
                       .pinnedHost = "h1",
                       .updateState = UpdateState::RollbackPaused,
                       .updateMessage = "task api.2 failed: exit 1",
                       .updateStartedAt = at(1714557600000000005),
                       .lastBatchAt = at(1714557601000000006),
                       .updateFailures = 2};
}

Task fullTask() {
  return Task{.id = "abc123def456",
              .stack = "web",
              .service = "api",
              .slot = 2,
              .host = "h1",
              .desired = DesiredState::Shutdown,
              .state = TaskState::Failed,
              .error = "exit 137\n\"OOM\"",
              .exitCode = -1,
              .containerId = "f00dfeed",
              .specGeneration = 3,
              .forceCounter = 4,
              .replaces = "0000aaaabbbb",
              .notBefore = at(1714557602000000001),
              .createdAt = at(1714557600000000002),
              .stateSince = at(1714557601000000003),
              .runningSince = at(-1000000007),  // before the epoch, too
              .restarts = 2,
              .windowStart = at(1714557599000000005),
              .crashLoop = 3};
}

template <class T, class Decode>
void expectRoundTrip(const T& record, Decode decode) {
  const std::string text = toJson(record);
  Result<T> back = decode(text);
  ASSERT_TRUE(back) << back.error().message() << "\n" << text;
  EXPECT_EQ(*back, record) << text;
}

template <class T>
std::string errorOf(const Result<T>& result) {
  if (result) return "(no error)";
  EXPECT_EQ(result.error().code(), ErrorCode::Internal) << result.error().message();
  return result.error().message();
}

TEST(CodecTest, EveryRecordRoundTripsWithEveryFieldSet) {
  expectRoundTrip(fullHost(), hostFromJson);
  expectRoundTrip(fullStack(), stackFromJson);
  expectRoundTrip(fullVersion(), stackVersionFromJson);
  expectRoundTrip(fullService(), serviceFromJson);
  expectRoundTrip(fullTask(), taskFromJson);
}

TEST(CodecTest, DefaultRecordsRoundTrip) {
  expectRoundTrip(Host{}, hostFromJson);
  expectRoundTrip(Stack{}, stackFromJson);
  expectRoundTrip(StackVersion{}, stackVersionFromJson);
  expectRoundTrip(ServiceRecord{}, serviceFromJson);
  expectRoundTrip(Task{}, taskFromJson);
}

TEST(CodecTest, EveryEnumValueRoundTrips) {
  for (const Availability a : {Availability::Active, Availability::Drain}) {
    Host host = fullHost();
    host.availability = a;
    expectRoundTrip(host, hostFromJson);
  }
  for (const UpdateState s :
       {UpdateState::None, UpdateState::Updating, UpdateState::Paused, UpdateState::Completed,
        UpdateState::RollingBack, UpdateState::RollbackPaused, UpdateState::RolledBack}) {
    ServiceRecord service = fullService();
    service.updateState = s;
    expectRoundTrip(service, serviceFromJson);
  }
  for (const DesiredState d : {DesiredState::Running, DesiredState::Shutdown}) {
    Task task = fullTask();
    task.desired = d;
    expectRoundTrip(task, taskFromJson);
  }
  for (const TaskState s :
       {TaskState::Pending, TaskState::Assigned, TaskState::Starting, TaskState::Running, TaskState::Complete,
        TaskState::Failed, TaskState::Shutdown, TaskState::Orphaned, TaskState::Waiting}) {
    Task task = fullTask();
    task.state = s;
    expectRoundTrip(task, taskFromJson);
  }
}

// The stored format itself: changing it breaks every database already written.
TEST(CodecTest, StoredFormatIsPinned) {
  EXPECT_EQ(toJson(fullStack()),
            R"({"createdAt":1714557600123456789,"generation":3,"name":"web","removeVolumes":true,)"
            R"("removing":true,"updatedAt":1714557700000000001})");
  EXPECT_EQ(toJson(fullTask()),
            R"({"containerId":"f00dfeed","crashLoop":3,"createdAt":1714557600000000002,"desired":"shutdown",)"
            R"("error":"exit 137\n\"OOM\"","exitCode":-1,"forceCounter":4,"host":"h1","id":"abc123def456",)"
            R"("notBefore":1714557602000000001,"replaces":"0000aaaabbbb","restarts":2,"runningSince":-1000000007,)"
            R"("service":"api","slot":2,"specGeneration":3,"stack":"web","state":"failed",)"
            R"("stateSince":1714557601000000003,"windowStart":1714557599000000005})");
  EXPECT_EQ(toJson(fullHost()),
            R"({"addedAt":1714557600123456789,"availability":"drain","facts":{"engineLabels":)"
            R"({"com.example.rack":"r2"},"engineVersion":"24.0.7","hostname":"node-1",)"
            R"("memoryBytes":9223372036854775807,"ncpu":8},"id":"0123456789ab","index":7,)"
            R"("labels":{"disk":"ssd","zone":"eu"},"name":"h1","url":"tcp://10.0.0.2:2376"})");
  EXPECT_EQ(toJson(ServiceRecord{.stack = "web", .name = "api"}),
            R"({"forceCounter":0,"lastBatchAt":0,"name":"api","pinnedHost":"","previousGeneration":0,)"
            R"("specGeneration":0,"stack":"web","updateFailures":0,"updateMessage":"","updateStartedAt":0,)"
            R"("updateState":"none"})");
  EXPECT_EQ(toJson(StackVersion{.stack = "web", .generation = 1, .project = "name: web\n"}),
            R"({"generation":1,"project":"name: web\n","stack":"web"})");
}

TEST(CodecTest, AbsentOptionalsStayAbsentAndZeroIsKept) {
  Task task = fullTask();
  task.exitCode.reset();
  EXPECT_EQ(toJson(task).find("exitCode"), std::string::npos);
  expectRoundTrip(task, taskFromJson);
  task.exitCode = 0;
  expectRoundTrip(task, taskFromJson);

  ServiceRecord service = fullService();
  service.replicas.reset();
  EXPECT_EQ(toJson(service).find("replicas"), std::string::npos);
  expectRoundTrip(service, serviceFromJson);
}

TEST(CodecTest, MissingOrNullFieldsTakeTheDefaults) {
  auto task = taskFromJson(R"({"id":"abc","state":null,"exitCode":null})");
  ASSERT_TRUE(task) << task.error().message();
  EXPECT_EQ(*task, Task{.id = "abc"});

  auto host = hostFromJson(R"({"name":"h1","facts":{"ncpu":2}})");
  ASSERT_TRUE(host) << host.error().message();
  EXPECT_EQ(*host, (Host{.name = "h1", .facts = {.ncpu = 2}}));

  auto service = serviceFromJson("{}");
  ASSERT_TRUE(service) << service.error().message();
  EXPECT_EQ(*service, ServiceRecord{});
}

// A newer berthd may add fields; this one reads what it knows and ignores the rest.
TEST(CodecTest, UnknownFieldsAreIgnored) {
  auto task = taskFromJson(
      R"({"id":"abc","state":"running","futureField":{"nested":[1,2,3]},"ports":["80/tcp"],"slot":3})");
  ASSERT_TRUE(task) << task.error().message();
  EXPECT_EQ(*task, (Task{.id = "abc", .slot = 3, .state = TaskState::Running}));

  auto host = hostFromJson(R"({"name":"h1","facts":{"ncpu":2,"gpus":4},"region":"eu"})");
  ASSERT_TRUE(host) << host.error().message();
  EXPECT_EQ(*host, (Host{.name = "h1", .facts = {.ncpu = 2}}));
}

TEST(CodecTest, UnknownEnumValueNamesTheRecordAndField) {
  EXPECT_EQ(errorOf(taskFromJson(R"({"id":"abc123","state":"bogus"})")),
            R"(task abc123: field "state": unknown value "bogus")");
  EXPECT_EQ(errorOf(taskFromJson(R"({"id":"abc123","desired":"Running"})")),
            R"(task abc123: field "desired": unknown value "Running")");
  EXPECT_EQ(errorOf(hostFromJson(R"({"name":"h1","availability":"pause"})")),
            R"(host h1: field "availability": unknown value "pause")");
  // UpdateState::None is stored as "none"; model.h's display name "" is not a stored value.
  EXPECT_EQ(errorOf(serviceFromJson(R"({"stack":"web","name":"api","updateState":""})")),
            R"(service web/api: field "updateState": unknown value "")");
}

TEST(CodecTest, WrongTypesAreErrorsNotDefaults) {
  EXPECT_EQ(errorOf(hostFromJson(R"({"name":"h1","facts":{"ncpu":"4"}})")),
            R"(host h1: field "facts.ncpu": expected an integer, got "4")");
  EXPECT_EQ(errorOf(hostFromJson(R"({"name":"h1","facts":"x"})")),
            R"(host h1: field "facts": expected an object, got "x")");
  EXPECT_EQ(errorOf(hostFromJson(R"({"name":"h1","labels":{"zone":1}})")),
            R"(host h1: field "labels": key "zone": expected a string, got 1)");
  EXPECT_EQ(errorOf(hostFromJson(R"({"name":"h1","labels":["zone"]})")),
            R"(host h1: field "labels": expected an object, got array)");
  EXPECT_EQ(errorOf(stackFromJson(R"({"name":"web","removing":1})")),
            R"(stack web: field "removing": expected true or false, got 1)");
  EXPECT_EQ(errorOf(taskFromJson(R"({"id":"abc","slot":1.5})")),
            R"(task abc: field "slot": expected an integer, got 1.5)");
  EXPECT_EQ(errorOf(taskFromJson(R"({"id":"abc","createdAt":"2024-05-01T10:00:00Z"})")),
            R"(task abc: field "createdAt": expected an integer, got "2024-05-01T10:00:00Z")");
  EXPECT_EQ(errorOf(stackVersionFromJson(R"({"stack":"web","generation":2,"project":{}})")),
            R"(stack version web/2: field "project": expected a string, got object)");
  // The first problem is the one reported, and the key read so far names the record.
  EXPECT_EQ(errorOf(taskFromJson(R"({"id":5,"state":"bogus"})")),
            R"(task: field "id": expected a string, got 5)");
}

TEST(CodecTest, OutOfRangeIntegersAreErrors) {
  EXPECT_EQ(errorOf(taskFromJson(R"({"id":"abc","slot":3000000000})")),
            R"(task abc: field "slot": 3000000000 is out of range)");
  EXPECT_EQ(errorOf(taskFromJson(R"({"id":"abc","exitCode":-3000000000})")),
            R"(task abc: field "exitCode": -3000000000 is out of range)");
  EXPECT_EQ(errorOf(stackFromJson(R"({"name":"web","generation":9223372036854775808})")),
            R"(stack web: field "generation": 9223372036854775808 is out of range)");
  // Beyond uint64, nlohmann reads a float: still not an integer.
  EXPECT_EQ(errorOf(stackFromJson(R"({"name":"web","generation":100000000000000000000})")),
            R"(stack web: field "generation": expected an integer, got 1e+20)");
}

TEST(CodecTest, BadJsonIsAnErrorNamingTheKind) {
  EXPECT_THAT(errorOf(taskFromJson("{")), StartsWith("task: invalid JSON: parse error at line 1, column 2"));
  EXPECT_THAT(errorOf(hostFromJson("")), StartsWith("host: invalid JSON: "));
  EXPECT_THAT(errorOf(stackFromJson(R"({"name":"web"} trailing)")), StartsWith("stack: invalid JSON: "));
  EXPECT_EQ(errorOf(taskFromJson("[]")), "task: expected a JSON object, got array");
  EXPECT_EQ(errorOf(serviceFromJson("null")), "service: expected a JSON object, got null");
  EXPECT_EQ(errorOf(stackVersionFromJson(R"("web")")), R"(stack version: expected a JSON object, got "web")");
}

// JSON carries only UTF-8: a string that is not (engine output cut mid-character) is stored with
// U+FFFD for the bad bytes rather than refused, so the decision it belongs to can still be stored.
TEST(CodecTest, InvalidUtf8IsReplacedNotRefused) {
  Task task = fullTask();
  task.error = "bad \xff byte";
  auto back = taskFromJson(toJson(task));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->error, "bad \xEF\xBF\xBD byte");
}

}  // namespace
}  // namespace berth::cluster
