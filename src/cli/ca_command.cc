// `berth ca`: berth's certificate authority (src/pki) from the command line.
//   berth ca init [--key-type T] [--name CN] [--days N]
//   berth ca issue server NAME (--ip A | --dns D)... [--days N] [--key-type T] [--out DIR]
//   berth ca issue client NAME [--host HOST] [--days N] [--key-type T] [--out DIR]
//   berth ca ls            (also each provisioned host's client CA, berth's client certificate from it,
//                           and the client certificates issued from it with --host)
// The CA lives in $XDG_CONFIG_HOME/berth/ca (CaStore); issued certificates and keys go to --out
// (default $XDG_CONFIG_HOME/berth/certs/KIND/NAME) as ca.pem, cert.pem and key.pem (0600).
#include <fmt/core.h>

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/files.h"
#include "base/strings.h"
#include "cli/commands.h"
#include "hosts/inventory.h"
#include "pki/ca_store.h"
#include "pki/expiry.h"

namespace berth::cli {
namespace {

namespace fs = std::filesystem;

// Certificates whose expiry is this close are flagged by `ca ls` (and warned about when used).
constexpr auto kExpiryWarning = pki::kExpiryWarningWindow;

struct CaOptions {
  std::string keyType = "ecdsa-p256";
  std::string name = "berth CA";
  int days = 3650;
};

struct IssueOptions {
  std::string name;
  std::vector<std::string> ips;
  std::vector<std::string> dns;
  std::string keyType = "ecdsa-p256";
  int days = 365;
  std::string out;
  std::string host;  // client: issue from this provisioned host's client CA
};

int report(const Error& error) {
  std::cerr << "berth: " << error.message() << "\n";
  return 1;
}

Result<pki::KeyType> keyTypeOption(const std::string& text) {
  const auto type = pki::parseKeyType(text);
  if (!type) {
    return fail(ErrorCode::InvalidArgument,
                "--key-type " + berth::quoted(text) + ": expected ecdsa-p256, rsa-2048 or rsa-4096");
  }
  return *type;
}

Status checkDays(int days) {
  if (days <= 0) return fail(ErrorCode::InvalidArgument, "--days must be at least 1");
  return ok();
}

// "expires in 12 days", "expired 3 days ago", "valid".
std::string expiryStatus(pki::SystemTime notAfter, pki::SystemTime now) {
  using std::chrono::duration_cast;
  using Days = std::chrono::duration<long long, std::ratio<86400>>;
  if (notAfter <= now) {
    const long long ago = duration_cast<Days>(now - notAfter).count();
    return ago == 0 ? "expired today"
                    : "expired " + std::to_string(ago) + (ago == 1 ? " day ago" : " days ago");
  }
  if (notAfter - now <= kExpiryWarning) {
    const long long left = duration_cast<Days>(notAfter - now).count();
    return left == 0 ? "expires today"
                     : "expires in " + std::to_string(left) + (left == 1 ? " day" : " days");
  }
  return "valid";
}

// berth's config directory, created 0700 (it holds keys).
Result<fs::path> privateConfigDir() {
  BERTH_ASSIGN_OR_RETURN(fs::path config, berthConfigDir());
  BERTH_TRY(ensurePrivateDir(config));
  return config;
}

Status runInit(const CaOptions& o) {
  BERTH_ASSIGN_OR_RETURN(pki::KeyType type, keyTypeOption(o.keyType));
  BERTH_TRY(checkDays(o.days));
  BERTH_TRY(privateConfigDir());
  BERTH_ASSIGN_OR_RETURN(fs::path dir, pki::CaStore::defaultDirectory());
  SystemClock clock;
  BERTH_ASSIGN_OR_RETURN(
      pki::CaStore store,
      pki::CaStore::init(dir, {.commonName = o.name,
                               .keyType = type,
                               .validity = pki::validFor(clock.wallNow(), std::chrono::hours(24) * o.days)}));
  const pki::CertificateInfo info = store.authority().certificate().info();
  std::cout << "Created CA " << info.subject << " in " << dir.string() << " (" << pki::keyTypeName(type)
            << ", expires " << pki::formatTime(info.notAfter) << ")\n";
  return ok();
}

Status runIssue(pki::CertificateKind kind, const IssueOptions& o) {
  BERTH_ASSIGN_OR_RETURN(pki::KeyType type, keyTypeOption(o.keyType));
  BERTH_TRY(checkDays(o.days));
  BERTH_ASSIGN_OR_RETURN(fs::path caDir, pki::CaStore::defaultDirectory());
  BERTH_ASSIGN_OR_RETURN(pki::CaStore store, pki::CaStore::open(caDir));
  if (auto w = pki::expiryWarning(store.authority().certificate(), "berth's CA certificate",
                                  SystemClock().wallNow())) {
    std::cerr << "berth: warning: " << *w << "; certificates it issues stop being trusted with it\n";
  }
  fs::path out = o.out;
  if (out.empty()) {
    BERTH_ASSIGN_OR_RETURN(fs::path config, privateConfigDir());
    out = config / "certs" / std::string(pki::certificateKindName(kind)) / o.name;
  }
  SystemClock clock;
  if (!o.host.empty()) {
    // A provisioned host trusts only its own client CA (docs/fleet.md, "Trust model"): a client
    // certificate for it comes from there, and stops working at the host's next rotate-certs.
    BERTH_ASSIGN_OR_RETURN(const hosts::Inventory inventory, hosts::Inventory::openDefault());
    BERTH_ASSIGN_OR_RETURN(const hosts::HostRecord record, inventory.get(o.host));
    if (!record.provisioned) {
      return fail(ErrorCode::InvalidArgument,
                  "host " + o.host + " (" + record.url +
                      ") was not provisioned by berth and trusts berth's CA itself: issue without --host");
    }
    const fs::path dir = inventory.clientCaDir(o.host);
    std::error_code ec;
    if (!fs::exists(dir / "ca.pem", ec)) {
      return fail(ErrorCode::NotFound, fmt::format("host {}'s client CA is missing from {} (`berth host "
                                                   "rotate-certs {}` makes a new one)",
                                                   o.host, dir.string(), o.host));
    }
    // Opened as a CaStore so that what it issues is recorded in its own index (`ca ls` lists it).
    BERTH_ASSIGN_OR_RETURN(pki::CaStore hostCa, pki::CaStore::open(dir));
    if (o.out.empty()) out = out.parent_path() / (o.name + "@" + o.host);
    BERTH_ASSIGN_OR_RETURN(
        pki::Issued issued,
        hostCa.issue({.kind = kind,
                      .commonName = o.name,
                      .keyType = type,
                      .validity = pki::validFor(clock.wallNow(), std::chrono::hours(24) * o.days)}));
    BERTH_TRY(pki::writeBundle(out, issued, store.authority().certificate()));
    const pki::CertificateInfo info = issued.certificate.info();
    std::cout << "Issued client certificate " << info.subject << " for host " << o.host
              << " (client CA generation " << record.generation << ", serial " << info.serial << ", expires "
              << pki::formatTime(info.notAfter) << ")\n  " << (out / "cert.pem").string() << "\n  "
              << (out / "key.pem").string() << "\n  " << (out / "ca.pem").string() << "\n";
    return ok();
  }
  BERTH_ASSIGN_OR_RETURN(
      pki::Issued issued,
      store.issue({.kind = kind,
                   .commonName = o.name,
                   .dnsNames = o.dns,
                   .ipAddresses = o.ips,
                   .keyType = type,
                   .validity = pki::validFor(clock.wallNow(), std::chrono::hours(24) * o.days)}));
  BERTH_TRY(pki::writeBundle(out, issued, store.authority().certificate()));
  const pki::CertificateInfo info = issued.certificate.info();
  std::cout << "Issued " << pki::certificateKindName(kind) << " certificate " << info.subject << " (serial "
            << info.serial << ", expires " << pki::formatTime(info.notAfter) << ")\n";
  if (kind == pki::CertificateKind::Server) {
    std::vector<std::string> names = info.ipAddresses;
    names.insert(names.end(), info.dnsNames.begin(), info.dnsNames.end());
    std::cout << "  names: " << join(names, ", ") << "\n";
  }
  std::cout << "  " << (out / "cert.pem").string() << "\n  " << (out / "key.pem").string() << "\n  "
            << (out / "ca.pem").string() << "\n";
  return ok();
}

Status runList() {
  BERTH_ASSIGN_OR_RETURN(fs::path dir, pki::CaStore::defaultDirectory());
  BERTH_ASSIGN_OR_RETURN(pki::CaStore store, pki::CaStore::open(dir));
  BERTH_ASSIGN_OR_RETURN(std::vector<pki::IssuedRecord> records, store.list());
  const pki::SystemTime now = SystemClock().wallNow();
  struct Row {
    std::string kind, name, serial, expires, status;
  };
  std::vector<Row> rows{{"KIND", "NAME", "SERIAL", "EXPIRES", "STATUS"}};
  const pki::CertificateInfo ca = store.authority().certificate().info();
  rows.push_back(
      {"ca", ca.commonName, ca.serial, pki::formatTime(ca.notAfter), expiryStatus(ca.notAfter, now)});
  for (const pki::IssuedRecord& r : records) {
    rows.push_back({std::string(pki::certificateKindName(r.kind)), r.name, r.serial,
                    pki::formatTime(r.notAfter), expiryStatus(r.notAfter, now)});
  }
  // Provisioned hosts trust a client CA of their own (docs/fleet.md, "Trust model"): list it,
  // berth's client certificate from it, and what `ca issue client --host` issued from it (in the
  // client CA's own index), none of which the index of berth's CA holds.
  if (auto inventory = hosts::Inventory::openDefault()) {
    if (auto entries = inventory->list()) {
      for (const hosts::InventoryEntry& h : *entries) {
        if (!h.record) {
          std::cerr << "berth: warning: " << h.damage->message() << "\n";
          continue;
        }
        const std::pair<fs::path, std::string> files[] = {
            {inventory->clientCaDir(h.name) / "ca.pem", "host-ca"},
            {inventory->clientDir(h.name) / "cert.pem", "host-client"}};
        for (const auto& [path, kind] : files) {
          std::error_code ec;
          if (!fs::exists(path, ec)) continue;
          auto cert = pki::Certificate::load(path);
          if (!cert) continue;
          const pki::CertificateInfo i = cert->info();
          rows.push_back(
              {kind, i.commonName, i.serial, pki::formatTime(i.notAfter), expiryStatus(i.notAfter, now)});
        }
        std::error_code ec;
        if (!fs::exists(inventory->clientCaDir(h.name) / "ca.pem", ec)) continue;
        auto hostCa = pki::CaStore::open(inventory->clientCaDir(h.name));
        auto issued = hostCa ? hostCa->list() : Result<std::vector<pki::IssuedRecord>>(fail(hostCa.error()));
        if (!issued) {
          std::cerr << "berth: warning: host " << h.name << "'s client CA: " << issued.error().message()
                    << "\n";
          continue;
        }
        for (const pki::IssuedRecord& r : *issued) {
          // NAME@HOST, as the bundle's directory is named: the same CN may be issued for several hosts.
          rows.push_back({"host-client", r.name + "@" + h.name, r.serial, pki::formatTime(r.notAfter),
                          expiryStatus(r.notAfter, now)});
        }
      }
    }
  }
  std::size_t w[4] = {0, 0, 0, 0};
  for (const Row& r : rows) {
    w[0] = std::max(w[0], r.kind.size());
    w[1] = std::max(w[1], r.name.size());
    w[2] = std::max(w[2], r.serial.size());
    w[3] = std::max(w[3], r.expires.size());
  }
  auto pad = [](const std::string& s, std::size_t width) {
    return s + std::string(width - s.size() + 3, ' ');
  };
  for (const Row& r : rows) {
    std::cout << pad(r.kind, w[0]) << pad(r.name, w[1]) << pad(r.serial, w[2]) << pad(r.expires, w[3])
              << r.status << "\n";
  }
  return ok();
}

void addIssueOptions(CLI::App* cmd, IssueOptions& o, bool server) {
  cmd->add_option(
         "name", o.name,
         server ? "The host's name (the certificate's CN)" : "The client's name (the certificate's CN)")
      ->required()
      ->type_name("NAME");
  if (server) {
    cmd->add_option("--ip", o.ips, "An IP address the host is reached at (repeatable)")->type_name("ADDRESS");
    cmd->add_option("--dns", o.dns, "A DNS name the host is reached at (repeatable)")->type_name("NAME");
  }
  if (!server) {
    cmd->add_option(
           "--host", o.host,
           "For this provisioned host: issued by its own client CA (revoked by its next rotate-certs)")
        ->type_name("HOST");
  }
  cmd->add_option("--days", o.days, "Validity in days")->capture_default_str();
  cmd->add_option("--key-type", o.keyType, "ecdsa-p256, rsa-2048 or rsa-4096")->capture_default_str();
  cmd->add_option("--out", o.out,
                  "Directory for ca.pem, cert.pem and key.pem (default: "
                  "$XDG_CONFIG_HOME/berth/certs/KIND/NAME)")
      ->type_name("DIR");
}

}  // namespace

void registerCaCommand(CLI::App& app, CommandContext& context) {
  CLI::App* ca = app.add_subcommand("ca", "Manage berth's certificate authority");
  ca->require_subcommand(1);

  auto init = std::make_shared<CaOptions>();
  CLI::App* initCmd = ca->add_subcommand("init", "Create berth's certificate authority");
  initCmd->add_option("--key-type", init->keyType, "ecdsa-p256, rsa-2048 or rsa-4096")->capture_default_str();
  initCmd->add_option("--name", init->name, "The CA's common name")->capture_default_str();
  initCmd->add_option("--days", init->days, "Validity in days")->capture_default_str();
  initCmd->callback([init, &context] {
    const Status s = runInit(*init);
    context.exitCode = s ? 0 : report(s.error());
  });

  CLI::App* issue = ca->add_subcommand("issue", "Issue a server or client certificate");
  issue->require_subcommand(1);
  auto server = std::make_shared<IssueOptions>();
  CLI::App* serverCmd = issue->add_subcommand("server", "Issue an engine's server certificate");
  addIssueOptions(serverCmd, *server, true);
  serverCmd->callback([server, &context] {
    const Status s = runIssue(pki::CertificateKind::Server, *server);
    context.exitCode = s ? 0 : report(s.error());
  });
  auto client = std::make_shared<IssueOptions>();
  CLI::App* clientCmd = issue->add_subcommand("client", "Issue a client certificate");
  addIssueOptions(clientCmd, *client, false);
  clientCmd->callback([client, &context] {
    const Status s = runIssue(pki::CertificateKind::Client, *client);
    context.exitCode = s ? 0 : report(s.error());
  });

  CLI::App* ls = ca->add_subcommand("ls", "List the certificates the CA issued, with expiry");
  ls->alias("list");
  ls->callback([&context] {
    const Status s = runList();
    context.exitCode = s ? 0 : report(s.error());
  });
}

}  // namespace berth::cli
