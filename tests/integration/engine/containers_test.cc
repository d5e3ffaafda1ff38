// Containers: create with the full HostConfig/NetworkingConfig a compose runner needs (checked both
// through inspect and inside the running container), the lifecycle, list filters, logs, wait,
// archives, stats, pause, top, rename, health and attach.
#include <atomic>
#include <fstream>

#include "base/tar_writer.h"
#include "engine_fixture.h"

namespace berth::engine::testing {
namespace {

using berth::testing::waitUntil;
using ContainersTest = EngineTest;

// The logs as "stream:bytes" runs, adjacent output of one stream merged (how the engine cuts it into
// frames and chunks is not part of the answer).
std::string logsOf(Engine& engine, const std::string& id, LogsOptions options = {}) {
  std::string out;
  std::optional<OutputStream> last;
  auto s = engine.containerLogs(id, options,
                                [&](OutputStream stream, std::string_view data) {
                                  if (last != stream)
                                    out += (last ? "|" : "") + std::string(outputStreamName(stream)) + ":";
                                  last = stream;
                                  out += data;
                                },
                                {});
  EXPECT_TRUE(s) << s.error().message();
  return out;
}

TEST_F(ContainersTest, CreatesWithEverythingAComposeRunnerNeeds) {
  // A user network with a subnet, for the static address and aliases.
  NetworkCreate net;
  net.name = name("net");
  net.labels = labels();
  net.ipam.config = {IpamPool{"172.29.7.0/24", "", "172.29.7.1", {}}};
  ASSERT_TRUE(engine().createNetwork(net));
  VolumeCreate vol;
  vol.name = name("vol");
  vol.labels = labels();
  ASSERT_TRUE(engine().createVolume(vol));
  const auto bindDir = host().directory() / name("bind");
  std::filesystem::create_directories(bindDir);
  std::ofstream(bindDir / "hello.txt") << "from the host\n";

  ContainerCreate spec = busybox(name("full"), {"sleep", "3600"});
  auto& c = spec.config;
  c.entrypoint = std::vector<std::string>{};
  c.hostname = "web";
  c.domainname = "shop.internal";
  c.user = "0:0";
  c.env = {"A=1", "B=two words"};
  c.workingDir = "/srv";
  c.labels["com.docker.compose.service"] = "web";
  c.exposedPorts = {"80/tcp"};
  c.volumes = {"/cache"};
  c.tty = true;
  c.openStdin = true;
  c.healthcheck = HealthConfig{{"CMD", "true"}, 1s, 2s, 0s, 3};
  c.stopSignal = "SIGINT";
  c.stopTimeout = 7;
  auto& h = spec.hostConfig;
  h.binds = {bindDir.string() + ":/from-host:ro"};
  h.mounts = {Mount{MountType::Volume, vol.name, "/data", false, "", std::nullopt,
                    VolumeOptions{true, {}, "", {}}, std::nullopt},
              Mount{MountType::Tmpfs, "", "/scratch", false, "", std::nullopt, std::nullopt,
                    TmpfsOptions{1 << 20, 0700}}};
  h.tmpfs = {{"/run/app", "size=65536"}};
  h.portBindings = {{"80/tcp", {PortBinding{"127.0.0.1", ""}}}};
  h.networkMode = net.name;
  h.restartPolicy = RestartPolicy{RestartPolicyName::OnFailure, 2};
  h.resources.memory = 64 * 1024 * 1024;
  h.resources.nanoCpus = 500000000;
  h.resources.pidsLimit = 64;
  h.resources.ulimits = {Ulimit{"nofile", 1024, 2048}};
  h.capAdd = {"NET_ADMIN"};
  h.capDrop = {"MKNOD"};
  h.readonlyRootfs = true;
  h.init = true;
  h.logConfig = LogConfig{"json-file", {{"max-size", "1m"}}};
  h.extraHosts = {"db.example:10.9.8.7"};
  h.dns = {"10.0.0.53"};
  h.dnsSearch = {"example.test"};
  h.sysctls = {{"net.core.somaxconn", "511"}};
  h.shmSize = 8 * 1024 * 1024;
  spec.networks[net.name] = EndpointSettings{{"www", "frontend"}, {}, "172.29.7.10", "", {}};

  auto created = engine().createContainer(spec);
  ASSERT_TRUE(created) << created.error().message();
  ASSERT_TRUE(engine().startContainer(created->id));

  auto inspect = engine().inspectContainer(created->id);
  ASSERT_TRUE(inspect) << inspect.error().message();
  const ContainerInspect& got = *inspect;
  EXPECT_EQ(got.name, spec.name);
  EXPECT_EQ(got.state.status, ContainerStatus::Running);
  EXPECT_EQ(got.config.hostname, "web");
  EXPECT_EQ(got.config.domainname, "shop.internal");
  EXPECT_EQ(got.config.user, "0:0");
  EXPECT_EQ(got.config.workingDir, "/srv");
  EXPECT_NE(std::find(got.config.env.begin(), got.config.env.end(), "B=two words"), got.config.env.end());
  EXPECT_EQ(got.config.labels.at("com.docker.compose.service"), "web");
  EXPECT_EQ(got.config.cmd, (std::vector<std::string>{"sleep", "3600"}));
  EXPECT_EQ(got.config.exposedPorts, (std::vector<std::string>{"80/tcp"}));
  EXPECT_EQ(got.config.volumes, (std::vector<std::string>{"/cache"}));
  EXPECT_TRUE(got.config.tty);
  EXPECT_TRUE(got.config.openStdin);
  EXPECT_EQ(got.config.healthcheck, c.healthcheck);
  EXPECT_EQ(got.config.stopSignal, "SIGINT");
  EXPECT_EQ(got.config.stopTimeout, 7);
  EXPECT_EQ(got.hostConfig.binds, h.binds);
  EXPECT_EQ(got.hostConfig.mounts, h.mounts);
  EXPECT_EQ(got.hostConfig.tmpfs, h.tmpfs);
  EXPECT_EQ(got.hostConfig.portBindings, h.portBindings);
  EXPECT_EQ(got.hostConfig.networkMode, net.name);
  EXPECT_EQ(got.hostConfig.restartPolicy, h.restartPolicy);
  EXPECT_EQ(got.hostConfig.resources.memory, h.resources.memory);
  EXPECT_EQ(got.hostConfig.resources.nanoCpus, h.resources.nanoCpus);
  EXPECT_EQ(got.hostConfig.resources.pidsLimit, 64);
  EXPECT_EQ(got.hostConfig.resources.ulimits, h.resources.ulimits);
  EXPECT_EQ(got.hostConfig.capAdd, h.capAdd);
  EXPECT_EQ(got.hostConfig.capDrop, h.capDrop);
  EXPECT_TRUE(got.hostConfig.readonlyRootfs);
  EXPECT_EQ(got.hostConfig.init, true);
  EXPECT_EQ(got.hostConfig.logConfig, h.logConfig);
  EXPECT_EQ(got.hostConfig.extraHosts, h.extraHosts);
  EXPECT_EQ(got.hostConfig.dns, h.dns);
  EXPECT_EQ(got.hostConfig.dnsSearch, h.dnsSearch);
  EXPECT_EQ(got.hostConfig.sysctls, h.sysctls);
  EXPECT_EQ(got.hostConfig.shmSize, h.shmSize);
  const EndpointState& endpoint = got.networkSettings.networks.at(net.name);
  EXPECT_EQ(endpoint.ipAddress, "172.29.7.10");
  EXPECT_EQ(endpoint.settings.ipv4Address, "172.29.7.10");
  EXPECT_NE(std::find(endpoint.settings.aliases.begin(), endpoint.settings.aliases.end(), "frontend"),
            endpoint.settings.aliases.end());
  // The engine picked a host port for 80/tcp on 127.0.0.1.
  ASSERT_EQ(got.networkSettings.ports.at("80/tcp").size(), 1u);
  EXPECT_EQ(got.networkSettings.ports.at("80/tcp")[0].hostIp, "127.0.0.1");
  EXPECT_NE(got.networkSettings.ports.at("80/tcp")[0].hostPort, "");
  const auto dataMount = std::find_if(got.mounts.begin(), got.mounts.end(),
                                      [](const MountPoint& m) { return m.destination == "/data"; });
  ASSERT_NE(dataMount, got.mounts.end());
  EXPECT_EQ(dataMount->name, vol.name);

  // And inside the running container.
  auto check = [&](std::vector<std::string> cmd) {
    auto r = runIn(engine(), created->id, std::move(cmd));
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : ExecOutput{};
  };
  EXPECT_EQ(check({"hostname"}).out, "web\n");
  EXPECT_EQ(check({"cat", "/from-host/hello.txt"}).out, "from the host\n");
  EXPECT_NE(check({"cat", "/etc/hosts"}).out.find("10.9.8.7\tdb.example"), std::string::npos);
  EXPECT_NE(check({"sh", "-c", "touch /not-allowed"}).exitCode, 0);  // read-only root
  EXPECT_EQ(check({"sh", "-c", "echo ok > /scratch/x && echo ok > /data/x && cat /scratch/x /data/x"}).out,
            "ok\nok\n");
  // The container's own processes have the ulimit (an exec's may not: dockerd leaves it to runc).
  EXPECT_NE(check({"sh", "-c", "grep 'Max open files' /proc/1/limits | tr -s ' '"})
                .out.find("Max open files 1024 2048 files"),
            std::string::npos);
  EXPECT_EQ(check({"cat", "/proc/sys/net/core/somaxconn"}).out, "511\n");
  EXPECT_EQ(check({"sh", "-c", "echo $B"}).out, "two words\n");
  EXPECT_EQ(check({"pwd"}).out, "/srv\n");
  EXPECT_EQ(check({"sh", "-c", "cat /proc/1/comm"}).out, "docker-init\n");  // init: true
  EXPECT_NE(check({"cat", "/etc/resolv.conf"}).out.find("search example.test"), std::string::npos);
}

TEST_F(ContainersTest, LifecycleStartStopKillRestartRemove) {
  auto created = engine().createContainer(busybox(name("life"), {"sleep", "3600"}));
  ASSERT_TRUE(created) << created.error().message();
  const std::string id = created->id;
  EXPECT_EQ(engine().inspectContainer(id)->state.status, ContainerStatus::Created);

  ASSERT_TRUE(engine().startContainer(id));
  EXPECT_TRUE(engine().startContainer(id)) << "starting a running container is not an error";
  auto running = engine().inspectContainer(id);
  EXPECT_EQ(running->state.status, ContainerStatus::Running);
  EXPECT_GT(running->state.pid, 0);

  ASSERT_TRUE(engine().stopContainer(id, 1));  // sleep ignores SIGTERM as PID 1: killed after 1s
  auto stopped = engine().inspectContainer(id);
  EXPECT_EQ(stopped->state.status, ContainerStatus::Exited);
  EXPECT_EQ(stopped->state.exitCode, 137);
  EXPECT_TRUE(engine().stopContainer(id, 1)) << "stopping a stopped container is not an error";

  ASSERT_TRUE(engine().restartContainer(id, 1));
  auto restarted = engine().inspectContainer(id);
  EXPECT_TRUE(restarted->state.running);
  EXPECT_NE(restarted->state.startedAt, running->state.startedAt);

  auto busy = engine().removeContainer(id, {});
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().code(), ErrorCode::Conflict);
  EXPECT_NE(busy.error().message().find("You cannot remove a running container"), std::string::npos)
      << busy.error().message();

