#include "rein/executor.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <list>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace rein {

struct Executor::Impl {
  explicit Impl(ExecutorOptions o) : options(o), env(o.env != nullptr ? o.env : &Env::system()) {
    real_clock = env == &Env::system();
  }

  ExecutorOptions options;
  Env* env;
  bool real_clock;  // Env::system(): timers can be waited for exactly

  std::mutex mutex;
  std::condition_variable ready_cv;          // run work or a timer change arrived
  std::vector<std::function<void()>> ready;  // FIFO: taken in batches, in order
  std::map<std::pair<Env::TimePoint, std::uint64_t>, std::function<void()>> timers;
  std::uint64_t next_timer = 1;
  std::size_t waiting = 0;               // run threads waiting on ready_cv
  std::atomic<std::uint64_t> posted{0};  // work items posted so far: what a spinning thread watches
  static constexpr auto kSpin = std::chrono::microseconds(50);
  std::size_t threads = 1;  // run threads (a host-driven executor: its host's one)
  bool stopping = false;

  std::mutex blocking_mutex;
  std::condition_variable blocking_cv;
  std::list<std::function<void()>> blocking_queue;  // a list: an idle executor allocates nothing
  std::vector<std::thread> blocking_pool;
  std::size_t blocking_idle = 0;
  std::size_t blocking_outstanding = 0;  // queued or running: virtual time waits for them
  bool blocking_stopping = false;

  std::vector<std::thread> run_threads;

  void post(std::function<void()> fn) {
    {
      std::lock_guard lock(mutex);
      ready.push_back(std::move(fn));
      posted.fetch_add(1, std::memory_order_release);
      if (waiting == 0) return;
    }
    ready_cv.notify_one();
  }

  // Moves due timers to `out`; returns the next deadline still pending. Call locked.
  std::optional<Env::TimePoint> take_due(std::vector<std::function<void()>>& out) {
    if (timers.empty()) return std::nullopt;
    const auto now = env->now();
    while (!timers.empty() && timers.begin()->first.first <= now) {
      out.push_back(std::move(timers.begin()->second));
      timers.erase(timers.begin());
    }
    if (timers.empty()) return std::nullopt;
    return timers.begin()->first.first;
  }

  // Takes the next batch of work, waiting for it when `wait`; empty when stopping (or when
  // not waiting and nothing is ready).
  std::vector<std::function<void()>> next_batch(bool wait, const std::function<bool()>* done) {
    std::vector<std::function<void()>> batch;
    const bool run_thread = wait && done == nullptr && real_clock && !options.host_driven;
    bool spin_first = true;
    std::unique_lock lock(mutex);
    for (;;) {
      auto next_timer_at = take_due(batch);
      if (!ready.empty()) {
        // Timers that came due run first: they were waiting longer. With several run threads
        // a thread takes its share of the queue, not all of it, and wakes another for the rest.
        const std::size_t share =
            threads > 1 ? (ready.size() + threads - 1) / threads : ready.size();
        if (batch.empty() && share == ready.size()) {
          batch.swap(ready);
        } else {
          const auto end = ready.begin() + static_cast<std::ptrdiff_t>(share);
          for (auto it = ready.begin(); it != end; ++it)
            batch.push_back(std::move(*it));
          ready.erase(ready.begin(), end);
          if (!ready.empty() && waiting > 0) ready_cv.notify_one();
        }
      }
      if (!batch.empty() || stopping || !wait) return batch;
      if (done != nullptr && (*done)()) return batch;
      if (next_timer_at && options.virtual_time && blocking_idle_now()) {
        // Nothing can happen before the next timer: move the clock there.
        const auto target = *next_timer_at;
        lock.unlock();
        const auto now = env->now();
        if (target > now) env->sleep_for(target - now);
        lock.lock();
        continue;
      }
      if (spin_first && run_thread) {
        // Work often arrives within microseconds (a completion posting a resumption): look
        // for it briefly before sleeping, which saves a futex wake and a context switch.
        spin_first = false;
        const auto seen = posted.load(std::memory_order_acquire);
        lock.unlock();
        const auto until = std::chrono::steady_clock::now() + kSpin;
        while (posted.load(std::memory_order_acquire) == seen &&
               std::chrono::steady_clock::now() < until)
          std::this_thread::yield();
        lock.lock();
        continue;
      }
      spin_first = true;
      ++waiting;
      if (next_timer_at && real_clock) {
        ready_cv.wait_until(lock, *next_timer_at);
      } else if (next_timer_at || done != nullptr) {
        // Another clock, or a caller's condition that may change without a post: look again
        // in short real slices.
        ready_cv.wait_for(lock, std::chrono::milliseconds(1));
      } else {
        ready_cv.wait(lock);
      }
      --waiting;
    }
  }

  bool blocking_idle_now() {
    std::lock_guard lock(blocking_mutex);
    return blocking_outstanding == 0;
  }

  void run_loop() {
    for (;;) {
      auto batch = next_batch(true, nullptr);
      if (batch.empty()) return;  // stopping
      for (auto& fn : batch)
        fn();
    }
  }

  void post_blocking(const std::shared_ptr<Impl>& self, std::function<void()> fn) {
    std::unique_lock lock(blocking_mutex);
    if (blocking_stopping) return;
    blocking_queue.push_back(std::move(fn));
    ++blocking_outstanding;
    if (blocking_idle > 0) {
      lock.unlock();
      blocking_cv.notify_one();
      return;
    }
    if (blocking_pool.size() < std::max<std::size_t>(1, options.blocking_threads)) {
      blocking_pool.emplace_back([self] { self->blocking_loop(); });
    }
  }

