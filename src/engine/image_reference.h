// Image references as the engine lists and matches them: the one normal form in which berth
// compares a compose file's `image:` with the engine's tags (and the fake engine keeps its images).
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace berth::engine {

// The same reference in the form the engine lists tags: "busybox" → "busybox:latest",
// "docker.io/library/nginx" → "nginx:latest", "localhost:5000/a" → "localhost:5000/a:latest";
// references with a digest and image IDs ("sha256:...") are kept as they are.
std::string normalizeImageReference(std::string_view reference);

}  // namespace berth::engine
