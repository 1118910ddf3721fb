// rein::Env: the environment rein reads time and randomness from, and sleeps through.
//
// Every retry backoff, timeout, circuit-breaker cool-down, rate limit and generated id goes
// through an Env, so tests can substitute ManualEnv and run deterministically without real
// sleeping. Env::system() is the real thing and the default everywhere.
//
// Lifetime: options take an Env* and borrow it (nullptr meaning Env::system(), which lives
// for the whole process). An Env given to a component must outlive it and everything the
// component made (a ManualEnv declared before the Runtime, say). See "Who owns what" in
// docs/architecture.md.
//
// Thread safety: implementations must be safe to call from any number of threads at once.
// Env::system() and ManualEnv are.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "rein/cancellation.hpp"

namespace rein {

class Env {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;

  virtual ~Env() = default;

  // Monotonic time, for durations and deadlines.
  virtual TimePoint now() = 0;

  // Wall-clock time in milliseconds since the Unix epoch, for records people read.
  virtual std::int64_t unix_millis() = 0;

  // Sleeps for `duration` unless `token` is cancelled first. Returns true when the full
  // duration elapsed, false when cancelled.
  virtual bool sleep_for(std::chrono::nanoseconds duration,
                         const CancellationToken& token = {}) = 0;

  // Waits until `signal` is cancelled (true) or `deadline` passes on this Env's clock (false).
  virtual bool wait_until(const CancellationToken& signal, TimePoint deadline) = 0;

  // Uniformly distributed 64 random bits.
  virtual std::uint64_t random_u64() = 0;

  // A fresh identifier starting with `prefix`, e.g. "run-3f9a0c1d2b4e5f60".
  virtual std::string new_id(std::string_view prefix) = 0;

  // A uniformly distributed double in [0, 1).
  double random_unit() { return static_cast<double>(random_u64() >> 11) * 0x1.0p-53; }

  // The process-wide real environment.
  static Env& system();
};

// A deterministic environment for tests and simulations: time stands still until advanced
// (sleep_for advances it instantly), randomness comes from a seed, ids are sequential.
class ManualEnv final : public Env {
 public:
  explicit ManualEnv(std::uint64_t seed = 0, std::int64_t start_unix_millis = 1'700'000'000'000);

  TimePoint now() override;
  std::int64_t unix_millis() override;
  // Advances the clock by `duration` at once; returns false only if already cancelled.
  bool sleep_for(std::chrono::nanoseconds duration, const CancellationToken& token = {}) override;
  // Returns as soon as the signal fires or some thread has advanced the clock past `deadline`.
  bool wait_until(const CancellationToken& signal, TimePoint deadline) override;
  std::uint64_t random_u64() override;
  std::string new_id(std::string_view prefix) override;

  void advance(std::chrono::nanoseconds duration);
  // Total time slept through this Env (what a real run would have waited).
  std::chrono::nanoseconds slept() const { return std::chrono::nanoseconds(slept_ns_.load()); }

 private:
  std::atomic<std::int64_t> elapsed_ns_{0};
  std::atomic<std::int64_t> slept_ns_{0};
  std::atomic<std::uint64_t> random_counter_;
  std::atomic<std::uint64_t> next_id_{1};
  std::int64_t start_unix_millis_;
};

}  // namespace rein
