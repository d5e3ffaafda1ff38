#include "harness/test_host.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "base/files.h"
#include "base/strings.h"
#include "harness/busybox_image.h"
#include "harness/engine_probe.h"
#include "harness/temp_dir.h"
#include "harness/wait.h"

#ifndef BERTH_TEST_HOST_SCRIPTS
#error "BERTH_TEST_HOST_SCRIPTS (the scripts/test-host directory) must be defined"
#endif

namespace berth::testing {
namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kHostsRoot = "/tmp/berth-test/hosts";

// ---------------------------------------------------------------------------------------------
// Live hosts, for the termination signal handlers (async-signal-safe: atomics only).

struct Slot {
  std::atomic<int> lifeline{-1};
  std::atomic<pid_t> holder{0};
};
Slot gSlots[kMaxHosts + 1];

void onTerminationSignal(int sig) {
  const int savedErrno = errno;
  for (Slot& s : gSlots) {
    const int fd = s.lifeline.exchange(-1);
    if (fd >= 0) ::close(fd);
  }
  for (Slot& s : gSlots) {
    const pid_t pid = s.holder.exchange(0);
    if (pid <= 0) continue;
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  errno = savedErrno;
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// ---------------------------------------------------------------------------------------------
// Small utilities.

std::string errnoText(std::string_view what) { return std::string(what) + ": " + std::strerror(errno); }

Status writeText(const fs::path& path, std::string_view content,
                 fs::perms perms = fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                   fs::perms::others_read) {
  return writeFileAtomic(path, content, perms);
}

// /proc and /sys files are written in place (no temp file and rename).
Status writeProcFile(const std::string& path, std::string_view content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return fail(ErrorCode::Unavailable, errnoText(path));
  const ssize_t n = ::write(fd, content.data(), content.size());
  const int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(content.size())) {
    return fail(ErrorCode::Unavailable, path + ": " + std::strerror(err));
  }
  return ok();
}

Status runOk(const std::vector<std::string>& argv, const CommandOptions& options = {}) {
  BERTH_ASSIGN_OR_RETURN(CommandResult r, runCommand(argv, options));
  if (!r.succeeded()) {
    return fail(ErrorCode::Internal, join(argv, " ") + ": " + r.describe());
  }
  return ok();
}

// Claims host index N by binding the abstract unix socket "berth-test-host-N". The socket is
// released by the kernel when the last process holding it (test binary, holder) is gone.
Result<std::pair<int, int>> claimIndex() {
  for (int n = 1; n <= kMaxHosts; ++n) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(ErrorCode::Unavailable, errnoText("socket"));
    const std::string name = "berth-test-host-" + std::to_string(n);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path + 1, name.data(), name.size());
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) == 0) return std::pair{n, fd};
    const int err = errno;
    ::close(fd);
    if (err != EADDRINUSE) {
      return fail(ErrorCode::Unavailable, "claim test host index: bind @" + name + ": " + std::strerror(err));
    }
  }
  return fail(ErrorCode::Unavailable,
              "all " + std::to_string(kMaxHosts) + " test host slots are in use (other test binaries?)");
}

// The shell script that removes what a host leaves in the root namespace. Run by the holder after
// it killed the host's processes (and by start() for a host whose holder was killed outright).
std::string cleanupScript(int n, const fs::path& dir) {
  const std::string veth = "bth" + std::to_string(n);
  const std::string cg = "berth-test-" + std::to_string(n);
  return "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"
         "while iptables -w -D FORWARD -i " +
         veth +
         " -j ACCEPT 2>/dev/null; do :; done\n"
         "while iptables -w -D FORWARD -o " +
         veth +
         " -j ACCEPT 2>/dev/null; do :; done\n"
         "i=0\n"
         "while [ -e /sys/class/net/" +
         veth +
         " ] && [ $i -lt 50 ]; do\n"
         "  ip link del " +
         veth +
         " 2>/dev/null; sleep 0.1; i=$((i+1))\n"
         "done\n"
         "i=0\n"
         "while [ $i -lt 50 ]; do\n"
         "  left=0\n"
         "  for d in /sys/fs/cgroup/*/" +
         cg + " /sys/fs/cgroup/" + cg +
         "; do\n"
         "    [ -d \"$d\" ] || continue\n"
         "    find \"$d\" -depth -type d -exec rmdir {} + 2>/dev/null\n"
         "    [ -d \"$d\" ] && left=1\n"
         "  done\n"
         "  [ $left = 0 ] && break\n"
         "  sleep 0.1; i=$((i+1))\n"
         "done\n"
         "rm -rf " +
         shellQuote(dir.string()) + "\n";
}

