#include "rein/sqlite_store.hpp"

#include <algorithm>
#include <array>
#include <mutex>

#include "core/json_text.hpp"
#include "core/not_found.hpp"
#include "sqlite/database.hpp"
#include "store/commit_queue.hpp"
#include "store/stored_values.hpp"

namespace rein {

using sqlite::ResetOnExit;
using sqlite::Statement;

namespace {

// Migration N takes the schema from version N to N+1.
constexpr std::array<const char*, SqliteStore::kSchemaVersion> kMigrations = {
    R"sql(
    CREATE TABLE runs(
      run_id TEXT PRIMARY KEY,
      status TEXT NOT NULL,
      state TEXT NOT NULL,
      audit_count INTEGER NOT NULL,
      audit_head TEXT NOT NULL,
      updated_millis INTEGER NOT NULL);
    CREATE TABLE audit(
      run_id TEXT NOT NULL,
      seq INTEGER NOT NULL,
      step INTEGER NOT NULL,
      kind TEXT NOT NULL,
      payload TEXT NOT NULL,
      time_millis INTEGER NOT NULL,
      prev_hash TEXT NOT NULL,
      hash TEXT NOT NULL,
      PRIMARY KEY(run_id, seq)) WITHOUT ROWID;
    CREATE TABLE outcomes(
      run_id TEXT NOT NULL,
      step_id TEXT NOT NULL,
      attempt INTEGER NOT NULL,
      result TEXT NOT NULL,
      PRIMARY KEY(run_id, step_id, attempt)) WITHOUT ROWID;
    CREATE TABLE idempotency(
      tool TEXT NOT NULL,
      key TEXT NOT NULL,
      result TEXT NOT NULL,
      PRIMARY KEY(tool, key)) WITHOUT ROWID;
    CREATE TABLE approvals(
      run_id TEXT NOT NULL,
      step_id TEXT NOT NULL,
      tool TEXT NOT NULL,
      args TEXT NOT NULL,
      approval TEXT NOT NULL,
      PRIMARY KEY(run_id, step_id)) WITHOUT ROWID;
    )sql",
};

}  // namespace

struct SqliteStore::Impl {
  explicit Impl(sqlite::Database database) : db(std::move(database)) {}
  Status migrate();
  Status prepare();
  void write_group(const std::vector<detail::QueuedCommit*>& group);
  Status write_checkpoint(const detail::QueuedCommit& w);

  sqlite::Database db;  // declared first: closed after the statements are finalized
  Statement upsert_run, insert_audit, delete_approvals, insert_approval, load_run, list_runs,
      pending_approvals, insert_outcome, find_outcome, audit_all, audit_run, find_idem, insert_idem,
      anchors;
  std::mutex mutex;  // guards db and the statements
  // Declared last: destroyed first, writing what is still queued while the rest is alive.
  detail::CommitQueue queue{[this](const auto& group) { write_group(group); }};
};

SqliteStore::SqliteStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteStore::~SqliteStore() = default;

Result<std::shared_ptr<SqliteStore>> SqliteStore::open(const std::filesystem::path& path,
                                                       SqliteStoreOptions options) {
  const std::string where = "store '" + path.string() + "'";
  auto db = sqlite::Database::open(path,
                                   {.create = true,
                                    .busy_timeout = options.busy_timeout,
                                    .wal = true,
                                    .synchronous = options.synchronous_normal ? "NORMAL" : "FULL"},
                                   where);
  if (!db) return std::move(db).error();
  auto impl = std::make_unique<Impl>(std::move(*db));
  if (auto s = impl->migrate(); !s)
    return Error(s.error().code(), where + ": " + s.error().message());
  if (auto s = impl->prepare(); !s)
    return Error(s.error().code(), where + ": " + s.error().message());
  return std::shared_ptr<SqliteStore>(new SqliteStore(std::move(impl)));
}

