// rein::SqlSandbox: runs model-written SQL plans ("plan as code") over a host's SQLite data,
// inside a locked-down connection, and holds the changes until the host has verified them.
//
// A plan is a script of SQL statements with a declared intent (read or mutate). The sandbox
// opens its own connection and, for every plan:
//   1. authorizes each statement against an allow-list: only the declared tables, only the
//      declared operations on them (a read plan writes nothing; UPDATE only of listed
//      columns), only listed SQL functions; never ATTACH, PRAGMA, DDL, transactions or
//      savepoints, load_extension, temp triggers or views;
//   2. runs with SQLITE_DBCONFIG_DEFENSIVE, untrusted schema, tight sqlite3_limit()s, a
//      progress-handler deadline and heap allowance, and caps on statements and result size;
//   3. runs everything inside one savepoint and records the changes with SQLite's session
//      extension, as a change set and as before/after rows;
//   4. leaves the savepoint open: the host inspects the outcome (and, with inspect(), the
//      database as the plan left it), then commit()s or rollback()s. Nothing is visible to
//      other connections until commit().
// Any failure rolls the plan back and returns an Error naming the step and the rule.
//
// Heap: SQLite's own heap limit is process-wide, so the sandbox does not set it. It measures
// SQLite's heap use at each progress tick and interrupts a plan whose use grew by more than
// `heap_limit_bytes`; together with SQLITE_LIMIT_LENGTH (no single value larger than
// `max_value_bytes`) this bounds a plan's memory. Hosts that want a hard ceiling for the whole
// process call sqlite3_hard_heap_limit64() themselves.
//
// Deadline: SQLite checks it between virtual-machine instructions, never inside a function
// call, so the sandbox bounds what one call can do. printf() and format() are refused when their
// widths and precisions ask for more than `max_value_bytes` characters; instr(), replace() and
// the trims when their arguments' sizes multiply past `max_function_work`; the deadline is also
// checked on entry to each of these. Every other allowed function does work linear in values of
// at most `max_value_bytes`. A plan therefore stops within its deadline plus the time of one
// bounded call and `progress_interval` instructions; docs/sql-sandbox.md gives measured figures.
//
// Thread safety: one SqlSandbox is used by one thread at a time. Separate sandboxes (on the
// same file or not) may be used concurrently; SQLite's locking serializes their writes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rein/env.hpp"
#include "rein/error.hpp"

