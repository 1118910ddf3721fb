// Internal: parking a coroutine on a host's asynchronous operation.
//
// `co_await park<T>(executor, start, abandoned, deadline, cancel)` hands `start` a
// Completion<T> and suspends. Exactly one of three things resumes the coroutine, on one of the
// executor's run threads: the host completing, the deadline passing (a timer), or the token
// being cancelled. Whatever comes after the first is ignored; a completion that arrives late
// calls `on_late` (on the completing thread), so the caller can record it.
#pragma once

#include <atomic>
#include <coroutine>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "rein/cancellation.hpp"
#include "rein/executor.hpp"
#include "rein/task.hpp"

namespace rein::detail {

enum class ParkEnd { completed, deadline, cancelled };

template <typename T>
struct Parked {
  ParkEnd end = ParkEnd::completed;
  std::optional<T> value;  // set when end == completed
};

template <typename T>
class ParkAwaiter {
 public:
  using Start = std::function<void(Completion<T>)>;

  ParkAwaiter(Executor& executor, Start start, std::function<T()> abandoned,
              Env::TimePoint deadline, CancellationToken cancel, std::function<void()> on_late)
      : state_(std::make_shared<State>()) {
    state_->executor = &executor;
    state_->start = std::move(start);
    state_->abandoned = std::move(abandoned);
    state_->deadline = deadline;
    state_->cancel = std::move(cancel);
    state_->on_late = std::move(on_late);
  }

  bool await_ready() const noexcept {
    if (!state_->cancel.cancelled()) return false;
    state_->out.end = ParkEnd::cancelled;
    return true;
  }

  void await_suspend(std::coroutine_handle<> awaiting) {
    // The coroutine may be resumed on another thread as soon as anything below is armed, and
    // this awaiter destroyed with its frame: only the shared state is touched from here on.
    std::shared_ptr<State> s = state_;
    s->awaiting = awaiting;
    if (s->deadline != Env::TimePoint::max()) {
      s->timer = s->executor->call_at(s->deadline, [weak = std::weak_ptr<State>(s)] {
        if (auto st = weak.lock()) st->settle(ParkEnd::deadline, std::nullopt, false);
      });
    }
    auto registration = s->cancel.on_cancel([weak = std::weak_ptr<State>(s)] {
      if (auto st = weak.lock()) st->settle(ParkEnd::cancelled, std::nullopt, true);
    });
    {
      std::lock_guard lock(s->registration_mutex);
      if (!s->settled.load()) s->registration = std::move(registration);
    }
    Completion<T> done(
        [s](T value) { return s->settle(ParkEnd::completed, std::move(value), true); },
        std::move(s->abandoned));
    Start start = std::move(s->start);
    start(std::move(done));
  }

  Parked<T> await_resume() { return std::move(state_->out); }

 private:
  struct State {
    Executor* executor = nullptr;
    Start start;
    std::function<T()> abandoned;
    Env::TimePoint deadline = Env::TimePoint::max();
    CancellationToken cancel;
    std::function<void()> on_late;
    std::coroutine_handle<> awaiting;
    std::atomic<bool> settled{false};
    Executor::Timer timer;
    std::mutex registration_mutex;
    CancellationRegistration registration;
    Parked<T> out;

    // Whether this ended the wait (false: something else had already).
    bool settle(ParkEnd end, std::optional<T> value, bool post) {
      if (settled.exchange(true, std::memory_order_acq_rel)) {
        if (end == ParkEnd::completed && on_late) on_late();
        return false;
      }
      out.end = end;
      out.value = std::move(value);
      if (end != ParkEnd::deadline && deadline != Env::TimePoint::max()) executor->cancel(timer);
      if (post) {
        executor->post([h = awaiting] { h.resume(); });
      } else {
        awaiting.resume();  // a timer: already on a run thread
      }
      return true;
    }
  };
  std::shared_ptr<State> state_;
};

template <typename T>
ParkAwaiter<T> park(Executor& executor, typename ParkAwaiter<T>::Start start,
                    std::function<T()> abandoned, Env::TimePoint deadline = Env::TimePoint::max(),
                    CancellationToken cancel = {}, std::function<void()> on_late = nullptr) {
  return ParkAwaiter<T>(executor, std::move(start), std::move(abandoned), deadline,
                        std::move(cancel), std::move(on_late));
}

}  // namespace rein::detail
