// `berth host`: the fleet of engines berth knows by name (src/hosts).
//   berth host add NAME --url tcp://ADDR:2376               an engine already set up with berth's CA
//   berth host add NAME --ssh USER@ADDR[:PORT] [--provision] over SSH; --provision sets up mutual TLS
//   berth host ls | env | inspect | rm | label | rotate-certs
// Every other command reaches a registered host with -H NAME (selectedEngine, engine_command.cc).
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/files.h"
#include "base/strings.h"
#include "api/messages.h"
#include "cli/commands.h"
#include "cli/controller_client.h"
#include "cli/format.h"
#include "cli/global_options.h"
#include "hosts/credentials.h"
#include "hosts/inventory.h"
#include "hosts/provision.h"
#include "hosts/remote.h"
#include "hosts/resolve.h"
#include "hosts/shell_env.h"
#include "hosts/status.h"
#include "pki/ca_store.h"
#include "pki/expiry.h"
#include "pki/peer_certificate.h"

namespace berth::cli {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct AddOptions {
  std::string name{};
  std::string url{};
  std::string ssh{};
  std::string identity{};
  std::string sshHostKey{};
  std::string knownHosts{};
  bool acceptUnknownHostKey = false;
  bool provision = false;
  int port = 2376;
  int days = 365;
  double timeout = 60;
  std::vector<std::string> labels{};
  std::string failAfter{};  // hidden: tests of the restore path
};

struct LsOptions {
  double timeout = 3;
  bool quiet = false;
};

struct EnvOptions {
  std::string name{};
  std::string shell{};
  bool unset = false;
};

struct NameOptions {
  std::string name{};
  std::vector<std::string> changes{};
  int days = 365;
  double timeout = 60;
  bool force = false;   // rm (controller): move its tasks off instead of refusing
  bool detach = false;  // drain: return at once
};

int report(const Error& error) {
  std::cerr << "berth: " << error.message() << "\n";
  return 1;
}

void warn(const std::string& text) { std::cerr << "berth: warning: " << text << "\n"; }

std::chrono::milliseconds seconds(double s) {
  return std::chrono::milliseconds(static_cast<long long>(s * 1000));
}

// "user@addr[:port]" or "user@[v6]:port".
Result<hosts::SshTarget> parseSshTarget(const std::string& text) {
  hosts::SshTarget t;
  std::string rest = text;
  if (startsWith(rest, "ssh://")) rest = rest.substr(6);
  if (const auto at = rest.rfind('@'); at != std::string::npos) {
    t.user = rest.substr(0, at);
    rest = rest.substr(at + 1);
  }
  std::string portText{};
  if (startsWith(rest, "[")) {
    const auto close = rest.find(']');
    if (close == std::string::npos)
      return fail(ErrorCode::InvalidArgument, "--ssh " + berth::quoted(text) + ": unterminated [");
    t.address = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':')
        return fail(ErrorCode::InvalidArgument, "--ssh " + berth::quoted(text) + ": text after ]");
      portText = rest.substr(close + 2);
    }
  } else if (const auto colon = rest.find(':'); colon != std::string::npos) {
    t.address = rest.substr(0, colon);
    portText = rest.substr(colon + 1);
  } else {
    t.address = rest;
  }
  if (t.address.empty()) {
    return fail(ErrorCode::InvalidArgument,
                "--ssh " + berth::quoted(text) + ": expected USER@ADDRESS[:PORT]");
  }
  if (!portText.empty()) {
    char* end = nullptr;
    const long p = std::strtol(portText.c_str(), &end, 10);
    if (*end != '\0' || p < 1 || p > 65535) {
      return fail(ErrorCode::InvalidArgument,
                  "--ssh " + berth::quoted(text) + ": invalid port " + berth::quoted(portText));
    }
    t.port = static_cast<std::uint16_t>(p);
  }
  if (t.user.empty()) {
    const char* user = std::getenv("USER");
    t.user = user != nullptr ? user : "root";
  }
  return t;
}

Result<std::map<std::string, std::string>> parseLabels(const std::vector<std::string>& items) {
  std::map<std::string, std::string> out{};
  for (const std::string& item : items) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      return fail(ErrorCode::InvalidArgument, "label " + berth::quoted(item) + ": expected KEY=VALUE");
    }
    out[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return out;
}

std::string nowText() { return pki::formatTime(SystemClock().wallNow()); }

// berth's CA, created with defaults when there is none yet (provisioning needs one).
Result<pki::CaStore> openOrCreateCa(bool create) {
  BERTH_ASSIGN_OR_RETURN(fs::path dir, pki::CaStore::defaultDirectory());
  auto store = pki::CaStore::open(dir);
  if (store || !create || store.error().code() != ErrorCode::NotFound) return store;
  BERTH_ASSIGN_OR_RETURN(fs::path config, berthConfigDir());
  BERTH_TRY(ensurePrivateDir(config));
  const auto now = SystemClock().wallNow();
  BERTH_ASSIGN_OR_RETURN(
      pki::CaStore created,
      pki::CaStore::init(dir, {.validity = pki::validFor(now, std::chrono::hours(24 * 3650))}));
  std::cout << "Created berth's CA in " << dir.string() << " (ecdsa-p256; `berth ca ls` lists it)\n";
  return created;
}