namespace rein {

enum class SqlIntent { read, mutate };

std::string_view to_string(SqlIntent intent) noexcept;

// A plan: its declared intent and its statements, as written.
struct SqlPlan {
  SqlIntent intent = SqlIntent::read;
  std::string sql{};
};

// Extracts a plan from a model's answer. The SQL is the text inside exactly one
// `<tag>…</tag>` pair (case-insensitive), or the whole text when the tag does not occur at all.
// The intent is declared by a comment line `-- intent: read` or `-- intent: mutate`.
// Errors (invalid_argument): an unclosed or repeated tag, a missing or unknown intent, no SQL.
Result<SqlPlan> parse_sql_plan(std::string_view text, std::string_view tag = "execute_sql");

// What plans may do with one table. Reading is always allowed for a declared table; every
// table not declared is invisible (reading it is refused too).
struct SqlTableAccess {
  std::string table{};
  bool insert = false;                        // mutate plans may INSERT rows
  bool remove = false;                        // mutate plans may DELETE rows
  std::vector<std::string> update_columns{};  // mutate plans may UPDATE these columns ("*": all)
};

struct SqlSandboxOptions {
  std::vector<SqlTableAccess> tables{};
  // SQL functions plans may call beyond default_sql_functions() (lower-case names).
  std::vector<std::string> extra_functions{};
  // Wall time for one plan, checked every `progress_interval` virtual-machine instructions and
  // on entry to every guarded function (see the note on deadlines above).
  std::chrono::milliseconds deadline{500};
  int progress_interval = 100;
  // Work one call of instr(), replace(), trim(), ltrim() or rtrim() may do: the product of
  // its two first arguments' sizes in bytes. Larger calls are refused (budget_exhausted).
  std::int64_t max_function_work = 2'000'000;
  // Growth of SQLite's heap use a plan may cause (see the note on heap above).
  std::int64_t heap_limit_bytes = 64LL << 20;
  std::size_t max_statements = 32;
  std::size_t max_rows = 1000;                   // rows one statement may return
  std::size_t max_result_bytes = 1 << 20;        // text and blob bytes all statements may return
  int max_value_bytes = 100'000;                 // SQLITE_LIMIT_LENGTH
  int max_sql_bytes = 100'000;                   // SQLITE_LIMIT_SQL_LENGTH, and the plan's size
  int max_expression_depth = 100;                // SQLITE_LIMIT_EXPR_DEPTH
  int max_compound_select = 10;                  // SQLITE_LIMIT_COMPOUND_SELECT
  int max_program_ops = 25'000;                  // SQLITE_LIMIT_VDBE_OP, per statement
  std::chrono::milliseconds busy_timeout{1000};  // waiting for another connection's write lock
  Env* env = nullptr;                            // clock for the deadline; nullptr: Env::system()
};

// The SQL functions plans may call by default: deterministic scalar, aggregate, date and window
// functions. Not included: load_extension, randomness, zeroblob, sqlite_* and anything that
// reads files or the schema.
const std::vector<std::string>& default_sql_functions();

// One executed statement.
struct SqlStepResult {
  std::size_t number = 0;              // 1-based position in the plan
  std::string comment{};               // the comment written above the statement
  std::string sql{};                   // the statement itself
  std::vector<std::string> columns{};  // result columns (none for INSERT, UPDATE, DELETE)
  nlohmann::json rows = nlohmann::json::array();  // objects keyed by column
  std::int64_t changes = 0;  // rows this statement inserted, updated or deleted
};

// A row the plan inserted, updated or deleted, in full before and after.
struct SqlRowChange {
  enum class Op { insert, update, remove };
  std::string table{};
  Op op = Op::insert;
  nlohmann::json before{};  // null for an insert
  nlohmann::json after{};   // null for a delete
  std::vector<std::string> changed_columns{};

  nlohmann::json to_json() const;
};

std::string_view to_string(SqlRowChange::Op op) noexcept;

struct SqlOutcome {
  SqlIntent intent = SqlIntent::read;
  std::vector<SqlStepResult> steps{};
  nlohmann::json result = nlohmann::json::array();  // the last statement's rows: the plan's yield
  std::vector<SqlRowChange> changes{};              // in the order SQLite recorded them
  std::string changeset{};                          // the session extension's change set (bytes)
};

class SqlSandbox {
 public:
  // Opens `path` (which must exist) read-write on a connection of the sandbox's own. Checks
  // that every declared table exists, and that tables plans may write have a PRIMARY KEY (the
  // session extension records changes only for those).
  static Result<std::unique_ptr<SqlSandbox>> open(const std::string& path,
                                                  SqlSandboxOptions options);

  SqlSandbox(const SqlSandbox&) = delete;
  SqlSandbox& operator=(const SqlSandbox&) = delete;
  ~SqlSandbox();  // rolls back a pending plan

  // Runs `plan` and leaves its changes pending. `params` (a JSON object of strings, numbers,
  // booleans or nulls) binds named parameters such as `:now`; a parameter the plan uses but
  // `params` lacks is an error. Refused while another plan is pending. On any error the plan is
  // rolled back and nothing is pending.
  Result<SqlOutcome> execute(const SqlPlan& plan,
                             const nlohmann::json& params = nlohmann::json::object());

  bool pending() const noexcept;
  Status commit();    // makes the pending plan's changes durable
  Status rollback();  // discards them (a no-op when nothing is pending)

  // Runs a host-written query (not subject to the plan rules) and returns its rows as objects.
  // While a plan is pending it sees the plan's changes: the way a verifier checks invariants.
  Result<nlohmann::json> inspect(std::string_view sql,
                                 const nlohmann::json& params = nlohmann::json::object());

  // execute(), then `verify`; commits when it returns ok, else rolls back and returns its
  // error. The outcome is returned either way through `outcome` when given.
  using Verifier = std::function<Status(const SqlOutcome&, SqlSandbox&)>;
  Status run(const SqlPlan& plan, const Verifier& verify, SqlOutcome* outcome = nullptr,
             const nlohmann::json& params = nlohmann::json::object());

 private:
  struct Impl;
  explicit SqlSandbox(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rein