  ASSERT_TRUE(engine().killContainer(id, "SIGKILL"));
  EXPECT_EQ(waitExit(id), 137);
  auto killAgain = engine().killContainer(id, "SIGKILL");
  ASSERT_FALSE(killAgain);
  EXPECT_EQ(killAgain.error().code(), ErrorCode::Conflict);

  ASSERT_TRUE(engine().removeContainer(id, {}));
  auto gone = engine().inspectContainer(id);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), ErrorCode::NotFound);
  EXPECT_EQ(gone.error().message(), engineError("inspect container " + id, "No such container: " + id, 404));
}

TEST_F(ContainersTest, ForceRemoveTakesAnonymousVolumesAlong) {
  ContainerCreate spec = busybox(name("anon"), {"sleep", "3600"});
  spec.config.volumes = {"/anon"};
  auto created = engine().createContainer(spec);
  ASSERT_TRUE(created);
  ASSERT_TRUE(engine().startContainer(created->id));
  auto inspect = engine().inspectContainer(created->id);
  ASSERT_EQ(inspect->mounts.size(), 1u);
  const std::string volume = inspect->mounts[0].name;
  ASSERT_TRUE(engine().inspectVolume(volume));
  ASSERT_TRUE(engine().removeContainer(created->id, {true, true}));
  EXPECT_EQ(engine().inspectVolume(volume).error().code(), ErrorCode::NotFound);
}