std::optional<hosts::ProvisionStep> parseStep(const std::string& s) {
  using hosts::ProvisionStep;
  for (ProvisionStep step :
       {ProvisionStep::Probe, ProvisionStep::Issue, ProvisionStep::Backup, ProvisionStep::Install,
        ProvisionStep::Configure, ProvisionStep::Restart, ProvisionStep::Verify}) {
    std::string name(hosts::provisionStepName(step));
    if (s == name || s == split(name, ' ').front()) return step;
  }
  return std::nullopt;
}

// The known_hosts line that pins `key` for `target` (what the engine's ssh:// transport checks).
std::string knownHostsLine(const hosts::SshTarget& target, const std::string& key) {
  const std::string host =
      target.port == 22 ? target.address : fmt::format("[{}]:{}", target.address, target.port);
  return host + " " + key + "\n";
}

Result<hosts::SshConnection> connectTo(const hosts::SshTarget& target, const AddOptions& o, double timeout) {
  hosts::SshConnectOptions c{.user = target.user,
                             .address = target.address,
                             .port = target.port,
                             .identityFile = target.identityFile,
                             .expectedHostKey = o.sshHostKey,
                             .knownHostsFile = o.knownHosts,
                             .acceptUnknownHostKey = o.acceptUnknownHostKey,
                             .connectTimeout = std::min(seconds(timeout), std::chrono::milliseconds(10s))};
  return hosts::connectSsh(c);
}

struct ProvisionedWithCredentials {
  hosts::ProvisionResult result{};
  hosts::HostCredentials credentials;  // to save into the inventory once the engine works with them
};

// Provisions a host's engine (host add --provision, rotate-certs) with generation `generation` of its
// credentials, issued once step 1 has found the host's hostname; prints each step as it happens.
Result<ProvisionedWithCredentials> provisionWithNewCredentials(hosts::RemoteShell& shell,
                                                               const hosts::ProvisionOptions& po,
                                                               pki::CaStore& ca, int generation,
                                                               const hosts::CredentialOptions& credOptions) {
  const auto now = SystemClock().wallNow();
  std::optional<hosts::HostCredentials> creds{};
  auto provisioned = hosts::provisionEngineTls(
      shell, po,
      [&](const hosts::HostFacts& facts) -> Result<hosts::EngineTlsFiles> {
        BERTH_ASSIGN_OR_RETURN(hosts::HostCredentials c,
                               hosts::issueProvisionedCredentials(ca, po.hostName, generation, po.address,
                                                                  facts.hostname, credOptions, now));
        hosts::EngineTlsFiles files{
            .clientCaPem = c.clientCa->certificate().toPem(),
            .serverCertPem = c.server->certificate.toPem(),
            .serverKeyPem = c.server->key.toPem(),
            .client = hosts::clientTlsMaterial(c, "host " + po.hostName + "'s new client certificate")};
        creds = std::move(c);
        return files;
      },
      hosts::engineVerifier(),
      [](std::string_view line) { std::cout << "  " << line << "\n"
                                            << std::flush; });
  if (!provisioned) return fail(provisioned.error());
  return ProvisionedWithCredentials{.result = std::move(*provisioned), .credentials = std::move(*creds)};
}

