// SqlSandbox: plan-as-code SQL on a locked-down connection (see include/rein/sql_sandbox.hpp).
#define SQLITE_ENABLE_SESSION 1
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include "rein/sql_sandbox.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>

#include <sqlite3.h>

#include "sqlite/database.hpp"
#include "sqlite/sql_function_guard.hpp"
#include "sqlite/sql_text.hpp"

namespace rein {
namespace {

using sql_text::lower;
using sql_text::split_leading_comment;
using sql_text::trim;

std::string quote_identifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

nlohmann::json value_to_json(sqlite3_value* value) {
  if (value == nullptr) return nullptr;
  switch (sqlite3_value_type(value)) {
    case SQLITE_INTEGER:
      return sqlite3_value_int64(value);
    case SQLITE_FLOAT:
      return sqlite3_value_double(value);
    case SQLITE_TEXT: {
      const auto* p = reinterpret_cast<const char*>(sqlite3_value_text(value));
      return std::string(p, static_cast<std::size_t>(sqlite3_value_bytes(value)));
    }
    case SQLITE_BLOB: {
      static constexpr char kHex[] = "0123456789abcdef";
      const auto* p = static_cast<const unsigned char*>(sqlite3_value_blob(value));
      std::string hex;
      for (int i = 0; i < sqlite3_value_bytes(value); ++i) {
        hex += kHex[p[i] >> 4];
        hex += kHex[p[i] & 15];
      }
      return nlohmann::json{{"blob_hex", hex}};
    }
    default:
      return nullptr;
  }
}

constexpr const char* kNoSchemaChanges =
    "schema changes (CREATE, DROP, ALTER, REINDEX, ANALYZE, virtual tables) are not allowed";

struct TableInfo {
  std::string name;  // as declared by the host
  SqlTableAccess access;
  std::vector<std::string> columns;
  std::vector<bool> primary_key;
  std::set<std::string> updatable;  // lower-case; "*" for all
};

}  // namespace

std::string_view to_string(SqlIntent intent) noexcept {
  return intent == SqlIntent::read ? "read" : "mutate";
}

std::string_view to_string(SqlRowChange::Op op) noexcept {
  switch (op) {
    case SqlRowChange::Op::insert:
      return "insert";
    case SqlRowChange::Op::update:
      return "update";
    case SqlRowChange::Op::remove:
      return "delete";
  }
  return "insert";
}

nlohmann::json SqlRowChange::to_json() const {
  return {{"table", table},
          {"op", to_string(op)},
          {"before", before},
          {"after", after},
          {"changed_columns", changed_columns}};
}

const std::vector<std::string>& default_sql_functions() {
  static const std::vector<std::string> names = {
      "abs",          "avg",        "changes",    "char",        "coalesce",   "count",
      "date",         "datetime",   "dense_rank", "first_value", "format",     "glob",
      "group_concat", "hex",        "ifnull",     "iif",         "instr",      "julianday",
      "lag",          "last_value", "lead",       "length",      "like",       "likely",
      "lower",        "ltrim",      "max",        "min",         "nullif",     "printf",
      "quote",        "rank",       "replace",    "round",       "row_number", "rtrim",
      "strftime",     "substr",     "substring",  "sum",         "time",       "total",
      "trim",         "typeof",     "unicode",    "unixepoch",   "unlikely",   "upper"};
  return names;
}

struct SqlSandbox::Impl {
  class PlanCallbacks;  // below; nested, since Impl is private to SqlSandbox

  // Destroyed in reverse order: a pending plan (`plan`, below) is rolled back, then the
  // connection closed, then the functions it called are freed.
  std::unique_ptr<SqlFunctionGuard> guard;  // bounded printf, instr, replace, trim
  sqlite::Database db;
  SqlSandboxOptions options;
  Env* env = nullptr;
  std::map<std::string, TableInfo> tables;  // keyed by lower-case name
  std::set<std::string> functions;          // lower-case

