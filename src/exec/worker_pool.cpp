#include "exec/worker_pool.hpp"

#include <atomic>
#include <memory>

namespace rein::detail {

WorkerPool::WorkerPool(std::size_t parallelism)
    : parallelism_(parallelism == 0 ? 1 : parallelism) {}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_)
    t.join();
}

void WorkerPool::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;
    auto task = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    task();
    lock.lock();
  }
}

void WorkerPool::run_all(std::vector<std::function<void()>>& tasks) {
  if (tasks.empty()) return;
  if (tasks.size() == 1 || parallelism_ == 1) {
    for (auto& t : tasks)
      t();
    return;
  }
  struct Batch {
    std::mutex mutex;
    std::condition_variable done;
    std::size_t remaining;
  };
  auto batch = std::make_shared<Batch>();
  batch->remaining = tasks.size();
  auto finish_one = [batch] {
    std::lock_guard lock(batch->mutex);
    if (--batch->remaining == 0) batch->done.notify_all();
  };
  // Shared indices: helpers and the caller pull tasks until none is left.
  auto next = std::make_shared<std::atomic<std::size_t>>(0);
  // A helper that starts after the batch is done touches only `next`: never the tasks.
  auto drain = [data = tasks.data(), n = tasks.size(), next, finish_one] {
    for (std::size_t i; (i = next->fetch_add(1)) < n;) {
      data[i]();
      finish_one();
    }
  };
  const std::size_t helpers = std::min(parallelism_, tasks.size()) - 1;
  {
    std::lock_guard lock(mutex_);
    while (threads_.size() < parallelism_ - 1)
      threads_.emplace_back([this] { work(); });
    for (std::size_t h = 0; h < helpers; ++h)
      queue_.emplace_back(drain);
  }
  cv_.notify_all();
  drain();
  std::unique_lock lock(batch->mutex);
  batch->done.wait(lock, [&] { return batch->remaining == 0; });
}

}  // namespace rein::detail
