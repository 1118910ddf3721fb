#include "rein/env.hpp"

#include <cstdio>
#include <random>
#include <thread>

namespace rein {
namespace {

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string id_with_suffix(std::string_view prefix, std::uint64_t value, bool hex) {
  char buffer[24];
  if (hex) {
    std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(value));
  } else {
    std::snprintf(buffer, sizeof buffer, "%06llu", static_cast<unsigned long long>(value));
  }
  std::string id(prefix);
  if (!id.empty()) id += '-';
  id += buffer;
  return id;
}

class SystemEnv final : public Env {
 public:
  TimePoint now() override { return Clock::now(); }

  std::int64_t unix_millis() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  bool sleep_for(std::chrono::nanoseconds duration, const CancellationToken& token) override {
    if (duration <= std::chrono::nanoseconds::zero()) return !token.cancelled();
    if (!token.can_be_cancelled()) {
      std::this_thread::sleep_for(duration);
      return true;
    }
    return !token.wait_for(duration);
  }

  bool wait_until(const CancellationToken& signal, TimePoint deadline) override {
    if (signal.cancelled()) return true;
    const auto remaining = deadline - Clock::now();
    if (remaining <= Clock::duration::zero()) return signal.cancelled();
    return signal.wait_for(remaining);
  }

  std::uint64_t random_u64() override {
    thread_local std::mt19937_64 engine{std::random_device{}()};
    return engine();
  }

  std::string new_id(std::string_view prefix) override {
    return id_with_suffix(prefix, random_u64(), /*hex=*/true);
  }
};

}  // namespace

Env& Env::system() {
  static SystemEnv env;
  return env;
}

ManualEnv::ManualEnv(std::uint64_t seed, std::int64_t start_unix_millis)
    : random_counter_(splitmix64(seed)), start_unix_millis_(start_unix_millis) {}

Env::TimePoint ManualEnv::now() {
  return TimePoint(std::chrono::duration_cast<Clock::duration>(
      std::chrono::nanoseconds(elapsed_ns_.load(std::memory_order_acquire))));
}

std::int64_t ManualEnv::unix_millis() {
  return start_unix_millis_ + elapsed_ns_.load(std::memory_order_acquire) / 1'000'000;
}

bool ManualEnv::sleep_for(std::chrono::nanoseconds duration, const CancellationToken& token) {
  if (token.cancelled()) return false;
  if (duration > std::chrono::nanoseconds::zero()) {
    slept_ns_.fetch_add(duration.count());
    advance(duration);
  }
  return true;
}

bool ManualEnv::wait_until(const CancellationToken& signal, TimePoint deadline) {
  // Time moves only when some thread advances it, so poll in short real slices.
  for (;;) {
    if (signal.cancelled()) return true;
    if (now() >= deadline) return signal.cancelled();
    if (signal.wait_for(std::chrono::microseconds(200))) return true;
  }
}

std::uint64_t ManualEnv::random_u64() {
  return splitmix64(random_counter_.fetch_add(1));
}

std::string ManualEnv::new_id(std::string_view prefix) {
  return id_with_suffix(prefix, next_id_.fetch_add(1), /*hex=*/false);
}

void ManualEnv::advance(std::chrono::nanoseconds duration) {
  elapsed_ns_.fetch_add(duration.count(), std::memory_order_acq_rel);
}

}  // namespace rein
