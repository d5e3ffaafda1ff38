// SSH trust between a project's services (x-berth-ssh `to:`, docs/access.md): what berth delivers
// into their containers, through the engine's archive API, before they start.
//
//   caller (a service with `to:`), in the home of the user its container runs as:
//     ~/.ssh/id_ed25519 (0600) and .pub      its key pair (TrustStore::callerKey)
//     ~/.ssh/known_hosts                      every replica of every target, pinned by host key,
//                                             under the service name and the container name
//     ~/.ssh/config                           for those names (each replica's, not a pattern):
//                                             the login user, that key only,
//                                             StrictHostKeyChecking yes, no password prompts
//   target (a service some caller names), for each login user callers use (`user`, default root):
//     ~USER/.ssh/authorized_keys (0600)       the public keys of the callers that log in as USER
//   and for sshd:
//     /etc/ssh/ssh_host_ed25519_key (0600)    this replica's host key (TrustStore::hostKey)
//     /etc/ssh/sshd_config.d/berth.conf       HostKey that key; PasswordAuthentication and
//                                             KbdInteractiveAuthentication no
//
// Files are owned by the user they belong to (uid/gid from the container's /etc/passwd, read
// through the archive API too). berth owns these files: what an image had there is replaced.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "engine/engine.h"
#include "spec/model.h"
#include "trust/trust_store.h"

namespace berth::trust {

// Who reaches whom in a project. Pure.
struct TrustLinks {
  struct Caller {
    std::vector<std::string> targets{};
    std::string user{};  // the login user on the targets
  };
  std::map<std::string, Caller> callers{};
  // target service → login user → the callers that log in as that user
  std::map<std::string, std::map<std::string, std::vector<std::string>>> targets{};

  bool empty() const { return callers.empty(); }
  bool involves(const std::string& service) const { return callers.count(service) != 0 || targets.count(service) != 0; }
};
TrustLinks linksOf(const spec::Project& project);

// An account of /etc/passwd.
struct Account {
  unsigned uid = 0;
  unsigned gid = 0;
  std::string home{};
  int line = 0;  // its line in the file: several names may share a uid, and the first one is it
};
// name → account. Malformed lines are skipped.
std::map<std::string, Account> parsePasswd(std::string_view text);
// The account of `user` (a name, or a uid: the first line that has it, as getpwuid() answers);
// nullptr when there is none.
const Account* findAccount(const std::map<std::string, Account>& accounts, const std::string& user);

// What one container is: its service, its replica number, and how many replicas each target has
// (known_hosts pins them all, so scaling a target up needs no new prompt).
struct ContainerRole {
  std::string service{};
  int number = 1;
};

class Delivery {
 public:
  // `replicas`: target service → the highest replica number to pin (at least its replica count).
  Delivery(const spec::Project& project, TrustStore store, std::map<std::string, int> replicas);

  const TrustLinks& links() const { return links_; }

  // The tar to extract at "/" in a container of `role`, given its /etc/passwd and the user it runs
  // as (Config.User: "name", "uid", "name:group", "uid:gid" or empty for root). Errors name the
  // service and the user that is missing.
  Result<std::string> archiveFor(const ContainerRole& role, std::string_view passwd, const std::string& runsAs) const;

  // Reads the container's /etc/passwd and user, then puts archiveFor's tar into it. Works on a
  // created, running or stopped container. A container of a service outside every link gets nothing.
  Status deliver(engine::Engine& engine, const std::string& containerId, const ContainerRole& role) const;

 private:
  int replicaCount(const std::string& target) const;
  Result<std::string> knownHosts(const std::string& caller) const;
  std::string sshConfig(const std::string& caller) const;

  std::string project_;
  TrustStore store_;
  TrustLinks links_;
  std::map<std::string, int> replicas_;
};

}  // namespace berth::trust