TEST_F(ContainersTest, ListsByLabelRunningOrAll) {
  auto make = [&](const std::string& project, bool start) {
    ContainerCreate spec = busybox(name("listed"), {"sleep", "3600"});
    spec.config.labels["com.docker.compose.project"] = project;
    auto c = engine().createContainer(spec);
    EXPECT_TRUE(c);
    if (start) {
      EXPECT_TRUE(engine().startContainer(c->id));
    }
    return c->id;
  };
  const std::string project = name("proj");
  const std::string a = make(project, true);
  const std::string b = make(project, false);
  make(project + "-other", true);
  ListContainersOptions options;
  options.filters = {{"label", {"com.docker.compose.project=" + project}}};
  auto running = engine().listContainers(options);
  ASSERT_TRUE(running) << running.error().message();
  ASSERT_EQ(running->size(), 1u);
  EXPECT_EQ(running->front().id, a);
  EXPECT_EQ(running->front().state, ContainerStatus::Running);
  EXPECT_EQ(running->front().labels.at("com.docker.compose.project"), project);
  EXPECT_EQ(running->front().image, "busybox:latest");
  options.all = true;
  auto all = engine().listContainers(options);
  ASSERT_TRUE(all);
  std::vector<std::string> ids;
  for (const auto& c : *all) ids.push_back(c.id);
  std::sort(ids.begin(), ids.end());
  std::vector<std::string> expected{a, b};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(ids, expected);
  // Two label filters are ANDed.
  options.filters["label"].push_back(std::string(kTestLabel));
  options.filters["status"] = {"created"};
  auto created = engine().listContainers(options);
  ASSERT_TRUE(created);
  ASSERT_EQ(created->size(), 1u);
  EXPECT_EQ(created->front().id, b);
}