// ---------------------------------------------------------------------------------------------
// The holder: PID 1 of the host's namespaces. Runs in a child made by clone() from a possibly
// multi-threaded process, so it only makes async-signal-safe calls, on strings prepared before.

struct HolderArgs {
  const char* hostname = nullptr;
  std::size_t hostnameLen = 0;
  const char* dataDir = nullptr;
  const char* initScript = nullptr;
  const char* defaults = nullptr;
  const char* hostsFile = nullptr;
  const char* hostnameFile = nullptr;
  int lifeline = -1;
  int ready = -1;
  int rootNet = -1;
  int lock = -1;
  int devnull = -1;
  std::array<int, 4> keep{};  // sorted: lifeline, ready, rootNet, lock
  char** cleanupArgv = nullptr;
  char** cleanupEnv = nullptr;
};

struct HolderReport {
  int step;  // 0: ready; else the set-up step that failed
  int err;
};

const char* holderStepName(int step) {
  switch (step) {
    case 1:
      return "make / private";
    case 2:
      return "mount /proc";
    case 3:
      return "mount tmpfs on /run";
    case 4:
      return "mount tmpfs on /etc/docker";
    case 5:
      return "mount tmpfs on the data-root";
    case 6:
      return "bind-mount the init script on /etc/init.d/docker";
    case 7:
      return "bind-mount /etc/default/docker";
    case 8:
      return "bind-mount /etc/hosts";
    case 9:
      return "bind-mount /etc/hostname";
    case 10:
      return "sethostname";
    case 11:
      return "bring up lo";
    case 12:
      return "signalfd";
    default:
      return "set-up";
  }
}

[[noreturn]] void holderFail(const HolderArgs& a, int step) {
  const HolderReport r{step, errno};
  (void)!::write(a.ready, &r, sizeof r);
  ::_exit(1);
}

void closeAllExcept(const std::array<int, 4>& keep) {
  unsigned next = 3;
  for (int fd : keep) {
    const auto u = static_cast<unsigned>(fd);
    if (u > next) ::close_range(next, u - 1, 0);
    next = std::max(next, u + 1);
  }
  ::close_range(next, ~0U, 0);
}

int holderMain(void* raw) {
  const HolderArgs& a = *static_cast<const HolderArgs*>(raw);
  ::dup2(a.devnull, 0);
  ::dup2(a.devnull, 1);
  ::dup2(a.devnull, 2);
  closeAllExcept(a.keep);

  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) holderFail(a, 1);
  if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    holderFail(a, 2);
  }
  if (::mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0) holderFail(a, 3);
  ::mkdir("/run/sshd", 0755);
  ::mkdir("/run/lock", 01777);
  if (::mount("tmpfs", "/etc/docker", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0) {
    holderFail(a, 4);
  }
  if (::mount("tmpfs", a.dataDir, "tmpfs", MS_NODEV, "mode=0711") != 0) holderFail(a, 5);
  if (::mount(a.initScript, "/etc/init.d/docker", nullptr, MS_BIND, nullptr) != 0) holderFail(a, 6);
  if (::mount(a.defaults, "/etc/default/docker", nullptr, MS_BIND, nullptr) != 0) holderFail(a, 7);
  if (::mount(a.hostsFile, "/etc/hosts", nullptr, MS_BIND, nullptr) != 0) holderFail(a, 8);
  if (::mount(a.hostnameFile, "/etc/hostname", nullptr, MS_BIND, nullptr) != 0) holderFail(a, 9);
  if (::sethostname(a.hostname, a.hostnameLen) != 0) holderFail(a, 10);
  {
    const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, "lo", 3);
    if (s < 0 || ::ioctl(s, SIOCGIFFLAGS, &ifr) != 0) holderFail(a, 11);
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    if (::ioctl(s, SIOCSIFFLAGS, &ifr) != 0) holderFail(a, 11);
    ::close(s);
  }
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &chld, nullptr);
  const int sfd = ::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) holderFail(a, 12);
  const HolderReport ready{0, 0};
  (void)!::write(a.ready, &ready, sizeof ready);
  ::close(a.ready);

  // Reap orphans (daemons re-parent to PID 1) until the lifeline closes.
  while (true) {
    pollfd fds[2] = {{a.lifeline, POLLIN, 0}, {sfd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents != 0) {
      signalfd_siginfo info;
      while (::read(sfd, &info, sizeof info) > 0) {
      }
    }
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    if (fds[0].revents != 0) break;
  }

  // Tear down: every process of the host, then what the host left in the root namespace.
  ::kill(-1, SIGKILL);
  while (true) {
    const pid_t r = ::waitpid(-1, nullptr, 0);
    if (r < 0 && errno != EINTR) break;
  }
  ::umount2(a.dataDir, MNT_DETACH);
  ::setns(a.rootNet, CLONE_NEWNET);
  const pid_t child = ::_Fork();
  if (child == 0) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve("/bin/sh", a.cleanupArgv, a.cleanupEnv);
    ::_exit(127);
  }
  while (true) {
    const pid_t r = ::waitpid(-1, nullptr, 0);
    if (r < 0 && errno != EINTR) break;
  }
  ::_exit(0);
}

