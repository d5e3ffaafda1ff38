// The host inventory: the engines berth knows by name, in berth's config directory.
//
//   $XDG_CONFIG_HOME/berth/hosts/            (0700)
//     NAME/                                  (0700)
//       host.json      the record below (0600)
//       client/        berth's client bundle for this host: ca.pem (what the engine's server
//                      certificate must chain to), cert.pem, key.pem (0600) — DOCKER_CERT_PATH
//       client-ca/     provisioned hosts only: the host's client-issuing CA of the current
//                      generation, ca.pem and ca-key.pem (0600); the engine trusts only it
//       server.pem     provisioned hosts: a copy of the server certificate berth installed; --url
//                      hosts: the one the engine presented when it was registered (for expiry warnings)
//       known_hosts    SSH hosts only: the pinned host key, in known_hosts format
//
// A host is reached through `url`: tcp://ADDR:PORT with mutual TLS (client/) or ssh://USER@ADDR.
// Records are written atomically; a missing directory is an empty inventory.
//
// Thread-safety: an Inventory is a value; concurrent berth processes writing the same host may lose
// one of the writes (the last one wins), never corrupt a record.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "engine/endpoint.h"

namespace berth::hosts {

enum class InitSystem { Systemd, SysV };
std::string_view initSystemName(InitSystem system);  // "systemd", "sysv"
std::optional<InitSystem> parseInitSystem(std::string_view name);

// How berth reaches a host's sshd (for provisioning and rotation, or as its engine transport).
struct SshTarget {
  std::string user{};
  std::string address{};
  std::uint16_t port = 22;
  std::string identityFile{};  // empty: ssh-agent, then the default identities
  std::string hostKey{};       // pinned "ssh-ed25519 AAAA...": the key the host proved at `host add`
  // "root@10.0.0.2:22"
  std::string describe() const;

  friend bool operator==(const SshTarget&, const SshTarget&) = default;
};

struct HostRecord {
  std::string name{};
  std::string url{};  // tcp://ADDR:PORT or ssh://USER@ADDR[:PORT]
  std::map<std::string, std::string> labels{};
  std::optional<SshTarget> ssh{};
  // Provisioned by berth: the engine's TLS configuration is berth's (and rotate-certs can redo it).
  bool provisioned = false;
  std::optional<InitSystem> initSystem{};  // as detected when provisioning
  int generation = 0;                      // client-CA generation installed on the host (provisioned)
  std::string addedAt{};                   // "2026-05-01T10:00:00Z"
  std::string rotatedAt{};                 // last rotate-certs; empty if never

  friend bool operator==(const HostRecord&, const HostRecord&) = default;
};

// A host name: 1-63 characters of letters, digits, '.', '_' and '-', starting with a letter or
// digit (so that it can never be mistaken for an engine URL or a flag). InvalidArgument otherwise.
Status checkHostName(std::string_view name);

// host.json text and back. Errors: InvalidArgument naming what is wrong ("not valid JSON: parse
// error at line 3, column 1: ...", "missing \"url\"").
std::string recordToJson(const HostRecord& record);
Result<HostRecord> recordFromJson(std::string_view text);

// One host directory of the inventory: its record, or why its host.json cannot be used.
struct InventoryEntry {
  std::string name{};                  // the directory's name
  std::optional<HostRecord> record{};  // absent when the record is damaged
  std::optional<Error> damage{};       // then: what Inventory::get says, naming the file
};

class Inventory {
 public:
  // berthConfigDir()/hosts.
  static Result<Inventory> openDefault();
  explicit Inventory(std::filesystem::path dir) : dir_(std::move(dir)) {}

  const std::filesystem::path& directory() const { return dir_; }
  std::filesystem::path hostDir(std::string_view name) const { return dir_ / std::string(name); }
  std::filesystem::path clientDir(std::string_view name) const { return hostDir(name) / "client"; }
  std::filesystem::path clientCaDir(std::string_view name) const { return hostDir(name) / "client-ca"; }
  std::filesystem::path serverCertPath(std::string_view name) const { return hostDir(name) / "server.pem"; }
  std::filesystem::path knownHostsPath(std::string_view name) const { return hostDir(name) / "known_hosts"; }

  // Every host directory, by name. A damaged record is an entry with its error, not a failure of
  // the whole list (like `docker-machine ls`): one bad file must not hide the healthy hosts.
  // Errors: only when the inventory directory itself cannot be read.
  Result<std::vector<InventoryEntry>> list() const;
  // NotFound: "no host named "web-1" (`berth host ls` lists them)" (with a suggestion when close).
  // A record that cannot be read or parsed: "host web-1: damaged record PATH: WHAT IS WRONG; ..."
  // (InvalidArgument, or the read error's code).
  Result<HostRecord> get(std::string_view name) const;
  bool contains(std::string_view name) const;
  // Creates the host's directory (0700) if needed and writes host.json (0600).
  Status put(const HostRecord& record) const;
  // Removes the host's directory with its keys, also when its record is damaged. NotFound when
  // absent.
  Status remove(std::string_view name) const;

  // The engine endpoint for a host: its URL with the TLS material of client/ (tcp) or the pinned
  // known_hosts and identity (ssh). Errors name the host and the file at fault.
  Result<engine::Endpoint> endpoint(const HostRecord& record) const;

 private:
  std::filesystem::path dir_{};
};

// The variables that point the docker CLI at a host (DOCKER_HOST, and DOCKER_TLS_VERIFY and
// DOCKER_CERT_PATH for TLS hosts, unset for SSH ones), for `berth host env`.
std::vector<std::pair<std::string, std::optional<std::string>>> dockerEnvironment(const Inventory& inventory,
                                                                                  const HostRecord& record);
// The forms that undo it.
std::vector<std::pair<std::string, std::optional<std::string>>> dockerEnvironmentUnset();

// `berth host inspect`: the record, where its files are, and its certificates with expiry, as JSON.
std::string inspectJson(const Inventory& inventory, const HostRecord& record);

}  // namespace berth::hosts
