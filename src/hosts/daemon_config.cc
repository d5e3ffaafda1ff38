#include "hosts/daemon_config.h"

#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "base/strings.h"

namespace berth::hosts {
namespace {

using Json = nlohmann::ordered_json;

// Splits a command line on blanks, honouring simple '...' and "..." quoting.
std::vector<std::string> words(std::string_view line) {
  std::vector<std::string> out;
  std::string cur;
  bool inWord = false;
  char quote = 0;
  for (const char c : line) {
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else {
        cur += c;
      }
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      inWord = true;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\n') {
      if (inWord) out.push_back(std::move(cur));
      cur.clear();
      inWord = false;
      continue;
    }
    cur += c;
    inWord = true;
  }
  if (inWord) out.push_back(std::move(cur));
  return out;
}

bool isHostFlag(std::string_view w) {
  return w == "-H" || w == "--host" || startsWith(w, "--host=") || (startsWith(w, "-H") && w.size() > 2);
}

// Whether the flag `w` carries its value in the next word.
bool takesNextWord(std::string_view w) { return w == "-H" || w == "--host"; }

std::uint16_t portOfTcpUrl(std::string_view url) {
  const auto colon = url.rfind(':');
  if (colon == std::string_view::npos || colon < 6) return 0;
  unsigned v = 0;
  for (const char c : url.substr(colon + 1)) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + static_cast<unsigned>(c - '0');
    if (v > 65535) return 0;
  }
  return static_cast<std::uint16_t>(v);
}

}  // namespace

TlsListenConfig defaultTlsListenConfig(std::uint16_t port) {
  const std::string dir(kRemoteTlsDir);
  return {.port = port,
          .caCert = dir + "/ca.pem",
          .serverCert = dir + "/cert.pem",
          .serverKey = dir + "/key.pem"};
}

Result<std::string> mergeDaemonJson(std::string_view existing, const TlsListenConfig& config) {
  Json j = Json::object();
  if (!trim(existing).empty()) {
    j = Json::parse(existing, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      return fail(ErrorCode::InvalidArgument, "daemon.json is not valid JSON; berth does not rewrite it");
    }
    if (!j.is_object()) return fail(ErrorCode::InvalidArgument, "daemon.json does not hold a JSON object");
  }
  const std::string ours = fmt::format("tcp://0.0.0.0:{}", config.port);
  Json hosts = Json::array();
  if (const auto it = j.find("hosts"); it != j.end()) {
    std::vector<std::string> current;
    if (it->is_string()) {
      current.push_back(it->get<std::string>());
    } else if (it->is_array()) {
      for (const Json& h : *it) {
        if (!h.is_string()) {
          return fail(ErrorCode::InvalidArgument, "daemon.json: \"hosts\" must be an array of strings");
        }
        current.push_back(h.get<std::string>());
      }
    } else {
      return fail(ErrorCode::InvalidArgument, "daemon.json: \"hosts\" must be an array of strings");
    }
    for (const std::string& h : current) {
      const std::string lower = toLower(h);
      const bool tcp = startsWith(lower, "tcp://");
      if (tcp && portOfTcpUrl(lower) == config.port) continue;  // replaced by ours
      hosts.push_back(h);
    }
  } else {
    hosts.push_back(std::string(kDefaultUnixHost));
  }
  hosts.push_back(ours);
  j["hosts"] = std::move(hosts);
  j.erase("tls");
  j["tlsverify"] = true;
  j["tlscacert"] = config.caCert;
  j["tlscert"] = config.serverCert;
  j["tlskey"] = config.serverKey;
  return j.dump(2) + "\n";
}

std::vector<std::string> conflictingDaemonFlags(std::string_view commandLine) {
  std::vector<std::string> out;
  const std::vector<std::string> w = words(commandLine);
  for (std::size_t i = 0; i < w.size(); ++i) {
    const std::string& f = w[i];
    const std::string name = f.substr(0, f.find('='));
    if (isHostFlag(f)) {
      std::string flag = f;
      if (takesNextWord(f) && i + 1 < w.size()) flag += " " + w[++i];
      out.push_back(flag);
    } else if (name == "--tlsverify" || name == "--tlscacert" || name == "--tlscert" || name == "--tlskey" ||
               name == "--tls") {
      out.push_back(f);
    }
  }
  return out;
}

std::string dockerOptsOf(std::string_view defaultsFile) {
  std::string value;
  for (const std::string& raw : split(defaultsFile, '\n')) {
    std::string_view line = trim(raw);
    if (startsWith(line, "export ")) line = trim(line.substr(7));
    if (!startsWith(line, "DOCKER_OPTS=")) continue;
    std::string_view v = trim(line.substr(12));
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
      v = v.substr(1, v.size() - 2);
    }
    value = std::string(v);  // the last assignment wins, as in the shell
  }
  return value;
}

std::optional<std::string> execStartOf(std::string_view unitText) {
  std::optional<std::string> found;
  std::string pending;
  for (const std::string& raw : split(unitText, '\n')) {
    std::string_view line = trim(raw);
    if (!pending.empty()) {
      // A continued line ("... \").
      const bool more = endsWith(line, "\\");
      pending += " " + std::string(more ? line.substr(0, line.size() - 1) : line);
      if (!more) {
        found = std::string(trim(pending));
        pending.clear();
      }
      continue;
    }
    if (!startsWith(line, "ExecStart=")) continue;
    std::string_view value = trim(line.substr(10));
    if (value.empty()) {
      found.reset();  // "ExecStart=" resets the list
      continue;
    }
    if (endsWith(value, "\\")) {
      pending = std::string(value.substr(0, value.size() - 1));
      continue;
    }
    found = std::string(value);
  }
  return found;
}

std::string withoutHostFlags(std::string_view commandLine) {
  const std::vector<std::string> w = words(commandLine);
  std::vector<std::string> kept;
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (isHostFlag(w[i])) {
      if (takesNextWord(w[i])) ++i;
      continue;
    }
    kept.push_back(w[i]);
  }
  return join(kept, " ");
}

std::string systemdDropIn(std::string_view execStart) {
  return fmt::format(
      "# Written by berth (berth host add --provision): the engine's listeners and TLS settings are in\n"
      "# /etc/docker/daemon.json, which dockerd refuses if a -H flag also sets them.\n"
      "[Service]\n"
      "ExecStart=\n"
      "ExecStart={}\n",
      execStart);
}

}  // namespace berth::hosts