// Starts the holder. Returns its pid; `lifeline` receives the write end of the lifeline pipe.
Result<pid_t> spawnHolder(int index, const std::string& hostname, const fs::path& dir, int lock,
                          int& lifeline) {
  const std::string dataDir = (dir / "data").string();
  const std::string initScript = (dir / "etc" / "init.d-docker").string();
  const std::string defaults = (dir / "etc" / "default-docker").string();
  const std::string hostsFile = (dir / "etc" / "hosts").string();
  const std::string hostnameFile = (dir / "etc" / "hostname").string();
  std::string script = cleanupScript(index, dir);
  std::string sh = "sh", dashC = "-c";
  std::array<char*, 4> cleanupArgv{sh.data(), dashC.data(), script.data(), nullptr};
  std::string path = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
  std::array<char*, 2> cleanupEnv{path.data(), nullptr};

  int lifePipe[2];
  int readyPipe[2];
  if (::pipe2(lifePipe, O_CLOEXEC) != 0) return fail(ErrorCode::Unavailable, errnoText("pipe"));
  if (::pipe2(readyPipe, O_CLOEXEC) != 0) {
    ::close(lifePipe[0]);
    ::close(lifePipe[1]);
    return fail(ErrorCode::Unavailable, errnoText("pipe"));
  }
  const int rootNet = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  const int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  auto closeAll = [&] {
    for (int fd : {lifePipe[0], lifePipe[1], readyPipe[0], readyPipe[1], rootNet, devnull}) {
      if (fd >= 0) ::close(fd);
    }
  };
  if (rootNet < 0 || devnull < 0) {
    const Error e(ErrorCode::Unavailable, errnoText("open /proc/self/ns/net or /dev/null"));
    closeAll();
    return fail(e);
  }

  HolderArgs args;
  args.hostname = hostname.c_str();
  args.hostnameLen = hostname.size();
  args.dataDir = dataDir.c_str();
  args.initScript = initScript.c_str();
  args.defaults = defaults.c_str();
  args.hostsFile = hostsFile.c_str();
  args.hostnameFile = hostnameFile.c_str();
  args.lifeline = lifePipe[0];
  args.ready = readyPipe[1];
  args.rootNet = rootNet;
  args.lock = lock;
  args.devnull = devnull;
  args.keep = {lifePipe[0], readyPipe[1], rootNet, lock};
  std::sort(args.keep.begin(), args.keep.end());
  args.cleanupArgv = cleanupArgv.data();
  args.cleanupEnv = cleanupEnv.data();

  constexpr std::size_t kStackSize = 256 * 1024;
  void* stack =
      ::mmap(nullptr, kStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) {
    const Error e(ErrorCode::Unavailable, errnoText("mmap"));
    closeAll();
    return fail(e);
  }
  const pid_t pid =
      ::clone(holderMain, static_cast<char*>(stack) + kStackSize,
              CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | SIGCHLD, &args);
  const int cloneErr = errno;
  ::munmap(stack, kStackSize);  // the child has its own copy (no CLONE_VM)
  if (pid < 0) {
    closeAll();
    return fail(ErrorCode::PermissionDenied,
                std::string("clone new namespaces (needs root): ") + std::strerror(cloneErr));
  }
  ::close(lifePipe[0]);
  ::close(readyPipe[1]);
  ::close(rootNet);
  ::close(devnull);

  HolderReport report{-1, 0};
  pollfd pfd{readyPipe[0], POLLIN, 0};
  ssize_t got = -1;
  if (::poll(&pfd, 1, 10000) == 1) got = ::read(readyPipe[0], &report, sizeof report);
  ::close(readyPipe[0]);
  if (got != static_cast<ssize_t>(sizeof report) || report.step != 0) {
    ::close(lifePipe[1]);
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    if (got != static_cast<ssize_t>(sizeof report)) {
      return fail(ErrorCode::Internal, "the namespace holder died during set-up");
    }
    return fail(ErrorCode::Internal, std::string("namespace holder: ") + holderStepName(report.step) + ": " +
                                         std::strerror(report.err));
  }
  lifeline = lifePipe[1];
  return pid;
}

