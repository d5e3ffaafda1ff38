#include "engine/endpoint.h"

#include <fmt/core.h>

#include <charconv>
#include <cstdlib>

#include "base/files.h"
#include "base/strings.h"

namespace berth::engine {
namespace {

constexpr std::string_view kExpected =
    "expected unix:///path/to/docker.sock, tcp://HOST[:PORT] or ssh://[USER@]HOST[:PORT][/SOCKET]";

Unexpected invalid(std::string_view url, std::string_view what) {
  return fail(ErrorCode::InvalidArgument, fmt::format("engine URL {}: {}", berth::quoted(url), what));
}

Result<std::uint16_t> parsePort(std::string_view url, std::string_view text) {
  unsigned value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || value == 0 || value > 65535) {
    return invalid(url,
                   fmt::format("invalid port {}: expected a number from 1 to 65535", berth::quoted(text)));
  }
  return static_cast<std::uint16_t>(value);
}

// Splits "host", "host:port", "[v6]" or "[v6]:port". Port 0 when absent.
Status parseHostPort(std::string_view url, std::string_view authority, std::string& host,
                     std::uint16_t& port) {
  std::string_view portText;
  bool hasPort = false;
  if (startsWith(authority, "[")) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return invalid(url, "unterminated [IPv6 address]");
    host = std::string(authority.substr(1, close - 1));
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return invalid(url, "unexpected text after ]");
      portText = after.substr(1);
      hasPort = true;
    }
  } else {
    const auto colon = authority.find(':');
    if (colon != std::string_view::npos && authority.find(':', colon + 1) != std::string_view::npos) {
      return invalid(url, "an IPv6 address must be written in brackets: [::1]:2375");
    }
    host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      portText = authority.substr(colon + 1);
      hasPort = true;
    }
  }
  port = 0;
  if (hasPort) {
    BERTH_ASSIGN_OR_RETURN(port, parsePort(url, portText));
  }
  return ok();
}

std::string bracketed(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

}  // namespace

std::string Endpoint::url() const {
  switch (scheme) {
    case Scheme::Unix:
      return "unix://" + socketPath;
    case Scheme::Tcp:
      return fmt::format("tcp://{}:{}", bracketed(host), port);
    case Scheme::Ssh: {
      std::string out = "ssh://";
      if (!user.empty()) out += user + "@";
      out += bracketed(host);
      if (port != 0) out += fmt::format(":{}", port);
      if (socketPath != kDefaultEngineSocket) out += socketPath;
      return out;
    }
  }
  return "?";
}

std::string Endpoint::describe() const {
  if (hostName.empty()) return "engine " + url();
  return fmt::format("host {} ({})", hostName, url());
}

Result<Endpoint> parseEndpoint(std::string_view url, bool tls) {
  const auto sep = url.find("://");
  if (sep == std::string_view::npos) {
    if (startsWith(url, "/")) {
      return invalid(url, fmt::format("no scheme; did you mean unix://{}?", url));
    }
    return invalid(url, fmt::format("no scheme; {}", kExpected));
  }
  const std::string scheme = toLower(url.substr(0, sep));
  const std::string_view rest = url.substr(sep + 3);
  Endpoint ep;
  if (scheme == "unix") {
    ep.scheme = Scheme::Unix;
    if (rest.empty()) return invalid(url, "no socket path after unix://");
    ep.socketPath = std::string(rest);
    return ep;
  }
  if (scheme == "tcp") {
    ep.scheme = Scheme::Tcp;
    const auto slash = rest.find('/');
    if (slash != std::string_view::npos && slash + 1 != rest.size()) {
      return invalid(url, "tcp:// engine URLs take no path");
    }
    BERTH_TRY(parseHostPort(url, rest.substr(0, slash), ep.host, ep.port));
    if (ep.host.empty()) ep.host = "localhost";
    if (ep.port == 0) ep.port = tls ? 2376 : 2375;
    return ep;
  }
  if (scheme == "ssh") {
    ep.scheme = Scheme::Ssh;
    std::string_view authority = rest;
    const auto slash = rest.find('/');
    ep.socketPath = std::string(kDefaultEngineSocket);
    if (slash != std::string_view::npos) {
      authority = rest.substr(0, slash);
      if (slash + 1 != rest.size()) ep.socketPath = std::string(rest.substr(slash));
    }
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
      ep.user = std::string(authority.substr(0, at));
      authority = authority.substr(at + 1);
      if (ep.user.find(':') != std::string::npos) {
        return invalid(url, "ssh:// engine URLs take no password; berth authenticates with keys");
      }
      if (ep.user.empty()) return invalid(url, "empty user name before @");
    }
    BERTH_TRY(parseHostPort(url, authority, ep.host, ep.port));
    if (ep.host.empty()) return invalid(url, "no host after ssh://");
    return ep;
  }
  if (scheme == "http" || scheme == "https") {
    return invalid(
        url, fmt::format("use tcp:// for engines on TCP (with DOCKER_TLS_VERIFY=1 for TLS); {}", kExpected));
  }
  return invalid(url, fmt::format("unsupported scheme {}; {}", berth::quoted(scheme), kExpected));
}

