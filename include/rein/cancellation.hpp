// Cancellation: a CancellationSource triggers, CancellationTokens observe.
//
// A token is handed to every tool call and every wait inside rein. Tools that block should
// check `cancelled()` or sleep through `ToolContext::sleep_for`, so that a timeout or a host's
// cancel stops them promptly. A token is also a one-shot signal in general: rein uses one to
// say "this call finished".
//
// Thread safety: sources and tokens are cheap handles to shared state; every member function
// may be called from any thread concurrently.
#pragma once

#include <chrono>
#include <memory>

namespace rein {

namespace detail {
struct CancelState;
}

class CancellationToken {
 public:
  // A token that is never cancelled.
  CancellationToken() = default;

  bool cancelled() const noexcept;

  // Blocks the calling thread for up to `duration` of real time, returning early (true) as
  // soon as the token is cancelled. Returns false when the time ran out first.
  bool wait_for(std::chrono::nanoseconds duration) const;

  // True when this token can ever be cancelled (it came from a source).
  bool can_be_cancelled() const noexcept { return state_ != nullptr; }

 private:
  friend class CancellationSource;
  explicit CancellationToken(std::shared_ptr<detail::CancelState> state)
      : state_(std::move(state)) {}
  std::shared_ptr<detail::CancelState> state_;
};

class CancellationSource {
 public:
  CancellationSource();

  // A source that is also cancelled whenever `parent` is (now or later).
  static CancellationSource linked_to(const CancellationToken& parent);

  // Idempotent; wakes every waiter.
  void cancel() noexcept;
  bool cancelled() const noexcept;
  CancellationToken token() const { return CancellationToken(state_); }

 private:
  std::shared_ptr<detail::CancelState> state_;
};

}  // namespace rein