Status SqliteStore::Impl::migrate() {
  sqlite::Transaction tx(db);
  if (auto s = tx.begin(); !s) return s;
  Statement version;
  if (auto s = version.prepare(db, "PRAGMA user_version"); !s) return s;
  auto row = version.step();
  if (!row) return std::move(row).error();
  const auto current = version.integer(0);
  version.reset();
  if (current > kSchemaVersion) {
    return Error(ErrorCode::invalid_argument, "database schema version " + std::to_string(current) +
                                                  " is newer than this rein supports (" +
                                                  std::to_string(kSchemaVersion) + ")");
  }
  if (current == 0) {
    // A fresh file, or somebody else's database: refuse to add tables to a foreign one.
    Statement tables;
    if (auto s = tables.prepare(db, "SELECT count(*) FROM sqlite_master"); !s) return s;
    auto r = tables.step();
    if (!r) return std::move(r).error();
    if (tables.integer(0) != 0) {
      return Error(ErrorCode::invalid_argument,
                   "the database has tables but no rein schema version");
    }
  }
  for (auto v = current; v < kSchemaVersion; ++v) {
    if (auto s = db.exec(kMigrations[static_cast<std::size_t>(v)],
                         "migrating to schema " + std::to_string(v + 1));
        !s) {
      return s;
    }
  }
  if (current != kSchemaVersion) {
    const std::string set = "PRAGMA user_version=" + std::to_string(kSchemaVersion);
    if (auto s = db.exec(set, "recording the schema version"); !s) return s;
  }
  return tx.commit();
}

Status SqliteStore::Impl::prepare() {
  auto& st = *this;
  const std::pair<Statement*, const char*> all[] = {
      {&st.upsert_run,
       "INSERT INTO runs(run_id, status, state, audit_count, audit_head, updated_millis) "
       "VALUES(?1,?2,?3,?4,?5,?6) "
       "ON CONFLICT(run_id) DO UPDATE SET status=?2, state=?3, audit_count=?4, audit_head=?5, "
       "updated_millis=?6"},
      {&st.insert_audit,
       "INSERT INTO audit(run_id, seq, step, kind, payload, time_millis, prev_hash, hash) "
       "VALUES(?1,?2,?3,?4,?5,?6,?7,?8)"},
      {&st.delete_approvals, "DELETE FROM approvals WHERE run_id=?1"},
      {&st.insert_approval,
       "INSERT INTO approvals(run_id, step_id, tool, args, approval) VALUES(?1,?2,?3,?4,?5)"},
      {&st.load_run, "SELECT state FROM runs WHERE run_id=?1"},
      {&st.list_runs, "SELECT run_id, status, updated_millis FROM runs ORDER BY run_id"},
      {&st.pending_approvals,
       "SELECT run_id, step_id, tool, args, approval FROM approvals ORDER BY run_id, step_id"},
      {&st.insert_outcome,
       "INSERT INTO outcomes(run_id, step_id, attempt, result) VALUES(?1,?2,?3,?4) "
       "ON CONFLICT(run_id, step_id, attempt) DO UPDATE SET result=?4"},
      {&st.find_outcome,
       "SELECT result FROM outcomes WHERE run_id=?1 AND step_id=?2 AND attempt=?3"},
      {&st.audit_all,
       "SELECT run_id, seq, step, kind, payload, time_millis, prev_hash, hash FROM audit ORDER BY "
       "run_id, seq"},
      {&st.audit_run,
       "SELECT run_id, seq, step, kind, payload, time_millis, prev_hash, hash FROM audit WHERE "
       "run_id=?1 ORDER BY seq"},
      {&st.find_idem, "SELECT result FROM idempotency WHERE tool=?1 AND key=?2"},
      {&st.insert_idem,
       "INSERT INTO idempotency(tool, key, result) VALUES(?1,?2,?3) ON CONFLICT DO NOTHING"},
      {&st.anchors, "SELECT run_id, audit_count, audit_head FROM runs"},
  };
  for (const auto& [statement, sql] : all) {
    if (auto s = statement->prepare(db, sql); !s) return s;
  }
  return {};
}

