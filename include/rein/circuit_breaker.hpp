// rein::CircuitBreaker: stops calling a tool that keeps failing, then probes it.
//
// closed: calls pass; `failure_threshold` consecutive failures open the circuit.
// open: calls are refused at once until `open_duration` has passed on the Env's clock.
// half_open: up to `half_open_probes` calls pass; a success closes the circuit, a failure
// opens it again for another `open_duration`.
// Failures are what the caller reports: ToolRegistry counts timeouts, transient errors and
// exceptions, not invalid input or permanent "no such record" answers from a healthy service.
//
// Thread safety: all member functions may be called concurrently.
#pragma once

#include <chrono>
#include <mutex>
#include <string_view>

#include "rein/env.hpp"

namespace rein {

struct CircuitBreakerOptions {
  int failure_threshold = 5;  // consecutive failures that open the circuit; 0 disables it
  std::chrono::milliseconds open_duration{30'000};
  int half_open_probes = 1;  // concurrent trial calls allowed while half-open
};

enum class CircuitState { closed, open, half_open };
std::string_view to_string(CircuitState state) noexcept;

class CircuitBreaker {
 public:
  explicit CircuitBreaker(CircuitBreakerOptions options = {}) : options_(options) {}

  // Asks to make a call now. When it returns true the caller must report the outcome with
  // record_success(), record_failure() or, for a call abandoned without an outcome (the caller
  // cancelled it), record_abandoned().
  bool allow(Env& env);
  void record_success();
  void record_failure(Env& env);
  void record_abandoned();

  CircuitState state(Env& env) const;
  // How long until an open circuit lets a probe through (zero unless open).
  std::chrono::milliseconds retry_after(Env& env) const;

 private:
  CircuitBreakerOptions options_;
  mutable std::mutex mutex_;
  CircuitState state_ = CircuitState::closed;
  int consecutive_failures_ = 0;
  int probes_in_flight_ = 0;
  Env::TimePoint opened_at_{};
};

}  // namespace rein
