#include "harness/engine_probe.h"

#include <cctype>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/strings.h"

namespace berth::testing {
namespace {

Result<std::string> dechunk(std::string_view data) {
  std::string out;
  std::size_t pos = 0;
  while (true) {
    const auto eol = data.find("\r\n", pos);
    if (eol == std::string_view::npos) return fail(ErrorCode::Internal, "truncated chunked body");
    const std::string sizeText(trim(data.substr(pos, eol - pos)));
    std::size_t size = 0;
    try {
      size = std::stoul(sizeText, nullptr, 16);
    } catch (...) {
      return fail(ErrorCode::Internal, "bad chunk size " + quoted(sizeText));
    }
    pos = eol + 2;
    if (size == 0) return out;
    if (pos + size > data.size()) return fail(ErrorCode::Internal, "truncated chunk");
    out.append(data.substr(pos, size));
    pos += size + 2;
  }
}

}  // namespace

Result<ProbeResponse> unixHttpRequest(const std::string& socketPath, std::string_view method,
                                      std::string_view target, std::string_view body,
                                      std::string_view contentType, std::chrono::milliseconds timeout) {
  const std::string where = "unix://" + socketPath + " " + std::string(method) + " " + std::string(target);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socketPath.size() >= sizeof addr.sun_path) {
    return fail(ErrorCode::InvalidArgument, where + ": socket path too long");
  }
  std::memcpy(addr.sun_path, socketPath.c_str(), socketPath.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(ErrorCode::Unavailable, where + ": socket: " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return fail(ErrorCode::Unavailable, where + ": connect: " + std::strerror(errno));
  }
  std::string request =
      std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n";
  if (!contentType.empty()) request += "Content-Type: " + std::string(contentType) + "\r\n";
  if (!body.empty() || method == "POST") {
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n";
  request += body;
  std::size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errno == EAGAIN ? ErrorCode::DeadlineExceeded : ErrorCode::Unavailable,
                  where + ": send: " + std::strerror(errno));
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string response;
  char buf[65536];
  while (true) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errno == EAGAIN ? ErrorCode::DeadlineExceeded : ErrorCode::Unavailable,
                  where + ": recv: " + std::strerror(errno));
    }
    if (n == 0) break;
    response.append(buf, static_cast<std::size_t>(n));
  }
  const auto headerEnd = response.find("\r\n\r\n");
  if (!startsWith(response, "HTTP/1.") || headerEnd == std::string::npos || response.size() < 12) {
    return fail(ErrorCode::Internal, where + ": not an HTTP answer: " + quoted(response.substr(0, 80)));
  }
  ProbeResponse out;
  try {
    out.status = std::stoi(response.substr(9, 3));
  } catch (...) {
    return fail(ErrorCode::Internal, where + ": bad status line");
  }
  const std::string headers = toLower(response.substr(0, headerEnd));
  std::string_view payload = std::string_view(response).substr(headerEnd + 4);
  if (headers.find("transfer-encoding: chunked") != std::string::npos) {
    BERTH_ASSIGN_OR_RETURN(out.body, dechunk(payload));
  } else {
    out.body = std::string(payload);
  }
  return out;
}

Status pingEngine(const std::string& socketPath) {
  const auto r = unixHttpRequest(socketPath, "GET", "/_ping", {}, {}, std::chrono::seconds(2));
  if (!r) return fail(r.error());
  if (r->status != 200 || r->body != "OK") {
    return fail(ErrorCode::Unavailable, "unix://" + socketPath + " /_ping answered " +
                                            std::to_string(r->status) + " " + quoted(r->body));
  }
  return ok();
}

std::string urlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace berth::testing
