#include "rein/sqlite_store.hpp"

#include <algorithm>
#include <array>
#include <condition_variable>
#include <fstream>
#include <system_error>
#include <thread>

#include "core/json_text.hpp"
#include "statement.hpp"

namespace rein {

using nlohmann::json;
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

Status exec(sqlite3* db, const char* sql, const std::string& what) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message != nullptr ? message : "unknown error";
    sqlite3_free(message);
    return Error(sqlite3_errcode(db) == SQLITE_NOTADB ? ErrorCode::data_loss : ErrorCode::internal,
                 what + ": " + text);
  }
  return {};
}

// Rolls back unless committed.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) {}
  Status begin() { return exec(db_, "BEGIN IMMEDIATE", "starting a transaction"); }
  Status commit() {
    auto s = exec(db_, "COMMIT", "committing");
    if (s) done_ = true;
    return s;
  }
  ~Transaction() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

 private:
  sqlite3* db_;
  bool done_ = false;
};

Result<ToolResult> parse_result(const std::string& text, const std::string& what) {
  json parsed = json::parse(text, nullptr, false);
  if (parsed.is_discarded()) return Error(ErrorCode::data_loss, what + " is not valid JSON");
  auto r = ToolResult::from_json(parsed);
  if (!r) return Error(ErrorCode::data_loss, what + ": " + r.error().message());
  return r;
}

}  // namespace

struct SqliteStore::Statements {
  Statement begin, commit, rollback;  // prepared once: re-parsing them was a tenth of a commit
  Statement savepoint, release_savepoint, rollback_to_savepoint;  // one writer of a group
  Statement upsert_run, insert_audit, delete_approvals, insert_approval, load_run, list_runs,
      pending_approvals, insert_outcome, find_outcome, audit_all, audit_run, find_idem, insert_idem,
      anchors;
};

bool looks_like_sqlite(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  char header[16] = {};
  in.read(header, sizeof header);
  return in.gcount() == 16 &&
         std::string_view(header, 16) == std::string_view("SQLite format 3\0", 16);
}

SqliteStore::SqliteStore(sqlite3* db) : db_(db), statements_(std::make_unique<Statements>()) {}

SqliteStore::~SqliteStore() {
  {
    std::lock_guard lock(writers_mutex_);
    stopping_ = true;
  }
  async_cv_.notify_one();
  if (async_writer_.joinable()) async_writer_.join();  // after it wrote what was queued
  statements_.reset();                                 // finalize statements before closing
  sqlite3_close_v2(db_);
}

Result<std::shared_ptr<SqliteStore>> SqliteStore::open(const std::filesystem::path& path,
                                                       SqliteStoreOptions options) {
  sqlite3* db = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close_v2(db);
    return Error(ErrorCode::unavailable, "cannot open store '" + path.string() + "': " + message);
  }
  std::shared_ptr<SqliteStore> store(new SqliteStore(db));
  sqlite3_busy_timeout(db, static_cast<int>(options.busy_timeout.count()));
  sqlite3_extended_result_codes(db, 1);
  const std::string where = "store '" + path.string() + "'";
  if (auto s = exec(db, "PRAGMA journal_mode=WAL", where + ": not a usable SQLite database"); !s) {
    return std::move(s).error();
  }
  if (auto s = exec(
          db, options.synchronous_normal ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL",
          where);
      !s) {
    return std::move(s).error();
  }
  if (auto s = store->migrate(); !s)
    return Error(s.error().code(), where + ": " + s.error().message());
  if (auto s = store->prepare(); !s)
    return Error(s.error().code(), where + ": " + s.error().message());
  return store;
}

