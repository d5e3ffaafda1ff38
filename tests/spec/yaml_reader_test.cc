#include "spec/yaml_reader.h"

#include <gtest/gtest.h>

#include <chrono>

namespace berth::spec::internal {
namespace {

struct Read {
  std::vector<Node> docs;
  std::string errors;
};

Read read(const std::string& text, const ReadLimits& limits = {}) {
  Sources sources;
  const int file = sources.add("compose.yaml");
  Diagnostics diag(sources);
  Read r;
  r.docs = readYaml(text, file, diag, limits);
  r.errors = diag.render();
  return r;
}

TEST(YamlReaderTest, ScalarsKeepTypeTextAndPosition) {
  const Read r = read("a: 1\nb: \"1\"\nc: yes\nd: ~\ne: 0x10\nf: 1.5\n");
  ASSERT_EQ(r.errors, "");
  ASSERT_EQ(r.docs.size(), 1u);
  const Node& doc = r.docs[0];
  EXPECT_EQ(doc.find("a")->type, ScalarType::Int);
  EXPECT_TRUE(doc.find("b")->isString());
  EXPECT_TRUE(doc.find("c")->isString());  // YAML 1.2: "yes" is a string
  EXPECT_TRUE(doc.find("d")->isNull());
  EXPECT_EQ(scalarString(*doc.find("e")), "16");
  EXPECT_EQ(doc.find("f")->type, ScalarType::Float);
  EXPECT_EQ(doc.find("b")->mark.line, 2);
  EXPECT_EQ(doc.find("b")->mark.column, 4);
}

TEST(YamlReaderTest, AnchorsAliasesAndMergeKeys) {
  const Read r = read(
      "x-base: &base\n  restart: always\n  image: a\n"
      "services:\n  one:\n    <<: *base\n    image: b\n  two: *base\n");
  ASSERT_EQ(r.errors, "");
  const Node& services = *r.docs[0].find("services");
  EXPECT_EQ(services.find("one")->find("image")->text, "b");         // explicit key wins
  EXPECT_EQ(services.find("one")->find("restart")->text, "always");  // merged
  EXPECT_EQ(services.find("two")->find("image")->text, "a");
}

TEST(YamlReaderTest, TagsAreKept) {
  const Read r = read("a: !reset []\nb: !override\n  - x\nc: !reset\nd: 1\n");
  ASSERT_EQ(r.errors, "");
  EXPECT_EQ(r.docs[0].find("a")->tag, NodeTag::Reset);
  EXPECT_EQ(r.docs[0].find("b")->tag, NodeTag::Override);
  EXPECT_EQ(r.docs[0].find("c")->tag, NodeTag::Reset);
}

TEST(YamlReaderTest, DuplicateKeysAreErrors) {
  EXPECT_EQ(read("services:\n  web:\n    image: a\n    image: b\n").errors,
            "compose.yaml:4:5: services.web.image: mapping key \"image\" already defined at line 3");
}

TEST(YamlReaderTest, NonStringKeysAreErrors) {
  EXPECT_EQ(read("services:\n  123:\n    image: a\n").errors,
            "compose.yaml:2:3: non-string key in services: 123");
  EXPECT_EQ(read("true: 1\n").errors, "compose.yaml:1:1: non-string key at top level: true");
}

TEST(YamlReaderTest, SyntaxErrorsHavePositions) {
  EXPECT_EQ(read("services:\n  web:\n    image: [a, b\n").errors.substr(0, 16), "compose.yaml:4:1");
  EXPECT_EQ(read("name: test\nservices:\n  web:\n    image: nginx\n\tbuild: .\n").errors,
            "compose.yaml:5:1: found a tab character that violates indentation");
}

TEST(YamlReaderTest, AliasBombIsRefusedQuickly) {
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'k'; ++c) {
    bomb += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 9; ++i) bomb += std::string(i ? ", *" : "*") + prev;
    bomb += "]\n";
    prev = c;
  }
  const auto start = std::chrono::steady_clock::now();
  const Read r = read(bomb);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(r.docs.empty());
  EXPECT_NE(r.errors.find("excessive aliasing: expanding aliases would create more than 500000 nodes"),
            std::string::npos)
      << r.errors;
}

TEST(YamlReaderTest, SelfReferencingAnchorIsACycle) {
  EXPECT_EQ(read("x: &x\n  y:\n    <<: *x\n").errors,
            "compose.yaml:3:9: cycle detected: alias *x at x.y.<< refers to its own enclosing node x");
}

TEST(YamlReaderTest, DeepNestingIsRefused) {
  std::string deep;
  for (int i = 0; i < 150; ++i) deep += "[";
  for (int i = 0; i < 150; ++i) deep += "]";
  const Read r = read("a: " + deep + "\n");
  EXPECT_TRUE(r.docs.empty());
  EXPECT_NE(r.errors.find("nesting too deep: more than 100 levels"), std::string::npos) << r.errors;
}

TEST(YamlReaderTest, LargeInputIsRefused) {
  ReadLimits limits;
  limits.maxBytes = 64;
  const Read r = read(std::string(100, '#'), limits);
  EXPECT_EQ(r.errors, "compose.yaml: file too large: 100 bytes (the limit is 64)");
}

// yaml-cpp alone would loop forever on this input.
TEST(YamlReaderTest, StrayFlowIndicatorDoesNotHang) {
  EXPECT_EQ(read(",a: 1\n").errors, "compose.yaml:1:1: unexpected \",\" where a value should start");
}

TEST(YamlReaderTest, InvalidUtf8IsRefused) {
  EXPECT_EQ(read("a: 1\nb: \"\xff\"\n").errors,
            "compose.yaml:2:5: invalid UTF-8: compose files must be UTF-8 text");
}

TEST(YamlReaderTest, MultipleDocumentsAndEmptyOnes) {
  const Read r = read("a: 1\n---\n---\nb: 2\n");
  ASSERT_EQ(r.errors, "");
  EXPECT_EQ(r.docs.size(), 2u);
}

}  // namespace
}  // namespace berth::spec::internal