  // State the callbacks share with execute().
  enum class Phase { idle, preparing, running };
  Phase phase = Phase::idle;
  SqlIntent intent = SqlIntent::read;
  std::size_t statement = 0;  // 1-based, for messages
  std::string denial;         // the first refusal's reason
  Env::TimePoint deadline;
  std::int64_t heap_at_start = 0;
  bool timed_out = false;
  bool heap_exceeded = false;

  int deny(std::string reason) {
    if (denial.empty()) denial = "step " + std::to_string(statement) + ": " + std::move(reason);
    return SQLITE_DENY;
  }

  int authorize(int action, const char* a, const char* b, const char* database) {
    const std::string first = a != nullptr ? lower(a) : "";
    const std::string second = b != nullptr ? lower(b) : "";
    switch (action) {
      case SQLITE_SELECT:
      case SQLITE_RECURSIVE:
        return SQLITE_OK;
      case SQLITE_READ:
        // No database: a common table expression or subquery, whose own sources were
        // authorized when they were read.
        if (database == nullptr) return SQLITE_OK;
        if (tables.count(first) != 0 && std::string_view(database) == "main") return SQLITE_OK;
        return deny("reads table '" + std::string(a != nullptr ? a : "") +
                    "', which is not declared to the sandbox");
      case SQLITE_FUNCTION:
        if (functions.count(second) != 0) return SQLITE_OK;
        return deny("calls " + second + "(), which is not an allowed function");
      case SQLITE_INSERT:
      case SQLITE_UPDATE:
      case SQLITE_DELETE: {
        // DDL shows up first as a write to the schema table.
        if (first.rfind("sqlite_", 0) == 0) return deny(kNoSchemaChanges);
        const char* verb = action == SQLITE_INSERT   ? "INSERT into"
                           : action == SQLITE_UPDATE ? "UPDATE"
                                                     : "DELETE from";
        if (intent == SqlIntent::read) {
          return deny(std::string("a read plan cannot ") + verb + " '" + first + "'");
        }
        const auto it = tables.find(first);
        if (it == tables.end()) {
          return deny(std::string(verb) + " '" + first +
                      "' is not allowed: the table is not declared");
        }
        const SqlTableAccess& access = it->second.access;
        if (action == SQLITE_INSERT && access.insert) return SQLITE_OK;
        if (action == SQLITE_DELETE && access.remove) return SQLITE_OK;
        if (action == SQLITE_UPDATE &&
            (it->second.updatable.count("*") != 0 || it->second.updatable.count(second) != 0)) {
          return SQLITE_OK;
        }
        if (action == SQLITE_UPDATE) {
          return deny("UPDATE of '" + first + "." + second + "' is not allowed");
        }
        return deny(std::string(verb) + " '" + first + "' is not allowed");
      }
      case SQLITE_PRAGMA:
        // The session extension reads a changed table's layout while the plan runs.
        if (phase == Phase::running && (first == "table_info" || first == "table_xinfo"))
          return SQLITE_OK;
        return deny("PRAGMA " + first + " is not allowed");
      case SQLITE_ATTACH:
      case SQLITE_DETACH:
        return deny("ATTACH and DETACH are not allowed");
      case SQLITE_TRANSACTION:
      case SQLITE_SAVEPOINT:
        return deny("transaction control is not allowed: the sandbox owns the transaction");
      default:
        return deny(kNoSchemaChanges);
    }
  }

  int progress() {
    if (env->now() > deadline) {
      timed_out = true;
      return 1;
    }
    if (sqlite3_memory_used() - heap_at_start > options.heap_limit_bytes) {
      heap_exceeded = true;
      return 1;
    }
    return 0;
  }

  static int authorizer_callback(void* self, int action, const char* a, const char* b,
                                 const char* database, const char*) {
    return static_cast<Impl*>(self)->authorize(action, a, b, database);
  }
  static int progress_callback(void* self) { return static_cast<Impl*>(self)->progress(); }

