#include "harness/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <utility>

extern char** environ;

namespace berth::testing {
namespace {

using Clock = std::chrono::steady_clock;

// How long output is still read after the child exited while something it left behind keeps the
// pipes open.
constexpr std::chrono::milliseconds kDrainAfterExit{200};

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    reset(o.release());
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

Status makePipe(Fd& readEnd, Fd& writeEnd) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return fail(ErrorCode::Unavailable, std::string("pipe: ") + std::strerror(errno));
  }
  readEnd.reset(fds[0]);
  writeEnd.reset(fds[1]);
  return ok();
}

}  // namespace

namespace detail {

std::vector<std::string> buildEnvironment(const CommandOptions& options) {
  std::map<std::string, std::string> vars;
  if (options.inheritEnvironment) {
    for (char** e = environ; *e != nullptr; ++e) {
      std::string_view entry(*e);
      const auto eq = entry.find('=');
      if (eq == std::string_view::npos) continue;
      vars[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
    }
  }
  for (const auto& name : options.unsetEnv) vars.erase(name);
  for (const auto& entry : options.env) {
    const auto eq = entry.find('=');
    if (eq == std::string::npos) {
      vars.erase(entry);
      continue;
    }
    vars[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  std::vector<std::string> out;
  out.reserve(vars.size());
  for (auto& [k, v] : vars) out.push_back(k + "=" + v);
  return out;
}

// The PATH lookup happens in the parent, so the child only calls async-signal-safe functions.
std::string resolveProgram(const std::string& name, const std::vector<std::string>& env) {
  if (name.find('/') != std::string::npos) return name;
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& e : env) {
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  }
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto end = path.find(':', start);
    std::string dir = path.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (dir.empty()) dir = ".";
    const std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return {};
}

}  // namespace detail

namespace {

using detail::buildEnvironment;
using detail::resolveProgram;

int pidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

int decodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string CommandResult::describe() const {
  std::string text = "exit " + std::to_string(exitCode);
  if (timedOut) text += " (timed out)";
  text += "\nstdout:\n" + out + "\nstderr:\n" + err;
  return text;
}

Result<CommandResult> runCommand(const std::vector<std::string>& argv, const CommandOptions& options) {
  if (argv.empty()) return fail(ErrorCode::InvalidArgument, "runCommand: empty argv");
  const std::vector<std::string> env = buildEnvironment(options);
  const std::string program = resolveProgram(argv[0], env);
  if (program.empty()) return fail(ErrorCode::NotFound, argv[0] + ": command not found in PATH");

  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::vector<char*> cenv;
  for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  const std::string cwd = options.workingDirectory.string();

  Fd inR, inW, outR, outW, errR, errW, execR, execW;
  BERTH_TRY(makePipe(inR, inW));
  BERTH_TRY(makePipe(outR, outW));
  BERTH_TRY(makePipe(errR, errW));
  BERTH_TRY(makePipe(execR, execW));

  // SIGPIPE stays blocked in this thread while we feed stdin; a pending one is consumed below.
  sigset_t pipeMask, oldMask;
  sigemptyset(&pipeMask);
  sigaddset(&pipeMask, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipeMask, &oldMask);

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    pthread_sigmask(SIG_SETMASK, &oldMask, nullptr);
    return fail(ErrorCode::Unavailable, "fork " + argv[0] + ": " + std::strerror(err));
  }
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::dup2(inR.get(), 0);
    ::dup2(outW.get(), 1);
    ::dup2(errW.get(), 2);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) {
      const int err = errno;
      (void)!::write(execW.get(), &err, sizeof err);
      ::_exit(127);
    }
    ::execve(program.c_str(), cargv.data(), cenv.data());
    const int err = errno;
    (void)!::write(execW.get(), &err, sizeof err);
    ::_exit(127);
  }

