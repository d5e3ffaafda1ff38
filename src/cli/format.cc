#include "cli/format.h"

#include <nlohmann/json.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <tuple>

#include "base/strings.h"

namespace berth::cli {

std::string humanDuration(std::int64_t seconds) {
  if (seconds < 1) return "Less than a second";
  if (seconds == 1) return "1 second";
  if (seconds < 60) return fmt::format("{} seconds", seconds);
  const std::int64_t minutes = seconds / 60;
  if (minutes == 1) return "About a minute";
  if (minutes < 60) return fmt::format("{} minutes", minutes);
  const std::int64_t hours = seconds / 3600;
  if (hours == 1) return "About an hour";
  if (hours < 48) return fmt::format("{} hours", hours);
  if (hours < 24 * 7 * 2) return fmt::format("{} days", hours / 24);
  if (hours < 24 * 30 * 2) return fmt::format("{} weeks", hours / 24 / 7);
  if (hours < 24 * 365 * 2) return fmt::format("{} months", hours / 24 / 30);
  return fmt::format("{} years", hours / 24 / 365);
}

std::string humanSize(std::int64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  double size = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (size >= 1000.0 && unit + 1 < std::size(kUnits)) {
    size /= 1000.0;
    ++unit;
  }
  std::string text = fmt::format("{:.3g}", size);
  return text + kUnits[unit];
}

std::string portsText(const std::vector<engine::PortSummary>& ports) {
  std::vector<engine::PortSummary> sorted = ports;
  std::sort(sorted.begin(), sorted.end(), [](const engine::PortSummary& a, const engine::PortSummary& b) {
    return std::tie(a.privatePort, a.type, a.ip, a.publicPort) <
           std::tie(b.privatePort, b.type, b.ip, b.publicPort);
  });
  std::vector<std::string> parts;
  for (const engine::PortSummary& p : sorted) {
    std::string part;
    if (p.publicPort != 0) {
      part = fmt::format("{}:{}->{}/{}", p.ip, p.publicPort, p.privatePort, p.type);
    } else {
      part = fmt::format("{}/{}", p.privatePort, p.type);
    }
    if (std::find(parts.begin(), parts.end(), part) == parts.end()) parts.push_back(part);
  }
  return join(parts, ", ");
}

Result<std::string> engineTimestamp(const std::string& text, std::int64_t now) {
  if (text.empty()) return text;
  const auto bad = [&] {
    return fail(ErrorCode::InvalidArgument,
                "invalid time " + berth::quoted(text) +
                    ": expected a Unix time, a duration like 42m or an RFC 3339 time");
  };
  if (std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; }))
    return text;
  // Go durations: sequences of <number><unit>, units h, m, s, ms.
  {
    double total = 0;
    std::size_t i = 0;
    bool any = false;
    while (i < text.size()) {
      std::size_t j = i;
      while (j < text.size() && ((text[j] >= '0' && text[j] <= '9') || text[j] == '.')) ++j;
      if (j == i) break;
      const double n = std::stod(text.substr(i, j - i));
      std::size_t k = j;
      while (k < text.size() && text[k] >= 'a' && text[k] <= 'z') ++k;
      const std::string unit = text.substr(j, k - j);
      double scale = 0;
      if (unit == "h") scale = 3600;
      if (unit == "m") scale = 60;
      if (unit == "s") scale = 1;
      if (unit == "ms") scale = 0.001;
      if (scale == 0) break;
      total += n * scale;
      any = true;
      i = k;
    }
    if (any && i == text.size()) return fmt::format("{:.3f}", static_cast<double>(now) - total);
  }
  // RFC 3339 or a date.
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  char tail[32] = {};
  const int n = std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%31s", &y, &mo, &d, &h, &mi, &sec, tail);
  if (n < 3) return bad();
  if (n > 3 && n < 6) return bad();
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  std::int64_t t = static_cast<std::int64_t>(timegm(&tm));
  std::string rest = tail;
  if (!rest.empty() && rest[0] == '.') {
    std::size_t k = 1;
    while (k < rest.size() && rest[k] >= '0' && rest[k] <= '9') ++k;
    rest = rest.substr(k);
  }
  if (!rest.empty() && rest != "Z") {
    int oh = 0, om = 0;
    if (std::sscanf(rest.c_str() + 1, "%2d:%2d", &oh, &om) != 2 || (rest[0] != '+' && rest[0] != '-'))
      return bad();
    const std::int64_t offset = oh * 3600 + om * 60;
    t += rest[0] == '+' ? -offset : offset;
  }
  return std::to_string(t);
}

namespace {
// Characters on screen of UTF-8 text (one per code point: good enough for names and "…").
std::size_t displayWidth(std::string_view text) {
  std::size_t n = 0;
  for (const char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}
}  // namespace

std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], displayWidth(row[i]));
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - displayWidth(row[i]) + 3, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string prettyJson(std::string_view json) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded()) return std::string(json);
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace berth::cli