  Status bind(sqlite3_stmt* stmt, const nlohmann::json& params, const std::string& where) {
    const int count = sqlite3_bind_parameter_count(stmt);
    for (int i = 1; i <= count; ++i) {
      const char* raw = sqlite3_bind_parameter_name(stmt, i);
      if (raw == nullptr) {
        return Error(ErrorCode::invalid_argument,
                     where + ": positional parameters ('?') are not supported; use :name");
      }
      const std::string name = raw + 1;
      const auto it = params.is_object() ? params.find(name) : params.end();
      if (it == params.end()) {
        return Error(ErrorCode::invalid_argument, where + ": parameter '" + raw + "' has no value");
      }
      int rc = SQLITE_OK;
      if (it->is_string()) {
        const auto& text = it->get_ref<const std::string&>();
        rc = sqlite3_bind_text(stmt, i, text.data(), static_cast<int>(text.size()),
                               SQLITE_TRANSIENT);
      } else if (it->is_boolean()) {
        rc = sqlite3_bind_int(stmt, i, it->get<bool>() ? 1 : 0);
      } else if (it->is_number_integer()) {
        rc = sqlite3_bind_int64(stmt, i, it->get<std::int64_t>());
      } else if (it->is_number()) {
        rc = sqlite3_bind_double(stmt, i, it->get<double>());
      } else if (it->is_null()) {
        rc = sqlite3_bind_null(stmt, i);
      } else {
        return Error(ErrorCode::invalid_argument,
                     where + ": parameter '" + raw + "' must be a string, number, boolean or null");
      }
      if (rc != SQLITE_OK)
        return Error(ErrorCode::invalid_argument,
                     where + ": binding '" + raw + "': " + sqlite3_errstr(rc));
    }
    return {};
  }

  // Why a statement failed, as precisely as the callbacks recorded it.
  Error failure(int rc, const std::string& where) const {
    if (!denial.empty()) return Error(ErrorCode::permission_denied, "plan refused: " + denial);
    if (timed_out) {
      return Error(ErrorCode::timeout, where + ": the plan ran past its deadline of " +
                                           std::to_string(options.deadline.count()) + " ms");
    }
    if (heap_exceeded) {
      return Error(ErrorCode::budget_exhausted,
                   where + ": the plan grew SQLite's heap by more than " +
                       std::to_string(options.heap_limit_bytes) + " bytes");
    }
    if (guard && !guard->refusal().empty()) {
      return Error(ErrorCode::budget_exhausted, where + ": " + guard->refusal());
    }
    // The plan's SQL is the caller's: SQL errors are bad input (sqlite/database.hpp's table).
    const int primary = rc & 0xff;
    if (primary == SQLITE_TOOBIG) {
      return Error(sqlite::error_code(rc),
                   where + ": a value or statement exceeds the sandbox's size limits (" +
                       sqlite3_errmsg(db.handle()) + ")");
    }
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
      return Error(sqlite::error_code(rc),
                   where + ": the database is busy: " + sqlite3_errmsg(db.handle()));
    }
    return sqlite::error_of(db.handle(), rc, where, sqlite::SqlFrom::caller);
  }

  Result<std::vector<SqlRowChange>> read_changes(const std::string& changeset);
  Result<nlohmann::json> select(std::string_view sql, const nlohmann::json& params);

  // The savepoint of the plan awaiting commit() or rollback(); declared last, so that a plan
  // still pending is rolled back first on destruction. It is the connection's outermost
  // transaction, so rolling it back is a plain ROLLBACK, which leaves the file as it was.
  std::optional<sqlite::Savepoint> plan;
};