Status SqliteStore::commit(const AgentState& state, std::span<const AuditEntry> entries) {
  return impl_->queue.commit(state, entries);
}

void SqliteStore::commit_async(const AgentState& state, std::span<const AuditEntry> entries,
                               Completion<Status> done) {
  impl_->queue.commit_async(state, entries, std::move(done));
}

void SqliteStore::Impl::write_group(const std::vector<detail::QueuedCommit*>& group) {
  std::lock_guard lock(mutex);
  auto fail_all = [&](const Status& s) {
    for (auto* w : group)
      w->result = s;
  };
  // Anything that fails before COMMIT rolls the whole group back.
  sqlite::Transaction tx(db);
  if (auto s = tx.begin(); !s) return fail_all(s);
  if (group.size() == 1) {
    if (auto s = write_checkpoint(*group.front()); !s) return fail_all(s);
  } else {
    // Each writer's changes are all or nothing, whatever the others' fate: one that fails is
    // rolled back to its savepoint and told why; the rest still commit.
    for (auto* w : group) {
      sqlite::Savepoint savepoint(db, "writer");
      if (auto s = savepoint.begin(); !s) return fail_all(s);
      w->result = write_checkpoint(*w);
      if (auto s = w->result.ok() ? savepoint.release() : savepoint.rollback(); !s)
        return fail_all(s);
    }
  }
  if (auto s = tx.commit(); !s) return fail_all(s);
}

SqliteStore::WriteStats SqliteStore::write_stats() const {
  const auto stats = impl_->queue.stats();
  return {stats.commits, stats.groups};
}

Status SqliteStore::Impl::write_checkpoint(const detail::QueuedCommit& w) {
  auto& st = *this;
  const AgentState& state = w.state;
  if (auto s = st.upsert_run.bind(1, state.run_id)
                   .bind(2, to_string(state.status))
                   .bind(3, w.state_text)
                   .bind(4, state.audit_count)
                   .bind(5, state.audit_head)
                   .bind(6, state.updated_millis)
                   .run();
      !s) {
    return s;
  }
  for (const auto& e : w.entries) {
    if (auto s = st.insert_audit.bind(1, e.run_id)
                     .bind(2, e.seq)
                     .bind(3, e.step)
                     .bind(4, e.kind)
                     .bind(5, e.payload)
                     .bind(6, e.time_millis)
                     .bind(7, e.prev_hash)
                     .bind(8, e.hash)
                     .run();
        !s) {
      return s;
    }
  }
  if (!detail::has_approvals(state)) return {};
  if (auto s = st.delete_approvals.bind(1, state.run_id).run(); !s) return s;
  for (const auto& p : pending_approvals_of(state)) {
    if (auto s = st.insert_approval.bind(1, p.run_id)
                     .bind(2, p.step_id)
                     .bind(3, p.tool)
                     .bind(4, detail::json_text(p.args))
                     .bind(5, detail::approval_text(p))
                     .run();
        !s) {
      return s;
    }
  }
  return {};
}

Status SqliteStore::append_audit(std::vector<AuditEntry>) {
  return Error(ErrorCode::invalid_argument,
               "a durable store takes audit entries only with their checkpoint (use commit)");
}

Result<AgentState> SqliteStore::load(std::string_view run_id) {
  std::string text;
  {
    std::lock_guard lock(impl_->mutex);
    auto& q = impl_->load_run;
    ResetOnExit reset(q);
    q.bind(1, run_id);
    auto row = q.step();
    if (!row) return std::move(row).error();
    if (!*row) return detail::no_run(run_id);
    text = q.text(0);
  }
  return detail::parse_checkpoint(text, run_id);
}

Result<std::vector<RunSummary>> SqliteStore::list_runs() {
  std::lock_guard lock(impl_->mutex);
  auto& q = impl_->list_runs;
  ResetOnExit reset(q);
  std::vector<RunSummary> out;
  for (;;) {
    auto row = q.step();
    if (!row) return std::move(row).error();
    if (!*row) break;
    auto status = run_status_from_string(q.text(1));
    out.push_back({q.text(0), status.value_or(RunStatus::failed), q.integer(2)});
  }
  return out;
}