Status SqliteStore::migrate() {
  Transaction tx(db_);
  if (auto s = tx.begin(); !s) return s;
  Statement version;
  if (auto s = version.prepare(db_, "PRAGMA user_version"); !s) return s;
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
    if (auto s = tables.prepare(db_, "SELECT count(*) FROM sqlite_master"); !s) return s;
    auto r = tables.step();
    if (!r) return std::move(r).error();
    if (tables.integer(0) != 0) {
      return Error(ErrorCode::invalid_argument,
                   "the database has tables but no rein schema version");
    }
  }
  for (auto v = current; v < kSchemaVersion; ++v) {
    if (auto s = exec(db_, kMigrations[static_cast<std::size_t>(v)],
                      "migrating to schema " + std::to_string(v + 1));
        !s) {
      return s;
    }
  }
  if (current != kSchemaVersion) {
    const std::string set = "PRAGMA user_version=" + std::to_string(kSchemaVersion);
    if (auto s = exec(db_, set.c_str(), "recording the schema version"); !s) return s;
  }
  return tx.commit();
}

Status SqliteStore::prepare() {
  auto& st = *statements_;
  const std::pair<Statement*, const char*> all[] = {
      {&st.begin, "BEGIN IMMEDIATE"},
      {&st.commit, "COMMIT"},
      {&st.rollback, "ROLLBACK"},
      {&st.savepoint, "SAVEPOINT writer"},
      {&st.release_savepoint, "RELEASE writer"},
      {&st.rollback_to_savepoint, "ROLLBACK TO writer"},
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
    if (auto s = statement->prepare(db_, sql); !s) return s;
  }
  return {};
}

// One commit waiting to be written: the writer queue batches concurrent ones. A commit()
// waits on `cv`; an asynchronous one is owned by the queue and told through `on_done`.
struct SqliteStore::Writer {
  const AgentState& state;
  std::string state_text;
  std::span<const AuditEntry> entries;
  Status result;
  bool done = false;
  std::condition_variable cv;
  bool asynchronous = false;
  Completion<Status> on_done;
};

Status SqliteStore::commit(const AgentState& state, std::span<const AuditEntry> entries) {
  // Serialised before queueing: concurrent writers do that part in parallel.
  Writer w{state, state.to_json_text(), entries};
  std::unique_lock lock(writers_mutex_);
  writers_.push_back(&w);
  w.cv.wait(lock, [&] { return w.done || writers_.front() == &w; });
  if (w.done) return std::move(w.result);
  const auto finished = lead(lock);
  lock.unlock();
  complete(finished);
  return std::move(w.result);
}

void SqliteStore::commit_async(const AgentState& state, std::span<const AuditEntry> entries,
                               Completion<Status> done) {
  std::unique_ptr<Writer> w(new Writer{state, state.to_json_text(), entries});
  w->asynchronous = true;
  w->on_done = std::move(done);
  std::unique_lock lock(writers_mutex_);
  if (stopping_) {
    lock.unlock();
    w->on_done(Status(Error(ErrorCode::unavailable, "the store is closing")));
    return;
  }
  if (!async_writer_.joinable()) {
    try {
      async_writer_ = std::thread([this] { async_writer_loop(); });
    } catch (const std::system_error& e) {
      lock.unlock();
      w->on_done(Status(Error(ErrorCode::unavailable,
                              std::string("cannot start the store's writer thread: ") + e.what())));
      return;
    }
  }
  writers_.push_back(w.release());
  ++async_queued_;
  if (writers_.size() == 1) async_cv_.notify_one();  // it leads: nobody else is writing
}

std::vector<SqliteStore::Writer*> SqliteStore::lead(std::unique_lock<std::mutex>& lock) {
  // The front writer leads: it writes everyone queued now in one transaction (group commit,
  // as LevelDB's writer queue does), and the others wait for its COMMIT.
  const std::size_t n = std::min(writers_.size(), kMaxGroup);
  std::vector<Writer*> group(writers_.begin(), writers_.begin() + static_cast<std::ptrdiff_t>(n));
  lock.unlock();
  write_group(group);
  lock.lock();
  writers_.erase(writers_.begin(), writers_.begin() + static_cast<std::ptrdiff_t>(n));
  std::vector<Writer*> finished;
  for (Writer* w : group) {
    if (w->asynchronous) {
      finished.push_back(w);
      --async_queued_;
    } else {
      w->done = true;
      w->cv.notify_one();  // under the lock: it cannot return (and go) before we let go
    }
  }
  hand_over();
  return finished;
}

