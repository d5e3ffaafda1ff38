#include "hosts/inventory.h"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "base/files.h"
#include "base/strings.h"
#include "pki/certificate.h"

namespace berth::hosts {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

constexpr int kRecordVersion = 1;

Unexpected invalidRecord(std::string_view what) {
  return fail(ErrorCode::InvalidArgument, std::string(what));
}

// Names the host and the file, and says the way out: the user may not know where berth keeps it.
Error damagedRecord(std::string_view name, const fs::path& path, const Error& what) {
  std::string_view why = what.message();
  // Read errors already start with the path.
  if (const std::string prefix = path.string() + ": "; startsWith(why, prefix))
    why.remove_prefix(prefix.size());
  return Error(what.code(), fmt::format("host {}: damaged record {}: {}; fix the file or forget the host "
                                        "with `berth host rm {}`",
                                        name, path.string(), why, name));
}

Result<std::string> stringField(const Json& j, const char* key, bool required) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return invalidRecord(fmt::format("missing \"{}\"", key));
    return std::string();
  }
  if (!it->is_string()) return invalidRecord(fmt::format("\"{}\" must be a string", key));
  return it->get<std::string>();
}

}  // namespace

std::string_view initSystemName(InitSystem system) {
  switch (system) {
    case InitSystem::Systemd:
      return "systemd";
    case InitSystem::SysV:
      return "sysv";
  }
  return "?";
}

std::optional<InitSystem> parseInitSystem(std::string_view name) {
  if (name == "systemd") return InitSystem::Systemd;
  if (name == "sysv") return InitSystem::SysV;
  return std::nullopt;
}

std::string SshTarget::describe() const {
  const std::string host = address.find(':') != std::string::npos ? "[" + address + "]" : address;
  return fmt::format("{}{}:{}", user.empty() ? "" : user + "@", host, port);
}

Status checkHostName(std::string_view name) {
  const auto bad = [&](std::string_view why) {
    return fail(ErrorCode::InvalidArgument, fmt::format("host name {}: {}", berth::quoted(name), why));
  };
  if (name.empty()) return bad("is empty");
  if (name.size() > 63) return bad("is longer than 63 characters");
  if (!std::isalnum(static_cast<unsigned char>(name.front()))) {
    return bad("must start with a letter or a digit");
  }
  for (const unsigned char c : name) {
    if (!std::isalnum(c) && c != '.' && c != '_' && c != '-') {
      return bad("may hold only letters, digits, '.', '_' and '-'");
    }
  }
  return ok();
}

std::string recordToJson(const HostRecord& r) {
  Json j;
  j["version"] = kRecordVersion;
  j["name"] = r.name;
  j["url"] = r.url;
  j["labels"] = Json::object();
  for (const auto& [k, v] : r.labels) j["labels"][k] = v;
  if (r.ssh) {
    j["ssh"] = {{"user", r.ssh->user},
                {"address", r.ssh->address},
                {"port", r.ssh->port},
                {"identity", r.ssh->identityFile},
                {"hostKey", r.ssh->hostKey}};
  }
  j["provisioned"] = r.provisioned;
  if (r.initSystem) j["initSystem"] = std::string(initSystemName(*r.initSystem));
  j["generation"] = r.generation;
  j["addedAt"] = r.addedAt;
  if (!r.rotatedAt.empty()) j["rotatedAt"] = r.rotatedAt;
  return j.dump(2) + "\n";
}