SqlSandbox::SqlSandbox(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqlSandbox::~SqlSandbox() = default;

Result<std::unique_ptr<SqlSandbox>> SqlSandbox::open(const std::string& path,
                                                     SqlSandboxOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->env = options.env != nullptr ? options.env : &Env::system();
  {
    auto db = sqlite::Database::open(
        path, {.create = false, .busy_timeout = options.busy_timeout, .wal = false},
        "'" + path + "'");
    if (!db) return Error(db.error().code(), "sandbox: " + db.error().message());
    impl->db = std::move(*db);
  }
  sqlite3* db = impl->db.handle();
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DML, 0, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DDL, 0, nullptr);
  // Limits after sqlite.org's advice for untrusted SQL (https://sqlite.org/security.html).
  sqlite3_limit(db, SQLITE_LIMIT_LENGTH, options.max_value_bytes);
  sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, options.max_sql_bytes);
  sqlite3_limit(db, SQLITE_LIMIT_COLUMN, 100);
  sqlite3_limit(db, SQLITE_LIMIT_EXPR_DEPTH, options.max_expression_depth);
  sqlite3_limit(db, SQLITE_LIMIT_COMPOUND_SELECT, options.max_compound_select);
  sqlite3_limit(db, SQLITE_LIMIT_VDBE_OP, options.max_program_ops);
  sqlite3_limit(db, SQLITE_LIMIT_FUNCTION_ARG, 8);
  sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
  sqlite3_limit(db, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 50);
  sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, 32);
  sqlite3_limit(db, SQLITE_LIMIT_TRIGGER_DEPTH, 10);

  for (const auto& name : default_sql_functions())
    impl->functions.insert(name);
  for (const auto& name : options.extra_functions)
    impl->functions.insert(lower(name));
  {
    Impl* self = impl.get();
    auto guard = SqlFunctionGuard::install(
        db, impl->functions, {options.max_function_work, options.max_value_bytes},
        [self] { return self->phase == Impl::Phase::running ? self->progress() : 0; });
    if (!guard) return std::move(guard).error();
    impl->guard = std::move(*guard);
  }
  if (options.tables.empty()) {
    return Error(ErrorCode::invalid_argument,
                 "sandbox: no tables declared; plans could do nothing");
  }
  for (const auto& access : options.tables) {
    TableInfo info{access.table, access, {}, {}, {}};
    sqlite::Statement layout;
    if (auto s = layout.prepare(impl->db, "SELECT name, pk FROM pragma_table_info(?1)",
                                "reading the layout of '" + access.table + "'", false);
        !s) {
      return Error(s.error().code(), "sandbox: " + s.error().message());
    }
    layout.bind(1, access.table);
    bool has_key = false;
    for (;;) {
      auto row = layout.step();
      if (!row) return Error(row.error().code(), "sandbox: " + row.error().message());
      if (!*row) break;
      info.columns.push_back(layout.text(0));
      info.primary_key.push_back(layout.integer(1) > 0);
      has_key = has_key || info.primary_key.back();
    }
    if (info.columns.empty()) {
      return Error(ErrorCode::not_found,
                   "sandbox: table '" + access.table + "' does not exist in '" + path + "'");
    }
    const bool writable = access.insert || access.remove || !access.update_columns.empty();
    if (writable && !has_key) {
      return Error(ErrorCode::invalid_argument,
                   "sandbox: table '" + access.table +
                       "' is writable but has no PRIMARY KEY; its changes could not be recorded");
    }
    for (const auto& column : access.update_columns) {
      const std::string key = lower(column);
      const bool known =
          key == "*" || std::any_of(info.columns.begin(), info.columns.end(),
                                    [&](const std::string& c) { return lower(c) == key; });
      if (!known) {
        return Error(ErrorCode::invalid_argument, "sandbox: table '" + access.table +
                                                      "' has no column '" + column +
                                                      "' to allow updates of");
      }
      info.updatable.insert(key);
    }
    impl->tables.emplace(lower(access.table), std::move(info));
  }
  impl->options = std::move(options);
  return std::unique_ptr<SqlSandbox>(new SqlSandbox(std::move(impl)));
}

bool SqlSandbox::pending() const noexcept {
  return impl_->plan.has_value();
}

Status SqlSandbox::commit() {
  if (!impl_->plan) return Error(ErrorCode::invalid_argument, "sandbox: no pending plan to commit");
  auto released = impl_->plan->release();
  impl_->plan.reset();  // rolls the plan back when it could not be released
  if (!released) {
    return Error(released.error().code(), "sandbox: commit: " + released.error().message());
  }
  return {};
}