// ---------------------------------------------------------------------------------------------
// SSH keys: one client key per test process, a host key per host.

struct SshKeyPair {
  std::string privateKey;
  std::string publicKey;
};

Result<SshKeyPair> generateSshKey(const std::string& comment) {
  TempDir tmp("berth-test-sshkey-");
  const fs::path file = tmp / "key";
  BERTH_TRY(runOk({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file.string()}));
  SshKeyPair pair;
  BERTH_ASSIGN_OR_RETURN(pair.privateKey, readFile(file));
  BERTH_ASSIGN_OR_RETURN(pair.publicKey, readFile(file.string() + ".pub"));
  return pair;
}

Result<SshKeyPair> clientSshKey() {
  static std::mutex mu;
  static SshKeyPair* key = nullptr;  // leaked: lives as long as the process
  std::lock_guard lock(mu);
  if (key == nullptr) {
    BERTH_ASSIGN_OR_RETURN(SshKeyPair k, generateSshKey("berth-test-client"));
    key = new SshKeyPair(std::move(k));
  }
  return *key;
}

// A TCP connection to ADDRESS:PORT, with 1s timeouts for everything. Returns the socket.
Result<int> connectTcp(const std::string& address, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(ErrorCode::Unavailable, errnoText("socket"));
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, address.c_str(), &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const Error e(ErrorCode::Unavailable, errnoText("connect " + address + ":" + std::to_string(port)));
    ::close(fd);
    return fail(e);
  }
  return fd;
}

Status probeTcpConnect(const std::string& address, int port) {
  BERTH_ASSIGN_OR_RETURN(int fd, connectTcp(address, port));
  ::close(fd);
  return ok();
}

// Waits until ADDRESS:PORT accepts a TCP connection and sends a line starting with `banner`.
Status probeTcpBanner(const std::string& address, int port, std::string_view banner) {
  BERTH_ASSIGN_OR_RETURN(int fd, connectTcp(address, port));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  const std::string where = address + ":" + std::to_string(port);
  char buf[64];
  const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  if (n <= 0) return fail(ErrorCode::Unavailable, "no banner from " + where);
  if (!startsWith(std::string_view(buf, static_cast<std::size_t>(n)), banner)) {
    return fail(ErrorCode::Internal, "unexpected banner from " + where);
  }
  return ok();
}

std::string daemonJson(int n, const fs::path& dir, const std::string& address, const TestHost::Tls* tls) {
  const std::string sock = (dir / "docker.sock").string();
  std::string hosts = "\"unix:///var/run/docker.sock\", \"unix://" + sock + "\"";
  std::string tlsConfig;
  if (tls != nullptr) {
    hosts += ", \"tcp://" + address + ":" + std::to_string(kTlsPort) + "\"";
    tlsConfig =
        "  \"tlsverify\": true,\n"
        "  \"tlscacert\": \"" +
        tls->caCert.string() +
        "\",\n"
        "  \"tlscert\": \"" +
        tls->serverCert.string() +
        "\",\n"
        "  \"tlskey\": \"" +
        tls->serverKey.string() + "\",\n";
  }
  return "{\n"
         "  \"hosts\": [" +
         hosts + "],\n" + tlsConfig + "  \"data-root\": \"" + (dir / "data").string() +
         "\",\n"
         "  \"storage-driver\": \"overlay2\",\n"
         "  \"bip\": \"10.214." +
         std::to_string(n) +
         ".1/24\",\n"
         "  \"default-address-pools\": [{\"base\": \"10." +
         std::to_string(140 + n) +
         ".0.0/16\", \"size\": 24}],\n"
         "  \"cgroup-parent\": \"/berth-test-" +
         std::to_string(n) +
         "\"\n"
         "}\n";
}

}  // namespace

