// The Engine API's JSON: request bodies from engine/types.h structs and answers into them. nlohmann
// stays inside json_codec.cc. Decoders are tolerant the way the API needs: missing keys, nulls (the
// engine sends null for empty lists and maps) and values of an unexpected type read as empty; only
// text that is not JSON, or JSON of the wrong overall shape, is an error (Internal, "unexpected
// answer from the engine: ...").
//
// Thread-safety: pure functions.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "engine/types.h"

namespace berth::engine::json {

// --- Request bodies and query values
std::string encodeContainerCreate(const ContainerCreate& spec);  // without the name (a query parameter)
std::string encodeNetworkCreate(const NetworkCreate& spec);
std::string encodeNetworkConnect(const std::string& container, const EndpointSettings& endpoint);
std::string encodeNetworkDisconnect(const std::string& container, bool force);
std::string encodeVolumeCreate(const VolumeCreate& spec);
std::string encodeExecCreate(const ExecCreate& spec);
std::string encodeExecStart(bool detach, bool tty);
std::string encodeFilters(const Filters& filters);                           // ?filters=
std::string encodeStringMap(const std::map<std::string, std::string>& map);  // ?buildargs=, ?labels=
std::string encodeStringList(const std::vector<std::string>& list);          // ?cachefrom=

// --- Answers
// The "message" of an error answer ({"message": "..."}); nullopt when the body is not one.
std::optional<std::string> errorMessage(std::string_view body);

Result<EngineVersion> decodeVersion(std::string_view body);
Result<EngineInfo> decodeInfo(std::string_view body);
Result<std::vector<ImageSummary>> decodeImageList(std::string_view body);
Result<ImageInspect> decodeImageInspect(std::string_view body);
Result<std::vector<ImageDeleteItem>> decodeImageDelete(std::string_view body);
Result<ContainerCreated> decodeContainerCreated(std::string_view body);
Result<ContainerInspect> decodeContainerInspect(std::string_view body);
Result<std::vector<ContainerSummary>> decodeContainerList(std::string_view body);
Result<WaitResult> decodeWaitResult(std::string_view body);
Result<ContainerStats> decodeStats(std::string_view body);
Result<TopResult> decodeTop(std::string_view body);
// The X-Docker-Container-Path-Stat header: base64 of JSON.
Result<PathStat> decodePathStat(std::string_view base64Header);
// {"Id": "..."} (exec create, network create).
Result<std::string> decodeId(std::string_view body);
Result<Network> decodeNetwork(std::string_view body);
Result<std::vector<Network>> decodeNetworkList(std::string_view body);
Result<Volume> decodeVolume(std::string_view body);
Result<std::vector<Volume>> decodeVolumeList(std::string_view body);
// The "Volumes" of GET /system/df, with their UsageData.
Result<std::vector<Volume>> decodeDiskUsageVolumes(std::string_view body);
Result<ExecInspect> decodeExecInspect(std::string_view body);
Result<Event> decodeEvent(std::string_view line);

// One message of a progress stream (build, load, import, pull).
struct StreamMessage {
  std::string stream;  // output text ("Step 1/3 : FROM busybox\n")
  std::string status;  // status text (import: the new image's ID)
  std::string progress;
  std::string id;
  std::string error;  // set when the operation failed
  std::string auxId;  // aux.ID: the built image
};
Result<StreamMessage> decodeStreamMessage(std::string_view line);

// Standard base64 (RFC 4648 with padding); nullopt when malformed.
std::optional<std::string> base64Decode(std::string_view text);

}  // namespace berth::engine::json
