#include "trust/delivery.h"

#include <algorithm>
#include <optional>

#include "base/strings.h"
#include "base/tar_reader.h"
#include "base/tar_writer.h"

namespace berth::trust {
namespace {

constexpr const char* kSshdDropIn =
    "# Written by berth (x-berth-ssh): logins with the keys berth minted only, and the host key the\n"
    "# callers pinned. Included first by Debian's sshd_config, so these settings win.\n"
    "HostKey /etc/ssh/ssh_host_ed25519_key\n"
    "PasswordAuthentication no\n"
    "KbdInteractiveAuthentication no\n"
    "PermitEmptyPasswords no\n";

bool isNumber(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string loginUser(const spec::Service& s) { return s.ssh && !s.ssh->user.empty() ? s.ssh->user : "root"; }

// The one regular file in a tar of the archive API (a single file was asked for).
Result<std::string> onlyFile(const std::string& tar, const std::string& what) {
  std::optional<std::pair<std::size_t, std::uint64_t>> found;  // data offset, size
  std::size_t fed = 0;
  TarReader reader([&](const TarEntry& e) -> Status {
    if (!found && (e.type == '0' || e.type == '\0')) found = std::make_pair(fed, e.size);
    return ok();
  });
  // Block by block, so that when an entry's header is read its data starts at the next block.
  for (; fed < tar.size();) {
    const std::size_t n = std::min<std::size_t>(512, tar.size() - fed);
    fed += n;
    BERTH_TRY(reader.feed(std::string_view(tar).substr(fed - n, n)));
    if (found) break;
  }
  if (!found || found->first + found->second > tar.size()) {
    return fail(ErrorCode::InvalidArgument, what + " is not a regular file");
  }
  return tar.substr(found->first, found->second);
}

}  // namespace

TrustLinks linksOf(const spec::Project& project) {
  TrustLinks links;
  for (const auto& [name, s] : project.services) {
    if (!s.ssh || s.ssh->to.empty()) continue;
    TrustLinks::Caller c;
    c.user = loginUser(s);
    for (const std::string& t : s.ssh->to) {
      if (std::find(c.targets.begin(), c.targets.end(), t) == c.targets.end()) c.targets.push_back(t);
      auto& callers = links.targets[t][c.user];
      if (std::find(callers.begin(), callers.end(), name) == callers.end()) callers.push_back(name);
    }
    links.callers.emplace(name, std::move(c));
  }
  return links;
}

std::map<std::string, Account> parsePasswd(std::string_view text) {
  std::map<std::string, Account> accounts;
  // A uid or gid is a 32-bit number; anything else is a malformed line, never a wrapped one.
  const auto id = [](const std::string& field) -> std::optional<unsigned> {
    if (!isNumber(field) || field.size() > 10) return std::nullopt;
    const unsigned long long value = std::stoull(field);
    if (value > 0xffffffffULL) return std::nullopt;
    return static_cast<unsigned>(value);
  };
  int number = 0;
  for (const std::string& line : split(text, '\n')) {
    ++number;
    const auto f = split(line, ':');
    if (f.size() < 7 || f[0].empty()) continue;
    const auto uid = id(f[2]);
    const auto gid = id(f[3]);
    if (!uid || !gid) continue;
    accounts.emplace(f[0], Account{*uid, *gid, f[5], number});
  }
  return accounts;
}

const Account* findAccount(const std::map<std::string, Account>& accounts, const std::string& user) {
  const Account* account = nullptr;
  for (const auto& [name, a] : accounts) {
    const bool matches = isNumber(user) ? std::to_string(a.uid) == user : name == user;
    if (matches && (account == nullptr || a.line < account->line)) account = &a;
  }
  return account;
}

Delivery::Delivery(const spec::Project& project, TrustStore store, std::map<std::string, int> replicas)
    : project_(project.name), store_(std::move(store)), links_(linksOf(project)), replicas_(std::move(replicas)) {}

int Delivery::replicaCount(const std::string& target) const {
  const auto count = replicas_.find(target);
  return count == replicas_.end() ? 1 : std::max(1, count->second);
}

Result<std::string> Delivery::knownHosts(const std::string& caller) const {
  std::string out = "# Written by berth (x-berth-ssh): the host keys of " + caller + "'s targets, pinned.\n";
  for (const std::string& target : links_.callers.at(caller).targets) {
    for (int i = 1; i <= replicaCount(target); ++i) {
      const std::string container = project_ + "-" + target + "-" + std::to_string(i);
      BERTH_ASSIGN_OR_RETURN(KeyPair host, store_.hostKey(container));
      out += target + "," + container + " " + host.publicKey + "\n";
    }
  }
  return out;
}

std::string Delivery::sshConfig(const std::string& caller) const {
  const TrustLinks::Caller& c = links_.callers.at(caller);
  std::string hosts;
  // The names known_hosts pins, one by one: a pattern such as shop-db-* would also match the
  // containers of a service named db-backup, which nothing pinned.
  for (const std::string& t : c.targets) {
    hosts += " " + t;
    for (int i = 1; i <= replicaCount(t); ++i) hosts += " " + project_ + "-" + t + "-" + std::to_string(i);
  }
  return "# Written by berth (x-berth-ssh): how " + caller + " reaches its targets.\nHost" + hosts +
         "\n  User " + c.user +
         "\n  IdentityFile ~/.ssh/id_ed25519\n  IdentitiesOnly yes\n  StrictHostKeyChecking yes\n"
         "  UserKnownHostsFile ~/.ssh/known_hosts\n  PasswordAuthentication no\n  KbdInteractiveAuthentication no\n"
         "  UpdateHostKeys no\n";
}

Result<std::string> Delivery::archiveFor(const ContainerRole& role, std::string_view passwd,
                                         const std::string& runsAs) const {
  const auto accounts = parsePasswd(passwd);
  const std::string where = "service " + berth::quoted(role.service);
  TarWriter tar;
  const auto sshDir = [&](const Account& a) {
    std::string home = a.home.empty() || a.home == "/" ? "" : a.home;
    while (!home.empty() && home.back() == '/') home.pop_back();
    tar.setOwner(a.uid, a.gid);
    tar.addDirectory(home + "/.ssh", 0700);
    return home + "/.ssh";
  };
  if (auto caller = links_.callers.find(role.service); caller != links_.callers.end()) {
    // The user the container runs as: its key goes to that user's ~/.ssh.
    std::string user = runsAs.substr(0, runsAs.find(':'));
    if (user.empty()) user = "root";
    const Account* account = findAccount(accounts, user);
    if (account == nullptr) {
      return fail(ErrorCode::InvalidArgument, where + " runs as user " + berth::quoted(user) +
                                                  ", which its image's /etc/passwd does not have: berth cannot "
                                                  "put its SSH key in that user's home");
    }
    BERTH_ASSIGN_OR_RETURN(KeyPair key, store_.callerKey(role.service));
    BERTH_ASSIGN_OR_RETURN(std::string known, knownHosts(role.service));
    const std::string dir = sshDir(*account);
    tar.addFile(dir + "/id_ed25519", key.privateKey, 0600);
    tar.addFile(dir + "/id_ed25519.pub", key.publicKey + " berth:" + project_ + "/" + role.service + "\n", 0644);
    tar.addFile(dir + "/known_hosts", known, 0644);
    tar.addFile(dir + "/config", sshConfig(role.service), 0644);
  }
  if (auto target = links_.targets.find(role.service); target != links_.targets.end()) {
    for (const auto& [user, callers] : target->second) {
      auto account = accounts.find(user);
      if (account == accounts.end()) {
        return fail(ErrorCode::InvalidArgument,
                    where + ": user " + berth::quoted(user) + " (the login user of " + join(callers, ", ") +
                        " in x-berth-ssh) is not in its image's /etc/passwd");
      }
      std::string keys = "# Written by berth (x-berth-ssh): the services that log in as " + user + ".\n";
      for (const std::string& caller : callers) {
        BERTH_ASSIGN_OR_RETURN(KeyPair key, store_.callerKey(caller));
        keys += key.publicKey + " berth:" + project_ + "/" + caller + "\n";
      }
      const std::string dir = sshDir(account->second);
      tar.addFile(dir + "/authorized_keys", keys, 0600);
    }
    BERTH_ASSIGN_OR_RETURN(KeyPair host,
                           store_.hostKey(project_ + "-" + role.service + "-" + std::to_string(role.number)));
    tar.setOwner(0, 0);
    tar.addDirectory("etc/ssh", 0755);
    tar.addDirectory("etc/ssh/sshd_config.d", 0755);
    tar.addFile("etc/ssh/ssh_host_ed25519_key", host.privateKey, 0600);
    tar.addFile("etc/ssh/ssh_host_ed25519_key.pub", host.publicKey + "\n", 0644);
    tar.addFile("etc/ssh/sshd_config.d/berth.conf", kSshdDropIn, 0644);
  }
  return tar.finish();
}

Status Delivery::deliver(engine::Engine& engine, const std::string& containerId, const ContainerRole& role) const {
  if (!links_.involves(role.service)) return ok();
  BERTH_ASSIGN_OR_RETURN(engine::ContainerInspect inspect, engine.inspectContainer(containerId));
  auto passwd = engine.getArchive(containerId, "/etc/passwd");
  if (!passwd) {
    return Error(passwd.error()).withContext("service " + berth::quoted(role.service) + ": read /etc/passwd to place its SSH keys");
  }
  BERTH_ASSIGN_OR_RETURN(std::string text, onlyFile(passwd->tar, "/etc/passwd of " + inspect.name));
  BERTH_ASSIGN_OR_RETURN(std::string tar, archiveFor(role, text, inspect.config.user));
  if (auto s = engine.putArchive(containerId, "/", tar, {}); !s) {
    return Error(s.error()).withContext("copy SSH keys into " + inspect.name);
  }
  return ok();
}

}  // namespace berth::trust