// ---------------------------------------------------------------------------------------------

void installTerminationHandlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
      struct sigaction current {};
      if (::sigaction(sig, nullptr, &current) != 0) continue;
      if (current.sa_handler != SIG_DFL) continue;  // someone else handles (or ignores) it
      struct sigaction act {};
      act.sa_handler = onTerminationSignal;
      sigemptyset(&act.sa_mask);
      act.sa_flags = SA_RESETHAND;
      ::sigaction(sig, &act, nullptr);
    }
  });
}

Result<std::unique_ptr<TestHost>> TestHost::start(const HostOptions& options) {
  installTerminationHandlers();
  const auto began = SteadyClock::now();
  std::unique_ptr<TestHost> host(new TestHost());
  BERTH_ASSIGN_OR_RETURN(auto claim, claimIndex());
  host->index_ = claim.first;
  host->lock_ = claim.second;
  Status booted = host->boot(options);
  if (!booted.has_value()) {
    std::string tail = host->engineLogTail(15);
    host->stop();
    Error e = std::move(booted).error().withContext("start test host " + std::to_string(host->index_));
    if (!tail.empty()) e = Error(e.code(), e.message() + "\nengine log (last lines):\n" + tail);
    return fail(std::move(e));
  }
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - began).count();
  std::fprintf(stderr, "[berth harness] host %d %s (%s) up in %.2fs: holder pid %d, %s\n", host->index_,
               host->hostname_.c_str(), host->address_.c_str(), seconds, static_cast<int>(host->holder_),
               host->dir_.c_str());
  return host;
}