Status runAdd(const AddOptions& o) {
  BERTH_TRY(hosts::checkHostName(o.name));
  BERTH_ASSIGN_OR_RETURN(const hosts::Inventory inventory, hosts::Inventory::openDefault());
  if (inventory.contains(o.name)) {
    return fail(
        ErrorCode::AlreadyExists,
        fmt::format("host {} is already registered (`berth host rm {}` first, or `berth host rotate-certs "
                    "{}` for new certificates)",
                    o.name, o.name, o.name));
  }
  if (o.url.empty() == o.ssh.empty()) {
    return fail(ErrorCode::InvalidArgument,
                "host add: give either --url tcp://ADDRESS:2376 or --ssh USER@ADDRESS");
  }
  if (o.provision && o.ssh.empty()) return fail(ErrorCode::InvalidArgument, "--provision needs --ssh");
  if (o.days <= 0) return fail(ErrorCode::InvalidArgument, "--days must be at least 1");
  if (o.port < 1 || o.port > 65535) return fail(ErrorCode::InvalidArgument, "--port must be from 1 to 65535");
  BERTH_ASSIGN_OR_RETURN(auto labels, parseLabels(o.labels));
  const auto now = SystemClock().wallNow();
  const hosts::CredentialOptions credOptions{.validity = std::chrono::hours(24) * o.days};
  hosts::HostRecord record{.name = o.name, .labels = std::move(labels), .addedAt = nowText()};

  if (!o.url.empty()) {
    // An engine already set up with berth's CA: berth only needs a client certificate of its own.
    BERTH_ASSIGN_OR_RETURN(engine::Endpoint endpoint, engine::parseEndpoint(o.url, true));
    if (endpoint.scheme != engine::Scheme::Tcp) {
      return fail(ErrorCode::InvalidArgument, "--url " + berth::quoted(o.url) +
                                                  ": expected tcp://ADDRESS:PORT (use --ssh for SSH hosts)");
    }
    BERTH_ASSIGN_OR_RETURN(pki::CaStore ca, openOrCreateCa(false));
    BERTH_ASSIGN_OR_RETURN(hosts::HostCredentials creds,
                           hosts::issueUrlHostCredentials(ca, o.name, credOptions, now));
    endpoint.tls = hosts::clientTlsMaterial(creds, "host " + o.name + "'s new client certificate");
    auto version = hosts::engineVerifier()(endpoint);
    if (!version) {
      return fail(std::move(version).error().withContext(
          fmt::format("host {} ({}): berth could not connect with a client certificate from its CA", o.name,
                      endpoint.url())));
    }
    record.url = endpoint.url();
    BERTH_TRY(hosts::saveCredentials(inventory, o.name, creds));
    // The server certificate the engine presents, kept for expiry warnings (berth did not issue it).
    auto seen = pki::fetchPeerCertificate(endpoint.host, endpoint.port, endpoint.tls->certPem,
                                          endpoint.tls->keyPem, std::chrono::seconds(5));
    if (seen) {
      BERTH_TRY(seen->save(inventory.serverCertPath(o.name)));
      if (auto w = pki::expiryWarning(*seen, "host " + o.name + "'s server certificate", now)) warn(*w);
    }
    BERTH_TRY(inventory.put(record));
    std::cout << fmt::format("Added host {} ({}): engine {}, mutual TLS with berth's CA\n", o.name,
                             record.url, *version);
    return ok();
  }

  BERTH_ASSIGN_OR_RETURN(hosts::SshTarget target, parseSshTarget(o.ssh));
  if (!o.identity.empty()) target.identityFile = fs::absolute(o.identity).string();
  std::cout << "Connecting to " << target.describe() << " over SSH\n";
  auto connected = connectTo(target, o, o.timeout);
  if (!connected) return fail(std::move(connected).error().withContext("host " + o.name));
  target.hostKey = connected->hostKey;
  record.ssh = target;
  std::cout << "  host key " << connected->hostKeyFingerprint << "\n";

  if (!o.provision) {
    // The engine over SSH (the ssh:// transport), with the host key pinned in the inventory.
    record.url = fmt::format(
        "ssh://{}@{}{}", target.user,
        target.address.find(':') != std::string::npos ? "[" + target.address + "]" : target.address,
        target.port == 22 ? "" : fmt::format(":{}", target.port));
    BERTH_TRY(inventory.put(record));
    BERTH_TRY(writeFileAtomic(inventory.knownHostsPath(o.name), knownHostsLine(target, target.hostKey)));
    BERTH_ASSIGN_OR_RETURN(engine::Endpoint endpoint, inventory.endpoint(record));
    auto version = hosts::engineVerifier()(endpoint);
    if (!version) {
      Status removed = inventory.remove(o.name);
      (void)removed;
      return fail(std::move(version).error().withContext(fmt::format("host {} ({})", o.name, record.url)));
    }
    std::cout << fmt::format("Added host {} ({}): engine {} over SSH\n", o.name, record.url, *version);
    return ok();
  }

  BERTH_ASSIGN_OR_RETURN(pki::CaStore ca, openOrCreateCa(true));
  hosts::ProvisionOptions po{.hostName = o.name,
                             .address = target.address,
                             .port = static_cast<std::uint16_t>(o.port),
                             .engineTimeout = seconds(o.timeout)};
  if (!o.failAfter.empty()) {
    po.failAfter = parseStep(o.failAfter);
    if (!po.failAfter)
      return fail(ErrorCode::InvalidArgument, "--fail-after: unknown step " + berth::quoted(o.failAfter));
  }
  BERTH_ASSIGN_OR_RETURN(ProvisionedWithCredentials provisioned,
                         provisionWithNewCredentials(*connected->shell, po, ca, 1, credOptions));
  record.url = provisioned.result.url;
  record.provisioned = true;
  record.initSystem = provisioned.result.facts.initSystem;
  record.generation = 1;
  BERTH_TRY(hosts::saveCredentials(inventory, o.name, provisioned.credentials));
  BERTH_TRY(writeFileAtomic(inventory.knownHostsPath(o.name), knownHostsLine(target, target.hostKey)));
  BERTH_TRY(inventory.put(record));
  std::cout << fmt::format("Added host {} ({}): engine {}, mutual TLS (client CA generation 1)\n", o.name,
                           record.url, provisioned.result.engineVersion);
  std::cout << fmt::format(
      "Use it with `berth -H {} ...`, or the docker CLI after `eval \"$(berth host env {})\"`\n", o.name,
      o.name);
  return ok();
}

