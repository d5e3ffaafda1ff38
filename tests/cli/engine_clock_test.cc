// Attached `up` asks for logs and events in the engine's clock, which need not be this machine's.
#include <gtest/gtest.h>

#include "cli/container_follower.h"
#include "fakes/fake_engine.h"

namespace berth::cli {
namespace {

using namespace std::chrono_literals;

TEST(EngineClockTest, MeasuresAnEngineAheadOrBehind) {
  for (const auto skew : {0ns, std::chrono::nanoseconds(90s), std::chrono::nanoseconds(-3600s)}) {
    fakes::FakeEngine engine;
    engine.setClockAhead(skew);
    const auto ahead = engineClockAhead(engine);
    // Within the time the call took, which is far below a second here.
    EXPECT_LT(std::chrono::abs(ahead - skew), 500ms) << skew.count() << " measured as " << ahead.count();
  }
}

TEST(EngineClockTest, ZeroWhenTheEngineCannotSay) {
  fakes::FakeEngine engine;
  engine.setClockAhead(90s);
  engine.failNext("info", Error(ErrorCode::Unavailable, "engine down"));
  EXPECT_EQ(engineClockAhead(engine), 0ns);
}

}  // namespace
}  // namespace berth::cli
