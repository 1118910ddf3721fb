// Internal: how Runtime::run_async drives runs on the executor.
//
// A drive is a coroutine that takes a run's turns one after another, each turn queued behind
// the other runs' (so thousands interleave fairly), and parks inside a turn whenever the run
// waits. When the run stops it tells the host (RunCallback) and ends. A run that only
// suspended stays attached: a decision, an answer or a cancellation wakes a new drive.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "loop/runtime_core.hpp"
#include "rein/executor.hpp"
#include "rein/task.hpp"

namespace rein::detail {

class Driver {
 public:
  explicit Driver(RuntimeCore& core) : core_(core) {}
  // shutdown().
  ~Driver();
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  Executor& executor();
  // Attaches the run and starts driving it. already_exists when it is attached already; the
  // store's error when it cannot be loaded. A run that has ended is not attached: `on_stop`
  // is told its final state.
  Status attach(const std::shared_ptr<RunSlot>& slot, const std::string& run_id,
                RunCallback on_stop);
  // Drives an attached run again unless a drive owns it already.
  void wake(const std::string& run_id);
  // Detaches a run no drive owns now (unavailable when one does); nothing when not attached.
  Status detach(const std::string& run_id);
  // Cancels every attached run and waits until all drives have ended.
  void shutdown();

 private:
  struct Attached {
    std::shared_ptr<RunSlot> slot;
    std::shared_ptr<const RunCallback> on_stop;
  };
  void start(std::shared_ptr<RunSlot> slot, std::string run_id);
  Task<void> drive(std::shared_ptr<RunSlot> slot, std::string run_id);
  void stop(std::shared_ptr<RunSlot> slot, const std::string& run_id,
            std::unique_lock<SlotLock>& lock, Result<AgentState> stopped);

  RuntimeCore& core_;
  std::mutex mutex_;
  std::shared_ptr<Executor> executor_;
  std::unordered_map<std::string, Attached> attached_;
  std::size_t active_ = 0;  // drives not yet ended
  std::condition_variable idle_;
};

}  // namespace rein::detail