Status runRotate(const NameOptions& o) {
  BERTH_ASSIGN_OR_RETURN(const hosts::Inventory inventory, hosts::Inventory::openDefault());
  BERTH_ASSIGN_OR_RETURN(hosts::HostRecord record, inventory.get(o.name));
  if (!record.provisioned || !record.ssh) {
    return fail(
        ErrorCode::InvalidArgument,
        fmt::format("host {} ({}) was not provisioned by berth (`host add --ssh ... --provision`), so berth "
                    "does not manage its engine's certificates; issue a server certificate with `berth ca "
                    "issue server` and install it by hand",
                    o.name, record.url));
  }
  if (o.days <= 0) return fail(ErrorCode::InvalidArgument, "--days must be at least 1");
  BERTH_ASSIGN_OR_RETURN(pki::CaStore ca, openOrCreateCa(false));
  AddOptions ssh{.sshHostKey = record.ssh->hostKey};
  std::cout << "Connecting to " << record.ssh->describe() << " over SSH\n";
  auto connected = connectTo(*record.ssh, ssh, o.timeout);
  if (!connected) return fail(std::move(connected).error().withContext("host " + o.name));
  const int generation = record.generation + 1;
  const auto port = engine::parseEndpoint(record.url, true);
  if (!port) return fail(port.error());
  BERTH_ASSIGN_OR_RETURN(
      ProvisionedWithCredentials done,
      provisionWithNewCredentials(*connected->shell,
                                  {.hostName = o.name,
                                   .address = record.ssh->address,
                                   .port = port->port,
                                   .engineTimeout = seconds(o.timeout)},
                                  ca, generation, {.validity = std::chrono::hours(24) * o.days}));
  BERTH_TRY(hosts::saveCredentials(inventory, o.name, done.credentials));
  record.generation = generation;
  record.initSystem = done.result.facts.initSystem;
  record.rotatedAt = nowText();
  BERTH_TRY(inventory.put(record));
  std::cout << fmt::format(
      "Rotated host {}'s certificates: new server certificate (expires {}), client CA generation {}; client "
      "certificates of generation {} are no longer accepted\n",
      o.name, pki::formatTime(done.credentials.server->certificate.info().notAfter), generation,
      generation - 1);
  return ok();
}

std::string labelsText(const std::map<std::string, std::string>& labels) {
  std::vector<std::string> parts{};
  for (const auto& [k, v] : labels) parts.push_back(k + "=" + v);
  return join(parts, ",");
}

Status runLs(const LsOptions& o) {
  BERTH_ASSIGN_OR_RETURN(const hosts::Inventory inventory, hosts::Inventory::openDefault());
  BERTH_ASSIGN_OR_RETURN(const std::vector<hosts::InventoryEntry> entries, inventory.list());
  // Damaged records are listed with their error (as docker-machine does), not hidden and not fatal:
  // the healthy hosts are what the user is probably after.
  std::vector<hosts::HostRecord> records{};
  for (const auto& e : entries) {
    if (e.record) records.push_back(*e.record);
  }
  if (o.quiet) {
    // Names for scripts: only hosts a command can use; the damaged ones are said on stderr.
    for (const auto& e : entries) {
      if (e.record) {
        std::cout << e.name << "\n";
      } else {
        warn(e.damage->message());
      }
    }
    return ok();
  }
  const auto statuses = hosts::queryHosts(inventory, records, seconds(o.timeout));
  const auto now = SystemClock().wallNow();
  std::vector<std::vector<std::string>> rows{
      {"NAME", "URL", "STATE", "ENGINE", "CONTAINERS", "LABELS", "ERRORS"}};
  std::size_t queried = 0;
  for (const auto& e : entries) {
    if (!e.record) {
      rows.push_back({e.name, "-", std::string(hosts::hostStateName(hosts::HostState::Invalid)), "-", "-",
                      "-", e.damage->message()});
      continue;
    }
    const hosts::HostRecord& record = *e.record;
    const hosts::HostStatus& s = statuses[queried++];
    const bool up = s.state == hosts::HostState::Running;
    rows.push_back({s.name, s.url, std::string(hosts::hostStateName(s.state)), up ? s.engineVersion : "-",
                    up ? fmt::format("{} ({} running)", s.containers, s.running) : "-",
                    record.labels.empty() ? "-" : labelsText(record.labels), s.error});
    auto endpoint = inventory.endpoint(record);
    if (endpoint) {
      for (const std::string& w : hosts::certificateWarnings(inventory, record.name, *endpoint, now)) warn(w);
    }
  }
  std::vector<std::size_t> widths(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(widths[c] - row[c].size() + 3, ' ');
    }
    std::cout << std::string(trim(line)) << "\n";
  }
  return ok();
}

