#include "gateway/login.h"

#include <libssh/libssh.h>

#include <algorithm>

#include "base/strings.h"
#include "plan/labels.h"
#include "plan/ssh_access.h"

namespace berth::gateway {
namespace {

// Container, service and project names: letters, digits and [_.-] (compose's own rules).
bool validNameChars(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
  });
}

// An authorized_keys line's fields: TYPE, BASE64, then the comment's words.
std::vector<std::string> fieldsOf(std::string_view line) {
  std::vector<std::string> out;
  std::string word;
  for (char c : line) {
    if (c == ' ' || c == '\t') {
      if (!word.empty()) out.push_back(std::move(word));
      word.clear();
    } else {
      word += c;
    }
  }
  if (!word.empty()) out.push_back(std::move(word));
  return out;
}

}  // namespace

Result<LoginName> parseLoginName(std::string_view user) {
  if (!validNameChars(user)) {
    return fail(ErrorCode::InvalidArgument,
                "login name " + quoted(std::string(user)) + " is neither CONTAINER nor SERVICE.PROJECT");
  }
  LoginName n;
  const auto dot = user.rfind('.');
  if (dot == std::string_view::npos) {
    n.container = std::string(user);
    return n;
  }
  n.service = std::string(user.substr(0, dot));
  n.project = std::string(user.substr(dot + 1));
  if (n.service.empty() || n.project.empty()) {
    return fail(ErrorCode::InvalidArgument,
                "login name " + quoted(std::string(user)) + " is neither CONTAINER nor SERVICE.PROJECT");
  }
  return n;
}

Result<LoginTarget> findLoginTarget(engine::Engine& engine, const LoginName& login) {
  engine::ListContainersOptions o;
  o.all = true;
  o.filters["label"] = {std::string(plan::kSshAccessLabel)};
  if (login.container.empty()) {
    o.filters["label"].push_back(std::string(plan::labels::kProject) + "=" + login.project);
    o.filters["label"].push_back(std::string(plan::labels::kService) + "=" + login.service);
    o.filters["label"].push_back(std::string(plan::labels::kContainerNumber) + "=1");
    o.filters["label"].push_back(std::string(plan::labels::kOneOff) + "=False");
  } else {
    o.filters["name"] = {"^/" + login.container + "$"};
  }
  BERTH_ASSIGN_OR_RETURN(auto containers, engine.listContainers(o));
  for (const engine::ContainerSummary& c : containers) {
    // The name filter is a pattern the engine matches; the name itself is compared here.
    if (!login.container.empty() &&
        std::find(c.names.begin(), c.names.end(), login.container) == c.names.end()) {
      continue;
    }
    auto label = c.labels.find(std::string(plan::kSshAccessLabel));
    if (label == c.labels.end()) continue;
    BERTH_ASSIGN_OR_RETURN(spec::SshAccess access, plan::decodeSshAccess(label->second));
    LoginTarget t;
    t.id = c.id;
    t.name = c.names.empty() ? c.id : c.names.front();
    t.running = c.state == engine::ContainerStatus::Running;
    t.access = std::move(access);
    for (const auto& [network, endpoint] : c.networks) {
      if (!endpoint.ipAddress.empty()) t.addresses.push_back(endpoint.ipAddress);
    }
    return t;
  }
  return fail(ErrorCode::NotFound, "no container with SSH access for this login");
}

AuthorizedKeys::AuthorizedKeys(const std::vector<std::string>& lines) {
  for (const std::string& line : lines) {
    const auto fields = fieldsOf(line);
    if (fields.size() < 2) continue;
    const enum ssh_keytypes_e type = ssh_key_type_from_name(fields[0].c_str());
    if (type == SSH_KEYTYPE_UNKNOWN) continue;
    ssh_key key = nullptr;
    if (ssh_pki_import_pubkey_base64(fields[1].c_str(), type, &key) != SSH_OK) continue;
    std::vector<std::string> rest(fields.begin() + 2, fields.end());
    keys_.push_back(Key{key, join(rest, " ")});
  }
}

AuthorizedKeys::~AuthorizedKeys() {
  for (Key& k : keys_) ssh_key_free(k.key);
}

AuthorizedKeys::AuthorizedKeys(AuthorizedKeys&& other) noexcept : keys_(std::move(other.keys_)) {
  other.keys_.clear();
}

AuthorizedKeys& AuthorizedKeys::operator=(AuthorizedKeys&& other) noexcept {
  if (this != &other) {
    for (Key& k : keys_) ssh_key_free(k.key);
    keys_ = std::move(other.keys_);
    other.keys_.clear();
  }
  return *this;
}

std::optional<std::string> AuthorizedKeys::match(ssh_key_struct* offered) const {
  if (offered == nullptr) return std::nullopt;
  for (const Key& k : keys_) {
    if (ssh_key_cmp(k.key, offered, SSH_KEY_CMP_PUBLIC) == 0) return k.comment;
  }
  return std::nullopt;
}

std::string fingerprintOf(ssh_key_struct* key) {
  unsigned char* hash = nullptr;
  size_t length = 0;
  if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &length) != SSH_OK) return "";
  char* text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, length);
  ssh_clean_pubkey_hash(&hash);
  if (text == nullptr) return "";
  std::string out(text);
  ssh_string_free_char(text);
  return out;
}

}  // namespace berth::gateway