Status SqlSandbox::rollback() {
  impl_->plan.reset();
  return {};
}

// Installs the plan callbacks for a scope, and always removes them.
class SqlSandbox::Impl::PlanCallbacks {
 public:
  explicit PlanCallbacks(SqlSandbox::Impl& impl) : impl_(impl) {
    sqlite3_set_authorizer(impl_.db.handle(), &SqlSandbox::Impl::authorizer_callback, &impl_);
    sqlite3_progress_handler(impl_.db.handle(), impl_.options.progress_interval,
                             &SqlSandbox::Impl::progress_callback, &impl_);
  }
  ~PlanCallbacks() {
    sqlite3_set_authorizer(impl_.db.handle(), nullptr, nullptr);
    sqlite3_progress_handler(impl_.db.handle(), 0, nullptr, nullptr);
    impl_.phase = SqlSandbox::Impl::Phase::idle;
  }
  PlanCallbacks(const PlanCallbacks&) = delete;
  PlanCallbacks& operator=(const PlanCallbacks&) = delete;

 private:
  SqlSandbox::Impl& impl_;
};

namespace {

struct Prepared {
  sqlite::Statement stmt;
  std::string comment;
  std::string sql;
};

struct SessionGuard {
  sqlite3_session* session = nullptr;
  ~SessionGuard() {
    if (session != nullptr) sqlite3session_delete(session);
  }
};

}  // namespace