// Each stream's output, in order (the engine logs stdout and stderr separately, so their relative
// order is not kept).
std::map<OutputStream, std::string> logStreams(Engine& engine, const std::string& id,
                                               LogsOptions options = {}) {
  std::map<OutputStream, std::string> out;
  auto s = engine.containerLogs(id, options,
                                [&](OutputStream stream, std::string_view data) { out[stream] += data; }, {});
  EXPECT_TRUE(s) << s.error().message();
  return out;
}

TEST_F(ContainersTest, LogsSeparateStdoutAndStderrWithoutTty) {
  auto c =
      engine().createContainer(busybox(name("logs"), {"sh", "-c", "echo one; echo two >&2; echo three"}));
  ASSERT_TRUE(c);
  ASSERT_TRUE(engine().startContainer(c->id));
  EXPECT_EQ(waitExit(c->id), 0);
  const auto streams = logStreams(engine(), c->id);
  EXPECT_EQ(streams.at(OutputStream::Stdout), "one\nthree\n");
  EXPECT_EQ(streams.at(OutputStream::Stderr), "two\n");
  auto lines = engine().createContainer(busybox(name("lines"), {"sh", "-c", "echo a; echo b; echo c"}));
  ASSERT_TRUE(lines);
  ASSERT_TRUE(engine().startContainer(lines->id));
  EXPECT_EQ(waitExit(lines->id), 0);
  LogsOptions tail;
  tail.tail = "2";
  EXPECT_EQ(logsOf(engine(), lines->id, tail), "stdout:b\nc\n");
  LogsOptions onlyErr;
  onlyErr.stdoutStream = false;
  EXPECT_EQ(logsOf(engine(), c->id, onlyErr), "stderr:two\n");
  LogsOptions stamped;
  stamped.timestamps = true;
  stamped.stderrStream = false;
  const std::string withTimes = logsOf(engine(), c->id, stamped);
  EXPECT_NE(withTimes.find("Z one\n"), std::string::npos) << withTimes;
}