Status TestHost::boot(const HostOptions& options) {
  const int n = index_;
  const std::string ns = std::to_string(n);
  hostname_ = options.hostname.empty() ? "berth-host-" + ns : options.hostname;
  startTimeout_ = options.startTimeout;
  address_ = "10.213." + ns + ".2";
  gateway_ = "10.213." + ns + ".1";
  veth_ = "bth" + ns;
  dir_ = fs::path(kHostsRoot) / ns;

  // Left-overs of a host whose holder was killed outright (it normally cleans up after itself).
  std::error_code ec;
  if (fs::exists(dir_, ec) || fs::exists("/sys/class/net/" + veth_, ec)) {
    Status cleaned = runOk({"sh", "-c", cleanupScript(n, dir_)});
    if (!cleaned) {
      return fail(ErrorCode::Internal,
                  "remove the left-overs of an earlier test host " + ns + ": " + cleaned.error().message());
    }
  }
  for (const char* required : {"/etc/init.d/docker", "/etc/default/docker", "/etc/hostname"}) {
    if (!fs::exists(required, ec)) {
      return fail(ErrorCode::NotFound, std::string(required) +
                                           " is missing (the harness bind-mounts over it; "
                                           "scripts/bootstrap installs docker.io)");
    }
  }
  fs::create_directories(dir_ / "etc", ec);
  fs::create_directories(dir_ / "data", ec);
  if (ec) return fail(ErrorCode::Unavailable, dir_.string() + ": " + ec.message());
  fs::permissions(kHostsRoot, fs::perms(0755), ec);
  fs::permissions(dir_, fs::perms(0755), ec);

  BERTH_ASSIGN_OR_RETURN(std::string initScript, readFile(fs::path(BERTH_TEST_HOST_SCRIPTS) / "docker.init"));
  BERTH_TRY(writeText(dir_ / "etc" / "init.d-docker", initScript, fs::perms(0755)));
  BERTH_TRY(writeText(dir_ / "etc" / "default-docker", "# /etc/default/docker of berth test host " + ns +
                                                           " (see docker.init)\n"
                                                           "DOCKER_OPTS=\"\"\n"
                                                           "DOCKER_LOGFILE=" +
                                                           engineLogPath().string() + "\n"));
  BERTH_TRY(writeText(dir_ / "etc" / "hosts", "127.0.0.1\tlocalhost\n" + address_ + "\t" + hostname_ +
                                                  "\n::1\tlocalhost ip6-localhost\n"));
  BERTH_TRY(writeText(dir_ / "etc" / "hostname", hostname_ + "\n"));

  BERTH_ASSIGN_OR_RETURN(holder_, spawnHolder(n, hostname_, dir_, lock_, lifeline_));
  gSlots[n].holder.store(holder_);
  gSlots[n].lifeline.store(lifeline_);

  // The link: root side bthN (10.213.N.1), host side eth0 (10.213.N.2), default route to the root
  // side. Forwarding is enabled on bthN only, and FORWARD accepts bthN's traffic, so hosts reach each
  // other even where the machine's own engine set the FORWARD policy to DROP.
  BERTH_TRY(
      runOk({"ip", "-batch", "-"},
            {.stdinData = "link add " + veth_ + " type veth peer name eth0 netns " + std::to_string(holder_) +
                          "\naddr add " + gateway_ + "/24 dev " + veth_ + "\nlink set " + veth_ + " up\n"}));
  BERTH_TRY(writeProcFile("/proc/sys/net/ipv4/conf/" + veth_ + "/forwarding", "1\n"));
  BERTH_TRY(runOk({"iptables", "-w", "-I", "FORWARD", "-i", veth_, "-j", "ACCEPT"}));
  BERTH_TRY(runOk({"iptables", "-w", "-I", "FORWARD", "-o", veth_, "-j", "ACCEPT"}));
  {
    BERTH_ASSIGN_OR_RETURN(CommandResult r,
                           run({"ip", "-batch", "-"}, {.stdinData = "addr add " + address_ +
                                                                    "/24 dev eth0\n"
                                                                    "link set eth0 up\n"
                                                                    "route add default via " +
                                                                    gateway_ + "\n"}));
    if (!r.succeeded()) return fail(ErrorCode::Internal, "configure eth0 in the host: " + r.describe());
  }

  // The engine's configuration, in the host's private /etc/docker.
  const fs::path hostRoot = fs::path("/proc") / std::to_string(holder_) / "root";
  if (options.tls) BERTH_TRY(prepareTls(options));
  BERTH_TRY(writeText(hostRoot / "etc/docker/daemon.json",
                      daemonJson(n, dir_, address_, tlsEnabled_ ? &tls_ : nullptr)));

  if (options.ssh) BERTH_TRY(startSshd());
  if (options.engine) {
    BERTH_TRY(startEngine());
    if (options.loadBusybox) BERTH_TRY(loadBusyboxImage(unixSocketPath().string()));
    if (tlsEnabled_) {
      BERTH_TRY(waitFor(
          "the engine's TLS port " + tlsUrl(), [&] { return probeTcpConnect(address_, kTlsPort); },
          startTimeout_, std::chrono::milliseconds(20)));
    }
  }
  return ok();
}

Status TestHost::prepareTls(const HostOptions& options) {
  using namespace std::chrono_literals;
  std::optional<pki::Authority> ca = options.tlsAuthority;
  if (!ca) {
    BERTH_ASSIGN_OR_RETURN(pki::Authority harness, harnessAuthority());
    ca = std::move(harness);
  }
  const std::vector<std::string> names = options.serverCertNames.empty()
                                             ? std::vector<std::string>{address_, hostname_}
                                             : options.serverCertNames;
  pki::CertificateRequest request{.kind = pki::CertificateKind::Server, .commonName = hostname_};
  for (const std::string& name : names) {
    unsigned char buf[16];
    const bool ip =
        ::inet_pton(AF_INET, name.c_str(), buf) == 1 || ::inet_pton(AF_INET6, name.c_str(), buf) == 1;
    (ip ? request.ipAddresses : request.dnsNames).push_back(name);
  }
  const auto now = std::chrono::system_clock::now();
  request.validity = pki::validFor(now, 24h * 7);
  BERTH_ASSIGN_OR_RETURN(pki::Issued server, ca->issue(request));
  const fs::path tlsDir = dir_ / "tls";
  std::error_code ec;
  fs::create_directories(tlsDir, ec);
  if (ec) return fail(ErrorCode::Unavailable, tlsDir.string() + ": " + ec.message());
  tls_.caCert = tlsDir / "ca.pem";
  tls_.serverCert = tlsDir / "server-cert.pem";
  tls_.serverKey = tlsDir / "server-key.pem";
  BERTH_TRY(ca->certificate().save(tls_.caCert));
  BERTH_TRY(server.certificate.save(tls_.serverCert));
  BERTH_TRY(server.key.save(tls_.serverKey));
  BERTH_ASSIGN_OR_RETURN(tls_.client, writeClientBundle(tlsDir / "client", *ca, ca->certificate(),
                                                        "berth-test-client", pki::validFor(now, 24h)));
  tlsEnabled_ = true;
  return ok();
}

