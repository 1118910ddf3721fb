// Waiting in tests without assuming how fast the machine is: tests wait for events, never for
// a span of time. The only wall-clock figure is a hang guard, long enough that no machine,
// however slow or loaded or sanitized, reaches it unless the code under test is broken.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace rein::testing {

inline constexpr std::chrono::seconds kHangGuard{60};

// Polls `condition` until it holds; false if it still does not after `guard`.
template <class Condition>
bool eventually(Condition condition, std::chrono::milliseconds guard = kHangGuard) {
  const auto until = std::chrono::steady_clock::now() + guard;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= until) return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// `expected` threads meet here: each arrive() returns once all have arrived (true), or after
// the hang guard (false), which shows that they did not all run at the same time.
class Rendezvous {
 public:
  explicit Rendezvous(int expected) : expected_(expected) {}

  bool arrive(std::chrono::milliseconds guard = kHangGuard) {
    std::unique_lock lock(mutex_);
    ++arrived_;
    changed_.notify_all();
    return changed_.wait_for(lock, guard, [&] { return arrived_ >= expected_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int arrived_ = 0;
  const int expected_;
};

}  // namespace rein::testing
