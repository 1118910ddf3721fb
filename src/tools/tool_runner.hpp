// Internal: threads that run tool callbacks which have a deadline.
//
// The caller waits for the result with a deadline and may abandon a callback that overruns;
// the abandoned callback keeps its thread until it returns, and a new thread is started for
// later calls while the bound allows. Threads are detached and own the shared state, so a
// callback that never returns cannot make the registry's destruction hang or touch freed memory.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

namespace rein::detail {

class ToolRunner {
 public:
  explicit ToolRunner(std::size_t max_threads);
  ~ToolRunner();
  ToolRunner(const ToolRunner&) = delete;
  ToolRunner& operator=(const ToolRunner&) = delete;

  // Queues `task` for an idle thread, starting a new one while the bound allows; when every
  // allowed thread is busy the task waits in the queue (its caller's deadline bounds the
  // wait). False only when no thread exists and none can be started.
  bool submit(std::function<void()> task);

 private:
  struct State {
    std::mutex mutex;
    std::condition_variable cv;
    std::deque<std::function<void()>> queue;
    std::size_t threads = 0;
    std::size_t idle = 0;
    bool stopping = false;
  };
  static void work(const std::shared_ptr<State>& state);

  std::shared_ptr<State> state_;
  std::size_t max_threads_;
};

}  // namespace rein::detail
