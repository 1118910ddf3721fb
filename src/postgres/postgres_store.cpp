#include "rein/postgres_store.hpp"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <mutex>
#include <random>
#include <unordered_map>

#include "core/json_text.hpp"
#include "core/log.hpp"
#include "core/not_found.hpp"
#include "postgres/connection.hpp"
#include "store/commit_queue.hpp"
#include "store/stored_values.hpp"

namespace rein {

namespace {

// Migration N takes the schema from version N to N+1; "@" stands for the schema's name.
constexpr std::array<const char*, PostgresStore::kSchemaVersion> kMigrations = {
    R"sql(
    CREATE TABLE @.runs(
      run_id text PRIMARY KEY,
      status text NOT NULL,
      state text NOT NULL,
      audit_count bigint NOT NULL,
      audit_head text NOT NULL,
      updated_millis bigint NOT NULL,
      agent_version text NOT NULL,
      fence bigint NOT NULL,
      owner text,
      lease_expires timestamptz,
      claimable boolean NOT NULL);
    CREATE INDEX runs_ready ON @.runs(agent_version, updated_millis) WHERE claimable;
    CREATE INDEX runs_owner ON @.runs(owner) WHERE owner IS NOT NULL;
    CREATE TABLE @.audit(
      run_id text NOT NULL,
      seq bigint NOT NULL,
      step bigint NOT NULL,
      kind text NOT NULL,
      payload text NOT NULL,
      time_millis bigint NOT NULL,
      prev_hash text NOT NULL,
      hash text NOT NULL,
      PRIMARY KEY(run_id, seq));
    CREATE TABLE @.outcomes(
      run_id text NOT NULL,
      step_id text NOT NULL,
      attempt integer NOT NULL,
      result text NOT NULL,
      PRIMARY KEY(run_id, step_id, attempt));
    CREATE TABLE @.idempotency(
      tool text NOT NULL,
      key text NOT NULL,
      result text NOT NULL,
      PRIMARY KEY(tool, key));
    CREATE TABLE @.approvals(
      run_id text NOT NULL,
      step_id text NOT NULL,
      tool text NOT NULL,
      args text NOT NULL,
      approval text NOT NULL,
      PRIMARY KEY(run_id, step_id));
    CREATE TABLE @.llm_cache(
      key text PRIMARY KEY,
      response text NOT NULL,
      expires_at bigint NOT NULL);
    )sql",
};

std::string with_schema(std::string sql, const std::string& schema) {
  for (auto at = sql.find('@'); at != std::string::npos; at = sql.find('@', at + schema.size()))
    sql.replace(at, 1, schema);
  return sql;
}

std::string default_worker_id() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "host");
  std::random_device random;
  char id[320];
  std::snprintf(id, sizeof id, "%s:%ld:%08x", host, static_cast<long>(getpid()), random());
  return id;
}

// Ready to step: running, or suspended for a person who has since decided or answered.
bool ready_to_step(const AgentState& s) {
  if (s.status == RunStatus::running) return true;
  if (s.status == RunStatus::awaiting_approval) return pending_approvals_of(s).empty();
  if (s.status == RunStatus::awaiting_input) return s.question.empty();
  return false;
}

}  // namespace

struct PostgresStore::Impl {
  Impl(const std::string& conninfo, PostgresStoreOptions o, std::string schema_sql)
      : options(std::move(o)),
        schema(std::move(schema_sql)),
        pool(conninfo, options.connections, "PostgreSQL store (schema " + options.schema + ")") {}

  Status migrate();
  std::string sql(const char* text) const { return with_schema(text, schema); }
  void write_group(const std::vector<detail::QueuedCommit*>& group);
  // Writes one commit; returns the run's new fence.
  Result<std::int64_t> write_checkpoint(pg::Connection& c, const detail::QueuedCommit& w);
  Error refused(pg::Connection& c, const std::string& run_id, std::optional<std::int64_t> seen);
  std::optional<std::int64_t> fence_of(const std::string& run_id);
  void remember(const std::string& run_id, std::int64_t fence);
  void forget(const std::string& run_id);

