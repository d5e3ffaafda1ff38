#include "harness/names.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cctype>

namespace berth::testing {

std::string uniqueName(std::string_view prefix) {
  static std::atomic<int> counter{0};
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string raw =
      std::string(prefix) + "-" +
      (info != nullptr ? std::string(info->test_suite_name()) + "-" + info->name() : std::string("none"));
  std::string name;
  for (char c : raw) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) {
      name += static_cast<char>(std::tolower(u));
    } else if (!name.empty() && name.back() != '-') {
      name += '-';
    }
  }
  const std::string suffix = "-" + std::to_string(++counter);
  if (name.size() + suffix.size() > 60) name.resize(60 - suffix.size());
  while (!name.empty() && name.back() == '-') name.pop_back();
  return name + suffix;
}

}  // namespace berth::testing
