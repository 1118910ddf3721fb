// rein::FailureInjector: seeded chaos for any tool — timeouts, errors, stale data, latency.
//
// Wrap a tool's callback and register the wrapper instead; every call first waits the drawn
// latency, then draws one outcome:
//   timeout          the call hangs until its deadline (cancellation) and is abandoned by the
//                    registry; with no deadline it returns status timeout at once;
//   permanent_error  an error that retrying cannot fix (a bad id, a 404);
//   transient_error  an error worth retrying (a 503, a dropped connection);
//   stale            the real call runs, then `make_stale` reshapes its data to look outdated
//                    (without one the result passes unchanged, but is counted);
//   none             the real call runs.
// Draws come from one seeded generator, so a single-threaded sequence of calls is
// reproducible; with concurrent calls the draws are shared out in arrival order.
//
// Thread safety: all members may be called concurrently; wrappers share the injector's state.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "rein/tool.hpp"

namespace rein {

enum class InjectedFailure { none, timeout, permanent_error, transient_error, stale };
std::string_view to_string(InjectedFailure failure) noexcept;

struct FailureRates {
  double timeout = 0.0;
  double permanent_error = 0.0;
  double transient_error = 0.0;
  double stale = 0.0;
  std::chrono::milliseconds latency_min{0};
  std::chrono::milliseconds latency_max{0};
};

class FailureInjector {
 public:
  // Rates must each be within [0, 1] and sum to at most 1 (clamped otherwise).
  FailureInjector(FailureRates rates, std::uint64_t seed);

  // The next outcome; tools that shape their own failures may call this directly.
  InjectedFailure draw();
  // The next latency, uniform in [latency_min, latency_max].
  std::chrono::milliseconds draw_latency();

  using StaleFn = std::function<void(ToolResult&)>;
  ToolFn wrap(ToolFn tool, StaleFn make_stale = nullptr) const;

  void set_rates(FailureRates rates);

  struct Counts {
    std::uint64_t calls = 0, timeouts = 0, permanent_errors = 0, transient_errors = 0, stale = 0;
  };
  Counts counts() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace rein
