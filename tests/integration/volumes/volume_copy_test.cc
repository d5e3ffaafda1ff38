// `berth volume ls / backup / restore / move` against real engines: a volume holding many files,
// nested directories, a symlink, a hard link, modes, owners and a multi-MB file is backed up
// (plain and zstd), restored on another engine and moved between two engines, and must come out
// identical (a manifest of every path's type, mode, owner, size, link target and SHA-256, made inside
// containers); the containers that write to it are stopped for the copy and run again afterwards;
// bad input (an unknown volume, a missing, corrupt or truncated backup, a full target, a target
// that already has the volume, a volume still in use) fails with a clear message and loses nothing.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "base/files.h"
#include "base/strings.h"
#include "engine/endpoint.h"
#include "engine/engine.h"
#include "harness/background_process.h"
#include "harness/berth_binary.h"
#include "harness/busybox_image.h"
#include "harness/names.h"
#include "harness/subprocess.h"
#include "harness/temp_dir.h"
#include "harness/test_host.h"
#include "harness/volume_probe.h"
#include "harness/wait.h"

namespace berth::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kCompose = R"(
services:
  store:
    image: busybox
    command: [sleep, "600"]
    stop_signal: SIGKILL
    volumes: [data:/data]
volumes:
  data: {}
)";

// Fills /data with what a real volume holds.
constexpr const char* kFill = R"(set -e
cd /data
mkdir -p deep/er/still/deeper private
for i in $(seq 1 150); do echo "file $i" > "deep/f$i.txt"; done
for i in $(seq 1 50); do printf 'x%.0s' $(seq 1 $i) > "deep/er/g$i"; done
dd if=/dev/urandom of=big.bin bs=1024 count=3072 2>/dev/null
: > empty
echo secret > private/key
chmod 600 private/key
chmod 700 private
chown -R 1234:5678 private
chown 42:43 deep/f7.txt
ln -s deep/f1.txt link-to-f1
ln -s /nowhere dangling
ln big.bin big-hardlink.bin
echo "with spaces" > "name with spaces.txt"
)";

class VolumeCopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source_ = &sharedEngine();
    project_ = uniqueName("v");
    dir_.write("compose.yaml", kCompose);
    source_engine_ = engineAt(source_->unixSocketUrl());
  }

  void TearDown() override {
    (void)berth({"down", "-v", "-t", "0"});
    (void)source_engine_->removeVolume(volume(), true);
  }

  static std::unique_ptr<engine::Engine> engineAt(const std::string& url) {
    auto endpoint = engine::parseEndpoint(url);
    EXPECT_TRUE(endpoint);
    auto e = engine::makeEngine(*endpoint);
    EXPECT_TRUE(e);
    return std::move(*e);
  }

  // A second engine (a namespace host of its own, with busybox), started on first use.
  TestHost& other() {
    if (!other_) {
      auto started = TestHost::start(HostOptions{});
      EXPECT_TRUE(started) << started.error().message();
      other_ = std::move(*started);
      other_engine_ = engineAt(other_->unixSocketUrl());
    }
    return *other_;
  }

  std::string volume() const { return project_ + "_data"; }

  // `berth -p PROJECT ARGS...` in the project's directory, against `engineUrl` (the shared engine).
  CommandResult berth(std::vector<std::string> args, std::string engineUrl = "") {
    args.insert(args.begin(), {"-p", project_, "--progress", "plain"});
    if (engineUrl.empty()) engineUrl = source_->unixSocketUrl();
    CommandOptions options;
    options.env = {"DOCKER_HOST=" + engineUrl};
    options.workingDirectory = dir_.path();
    options.timeout = 180s;
    auto r = runBerth(args, options);
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : CommandResult{};
  }

  // Runs `script` on `engine` in a container with `vol` at /data; its stdout.
  static std::string inVolume(engine::Engine& engine, const std::string& vol, const std::string& script) {
    auto out = runInVolume(engine, vol, script);
    EXPECT_TRUE(out) << out.error().message();
    return out ? *out : "";
  }

  bool running(const std::string& container) {
    auto c = source_engine_->inspectContainer(container);
    return c && c->state.running;
  }

  TestHost* source_ = nullptr;
  std::unique_ptr<engine::Engine> source_engine_;
  std::unique_ptr<TestHost> other_;
  std::unique_ptr<engine::Engine> other_engine_;
  std::string project_;
  TempDir dir_;
};

