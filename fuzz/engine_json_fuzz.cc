// Fuzzes the decoders of the engine's JSON answers (inspect, lists, events, progress, errors, the
// base64 path-stat header): untrusted input must give a value or an error, never a crash or an
// exception escaping the codec.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/json_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace json = berth::engine::json;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)json::errorMessage(input);
  (void)json::decodeVersion(input);
  (void)json::decodeInfo(input);
  (void)json::decodeImageList(input);
  (void)json::decodeImageInspect(input);
  (void)json::decodeImageDelete(input);
  (void)json::decodeContainerCreated(input);
  (void)json::decodeContainerInspect(input);
  (void)json::decodeContainerList(input);
  (void)json::decodeWaitResult(input);
  (void)json::decodeStats(input);
  (void)json::decodeTop(input);
  (void)json::decodePathStat(input);
  (void)json::decodeId(input);
  (void)json::decodeNetwork(input);
  (void)json::decodeNetworkList(input);
  (void)json::decodeVolume(input);
  (void)json::decodeVolumeList(input);
  (void)json::decodeExecInspect(input);
  (void)json::decodeEvent(input);
  (void)json::decodeStreamMessage(input);
  (void)json::base64Decode(input);
  return 0;
}