void SqliteStore::hand_over() {
  if (writers_.empty()) {
    if (stopping_) async_cv_.notify_one();
    return;
  }
  if (writers_.front()->asynchronous) {
    async_cv_.notify_one();
  } else {
    writers_.front()->cv.notify_one();
  }
}

void SqliteStore::complete(const std::vector<Writer*>& finished) {
  for (Writer* w : finished) {
    std::unique_ptr<Writer> owned(w);
    Completion<Status> done = std::move(owned->on_done);
    Status result = std::move(owned->result);
    owned.reset();
    done(std::move(result));
  }
}

void SqliteStore::async_writer_loop() {
  std::unique_lock lock(writers_mutex_);
  for (;;) {
    async_cv_.wait(lock, [&] {
      return (!writers_.empty() && writers_.front()->asynchronous) ||
             (stopping_ && async_queued_ == 0);
    });
    if (writers_.empty() || !writers_.front()->asynchronous) return;  // stopping, all written
    const auto finished = lead(lock);
    lock.unlock();
    complete(finished);
    lock.lock();
  }
}

void SqliteStore::write_group(const std::vector<Writer*>& group) {
  std::lock_guard lock(mutex_);
  auto& st = *statements_;
  auto fail_all = [&](const Status& s) {
    for (Writer* w : group)
      w->result = s;
  };
  if (auto s = st.begin.run(); !s) return fail_all(s);
  // Anything that fails before COMMIT rolls the whole group back.
  struct Rollback {
    Statement& rollback;
    bool armed = true;
    ~Rollback() {
      if (armed) (void)rollback.run();
    }
  } guard{st.rollback};
  if (group.size() == 1) {
    if (auto s = write_checkpoint(*group.front()); !s) return fail_all(s);
  } else {
    // Each writer's changes are all or nothing, whatever the others' fate: one that fails is
    // rolled back to its savepoint and told why; the rest still commit.
    for (Writer* w : group) {
      if (auto s = st.savepoint.run(); !s) return fail_all(s);
      w->result = write_checkpoint(*w);
      if (!w->result) {
        if (auto s = st.rollback_to_savepoint.run(); !s) return fail_all(s);
      }
      if (auto s = st.release_savepoint.run(); !s) return fail_all(s);
    }
  }
  if (auto s = st.commit.run(); !s) return fail_all(s);
  guard.armed = false;
  commits_ += static_cast<std::uint64_t>(
      std::count_if(group.begin(), group.end(), [](const Writer* w) { return w->result.ok(); }));
  ++transactions_;
}

SqliteStore::WriteStats SqliteStore::write_stats() const {
  std::lock_guard lock(mutex_);
  return {commits_, transactions_};
}

