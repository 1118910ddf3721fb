#include "loop/driver.hpp"

#include "core/host_call.hpp"
#include "loop/turn.hpp"

namespace rein::detail {

namespace {

// Resumes the awaiting coroutine from the back of the executor's queue.
struct Requeue {
  Executor& executor;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> awaiting) const {
    executor.post([awaiting] { awaiting.resume(); });
  }
  void await_resume() const noexcept {}
};

}  // namespace

Driver::~Driver() {
  shutdown();
}

Executor& Driver::executor() {
  std::lock_guard lock(mutex_);
  if (!executor_) {
    if (core_.options.executor) {
      executor_ = core_.options.executor;
    } else {
      ExecutorOptions o = core_.options.executor_options;
      if (o.env == nullptr) o.env = core_.env;
      executor_ = std::make_shared<Executor>(o);
    }
  }
  return *executor_;
}

Status Driver::attach(const std::shared_ptr<RunSlot>& slot, const std::string& run_id,
                      RunCallback on_stop) {
  executor();  // made before any drive needs it
  auto already = [&] {
    return Error(ErrorCode::already_exists, "run '" + run_id + "' is driven by run_async already");
  };
  {
    // Asked before taking the slot, which a parked drive holds for as long as it waits.
    std::lock_guard lock(mutex_);
    if (attached_.count(run_id) != 0) return already();
  }
  std::lock_guard slot_lock(slot->mutex);
  auto state = core_.load(*slot, run_id);
  if (!state) return std::move(state).error();
  if (is_terminal((*state)->status)) {
    // Nothing to drive: tell the callback the final state, as run(run_id) would return it.
    auto final_state = std::make_shared<const AgentState>(**state);
    core_.let_go(*slot);
    executor().post([on_stop = std::move(on_stop), final_state] {
      if (on_stop) (void)call_host("the run_async callback", [&] { on_stop(*final_state); });
    });
    return {};
  }
  {
    std::lock_guard lock(mutex_);
    auto [it, inserted] = attached_.try_emplace(run_id);
    if (!inserted) return already();
    it->second = {slot, std::make_shared<const RunCallback>(std::move(on_stop))};
  }
  slot->driving = true;
  start(slot, run_id);
  return {};
}

void Driver::wake(const std::string& run_id) {
  std::shared_ptr<RunSlot> slot;
  {
    std::lock_guard lock(mutex_);
    auto it = attached_.find(run_id);
    if (it == attached_.end()) return;
    slot = it->second.slot;
  }
  if (!slot->driving.exchange(true)) start(std::move(slot), run_id);
}

Status Driver::detach(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  auto it = attached_.find(run_id);
  if (it == attached_.end()) return {};
  // wake() sets `driving` after finding the run under this lock: checked under it, it stays.
  if (it->second.slot->driving.load(std::memory_order_acquire)) {
    return Error(ErrorCode::unavailable, "run '" + run_id + "' is being driven");
  }
  attached_.erase(it);
  return {};
}

void Driver::start(std::shared_ptr<RunSlot> slot, std::string run_id) {
  {
    std::lock_guard lock(mutex_);
    ++active_;
  }
  start_detached(drive(std::move(slot), std::move(run_id)), [] {});
}

Task<void> Driver::drive(std::shared_ptr<RunSlot> slot, std::string run_id) {
  Executor& ex = executor();
  for (;;) {
    co_await Requeue{ex};
    // A synchronous call (state(), approve()) may hold the slot for a moment: look again soon
    // rather than block a run thread.
    std::unique_lock lock(slot->mutex, std::try_to_lock);
    if (!lock.owns_lock()) {
      co_await ex.sleep_until(core_.env->now() + std::chrono::milliseconds(1));
      continue;
    }
    slot->stepping.store(true, std::memory_order_release);
    auto loaded = core_.load(*slot, run_id);
    if (!loaded) {
      slot->stepping.store(false, std::memory_order_release);
      stop(std::move(slot), run_id, lock, std::move(loaded).error());
      co_return;
    }
    AgentState& s = **loaded;
    const auto before = std::make_pair(s.step_index, s.audit_count);
    Turn turn(core_, *slot, s, ex);
    Status taken = co_await take_turn(turn);
    slot->stepping.store(false, std::memory_order_release);
    if (!taken) {
      slot->drop();  // the store is the truth: reload next time
      stop(std::move(slot), run_id, lock, std::move(taken).error());
      co_return;
    }
    if (is_terminal(s.status)) {
      // The slot lets go of an ended run's state in stop() (it is in the store): the callback
      // gets it by move. Its status, an enum, is what stop() looks at and survives the move.
      stop(std::move(slot), run_id, lock, std::move(s));
      co_return;
    }
    if (is_suspended(s.status) || before == std::make_pair(s.step_index, s.audit_count)) {
      stop(std::move(slot), run_id, lock, s);
      co_return;
    }
  }
}

void Driver::stop(std::shared_ptr<RunSlot> slot, const std::string& run_id,
                  std::unique_lock<SlotLock>& lock, Result<AgentState> stopped) {
  const bool ended = !stopped || is_terminal(stopped->status);
  std::shared_ptr<const RunCallback> on_stop;
  std::shared_ptr<RunSlot> detached;  // dropped after the lock: the slot may go with it
  {
    std::lock_guard guard(mutex_);
    auto it = attached_.find(run_id);
    if (it != attached_.end()) {
      on_stop = it->second.on_stop;
      if (ended) {
        detached = std::move(it->second.slot);
        attached_.erase(it);
      }
    }
  }
  slot->driving.store(false, std::memory_order_release);
  core_.let_go(*slot);
  lock.unlock();
  // A callback that throws has nobody else to tell: call_host swallows it.
  if (on_stop && *on_stop) (void)call_host("the run_async callback", [&] { (*on_stop)(stopped); });
  detached.reset();
  core_.release(run_id, std::move(slot));
  std::lock_guard guard(mutex_);
  if (--active_ == 0) idle_.notify_all();
}

void Driver::shutdown() {
  std::vector<std::pair<std::string, std::shared_ptr<RunSlot>>> runs;
  {
    std::lock_guard lock(mutex_);
    if (!executor_) return;
    for (auto& [id, a] : attached_)
      runs.emplace_back(id, a.slot);
  }
  for (auto& [id, slot] : runs) {
    slot->cancel_requested = true;
    slot->cancel.cancel();
    if (!slot->driving.exchange(true)) start(slot, id);
  }
  if (executor_->options().host_driven) {
    // Nobody else may be polling it: finish the drives on this thread.
    executor_->run_until([this] {
      std::lock_guard lock(mutex_);
      return active_ == 0;
    });
    return;
  }
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return active_ == 0; });
}

}  // namespace rein::detail
