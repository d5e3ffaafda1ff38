#include "cli/progress.h"

#include <fmt/core.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

namespace berth::cli {
namespace {

using Clock = std::chrono::steady_clock;

void writeAll(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n <= 0) return;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

std::string_view stateName(plan::ProgressState s) {
  switch (s) {
    case plan::ProgressState::Working:
      return "working";
    case plan::ProgressState::Done:
      return "done";
    case plan::ProgressState::Failed:
      return "error";
    case plan::ProgressState::Skipped:
      return "skipped";
    case plan::ProgressState::Warning:
      return "warning";
  }
  return "working";
}

class QuietView final : public ProgressView {
 public:
  void event(const plan::ProgressEvent&) override {}
  void finish() override {}
};

class PlainView final : public ProgressView {
 public:
  explicit PlainView(int fd) : fd_(fd) {}
  void event(const plan::ProgressEvent& e) override {
    std::string line = " " + e.kind + " " + e.name + "  " + e.text;
    if (!e.detail.empty() &&
        (e.state == plan::ProgressState::Working || e.state == plan::ProgressState::Warning)) {
      line += "  " + e.detail;
    }
    std::lock_guard lock(mu_);
    writeAll(fd_, line + "\n");
  }
  void finish() override {}

 private:
  int fd_;
  std::mutex mu_;
};

class JsonView final : public ProgressView {
 public:
  explicit JsonView(int fd) : fd_(fd), start_(Clock::now()) {}
  void event(const plan::ProgressEvent& e) override {
    nlohmann::json j;
    j["id"] = e.kind + " " + e.name;
    j["type"] = e.kind;
    j["name"] = e.name;
    j["status"] = e.text;
    j["state"] = std::string(stateName(e.state));
    j["elapsed"] = std::chrono::duration<double>(Clock::now() - start_).count();
    if (!e.detail.empty()) j["detail"] = e.detail;
    std::lock_guard lock(mu_);
    writeAll(fd_, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  }
  void finish() override {}

 private:
  int fd_;
  Clock::time_point start_;
  std::mutex mu_;
};

class TtyView final : public ProgressView {
 public:
  TtyView(int fd, std::string title) : fd_(fd), title_(std::move(title)) {
    ticker_ = std::jthread([this](std::stop_token stop) {
      std::unique_lock lock(mu_);
      while (!stop.stop_requested()) {
        cv_.wait_for(lock, std::chrono::milliseconds(100));
        if (stop.stop_requested()) break;
        draw();
      }
    });
  }
  ~TtyView() override { finish(); }

  void event(const plan::ProgressEvent& e) override {
    std::lock_guard lock(mu_);
    const std::string key = e.kind + " " + e.name;
    auto it = index_.find(key);
    if (it == index_.end()) {
      it = index_.emplace(key, rows_.size()).first;
      rows_.push_back(Row{e.kind, e.name, "", "", plan::ProgressState::Working, Clock::now(), {}, false});
    }
    Row& r = rows_[it->second];
    r.state = e.state;
    r.text = e.text;
    r.detail = e.state == plan::ProgressState::Working ? e.detail : std::string();
    const bool final = e.state != plan::ProgressState::Working;
    if (final) {
      r.end = Clock::now();
      r.ended = true;
    } else {
      r.ended = false;
    }
  }

  void finish() override {
    if (finished_.exchange(true)) return;
    ticker_.request_stop();
    cv_.notify_all();
    if (ticker_.joinable()) ticker_.join();
    std::lock_guard lock(mu_);
    draw();
  }

  void printAbove(int fd, std::string_view text) override {
    std::lock_guard lock(mu_);
    if (finished_ || drawn_ == 0) {
      writeAll(fd, text);
      return;
    }
    // Up to the table's first line, erase from there to the end of the screen, print, redraw.
    writeAll(fd_, fmt::format("\033[{}A\r\033[J", drawn_));
    drawn_ = 0;
    writeAll(fd, text);
    draw();
  }

 private:
  struct Row {
    std::string kind;
    std::string name;
    std::string text;
    std::string detail;
    plan::ProgressState state;
    Clock::time_point start;
    Clock::time_point end;
    bool ended;
  };