  PostgresStoreOptions options;
  std::string schema;  // quoted, for SQL text
  pg::Pool pool;
  std::string upsert_run, insert_audit, delete_approvals, insert_approval, load_run, list_runs,
      pending, insert_outcome, find_outcome, audit_all, audit_run, find_idem, insert_idem, anchors,
      claim, left_for_others, renew, release, explain, cache_get, cache_put, cache_erase,
      cache_count;
  std::mutex fences_mutex;
  // The fence of each run as this process last read or wrote it: what its commits must match.
  std::unordered_map<std::string, std::int64_t> fences;
  // Declared last: destroyed first, writing what is still queued while the rest is alive.
  detail::CommitQueue queue{[this](const auto& group) { write_group(group); }};
};

PostgresStore::PostgresStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PostgresStore::~PostgresStore() = default;

Result<std::shared_ptr<PostgresStore>> PostgresStore::open(const std::string& conninfo,
                                                           PostgresStoreOptions options) {
  auto schema = pg::schema_identifier(options.schema);
  if (!schema) return std::move(schema).error();
  if (options.worker_id.empty()) options.worker_id = default_worker_id();
  if (options.lease.count() <= 0) {
    return Error(ErrorCode::invalid_argument, "PostgresStoreOptions::lease must be positive");
  }
  auto impl = std::make_unique<Impl>(conninfo, std::move(options), std::move(*schema));
  if (auto s = impl->migrate(); !s) return std::move(s).error();
  Impl& m = *impl;
  m.upsert_run = m.sql(
      "INSERT INTO @.runs(run_id, status, state, audit_count, audit_head, updated_millis, "
      "agent_version, fence, owner, lease_expires, claimable) "
      "VALUES($1, $2, $3, $4, $5, $6, $7, 1, $8::text, CASE WHEN $8::text IS NULL THEN NULL ELSE "
      "clock_timestamp() + $9::bigint * interval '1 millisecond' END, $10) "
      "ON CONFLICT(run_id) DO UPDATE SET status = EXCLUDED.status, state = EXCLUDED.state, "
      "audit_count = EXCLUDED.audit_count, audit_head = EXCLUDED.audit_head, "
      "updated_millis = EXCLUDED.updated_millis, fence = @.runs.fence + 1, "
      "owner = CASE WHEN @.runs.owner = $12::text THEN $12::text END, "
      "lease_expires = CASE WHEN @.runs.owner = $12::text THEN "
      "clock_timestamp() + $9::bigint * interval '1 millisecond' END, "
      "claimable = EXCLUDED.claimable "
      "WHERE @.runs.fence = $11::bigint AND ($7 = '' OR @.runs.agent_version = $7) "
      "RETURNING fence");
  m.insert_audit = m.sql(
      "INSERT INTO @.audit(run_id, seq, step, kind, payload, time_millis, prev_hash, hash) "
      "VALUES($1, $2, $3, $4, $5, $6, $7, $8)");
  m.delete_approvals = m.sql("DELETE FROM @.approvals WHERE run_id = $1");
  m.insert_approval = m.sql(
      "INSERT INTO @.approvals(run_id, step_id, tool, args, approval) VALUES($1, $2, $3, $4, $5)");
  m.load_run = m.sql("SELECT state, fence, status FROM @.runs WHERE run_id = $1");
  m.list_runs = m.sql("SELECT run_id, status, updated_millis FROM @.runs ORDER BY run_id");
  m.pending = m.sql(
      "SELECT run_id, step_id, tool, args, approval FROM @.approvals ORDER BY run_id, step_id");
  // Fenced: a process whose copy of the run is stale journals nothing. FOR SHARE holds off a
  // claim of the run until this statement is done.
  m.insert_outcome = m.sql(
      "INSERT INTO @.outcomes(run_id, step_id, attempt, result) SELECT $1, $2, $3, $4 "
      "WHERE $5::bigint IS NULL OR EXISTS(SELECT 1 FROM @.runs WHERE run_id = $1 AND "
      "fence = $5::bigint FOR SHARE) "
      "ON CONFLICT(run_id, step_id, attempt) DO UPDATE SET result = EXCLUDED.result RETURNING 1");
  m.find_outcome =
      m.sql("SELECT result FROM @.outcomes WHERE run_id = $1 AND step_id = $2 AND attempt = $3");
  m.audit_all = m.sql(
      "SELECT run_id, seq, step, kind, payload, time_millis, prev_hash, hash FROM @.audit "
      "ORDER BY run_id, seq");
  m.audit_run = m.sql(
      "SELECT run_id, seq, step, kind, payload, time_millis, prev_hash, hash FROM @.audit "
      "WHERE run_id = $1 ORDER BY seq");
  m.find_idem = m.sql("SELECT result FROM @.idempotency WHERE tool = $1 AND key = $2");
  m.insert_idem = m.sql(
      "INSERT INTO @.idempotency(tool, key, result) VALUES($1, $2, $3) ON CONFLICT DO NOTHING");
  m.anchors = m.sql("SELECT run_id, audit_count, audit_head FROM @.runs");
  m.claim = m.sql(
      "WITH ready AS (SELECT run_id FROM @.runs WHERE claimable AND agent_version = $1 "
      "AND (owner IS NULL OR lease_expires < clock_timestamp()) "
      "ORDER BY updated_millis LIMIT $2 FOR UPDATE SKIP LOCKED) "
      "UPDATE @.runs r SET owner = $3, fence = r.fence + 1, "
      "lease_expires = clock_timestamp() + $4::bigint * interval '1 millisecond' "
      "FROM ready WHERE r.run_id = ready.run_id RETURNING r.run_id, r.fence");
  m.left_for_others = m.sql(
      "SELECT agent_version, count(*) FROM @.runs WHERE claimable AND agent_version <> $1 "
      "AND (owner IS NULL OR lease_expires < clock_timestamp()) GROUP BY agent_version");
  m.renew = m.sql(
      "UPDATE @.runs SET lease_expires = clock_timestamp() + $2::bigint * interval "
      "'1 millisecond' WHERE owner = $1 RETURNING run_id");
  m.release = m.sql(
      "UPDATE @.runs SET owner = NULL, lease_expires = NULL WHERE run_id = $1 AND owner = $2");
  m.explain = m.sql("SELECT fence, owner, agent_version FROM @.runs WHERE run_id = $1");
  m.cache_get = m.sql("SELECT response, expires_at FROM @.llm_cache WHERE key = $1");
  m.cache_put = m.sql(
      "INSERT INTO @.llm_cache(key, response, expires_at) VALUES($1, $2, $3) "
      "ON CONFLICT(key) DO UPDATE SET response = EXCLUDED.response, expires_at = "
      "EXCLUDED.expires_at");
  m.cache_erase = m.sql("DELETE FROM @.llm_cache WHERE key = $1");
  m.cache_count = m.sql("SELECT count(*) FROM @.llm_cache");
  return std::shared_ptr<PostgresStore>(new PostgresStore(std::move(impl)));
}