Result<std::vector<PendingApproval>> SqliteStore::pending_approvals() {
  std::lock_guard lock(impl_->mutex);
  auto& q = impl_->pending_approvals;
  ResetOnExit reset(q);
  std::vector<PendingApproval> out;
  for (;;) {
    auto row = q.step();
    if (!row) return std::move(row).error();
    if (!*row) break;
    auto p = detail::parse_pending_approval(q.text(0), q.text(1), q.text(2), q.text(3), q.text(4));
    if (!p) return std::move(p).error();
    out.push_back(std::move(*p));
  }
  return out;
}

Status SqliteStore::record_outcome(std::string_view run_id, std::string_view step_id, int attempt,
                                   const ToolResult& result) {
  const std::string text = detail::json_text(result.to_json());
  std::lock_guard lock(impl_->mutex);
  return impl_->insert_outcome.bind(1, run_id)
      .bind(2, step_id)
      .bind(3, attempt)
      .bind(4, text)
      .run();
}

Result<ToolResult> SqliteStore::find_outcome(std::string_view run_id, std::string_view step_id,
                                             int attempt) {
  std::string text;
  {
    std::lock_guard lock(impl_->mutex);
    auto& q = impl_->find_outcome;
    ResetOnExit reset(q);
    q.bind(1, run_id).bind(2, step_id).bind(3, attempt);
    auto row = q.step();
    if (!row) return std::move(row).error();
    if (!*row) return detail::no_outcome(run_id, step_id, attempt);
    text = q.text(0);
  }
  return detail::parse_stored_result(text,
                                     "journaled outcome of step '" + std::string(step_id) + "'");
}

Result<std::vector<AuditEntry>> SqliteStore::read_audit(std::string_view run_id) {
  std::lock_guard lock(impl_->mutex);
  auto& q = run_id.empty() ? impl_->audit_all : impl_->audit_run;
  ResetOnExit reset(q);
  if (!run_id.empty()) q.bind(1, run_id);
  std::vector<AuditEntry> out;
  for (;;) {
    auto row = q.step();
    if (!row) return std::move(row).error();
    if (!*row) break;
    AuditEntry e;
    e.run_id = q.text(0);
    e.seq = q.integer(1);
    e.step = q.integer(2);
    e.kind = q.text(3);
    e.payload = q.text(4);  // hashed exactly as stored
    e.time_millis = q.integer(5);
    e.prev_hash = q.text(6);
    e.hash = q.text(7);
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::map<std::string, AuditAnchor>> SqliteStore::audit_anchors() {
  std::lock_guard lock(impl_->mutex);
  auto& q = impl_->anchors;
  ResetOnExit reset(q);
  std::map<std::string, AuditAnchor> out;
  for (;;) {
    auto row = q.step();
    if (!row) return std::move(row).error();
    if (!*row) break;
    out[q.text(0)] = AuditAnchor{q.integer(1), q.text(2)};
  }
  return out;
}

Result<ToolResult> SqliteStore::find(std::string_view tool, std::string_view key) {
  std::string text;
  {
    std::lock_guard lock(impl_->mutex);
    auto& q = impl_->find_idem;
    ResetOnExit reset(q);
    q.bind(1, tool).bind(2, key);
    auto row = q.step();
    if (!row) return std::move(row).error();
    if (!*row) return detail::no_idempotency_record(tool, key);
    text = q.text(0);
  }
  return detail::parse_stored_result(text, "idempotency record of '" + std::string(tool) + "'");
}

Status SqliteStore::record(std::string_view tool, std::string_view key, const ToolResult& result) {
  const std::string text = detail::json_text(result.to_json());
  std::lock_guard lock(impl_->mutex);
  return impl_->insert_idem.bind(1, tool).bind(2, key).bind(3, text).run();
}

}  // namespace rein
