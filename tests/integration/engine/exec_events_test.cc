// Exec (create, start detached and attached with and without a TTY, stdin with half-close, exit
// codes, inspect) and the events stream (filters, since/until, stopping).
#include <fcntl.h>
#include <unistd.h>

#include "engine_fixture.h"

namespace berth::engine::testing {
namespace {

using ExecTest = EngineTest;
using EventsTest = EngineTest;

TEST_F(ExecTest, DetachedExecRunsAndReportsItsExitCode) {
  const std::string id = startSleeper(name("exec"));
  ExecCreate spec;
  spec.cmd = {"sh", "-c", "echo $GREETING > /tmp/out; exit 4"};
  spec.env = {"GREETING=hi"};
  spec.workingDir = "/tmp";
  auto exec = engine().createExec(id, spec);
  ASSERT_TRUE(exec) << exec.error().message();
  auto before = engine().inspectExec(*exec);
  ASSERT_TRUE(before);
  EXPECT_FALSE(before->running);
  EXPECT_FALSE(before->exitCode.has_value());
  EXPECT_EQ(before->containerId, id);
  ASSERT_TRUE(engine().startExecDetached(*exec));
  ASSERT_TRUE(
      berth::testing::waitUntil([&] { return engine().inspectExec(*exec)->exitCode.has_value(); }, 10s));
  EXPECT_EQ(engine().inspectExec(*exec)->exitCode, 4);
  EXPECT_EQ(runIn(engine(), id, {"cat", "/tmp/out"})->out, "hi\n");
}

TEST_F(ExecTest, AttachedExecSeparatesStreamsAndForwardsStdinUntilHalfClose) {
  const std::string id = startSleeper(name("exec"));
  auto r = runIn(engine(), id, {"sh", "-c", "cat; echo stdin-closed >&2; exit 7"},
                 std::string("line 1\nline 2\n"));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->out, "line 1\nline 2\n");
  EXPECT_EQ(r->err, "stdin-closed\n");
  EXPECT_EQ(r->exitCode, 7);
}

TEST_F(ExecTest, AttachedExecWithTty) {
  const std::string id = startSleeper(name("exectty"));
  auto r = runIn(engine(), id, {"sh", "-c", "read x; echo \"got:$x\"; tty; echo err >&2"},
                 std::string("hey\n"), true);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->err, "");  // a TTY has one stream
  EXPECT_NE(r->out.find("got:hey\r\n"), std::string::npos) << r->out;
  EXPECT_NE(r->out.find("/dev/pts/"), std::string::npos) << r->out;
  EXPECT_NE(r->out.find("err\r\n"), std::string::npos) << r->out;
  EXPECT_EQ(r->exitCode, 0);
}

TEST_F(ExecTest, LargeStdinAndOutputStreamThrough) {
  const std::string id = startSleeper(name("execbig"));
  std::string input;
  for (int i = 0; input.size() < 2 * 1024 * 1024; ++i) input += "row " + std::to_string(i) + "\n";
  auto r = runIn(engine(), id, {"sh", "-c", "cat; cat /proc/version >&2"}, input);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->out.size(), input.size());
  EXPECT_TRUE(r->out == input);
  EXPECT_NE(r->err.find("Linux"), std::string::npos);
}

TEST_F(ExecTest, StdinFromAFileDescriptor) {
  const std::string id = startSleeper(name("execfd"));
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::thread writer([w = fds[1]] {
    for (int i = 0; i < 3; ++i) {
      const std::string line = "chunk" + std::to_string(i) + "\n";
      [[maybe_unused]] auto n = ::write(w, line.data(), line.size());
      std::this_thread::sleep_for(50ms);
    }
    ::close(w);
  });
  ExecCreate spec;
  spec.cmd = {"sh", "-c", "wc -l"};
  spec.attachStdin = true;
  auto exec = engine().createExec(id, spec);
  ASSERT_TRUE(exec);
  auto stream = engine().startExecAttached(*exec, false);
  ASSERT_TRUE(stream) << stream.error().message();
  std::string out;
  AttachIo io;
  io.stdinFd = fds[0];
  io.onOutput = [&](OutputStream, std::string_view d) { out += d; };
  ASSERT_TRUE(pumpAttached(**stream, io, {}));
  writer.join();
  ::close(fds[0]);
  EXPECT_EQ(out, "3\n");
}

TEST_F(ExecTest, OutputEndsWhenTheProcessExitsEvenIfStdinStaysOpen) {
  const std::string id = startSleeper(name("execopen"));
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);  // nobody ever writes or closes the write end during the exec
  ExecCreate spec;
  spec.cmd = {"echo", "bye"};
  spec.attachStdin = true;
  auto exec = engine().createExec(id, spec);
  ASSERT_TRUE(exec);
  auto stream = engine().startExecAttached(*exec, false);
  ASSERT_TRUE(stream);
  std::string out;
  AttachIo io;
  io.stdinFd = fds[0];
  io.onOutput = [&](OutputStream, std::string_view d) { out += d; };
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(pumpAttached(**stream, io, {}));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(out, "bye\n");
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_F(ExecTest, ExecInAStoppedContainerIsAConflict) {
  auto c = engine().createContainer(busybox(name("stopped"), {"true"}));
  ASSERT_TRUE(c);
  auto exec = engine().createExec(c->id, ExecCreate{{"true"}});
  ASSERT_FALSE(exec);
  EXPECT_EQ(exec.error().code(), ErrorCode::Conflict);
  EXPECT_EQ(exec.error().message(),
            engineError("create exec in container " + c->id, "Container " + c->id + " is not running", 409));
}