  inR.reset();
  outW.reset();
  errW.reset();
  execW.reset();
  int execErr = 0;
  ssize_t n;
  do {
    n = ::read(execR.get(), &execErr, sizeof execErr);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof execErr)) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    pthread_sigmask(SIG_SETMASK, &oldMask, nullptr);
    return fail(execErr == ENOENT ? ErrorCode::NotFound : ErrorCode::Unavailable,
                "exec " + program + (cwd.empty() ? "" : " in " + cwd) + ": " + std::strerror(execErr));
  }

  Fd pidfd(pidfdOpen(pid));
  CommandResult result;
  std::size_t inOffset = 0;
  if (options.stdinData.empty()) inW.reset();
  for (int fd : {inW.get(), outR.get(), errR.get()}) {
    if (fd >= 0) ::fcntl(fd, F_SETFL, O_NONBLOCK);
  }

  const auto deadline = Clock::now() + options.timeout;
  std::optional<Clock::time_point> exitedAt;
  bool exited = false;
  int status = 0;
  char buf[65536];
  while (true) {
    if (!exited) {
      const pid_t r = ::waitpid(pid, &status, WNOHANG);
      if (r == pid) {
        exited = true;
        exitedAt = Clock::now();
        inW.reset();
      }
    }
    if (exited && outR.get() < 0 && errR.get() < 0) break;
    const auto now = Clock::now();
    if (exited && now - *exitedAt > kDrainAfterExit) break;
    if (!exited && now >= deadline) {
      result.timedOut = true;
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      exited = true;
      exitedAt = now;
      inW.reset();
      continue;
    }
    pollfd fds[4];
    int count = 0;
    auto add = [&](int fd, short events) {
      if (fd >= 0) fds[count++] = pollfd{fd, events, 0};
    };
    add(outR.get(), POLLIN);
    add(errR.get(), POLLIN);
    add(inW.get(), POLLOUT);
    if (!exited) add(pidfd.get(), POLLIN);
    int waitMs = 100;
    if (!exited) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
      waitMs = static_cast<int>(std::clamp<long long>(left, 0, 1000));
      if (pidfd.get() < 0) waitMs = std::min(waitMs, 20);
    }
    const int ready = ::poll(fds, static_cast<nfds_t>(count), waitMs);
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    for (int i = 0; i < count; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == outR.get() || fds[i].fd == errR.get()) {
        Fd& src = fds[i].fd == outR.get() ? outR : errR;
        std::string& dst = fds[i].fd == outR.get() ? result.out : result.err;
        const ssize_t got = ::read(src.get(), buf, sizeof buf);
        if (got > 0) {
          dst.append(buf, static_cast<std::size_t>(got));
        } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
          src.reset();
        }
      } else if (fds[i].fd == inW.get()) {
        const ssize_t put =
            ::write(inW.get(), options.stdinData.data() + inOffset, options.stdinData.size() - inOffset);
        if (put > 0) {
          inOffset += static_cast<std::size_t>(put);
          if (inOffset == options.stdinData.size()) inW.reset();
        } else if (put < 0 && errno != EAGAIN && errno != EINTR) {
          inW.reset();  // EPIPE: the child does not read its stdin
        }
      }
    }
  }
  if (!exited) ::waitpid(pid, &status, 0);
  // Consume a SIGPIPE that writing to a closed stdin may have left pending, then restore the mask.
  timespec zero{0, 0};
  while (sigtimedwait(&pipeMask, nullptr, &zero) > 0) {
  }
  pthread_sigmask(SIG_SETMASK, &oldMask, nullptr);
  result.exitCode = result.timedOut ? 128 + SIGKILL : decodeStatus(status);
  return result;
}

Result<CommandResult> runBinary(const std::filesystem::path& binary, const std::vector<std::string>& args,
                                CommandOptions options) {
  std::vector<std::string> argv{binary.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  for (const char* name : {"DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_API_VERSION",
                           "DOCKER_CONTEXT", "BERTH_HOST"}) {
    options.unsetEnv.emplace_back(name);
  }
  return runCommand(argv, options);
}

}  // namespace berth::testing
