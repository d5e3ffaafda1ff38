// Small output helpers shared by the listing commands (ps, images, top): docker's human durations
// and sizes, port lists, and left-aligned tables as `docker compose` prints them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "engine/types.h"

namespace berth::cli {

// docker's units.HumanDuration: "Less than a second", "5 seconds", "About a minute", "3 hours", ...
std::string humanDuration(std::int64_t seconds);
// docker's units.HumanSizeWithPrecision(size, 3): "1.23MB".
std::string humanSize(std::int64_t bytes);
// "0.0.0.0:8080->80/tcp, :::8080->80/tcp, 443/tcp"
std::string portsText(const std::vector<engine::PortSummary>& ports);
// A --since/--until value as the engine takes it (Unix seconds): a Unix time as given, a duration
// before `now` ("42m", "1h30m", "10s"), or an RFC 3339 time / date ("2013-01-02T13:23:37Z",
// "2013-01-02"). Empty stays empty. InvalidArgument otherwise.
Result<std::string> engineTimestamp(const std::string& text, std::int64_t now);
// Columns separated by three spaces, every column as wide as its widest cell.
std::string table(const std::vector<std::vector<std::string>>& rows);
// JSON text indented with two spaces (as `docker inspect` prints); text that is not JSON as it is.
std::string prettyJson(std::string_view json);

}  // namespace berth::cli
