// Who a gateway login is for and whether a key may open it: the container a login name names, the
// access its `io.berth.ssh` label grants, and the match of an offered public key against it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "engine/engine.h"
#include "spec/model.h"

struct ssh_key_struct;

namespace berth::gateway {

// `ssh CONTAINER@host` names a container ({project}-{service}-{n}); `ssh SERVICE.PROJECT@host` names
// replica 1 of a service. Project names never hold a dot, so the last dot splits the second form.
struct LoginName {
  std::string container{};  // the first form
  std::string service{};    // the second form
  std::string project{};
};
// InvalidArgument for an empty name or one with characters no container or project name has.
Result<LoginName> parseLoginName(std::string_view user);

// The container a login opens and what its label allows.
struct LoginTarget {
  std::string id{};
  std::string name{};
  bool running = false;
  spec::SshAccess access{};
  std::vector<std::string> addresses{};  // its IPv4 addresses on its networks
};

// Looks the login up among the containers that carry an access label (one engine request).
// NotFound when no such container has one: the caller refuses the key without saying which.
Result<LoginTarget> findLoginTarget(engine::Engine& engine, const LoginName& login);

// The authorized keys of a target, parsed once. Lines libssh cannot read are skipped (the loader
// already checked their syntax; a label edited by hand gets no say).
class AuthorizedKeys {
 public:
  explicit AuthorizedKeys(const std::vector<std::string>& lines);
  ~AuthorizedKeys();
  AuthorizedKeys(AuthorizedKeys&&) noexcept;
  AuthorizedKeys& operator=(AuthorizedKeys&&) noexcept;
  AuthorizedKeys(const AuthorizedKeys&) = delete;
  AuthorizedKeys& operator=(const AuthorizedKeys&) = delete;

  // The comment of the authorized key equal to `offered` ("" when it has none); nullopt when none is.
  std::optional<std::string> match(ssh_key_struct* offered) const;
  std::size_t size() const { return keys_.size(); }

 private:
  struct Key {
    ssh_key_struct* key;
    std::string comment;
  };
  std::vector<Key> keys_;
};

// "SHA256:<base64>" of a public key, as OpenSSH prints it; "" if libssh cannot hash it.
std::string fingerprintOf(ssh_key_struct* key);

}  // namespace berth::gateway
