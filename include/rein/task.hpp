// rein::Task: the coroutine type of rein's asynchronous code, and Completion, the one-shot
// handle through which host code hands a result back.
//
// Two kinds of asynchronous code meet in rein, and each gets the form that suits it:
//   - leaves (a tool, the LLM callback) are where the host's own event loop lives: asio,
//     libuv, a game loop, a thread of its own. They get a Completion<T>, a plain value the host
//     calls once, from any thread, when the work is done. Nothing about rein's threads leaks
//     into the host's loop, and no coroutine support is asked of it.
//   - composites (a planner that asks a model, repairs its answer and asks again; the loop
//     itself) are sequential logic with waits in between. They are C++20 coroutines returning
//     Task<T>, so they read top to bottom: `auto answer = co_await request.ask_model(r);`.
//
// A Task is lazy: nothing runs until it is awaited (or handed to the runtime), and it resumes
// its awaiter directly (symmetric transfer), without a trip through the executor. A Task is
// move-only and owns its coroutine frame. Exceptions thrown inside travel to the awaiter.
//
// Writing coroutines with GCC 12: a lambda that captures by value (or with an init-capture)
// must not be a temporary inside a co_await expression — GCC 12 destroys its captures twice.
// Name it first (`auto start = [x] {...}; co_await park(std::move(start));`); lambdas that
// capture only by reference are not affected.
//
// Where a Task resumes after a wait is decided by the runtime's Executor (executor.hpp): a
// Completion called on the host's thread posts the resumption to the executor, so rein's
// code never runs on the host's threads, and the host's code never on rein's run threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <coroutine>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

namespace rein {

template <typename T = void>
class Task;

namespace detail {

struct TaskPromiseBase {
  std::coroutine_handle<> continuation = std::noop_coroutine();
  std::exception_ptr error;

  struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    template <typename Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> done) noexcept {
      return done.promise().continuation;
    }
    void await_resume() const noexcept {}
  };

  std::suspend_always initial_suspend() const noexcept { return {}; }
  FinalAwaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { error = std::current_exception(); }
};

template <typename T>
struct TaskPromise final : TaskPromiseBase {
  std::optional<T> value;
  Task<T> get_return_object() noexcept;
  template <typename U>
  void return_value(U&& v) {
    value.emplace(std::forward<U>(v));
  }
  T take() {
    if (error) std::rethrow_exception(error);
    return std::move(*value);
  }
};

template <>
struct TaskPromise<void> final : TaskPromiseBase {
  Task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void take() {
    if (error) std::rethrow_exception(error);
  }
};

}  // namespace detail

template <typename T>
class [[nodiscard]] Task {
 public:
  using promise_type = detail::TaskPromise<T>;
  using Handle = std::coroutine_handle<promise_type>;

  Task() noexcept = default;
  explicit Task(Handle handle) noexcept : handle_(handle) {}
  Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      if (handle_) handle_.destroy();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() {
    if (handle_) handle_.destroy();
  }

  bool valid() const noexcept { return static_cast<bool>(handle_); }

  // Awaiting starts the task; the awaiter resumes when it finishes.
  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiter) noexcept {
    handle_.promise().continuation = awaiter;
    return handle_;
  }
  T await_resume() { return handle_.promise().take(); }

 private:
  Handle handle_;
};

namespace detail {

template <typename T>
Task<T> TaskPromise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<TaskPromise<T>>::from_promise(*this));
}

inline Task<void> TaskPromise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<TaskPromise<void>>::from_promise(*this));
}

// A coroutine that starts at once and frees itself when it ends: the root of a chain of Tasks.
struct Detached {
  struct promise_type {
    Detached get_return_object() const noexcept { return {}; }
    std::suspend_never initial_suspend() const noexcept { return {}; }
    std::suspend_never final_suspend() const noexcept { return {}; }
    void return_void() const noexcept {}
    void unhandled_exception() const noexcept { std::terminate(); }
  };
};

}  // namespace detail

