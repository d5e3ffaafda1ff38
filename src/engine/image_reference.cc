#include "engine/image_reference.h"

#include "base/strings.h"

namespace berth::engine {

std::string normalizeImageReference(std::string_view reference) {
  std::string ref(reference);
  if (ref.find('@') != std::string::npos) return ref;
  for (const std::string_view prefix :
       {"docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"}) {
    if (startsWith(ref, prefix)) {
      ref = ref.substr(prefix.size());
      break;
    }
  }
  // A tag follows the last ':' after the last '/' ("localhost:5000/a" has none); an image ID
  // ("sha256:...") has its ':' and stays as it is.
  const std::size_t slash = ref.rfind('/');
  const std::size_t colon = ref.rfind(':');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) ref += ":latest";
  return ref;
}

}  // namespace berth::engine
