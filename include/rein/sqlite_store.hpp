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

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "rein/audit.hpp"
#include "rein/idempotency.hpp"
#include "rein/run_store.hpp"

struct sqlite3;

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
  Result<std::optional<AgentState>> load(std::string_view run_id) override;
  Result<std::vector<RunSummary>> list_runs() override;
  Result<std::vector<PendingApproval>> pending_approvals() override;
  Status record_outcome(std::string_view run_id, std::string_view step_id, int attempt,
                        const ToolResult& result) override;
  Result<std::optional<ToolResult>> find_outcome(std::string_view run_id, std::string_view step_id,
                                                 int attempt) override;
  Result<std::vector<AuditEntry>> read_audit(std::string_view run_id) override;

  // IdempotencyStore
  Result<std::optional<ToolResult>> find(std::string_view tool, std::string_view key) override;
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
  struct Statements;
  explicit SqliteStore(sqlite3* db);
  Status migrate();
  Status prepare();
  struct Writer;
  static constexpr std::size_t kMaxGroup = 256;  // commits written in one transaction at most
  void write_group(const std::vector<Writer*>& group);
  Status write_checkpoint(const Writer& w);
  // With writers_mutex_ held by `lock` and a group's leader at the front: writes the group,
  // tells its waiting writers, wakes the next leader; returns the asynchronous writers of the
  // group, to be completed (and freed) after the lock is let go.
  std::vector<Writer*> lead(std::unique_lock<std::mutex>& lock);
  void hand_over();  // wakes the writer (or the writer thread) now at the front
  static void complete(const std::vector<Writer*>& finished);
  void async_writer_loop();

  mutable std::mutex mutex_;
  std::uint64_t commits_ = 0;       // guarded by mutex_
  std::uint64_t transactions_ = 0;  // guarded by mutex_
  std::mutex writers_mutex_;        // guards writers_ and what follows up to db_
  std::deque<Writer*> writers_;
  std::size_t async_queued_ = 0;      // asynchronous writers in writers_
  bool stopping_ = false;             // the destructor runs: the writer thread drains and ends
  std::condition_variable async_cv_;  // the writer thread: an asynchronous writer leads
  std::thread async_writer_;
  sqlite3* db_;
  std::unique_ptr<Statements> statements_;
};

// True when the file at `path` starts with SQLite's header (used to tell audit formats apart).
bool looks_like_sqlite(const std::filesystem::path& path);

}  // namespace rein