TEST_F(VolumeCopyTest, BackupThenRestoreOnAnotherEngineIsIdentical) {
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  (void)inVolume(*source_engine_, volume(), kFill);
  const std::string manifest = inVolume(*source_engine_, volume(), kVolumeManifestScript);
  ASSERT_NE(manifest.find("./private/key regular file 600 1234:5678 7 1 links"), std::string::npos) << manifest;
  ASSERT_NE(manifest.find("./big-hardlink.bin regular file 644 0:0 3145728 2 links"), std::string::npos) << manifest;
  ASSERT_NE(manifest.find("./link-to-f1 symbolic link"), std::string::npos) << manifest;

  for (const std::string file : {"backup.tar", "backup.tar.zst"}) {
    SCOPED_TRACE(file);
    const fs::path path = dir_.path() / file;
    const CommandResult b = berth({"volume", "backup", "data", "-o", path.string()});
    ASSERT_EQ(b.exitCode, 0) << b.describe();
    EXPECT_NE(b.err.find("stopping " + project_ + "-store-1"), std::string::npos) << b.err;
    EXPECT_TRUE(running(project_ + "-store-1")) << "the writer runs again after the backup";
    EXPECT_TRUE(fs::exists(path));
    EXPECT_FALSE(fs::exists(path.string() + ".partial"));
    auto head = readFile(path);
    ASSERT_TRUE(head);
    const bool zstd = head->size() > 4 && static_cast<unsigned char>((*head)[0]) == 0x28;
    EXPECT_EQ(zstd, endsWith(file, ".zst"));

    // Restored on another engine, through the project's name for it (created with its labels).
    TestHost& target = other();
    const CommandResult r = berth({"volume", "restore", "data", "-i", path.string()}, target.unixSocketUrl());
    ASSERT_EQ(r.exitCode, 0) << r.describe();
    EXPECT_EQ(inVolume(*other_engine_, volume(), kVolumeManifestScript), manifest);
    auto restored = other_engine_->inspectVolume(volume());
    ASSERT_TRUE(restored);
    EXPECT_EQ(restored->labels["com.docker.compose.project"], project_);

    // Not over files, unless --force.
    const CommandResult again = berth({"volume", "restore", "data", "-i", path.string()}, target.unixSocketUrl());
    EXPECT_NE(again.exitCode, 0);
    EXPECT_NE(again.err.find("is not empty"), std::string::npos) << again.err;
    const CommandResult forced =
        berth({"volume", "restore", "data", "-i", path.string(), "--force"}, target.unixSocketUrl());
    EXPECT_EQ(forced.exitCode, 0) << forced.describe();
    EXPECT_EQ(inVolume(*other_engine_, volume(), kVolumeManifestScript), manifest);
    ASSERT_TRUE(other_engine_->removeVolume(volume(), true));
  }
}