TEST_F(ExecTest, StartingAMissingExecIsNotFound) {
  auto s =
      engine().startExecAttached("0000000000000000000000000000000000000000000000000000000000000000", false);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::NotFound);
}

std::string secondsNow() {
  return std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

TEST_F(EventsTest, ReplaysAWindowWithFilters) {
  const std::string since = secondsNow();
  auto c = engine().createContainer(busybox(name("events"), {"sh", "-c", "exit 2"}));
  ASSERT_TRUE(c);
  ASSERT_TRUE(engine().startContainer(c->id));
  EXPECT_EQ(waitExit(c->id), 2);
  ASSERT_TRUE(engine().removeContainer(c->id, {}));
  std::this_thread::sleep_for(1100ms);  // `until` has second resolution: let the window close
  EventsOptions options;
  options.since = since;
  options.until = secondsNow();
  options.filters = {{"type", {"container"}}, {"container", {c->id}}};
  std::vector<std::string> actions;
  std::string exitCode;
  auto s = engine().events(options,
                           [&](const Event& e) {
                             EXPECT_EQ(e.type, "container");
                             EXPECT_EQ(e.actorId, c->id);
                             actions.push_back(e.action);
                             if (e.action == "die") exitCode = e.attributes.at("exitCode");
                             return true;
                           },
                           {});
  ASSERT_TRUE(s) << s.error().message();  // ends by itself at `until`
  EXPECT_EQ(actions, (std::vector<std::string>{"create", "start", "die", "destroy"}));
  EXPECT_EQ(exitCode, "2");
}

TEST_F(EventsTest, LiveStreamStopsWhenTheCallbackSaysSo) {
  const std::string containerName = name("live");
  std::optional<Status> result;
  std::vector<std::string> seen;
  // The stream replays from before the container exists, so when it starts does not matter.
  const std::string since = secondsNow();
  std::thread watcher([&] {
    EventsOptions options;
    options.since = since;
    options.filters = {{"label", {std::string(kTestLabel) + "=" + labels().at(kTestLabel)}}};
    result = engine().events(options,
                             [&](const Event& e) {
                               seen.push_back(e.action + " " + e.attributes.at("name"));
                               return e.action != "start";
                             },
                             {});
  });
  startSleeper(containerName);
  watcher.join();
  ASSERT_TRUE(result.has_value());
  EXPECT_TRUE(*result) << result->error().message();
  EXPECT_EQ(seen, (std::vector<std::string>{"create " + containerName, "start " + containerName}));
}

TEST_F(EventsTest, IdleStreamStopsPromptlyOnRequest) {
  std::stop_source stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(300ms);
    stop.request_stop();
  });
  const auto start = std::chrono::steady_clock::now();
  EventsOptions options;
  options.filters = {{"label", {"nothing.has=this-label"}}};
  auto s = engine().events(
      options, [](const Event&) { return true; }, stop.get_token());
  stopper.join();
  EXPECT_TRUE(s) << s.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST_F(EventsTest, BadSinceIsRefused) {
  EventsOptions options;
  options.since = "notatime";
  auto s = engine().events(options, [](const Event&) { return true; }, {});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::Internal);
  EXPECT_EQ(s.error().message(),
            engineError("events", "strconv.ParseInt: parsing \"notatime\": invalid syntax", 500));
}

TEST_F(EventsTest, IdleStreamOutlivesTheRequestTimeout) {
  // dockerd answers an events request only with its first event: an idle stream must not time out.
  EngineOptions options;
  options.requestTimeout = 500ms;
  auto quick = engineAt(host().unixSocketUrl(), options);
  std::stop_source stop;
  // The stream must stay idle for longer than the request timeout before its event comes; `since`
  // replays the event should the stream only start after it happened (a loaded machine).
  const std::string since = secondsNow();
  std::thread later([&] {
    std::this_thread::sleep_for(1500ms);
    startSleeper(name("late"));
  });
  EventsOptions filter;
  filter.since = since;
  filter.filters = {{"label", {std::string(kTestLabel) + "=" + labels().at(kTestLabel)}},
                    {"event", {"start"}}};
  std::string seen;
  auto s = quick->events(
      filter,
      [&](const Event& e) {
        seen = e.action;
        return false;
      },
      stop.get_token());
  later.join();
  EXPECT_TRUE(s) << s.error().message();
  EXPECT_EQ(seen, "start");
}

}  // namespace
}  // namespace berth::engine::testing
