// Names for things tests create on a shared engine (projects, containers, networks, volumes), so
// tests in one binary — which share sharedEngine() — never collide and a failed test's leftovers
// say which test made them.
//
// Thread-safety: may be called from any thread (the counter is atomic).
#pragma once

#include <string>
#include <string_view>

namespace berth::testing {

// "<prefix>-<suite>-<test>-<n>" lower-cased, reduced to [a-z0-9-] (valid as a compose project
// name and a container/network/volume name), at most 60 characters; n counts calls in this process.
// Outside a running test the suite/test part is "none".
std::string uniqueName(std::string_view prefix = "t");

}  // namespace berth::testing
