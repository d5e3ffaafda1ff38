// Fuzzes the HTTP/1.1 response parser with untrusted engine answers. Besides "no crash, no UB", it
// checks that the parser's result does not depend on how the bytes were cut into reads: the answer
// parsed whole and parsed in pieces (sizes taken from the input), up to the end of the stream, must
// agree on success, completeness, status and body. (Before the end of the stream they may not: Beast
// reports a bad header line as soon as it sees it whole, but waits for the end of a header that
// arrives in pieces — either way the answer fails once the stream ends.)
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/check.h"
#include "engine/transport/http.h"

namespace {

using berth::engine::transport::ResponseParser;

struct Outcome {
  bool ok = true;
  bool done = false;
  int status = 0;
  std::string body;
  std::string remaining;
};

Outcome parse(std::string_view input, ResponseParser::Mode mode, std::string_view cuts, bool eof) {
  ResponseParser parser(mode);
  Outcome out;
  std::size_t pos = 0;
  std::size_t cut = 0;
  while (pos < input.size()) {
    std::size_t n = input.size() - pos;
    if (!cuts.empty()) n = static_cast<unsigned char>(cuts[cut++ % cuts.size()]) % 64 + 1;
    if (n > input.size() - pos) n = input.size() - pos;
    if (!parser.feed(input.substr(pos, n), out.body)) {
      out.ok = false;
      return out;
    }
    pos += n;
  }
  if (eof && !parser.done() && !parser.feedEof(out.body)) {
    out.ok = false;
    return out;
  }
  out.done = parser.done();
  if (parser.headerDone()) {
    out.status = parser.head().status;
    (void)parser.head().header("Content-Type");
  }
  out.remaining = parser.takeRemaining();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  // Byte 0: the mode; byte 1: how many cut sizes follow; then the cuts; then the answer.
  const auto control = data[0];
  const std::size_t cutCount = data[1] % 16;
  if (size < 2 + cutCount) return 0;
  const std::string_view cuts(reinterpret_cast<const char*>(data + 2), cutCount);
  const std::string_view input(reinterpret_cast<const char*>(data + 2 + cutCount), size - 2 - cutCount);
  const ResponseParser::Mode mode = control % 3 == 0   ? ResponseParser::Mode::Normal
                                    : control % 3 == 1 ? ResponseParser::Mode::Bodyless
                                                       : ResponseParser::Mode::Upgrade;
  // Without the end of the stream, for coverage of half-received answers.
  (void)parse(input, mode, cuts, false);

  const Outcome whole = parse(input, mode, {}, true);
  const Outcome pieces = parse(input, mode, cuts.empty() ? std::string_view("\x01", 1) : cuts, true);
  BERTH_CHECK(whole.ok == pieces.ok);
  if (whole.ok) {
    BERTH_CHECK(whole.done == pieces.done);
    BERTH_CHECK(whole.status == pieces.status);
    BERTH_CHECK(whole.body == pieces.body);
    BERTH_CHECK(whole.remaining == pieces.remaining);
    BERTH_CHECK(whole.body.size() <= input.size());
  }
  return 0;
}