TEST_F(ContainersTest, LogsOfATtyContainerAreRaw) {
  ContainerCreate spec = busybox(name("ttylogs"), {"sh", "-c", "echo one; echo two >&2"});
  spec.config.tty = true;
  auto c = engine().createContainer(spec);
  ASSERT_TRUE(c);
  ASSERT_TRUE(engine().startContainer(c->id));
  EXPECT_EQ(waitExit(c->id), 0);
  EXPECT_EQ(logsOf(engine(), c->id), "stdout:one\r\ntwo\r\n");
}

TEST_F(ContainersTest, FollowedLogsEndWithTheContainerOrWhenStopped) {
  auto c = engine().createContainer(
      busybox(name("follow"), {"sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.2; done"}));
  ASSERT_TRUE(c);
  ASSERT_TRUE(engine().startContainer(c->id));
  LogsOptions follow;
  follow.follow = true;
  EXPECT_EQ(logsOf(engine(), c->id, follow), "stdout:line1\nline2\nline3\n");

  const std::string sleeper = startSleeper(name("quiet"));
  std::stop_source stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(300ms);
    stop.request_stop();
  });
  const auto start = std::chrono::steady_clock::now();
  auto s = engine().containerLogs(
      sleeper, follow, [](OutputStream, std::string_view) {}, stop.get_token());
  stopper.join();
  EXPECT_TRUE(s) << s.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST_F(ContainersTest, WaitReturnsTheExitCodeOrTimesOut) {
  auto c = engine().createContainer(busybox(name("wait"), {"sh", "-c", "exit 3"}));
  ASSERT_TRUE(c);
  // Waiting for the next exit can start before the container does. When the engine registers the
  // wait is not observable, so the container is started again until an exit lands after it: each
  // start is a new exit, and the first one the wait sees ends it.
  std::atomic<bool> done{false};
  std::optional<Result<WaitResult>> waited;
  std::thread waiter([&] {
    waited = engine().waitContainer(c->id, WaitCondition::NextExit, 60s);
    done = true;
  });
  EXPECT_TRUE(berth::testing::waitUntil(
      [&] {
        if (!done) (void)engine().startContainer(c->id);
        return done.load();
      },
      50s, 500ms));
  waiter.join();
  ASSERT_TRUE(*waited) << waited->error().message();
  EXPECT_EQ((*waited)->statusCode, 3);

  const std::string sleeper = startSleeper(name("forever"));
  const auto start = std::chrono::steady_clock::now();
  auto timedOut = engine().waitContainer(sleeper, WaitCondition::NotRunning, 300ms);
  ASSERT_FALSE(timedOut);
  EXPECT_EQ(timedOut.error().code(), ErrorCode::DeadlineExceeded);
  EXPECT_EQ(timedOut.error().message(), "engine " + host().unixSocketUrl() + ": wait for container " +
                                            sleeper + ": the answer did not finish within 300ms");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);

  // Waiting for removal: the wait ends when the container goes. Should the engine only see the
  // wait after the removal, it answers that there is no such container, which is the same fact;
  // anything else (a timeout, another error) fails.
  std::optional<Result<WaitResult>> removed;
  std::thread remover([&] { removed = engine().waitContainer(sleeper, WaitCondition::Removed, 30s); });
  ASSERT_TRUE(engine().removeContainer(sleeper, {true, false}));
  remover.join();
  EXPECT_TRUE(*removed || removed->error().code() == ErrorCode::NotFound) << removed->error().message();
}