Status runEnv(const EnvOptions& o) {
  hosts::Shell shell = hosts::shellFromEnvironment(std::getenv("SHELL"));
  if (!o.shell.empty()) {
    const auto parsed = hosts::parseShell(o.shell);
    if (!parsed) {
      return fail(ErrorCode::InvalidArgument,
                  "--shell " + berth::quoted(o.shell) + ": expected bash, zsh, sh, fish, powershell or cmd");
    }
    shell = *parsed;
  }
  const std::string shellFlag = o.shell.empty() ? "" : " --shell " + o.shell;
  if (o.unset) {
    std::cout << hosts::formatEnv(shell, hosts::dockerEnvironmentUnset(),
                                  "berth host env --unset" + shellFlag);
    return ok();
  }
  if (o.name.empty()) return fail(ErrorCode::InvalidArgument, "host env: name a host (or give --unset)");
  BERTH_ASSIGN_OR_RETURN(const hosts::Inventory inventory, hosts::Inventory::openDefault());
  BERTH_ASSIGN_OR_RETURN(const hosts::HostRecord record, inventory.get(o.name));
  if (auto endpoint = inventory.endpoint(record)) {
    for (const std::string& w :
         hosts::certificateWarnings(inventory, record.name, *endpoint, SystemClock().wallNow())) {
      warn(w);
    }
  }
  std::cout << hosts::formatEnv(shell, hosts::dockerEnvironment(inventory, record),
                                "berth host env " + o.name + shellFlag);
  return ok();
}

Status runInspect(const NameOptions& o) {
  BERTH_ASSIGN_OR_RETURN(const hosts::Inventory inventory, hosts::Inventory::openDefault());
  BERTH_ASSIGN_OR_RETURN(const hosts::HostRecord record, inventory.get(o.name));
  std::cout << hosts::inspectJson(inventory, record);
  return ok();
}

Status runRm(const NameOptions& o) {
  BERTH_ASSIGN_OR_RETURN(const hosts::Inventory inventory, hosts::Inventory::openDefault());
  const auto record = inventory.get(o.name);
  // A host whose record is damaged can still be forgotten: that is the way out its error suggests.
  if (!record && !inventory.contains(o.name)) return fail(record.error());
  BERTH_TRY(inventory.remove(o.name));
  if (!record) {
    std::cout << fmt::format("Removed host {} (its record was damaged) and berth's keys for it\n", o.name);
    return ok();
  }
  std::cout << fmt::format("Removed host {} ({}) and berth's keys for it", o.name, record->url);
  if (record->provisioned) std::cout << "; its engine keeps listening with the certificates berth installed";
  std::cout << "\n";
  return ok();
}

Status runLabel(const NameOptions& o) {
  BERTH_ASSIGN_OR_RETURN(const hosts::Inventory inventory, hosts::Inventory::openDefault());
  BERTH_ASSIGN_OR_RETURN(hosts::HostRecord record, inventory.get(o.name));
  for (const std::string& change : o.changes) {
    if (endsWith(change, "-") && change.find('=') == std::string::npos) {
      record.labels.erase(change.substr(0, change.size() - 1));
      continue;
    }
    BERTH_ASSIGN_OR_RETURN(auto one, parseLabels({change}));
    for (auto& [k, v] : one) record.labels[k] = v;
  }
  BERTH_TRY(inventory.put(record));
  std::cout << o.name << ": " << (record.labels.empty() ? "no labels" : labelsText(record.labels)) << "\n";
  return ok();
}

// ---- with a controller selected: the inventory is the controller's