TEST_F(VolumeCopyTest, LsShowsTheProjectsVolumesWithSizeAndUsers) {
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  (void)inVolume(*source_engine_, volume(), "dd if=/dev/zero of=/data/f bs=1024 count=2048 2>/dev/null");
  const CommandResult ls = berth({"volume", "ls"});
  ASSERT_EQ(ls.exitCode, 0) << ls.describe();
  EXPECT_NE(ls.out.find(volume()), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find(project_ + "-store-1"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("2.1MB"), std::string::npos) << ls.out;
  const CommandResult json = berth({"volume", "ls", "--format", "json"});
  ASSERT_EQ(json.exitCode, 0) << json.describe();
  EXPECT_NE(json.out.find("\"Size\":2097152"), std::string::npos) << json.out;
}

TEST_F(VolumeCopyTest, MoveCopiesChecksAndRemovesTheSource) {
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  (void)inVolume(*source_engine_, volume(), kFill);
  const std::string manifest = inVolume(*source_engine_, volume(), kVolumeManifestScript);
  TestHost& target = other();

  // Still in use: refused, nothing changed.
  CommandResult moved = berth({"volume", "move", "data", "--to", target.unixSocketUrl()});
  EXPECT_NE(moved.exitCode, 0);
  EXPECT_NE(moved.err.find(project_ + "-store-1"), std::string::npos) << moved.err;
  EXPECT_FALSE(other_engine_->inspectVolume(volume()));

  ASSERT_EQ(berth({"down", "-t", "0"}).exitCode, 0);  // keeps the volume
  moved = berth({"volume", "move", "data", "--to", target.unixSocketUrl()});
  ASSERT_EQ(moved.exitCode, 0) << moved.describe();
  EXPECT_NE(moved.err.find("checked (sha256 "), std::string::npos) << moved.err;
  EXPECT_EQ(inVolume(*other_engine_, volume(), kVolumeManifestScript), manifest);
  EXPECT_FALSE(source_engine_->inspectVolume(volume())) << "the source volume is removed after the check";

  // The target has it now: moving there again is refused and the source copy (made anew) stays.
  ASSERT_TRUE(source_engine_->createVolume({.name = volume()}));
  moved = berth({"volume", "move", "data", "--to", target.unixSocketUrl()});
  EXPECT_NE(moved.exitCode, 0);
  EXPECT_NE(moved.err.find("already has a volume " + volume()), std::string::npos) << moved.err;
  EXPECT_TRUE(source_engine_->inspectVolume(volume()));
  EXPECT_EQ(inVolume(*other_engine_, volume(), kVolumeManifestScript), manifest);
  ASSERT_TRUE(other_engine_->removeVolume(volume(), true));
}

TEST_F(VolumeCopyTest, AnInterruptedMoveLeavesTheSourceAndRemovesTheTarget) {
  ASSERT_TRUE(source_engine_->createVolume({.name = volume()}));
  // Big enough that the copy is still running when the test sees the target volume appear.
  (void)inVolume(*source_engine_, volume(),
                 "for i in 1 2 3 4; do dd if=/dev/urandom of=/data/part$i bs=1M count=100 2>/dev/null; done");
  const std::string manifest = inVolume(*source_engine_, volume(), kVolumeManifestScript);
  TestHost& target = other();
  CommandOptions options;
  options.env = {"DOCKER_HOST=" + source_->unixSocketUrl()};
  options.workingDirectory = dir_.path();
  auto move = BackgroundProcess::start({BERTH_BINARY, "-p", project_, "volume", "move", "data", "--to",
                                        target.unixSocketUrl()},
                                       options);
  ASSERT_TRUE(move) << move.error().message();
  ASSERT_TRUE(waitUntil([&] { return other_engine_->inspectVolume(volume()).has_value(); }, 60s))
      << (*move)->describe();
  (*move)->signal(SIGINT);
  const auto status = (*move)->wait(60s);
  ASSERT_TRUE(status) << (*move)->describe();
  EXPECT_NE(*status, 0) << (*move)->describe();
  EXPECT_NE((*move)->err().find("the partial copy on"), std::string::npos) << (*move)->describe();
  EXPECT_FALSE(other_engine_->inspectVolume(volume())) << "the target volume is removed";
  EXPECT_EQ(inVolume(*source_engine_, volume(), kVolumeManifestScript), manifest) << "the source is untouched";
}

TEST_F(VolumeCopyTest, BadInputFailsClearlyAndLosesNothing) {
  // An unknown volume.
  CommandResult r = berth({"volume", "backup", "nope", "-o", (dir_.path() / "x.tar").string()});
  EXPECT_NE(r.exitCode, 0);
  EXPECT_NE(r.err.find("no volume nope on engine"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_.path() / "x.tar"));
  EXPECT_FALSE(fs::exists(dir_.path() / "x.tar.partial"));

  // A backup file that is not there.
  r = berth({"volume", "restore", "data", "-i", (dir_.path() / "missing.tar").string()});
  EXPECT_NE(r.exitCode, 0);
  EXPECT_NE(r.err.find("missing.tar"), std::string::npos) << r.err;

  // A real backup, then damaged copies of it.
  ASSERT_EQ(berth({"up", "-d"}).exitCode, 0);
  (void)inVolume(*source_engine_, volume(), kFill);
  const fs::path good = dir_.path() / "good.tar";
  ASSERT_EQ(berth({"volume", "backup", "data", "-o", good.string()}).exitCode, 0);
  auto bytes = readFile(good);
  ASSERT_TRUE(bytes);
  TestHost& target = other();
  const auto restoreFails = [&](const std::string& name, const std::string& content, const std::string& says) {
    SCOPED_TRACE(name);
    dir_.write(name, content);
    const CommandResult failed =
        berth({"volume", "restore", "data", "-i", (dir_.path() / name).string()}, target.unixSocketUrl());
    EXPECT_NE(failed.exitCode, 0);
    EXPECT_NE(failed.err.find(says), std::string::npos) << failed.err;
    // The volume restore made is empty again (it may exist: made anew, empty).
    if (other_engine_->inspectVolume(volume())) {
      EXPECT_EQ(inVolume(*other_engine_, volume(), "ls -A /data"), "");
    }
  };
  restoreFails("truncated.tar", bytes->substr(0, bytes->size() / 2), "truncated");
  // A header in the second half damaged (its name overwritten): the checksum no longer matches.
  std::string corrupt = *bytes;
  std::size_t header = corrupt.size() / 2 / 512 * 512;
  while (header + 512 <= corrupt.size() && corrupt.compare(header + 257, 5, "ustar") != 0) header += 512;
  ASSERT_LT(header + 512, corrupt.size());
  for (std::size_t i = header; i < header + 100; ++i) corrupt[i] = 'Z';
  restoreFails("corrupt.tar", corrupt, "bad header checksum");
  restoreFails("noise.tar", std::string(100000, 'q'), "not a tar archive");

  // A full target: a 1 MiB tmpfs volume cannot take the 3 MiB file; the volume is left empty.
  (void)other_engine_->removeVolume(volume(), true);
  engine::VolumeCreate small;
  small.name = volume();
  small.driverOpts = {{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "size=1m"}};
  ASSERT_TRUE(other_engine_->createVolume(small));
  r = berth({"volume", "restore", "data", "-i", good.string()}, target.unixSocketUrl());
  EXPECT_NE(r.exitCode, 0);
  EXPECT_NE(r.err.find("no space left on device"), std::string::npos) << r.err;
  auto still = other_engine_->inspectVolume(volume());
  ASSERT_TRUE(still) << "the volume is made anew as it was";
  EXPECT_EQ(still->options["o"], "size=1m");
  EXPECT_EQ(inVolume(*other_engine_, volume(), "ls -A /data"), "");

  // The source was never touched.
  EXPECT_NE(inVolume(*source_engine_, volume(), "ls /data"), "");
}

}  // namespace
}  // namespace berth::testing
