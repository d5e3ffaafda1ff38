#include "hosts/status.h"

#include <atomic>
#include <thread>

#include "base/strings.h"
#include "engine/engine.h"

namespace berth::hosts {

std::string_view hostStateName(HostState state) {
  switch (state) {
    case HostState::Running:
      return "running";
    case HostState::Stopped:
      return "stopped";
    case HostState::Unreachable:
      return "unreachable";
    case HostState::Timeout:
      return "timeout";
    case HostState::TlsError:
      return "TLS error";
    case HostState::Error:
      return "error";
    case HostState::Invalid:
      return "invalid";
  }
  return "?";
}

HostState stateOf(const Error& error) {
  const std::string& m = error.message();
  switch (error.code()) {
    case ErrorCode::PermissionDenied:
      return HostState::TlsError;
    case ErrorCode::DeadlineExceeded:
      // Nothing answered at all (packets dropped): the host is unreachable; it answered but too slowly:
      // timeout.
      if (m.find("connecting to") != std::string::npos || m.find("resolving") != std::string::npos) {
        return HostState::Unreachable;
      }
      return HostState::Timeout;
    case ErrorCode::Unavailable:
      if (m.find("connection refused") != std::string::npos) return HostState::Stopped;
      if (m.find("TLS") != std::string::npos) return HostState::TlsError;
      return HostState::Unreachable;
    case ErrorCode::InvalidArgument:
    case ErrorCode::NotFound:
    case ErrorCode::AlreadyExists:
    case ErrorCode::Conflict:
    case ErrorCode::Internal:
    case ErrorCode::Cancelled:
      return HostState::Error;
  }
  return HostState::Error;
}

HostStatus queryHost(const Inventory& inventory, const HostRecord& record,
                     std::chrono::milliseconds timeout) {
  HostStatus s{.name = record.name, .url = record.url};
  const auto failed = [&](const Error& e) {
    s.state = stateOf(e);
    s.error = e.message();
    return s;
  };
  auto endpoint = inventory.endpoint(record);
  if (!endpoint) return failed(endpoint.error());
  auto eng = engine::makeEngine(*endpoint, {.connectTimeout = timeout, .requestTimeout = timeout});
  if (!eng) return failed(eng.error());
  if (auto ping = (*eng)->ping(); !ping) return failed(ping.error());
  auto version = (*eng)->version();
  if (!version) return failed(version.error());
  auto info = (*eng)->info();
  if (!info) return failed(info.error());
  s.state = HostState::Running;
  s.engineVersion = version->version;
  s.containers = static_cast<int>(info->containers);
  s.running = static_cast<int>(info->containersRunning);
  return s;
}

std::vector<HostStatus> queryHosts(const Inventory& inventory, const std::vector<HostRecord>& records,
                                   std::chrono::milliseconds timeout) {
  std::vector<HostStatus> out(records.size());
  std::atomic<std::size_t> next{0};
  const auto worker = [&] {
    for (std::size_t i = next++; i < records.size(); i = next++)
      out[i] = queryHost(inventory, records[i], timeout);
  };
  {
    std::vector<std::jthread> threads;
    const std::size_t n = std::min<std::size_t>(records.size(), kMaxParallelQueries);
    for (std::size_t i = 0; i < n; ++i) threads.emplace_back(worker);
  }
  return out;
}

}  // namespace berth::hosts
