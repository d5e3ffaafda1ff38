#include "cluster/events.h"

#include <array>
#include <string_view>

namespace berth::cluster {
namespace {

// The texts of an event, in the order they are packed.
template <class Event>
auto texts(Event& e) {
  return std::array{&e.type, &e.action, &e.stack, &e.service, &e.task, &e.name, &e.host, &e.message};
}

}  // namespace

EventLog::Packed EventLog::pack(const ControllerEvent& e) {
  Packed p{.seq = e.seq, .time = e.time};
  std::size_t size = 0;
  for (const std::string* t : texts(e)) size += t->size() + 1;
  p.texts.reserve(size);
  for (const std::string* t : texts(e)) {
    p.texts += std::string_view(*t).substr(0, t->find('\0'));  // a text holding a NUL is cut at it
    p.texts += '\0';
  }
  return p;
}

ControllerEvent EventLog::unpack(const Packed& p) {
  ControllerEvent e{.seq = p.seq, .time = p.time};
  std::string_view rest = p.texts;
  for (std::string* t : texts(e)) {
    const std::size_t end = rest.find('\0');
    *t = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
  }
  return e;
}

void EventLog::append(std::vector<ControllerEvent> events) {
  if (events.empty()) return;
  {
    std::lock_guard lock(mu_);
    for (ControllerEvent& e : events) {
      e.seq = ++seq_;
      ring_.push_back(pack(e));
      if (ring_.size() > capacity_) ring_.pop_front();
    }
  }
  cv_.notify_all();
}

std::vector<ControllerEvent> EventLog::since(std::uint64_t after) const {
  std::lock_guard lock(mu_);
  std::vector<ControllerEvent> out;
  // Oldest first, numbered without gaps: the first event wanted is found by its number.
  const std::uint64_t oldest = ring_.empty() ? 0 : ring_.front().seq;
  const std::size_t skip = after < oldest ? 0 : static_cast<std::size_t>(after - oldest + 1);
  for (std::size_t i = skip; i < ring_.size(); ++i) out.push_back(unpack(ring_[i]));
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
