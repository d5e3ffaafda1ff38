// Container output as `docker compose logs` and attached `up` print it: lines of several containers
// merged, each prefixed with the container's short name ("web-1  | ") in its service's colour.
//
// Thread-safety: LogPrinter::line may be called from many threads (one mutex); streamLogs runs one
// thread per container and blocks until they all end or `stop` is requested; a LineSplitter has one
// owner.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <stop_token>
#include <string>
#include <vector>

#include "base/result.h"
#include "engine/engine.h"
#include "plan/observed.h"

namespace berth::cli {

struct LogFormat {
  bool color = true;
  bool prefix = true;
};

class LogPrinter {
 public:
  // Where the printed lines go (with their newlines); by default to stdout.
  using Output = std::function<void(std::string_view text)>;

  LogPrinter(std::string project, const std::vector<plan::ObservedContainer>& containers, LogFormat format,
             Output output = {});
  // Writes one complete line (without its newline) of `container`'s output.
  void line(const std::string& container, const std::string& service, std::string_view text);
  // A line about a container rather than from it ("web-1 exited with code 0").
  void note(const std::string& container, const std::string& service, std::string_view text);
  const std::string& project() const { return project_; }

 private:
  std::string prefixOf(const std::string& container, const std::string& service);
  std::string project_;
  LogFormat format_;
  Output output_;
  std::size_t width_ = 0;
  std::map<std::string, int> colors_;  // service → colour index
  std::mutex mu_;
};

// Cuts a container's output (pieces as the engine sends them) into lines: `onLine` gets each
// complete line without its "\n" (or "\r\n"); flush() hands over an unterminated last line.
class LineSplitter {
 public:
  explicit LineSplitter(std::function<void(std::string_view line)> onLine) : onLine_(std::move(onLine)) {}
  void add(std::string_view data);
  void flush();

 private:
  void emit(std::string_view line);
  std::function<void(std::string_view)> onLine_;
  std::string partial_;
};

// Prints the output of `containers` through `printer` until every stream ends (or, with
// options.follow, until the containers stop or `stop` is requested). The first error of a single
// stream is returned after all ended.
Status streamLogs(engine::Engine& engine, const std::vector<plan::ObservedContainer>& containers,
                  const engine::LogsOptions& options, LogPrinter& printer, std::stop_token stop);

}  // namespace berth::cli
