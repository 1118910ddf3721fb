// rein::PostgresStore: durable runs in PostgreSQL, shared by many processes and machines.
//
// Holds what SqliteStore holds (checkpoints, audit chains with their anchors, the outcome
// journal, pending approvals, the idempotency ledger) in one schema of a PostgreSQL database,
// and adds what sharing needs: leases, fencing and agent versions (RunLeases, run_worker.hpp).
// Available when rein is built with REIN_WITH_POSTGRES (config.hpp); it uses libpq.
//
// Commits. commit() writes a run's state, its new audit entries and its approvals in one
// transaction. Concurrent commits share transactions (the writer queue SqliteStore uses), each
// in a savepoint of its own; no commit returns before its transaction is committed.
//
// Fencing. Every run carries a fence, a number that every commit and every claim advances.
// This store remembers the fence of each run as it last read or wrote it, and a commit is
// accepted only if the run's fence is still that number: a commit made on a stale copy (the run
// was claimed, approved or changed by another process since) fails with ErrorCode::aborted,
// naming the run and who holds it now, and changes nothing. The outcome journal is fenced the
// same way. So a process must load() a run before it changes it (the Runtime does), and two
// processes never both advance one run from the same state.
//
// Leases. A commit of a run that is ready to step keeps (or, for a new run, takes) this
// worker's lease on it for `lease` from the database's clock; a commit that ends or suspends
// the run lets go of it. claim() takes runs whose lease expired; renew() is the heartbeat.
//
// Agent versions. Runs created through this store are stamped with options.agent_version;
// claim() takes only runs of that version, and commits to runs of another version are refused
// (invalid_argument). An empty version is a version like any other for claims, but a store
// with an empty version may change runs of any version (a console deciding approvals).
//
// The schema is versioned and migrated forward on open, under an advisory lock so that
// processes starting together do not race; a schema written by a newer rein, or one holding
// tables that are not rein's, is refused with a clear error.
//
// Failures. A lost connection (the server restarted, or a failover promoted a replica) fails
// the operations in flight with ErrorCode::unavailable; the next operation reconnects. A
// commit whose fate is unknown (the link broke during COMMIT) is reported unavailable too:
// the run stops with the store's error and, resumed from the store, continues from whichever
// state was committed (docs/scale-out.md).
//
// Thread safety: every member may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "rein/audit.hpp"
#include "rein/config.hpp"
#include "rein/idempotency.hpp"
#include "rein/llm_cache.hpp"
#include "rein/run_store.hpp"
#include "rein/run_worker.hpp"

// Declared only in builds that have it, so that a host using it without it fails to compile
// with this name rather than to link.
#if REIN_WITH_POSTGRES

namespace rein {

struct PostgresStoreOptions {
  // The schema holding rein's tables (created when missing): lower-case letters, digits, '_'.
  std::string schema = "rein";
  std::size_t connections = 4;  // opened as needed; the writer queue uses one at a time
  std::string agent_version{};  // stamped on new runs; claims take only runs of this version
  std::string worker_id{};      // names this process in leases; "": host:pid:random
  std::chrono::milliseconds lease{10000};
  // Whether a run created here is leased to this worker (it will drive it) or left for any
  // worker to claim (a process that only submits runs).
  bool lease_new_runs = true;
};

class PostgresStore final : public RunStore,
                            public IdempotencyStore,
                            public RunLeases,
                            public std::enable_shared_from_this<PostgresStore> {
 public:
  static constexpr int kSchemaVersion = 1;

  // `conninfo` is libpq's: "host=/var/run/postgresql dbname=app" or "postgresql://...".
  // Connects, checks and migrates the schema; unavailable when the server cannot be reached,
  // invalid_argument for a bad schema name or a foreign or newer schema.
  static Result<std::shared_ptr<PostgresStore>> open(const std::string& conninfo,
                                                     PostgresStoreOptions options = {});
  ~PostgresStore() override;
  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;

  // RunStore
  bool durable() const override { return true; }
  bool shared() const override { return true; }
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

  // RunLeases
  Result<ClaimedRuns> claim(std::size_t max_runs) override;
  Result<std::vector<std::string>> renew() override;
  Status release(std::string_view run_id) override;
  std::chrono::milliseconds lease_duration() const override;

  const std::string& worker_id() const noexcept;
  const std::string& agent_version() const noexcept;

  // Commits written so far, and the transactions they took (fewer under concurrency).
  struct WriteStats {
    std::uint64_t commits = 0;
    std::uint64_t transactions = 0;
  };
  WriteStats write_stats() const;

  // Each run's chain end as its checkpoint records it, for verify_audit.
  Result<std::map<std::string, AuditAnchor>> audit_anchors();

  // A response cache for LlmGateway in this store's schema, shared by every process that uses
  // the schema (so a model answer paid for once serves all workers). Best effort, as every
  // LlmCache: a failed read is a miss, a failed write is logged. It keeps the store alive.
  std::shared_ptr<LlmCache> llm_cache();

 private:
  struct Impl;
  explicit PostgresStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rein

#endif  // REIN_WITH_POSTGRES