Result<HostRecord> recordFromJson(std::string_view text) {
  Json j;
  try {
    j = Json::parse(text);
  } catch (const Json::parse_error& e) {
    // what() is "[json.exception.parse_error.101] parse error at line 1, column 2: ...": the part
    // after the tag says where and what.
    std::string_view what = e.what();
    if (const auto tag = what.find("] "); tag != std::string_view::npos) what.remove_prefix(tag + 2);
    return invalidRecord(fmt::format("not valid JSON: {}", what));
  }
  if (!j.is_object()) return invalidRecord("expected a JSON object");
  if (const auto v = j.find("version"); v != j.end() && (!v->is_number_integer() || *v != kRecordVersion)) {
    return invalidRecord(
        fmt::format("unsupported record version {} (this berth reads {})", v->dump(), kRecordVersion));
  }
  HostRecord r;
  BERTH_ASSIGN_OR_RETURN(r.name, stringField(j, "name", true));
  BERTH_ASSIGN_OR_RETURN(r.url, stringField(j, "url", true));
  if (const auto labels = j.find("labels"); labels != j.end()) {
    if (!labels->is_object()) return invalidRecord("\"labels\" must be an object");
    for (const auto& [k, v] : labels->items()) {
      if (!v.is_string()) return invalidRecord(fmt::format("label {} must be a string", berth::quoted(k)));
      r.labels[k] = v.get<std::string>();
    }
  }
  if (const auto ssh = j.find("ssh"); ssh != j.end() && !ssh->is_null()) {
    if (!ssh->is_object()) return invalidRecord("\"ssh\" must be an object");
    SshTarget t;
    BERTH_ASSIGN_OR_RETURN(t.user, stringField(*ssh, "user", false));
    BERTH_ASSIGN_OR_RETURN(t.address, stringField(*ssh, "address", true));
    BERTH_ASSIGN_OR_RETURN(t.identityFile, stringField(*ssh, "identity", false));
    BERTH_ASSIGN_OR_RETURN(t.hostKey, stringField(*ssh, "hostKey", false));
    const auto port = ssh->find("port");
    if (port != ssh->end()) {
      if (!port->is_number_unsigned() || *port == 0 || *port > 65535) {
        return invalidRecord("\"ssh.port\" must be a number from 1 to 65535");
      }
      t.port = port->get<std::uint16_t>();
    }
    r.ssh = std::move(t);
  }
  if (const auto p = j.find("provisioned"); p != j.end()) {
    if (!p->is_boolean()) return invalidRecord("\"provisioned\" must be true or false");
    r.provisioned = p->get<bool>();
  }
  BERTH_ASSIGN_OR_RETURN(const std::string init, stringField(j, "initSystem", false));
  if (!init.empty()) {
    r.initSystem = parseInitSystem(init);
    if (!r.initSystem) return invalidRecord(fmt::format("unknown initSystem {}", berth::quoted(init)));
  }
  if (const auto g = j.find("generation"); g != j.end()) {
    if (!g->is_number_integer() || *g < 0) return invalidRecord("\"generation\" must be a number");
    r.generation = g->get<int>();
  }
  BERTH_ASSIGN_OR_RETURN(r.addedAt, stringField(j, "addedAt", false));
  BERTH_ASSIGN_OR_RETURN(r.rotatedAt, stringField(j, "rotatedAt", false));
  BERTH_TRY(checkHostName(r.name));
  return r;
}

Result<Inventory> Inventory::openDefault() {
  BERTH_ASSIGN_OR_RETURN(fs::path config, berthConfigDir());
  return Inventory(config / "hosts");
}

Result<std::vector<InventoryEntry>> Inventory::list() const {
  std::vector<InventoryEntry> out;
  std::error_code ec;
  if (!fs::exists(dir_, ec)) return out;
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    if (entry.is_directory(ec) && fs::exists(entry.path() / "host.json", ec)) {
      names.push_back(entry.path().filename().string());
    }
  }
  if (ec) return fail(ErrorCode::Unavailable, dir_.string() + ": " + ec.message());
  std::sort(names.begin(), names.end());
  for (std::string& name : names) {
    auto record = get(name);
    if (record) {
      out.push_back({.name = std::move(name), .record = std::move(*record), .damage = std::nullopt});
    } else {
      out.push_back({.name = std::move(name), .record = std::nullopt, .damage = std::move(record).error()});
    }
  }
  return out;
}

bool Inventory::contains(std::string_view name) const {
  if (!checkHostName(name)) return false;
  std::error_code ec;
  return fs::exists(hostDir(name) / "host.json", ec);
}

Result<HostRecord> Inventory::get(std::string_view name) const {
  BERTH_TRY(checkHostName(name));
  const fs::path path = hostDir(name) / "host.json";
  auto text = readFile(path);
  if (!text) {
    if (text.error().code() != ErrorCode::NotFound) return fail(damagedRecord(name, path, text.error()));
    std::vector<std::string> names;
    std::error_code ec;
    if (fs::exists(dir_, ec)) {
      for (const auto& entry : fs::directory_iterator(dir_, ec)) {
        names.push_back(entry.path().filename().string());
      }
    }
    std::string message = fmt::format("no host named {}", berth::quoted(name));
    if (auto near = nearestMatch(name, names))
      message += fmt::format("; did you mean {}?", berth::quoted(*near));
    return fail(ErrorCode::NotFound, message + " (`berth host ls` lists the registered hosts)");
  }
  auto record = recordFromJson(*text);
  if (!record) return fail(damagedRecord(name, path, record.error()));
  if (record->name != name) {
    return fail(damagedRecord(
        name, path,
        Error(ErrorCode::InvalidArgument,
              fmt::format("it names host {}, not {}", berth::quoted(record->name), berth::quoted(name)))));
  }
  return record;
}

