// Internal: the one way rein's SQLite stores (SqliteStore, MemoryManager, SqliteLlmCache,
// SqlSandbox) talk to SQLite.
//
// Database opens a connection with the project's settings and runs parameterless SQL;
// Statement is a prepared statement with typed binds and columns; Transaction and Savepoint
// are guards that roll back unless committed or released. Every failure becomes an Error
// through one table (error_code below), and its message names what failed followed by
// SQLite's own message.
//
// Nothing here locks: a Database and its statements are used by one thread at a time (the
// stores serialise on their own mutex).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <sqlite3.h>

#include "rein/error.hpp"

namespace rein::sqlite {

// Whose SQL failed: rein's own statements, or SQL a caller wrote (the sandbox's plans and its
// inspect() queries). Only SQLITE_ERROR (a syntax error, an unknown table or column) depends on
// it: a bug in rein when the SQL is rein's, bad input when it is the caller's.
enum class SqlFrom { rein, caller };

// The one mapping from SQLite result codes (primary or extended) to rein's categories:
//
//   BUSY, LOCKED                           unavailable        another connection holds a lock
//   FULL, IOERR, CANTOPEN, NOMEM,
//   READONLY, PERM, PROTOCOL, NOLFS        unavailable        the disk, the file or memory
//   CORRUPT, NOTADB, FORMAT                data_loss          the file is damaged or foreign
//   CONSTRAINT, MISMATCH                   invalid_argument   the data breaks the schema's rules
//   TOOBIG                                 budget_exhausted   a value or statement over a limit
//   INTERRUPT                              cancelled          interrupted (progress handler)
//   AUTH                                   permission_denied  the authorizer refused
//   ERROR                                  internal, or invalid_argument for a caller's SQL
//   anything else (MISUSE, RANGE, ...)     internal
ErrorCode error_code(int result_code, SqlFrom from = SqlFrom::rein) noexcept;

// An Error coded by error_code(result_code): "<what>: <sqlite3_errmsg(db)>".
Error error_of(sqlite3* db, int result_code, std::string_view what, SqlFrom from = SqlFrom::rein);

struct OpenOptions {
  bool create = true;  // create the file when missing
  std::chrono::milliseconds busy_timeout{5000};
  bool wal = true;                    // PRAGMA journal_mode=WAL
  const char* synchronous = nullptr;  // "NORMAL" or "FULL"; nullptr: SQLite's default
};

class Statement;

// One connection, with extended result codes on and the busy timeout set.
class Database {
 public:
  // Opens `path`; `what` names it in errors (e.g. "store 'runs.db'"). Errors: not_found when
  // the file is missing and `create` is off, unavailable when it cannot be opened, and the
  // table's code when the settings cannot be applied ("<what> is not a usable SQLite database:
  // ...": data_loss for a file that is not a database).
  static Result<Database> open(const std::filesystem::path& path, const OpenOptions& options,
                               std::string_view what);

  Database() = default;
  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();  // finalizes its kept statements, then closes (sqlite3_close_v2)

  sqlite3* handle() const noexcept { return db_; }
  explicit operator bool() const noexcept { return db_ != nullptr; }

  // Runs `sql`: any number of statements without parameters. Errors: "<what>: <message>".
  Status exec(const std::string& sql, std::string_view what);
  // Runs one parameterless statement (BEGIN, COMMIT, SAVEPOINT x, ...) prepared on first use
  // and kept: re-parsing them costs a measurable part of a small transaction. Errors name the
  // statement: "running 'COMMIT': ...".
  Status run_kept(const std::string& sql);

  bool in_transaction() const noexcept { return sqlite3_get_autocommit(db_) == 0; }
  std::int64_t changes() const noexcept { return sqlite3_changes64(db_); }

 private:
  void close() noexcept;
  sqlite3* db_ = nullptr;
  std::map<std::string, std::unique_ptr<Statement>, std::less<>> kept_;
};

// A prepared statement; finalized on destruction. Binds are 1-based, columns 0-based. A bind
// that SQLite refuses (an index out of range, a value too big) is reported by the next step().
class Statement {
 public:
  Statement() = default;
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  // Prepares the first statement of `sql` (persistent: kept for many uses). `what` names it in
  // errors; by default the start of its SQL.
  Status prepare(const Database& db, std::string_view sql, std::string_view what = {},
                 bool persistent = true);
  // For SQL a caller wrote, one statement at a time: prepares the first statement of `sql` and
  // sets `rest` to what follows it. Returns SQLite's result code; on success handle() is null
  // when `sql` held only comments or white space. Failures are classified by the caller, which
  // may know more (the sandbox's authorizer).
  int prepare_first(const Database& db, std::string_view sql, std::string_view& rest);

  sqlite3_stmt* handle() const noexcept { return stmt_; }

  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind_real(int index, double value);
  Statement& bind_null(int index);
  Statement& bind_blob(int index, const void* data, std::size_t bytes);

  // Steps once: true when a row is available, false when done; an Error on failure.
  Result<bool> step();
  // Runs to completion, then resets.
  Status run();
  // Ready to run again: the current run ends and the bindings are cleared.
  void reset() noexcept;

  std::string text(int column) const;
  std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  double real(int column) const { return sqlite3_column_double(stmt_, column); }
  bool is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  const void* blob(int column) const { return sqlite3_column_blob(stmt_, column); }
  std::size_t bytes(int column) const {
    return static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column));
  }

 private:
  void note_bind(int rc, int index);
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  std::string what_;
  int bind_failure_ = SQLITE_OK;  // the first refused bind since the last reset
  int bind_index_ = 0;
};

// Resets a statement when leaving a scope (however it is left).
class ResetOnExit {
 public:
  explicit ResetOnExit(Statement& s) : s_(s) {}
  ~ResetOnExit() { s_.reset(); }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  Statement& s_;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back on destruction unless committed.
class Transaction {
 public:
  explicit Transaction(Database& db) : db_(db) {}
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  // Takes the write lock now (waiting up to the busy timeout), so that no statement of the
  // transaction fails later for want of it.
  Status begin();
  Status commit();

 private:
  Database& db_;
  bool open_ = false;
};

// SAVEPOINT name ... RELEASE name; rolls back on destruction unless released. Inside a
// transaction, rolling back undoes the savepoint's changes only (ROLLBACK TO, then RELEASE).
// A savepoint that began the transaction is rolled back with a plain ROLLBACK, which leaves
// the file exactly as it was (ROLLBACK TO + RELEASE would commit an empty write transaction).
// When SQLite already rolled the transaction back (an interrupt, a full disk), rolling back
// does nothing.
class Savepoint {
 public:
  // `name` is an identifier of rein's own, used as written.
  Savepoint(Database& db, std::string name) : db_(&db), name_(std::move(name)) {}
  Savepoint(Savepoint&& other) noexcept;
  Savepoint& operator=(Savepoint&&) = delete;
  Savepoint(const Savepoint&) = delete;
  Savepoint& operator=(const Savepoint&) = delete;
  ~Savepoint() { (void)rollback(); }

  Status begin();
  // Keeps the changes. On failure the savepoint is still active (and rolled back later).
  Status release();
  // Undoes the changes and ends the savepoint; nothing to do when it is not active.
  Status rollback();
  bool active() const noexcept { return active_; }

 private:
  Database* db_;
  std::string name_;
  bool active_ = false;
  bool outermost_ = false;  // it began the transaction
};

}  // namespace rein::sqlite
