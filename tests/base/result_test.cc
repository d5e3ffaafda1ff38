#include "base/result.h"

#include <gtest/gtest.h>

#include <memory>

namespace berth {
namespace {

Result<int> parsePositive(int v) {
  if (v <= 0) return fail(ErrorCode::InvalidArgument, "not positive: " + std::to_string(v));
  return v;
}

Result<int> doubled(int v) {
  BERTH_ASSIGN_OR_RETURN(int x, parsePositive(v));
  return 2 * x;
}

Status checked(int v) {
  BERTH_TRY(parsePositive(v));
  return ok();
}

TEST(ResultTest, CarriesValueOrError) {
  const Result<int> good = parsePositive(3);
  ASSERT_TRUE(good.has_value());
  EXPECT_EQ(*good, 3);
  const Result<int> bad = parsePositive(-1);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(bad.error().message(), "not positive: -1");
  EXPECT_EQ(bad.value_or(7), 7);
}

TEST(ResultTest, MacrosPropagateErrors) {
  EXPECT_EQ(*doubled(4), 8);
  EXPECT_EQ(doubled(0).error().message(), "not positive: 0");
  EXPECT_TRUE(checked(1).has_value());
  EXPECT_EQ(checked(-2).error().message(), "not positive: -2");
}

TEST(ResultTest, WithContextPrefixesMessage) {
  Error e(ErrorCode::NotFound, "No such image: web:latest");
  EXPECT_EQ(std::move(e).withContext("create container web-1").message(),
            "create container web-1: No such image: web:latest");
}

TEST(ResultTest, HoldsMoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(5);
  ASSERT_TRUE(r.has_value());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 5);
}

TEST(ResultDeathTest, ValueOfFailureAborts) {
  const Result<int> bad = parsePositive(-1);
  EXPECT_DEATH((void)bad.value(), "value\\(\\) of a failed Result: not positive: -1");
}

}  // namespace
}  // namespace berth