Status PostgresStore::Impl::migrate() {
  auto c = pool.acquire();
  if (!c) return std::move(c).error();
  return pg::in_transaction(**c, [&]() -> Status {
    // Processes opening the store together migrate one after another.
    auto locked = (*c)->query("SELECT pg_advisory_xact_lock(hashtext($1))",
                              {"rein schema " + options.schema}, "locking the schema");
    if (!locked) return std::move(locked).error();
    if (auto s = (*c)->exec(sql("CREATE SCHEMA IF NOT EXISTS @"), "creating the schema"); !s)
      return s;
    auto tables = (*c)->query(
        "SELECT count(*), count(*) FILTER (WHERE table_name = 'schema_version') FROM "
        "information_schema.tables WHERE table_schema = $1",
        {options.schema}, "reading the schema");
    if (!tables) return std::move(tables).error();
    std::int64_t current = 0;
    if (tables->integer(0, 1) == 1) {
      auto v = (*c)->query(sql("SELECT max(version) FROM @.schema_version"), {},
                           "reading the schema version");
      if (!v) return std::move(v).error();
      current = v->integer(0, 0);
    } else if (tables->integer(0, 0) != 0) {
      return Error(ErrorCode::invalid_argument,
                   "PostgreSQL schema '" + options.schema +
                       "' has tables but no rein schema version: it is not rein's");
    } else if (auto s = (*c)->exec(sql("CREATE TABLE @.schema_version(version integer NOT NULL);"
                                       "INSERT INTO @.schema_version VALUES(0)"),
                                   "creating the schema version");
               !s) {
      return s;
    }
    if (current > kSchemaVersion) {
      return Error(ErrorCode::invalid_argument, "PostgreSQL schema '" + options.schema +
                                                    "' is at version " + std::to_string(current) +
                                                    ", newer than this rein supports (" +
                                                    std::to_string(kSchemaVersion) + ")");
    }
    for (auto v = current; v < kSchemaVersion; ++v) {
      if (auto s = (*c)->exec(sql(kMigrations[static_cast<std::size_t>(v)]),
                              "migrating to schema version " + std::to_string(v + 1));
          !s) {
        return s;
      }
    }
    if (current == kSchemaVersion) return {};
    auto set = (*c)->query(sql("UPDATE @.schema_version SET version = $1"), {kSchemaVersion},
                           "recording the schema version");
    return set ? Status{} : Status(std::move(set).error());
  });
}

