#include "engine/transport/json_lines.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace berth::engine::transport {
namespace {

std::vector<std::string> splitAll(std::string_view input, std::size_t step, std::size_t maxLine = 1 << 20) {
  LineSplitter splitter(maxLine);
  std::vector<std::string> lines;
  const auto onLine = [&](std::string_view line) {
    lines.emplace_back(line);
    return true;
  };
  for (std::size_t i = 0; i < input.size(); i += step) {
    auto r = splitter.feed(input.substr(i, step), onLine);
    EXPECT_TRUE(r.has_value());
  }
  auto r = splitter.finish(onLine);
  EXPECT_TRUE(r.has_value());
  return lines;
}

TEST(LineSplitterTest, SplitsEventsWhateverTheReadBoundaries) {
  const std::string input =
      "{\"Type\":\"container\",\"Action\":\"start\"}\n{\"Type\":\"network\",\"Action\":\"connect\"}\n";
  for (std::size_t step : {1u, 2u, 5u, 38u, 39u, 100u}) {
    EXPECT_EQ(splitAll(input, step),
              (std::vector<std::string>{"{\"Type\":\"container\",\"Action\":\"start\"}",
                                        "{\"Type\":\"network\",\"Action\":\"connect\"}"}))
        << step;
  }
}

TEST(LineSplitterTest, ToleratesCrLfAndBlankLines) {
  EXPECT_EQ(splitAll("{\"stream\":\"a\"}\r\n\r\n\n  \n{\"stream\":\"b\"}\r\n", 3),
            (std::vector<std::string>{"{\"stream\":\"a\"}", "{\"stream\":\"b\"}"}));
}

TEST(LineSplitterTest, DeliversAFinalLineWithoutNewline) {
  EXPECT_EQ(splitAll("a\nb", 1), (std::vector<std::string>{"a", "b"}));
}

TEST(LineSplitterTest, StopsWhenTheCallbackSaysSo) {
  LineSplitter splitter;
  std::vector<std::string> lines;
  auto r = splitter.feed("one\ntwo\nthree\n", [&](std::string_view line) {
    lines.emplace_back(line);
    return line != "two";
  });
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(*r);
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two"}));
}

TEST(LineSplitterTest, RejectsAnOverlongLine) {
  LineSplitter splitter(16);
  auto r = splitter.feed(std::string(10, 'x'), [](std::string_view) { return true; });
  ASSERT_TRUE(r.has_value());
  r = splitter.feed(std::string(10, 'x'), [](std::string_view) { return true; });
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), "a line from the engine is longer than 16 bytes");
}

}  // namespace
}  // namespace berth::engine::transport