EnvLookup processEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

Result<TlsMaterial> loadTlsDirectory(const std::string& dir) {
  TlsMaterial tls;
  tls.origin = dir;
  const std::filesystem::path base(dir);
  BERTH_ASSIGN_OR_RETURN(tls.caPem, readFile(base / "ca.pem"));
  // Like the docker CLI, a directory with only ca.pem is a client without a certificate (engines
  // started with --tlsverify refuse it, and the error says so).
  std::error_code ec;
  const bool hasCert = std::filesystem::exists(base / "cert.pem", ec);
  const bool hasKey = std::filesystem::exists(base / "key.pem", ec);
  if (hasCert || hasKey) {
    BERTH_ASSIGN_OR_RETURN(tls.certPem, readFile(base / "cert.pem"));
    BERTH_ASSIGN_OR_RETURN(tls.keyPem, readFile(base / "key.pem"));
  }
  return tls;
}

Result<Endpoint> resolveEndpoint(const std::optional<std::string>& hostFlag, const EnvLookup& env) {
  const auto nonEmpty = [&](const std::string& name) -> std::optional<std::string> {
    auto value = env(name);
    if (value && value->empty()) return std::nullopt;
    return value;
  };
  std::string url(kDefaultEngineUrl);
  std::string source;
  if (hostFlag && !hostFlag->empty()) {
    url = *hostFlag;
  } else if (auto dockerHost = nonEmpty("DOCKER_HOST")) {
    url = *dockerHost;
    source = "DOCKER_HOST: ";
  }
  // Like the docker CLI, any non-empty DOCKER_TLS_VERIFY turns verification on.
  const bool tlsVerify = nonEmpty("DOCKER_TLS_VERIFY").has_value();
  auto parsed = parseEndpoint(url, tlsVerify);
  if (!parsed) return fail(parsed.error().code(), source + parsed.error().message());
  Endpoint ep = std::move(parsed).value();

  const auto home = nonEmpty("HOME");
  if (ep.scheme == Scheme::Tcp && tlsVerify) {
    std::string dir;
    if (auto certPath = nonEmpty("DOCKER_CERT_PATH")) {
      dir = *certPath;
    } else if (home) {
      dir = *home + "/.docker";
    } else {
      return fail(ErrorCode::InvalidArgument,
                  "DOCKER_TLS_VERIFY is set but neither DOCKER_CERT_PATH nor HOME is, so berth cannot "
                  "find ca.pem, cert.pem and key.pem");
    }
    auto tls = loadTlsDirectory(dir);
    if (!tls) {
      return fail(tls.error().code(),
                  "DOCKER_TLS_VERIFY is set but the TLS files are not readable: " + tls.error().message());
    }
    ep.tls = std::move(tls).value();
  }
  if (ep.scheme == Scheme::Ssh && home) ep.ssh.sshDir = *home + "/.ssh";
  if (auto version = nonEmpty("DOCKER_API_VERSION")) {
    auto v = parseApiVersion(*version);
    if (!v) return fail(ErrorCode::InvalidArgument, "DOCKER_API_VERSION: " + v.error().message());
    if (*v < kMinApiVersion) {
      return fail(ErrorCode::InvalidArgument,
                  fmt::format("DOCKER_API_VERSION={}: berth speaks Engine API {} to {}", *version,
                              kMinApiVersion.toString(), kMaxApiVersion.toString()));
    }
    ep.pinnedApiVersion = *v;
  }
  return ep;
}

}  // namespace berth::engine
