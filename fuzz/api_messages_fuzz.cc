// Fuzzes the decoders of what berthd is sent and stores: the API's messages (src/api: what berth
// and berthd send each other) and the controller's stored records (src/cluster/codec.h: what
// state.db holds, which a damaged disk can garble). Untrusted input must give a value or an error —
// never a crash, UB or an exception — and a value must survive encoding and decoding again unchanged.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/messages.h"
#include "base/check.h"
#include "cluster/codec.h"

namespace {

template <class T>
void roundTrip(std::string_view input) {
  auto v = berth::api::fromJson<T>(input);
  if (!v) return;
  const std::string once = berth::api::toJson(*v);
  auto again = berth::api::fromJson<T>(once);
  BERTH_CHECK_MSG(again.has_value(), "an encoded message does not decode: " + once);
  BERTH_CHECK_MSG(berth::api::toJson(*again) == once, "encoding is not stable: " + once);
}

template <class Decode>
void record(std::string_view input, Decode decode) {
  auto v = decode(input);
  if (!v) return;
  const std::string once = berth::cluster::toJson(*v);
  auto again = decode(once);
  BERTH_CHECK_MSG(again.has_value(), "an encoded record does not decode: " + once);
  BERTH_CHECK_MSG(*again == *v, "a record changed on its way through JSON: " + once);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace api = berth::api;
  namespace cluster = berth::cluster;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  roundTrip<api::ErrorReply>(input);
  roundTrip<api::HostView>(input);
  roundTrip<std::vector<api::TaskView>>(input);
  roundTrip<api::ServiceView>(input);
  roundTrip<api::EventView>(input);
  roundTrip<api::HostAddRequest>(input);
  roundTrip<api::LabelRequest>(input);
  roundTrip<api::DeployRequest>(input);
  roundTrip<api::ScaleRequest>(input);
  roundTrip<api::UpdateRequest>(input);
  roundTrip<api::MissingImagesRequest>(input);
  roundTrip<api::MissingImagesReply>(input);
  record(input, cluster::hostFromJson);
  record(input, cluster::stackFromJson);
  record(input, cluster::serviceFromJson);
  record(input, cluster::taskFromJson);
  return 0;
}
