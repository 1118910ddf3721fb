#include "rein/circuit_breaker.hpp"

namespace rein {

std::string_view to_string(CircuitState state) noexcept {
  switch (state) {
    case CircuitState::closed:
      return "closed";
    case CircuitState::open:
      return "open";
    case CircuitState::half_open:
      return "half_open";
  }
  return "closed";
}

bool CircuitBreaker::allow(Env& env) {
  if (options_.failure_threshold <= 0) return true;
  std::lock_guard lock(mutex_);
  if (state_ == CircuitState::open) {
    if (env.now() - opened_at_ < options_.open_duration) return false;
    state_ = CircuitState::half_open;
    probes_in_flight_ = 0;
  }
  if (state_ == CircuitState::half_open) {
    if (probes_in_flight_ >= options_.half_open_probes) return false;
    ++probes_in_flight_;
  }
  return true;
}

void CircuitBreaker::record_success() {
  if (options_.failure_threshold <= 0) return;
  std::lock_guard lock(mutex_);
  state_ = CircuitState::closed;
  consecutive_failures_ = 0;
  probes_in_flight_ = 0;
}

void CircuitBreaker::record_failure(Env& env) {
  if (options_.failure_threshold <= 0) return;
  std::lock_guard lock(mutex_);
  if (state_ == CircuitState::half_open || ++consecutive_failures_ >= options_.failure_threshold) {
    state_ = CircuitState::open;
    opened_at_ = env.now();
    probes_in_flight_ = 0;
    consecutive_failures_ = 0;
  }
}

void CircuitBreaker::record_abandoned() {
  if (options_.failure_threshold <= 0) return;
  std::lock_guard lock(mutex_);
  if (state_ == CircuitState::half_open && probes_in_flight_ > 0) --probes_in_flight_;
}

CircuitState CircuitBreaker::state(Env& env) const {
  std::lock_guard lock(mutex_);
  if (state_ == CircuitState::open && env.now() - opened_at_ >= options_.open_duration) {
    return CircuitState::half_open;
  }
  return state_;
}

std::chrono::milliseconds CircuitBreaker::retry_after(Env& env) const {
  std::lock_guard lock(mutex_);
  if (state_ != CircuitState::open) return std::chrono::milliseconds::zero();
  const auto left = options_.open_duration - (env.now() - opened_at_);
  if (left <= Env::Clock::duration::zero()) return std::chrono::milliseconds::zero();
  return std::chrono::ceil<std::chrono::milliseconds>(left);
}

}  // namespace rein
