#include "cli/log_stream.h"

#include <fmt/core.h>
#include <unistd.h>

#include <thread>

#include "base/strings.h"
#include "cli/project.h"

namespace berth::cli {
namespace {

constexpr int kColors[] = {36, 33, 32, 35, 34, 96, 93, 92, 95, 94};

void writeAll(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n <= 0) return;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

LogPrinter::LogPrinter(std::string project, const std::vector<plan::ObservedContainer>& containers,
                       LogFormat format, Output output)
    : project_(std::move(project)), format_(format), output_(std::move(output)) {
  if (!output_) output_ = [](std::string_view text) { writeAll(1, text); };
  for (const auto& c : containers) {
    width_ = std::max(width_, shortContainerName(project_, c.name).size());
    if (colors_.count(c.service) == 0) {
      const int next = static_cast<int>(colors_.size());
      colors_[c.service] = next;
    }
  }
}

std::string LogPrinter::prefixOf(const std::string& container, const std::string& service) {
  if (!format_.prefix) return "";
  std::string name = shortContainerName(project_, container);
  name.resize(std::max(width_, name.size()), ' ');
  if (!format_.color) return name + "  | ";
  auto it = colors_.find(service);
  if (it == colors_.end()) {
    const int next = static_cast<int>(colors_.size());
    it = colors_.emplace(service, next).first;
  }
  const int code = kColors[static_cast<std::size_t>(it->second) % std::size(kColors)];
  return fmt::format("\033[{}m{}  |\033[0m ", code, name);
}

void LogPrinter::line(const std::string& container, const std::string& service, std::string_view text) {
  std::lock_guard lock(mu_);
  output_(prefixOf(container, service) + std::string(text) + "\n");
}

void LogPrinter::note(const std::string& container, const std::string& service, std::string_view text) {
  std::lock_guard lock(mu_);
  std::string out = format_.color ? fmt::format("\033[1m{}\033[0m", text) : std::string(text);
  (void)container;
  (void)service;
  output_(out + "\n");
}

void LineSplitter::add(std::string_view data) {
  partial_.append(data);
  std::size_t start = 0;
  for (std::size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1) {
    emit(std::string_view(partial_).substr(start, nl - start));
  }
  partial_.erase(0, start);
}

void LineSplitter::flush() {
  if (!partial_.empty()) emit(partial_);
  partial_.clear();
}

void LineSplitter::emit(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  onLine_(line);
}

Status streamLogs(engine::Engine& engine, const std::vector<plan::ObservedContainer>& containers,
                  const engine::LogsOptions& options, LogPrinter& printer, std::stop_token stop) {
  std::mutex mu;
  std::optional<Error> first;
  {
    std::vector<std::jthread> threads;
    for (const plan::ObservedContainer& c : containers) {
      threads.emplace_back([&, c] {
        LineSplitter lines([&](std::string_view line) { printer.line(c.name, c.service, line); });
        Status s = engine.containerLogs(
            c.id, options, [&](engine::OutputStream, std::string_view data) { lines.add(data); }, stop);
        lines.flush();
        if (!s) {
          std::lock_guard lock(mu);
          if (!first) first = s.error();
        }
      });
    }
  }
  if (first) return fail(*first);
  return ok();
}

}  // namespace berth::cli
