// rein::SqliteStore: durable runs in one SQLite file.
//
// Holds checkpoints (each run's latest AgentState), the audit chains, the outcome journal,
// pending approvals and the idempotency ledger. commit() writes a run's state, its new audit
// entries and its approvals in one transaction; with WAL and synchronous=NORMAL that is cheap
// and survives a process crash (a power loss may lose the last commits, never corrupt them).
// Concurrent commits share transactions: they queue, and the writer at the front writes all
// that are waiting in one (each in a savepoint of its own, so one that fails leaves the others
// committed), then tells each how its commit went. No commit returns before its transaction is
// committed, so many runs stepping at once share the cost of each sync to disk.
// commit_async() queues the same way without blocking: a writer thread of the store's own
// (started by the first such commit) leads the groups that begin with one, and tells each
// through its completion (on that thread: a completion must not block, nor call commit()).
// Runs driven by Runtime::run_async park on it instead of holding a thread of the blocking
// pool. The destructor writes what is still queued before it returns.
//
// The schema is versioned (PRAGMA user_version) and migrated forward on open; a database
// written by a newer rein, or a file that is not a rein database, is refused with a clear
// error. Many runs, threads and processes may share one file: one connection per store object
// serialises this process's writes, and busy_timeout makes other processes wait their turn.
//
// It is also an IdempotencyStore: pass it as ToolRegistryOptions::idempotency_store so the
// ledger of side effects lives in the same file as the checkpoints.
//
// Thread safety: every member may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "rein/audit.hpp"
#include "rein/idempotency.hpp"
#include "rein/run_store.hpp"

namespace rein {

struct SqliteStoreOptions {
  std::chrono::milliseconds busy_timeout{5000};
  bool synchronous_normal = true;  // false: synchronous=FULL (fsync on every commit)
};

class SqliteStore final : public RunStore, public IdempotencyStore {
 public:
  static constexpr int kSchemaVersion = 1;

  static Result<std::shared_ptr<SqliteStore>> open(const std::filesystem::path& path,
                                                   SqliteStoreOptions options = {});
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // RunStore
  bool durable() const override { return true; }
  Status commit(const AgentState& state, std::span<const AuditEntry> entries) override;
  bool commits_asynchronously() const override { return true; }
  void commit_async(const AgentState& state, std::span<const AuditEntry> entries,
                    Completion<Status> done) override;
  // Refused: a durable store takes audit entries only with their checkpoint.
  Status append_audit(std::vector<AuditEntry> entries) override;
  Result<AgentState> load(std::string_view run_id) override;
  Result<std::vector<RunSummary>> list_runs() override;
  Result<std::vector<PendingApproval>> pending_approvals() override;
  Status record_outcome(std::string_view run_id, std::string_view step_id, int attempt,
                        const ToolResult& result) override;
  Result<ToolResult> find_outcome(std::string_view run_id, std::string_view step_id,
                                  int attempt) override;
  Result<std::vector<AuditEntry>> read_audit(std::string_view run_id) override;

  // IdempotencyStore
  Result<ToolResult> find(std::string_view tool, std::string_view key) override;
  Status record(std::string_view tool, std::string_view key, const ToolResult& result) override;

  // Commits written so far, and the transactions they took (fewer under concurrency).
  struct WriteStats {
    std::uint64_t commits = 0;
    std::uint64_t transactions = 0;
  };
  WriteStats write_stats() const;

  // Each run's chain end as its checkpoint records it, for verify_audit.
  Result<std::map<std::string, AuditAnchor>> audit_anchors();

 private:
  struct Impl;
  explicit SqliteStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rein
