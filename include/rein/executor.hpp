// rein::Executor: where runs advance, what they wait on, and where blocking host code goes.
//
// An Executor has three parts:
//   - run threads (ExecutorOptions::threads, default the hardware concurrency) that resume
//     runs when what they wait for arrives. Code on them must never block: a run that waits
//     on a model, a tool, a timer or a person is parked (a coroutine frame, no thread) until
//     a completion or a timer posts it back;
//   - timers, on the Env's clock: tool deadlines, retry backoff, rate-limit waits;
//   - a bounded blocking pool (ExecutorOptions::blocking_threads) for synchronous host
//     callbacks: a ToolFn, an LlmCallback, a planner's plan(). They may block there as long as
//     they like without holding up any run that is not waiting on them.
//
// With threads = 0 the executor has no run threads: the host drives it from its own loop by
// calling poll() (run what is ready, never wait) or run_until(). That is how rein fits a game
// loop, and how a deterministic simulation runs many runs interleaved on one thread.
//
// Virtual time (ExecutorOptions::virtual_time) makes an idle executor move the Env's clock
// (which must be movable: ManualEnv) straight to its next timer instead of waiting for it, as
// long as no blocking-pool work is outstanding. Runs then take no real time at all, and with
// one thread and asynchronous callbacks the interleaving is the same on every run.
//
// Thread safety: every member may be called from any thread.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "rein/cancellation.hpp"
#include "rein/env.hpp"

namespace rein {

struct ExecutorOptions {
  // Threads that resume runs. 0 with host_driven: none (the host calls poll()/run_until());
  // 0 otherwise: std::thread::hardware_concurrency() (at least 1).
  std::size_t threads = 0;
  bool host_driven = false;
  // Upper bound on the blocking pool's threads, started on demand; further work queues.
  std::size_t blocking_threads = 64;
  Env* env = nullptr;  // the clock timers run on; nullptr: Env::system()
  // Jump the clock to the next timer when idle (needs an Env whose clock moves on request).
  bool virtual_time = false;
  // Run blocking work on the thread that asks for it instead of the pool. For an executor
  // driven by a host thread that may block anyway (how the synchronous Runtime::run works).
  bool blocking_inline = false;
};

class Executor {
 public:
  struct Timer {
    Env::TimePoint when{};
    std::uint64_t id = 0;
  };

  explicit Executor(ExecutorOptions options = {});
  // Stops the run threads after the work in hand; work still queued, timers not yet due and
  // parked runs are dropped. Waits for blocking-pool work that has started.
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Runs `fn` on a run thread soon. `fn` must not block and must not throw.
  void post(std::function<void()> fn);
  // Runs `fn` on the blocking pool (or inline, with blocking_inline). It may block; it must
  // not throw.
  void post_blocking(std::function<void()> fn);
  // Runs `fn` on a run thread once the Env's clock reaches `when`.
  Timer call_at(Env::TimePoint when, std::function<void()> fn);
  // False when the timer already fired or was cancelled.
  bool cancel(const Timer& timer);

  // For a host-driven executor (or one driven by a blocking call): runs the work that is ready
  // and the timers that are due, without waiting. Returns how many items ran.
  std::size_t poll();
  // Runs work as it becomes ready until `done()` holds (checked after each item).
  void run_until(const std::function<bool()>& done);

  Env& env() const noexcept;
  const ExecutorOptions& options() const noexcept;
  // Blocking-pool threads started so far (they stay for the executor's life).
  std::size_t blocking_threads_started() const;

  // --- awaitables for rein's coroutines ---

  // Resumes the awaiting coroutine on a run thread once `when` is reached or `cancel` fires.
  // co_await yields true when the time came, false when cancelled first.
  class SleepAwaiter;
  SleepAwaiter sleep_until(Env::TimePoint when, CancellationToken cancel = {});

  // Runs `fn` on the blocking pool and resumes with its value on a run thread.
  template <typename Fn>
  auto blocking(Fn fn);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

class Executor::SleepAwaiter {
 public:
  SleepAwaiter(Executor& executor, Env::TimePoint when, CancellationToken cancel)
      : executor_(executor), when_(when), cancel_(std::move(cancel)) {}
  bool await_ready() const;
  void await_suspend(std::coroutine_handle<> awaiting);
  bool await_resume() const noexcept;

 private:
  Executor& executor_;
  Env::TimePoint when_;
  CancellationToken cancel_;
  std::shared_ptr<void> pending_;  // keeps the race between timer and cancellation alive
};

template <typename Fn>
auto Executor::blocking(Fn fn) {
  using Value = std::invoke_result_t<Fn&>;
  struct Awaiter {
    Executor& executor;
    Fn fn;
    std::optional<std::conditional_t<std::is_void_v<Value>, bool, Value>> value;
    bool await_ready() {
      if (!executor.options().blocking_inline) return false;
      run();
      return true;
    }
    void run() {
      if constexpr (std::is_void_v<Value>) {
        fn();
        value.emplace(true);
      } else {
        value.emplace(fn());
      }
    }
    void await_suspend(std::coroutine_handle<> awaiting) {
      executor.post_blocking([this, awaiting] {
        run();
        executor.post([awaiting] { awaiting.resume(); });
      });
    }
    Value await_resume() {
      if constexpr (!std::is_void_v<Value>) return std::move(*value);
    }
  };
  return Awaiter{*this, std::move(fn), std::nullopt};
}

}  // namespace rein
