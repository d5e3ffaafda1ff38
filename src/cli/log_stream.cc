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
                       LogFormat format)
    : project_(std::move(project)), format_(format) {
  std::vector<std::string> services;
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
  writeAll(1, prefixOf(container, service) + std::string(text) + "\n");
}

void LogPrinter::note(const std::string& container, const std::string& service, std::string_view text) {
  std::lock_guard lock(mu_);
  std::string out = format_.color ? fmt::format("\033[1m{}\033[0m", text) : std::string(text);
  (void)container;
  (void)service;
  writeAll(1, out + "\n");
}

Status streamLogs(engine::Engine& engine, const std::vector<plan::ObservedContainer>& containers,
                  const engine::LogsOptions& options, LogPrinter& printer, std::stop_token stop, bool noteExits) {
  std::mutex mu;
  std::optional<Error> first;
  {
    std::vector<std::jthread> threads;
    for (const plan::ObservedContainer& c : containers) {
      threads.emplace_back([&, c] {
        std::string partial;
        const auto sink = [&](engine::OutputStream, std::string_view data) {
          partial.append(data);
          std::size_t nl;
          while ((nl = partial.find('\n')) != std::string::npos) {
            std::string_view l(partial.data(), nl);
            if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
            printer.line(c.name, c.service, l);
            partial.erase(0, nl + 1);
          }
        };
        Status s = engine.containerLogs(c.id, options, sink, stop);
        if (!partial.empty()) printer.line(c.name, c.service, partial);
        if (!s) {
          std::lock_guard lock(mu);
          if (!first) first = s.error();
          return;
        }
        if (noteExits && !stop.stop_requested()) {
          auto inspect = engine.inspectContainer(c.id);
          if (inspect && !inspect->state.running) {
            printer.note(c.name, c.service,
                         fmt::format("{} exited with code {}", shortContainerName(printer.project(), c.name),
                                     inspect->state.exitCode));
          }
        }
      });
    }
  }
  if (first) return fail(*first);
  return ok();
}

}  // namespace berth::cli