Status TestHost::startSshd() {
  const fs::path sshDir = dir_ / "ssh";
  std::error_code ec;
  fs::create_directories(sshDir, ec);
  if (ec) return fail(ErrorCode::Unavailable, sshDir.string() + ": " + ec.message());
  BERTH_ASSIGN_OR_RETURN(SshKeyPair client, clientSshKey());
  BERTH_ASSIGN_OR_RETURN(SshKeyPair hostKey, generateSshKey("berth-test-host-" + std::to_string(index_)));
  const auto secret = fs::perms::owner_read | fs::perms::owner_write;
  BERTH_TRY(writeText(sshDir / "id_ed25519", client.privateKey, secret));
  BERTH_TRY(writeText(sshDir / "id_ed25519.pub", client.publicKey));
  BERTH_TRY(writeText(sshDir / "authorized_keys", client.publicKey, secret));
  BERTH_TRY(writeText(sshDir / "ssh_host_ed25519_key", hostKey.privateKey, secret));
  BERTH_TRY(writeText(sshDir / "ssh_host_ed25519_key.pub", hostKey.publicKey));
  // "ssh-ed25519 AAAA... comment" → "ssh-ed25519 AAAA..."
  const auto parts = split(std::string(trim(hostKey.publicKey)), ' ');
  if (parts.size() < 2) return fail(ErrorCode::Internal, "ssh-keygen wrote an odd public key");
  sshHostKey_ = parts[0] + " " + parts[1];
  BERTH_TRY(writeText(sshDir / "known_hosts", address_ + "," + hostname_ + " " + sshHostKey_ + "\n"));
  BERTH_TRY(writeText(sshDir / "sshd_config", "# sshd of berth test host " + std::to_string(index_) +
                                                  "\n"
                                                  "Port " +
                                                  std::to_string(kSshPort) +
                                                  "\n"
                                                  "ListenAddress " +
                                                  address_ +
                                                  "\n"
                                                  "HostKey " +
                                                  (sshDir / "ssh_host_ed25519_key").string() +
                                                  "\n"
                                                  "PidFile /run/sshd.pid\n"
                                                  "AuthorizedKeysFile " +
                                                  (sshDir / "authorized_keys").string() +
                                                  "\n"
                                                  "PermitRootLogin prohibit-password\n"
                                                  "PubkeyAuthentication yes\n"
                                                  "PasswordAuthentication no\n"
                                                  "KbdInteractiveAuthentication no\n"
                                                  "UsePAM no\n"
                                                  "StrictModes no\n"
                                                  "AllowTcpForwarding yes\n"
                                                  "AllowStreamLocalForwarding yes\n"
                                                  "PrintMotd no\n"
                                                  "Subsystem sftp internal-sftp\n"));
  BERTH_ASSIGN_OR_RETURN(CommandResult r, run({"/usr/sbin/sshd", "-f", (sshDir / "sshd_config").string(),
                                               "-E", (sshDir / "sshd.log").string()}));
  if (!r.succeeded()) return fail(ErrorCode::Internal, "start sshd: " + r.describe());
  return waitFor(
      "sshd on " + address_ + ":22", [&] { return probeTcpBanner(address_, kSshPort, "SSH-"); },
      startTimeout_, std::chrono::milliseconds(20));
}

TestHost::~TestHost() { stop(); }