Status Inventory::put(const HostRecord& record) const {
  BERTH_TRY(checkHostName(record.name));
  BERTH_TRY(ensurePrivateDir(dir_));
  BERTH_TRY(ensurePrivateDir(hostDir(record.name)));
  return writeFileAtomic(hostDir(record.name) / "host.json", recordToJson(record));
}

Status Inventory::remove(std::string_view name) const {
  // Not get(): a host whose record is damaged must still be removable.
  if (!contains(name)) BERTH_TRY(get(name));  // the NotFound message
  std::error_code ec;
  fs::remove_all(hostDir(name), ec);
  if (ec) return fail(ErrorCode::Unavailable, hostDir(name).string() + ": " + ec.message());
  return ok();
}

Result<engine::Endpoint> Inventory::endpoint(const HostRecord& record) const {
  const std::string origin =
      fmt::format("host {}'s inventory ({})", record.name, clientDir(record.name).string());
  const bool tcp = startsWith(record.url, "tcp://");
  auto ep = engine::parseEndpoint(record.url, tcp);
  if (!ep) return fail(std::move(ep).error().withContext("host " + record.name));
  switch (ep->scheme) {
    case engine::Scheme::Tcp: {
      auto tls = engine::loadTlsDirectory(clientDir(record.name).string());
      if (!tls) {
        return fail(std::move(tls).error().withContext(
            fmt::format("host {} ({}): client certificate", record.name, record.url)));
      }
      tls->origin = origin;
      ep->tls = std::move(*tls);
      break;
    }
    case engine::Scheme::Ssh:
      if (record.ssh) {
        std::error_code ec;
        if (fs::exists(knownHostsPath(record.name), ec)) {
          ep->ssh.knownHostsFile = knownHostsPath(record.name).string();
        }
        if (!record.ssh->identityFile.empty()) ep->ssh.identityFiles = {record.ssh->identityFile};
      }
      break;
    case engine::Scheme::Unix:
      break;
  }
  return ep;
}

std::vector<std::pair<std::string, std::optional<std::string>>> dockerEnvironment(const Inventory& inventory,
                                                                                  const HostRecord& record) {
  if (startsWith(record.url, "tcp://")) {
    return {{"DOCKER_HOST", record.url},
            {"DOCKER_TLS_VERIFY", "1"},
            {"DOCKER_CERT_PATH", inventory.clientDir(record.name).string()}};
  }
  return {
      {"DOCKER_HOST", record.url}, {"DOCKER_TLS_VERIFY", std::nullopt}, {"DOCKER_CERT_PATH", std::nullopt}};
}

std::vector<std::pair<std::string, std::optional<std::string>>> dockerEnvironmentUnset() {
  return {
      {"DOCKER_HOST", std::nullopt}, {"DOCKER_TLS_VERIFY", std::nullopt}, {"DOCKER_CERT_PATH", std::nullopt}};
}

namespace {

Json certificateJson(const fs::path& path) {
  auto cert = pki::Certificate::load(path);
  if (!cert) return Json{{"path", path.string()}, {"error", cert.error().message()}};
  const pki::CertificateInfo i = cert->info();
  Json j{{"path", path.string()},
         {"subject", i.subject},
         {"issuer", i.issuer},
         {"serial", i.serial},
         {"notBefore", pki::formatTime(i.notBefore)},
         {"notAfter", pki::formatTime(i.notAfter)},
         {"sha256", i.sha256Fingerprint}};
  if (!i.ipAddresses.empty()) j["ipAddresses"] = i.ipAddresses;
  if (!i.dnsNames.empty()) j["dnsNames"] = i.dnsNames;
  return j;
}

}  // namespace

std::string inspectJson(const Inventory& inventory, const HostRecord& record) {
  Json j = Json::parse(recordToJson(record));
  j.erase("version");
  j["directory"] = inventory.hostDir(record.name).string();
  std::error_code ec;
  Json tls = Json::object();
  if (fs::exists(inventory.clientDir(record.name) / "cert.pem", ec)) {
    tls["certPath"] = inventory.clientDir(record.name).string();
    tls["client"] = certificateJson(inventory.clientDir(record.name) / "cert.pem");
    tls["ca"] = certificateJson(inventory.clientDir(record.name) / "ca.pem");
  }
  if (fs::exists(inventory.clientCaDir(record.name) / "ca.pem", ec)) {
    tls["clientCa"] = certificateJson(inventory.clientCaDir(record.name) / "ca.pem");
  }
  if (fs::exists(inventory.serverCertPath(record.name), ec)) {
    tls["server"] = certificateJson(inventory.serverCertPath(record.name));
  }
  if (!tls.empty()) j["tls"] = std::move(tls);
  return j.dump(2) + "\n";
}

}  // namespace berth::hosts
