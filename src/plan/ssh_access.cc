#include "plan/ssh_access.h"

#include <nlohmann/json.hpp>

namespace berth::plan {
namespace {

Unexpected invalid(std::string_view what) {
  return fail(ErrorCode::InvalidArgument, "label " + std::string(kSshAccessLabel) + ": " + std::string(what));
}

}  // namespace

std::string encodeSshAccess(const spec::SshAccess& access) {
  // ordered_json: the fields in the order the header documents, for a label people read in
  // `docker inspect`.
  nlohmann::ordered_json j;
  j["authorized_keys"] = access.authorizedKeys;
  j["user"] = access.user;
  j["allow_forwarding"] = access.allowForwarding;
  // A comment read from a key file may hold bytes that are not UTF-8; replacing them keeps dump()
  // from throwing (the key itself is base64).
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

Result<spec::SshAccess> decodeSshAccess(std::string_view label) {
  const nlohmann::json j = nlohmann::json::parse(label, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return invalid("not JSON");
  if (!j.is_object()) return invalid("not a JSON object");
  spec::SshAccess access;
  const auto keys = j.find("authorized_keys");
  if (keys == j.end()) return invalid("missing authorized_keys");
  if (!keys->is_array()) return invalid("authorized_keys must be a list of strings");
  for (const nlohmann::json& key : *keys) {
    if (!key.is_string()) return invalid("authorized_keys must be a list of strings");
    access.authorizedKeys.push_back(key.get<std::string>());
  }
  if (const auto user = j.find("user"); user != j.end()) {
    if (!user->is_string()) return invalid("user must be a string");
    access.user = user->get<std::string>();
  }
  if (const auto forwarding = j.find("allow_forwarding"); forwarding != j.end()) {
    if (!forwarding->is_boolean()) return invalid("allow_forwarding must be a boolean");
    access.allowForwarding = forwarding->get<bool>();
  }
  // Other fields are ignored: a newer berth may add some, and an older gateway should still let
  // the keys it understands in.
  return access;
}

}  // namespace berth::plan
