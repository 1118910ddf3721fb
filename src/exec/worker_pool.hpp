// Internal: a fixed set of threads that run a batch of tasks; the caller helps, so a batch of
// one costs no thread hop at all.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace rein::detail {

class WorkerPool {
 public:
  // `parallelism` tasks at most run at once (the caller counts as one).
  explicit WorkerPool(std::size_t parallelism);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Runs every task and returns when all are done. Tasks must not throw.
  void run_all(std::vector<std::function<void()>>& tasks);

 private:
  void work();
  std::size_t parallelism_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;  // started on first use
  bool stopping_ = false;
};

}  // namespace rein::detail
