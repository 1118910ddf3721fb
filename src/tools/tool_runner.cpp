#include "tools/tool_runner.hpp"

#include <thread>

namespace rein::detail {

ToolRunner::ToolRunner(std::size_t max_threads)
    : state_(std::make_shared<State>()), max_threads_(max_threads == 0 ? 1 : max_threads) {}

ToolRunner::~ToolRunner() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
  }
  state_->cv.notify_all();
}

bool ToolRunner::submit(std::function<void()> task) {
  bool spawn = false;
  {
    std::lock_guard lock(state_->mutex);
    if (state_->queue.size() >= state_->idle && state_->threads < max_threads_) {
      ++state_->threads;
      spawn = true;
    }
    state_->queue.push_back(std::move(task));
  }
  if (spawn) {
    try {
      std::thread(work, state_).detach();
    } catch (...) {
      std::lock_guard lock(state_->mutex);
      --state_->threads;
      if (state_->threads == 0) {
        state_->queue.pop_back();
        return false;
      }
      // Another thread will get to it.
    }
  }
  state_->cv.notify_one();
  return true;
}

void ToolRunner::work(const std::shared_ptr<State>& state) {
  std::unique_lock lock(state->mutex);
  for (;;) {
    ++state->idle;
    state->cv.wait(lock, [&] { return state->stopping || !state->queue.empty(); });
    --state->idle;
    if (state->queue.empty()) break;  // stopping and nothing left to run
    auto task = std::move(state->queue.front());
    state->queue.pop_front();
    lock.unlock();
    task();
    task = nullptr;  // release what the task holds before waiting again
    lock.lock();
  }
  --state->threads;
}

}  // namespace rein::detail