  int width() const {
    winsize ws{};
    if (::ioctl(fd_, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    return 80;
  }

  // mu_ held.
  void draw() {
    if (rows_.empty()) return;
    static constexpr const char* kSpinner[] = {"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"};
    const auto now = Clock::now();
    ++frame_;
    std::size_t done = 0;
    std::size_t nameWidth = 0;
    for (const Row& r : rows_) {
      if (r.ended) ++done;
      nameWidth = std::max(nameWidth, r.kind.size() + 1 + r.name.size());
    }
    const int cols = width();
    std::string out;
    if (drawn_ > 0) out += fmt::format("\033[{}A", drawn_);
    const bool allDone = done == rows_.size();
    out += fmt::format("\r\033[2K\033[34m[+] {} {}/{}\033[0m\n", title_, done, rows_.size());
    for (const Row& r : rows_) {
      std::string mark;
      std::string color;
      switch (r.state) {
        case plan::ProgressState::Working:
          mark = kSpinner[frame_ % 10];
          break;
        case plan::ProgressState::Done:
          mark = "✔";
          color = "\033[32m";
          break;
        case plan::ProgressState::Failed:
          mark = "✘";
          color = "\033[31m";
          break;
        case plan::ProgressState::Skipped:
          mark = "-";
          color = "\033[33m";
          break;
        case plan::ProgressState::Warning:
          mark = "!";
          color = "\033[33m";
          break;
      }
      const double secs = std::chrono::duration<double>((r.ended ? r.end : now) - r.start).count();
      std::string label = r.kind + " " + r.name;
      label.resize(std::max(nameWidth, label.size()), ' ');
      std::string status = r.text;
      if (!r.detail.empty()) status += "  " + r.detail;
      const std::string time = fmt::format("{:.1f}s", secs);
      // Keep every line shorter than the terminal so that moving the cursor up stays exact.
      const int fixed = 3 + static_cast<int>(label.size()) + 2 + 1 + static_cast<int>(time.size());
      const int room = std::max(8, cols - fixed - 1);
      if (static_cast<int>(status.size()) > room) status = status.substr(0, static_cast<std::size_t>(room));
      std::string pad(static_cast<std::size_t>(std::max(1, room - static_cast<int>(status.size()))), ' ');
      out += "\r\033[2K " + color + mark + (color.empty() ? "" : "\033[0m") + " " + label + "  " + color +
             status + (color.empty() ? "" : "\033[0m") + pad + time + "\n";
    }
    drawn_ = static_cast<int>(rows_.size()) + 1;
    (void)allDone;
    writeAll(fd_, out);
  }

  int fd_;
  std::string title_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Row> rows_;
  std::map<std::string, std::size_t> index_;
  int drawn_ = 0;
  unsigned frame_ = 0;
  std::atomic<bool> finished_{false};
  std::jthread ticker_;
};

}  // namespace

void ProgressView::printAbove(int fd, std::string_view text) { writeAll(fd, text); }

void OutputAboveProgress::write(int fd, std::string_view text) {
  std::lock_guard lock(mu_);
  if (view_ != nullptr) {
    view_->printAbove(fd, text);
  } else {
    writeAll(fd, text);
  }
}

void OutputAboveProgress::show(ProgressView& view) {
  std::lock_guard lock(mu_);
  view_ = &view;
}

void OutputAboveProgress::finish() {
  // Under the lock: no text may come between the view's final redraw and its end.
  std::lock_guard lock(mu_);
  if (view_ != nullptr) view_->finish();
  view_ = nullptr;
}

Result<ProgressMode> parseProgressMode(std::string_view text) {
  if (text == "auto") return ProgressMode::Auto;
  if (text == "tty") return ProgressMode::Tty;
  if (text == "plain") return ProgressMode::Plain;
  if (text == "json") return ProgressMode::Json;
  if (text == "quiet") return ProgressMode::Quiet;
  return fail(ErrorCode::InvalidArgument,
              fmt::format("--progress: unknown mode \"{}\" (auto, tty, plain, json, quiet)", text));
}

std::unique_ptr<ProgressView> makeProgressView(ProgressMode mode, std::string title, int fd) {
  switch (mode) {
    case ProgressMode::Auto:
      if (::isatty(fd) == 1) return std::make_unique<TtyView>(fd, std::move(title));
      return std::make_unique<PlainView>(fd);
    case ProgressMode::Tty:
      return std::make_unique<TtyView>(fd, std::move(title));
    case ProgressMode::Plain:
      return std::make_unique<PlainView>(fd);
    case ProgressMode::Json:
      return std::make_unique<JsonView>(fd);
    case ProgressMode::Quiet:
      return std::make_unique<QuietView>();
  }
  return std::make_unique<PlainView>(fd);
}

}  // namespace berth::cli