Result<SqlOutcome> SqlSandbox::execute(const SqlPlan& plan, const nlohmann::json& params) {
  Impl& impl = *impl_;
  if (impl.plan) {
    return Error(ErrorCode::invalid_argument,
                 "sandbox: a plan is pending; commit() or rollback() it first");
  }
  if (plan.sql.size() > static_cast<std::size_t>(impl.options.max_sql_bytes)) {
    return Error(ErrorCode::budget_exhausted, "plan: " + std::to_string(plan.sql.size()) +
                                                  " bytes of SQL exceed max_sql_bytes (" +
                                                  std::to_string(impl.options.max_sql_bytes) + ")");
  }
  if (!params.is_object())
    return Error(ErrorCode::invalid_argument, "sandbox: params must be a JSON object");
  if (plan.sql.find('\0') != std::string::npos) {
    return Error(ErrorCode::invalid_argument, "plan: contains a NUL byte");
  }

  SqlOutcome outcome;
  outcome.intent = plan.intent;
  impl.intent = plan.intent;
  impl.denial.clear();
  impl.timed_out = false;
  impl.heap_exceeded = false;
  impl.guard->clear();
  impl.statement = 0;

  // Any failure from here on rolls the plan back: the savepoint goes last (after the
  // statements are finalized and the callbacks removed) unless handed to impl.plan.
  sqlite::Savepoint savepoint(impl.db, "rein_plan");
  std::vector<Prepared> prepared;
  SessionGuard session;  // outlives the callbacks: the change set is read without them
  {
    Impl::PlanCallbacks callbacks(impl);
    // 1. Prepare (and so authorize) every statement before any runs.
    impl.phase = Impl::Phase::preparing;
    std::string_view rest = plan.sql;
    while (!rest.empty()) {
      impl.statement = prepared.size() + 1;
      const std::string_view start = rest;
      sqlite::Statement stmt;
      const int rc = stmt.prepare_first(impl.db, start, rest);
      if (rc != SQLITE_OK) return impl.failure(rc, "plan step " + std::to_string(impl.statement));
      if (stmt.handle() == nullptr) break;  // only comments or whitespace remain
      auto [comment, sql] = split_leading_comment(start.substr(0, start.size() - rest.size()));
      prepared.push_back({std::move(stmt), std::move(comment), std::move(sql)});
      sqlite3_stmt* const handle = prepared.back().stmt.handle();
      if (prepared.size() > impl.options.max_statements) {
        return Error(ErrorCode::budget_exhausted, "plan: more than max_statements (" +
                                                      std::to_string(impl.options.max_statements) +
                                                      ") statements");
      }
      if (sqlite3_stmt_readonly(handle) == 0 && plan.intent == SqlIntent::read) {
        return Error(ErrorCode::permission_denied,
                     "plan refused: step " + std::to_string(impl.statement) +
                         ": a read plan may only contain statements that read");
      }
      auto bound = impl.bind(handle, params, "plan step " + std::to_string(impl.statement));
      if (!bound) return std::move(bound).error();
    }
    if (prepared.empty())
      return Error(ErrorCode::invalid_argument, "plan: contains no SQL statement");

    // 2. Run them in order inside one savepoint, recording changes.
    impl.phase = Impl::Phase::idle;
    sqlite3_set_authorizer(impl.db.handle(), nullptr, nullptr);
    if (auto begun = savepoint.begin(); !begun)
      return Error(begun.error().code(), "sandbox: " + begun.error().message());
    if (sqlite3session_create(impl.db.handle(), "main", &session.session) != SQLITE_OK)
      return Error(ErrorCode::internal, "sandbox: cannot create a session to record changes");
    for (const auto& [key, table] : impl.tables)
      sqlite3session_attach(session.session, table.name.c_str());
    sqlite3_set_authorizer(impl.db.handle(), &Impl::authorizer_callback, &impl);
    impl.phase = Impl::Phase::running;
    impl.deadline = impl.env->now() + impl.options.deadline;
    impl.heap_at_start = sqlite3_memory_used();
    std::size_t result_bytes = 0;
    for (std::size_t i = 0; i < prepared.size(); ++i) {
      impl.statement = i + 1;
      const std::string where = "plan step " + std::to_string(i + 1);
      Prepared& item = prepared[i];
      sqlite3_stmt* const stmt = item.stmt.handle();
      SqlStepResult step;
      step.number = i + 1;
      step.comment = item.comment;
      step.sql = item.sql;
      const int columns = sqlite3_column_count(stmt);
      for (int c = 0; c < columns; ++c)
        step.columns.emplace_back(sqlite3_column_name(stmt, c));
      int rc;
      while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (step.rows.size() >= impl.options.max_rows) {
          return Error(ErrorCode::budget_exhausted, where + ": returns more than max_rows (" +
                                                        std::to_string(impl.options.max_rows) +
                                                        ") rows");
        }
        nlohmann::json row = nlohmann::json::object();
        for (int c = 0; c < columns; ++c) {
          result_bytes += static_cast<std::size_t>(sqlite3_column_bytes(stmt, c));
          row[step.columns[static_cast<std::size_t>(c)]] =
              value_to_json(sqlite3_column_value(stmt, c));
        }
        if (result_bytes > impl.options.max_result_bytes) {
          return Error(ErrorCode::budget_exhausted,
                       where + ": results exceed max_result_bytes (" +
                           std::to_string(impl.options.max_result_bytes) + ")");
        }
        step.rows.push_back(std::move(row));
      }
      if (rc != SQLITE_DONE) return impl.failure(rc, where);
      step.changes = columns == 0 ? impl.db.changes() : 0;
      outcome.steps.push_back(std::move(step));
    }
  }
  outcome.result = outcome.steps.back().rows;

  // 3. The change set, read back as full before/after rows.
  int size = 0;
  void* bytes = nullptr;
  if (sqlite3session_changeset(session.session, &size, &bytes) != SQLITE_OK) {
    sqlite3_free(bytes);
    return Error(ErrorCode::internal, std::string("sandbox: reading the change set: ") +
                                          sqlite3_errmsg(impl.db.handle()));
  }
  outcome.changeset.assign(static_cast<const char*>(bytes), static_cast<std::size_t>(size));
  sqlite3_free(bytes);
  auto changes = impl.read_changes(outcome.changeset);
  if (!changes) return std::move(changes).error();
  outcome.changes = std::move(changes).value();
  // What the authorizer cannot see (REPLACE's implicit deletes, the host's triggers) is checked
  // on the recorded changes against the same rules.
  for (const auto& change : outcome.changes) {
    const TableInfo& info = impl.tables.at(lower(change.table));
    std::string refusal;
    if (change.op == SqlRowChange::Op::insert && !info.access.insert) refusal = "inserted into";
    if (change.op == SqlRowChange::Op::remove && !info.access.remove) refusal = "deleted from";
    if (change.op == SqlRowChange::Op::update && info.updatable.count("*") == 0) {
      for (const auto& column : change.changed_columns) {
        if (info.updatable.count(lower(column)) == 0)
          refusal = "changed column '" + column + "' of";
      }
    }
    if (!refusal.empty() && plan.intent == SqlIntent::mutate) {
      return Error(ErrorCode::permission_denied, "plan refused: it " + refusal + " table '" +
                                                     change.table +
                                                     "', which the sandbox does not allow");
    }
  }
  if (plan.intent == SqlIntent::read && !outcome.changes.empty()) {
    // A trigger or the host's schema wrote on a read; never keep it.
    return Error(
        ErrorCode::permission_denied,
        "plan refused: a read plan changed " + std::to_string(outcome.changes.size()) + " rows");
  }
  impl.plan.emplace(std::move(savepoint));
  return outcome;
}