// berthd's credentials for a host: berthd makes the key and a CSR, berth certifies it with the CA
// the host's engine trusts for clients (the host's own client CA when berth provisioned it, else
// berth's CA), and berthd checks the engine's server certificate against berth's CA.
Status registerWithController(ControllerClient& client, const AddOptions& o) {
  BERTH_ASSIGN_OR_RETURN(const hosts::Inventory inventory, hosts::Inventory::openDefault());
  BERTH_ASSIGN_OR_RETURN(const hosts::HostRecord record, inventory.get(o.name));
  if (!startsWith(record.url, "tcp://")) {
    return fail(ErrorCode::InvalidArgument,
                fmt::format("host {} is reached over SSH ({}); the controller reaches engines over mutual TLS: "
                            "register it with --ssh ... --provision (or --url tcp://...)",
                            o.name, record.url));
  }
  BERTH_ASSIGN_OR_RETURN(std::string reply,
                         client.call("POST", "/v1/hosts/csr", api::toJson(api::CsrRequest{o.name}),
                                     "register host " + o.name));
  BERTH_ASSIGN_OR_RETURN(api::CsrReply csr, api::fromJson<api::CsrReply>(reply));
  BERTH_ASSIGN_OR_RETURN(fs::path caDir, pki::CaStore::defaultDirectory());
  BERTH_ASSIGN_OR_RETURN(pki::CaStore berthCa, pki::CaStore::open(caDir));
  const fs::path signerDir = record.provisioned ? inventory.clientCaDir(o.name) : caDir;
  BERTH_ASSIGN_OR_RETURN(pki::CaStore signer, pki::CaStore::open(signerDir));
  const auto now = SystemClock().wallNow();
  BERTH_ASSIGN_OR_RETURN(
      pki::Certificate cert,
      signer.authority().issueForCsr(csr.csr, {.kind = pki::CertificateKind::Client,
                                               .commonName = "berthd@" + o.name,
                                               .validity = pki::validFor(now, std::chrono::hours(24) * o.days)}));
  api::HostAddRequest add;
  add.name = o.name;
  add.url = record.url;
  add.labels = record.labels;
  BERTH_ASSIGN_OR_RETURN(auto extra, parseLabels(o.labels));
  for (auto& [k, v] : extra) add.labels[k] = v;
  add.caPem = berthCa.authority().certificate().toPem();
  add.certPem = cert.toPem();
  BERTH_ASSIGN_OR_RETURN(std::string added,
                         client.call("POST", "/v1/hosts", api::toJson(add), "register host " + o.name));
  BERTH_ASSIGN_OR_RETURN(api::HostView view, api::fromJson<api::HostView>(added));
  std::cout << fmt::format("Registered host {} ({}) with the controller {}: engine {}, {} CPUs, {} memory\n",
                           view.name, view.url, client.url(), view.engineVersion, view.ncpu,
                           humanSize(view.memory));
  return ok();
}

Status addViaController(const GlobalOptions& global, const AddOptions& o) {
  BERTH_ASSIGN_OR_RETURN(auto client, controllerClient(global));
  BERTH_ASSIGN_OR_RETURN(const hosts::Inventory inventory, hosts::Inventory::openDefault());
  // A host berth already knows (with its credentials) is only registered with the controller.
  if (!inventory.contains(o.name)) {
    if (!o.ssh.empty() && !o.provision) {
      return fail(ErrorCode::InvalidArgument,
                  "the controller reaches engines over mutual TLS: add --provision (or register an engine "
                  "already set up with berth's CA with --url tcp://...)");
    }
    BERTH_TRY(runAdd(o));
  }
  return registerWithController(*client, o);
}

Status lsViaController(const GlobalOptions& global, const LsOptions& o) {
  BERTH_ASSIGN_OR_RETURN(auto client, controllerClient(global));
  BERTH_ASSIGN_OR_RETURN(std::string body, client->get("/v1/hosts", "list hosts"));
  BERTH_ASSIGN_OR_RETURN(auto hosts, api::fromJson<std::vector<api::HostView>>(body));
  if (o.quiet) {
    for (const api::HostView& h : hosts) std::cout << h.name << "\n";
    return ok();
  }
  std::vector<std::vector<std::string>> rows{
      {"NAME", "URL", "STATE", "AVAILABILITY", "ENGINE", "CPUS", "MEMORY", "TASKS", "LABELS", "ERRORS"}};
  for (const api::HostView& h : hosts) {
    rows.push_back({h.name, h.url, h.state, h.availability, h.engineVersion.empty() ? "-" : h.engineVersion,
                    std::to_string(h.ncpu), humanSize(h.memory), std::to_string(h.tasks), labelsText(h.labels),
                    h.error});
  }
  std::cout << table(rows);
  return ok();
}

Status inspectViaController(const GlobalOptions& global, const NameOptions& o) {
  BERTH_ASSIGN_OR_RETURN(auto client, controllerClient(global));
  BERTH_ASSIGN_OR_RETURN(std::string body, client->get("/v1/hosts/" + urlEncode(o.name), "inspect host " + o.name));
  std::cout << prettyJson(body) << "\n";
  return ok();
}

Status rmViaController(const GlobalOptions& global, const NameOptions& o) {
  BERTH_ASSIGN_OR_RETURN(auto client, controllerClient(global));
  BERTH_TRY(client->call("DELETE", "/v1/hosts/" + urlEncode(o.name) + (o.force ? "?force=1" : ""), "",
                         "remove host " + o.name));
  std::cout << fmt::format("Removed host {} from the controller {}\n", o.name, client->url());
  return ok();
}

Status labelViaController(const GlobalOptions& global, const NameOptions& o) {
  BERTH_ASSIGN_OR_RETURN(auto client, controllerClient(global));
  api::LabelRequest req;
  for (const std::string& change : o.changes) {
    if (endsWith(change, "-") && change.find('=') == std::string::npos) {
      req.remove.push_back(change.substr(0, change.size() - 1));
      continue;
    }
    BERTH_ASSIGN_OR_RETURN(auto one, parseLabels({change}));
    for (auto& [k, v] : one) req.set[k] = v;
  }
  BERTH_TRY(client->call("POST", "/v1/hosts/" + urlEncode(o.name) + "/labels", api::toJson(req),
                         "label host " + o.name));
  BERTH_ASSIGN_OR_RETURN(std::string body, client->get("/v1/hosts/" + urlEncode(o.name), "inspect host " + o.name));
  BERTH_ASSIGN_OR_RETURN(api::HostView view, api::fromJson<api::HostView>(body));
  std::cout << o.name << ": " << (view.labels.empty() ? "no labels" : labelsText(view.labels)) << "\n";
  return ok();
}

