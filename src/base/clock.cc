#include "base/clock.h"

#include <thread>

namespace berth {

void SystemClock::sleepFor(Duration d) { std::this_thread::sleep_for(d); }

}  // namespace berth
