// Fuzzes the decoders of streamed engine output: the stdout/stderr frame demultiplexer (and the raw
// TTY pass-through) and the newline-delimited JSON splitter. Checks that the result does not depend
// on how the bytes were cut into reads, that no payload is invented (delivered bytes never exceed the
// input), and that a stream which decoded without error accounts for every byte.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/check.h"
#include "engine/transport/json_lines.h"
#include "engine/transport/stream_demux.h"

namespace {

using berth::engine::OutputStream;
using berth::engine::transport::LineSplitter;
using berth::engine::transport::StreamDemux;

struct Demuxed {
  bool ok = true;
  bool finished = true;
  std::string stdoutBytes, stderrBytes, other;
};

Demuxed demux(std::string_view input, bool multiplexed, std::size_t step) {
  StreamDemux d(multiplexed);
  Demuxed out;
  const auto sink = [&](OutputStream s, std::string_view bytes) {
    BERTH_CHECK(!bytes.empty());
    switch (s) {
      case OutputStream::Stdout:
        out.stdoutBytes += bytes;
        break;
      case OutputStream::Stderr:
        out.stderrBytes += bytes;
        break;
      case OutputStream::Stdin:
      case OutputStream::System:
        out.other += bytes;
        break;
    }
  };
  for (std::size_t i = 0; i < input.size(); i += step) {
    if (!d.feed(input.substr(i, step), sink)) {
      out.ok = false;
      return out;
    }
  }
  out.finished = d.finish().has_value();
  return out;
}

std::vector<std::string> lines(std::string_view input, std::size_t step, bool& ok) {
  LineSplitter splitter(4096);
  std::vector<std::string> out;
  const auto onLine = [&](std::string_view line) {
    BERTH_CHECK(!line.empty());
    BERTH_CHECK(line.find('\n') == std::string_view::npos);
    out.emplace_back(line);
    return true;
  };
  ok = true;
  for (std::size_t i = 0; i < input.size(); i += step) {
    if (!splitter.feed(input.substr(i, step), onLine)) {
      ok = false;
      return out;
    }
  }
  if (!splitter.finish(onLine)) ok = false;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t step = data[0] % 13 + 1;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  for (const bool multiplexed : {true, false}) {
    const Demuxed whole = demux(input, multiplexed, input.empty() ? 1 : input.size());
    const Demuxed pieces = demux(input, multiplexed, step);
    BERTH_CHECK(whole.ok == pieces.ok);
    if (!whole.ok) continue;
    BERTH_CHECK(whole.finished == pieces.finished);
    BERTH_CHECK(whole.stdoutBytes == pieces.stdoutBytes);
    BERTH_CHECK(whole.stderrBytes == pieces.stderrBytes);
    BERTH_CHECK(whole.other == pieces.other);
    const std::size_t delivered = whole.stdoutBytes.size() + whole.stderrBytes.size() + whole.other.size();
    BERTH_CHECK(delivered <= input.size());
    if (!multiplexed) BERTH_CHECK(whole.stdoutBytes == input);
  }

  bool okWhole = false, okPieces = false;
  const auto a = lines(input, input.empty() ? 1 : input.size(), okWhole);
  const auto b = lines(input, step, okPieces);
  BERTH_CHECK(okWhole == okPieces);
  if (okWhole) BERTH_CHECK(a == b);
  return 0;
}
