// How a service's x-berth-ssh (spec::SshAccess) travels with its containers: as one label,
// `io.berth.ssh`, holding compact JSON, so that `berth gateway` (on the engine's host, or embedded in
// berthd) decides who may log in from the container alone, with no compose file at hand. Public keys
// are not secrets; anyone who can change a container's labels already controls the engine.
//
// The label is part of what the configuration hash covers (spec/hash.h), so changing the keys,
// the user or allow_forwarding recreates the service's containers, as changing a label does.
//
// Pure functions.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"
#include "spec/model.h"

namespace berth::plan {

inline constexpr std::string_view kSshAccessLabel = "io.berth.ssh";

// {"authorized_keys":[...],"user":"app","allow_forwarding":true}; keys in the service's order.
// Only what the gateway needs: `to` and the key file names stay out.
std::string encodeSshAccess(const spec::SshAccess& access);

// The inverse. InvalidArgument ("label io.berth.ssh: not JSON", "...: missing authorized_keys",
// "...: user must be a string", ...) for a label that is not a JSON object, lacks authorized_keys or
// has a known field of the wrong type; a missing user is empty (root), a missing allow_forwarding
// false, and unknown fields are ignored (a newer berth may add some).
Result<spec::SshAccess> decodeSshAccess(std::string_view label);

}  // namespace berth::plan