Result<std::vector<SqlRowChange>> SqlSandbox::Impl::read_changes(const std::string& changeset) {
  std::vector<SqlRowChange> changes;
  if (changeset.empty()) return changes;
  sqlite3_changeset_iter* iter = nullptr;
  if (sqlite3changeset_start(&iter, static_cast<int>(changeset.size()),
                             const_cast<char*>(changeset.data())) != SQLITE_OK) {
    return Error(ErrorCode::internal, "sandbox: cannot read the change set");
  }
  int rc;
  while ((rc = sqlite3changeset_next(iter)) == SQLITE_ROW) {
    const char* table_name = nullptr;
    int column_count = 0;
    int op = 0;
    int indirect = 0;
    sqlite3changeset_op(iter, &table_name, &column_count, &op, &indirect);
    const auto it = tables.find(lower(table_name));
    if (it == tables.end() || static_cast<std::size_t>(column_count) != it->second.columns.size()) {
      sqlite3changeset_finalize(iter);
      return Error(ErrorCode::internal,
                   std::string("sandbox: change to unexpected table '") + table_name + "'");
    }
    const TableInfo& info = it->second;
    SqlRowChange change;
    change.table = info.name;
    change.op = op == SQLITE_INSERT   ? SqlRowChange::Op::insert
                : op == SQLITE_DELETE ? SqlRowChange::Op::remove
                                      : SqlRowChange::Op::update;
    nlohmann::json old_values = nlohmann::json::object();
    nlohmann::json new_values = nlohmann::json::object();
    for (int c = 0; c < column_count; ++c) {
      const std::string& column = info.columns[static_cast<std::size_t>(c)];
      sqlite3_value* value = nullptr;
      if (op != SQLITE_INSERT && sqlite3changeset_old(iter, c, &value) == SQLITE_OK &&
          value != nullptr) {
        old_values[column] = value_to_json(value);
      }
      value = nullptr;
      if (op != SQLITE_DELETE && sqlite3changeset_new(iter, c, &value) == SQLITE_OK &&
          value != nullptr) {
        new_values[column] = value_to_json(value);
        if (op == SQLITE_UPDATE) change.changed_columns.push_back(column);
      }
    }
    if (change.op == SqlRowChange::Op::insert) {
      change.after = std::move(new_values);
      for (const auto& column : info.columns)
        change.changed_columns.push_back(column);
    } else if (change.op == SqlRowChange::Op::remove) {
      change.before = std::move(old_values);
      for (const auto& column : info.columns)
        change.changed_columns.push_back(column);
    } else {
      // An update records only the key and the changed columns: read the rest of the row.
      std::string sql = "SELECT * FROM " + quote_identifier(info.name) + " WHERE ";
      nlohmann::json key = nlohmann::json::object();
      for (std::size_t c = 0; c < info.columns.size(); ++c) {
        if (!info.primary_key[c]) continue;
        if (!key.empty()) sql += " AND ";
        sql += quote_identifier(info.columns[c]) + " IS :k" + std::to_string(c);
        key["k" + std::to_string(c)] = old_values[info.columns[c]];
      }
      auto rows = select(sql, key);
      if (!rows || rows->size() != 1) {
        sqlite3changeset_finalize(iter);
        return Error(ErrorCode::internal,
                     "sandbox: cannot read back an updated row of '" + info.name + "'");
      }
      change.after = (*rows)[0];
      change.before = change.after;
      for (const auto& [column, value] : old_values.items())
        change.before[column] = value;
    }
    changes.push_back(std::move(change));
  }
  sqlite3changeset_finalize(iter);
  if (rc != SQLITE_DONE) return Error(ErrorCode::internal, "sandbox: the change set is malformed");
  // The change set's order follows a hash table: show changes by declared table, then by key.
  auto rank = [&](const SqlRowChange& c) {
    std::size_t index = 0;
    for (const auto& access : options.tables) {
      if (lower(access.table) == lower(c.table)) break;
      ++index;
    }
    return index;
  };
  auto key = [&](const SqlRowChange& c) {
    const TableInfo& info = tables.at(lower(c.table));
    const nlohmann::json& row = c.after.is_null() ? c.before : c.after;
    nlohmann::json k = nlohmann::json::array();
    for (std::size_t i = 0; i < info.columns.size(); ++i) {
      if (info.primary_key[i]) k.push_back(row.value(info.columns[i], nlohmann::json()));
    }
    return k;
  };
  std::stable_sort(changes.begin(), changes.end(),
                   [&](const SqlRowChange& x, const SqlRowChange& y) {
                     const auto rx = rank(x);
                     const auto ry = rank(y);
                     return rx != ry ? rx < ry : key(x) < key(y);
                   });
  return changes;
}

