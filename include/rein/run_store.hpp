// rein::RunStore: where runs are kept between steps — checkpoints, audit, outcomes, approvals.
//
// The runtime commits a run's state and the audit entries of the step in one call to commit();
// a durable store makes that one transaction, so state and audit never disagree. Tool-call
// outcomes of side-effecting steps are journaled as soon as they are known (record_outcome),
// so that a resumed run does not repeat them. MemoryRunStore keeps everything in memory (the
// default); SqliteStore (sqlite_store.hpp) keeps it in a file.
//
// Thread safety: implementations must allow concurrent calls for different runs.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rein/agent_state.hpp"
#include "rein/audit.hpp"
#include "rein/error.hpp"
#include "rein/task.hpp"
#include "rein/tool.hpp"

namespace rein {

struct PendingApproval {
  std::string run_id{};
  std::string step_id{};
  std::string tool{};
  nlohmann::json args{};
  Approval approval{};
  // For a delegated run (delegation.hpp): the runs above it, root first. Empty otherwise.
  std::vector<std::string> chain{};
};

struct RunSummary {
  std::string run_id{};
  RunStatus status = RunStatus::running;
  std::int64_t updated_millis = 0;
};

class RunStore {
 public:
  virtual ~RunStore() = default;
  // True when committed runs survive the process; the runtime journals intents only then.
  virtual bool durable() const = 0;
  // True when other processes may change the runs (PostgresStore): the runtime then keeps a
  // run in memory only while it drives it, and reads the store at every other operation.
  virtual bool shared() const { return false; }
  // Saves `state` and appends `entries` (continuing the run's chain) atomically.
  virtual Status commit(const AgentState& state, std::span<const AuditEntry> entries) = 0;
  // The same, finishing later: `done` receives what commit() would return, once, from any
  // thread, when the commit is as durable as commit()'s. `state` and `entries` stay valid and
  // unchanged until then. A store whose commits_asynchronously() is true does this without
  // blocking the caller, and the runtime calls it where runs are driven, parking the run; the
  // default calls commit() (the runtime then keeps calling commit() on its blocking pool).
  virtual bool commits_asynchronously() const { return false; }
  virtual void commit_async(const AgentState& state, std::span<const AuditEntry> entries,
                            Completion<Status> done);
  // Appends entries without a checkpoint. The runtime uses it only for stores that are not
  // durable, between the commits it makes when a run starts, changes status, or is changed by
  // the host; the runtime's own copy of a running run is then newer than the store's.
  virtual Status append_audit(std::vector<AuditEntry> entries) = 0;
  // The run's last checkpoint. ErrorCode::not_found when the store has none for `run_id` (an
  // unknown run, or one with only audit entries or outcomes); any other error means the store
  // failed (data_loss: the checkpoint is corrupt). is_not_found() tells the two apart.
  virtual Result<AgentState> load(std::string_view run_id) = 0;
  virtual Result<std::vector<RunSummary>> list_runs() = 0;
  // Approvals still pending, across runs.
  virtual Result<std::vector<PendingApproval>> pending_approvals() = 0;
  // The outcome journal: one result per (run, step, attempt).
  virtual Status record_outcome(std::string_view run_id, std::string_view step_id, int attempt,
                                const ToolResult& result) = 0;
  // The journaled result; ErrorCode::not_found when none was recorded for (run, step, attempt),
  // any other error when the store failed.
  virtual Result<ToolResult> find_outcome(std::string_view run_id, std::string_view step_id,
                                          int attempt) = 0;
  // A run's audit entries in order (all runs when `run_id` is empty).
  virtual Result<std::vector<AuditEntry>> read_audit(std::string_view run_id) = 0;
};

struct MemoryRunStoreOptions {
  // Ended runs (terminal status) kept with their audit and outcomes; when one more run ends, the
  // run that ended longest ago is forgotten. Running and suspended runs are always kept. The
  // default bounds a long-lived process; SIZE_MAX keeps everything.
  std::size_t max_ended_runs = 1000;
};

// Everything in memory: the default store, for tests and hosts that need no durability.
// Thousands of runs may commit at once: a commit copies and frees outside the store's lock, and
// keeps a run's audit as the batches it arrived in (no reallocation of the whole trail).
class MemoryRunStore final : public RunStore {
 public:
  explicit MemoryRunStore(MemoryRunStoreOptions options = {});
  ~MemoryRunStore() override;
  MemoryRunStore(const MemoryRunStore&) = delete;
  MemoryRunStore& operator=(const MemoryRunStore&) = delete;

  bool durable() const override { return false; }
  Status commit(const AgentState& state, std::span<const AuditEntry> entries) override;
  Status append_audit(std::vector<AuditEntry> entries) override;
  Result<AgentState> load(std::string_view run_id) override;
  Result<std::vector<RunSummary>> list_runs() override;
  Result<std::vector<PendingApproval>> pending_approvals() override;
  Status record_outcome(std::string_view run_id, std::string_view step_id, int attempt,
                        const ToolResult& result) override;
  Result<ToolResult> find_outcome(std::string_view run_id, std::string_view step_id,
                                  int attempt) override;
  Result<std::vector<AuditEntry>> read_audit(std::string_view run_id) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Approvals of one state that are still pending (shared by stores).
std::vector<PendingApproval> pending_approvals_of(const AgentState& state);

}  // namespace rein