  void blocking_loop() {
    std::unique_lock lock(blocking_mutex);
    for (;;) {
      ++blocking_idle;
      blocking_cv.wait(lock, [this] { return blocking_stopping || !blocking_queue.empty(); });
      --blocking_idle;
      if (blocking_queue.empty()) return;  // stopping
      auto fn = std::move(blocking_queue.front());
      blocking_queue.pop_front();
      lock.unlock();
      fn();
      fn = nullptr;
      lock.lock();
      --blocking_outstanding;
      if (blocking_outstanding == 0 && options.virtual_time) {
        // An idle executor may now move the clock.
        lock.unlock();
        { std::lock_guard wake(mutex); }
        ready_cv.notify_all();
        lock.lock();
      }
    }
  }
};

Executor::Executor(ExecutorOptions options) : impl_(std::make_shared<Impl>(options)) {
  if (options.host_driven) return;
  std::size_t n = options.threads;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  impl_->threads = n;
  impl_->run_threads.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    impl_->run_threads.emplace_back([impl = impl_.get()] { impl->run_loop(); });
}

Executor::~Executor() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->ready_cv.notify_all();
  for (auto& t : impl_->run_threads)
    t.join();
  std::vector<std::thread> pool;
  {
    std::lock_guard lock(impl_->blocking_mutex);
    impl_->blocking_stopping = true;
    impl_->blocking_queue.clear();
    pool.swap(impl_->blocking_pool);
  }
  impl_->blocking_cv.notify_all();
  for (auto& t : pool)
    t.join();
}

void Executor::post(std::function<void()> fn) {
  // Held until the notify is done: a completion posted from a host thread may be what lets the
  // run end and the host destroy this executor meanwhile.
  const std::shared_ptr<Impl> impl = impl_;
  impl->post(std::move(fn));
}

void Executor::post_blocking(std::function<void()> fn) {
  if (impl_->options.blocking_inline) {
    fn();
    return;
  }
  const std::shared_ptr<Impl> impl = impl_;  // as in post()
  impl->post_blocking(impl, std::move(fn));
}

Executor::Timer Executor::call_at(Env::TimePoint when, std::function<void()> fn) {
  const std::shared_ptr<Impl> impl = impl_;  // as in post()
  Timer timer;
  timer.when = when;
  {
    std::lock_guard lock(impl->mutex);
    timer.id = impl->next_timer++;
    const bool earliest = impl->timers.empty() || when < impl->timers.begin()->first.first;
    impl->timers.emplace(std::make_pair(when, timer.id), std::move(fn));
    if (!earliest || impl->waiting == 0) return timer;
  }
  impl->ready_cv.notify_one();  // a waiting thread must now wake earlier
  return timer;
}

bool Executor::cancel(const Timer& timer) {
  std::function<void()> dropped;  // destroyed unlocked: it may own anything
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->timers.find({timer.when, timer.id});
  if (it == impl_->timers.end()) return false;
  dropped = std::move(it->second);
  impl_->timers.erase(it);
  return true;
}

std::size_t Executor::poll() {
  std::size_t ran = 0;
  for (;;) {
    auto batch = impl_->next_batch(false, nullptr);
    if (batch.empty()) return ran;
    for (auto& fn : batch)
      fn();
    ran += batch.size();
  }
}

void Executor::run_until(const std::function<bool()>& done) {
  while (!done()) {
    auto batch = impl_->next_batch(true, &done);
    for (auto& fn : batch)
      fn();
    if (batch.empty() && impl_->stopping) return;
  }
}

Env& Executor::env() const noexcept {
  return *impl_->env;
}
const ExecutorOptions& Executor::options() const noexcept {
  return impl_->options;
}

std::size_t Executor::blocking_threads_started() const {
  std::lock_guard lock(impl_->blocking_mutex);
  return impl_->blocking_pool.size();
}

Executor::SleepAwaiter Executor::sleep_until(Env::TimePoint when, CancellationToken cancel) {
  return SleepAwaiter(*this, when, std::move(cancel));
}

namespace {

// The timer and the cancellation race to resume the sleeper; the first one wins.
struct SleepRace {
  std::atomic<bool> settled{false};
  bool cancelled = false;
  std::coroutine_handle<> awaiting;
  Executor* executor = nullptr;
  Executor::Timer timer;
  CancellationRegistration registration;
};

}  // namespace

bool Executor::SleepAwaiter::await_ready() const {
  if (cancel_.cancelled()) return true;
  return when_ <= executor_.env().now();
}

bool Executor::SleepAwaiter::await_resume() const noexcept {
  if (pending_) return !static_cast<SleepRace*>(pending_.get())->cancelled;
  return !cancel_.cancelled();
}

void Executor::SleepAwaiter::await_suspend(std::coroutine_handle<> awaiting) {
  // Once the timer is set the sleeper may be resumed (and this awaiter destroyed) on another
  // thread at any moment: from here on, only locals.
  auto race = std::make_shared<SleepRace>();
  race->awaiting = awaiting;
  race->executor = &executor_;
  pending_ = race;
  Executor& executor = executor_;
  const auto when = when_;
  const CancellationToken cancel = cancel_;
  race->timer = executor.call_at(when, [weak = std::weak_ptr<SleepRace>(race)] {
    auto r = weak.lock();
    if (!r || r->settled.exchange(true)) return;
    r->awaiting.resume();  // already on a run thread
  });
  auto registration = cancel.on_cancel([weak = std::weak_ptr<SleepRace>(race)] {
    auto r = weak.lock();
    if (!r || r->settled.exchange(true)) return;
    r->cancelled = true;
    r->executor->cancel(r->timer);
    r->executor->post([h = r->awaiting] { h.resume(); });
  });
  if (!race->settled.load()) race->registration = std::move(registration);
}

}  // namespace rein
