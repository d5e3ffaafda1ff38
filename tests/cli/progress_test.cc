// The progress views: what plain, json and quiet write for apply's events.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "cli/progress.h"

namespace berth::cli {
namespace {

// Runs `events` through a view of `mode` writing into a pipe; returns what it wrote.
std::string render(ProgressMode mode, const std::vector<plan::ProgressEvent>& events) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  {
    auto view = makeProgressView(mode, "Running", fds[1]);
    for (const auto& e : events) view->event(e);
    view->finish();
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  return out;
}

const std::vector<plan::ProgressEvent> kEvents = {
    {"Network", "p_default", plan::ProgressState::Working, "Creating", ""},
    {"Network", "p_default", plan::ProgressState::Done, "Created", ""},
    {"Image", "app:1", plan::ProgressState::Working, "Building", "Step 1/2 : FROM scratch"},
    {"Container", "p-web-1", plan::ProgressState::Failed, "Error", "boom"},
};

TEST(ProgressTest, PlainIsOneLinePerStep) {
  EXPECT_EQ(render(ProgressMode::Plain, kEvents),
            " Network p_default  Creating\n"
            " Network p_default  Created\n"
            " Image app:1  Building  Step 1/2 : FROM scratch\n"
            " Container p-web-1  Error\n");
}

TEST(ProgressTest, JsonIsOneObjectPerLine) {
  const std::string out = render(ProgressMode::Json, kEvents);
  std::size_t lines = 0;
  for (char c : out) lines += c == '\n' ? 1 : 0;
  EXPECT_EQ(lines, 4u);
  EXPECT_NE(
      out.find(
          "\"id\":\"Network p_default\",\"name\":\"p_default\",\"state\":\"done\",\"status\":\"Created\","
          "\"type\":\"Network\"}"),
      std::string::npos)
      << out;
  EXPECT_NE(out.find("\"detail\":\"boom\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"state\":\"error\""), std::string::npos) << out;
}

TEST(ProgressTest, QuietWritesNothing) { EXPECT_EQ(render(ProgressMode::Quiet, kEvents), ""); }

TEST(ProgressTest, TtyRedrawsATableInPlace) {
  const std::string out = render(ProgressMode::Tty, kEvents);
  EXPECT_NE(out.find("[+] Running 2/3"), std::string::npos) << out;
  EXPECT_NE(out.find("✔"), std::string::npos);
  EXPECT_NE(out.find("Network p_default  "), std::string::npos);
  EXPECT_NE(out.find("✘"), std::string::npos);
}

TEST(ProgressTest, ModesByName) {
  EXPECT_EQ(*parseProgressMode("plain"), ProgressMode::Plain);
  EXPECT_EQ(parseProgressMode("fancy").error().message(),
            "--progress: unknown mode \"fancy\" (auto, tty, plain, json, quiet)");
}

}  // namespace
}  // namespace berth::cli
