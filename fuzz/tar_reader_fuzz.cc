// Fuzzes base::TarReader, which checks backups before berth restores them: any input ends in entries
// or an InvalidArgument error (no crash, hang or other code), the result does not depend on how the
// bytes were cut into pieces, and the entries' data never exceeds the input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/check.h"
#include "base/tar_reader.h"

namespace {

struct Read {
  bool ok = true;
  std::string error;
  std::vector<std::string> paths;
  std::uint64_t dataBytes = 0;
};

Read readAll(std::string_view input, std::size_t step) {
  Read out;
  berth::TarReader reader([&](const berth::TarEntry& e) -> berth::Status {
    out.paths.push_back(e.path + "|" + e.type + "|" + std::to_string(e.size) + "|" + e.linkTarget);
    return berth::ok();
  });
  berth::Status s = berth::ok();
  for (std::size_t i = 0; i < input.size() && s; i += step) s = reader.feed(input.substr(i, step));
  if (s) s = reader.finish();
  if (!s) {
    out.ok = false;
    BERTH_CHECK(s.error().code() == berth::ErrorCode::InvalidArgument);
    out.error = s.error().message();
  }
  out.dataBytes = reader.dataBytes();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const Read whole = readAll(input, input.size() + 1);
  const Read bytes = readAll(input, 1);
  const Read odd = readAll(input, 509);
  BERTH_CHECK(whole.ok == bytes.ok && whole.ok == odd.ok);
  BERTH_CHECK(whole.paths == bytes.paths && whole.paths == odd.paths);
  BERTH_CHECK(whole.error == bytes.error && whole.error == odd.error);
  if (whole.ok) BERTH_CHECK(whole.dataBytes <= input.size());
  return 0;
}
