#include "engine/transport/json_lines.h"

#include <fmt/core.h>

#include "base/strings.h"

namespace berth::engine::transport {
namespace {

// Delivers `line` unless it is blank. Returns what onLine returned (true for blank lines).
bool deliver(std::string_view line, const LineSplitter::LineFn& onLine) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (trim(line).empty()) return true;
  return onLine(line);
}

}  // namespace

Result<bool> LineSplitter::feed(std::string_view data, const LineFn& onLine) {
  while (!data.empty()) {
    const auto nl = data.find('\n');
    if (nl == std::string_view::npos) {
      if (partial_.size() + data.size() > maxLine_) {
        return fail(ErrorCode::Internal,
                    fmt::format("a line from the engine is longer than {} bytes", maxLine_));
      }
      partial_.append(data);
      return true;
    }
    bool more = true;
    if (partial_.empty()) {
      more = deliver(data.substr(0, nl), onLine);
    } else {
      partial_.append(data.substr(0, nl));
      std::string line = std::move(partial_);
      partial_.clear();
      if (line.size() > maxLine_) {
        return fail(ErrorCode::Internal,
                    fmt::format("a line from the engine is longer than {} bytes", maxLine_));
      }
      more = deliver(line, onLine);
    }
    data.remove_prefix(nl + 1);
    if (!more) return false;
  }
  return true;
}

Result<bool> LineSplitter::finish(const LineFn& onLine) {
  if (partial_.empty()) return true;
  std::string line = std::move(partial_);
  partial_.clear();
  return deliver(line, onLine);
}

}  // namespace berth::engine::transport
