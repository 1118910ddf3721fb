// Internal: runs tasks concurrently, at most `limit` at once, and lets a coroutine wait for
// all of them (the act stage's parallel tool calls).
#pragma once

#include <coroutine>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "rein/executor.hpp"
#include "rein/task.hpp"

namespace rein::detail {

class Gather {
 public:
  Gather(Executor& executor, std::size_t limit) : state_(std::make_shared<State>()) {
    state_->executor = &executor;
    state_->limit = limit == 0 ? 1 : limit;
  }

  // Starts `task` now (it runs on this thread until its first wait) or, at the limit, when an
  // earlier one finishes. Tasks must not throw.
  void add(Task<void> task) {
    {
      std::lock_guard lock(state_->mutex);
      ++state_->remaining;
      if (state_->running >= state_->limit) {
        state_->queued.push_back(std::move(task));
        return;
      }
      ++state_->running;
    }
    launch(state_, std::move(task));
  }

  // co_await: resumes (on a run thread) when every task added has finished.
  auto wait() {
    struct Awaiter {
      std::shared_ptr<State> state;
      bool await_ready() {
        std::lock_guard lock(state->mutex);
        return state->remaining == 0;
      }
      bool await_suspend(std::coroutine_handle<> awaiting) {
        std::lock_guard lock(state->mutex);
        if (state->remaining == 0) return false;
        state->waiter = awaiting;
        return true;
      }
      void await_resume() const noexcept {}
    };
    return Awaiter{state_};
  }

 private:
  struct State {
    Executor* executor = nullptr;
    std::size_t limit = 1;
    std::mutex mutex;
    std::size_t running = 0;
    std::size_t remaining = 0;
    // Beyond the limit, in order. A vector, not a deque: an empty deque already allocates
    // more than half a kilobyte, and every run waiting on its tools holds a Gather.
    std::vector<Task<void>> queued;
    std::coroutine_handle<> waiter;
  };

  static void launch(const std::shared_ptr<State>& state, Task<void> task) {
    start_detached(std::move(task), [state] { finished(state); });
  }

  static void finished(const std::shared_ptr<State>& state) {
    Task<void> next;
    std::coroutine_handle<> waiter;
    {
      std::lock_guard lock(state->mutex);
      --state->remaining;
      if (!state->queued.empty()) {
        next = std::move(state->queued.front());
        state->queued.erase(state->queued.begin());  // few: at most a turn's calls
      } else {
        --state->running;
      }
      if (state->remaining == 0) waiter = std::exchange(state->waiter, {});
    }
    if (next.valid()) launch(state, std::move(next));
    if (waiter) state->executor->post([waiter] { waiter.resume(); });
  }

  std::shared_ptr<State> state_;
};

}  // namespace rein::detail