// The content of `name` in a tar archive (ustar, regular files), or nullopt.
std::optional<std::string> tarEntry(const std::string& tar, const std::string& entry) {
  std::size_t pos = 0;
  while (pos + 512 <= tar.size()) {
    const std::string header = tar.substr(pos, 512);
    if (header[0] == '\0') return std::nullopt;
    const std::string fileName = header.substr(0, header.find('\0'));
    const std::size_t size = std::stoul(header.substr(124, 12), nullptr, 8);
    if (fileName == entry) return tar.substr(pos + 512, size);
    pos += 512 + (size + 511) / 512 * 512;
  }
  return std::nullopt;
}

TEST_F(ContainersTest, CopiesFilesInAndOut) {
  const std::string id = startSleeper(name("archive"));
  TarWriter tar;
  tar.addDirectory("conf");
  tar.addFile("conf/app.ini", "[app]\nname = berth\n", 0640);
  ASSERT_TRUE(engine().putArchive(id, "/tmp", tar.finish(), {}));
  auto cat = runIn(engine(), id, {"cat", "/tmp/conf/app.ini"});
  ASSERT_TRUE(cat);
  EXPECT_EQ(cat->out, "[app]\nname = berth\n");

  auto stat = engine().statPath(id, "/tmp/conf/app.ini");
  ASSERT_TRUE(stat) << stat.error().message();
  EXPECT_EQ(stat->name, "app.ini");
  EXPECT_EQ(stat->size, 19);
  EXPECT_EQ(stat->mode & 0777, 0640u);

  auto out = engine().getArchive(id, "/tmp/conf");
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(out->stat.name, "conf");
  EXPECT_EQ(tarEntry(out->tar, "conf/app.ini"), "[app]\nname = berth\n");

  // A bigger file, to push a body of several MB through both directions.
  std::string big;
  for (int i = 0; big.size() < 3 * 1024 * 1024; ++i) big += "line " + std::to_string(i) + "\n";
  TarWriter bigTar;
  bigTar.addFile("big.txt", big);
  ASSERT_TRUE(engine().putArchive(id, "/tmp", bigTar.finish(), {}));
  auto bigOut = engine().getArchive(id, "/tmp/big.txt");
  ASSERT_TRUE(bigOut);
  EXPECT_EQ(tarEntry(bigOut->tar, "big.txt"), big);

  auto missing = engine().statPath(id, "/nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::NotFound);
  auto intoMissing = engine().putArchive(id, "/no/such/dir", "", {});
  ASSERT_FALSE(intoMissing);
  EXPECT_EQ(intoMissing.error().code(), ErrorCode::NotFound);
}

TEST_F(ContainersTest, StatsTopPauseRename) {
  const std::string id = startSleeper(name("stats"));
  auto stats = engine().containerStats(id);
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_GT(stats->memoryUsage, 0u);
  EXPECT_GT(stats->memoryLimit, 0u);
  EXPECT_GE(stats->pidsCurrent, 1u);
  EXPECT_GT(stats->cpu.totalUsage, 0u);
  EXPECT_GT(stats->cpu.onlineCpus, 0);
  EXPECT_FALSE(stats->read.empty());

  auto top = engine().topContainer(id, "");
  ASSERT_TRUE(top) << top.error().message();
  EXPECT_NE(std::find(top->titles.begin(), top->titles.end(), "PID"), top->titles.end());
  ASSERT_EQ(top->processes.size(), 1u);
  EXPECT_NE(top->processes[0].back().find("sleep 3600"), std::string::npos);

  ASSERT_TRUE(engine().pauseContainer(id));
  EXPECT_EQ(engine().inspectContainer(id)->state.status, ContainerStatus::Paused);
  auto execWhilePaused = engine().createExec(id, ExecCreate{{"true"}});
  ASSERT_FALSE(execWhilePaused);
  EXPECT_EQ(execWhilePaused.error().code(), ErrorCode::Conflict);
  ASSERT_TRUE(engine().unpauseContainer(id));
  EXPECT_EQ(engine().inspectContainer(id)->state.status, ContainerStatus::Running);

  const std::string newName = name("renamed");
  ASSERT_TRUE(engine().renameContainer(id, newName));
  EXPECT_EQ(engine().inspectContainer(newName)->id, id);
  const std::string other = startSleeper(name("other"));
  auto clash = engine().renameContainer(other, newName);
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error().code(), ErrorCode::Conflict);
}