// drain / activate. Drain waits until no task runs on the host any more (their replacements run
// elsewhere first), unless --detach.
Status availabilityViaController(const GlobalOptions& global, const NameOptions& o, bool drain) {
  BERTH_ASSIGN_OR_RETURN(auto client, controllerClient(global));
  const std::string what = (drain ? "drain host " : "activate host ") + o.name;
  BERTH_TRY(client->call("POST", "/v1/hosts/" + urlEncode(o.name) + (drain ? "/drain" : "/activate"), "", what));
  if (!drain) {
    std::cout << fmt::format("Host {} is active: new tasks may be placed there\n", o.name);
    return ok();
  }
  std::cout << fmt::format("Draining host {}: its tasks start elsewhere, then stop there\n", o.name);
  if (o.detach) return ok();
  const auto deadline = std::chrono::steady_clock::now() + seconds(o.timeout);
  std::string lastBlocked;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(std::string body, client->get("/v1/tasks", "list tasks"));
    BERTH_ASSIGN_OR_RETURN(auto tasks, api::fromJson<std::vector<api::TaskView>>(body));
    BERTH_ASSIGN_OR_RETURN(std::string hostBody, client->get("/v1/hosts/" + urlEncode(o.name), "host " + o.name));
    BERTH_ASSIGN_OR_RETURN(api::HostView host, api::fromJson<api::HostView>(hostBody));
    // Its tasks' replacements run elsewhere and their own containers are gone.
    int left = host.containers;
    std::string blocked;
    for (const api::TaskView& t : tasks) {
      if (t.desired != "running") continue;
      if (t.host == o.name) {
        left = std::max(left, 1);
        if (!t.error.empty()) blocked = t.name + ": " + t.error;
      }
      if (t.state == "pending" && !t.error.empty()) blocked = t.name + ": " + t.error;
    }
    if (left == 0) {
      std::cout << fmt::format("Host {} is drained\n", o.name);
      return ok();
    }
    if (!blocked.empty() && blocked != lastBlocked) {
      std::cerr << "berth: " << blocked << "\n";
      lastBlocked = blocked;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return fail(ErrorCode::DeadlineExceeded,
                  fmt::format("host {} still runs {} container{} of berth's after {}s{}", o.name, left, left == 1 ? "" : "s",
                              o.timeout, blocked.empty() ? "" : " (" + blocked + ")"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

template <class Options>
void bind(CLI::App* cmd, CommandContext& context, std::shared_ptr<Options> options,
          Status (*fn)(const Options&)) {
  cmd->callback([&context, options, fn] {
    const Status s = fn(*options);
    context.exitCode = s ? 0 : report(s.error());
  });
}

// A command that works on berth's own inventory, or on the controller's when one is selected.
template <class Options>
void bindFleet(CLI::App* cmd, CommandContext& context, std::shared_ptr<Options> options,
               Status (*local)(const Options&), Status (*controller)(const GlobalOptions&, const Options&)) {
  cmd->callback([&context, options, local, controller] {
    const Status s = selectedController(context.global) ? controller(context.global, *options) : local(*options);
    context.exitCode = s ? 0 : report(s.error());
  });
}

}  // namespace

void registerHostCommand(CLI::App& app, CommandContext& context) {
  CLI::App* host = app.add_subcommand("host", "Manage the hosts (engines) berth deploys to");
  host->require_subcommand(1);

  auto add = std::make_shared<AddOptions>();
  CLI::App* addCmd =
      host->add_subcommand("add", "Register a host: an engine URL, or a machine reached over SSH");
  addCmd->add_option("name", add->name, "The host's name (used with -H NAME)")->required()->type_name("NAME");
  addCmd->add_option("--url", add->url, "An engine already using berth's CA: tcp://ADDRESS:2376")
      ->type_name("URL");
  addCmd->add_option("--ssh", add->ssh, "Reach the host over SSH: USER@ADDRESS[:PORT]")->type_name("TARGET");
  addCmd->add_option("--identity,-i", add->identity, "SSH private key (default: ssh-agent, ~/.ssh/id_*)")
      ->type_name("KEY");
  addCmd
      ->add_option("--ssh-host-key", add->sshHostKey,
                   "The host's SSH key (\"ssh-ed25519 AAAA...\" or a file); default: check known_hosts")
      ->type_name("KEY");
  addCmd->add_option("--known-hosts", add->knownHosts, "known_hosts file (default: ~/.ssh/known_hosts)")
      ->type_name("FILE");
  addCmd->add_flag("--accept-unknown-host-key", add->acceptUnknownHostKey,
                   "Trust the host's SSH key although known_hosts does not name it (it is then pinned)");
  addCmd->add_flag("--provision", add->provision,
                   "Set the engine up for mutual TLS on TCP (certificates, daemon.json, restart)");
  addCmd->add_option("--port", add->port, "TCP port of the provisioned engine")->capture_default_str();
  addCmd->add_option("--days", add->days, "Validity of the certificates berth issues")->capture_default_str();
  addCmd->add_option("--timeout", add->timeout, "Seconds to wait for the engine after its restart")
      ->capture_default_str();
  addCmd->add_option("--label,-l", add->labels, "A label KEY=VALUE (repeatable)")->type_name("KEY=VALUE");
  addCmd->add_option("--fail-after", add->failAfter, "")->group("");  // tests: injected failure
  bindFleet(addCmd, context, add, &runAdd, &addViaController);

  auto ls = std::make_shared<LsOptions>();
  CLI::App* lsCmd = host->add_subcommand("ls", "List the hosts with their state, queried in parallel");
  lsCmd->alias("list");
  lsCmd->add_option("--timeout", ls->timeout, "Seconds to wait for each host")->capture_default_str();
  lsCmd->add_flag("-q,--quiet", ls->quiet, "Only names");
  bindFleet(lsCmd, context, ls, &runLs, &lsViaController);

  auto env = std::make_shared<EnvOptions>();
  CLI::App* envCmd =
      host->add_subcommand("env", "Print the DOCKER_* exports that point the docker CLI at a host");
  envCmd->add_option("name", env->name, "The host")->type_name("NAME");
  envCmd->add_option("--shell", env->shell, "bash, zsh, sh, fish, powershell or cmd (default: from $SHELL)");
  envCmd->add_flag("-u,--unset", env->unset, "Print the commands that unset them");
  bind(envCmd, context, env, &runEnv);

  auto inspect = std::make_shared<NameOptions>();
  CLI::App* inspectCmd = host->add_subcommand("inspect", "Show a host's record and certificates as JSON");
  inspectCmd->add_option("name", inspect->name, "The host")->required()->type_name("NAME");
  bindFleet(inspectCmd, context, inspect, &runInspect, &inspectViaController);

  auto rm = std::make_shared<NameOptions>();
  CLI::App* rmCmd = host->add_subcommand("rm", "Forget a host (and berth's keys for it)");
  rmCmd->add_option("name", rm->name, "The host")->required()->type_name("NAME");
  rmCmd->add_flag("--force", rm->force, "With a controller: start the host's tasks elsewhere and forget it");
  bindFleet(rmCmd, context, rm, &runRm, &rmViaController);

  auto label = std::make_shared<NameOptions>();
  CLI::App* labelCmd = host->add_subcommand("label", "Set (KEY=VALUE) or remove (KEY-) a host's labels");
  labelCmd->add_option("name", label->name, "The host")->required()->type_name("NAME");
  labelCmd->add_option("changes", label->changes, "KEY=VALUE or KEY-")->required()->type_name("CHANGE");
  bindFleet(labelCmd, context, label, &runLabel, &labelViaController);

  auto drain = std::make_shared<NameOptions>();
  CLI::App* drainCmd = host->add_subcommand(
      "drain", "(controller) Move a host's tasks elsewhere (each starts there first) and place nothing new on it");
  drainCmd->add_option("name", drain->name, "The host")->required()->type_name("NAME");
  drainCmd->add_flag("-d,--detach", drain->detach, "Return at once instead of waiting until it is drained");
  drainCmd->add_option("--timeout", drain->timeout, "Seconds to wait")->capture_default_str();
  drainCmd->callback([&context, drain] {
    const Status s = availabilityViaController(context.global, *drain, true);
    context.exitCode = s ? 0 : report(s.error());
  });
  auto activate = std::make_shared<NameOptions>();
  CLI::App* activateCmd = host->add_subcommand("activate", "(controller) Let tasks be placed on a drained host again");
  activateCmd->add_option("name", activate->name, "The host")->required()->type_name("NAME");
  activateCmd->callback([&context, activate] {
    const Status s = availabilityViaController(context.global, *activate, false);
    context.exitCode = s ? 0 : report(s.error());
  });

  auto rotate = std::make_shared<NameOptions>();
  CLI::App* rotateCmd = host->add_subcommand(
      "rotate-certs",
      "Re-issue and re-install a provisioned host's certificates; old client certificates stop working");
  rotateCmd->add_option("name", rotate->name, "The host")->required()->type_name("NAME");
  rotateCmd->add_option("--days", rotate->days, "Validity of the new certificates")->capture_default_str();
  rotateCmd->add_option("--timeout", rotate->timeout, "Seconds to wait for the engine after its restart")
      ->capture_default_str();
  bind(rotateCmd, context, rotate, &runRotate);
}

}  // namespace berth::cli
