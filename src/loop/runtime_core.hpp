// Internal: what the Runtime's public face and its step engine share.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "exec/worker_pool.hpp"
#include "rein/executor.hpp"
#include "rein/runtime.hpp"

namespace rein::detail {

// A lock that any thread may release: a run driven by the executor holds its slot across a
// turn that parks and resumes on another thread.
class SlotLock {
 public:
  void lock() {
    std::unique_lock l(mutex_);
    cv_.wait(l, [this] { return !held_; });
    held_ = true;
  }
  bool try_lock() {
    std::lock_guard l(mutex_);
    if (held_) return false;
    held_ = true;
    return true;
  }
  void unlock() {
    {
      std::lock_guard l(mutex_);
      held_ = false;
    }
    cv_.notify_one();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool held_ = false;
};

// Per-run, in-process coordination (never persisted).
struct RunSlot {
  SlotLock mutex;             // held while the run is being stepped or changed
  CancellationSource cancel;  // fired by Runtime::cancel
  std::atomic<bool> cancel_requested{false};
  std::mutex queue_mutex;               // guards `queued`
  std::vector<Observation> queued;      // host observations for the next observe stage
  std::atomic<bool> has_queued{false};  // lets a step skip the lock when nothing was queued
  std::optional<AgentState> live;       // the run's state (newer than a non-durable store's copy)
  // Whether `live` holds a state, readable without the lock: release() skips runs that are live
  // without taking the runtime's slot map lock on every step. Set through keep() and drop().
  std::atomic<bool> resident{false};
  void keep(AgentState state) {
    live = std::move(state);
    resident.store(true, std::memory_order_release);
  }
  void drop() {
    live.reset();
    resident.store(false, std::memory_order_release);
  }
  std::string run_span_id;  // while Runtime::run drives the run: its span, the steps' parent
  std::atomic<bool> stepping{false};  // a step holds `mutex` (cancel() must not wait for it)
  std::atomic<bool> driving{false};   // a drive of run_async owns the run now (see driver.hpp)
  // The executor of turns taken on a calling thread (step(), run()), kept for the slot's life;
  // used only with `mutex` held.
  std::unique_ptr<Executor> here;
  // A delegated run's policy with its carve applied (RuntimeCore::policy_for), and the
  // delegation it was made for; used only with `mutex` held.
  std::shared_ptr<const PolicyEngine> carved_policy;
  const Delegation* carved_for = nullptr;
};

struct RuntimeCore;

// A run's slot, held for one operation; handing it back lets the runtime drop slots of runs it
// no longer needs to hold (see RuntimeCore::release). Declare it before any lock on the slot.
class SlotHandle {
 public:
  SlotHandle(RuntimeCore& core, std::string run_id);
  ~SlotHandle();
  SlotHandle(const SlotHandle&) = delete;
  SlotHandle& operator=(const SlotHandle&) = delete;

  RunSlot& operator*() const noexcept { return *slot_; }
  const std::shared_ptr<RunSlot>& shared() const noexcept { return slot_; }
  RunSlot* operator->() const noexcept { return slot_.get(); }
  const std::string& run_id() const noexcept { return run_id_; }

 private:
  RuntimeCore& core_;
  std::string run_id_;
  std::shared_ptr<RunSlot> slot_;
};

struct RuntimeCore {
  RuntimeCore(AgentConfig agent_config, RuntimeOptions runtime_options);

  AgentConfig agent;
  RuntimeOptions options;
  Env* env;
  std::shared_ptr<RunStore> store;
  WorkerPool pool;
  Status configuration;  // what Runtime::create would say: start() refuses runs when not ok

  std::mutex slots_mutex;
  std::unordered_map<std::string, std::shared_ptr<RunSlot>> slots;

  std::shared_ptr<RunSlot> slot(const std::string& run_id);
  // Drops the run's slot when nobody else holds it and it keeps nothing the store lacks: no
  // state newer than the store's, no queued observation, no cancellation waiting for a step.
  // A long-lived runtime so holds only the runs that are live in memory.
  void release(const std::string& run_id, std::shared_ptr<RunSlot> slot);
  // Runs holding a slot now.
  std::size_t slot_count();
  // The run's state: the slot's cache, else the store. Call with the slot locked.
  Result<AgentState*> load(RunSlot& slot, const std::string& run_id);
  // Drops the cached state of a run that has ended (its final state is in the store), and, with
  // a store other processes share, of any run no drive holds (they may change it meanwhile).
  // Call with the slot locked, at the end of an operation.
  void let_go(RunSlot& slot);
  // Commits to the store, then copies to the extra sinks. Call with the slot locked. A store
  // that is not durable gets the state only when `checkpoint` is true (the runtime's copy is
  // the truth in between) and the audit entries every time.
  Status commit(RunSlot& slot, AgentState& state, std::vector<AuditEntry>& entries,
                bool checkpoint = true);
  // The policy a run's turns apply: the agent's, with the run's carve as further budgets when
  // it was delegated (delegation.hpp). Call with the slot locked.
  const PolicyEngine& policy_for(RunSlot& slot, const AgentState& state);
};

// Appends an entry to the run's chain.
void append_audit(AgentState& state, std::vector<AuditEntry>& entries, Env& env, std::string kind,
                  const nlohmann::json& payload);
// The same, with the payload already written as canonical JSON text and the time already
// read (the hot path).
void append_audit_text(AgentState& state, std::vector<AuditEntry>& entries,
                       std::int64_t time_millis, std::string kind, std::string payload);

// One turn of a loaded, locked run, taken on the calling thread (the synchronous API).
// Returns an Error only when the store failed.
Status take_turn_here(RuntimeCore& core, RunSlot& slot, AgentState& state);

// Ends the run with `status` (rules 1-4 of runtime.hpp), recording why.
void finish_run(AgentState& state, std::vector<AuditEntry>& entries, Env& env, RunStatus status,
                std::string reason);

}  // namespace rein::detail