Status SqliteStore::write_checkpoint(const Writer& w) {
  auto& st = *statements_;
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
  const bool has_approvals = std::any_of(state.steps.begin(), state.steps.end(),
                                         [](const StepState& s) { return s.approval.has_value(); });
  if (!has_approvals) return {};
  if (auto s = st.delete_approvals.bind(1, state.run_id).run(); !s) return s;
  for (const auto& p : pending_approvals_of(state)) {
    json approval = {{"id", p.approval.id},
                     {"status", p.approval.status},
                     {"rule", p.approval.rule},
                     {"reason", p.approval.reason},
                     {"requested_millis", p.approval.requested_millis}};
    if (auto s = st.insert_approval.bind(1, p.run_id)
                     .bind(2, p.step_id)
                     .bind(3, p.tool)
                     .bind(4, detail::json_text(p.args))
                     .bind(5, detail::json_text(approval))
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

Result<std::optional<AgentState>> SqliteStore::load(std::string_view run_id) {
  std::string text;
  {
    std::lock_guard lock(mutex_);
    auto& q = statements_->load_run;
    ResetOnExit reset(q);
    q.bind(1, run_id);
    auto row = q.step();
    if (!row) return std::move(row).error();
    if (!*row) return std::optional<AgentState>{};
    text = q.text(0);
  }
  json parsed = json::parse(text, nullptr, false);
  if (parsed.is_discarded()) {
    return Error(ErrorCode::data_loss,
                 "checkpoint of run '" + std::string(run_id) + "' is not valid JSON");
  }
  auto state = AgentState::from_json(parsed);
  if (!state) {
    return Error(ErrorCode::data_loss, "checkpoint of run '" + std::string(run_id) +
                                           "' is corrupt: " + state.error().message());
  }
  return std::optional<AgentState>{std::move(*state)};
}

Result<std::vector<RunSummary>> SqliteStore::list_runs() {
  std::lock_guard lock(mutex_);
  auto& q = statements_->list_runs;
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
  std::lock_guard lock(mutex_);
  auto& q = statements_->pending_approvals;
  ResetOnExit reset(q);
  std::vector<PendingApproval> out;
  for (;;) {
    auto row = q.step();
    if (!row) return std::move(row).error();
    if (!*row) break;
    PendingApproval p;
    p.run_id = q.text(0);
    p.step_id = q.text(1);
    p.tool = q.text(2);
    p.args = json::parse(q.text(3), nullptr, false);
    json a = json::parse(q.text(4), nullptr, false);
    if (p.args.is_discarded() || !a.is_object()) {
      return Error(ErrorCode::data_loss,
                   "approval of run '" + p.run_id + "' step '" + p.step_id + "' is corrupt");
    }
    p.approval.id = a.value("id", "");
    p.approval.status = a.value("status", "pending");
    p.approval.rule = a.value("rule", "");
    p.approval.reason = a.value("reason", "");
    p.approval.requested_millis = a.value("requested_millis", std::int64_t{0});
    out.push_back(std::move(p));
  }
  return out;
}

Status SqliteStore::record_outcome(std::string_view run_id, std::string_view step_id, int attempt,
                                   const ToolResult& result) {
  const std::string text = detail::json_text(result.to_json());
  std::lock_guard lock(mutex_);
  return statements_->insert_outcome.bind(1, run_id)
      .bind(2, step_id)
      .bind(3, attempt)
      .bind(4, text)
      .run();
}

Result<std::optional<ToolResult>> SqliteStore::find_outcome(std::string_view run_id,
                                                            std::string_view step_id, int attempt) {
  std::string text;
  {
    std::lock_guard lock(mutex_);
    auto& q = statements_->find_outcome;
    ResetOnExit reset(q);
    q.bind(1, run_id).bind(2, step_id).bind(3, attempt);
    auto row = q.step();
    if (!row) return std::move(row).error();
    if (!*row) return std::optional<ToolResult>{};
    text = q.text(0);
  }
  auto r = parse_result(text, "journaled outcome of step '" + std::string(step_id) + "'");
  if (!r) return std::move(r).error();
  return std::optional<ToolResult>{std::move(*r)};
}

Result<std::vector<AuditEntry>> SqliteStore::read_audit(std::string_view run_id) {
  std::lock_guard lock(mutex_);
  auto& q = run_id.empty() ? statements_->audit_all : statements_->audit_run;
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
  std::lock_guard lock(mutex_);
  auto& q = statements_->anchors;
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

Result<std::optional<ToolResult>> SqliteStore::find(std::string_view tool, std::string_view key) {
  std::string text;
  {
    std::lock_guard lock(mutex_);
    auto& q = statements_->find_idem;
    ResetOnExit reset(q);
    q.bind(1, tool).bind(2, key);
    auto row = q.step();
    if (!row) return std::move(row).error();
    if (!*row) return std::optional<ToolResult>{};
    text = q.text(0);
  }
  auto r = parse_result(text, "idempotency record of '" + std::string(tool) + "'");
  if (!r) return std::move(r).error();
  return std::optional<ToolResult>{std::move(*r)};
}

Status SqliteStore::record(std::string_view tool, std::string_view key, const ToolResult& result) {
  const std::string text = detail::json_text(result.to_json());
  std::lock_guard lock(mutex_);
  return statements_->insert_idem.bind(1, tool).bind(2, key).bind(3, text).run();
}

}  // namespace rein