TEST_F(ContainersTest, HealthcheckStateIsReported) {
  ContainerCreate spec = busybox(name("health"), {"sleep", "3600"});
  spec.config.healthcheck = HealthConfig{{"CMD-SHELL", "test -e /tmp/ready"}, 200ms, 1s, 0s, 1};
  auto c = engine().createContainer(spec);
  ASSERT_TRUE(c);
  ASSERT_TRUE(engine().startContainer(c->id));
  auto healthIs = [&](HealthStatus want) {
    return waitUntil(
        [&] {
          auto i = engine().inspectContainer(c->id);
          return i && i->state.health && i->state.health->status == want;
        },
        20s);
  };
  EXPECT_TRUE(healthIs(HealthStatus::Unhealthy));
  ASSERT_TRUE(runIn(engine(), c->id, {"touch", "/tmp/ready"}));
  EXPECT_TRUE(healthIs(HealthStatus::Healthy));
  auto i = engine().inspectContainer(c->id);
  ASSERT_FALSE(i->state.health->log.empty());
  EXPECT_EQ(i->state.health->log.back().exitCode, 0);
}

TEST_F(ContainersTest, AttachesToStdinAndOutputWithoutTty) {
  ContainerCreate spec =
      busybox(name("attach"), {"sh", "-c", "read line; echo got:$line; echo done >&2; exit 5"});
  spec.config.openStdin = true;
  spec.config.stdinOnce = true;
  spec.config.attachStdin = true;
  auto c = engine().createContainer(spec);
  ASSERT_TRUE(c);
  AttachOptions options;
  options.stdinStream = true;
  auto stream = engine().attachContainer(c->id, options);
  ASSERT_TRUE(stream) << stream.error().message();
  EXPECT_FALSE((*stream)->tty());
  ASSERT_TRUE(engine().startContainer(c->id));
  std::string out, err;
  AttachIo io;
  io.stdinData = "hello\n";
  io.onOutput = [&](OutputStream s, std::string_view d) { (s == OutputStream::Stderr ? err : out) += d; };
  ASSERT_TRUE(pumpAttached(**stream, io, {}));
  EXPECT_EQ(out, "got:hello\n");
  EXPECT_EQ(err, "done\n");
  EXPECT_EQ(waitExit(c->id), 5);
}

TEST_F(ContainersTest, AttachesWithTtyAndEndOfInputEndsTheProcess) {
  ContainerCreate spec = busybox(name("attachtty"), {"sh", "-c", "cat; echo eof-seen"});
  spec.config.tty = true;
  spec.config.openStdin = true;
  spec.config.stdinOnce = true;
  auto c = engine().createContainer(spec);
  ASSERT_TRUE(c);
  AttachOptions options;
  options.stdinStream = true;
  auto stream = engine().attachContainer(c->id, options);
  ASSERT_TRUE(stream) << stream.error().message();
  EXPECT_TRUE((*stream)->tty());
  ASSERT_TRUE(engine().startContainer(c->id));
  std::string out;
  AttachIo io;
  // Through a terminal, end of input is ^D (closing the connection's stdin does not reach `cat`).
  io.stdinData = "typed\n\x04";
  io.onOutput = [&](OutputStream s, std::string_view d) {
    EXPECT_EQ(s, OutputStream::Stdout);
    out += d;
  };
  ASSERT_TRUE(pumpAttached(**stream, io, {}));
  EXPECT_NE(out.find("typed\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("eof-seen\r\n"), std::string::npos) << out;
  EXPECT_EQ(waitExit(c->id), 0);
}

TEST_F(ContainersTest, AttachToAMissingContainerFails) {
  auto stream = engine().attachContainer("it-missing", {});
  ASSERT_FALSE(stream);
  EXPECT_EQ(stream.error().code(), ErrorCode::NotFound);
}

}  // namespace
}  // namespace berth::engine::testing
