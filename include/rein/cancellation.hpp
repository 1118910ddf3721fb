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
#include <cstdint>
#include <functional>
#include <memory>

namespace rein {

namespace detail {
struct CancelState;
}

class CancellationRegistration;

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

  // Calls `fn` once when the token is cancelled, on the cancelling thread, or at once on this
  // thread when it already is. The callback is forgotten when the registration is destroyed
  // (a callback already running is not waited for, so it must only touch what it owns).
  // `fn` must not throw. A token that can never be cancelled never calls it.
  [[nodiscard]] CancellationRegistration on_cancel(std::function<void()> fn) const;

 private:
  friend class CancellationSource;
  explicit CancellationToken(std::shared_ptr<detail::CancelState> state)
      : state_(std::move(state)) {}
  std::shared_ptr<detail::CancelState> state_;
};

class CancellationRegistration {
 public:
  CancellationRegistration() = default;
  CancellationRegistration(CancellationRegistration&& other) noexcept;
  CancellationRegistration& operator=(CancellationRegistration&& other) noexcept;
  CancellationRegistration(const CancellationRegistration&) = delete;
  CancellationRegistration& operator=(const CancellationRegistration&) = delete;
  ~CancellationRegistration();

 private:
  friend class CancellationToken;
  CancellationRegistration(std::weak_ptr<detail::CancelState> state, std::uint64_t id)
      : state_(std::move(state)), id_(id) {}
  void reset() noexcept;
  std::weak_ptr<detail::CancelState> state_;
  std::uint64_t id_ = 0;
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
