#include "cluster/events.h"

namespace berth::cluster {

void EventLog::append(std::vector<ControllerEvent> events) {
  if (events.empty()) return;
  {
    std::lock_guard lock(mu_);
    for (ControllerEvent& e : events) {
      e.seq = ++seq_;
      ring_.push_back(std::move(e));
      if (ring_.size() > capacity_) ring_.pop_front();
    }
  }
  cv_.notify_all();
}

std::vector<ControllerEvent> EventLog::since(std::uint64_t after) const {
  std::lock_guard lock(mu_);
  std::vector<ControllerEvent> out;
  for (const ControllerEvent& e : ring_) {
    if (e.seq > after) out.push_back(e);
  }
  return out;
}

std::vector<ControllerEvent> EventLog::wait(std::uint64_t after, std::chrono::milliseconds timeout,
                                            std::stop_token stop) const {
  {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, stop, timeout, [&] { return seq_ > after || closed_; });
  }
  return since(after);
}

std::uint64_t EventLog::lastSeq() const {
  std::lock_guard lock(mu_);
  return seq_;
}

void EventLog::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

}  // namespace berth::cluster
