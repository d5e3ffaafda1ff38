#include "harness/background_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

namespace berth::testing {

struct BackgroundProcess::State {
  pid_t pid = -1;
  int outFd = -1;
  int errFd = -1;
  mutable std::mutex mu;
  mutable std::condition_variable changed;
  std::string out;  // guarded by mu
  std::string err;  // guarded by mu
  bool reaped = false;
  int status = -1;  // exit status once reaped
  std::jthread reader;
};

namespace {

int decode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

BackgroundProcess::BackgroundProcess(std::unique_ptr<State> state) : state_(std::move(state)) {}

Result<std::unique_ptr<BackgroundProcess>> BackgroundProcess::start(const std::vector<std::string>& argv,
                                                                    const CommandOptions& options) {
  if (argv.empty()) return fail(ErrorCode::InvalidArgument, "BackgroundProcess: empty argv");
  const std::vector<std::string> env = detail::buildEnvironment(options);
  const std::string program = detail::resolveProgram(argv[0], env);
  if (program.empty()) return fail(ErrorCode::NotFound, argv[0] + ": command not found in PATH");
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::vector<char*> cenv;
  for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  const std::string cwd = options.workingDirectory.string();

  int out[2], err[2], exec[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0 || ::pipe2(exec, O_CLOEXEC) != 0) {
    return fail(ErrorCode::Unavailable, std::string("pipe: ") + std::strerror(errno));
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return fail(ErrorCode::Unavailable, "fork " + argv[0] + ": " + std::strerror(errno));
  if (pid == 0) {
    // Child: async-signal-safe calls only. PDEATHSIG fires when the forking *thread* ends, so tests
    // start background processes from the test's own thread.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) {
      const int e = errno;
      (void)!::write(exec[1], &e, sizeof e);
      ::_exit(127);
    }
    ::execve(program.c_str(), cargv.data(), cenv.data());
    const int e = errno;
    (void)!::write(exec[1], &e, sizeof e);
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  ::close(exec[1]);
  int execErr = 0;
  ssize_t n;
  do {
    n = ::read(exec[0], &execErr, sizeof execErr);
  } while (n < 0 && errno == EINTR);
  ::close(exec[0]);
  if (n == static_cast<ssize_t>(sizeof execErr)) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    ::close(out[0]);
    ::close(err[0]);
    return fail(ErrorCode::Unavailable, "exec " + program + ": " + std::strerror(execErr));
  }

  auto state = std::make_unique<State>();
  state->pid = pid;
  state->outFd = out[0];
  state->errFd = err[0];
  State* s = state.get();
  state->reader = std::jthread([s] {
    int fds[2] = {s->outFd, s->errFd};
    char buf[16384];
    while (fds[0] >= 0 || fds[1] >= 0) {
      pollfd p[2];
      int count = 0;
      for (int fd : fds) {
        if (fd >= 0) p[count++] = pollfd{fd, POLLIN, 0};
      }
      if (::poll(p, static_cast<nfds_t>(count), -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      for (int i = 0; i < count; ++i) {
        if (p[i].revents == 0) continue;
        const ssize_t got = ::read(p[i].fd, buf, sizeof buf);
        const bool isOut = p[i].fd == fds[0];
        if (got > 0) {
          std::lock_guard lock(s->mu);
          (isOut ? s->out : s->err).append(buf, static_cast<std::size_t>(got));
          s->changed.notify_all();
        } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
          ::close(p[i].fd);
          (isOut ? fds[0] : fds[1]) = -1;
        }
      }
    }
  });
  return std::unique_ptr<BackgroundProcess>(new BackgroundProcess(std::move(state)));
}

BackgroundProcess::~BackgroundProcess() {
  if (!state_) return;
  // The whole group: whatever the process started goes too, and with it the last writers of the
  // pipes, so the reader ends.
  ::kill(-state_->pid, SIGKILL);
  if (!state_->reaped) ::kill(state_->pid, SIGKILL);
  (void)wait(std::chrono::seconds(30));
  state_->reader.join();
}

pid_t BackgroundProcess::pid() const { return state_->pid; }

std::string BackgroundProcess::out() const {
  std::lock_guard lock(state_->mu);
  return state_->out;
}

std::string BackgroundProcess::err() const {
  std::lock_guard lock(state_->mu);
  return state_->err;
}

bool BackgroundProcess::waitForOutput(std::string_view text, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(state_->mu);
  return state_->changed.wait_for(lock, timeout, [&] {
    return state_->out.find(text) != std::string::npos || state_->err.find(text) != std::string::npos;
  });
}

void BackgroundProcess::signal(int sig) const {
  if (!state_->reaped) ::kill(state_->pid, sig);
}

std::optional<int> BackgroundProcess::wait(std::chrono::milliseconds timeout) {
  if (state_->reaped) return decode(state_->status);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t r = ::waitpid(state_->pid, &status, WNOHANG);
    if (r == state_->pid) {
      state_->reaped = true;
      state_->status = status;
      return decode(status);
    }
    if (r < 0 && errno != EINTR) return std::nullopt;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    // Polling the exit (not a synchronisation on logic): 10 ms granularity is plenty for a test.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

bool BackgroundProcess::running() { return !wait(std::chrono::milliseconds(0)).has_value(); }

std::string BackgroundProcess::describe() {
  std::string text = "pid " + std::to_string(state_->pid);
  const auto code = wait(std::chrono::milliseconds(0));
  text += code ? ", exited " + std::to_string(*code) : ", running";
  return text + "\nstdout:\n" + out() + "\nstderr:\n" + err();
}

}  // namespace berth::testing