// Runs `task` to its end on the calling thread until its first wait, then wherever it is
// resumed; `done` receives its value. `done` must not throw. Exceptions of the task reach
// `done` as a rethrown exception_ptr through `failed` (nullptr: std::terminate).
template <typename T, typename Done>
void start_detached(Task<T> task, Done done,
                    std::function<void(std::exception_ptr)> failed = nullptr) {
  [](Task<T> t, Done d, std::function<void(std::exception_ptr)> f) -> detail::Detached {
    std::exception_ptr error;
    if constexpr (std::is_void_v<T>) {
      try {
        co_await std::move(t);
      } catch (...) {
        error = std::current_exception();
      }
      if (!error) {
        d();
        co_return;
      }
    } else {
      std::optional<T> value;
      try {
        value.emplace(co_await std::move(t));
      } catch (...) {
        error = std::current_exception();
      }
      if (!error) {
        d(std::move(*value));
        co_return;
      }
    }
    if (f) {
      f(error);
    } else {
      std::terminate();
    }
  }(std::move(task), std::move(done), std::move(failed));
}

// Blocks the calling thread until `task` finishes and returns its value (rethrowing what it
// threw). The task runs on this thread until its first wait and is resumed wherever what it
// waits on resumes it, so this must not be called on a thread that it needs for that (the
// thread driving a host-driven Executor, say).
template <typename T>
T sync_wait(Task<T> task) {
  std::mutex mutex;
  std::condition_variable cv;
  bool finished = false;
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
  std::exception_ptr error;
  auto finish = [&] {
    std::lock_guard lock(mutex);
    finished = true;
    cv.notify_one();
  };
  if constexpr (std::is_void_v<T>) {
    start_detached(
        std::move(task), [&] { finish(); },
        [&](std::exception_ptr e) {
          error = e;
          finish();
        });
  } else {
    start_detached(
        std::move(task),
        [&](T v) {
          value.emplace(std::move(v));
          finish();
        },
        [&](std::exception_ptr e) {
          error = e;
          finish();
        });
  }
  std::unique_lock lock(mutex);
  cv.wait(lock, [&] { return finished; });
  if (error) std::rethrow_exception(error);
  if constexpr (!std::is_void_v<T>) return std::move(*value);
}

// The one-shot handle host code calls to finish an asynchronous operation: a tool call, a
// model request. Call it once, from any thread, at any time; the first call wins and later
// ones are ignored (complete() then returns false), which also covers a result that arrives
// after its deadline or after the run was cancelled. A Completion that is destroyed without
// being called delivers `abandoned`'s value (an error) so a waiting run never hangs on a lost
// handle. Copies share one state.
template <typename T>
class Completion {
 public:
  // Receives the value; returns whether it was taken (false: the operation had already ended
  // another way, a deadline say, and the value is ignored).
  using Deliver = std::function<bool(T)>;

  Completion() = default;
  // `deliver` may return bool (whether the value was taken) or nothing (always taken).
  template <typename Fn>
  Completion(Fn deliver, std::function<T()> abandoned)
      : state_(std::make_shared<State>(as_deliver(std::move(deliver)), std::move(abandoned))) {}

  // Delivers `value`; false when a value was delivered before (or the handle is empty), or
  // when the operation had already ended and ignored it.
  bool complete(T value) const {
    if (!state_) return false;
    return state_->deliver_once(std::move(value));
  }
  bool operator()(T value) const { return complete(std::move(value)); }
  // True once a value was delivered, by anyone.
  bool done() const noexcept { return state_ && state_->delivered.load(std::memory_order_acquire); }

 private:
  template <typename Fn>
  static Deliver as_deliver(Fn fn) {
    if constexpr (std::is_void_v<std::invoke_result_t<Fn&, T>>) {
      return [fn = std::move(fn)](T value) mutable {
        fn(std::move(value));
        return true;
      };
    } else {
      return Deliver(std::move(fn));
    }
  }

  struct State {
    State(Deliver d, std::function<T()> a) : deliver(std::move(d)), abandoned(std::move(a)) {}
    ~State() {
      if (!delivered.load(std::memory_order_acquire) && abandoned && deliver) {
        try {
          deliver_once(abandoned());
        } catch (...) {
        }
      }
    }
    bool deliver_once(T value) {
      if (delivered.exchange(true, std::memory_order_acq_rel)) return false;
      Deliver d = std::move(deliver);
      return d(std::move(value));
    }
    Deliver deliver;
    std::function<T()> abandoned;
    std::atomic<bool> delivered{false};
  };
  std::shared_ptr<State> state_;
};

}  // namespace rein
