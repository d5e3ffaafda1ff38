// Large and hostile inputs: the loader either handles them in time proportional to their size or
// refuses them with a clear error. Each test bounds its wall time generously (sanitizer builds are
// slow) so that a quadratic regression fails instead of hanging.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "spec/hash.h"
#include "spec/loader.h"
#include "spec_test_util.h"

namespace berth::spec {
namespace {

using testing::loadError;
using testing::loadYaml;
using testing::TempProject;

class Stopwatch {
 public:
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

constexpr double kBudgetSeconds = 20;

TEST(LimitsTest, LargeMappingLoadsInLinearTime) {
  std::string yaml = "services:\n  web:\n    image: nginx\n    environment:\n";
  constexpr int kKeys = 60000;
  for (int i = 0; i < kKeys; ++i) yaml += "      K" + std::to_string(i) + ": v\n";
  const Stopwatch watch;
  auto r = loadYaml(yaml);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->services.at("web").environment.size(), static_cast<std::size_t>(kKeys));
  EXPECT_LT(watch.seconds(), kBudgetSeconds);
}

TEST(LimitsTest, DuplicateKeyFoundInALargeMapping) {
  std::string yaml = "services:\n  web:\n    image: nginx\n    labels:\n";
  for (int i = 0; i < 50000; ++i) yaml += "      k" + std::to_string(i) + ": v\n";
  yaml += "      k7: again\n";  // line 50005
  const Stopwatch watch;
  EXPECT_EQ(loadError(yaml),
            "compose.yaml:50005:7: services.web.labels.k7: mapping key \"k7\" already defined at line 12");
  EXPECT_LT(watch.seconds(), kBudgetSeconds);
}

TEST(LimitsTest, MergingLargeOverrideFiles) {
  TempProject p;
  std::string base = "services:\n";
  std::string over = "services:\n";
  constexpr int kServices = 5000;
  for (int i = 0; i < kServices; ++i) {
    base += "  s" + std::to_string(i) + ":\n    image: a\n    environment: [A=1]\n";
    over += "  s" + std::to_string(i) + ":\n    environment: {B: \"2\"}\n";
  }
  p.write("compose.yaml", base).write("compose.override.yaml", over);
  const Stopwatch watch;
  auto r = p.load({"compose.yaml", "compose.override.yaml"});
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->services.size(), static_cast<std::size_t>(kServices));
  const Service& last = r->services.at("s" + std::to_string(kServices - 1));
  EXPECT_EQ(last.environment.size(), 2u);
  EXPECT_LT(watch.seconds(), kBudgetSeconds);
}

TEST(LimitsTest, ManyServicesExtendingAnotherFile) {
  TempProject p;
  p.write("base.yaml", "services:\n  base:\n    image: a\n    environment: [A=1]\n");
  std::string yaml = "services:\n";
  constexpr int kServices = 3000;
  for (int i = 0; i < kServices; ++i) {
    yaml += "  s" + std::to_string(i) + ":\n    extends: {file: base.yaml, service: base}\n";
  }
  p.write("compose.yaml", yaml);
  const Stopwatch watch;
  auto r = p.load({"compose.yaml"});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->services.size(), static_cast<std::size_t>(kServices));
  EXPECT_EQ(r->services.at("s42").image, "a");
  EXPECT_LT(watch.seconds(), kBudgetSeconds);
}

TEST(LimitsTest, LongExtendsChainIsRefused) {
  std::string yaml = "services:\n";
  for (int i = 0; i < 100; ++i) {
    yaml += "  s" + std::to_string(i) + ":\n    extends: s" + std::to_string(i + 1) + "\n";
  }
  yaml += "  s100:\n    image: a\n";
  EXPECT_EQ(loadError(yaml), "compose.yaml:" + std::to_string(2 + 64 * 2 + 1) +
                                 ":14: services.s64.extends: extends chain longer than 64 services");
}

TEST(LimitsTest, ShortExtendsChainIsFine) {
  std::string yaml = "services:\n";
  for (int i = 0; i < 60; ++i) {
    yaml += "  s" + std::to_string(i) + ":\n    extends: s" + std::to_string(i + 1) + "\n";
  }
  yaml += "  s60:\n    image: a\n";
  auto r = loadYaml(yaml);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->services.at("s0").image, "a");
}

TEST(LimitsTest, PortRangesAreBounded) {
  const Stopwatch watch;
  auto r = loadYaml("services:\n  web:\n    image: a\n    ports: [\"1-65535\"]\n");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->services.at("web").ports.size(), 65535u);
  EXPECT_FALSE(serviceConfigHash(*r, r->services.at("web")).empty());
  EXPECT_EQ(loadError("services:\n  web:\n    image: a\n    ports:\n      - \"1-65535\"\n"
                      "      - \"1-65535/udp\"\n"),
            "compose.yaml:6:9: services.web.ports[1]: too many ports: a service may publish at most 65536");
  EXPECT_LT(watch.seconds(), kBudgetSeconds);
}

TEST(LimitsTest, ErrorListIsCapped) {
  std::string yaml = "services:\n";
  for (int i = 0; i < 500; ++i) yaml += "  s" + std::to_string(i) + ":\n    image: [x]\n";
  const std::string error = loadError(yaml);
  std::size_t lines = 1;
  for (char c : error) lines += c == '\n' ? 1 : 0;
  EXPECT_EQ(lines, 101u);
  EXPECT_EQ(error.substr(error.rfind('\n') + 1), "... and more errors (only the first 100 are shown)");
  EXPECT_EQ(error.substr(0, error.find('\n')), "compose.yaml:3:12: services.s0.image: must be a string");
}

}  // namespace
}  // namespace berth::spec