Result<nlohmann::json> SqlSandbox::Impl::select(std::string_view sql,
                                                const nlohmann::json& params) {
  sqlite::Statement query;
  std::string_view rest;
  if (const int rc = query.prepare_first(db, sql, rest); rc != SQLITE_OK)
    return failure(rc, "sandbox query");
  sqlite3_stmt* const stmt = query.handle();
  if (stmt == nullptr) return Error(ErrorCode::invalid_argument, "sandbox query: no statement");
  if (!trim(rest).empty()) {
    return Error(ErrorCode::invalid_argument, "sandbox query: one statement at a time");
  }
  if (auto bound = bind(stmt, params, "sandbox query"); !bound) return bound.error();
  nlohmann::json rows = nlohmann::json::array();
  const int columns = sqlite3_column_count(stmt);
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    nlohmann::json row = nlohmann::json::object();
    for (int c = 0; c < columns; ++c)
      row[sqlite3_column_name(stmt, c)] = value_to_json(sqlite3_column_value(stmt, c));
    rows.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) return failure(rc, "sandbox query");
  return rows;
}

Result<nlohmann::json> SqlSandbox::inspect(std::string_view sql, const nlohmann::json& params) {
  if (!params.is_object())
    return Error(ErrorCode::invalid_argument, "sandbox: params must be a JSON object");
  impl_->denial.clear();
  impl_->timed_out = false;
  impl_->heap_exceeded = false;
  return impl_->select(sql, params);
}

Status SqlSandbox::run(const SqlPlan& plan, const Verifier& verify, SqlOutcome* outcome,
                       const nlohmann::json& params) {
  auto executed = execute(plan, params);
  if (!executed) return std::move(executed).error();
  Status verdict = verify ? verify(*executed, *this) : Status{};
  if (outcome != nullptr) *outcome = *executed;
  if (!verdict) {
    (void)rollback();
    return verdict;
  }
  return commit();
}

}  // namespace rein