std::optional<std::int64_t> PostgresStore::Impl::fence_of(const std::string& run_id) {
  std::lock_guard lock(fences_mutex);
  auto it = fences.find(run_id);
  if (it == fences.end()) return std::nullopt;
  return it->second;
}

void PostgresStore::Impl::remember(const std::string& run_id, std::int64_t fence) {
  std::lock_guard lock(fences_mutex);
  fences[run_id] = fence;
}

void PostgresStore::Impl::forget(const std::string& run_id) {
  std::lock_guard lock(fences_mutex);
  fences.erase(run_id);
}

Status PostgresStore::commit(const AgentState& state, std::span<const AuditEntry> entries) {
  return impl_->queue.commit(state, entries);
}

void PostgresStore::commit_async(const AgentState& state, std::span<const AuditEntry> entries,
                                 Completion<Status> done) {
  impl_->queue.commit_async(state, entries, std::move(done));
}

void PostgresStore::Impl::write_group(const std::vector<detail::QueuedCommit*>& group) {
  auto fail_all = [&](const Status& s) {
    for (auto* w : group)
      w->result = s;
  };
  auto c = pool.acquire();
  if (!c) return fail_all(std::move(c).error());
  pg::Connection& conn = **c;
  std::vector<std::pair<const AgentState*, std::int64_t>> fenced;  // applied after COMMIT
  const Status tx = pg::in_transaction(conn, [&]() -> Status {
    if (group.size() == 1) {
      auto fence = write_checkpoint(conn, *group.front());
      if (!fence) return std::move(fence).error();
      fenced.emplace_back(&group.front()->state, *fence);
      return {};
    }
    // Each writer's changes are all or nothing, whatever the others' fate.
    for (auto* w : group) {
      if (auto s = conn.exec("SAVEPOINT writer", "opening a savepoint"); !s) return s;
      auto fence = write_checkpoint(conn, *w);
      if (fence) fenced.emplace_back(&w->state, *fence);
      w->result = fence ? Status{} : Status(std::move(fence).error());
      const char* end =
          w->result.ok() ? "RELEASE SAVEPOINT writer" : "ROLLBACK TO SAVEPOINT writer";
      if (auto s = conn.exec(end, "closing a savepoint"); !s) return s;
    }
    return {};
  });
  if (!tx) return fail_all(tx);
  if (group.size() == 1) group.front()->result = {};
  for (const auto& [state, fence] : fenced) {
    if (is_terminal(state->status)) {
      forget(state->run_id);  // nothing more will be committed
    } else {
      remember(state->run_id, fence);
    }
  }
}