Result<CommandResult> TestHost::run(const std::vector<std::string>& argv,
                                    const CommandOptions& options) const {
  std::vector<std::string> full{"nsenter", "-t", std::to_string(holder_), "-m", "-n", "-u", "-i", "-p",
                                "--wd=/",  "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  return runCommand(full, options);
}

Status TestHost::waitForEngine(std::chrono::milliseconds timeout) const {
  const std::string sock = unixSocketPath().string();
  return waitFor(
      "the engine of test host " + std::to_string(index_) + " to answer on " + sock,
      [&] { return pingEngine(sock); }, timeout, std::chrono::milliseconds(20));
}

Status TestHost::startEngine() {
  BERTH_ASSIGN_OR_RETURN(CommandResult r, run({"/etc/init.d/docker", "start"}));
  if (!r.succeeded()) return fail(ErrorCode::Unavailable, "/etc/init.d/docker start: " + r.describe());
  return waitForEngine(startTimeout_);
}

Status TestHost::stopEngine() {
  BERTH_ASSIGN_OR_RETURN(CommandResult r, run({"/etc/init.d/docker", "stop"}));
  if (!r.succeeded()) return fail(ErrorCode::Internal, "/etc/init.d/docker stop: " + r.describe());
  return ok();
}

Status TestHost::restartEngine() {
  BERTH_TRY(stopEngine());
  return startEngine();
}

Status TestHost::setReachable(bool reachable) {
  const std::vector<std::string> rule{"INPUT", "-i", "eth0", "-j", "DROP"};
  std::vector<std::string> argv{"iptables", "-w", reachable ? "-D" : "-I"};
  argv.insert(argv.end(), rule.begin(), rule.end());
  BERTH_ASSIGN_OR_RETURN(CommandResult r, run(argv));
  if (!r.succeeded()) return fail(ErrorCode::Internal, join(argv, " ") + ": " + r.describe());
  return ok();
}

std::string TestHost::engineLogTail(int lines) const {
  auto text = readFile(engineLogPath());
  if (!text) return {};
  std::vector<std::string> all = split(*text, '\n');
  while (!all.empty() && all.back().empty()) all.pop_back();
  const std::size_t from = all.size() > static_cast<std::size_t>(lines) ? all.size() - lines : 0;
  std::string out;
  for (std::size_t i = from; i < all.size(); ++i) out += all[i] + "\n";
  return out;
}

void TestHost::stop() {
  std::lock_guard lock(stopMu_);
  if (stopped_) return;
  stopped_ = true;
  if (holder_ > 0) {
    // Closing the lifeline makes the holder kill the host and clean up (unless a termination
    // signal handler already did both).
    const int fd = gSlots[index_].lifeline.exchange(-1);
    if (fd >= 0) ::close(fd);
    gSlots[index_].holder.store(0);
    const bool done = waitUntil(
        [&] {
          const pid_t r = ::waitpid(holder_, nullptr, WNOHANG);
          return r == holder_ || (r < 0 && errno == ECHILD);
        },
        std::chrono::seconds(30), std::chrono::milliseconds(5));
    if (!done) {
      std::fprintf(stderr, "[berth harness] host %d: holder %d did not finish clean-up; killing it\n", index_,
                   static_cast<int>(holder_));
      ::kill(holder_, SIGKILL);
      ::waitpid(holder_, nullptr, 0);
      (void)runOk({"sh", "-c", cleanupScript(index_, dir_)});
    }
    holder_ = 0;
  } else if (!dir_.empty()) {
    // Failed before the holder existed: remove what boot() wrote.
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  lifeline_ = -1;
  if (lock_ >= 0) ::close(lock_);
  lock_ = -1;
}

// ---------------------------------------------------------------------------------------------

Result<TestHost*> trySharedEngine() {
  static std::mutex mu;
  static TestHost* host = nullptr;  // leaked on purpose: stopped by atexit, never deleted
  static std::optional<Error>* failure = nullptr;
  std::lock_guard lock(mu);
  if (host != nullptr) return host;
  if (failure != nullptr) return fail(**failure);
  auto started = TestHost::start(HostOptions{.hostname = "berth-engine"});
  if (!started) {
    failure = new std::optional<Error>(started.error());
    return fail(started.error());
  }
  host = started->release();
  std::atexit([] { host->stop(); });
  return host;
}

TestHost& sharedEngine() {
  auto r = trySharedEngine();
  if (!r) {
    std::fprintf(stderr, "[berth harness] cannot start the shared test engine: %s\n",
                 r.error().message().c_str());
    std::abort();
  }
  return **r;
}

}  // namespace berth::testing
