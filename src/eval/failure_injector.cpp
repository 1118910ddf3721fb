#include "rein/failure_injector.hpp"

#include <algorithm>
#include <mutex>
#include <random>

namespace rein {

std::string_view to_string(InjectedFailure failure) noexcept {
  switch (failure) {
    case InjectedFailure::none:
      return "none";
    case InjectedFailure::timeout:
      return "timeout";
    case InjectedFailure::permanent_error:
      return "permanent_error";
    case InjectedFailure::transient_error:
      return "transient_error";
    case InjectedFailure::stale:
      return "stale";
  }
  return "none";
}

namespace {
FailureRates sanitized(FailureRates r) {
  for (double* p : {&r.timeout, &r.permanent_error, &r.transient_error, &r.stale}) {
    *p = std::clamp(*p, 0.0, 1.0);
  }
  if (r.latency_max < r.latency_min) r.latency_max = r.latency_min;
  if (r.latency_min.count() < 0) r.latency_min = std::chrono::milliseconds(0);
  return r;
}
}  // namespace

struct FailureInjector::State {
  std::mutex mutex;
  FailureRates rates;
  std::mt19937_64 engine;
  Counts counts;

  double unit() { return std::uniform_real_distribution<double>(0.0, 1.0)(engine); }
};

FailureInjector::FailureInjector(FailureRates rates, std::uint64_t seed)
    : state_(std::make_shared<State>()) {
  state_->rates = sanitized(rates);
  state_->engine.seed(seed);
}

InjectedFailure FailureInjector::draw() {
  std::lock_guard lock(state_->mutex);
  auto& s = *state_;
  ++s.counts.calls;
  double r = s.unit();
  const FailureRates& rates = s.rates;
  if ((r -= rates.timeout) < 0) {
    ++s.counts.timeouts;
    return InjectedFailure::timeout;
  }
  if ((r -= rates.permanent_error) < 0) {
    ++s.counts.permanent_errors;
    return InjectedFailure::permanent_error;
  }
  if ((r -= rates.transient_error) < 0) {
    ++s.counts.transient_errors;
    return InjectedFailure::transient_error;
  }
  if ((r -= rates.stale) < 0) {
    ++s.counts.stale;
    return InjectedFailure::stale;
  }
  return InjectedFailure::none;
}

std::chrono::milliseconds FailureInjector::draw_latency() {
  std::lock_guard lock(state_->mutex);
  const auto lo = state_->rates.latency_min.count();
  const auto hi = state_->rates.latency_max.count();
  if (hi <= lo) return std::chrono::milliseconds(lo);
  return std::chrono::milliseconds(
      std::uniform_int_distribution<std::int64_t>(lo, hi)(state_->engine));
}

ToolFn FailureInjector::wrap(ToolFn tool, StaleFn make_stale) const {
  FailureInjector self = *this;  // shares state_
  return [self, tool = std::move(tool), make_stale = std::move(make_stale)](
             const nlohmann::json& args, ToolContext& ctx) mutable -> ToolResult {
    if (const auto latency = self.draw_latency(); latency.count() > 0) {
      if (!ctx.sleep_for(latency)) return ToolResult::failure("cancelled", false);
    }
    switch (self.draw()) {
      case InjectedFailure::timeout: {
        if (ctx.deadline() == Env::TimePoint::max()) {
          ToolResult r = ToolResult::failure("injected timeout", /*transient=*/true);
          r.status = ToolStatus::timeout;
          return r;
        }
        // Hang past the deadline; the registry abandons us and reports the timeout.
        ctx.sleep_for(ctx.deadline() - ctx.env().now() + std::chrono::milliseconds(1));
        return ToolResult::failure("injected timeout", /*transient=*/true);
      }
      case InjectedFailure::permanent_error:
        return ToolResult::failure("injected error: not found or bad id", /*transient=*/false);
      case InjectedFailure::transient_error:
        return ToolResult::failure("injected error: service unavailable", /*transient=*/true);
      case InjectedFailure::stale: {
        ToolResult r = tool(args, ctx);
        if (r.ok() && make_stale) make_stale(r);
        return r;
      }
      case InjectedFailure::none:
        break;
    }
    return tool(args, ctx);
  };
}

void FailureInjector::set_rates(FailureRates rates) {
  std::lock_guard lock(state_->mutex);
  state_->rates = sanitized(rates);
}

FailureInjector::Counts FailureInjector::counts() const {
  std::lock_guard lock(state_->mutex);
  return state_->counts;
}

}  // namespace rein