Result<std::int64_t> PostgresStore::Impl::write_checkpoint(pg::Connection& c,
                                                           const detail::QueuedCommit& w) {
  const AgentState& state = w.state;
  const auto seen = fence_of(state.run_id);
  const bool ready = ready_to_step(state);
  // A run ready to step stays leased to the worker that holds it (renewed); one that ended
  // or waits for a person is let go, and a process that does not hold the lease (one that
  // decided an approval, say) does not take it. A new run is leased to its creator only when
  // that process will drive it.
  const pg::Param me = ready ? pg::Param(options.worker_id) : pg::Param(nullptr);
  const pg::Param creator =
      ready && options.lease_new_runs ? pg::Param(options.worker_id) : pg::Param(nullptr);
  auto row = c.query(upsert_run,
                     {state.run_id, to_string(state.status), w.state_text, state.audit_count,
                      state.audit_head, state.updated_millis, options.agent_version, creator,
                      static_cast<std::int64_t>(options.lease.count()), ready, seen, me},
                     "saving run '" + state.run_id + "'");
  if (!row) return std::move(row).error();
  if (row->size() == 0) return refused(c, state.run_id, seen);
  const std::int64_t fence = row->integer(0, 0);
  for (const auto& e : w.entries) {
    auto r =
        c.query(insert_audit,
                {e.run_id, e.seq, e.step, e.kind, e.payload, e.time_millis, e.prev_hash, e.hash},
                "appending the audit of run '" + state.run_id + "'");
    if (!r) return std::move(r).error();
  }
  if (!detail::has_approvals(state)) return fence;
  if (auto r = c.query(delete_approvals, {state.run_id}, "saving approvals"); !r)
    return std::move(r).error();
  for (const auto& p : pending_approvals_of(state)) {
    auto r =
        c.query(insert_approval,
                {p.run_id, p.step_id, p.tool, detail::json_text(p.args), detail::approval_text(p)},
                "saving approvals");
    if (!r) return std::move(r).error();
  }
  return fence;
}

Error PostgresStore::Impl::refused(pg::Connection& c, const std::string& run_id,
                                   std::optional<std::int64_t> seen) {
  auto row = c.query(explain, {run_id}, "reading run '" + run_id + "'");
  if (!row) return std::move(row).error();
  if (row->size() == 0) return Error(ErrorCode::internal, "run '" + run_id + "' vanished");
  const std::string version = row->text(0, 2);
  if (!options.agent_version.empty() && version != options.agent_version) {
    return Error(ErrorCode::invalid_argument, "run '" + run_id + "' belongs to agent version '" +
                                                  version + "'; this store serves version '" +
                                                  options.agent_version + "'");
  }
  const std::string owner = row->null(0, 1) ? "nobody" : "'" + row->text(0, 1) + "'";
  if (!seen) {
    return Error(ErrorCode::aborted, "run '" + run_id +
                                         "' already exists in the store; load it before "
                                         "changing it (held by " +
                                         owner + ")");
  }
  return Error(ErrorCode::aborted, "run '" + run_id + "' was changed by another process (fence " +
                                       std::to_string(row->integer(0, 0)) + ", held by " + owner +
                                       "; this copy is of fence " + std::to_string(*seen) +
                                       "): the commit is refused");
}

Status PostgresStore::append_audit(std::vector<AuditEntry>) {
  return Error(ErrorCode::invalid_argument,
               "a durable store takes audit entries only with their checkpoint (use commit)");
}

Result<AgentState> PostgresStore::load(std::string_view run_id) {
  const std::string id(run_id);
  auto c = impl_->pool.acquire();
  if (!c) return std::move(c).error();
  auto row = (*c)->query(impl_->load_run, {id}, "loading run '" + id + "'");
  if (!row) return std::move(row).error();
  if (row->size() == 0) return detail::no_run(run_id);
  auto state = detail::parse_checkpoint(row->text(0, 0), run_id);
  if (!state) return state;
  // Only a run that can still change needs its fence remembered.
  if (!is_terminal(state->status)) impl_->remember(id, row->integer(0, 1));
  return state;
}

Result<std::vector<RunSummary>> PostgresStore::list_runs() {
  auto c = impl_->pool.acquire();
  if (!c) return std::move(c).error();
  auto rows = (*c)->query(impl_->list_runs, {}, "listing runs");
  if (!rows) return std::move(rows).error();
  std::vector<RunSummary> out;
  out.reserve(static_cast<std::size_t>(rows->size()));
  for (int i = 0; i < rows->size(); ++i) {
    auto status = run_status_from_string(rows->text(i, 1));
    out.push_back({rows->text(i, 0), status.value_or(RunStatus::failed), rows->integer(i, 2)});
  }
  return out;
}

Result<std::vector<PendingApproval>> PostgresStore::pending_approvals() {
  auto c = impl_->pool.acquire();
  if (!c) return std::move(c).error();
  auto rows = (*c)->query(impl_->pending, {}, "listing approvals");
  if (!rows) return std::move(rows).error();
  std::vector<PendingApproval> out;
  for (int i = 0; i < rows->size(); ++i) {
    auto p = detail::parse_pending_approval(rows->text(i, 0), rows->text(i, 1), rows->text(i, 2),
                                            rows->text(i, 3), rows->text(i, 4));
    if (!p) return std::move(p).error();
    out.push_back(std::move(*p));
  }
  return out;
}

Status PostgresStore::record_outcome(std::string_view run_id, std::string_view step_id, int attempt,
                                     const ToolResult& result) {
  const std::string id(run_id);
  const auto seen = impl_->fence_of(id);
  auto c = impl_->pool.acquire();
  if (!c) return std::move(c).error();
  auto row = (*c)->query(impl_->insert_outcome,
                         {id, step_id, attempt, detail::json_text(result.to_json()), seen},
                         "journaling an outcome of run '" + id + "'");
  if (!row) return std::move(row).error();
  if (row->size() == 0) return impl_->refused(**c, id, seen);
  return {};
}

Result<ToolResult> PostgresStore::find_outcome(std::string_view run_id, std::string_view step_id,
                                               int attempt) {
  auto c = impl_->pool.acquire();
  if (!c) return std::move(c).error();
  auto row = (*c)->query(impl_->find_outcome, {run_id, step_id, attempt},
                         "reading an outcome of run '" + std::string(run_id) + "'");
  if (!row) return std::move(row).error();
  if (row->size() == 0) return detail::no_outcome(run_id, step_id, attempt);
  return detail::parse_stored_result(row->text(0, 0),
                                     "journaled outcome of step '" + std::string(step_id) + "'");
}

Result<std::vector<AuditEntry>> PostgresStore::read_audit(std::string_view run_id) {
  auto c = impl_->pool.acquire();
  if (!c) return std::move(c).error();
  auto rows = run_id.empty() ? (*c)->query(impl_->audit_all, {}, "reading the audit")
                             : (*c)->query(impl_->audit_run, {run_id}, "reading the audit");
  if (!rows) return std::move(rows).error();
  std::vector<AuditEntry> out;
  out.reserve(static_cast<std::size_t>(rows->size()));
  for (int i = 0; i < rows->size(); ++i) {
    AuditEntry e;
    e.run_id = rows->text(i, 0);
    e.seq = rows->integer(i, 1);
    e.step = rows->integer(i, 2);
    e.kind = rows->text(i, 3);
    e.payload = rows->text(i, 4);  // hashed exactly as stored
    e.time_millis = rows->integer(i, 5);
    e.prev_hash = rows->text(i, 6);
    e.hash = rows->text(i, 7);
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::map<std::string, AuditAnchor>> PostgresStore::audit_anchors() {
  auto c = impl_->pool.acquire();
  if (!c) return std::move(c).error();
  auto rows = (*c)->query(impl_->anchors, {}, "reading audit anchors");
  if (!rows) return std::move(rows).error();
  std::map<std::string, AuditAnchor> out;
  for (int i = 0; i < rows->size(); ++i)
    out[rows->text(i, 0)] = AuditAnchor{rows->integer(i, 1), rows->text(i, 2)};
  return out;
}

Result<ToolResult> PostgresStore::find(std::string_view tool, std::string_view key) {
  auto c = impl_->pool.acquire();
  if (!c) return std::move(c).error();
  auto row = (*c)->query(impl_->find_idem, {tool, key}, "reading the idempotency ledger");
  if (!row) return std::move(row).error();
  if (row->size() == 0) return detail::no_idempotency_record(tool, key);
  return detail::parse_stored_result(row->text(0, 0),
                                     "idempotency record of '" + std::string(tool) + "'");
}

Status PostgresStore::record(std::string_view tool, std::string_view key,
                             const ToolResult& result) {
  auto c = impl_->pool.acquire();
  if (!c) return std::move(c).error();
  auto row = (*c)->query(impl_->insert_idem, {tool, key, detail::json_text(result.to_json())},
                         "recording in the idempotency ledger");
  return row ? Status{} : Status(std::move(row).error());
}

Result<ClaimedRuns> PostgresStore::claim(std::size_t max_runs) {
  ClaimedRuns out;
  if (max_runs == 0) return out;
  auto c = impl_->pool.acquire();
  if (!c) return std::move(c).error();
  const auto& o = impl_->options;
  auto rows = (*c)->query(impl_->claim,
                          {o.agent_version, static_cast<std::int64_t>(max_runs), o.worker_id,
                           static_cast<std::int64_t>(o.lease.count())},
                          "claiming runs");
  if (!rows) return std::move(rows).error();
  for (int i = 0; i < rows->size(); ++i) {
    out.runs.push_back(rows->text(i, 0));
    impl_->remember(out.runs.back(), rows->integer(i, 1));
  }
  if (out.runs.size() < max_runs) {
    auto others = (*c)->query(impl_->left_for_others, {o.agent_version}, "counting runs left");
    if (!others) return std::move(others).error();
    for (int i = 0; i < others->size(); ++i)
      out.left_for_other_versions[others->text(i, 0)] =
          static_cast<std::size_t>(others->integer(i, 1));
  }
  return out;
}

Result<std::vector<std::string>> PostgresStore::renew() {
  auto c = impl_->pool.acquire();
  if (!c) return std::move(c).error();
  const auto& o = impl_->options;
  auto rows = (*c)->query(impl_->renew, {o.worker_id, static_cast<std::int64_t>(o.lease.count())},
                          "renewing leases");
  if (!rows) return std::move(rows).error();
  std::vector<std::string> out;
  for (int i = 0; i < rows->size(); ++i)
    out.push_back(rows->text(i, 0));
  return out;
}

Status PostgresStore::release(std::string_view run_id) {
  auto c = impl_->pool.acquire();
  if (!c) return std::move(c).error();
  auto r = (*c)->query(impl_->release, {run_id, impl_->options.worker_id},
                       "releasing run '" + std::string(run_id) + "'");
  if (!r) return std::move(r).error();
  impl_->forget(std::string(run_id));
  return {};
}

std::chrono::milliseconds PostgresStore::lease_duration() const {
  return impl_->options.lease;
}

const std::string& PostgresStore::worker_id() const noexcept {
  return impl_->options.worker_id;
}

const std::string& PostgresStore::agent_version() const noexcept {
  return impl_->options.agent_version;
}

namespace {

class PostgresLlmCache final : public LlmCache {
 public:
  PostgresLlmCache(std::shared_ptr<PostgresStore> store, pg::Pool& pool, const std::string& get,
                   const std::string& put, const std::string& erase, const std::string& count)
      : store_(std::move(store)), pool_(pool), get_(get), put_(put), erase_(erase), count_(count) {}

  std::optional<LlmResponse> get(const std::string& key, std::int64_t now_millis) override {
    auto c = pool_.acquire();
    if (!c) return std::nullopt;
    auto row = (*c)->query(get_, {key}, "reading the LLM cache");
    if (!row || row->size() == 0) return std::nullopt;
    std::optional<LlmResponse> found;
    if (row->integer(0, 1) > now_millis) found = detail::parse_cached_response(row->text(0, 0));
    if (!found) (void)(*c)->query(erase_, {key}, "dropping an LLM cache entry");
    return found;
  }
  void put(const std::string& key, const LlmResponse& response,
           std::int64_t expires_at_millis) override {
    auto c = pool_.acquire();
    Status s = c ? Status{} : Status(std::move(c).error());
    if (s) {
      auto r = (*c)->query(put_, {key, detail::json_text(to_json(response)), expires_at_millis},
                           "writing the LLM cache");
      if (!r) s = std::move(r).error();
    }
    if (!s) detail::logger()->warn("rein: LLM cache write failed: {}", s.error().message());
  }
  std::size_t size() override {
    auto c = pool_.acquire();
    if (!c) return 0;
    auto row = (*c)->query(count_, {}, "counting the LLM cache");
    return row && row->size() == 1 ? static_cast<std::size_t>(row->integer(0, 0)) : 0;
  }

 private:
  std::shared_ptr<PostgresStore> store_;  // keeps the pool alive
  pg::Pool& pool_;
  const std::string &get_, &put_, &erase_, &count_;
};

}  // namespace

std::shared_ptr<LlmCache> PostgresStore::llm_cache() {
  Impl& m = *impl_;
  return std::make_shared<PostgresLlmCache>(shared_from_this(), m.pool, m.cache_get, m.cache_put,
                                            m.cache_erase, m.cache_count);
}

PostgresStore::WriteStats PostgresStore::write_stats() const {
  const auto stats = impl_->queue.stats();
  return {stats.commits, stats.groups};
}

}  // namespace rein
