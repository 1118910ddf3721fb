#include "sqlite/database.hpp"

#include <system_error>
#include <utility>

namespace rein::sqlite {

ErrorCode error_code(int result_code, SqlFrom from) noexcept {
  switch (result_code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_PROTOCOL:
    case SQLITE_NOLFS:
      return ErrorCode::unavailable;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_FORMAT:
      return ErrorCode::data_loss;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
      return ErrorCode::invalid_argument;
    case SQLITE_TOOBIG:
      return ErrorCode::budget_exhausted;
    case SQLITE_INTERRUPT:
      return ErrorCode::cancelled;
    case SQLITE_AUTH:
      return ErrorCode::permission_denied;
    case SQLITE_ERROR:
      return from == SqlFrom::caller ? ErrorCode::invalid_argument : ErrorCode::internal;
    default:
      return ErrorCode::internal;
  }
}

Error error_of(sqlite3* db, int result_code, std::string_view what, SqlFrom from) {
  const char* message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(result_code);
  return Error(error_code(result_code, from), std::string(what) + ": " + message);
}

// Database

Result<Database> Database::open(const std::filesystem::path& path, const OpenOptions& options,
                                std::string_view what) {
  Database db;
  const int flags =
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (options.create ? SQLITE_OPEN_CREATE : 0);
  const int rc = sqlite3_open_v2(path.c_str(), &db.db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string message = db.db_ != nullptr ? sqlite3_errmsg(db.db_) : "out of memory";
    std::error_code ignored;
    const bool missing =
        !options.create && path != ":memory:" && !std::filesystem::exists(path, ignored);
    return Error(missing ? ErrorCode::not_found : error_code(rc),
                 "cannot open " + std::string(what) + ": " + message);
  }
  sqlite3_extended_result_codes(db.db_, 1);
  sqlite3_busy_timeout(db.db_, static_cast<int>(options.busy_timeout.count()));
  const std::string unusable = std::string(what) + " is not a usable SQLite database";
  if (options.wal) {
    if (auto s = db.exec("PRAGMA journal_mode=WAL", unusable); !s) return std::move(s).error();
  }
  if (options.synchronous != nullptr) {
    if (auto s = db.exec(std::string("PRAGMA synchronous=") + options.synchronous, unusable); !s)
      return std::move(s).error();
  }
  return db;
}

Database::Database(Database&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), kept_(std::move(other.kept_)) {}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    close();
    db_ = std::exchange(other.db_, nullptr);
    kept_ = std::move(other.kept_);
  }
  return *this;
}

Database::~Database() {
  close();
}

void Database::close() noexcept {
  kept_.clear();
  if (db_ != nullptr) sqlite3_close_v2(db_);  // waits for statements still prepared elsewhere
  db_ = nullptr;
}

Status Database::exec(const std::string& sql, std::string_view what) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return {};
  std::string text = message != nullptr ? message : sqlite3_errmsg(db_);
  sqlite3_free(message);
  return Error(error_code(sqlite3_extended_errcode(db_)), std::string(what) + ": " + text);
}

Status Database::run_kept(const std::string& sql) {
  auto it = kept_.find(sql);
  if (it == kept_.end()) {
    auto statement = std::make_unique<Statement>();
    if (auto s = statement->prepare(*this, sql); !s) return s;
    it = kept_.emplace(sql, std::move(statement)).first;
  }
  return it->second->run();
}

// Statement

Statement::Statement(Statement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      stmt_(std::exchange(other.stmt_, nullptr)),
      what_(std::move(other.what_)),
      bind_failure_(std::exchange(other.bind_failure_, SQLITE_OK)),
      bind_index_(other.bind_index_) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
    what_ = std::move(other.what_);
    bind_failure_ = std::exchange(other.bind_failure_, SQLITE_OK);
    bind_index_ = other.bind_index_;
  }
  return *this;
}

Status Statement::prepare(const Database& db, std::string_view sql, std::string_view what,
                          bool persistent) {
  sqlite3_finalize(stmt_);
  stmt_ = nullptr;
  db_ = db.handle();
  if (what.empty()) {
    constexpr std::size_t kShown = 48;
    what_ = "'" + std::string(sql.substr(0, kShown)) + (sql.size() > kShown ? "...'" : "'");
  } else {
    what_ = what;
  }
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                    persistent ? SQLITE_PREPARE_PERSISTENT : 0, &stmt_, nullptr);
  if (rc != SQLITE_OK) return error_of(db_, rc, "preparing " + what_);
  if (stmt_ == nullptr) return Error(ErrorCode::internal, "preparing " + what_ + ": no statement");
  return {};
}

int Statement::prepare_first(const Database& db, std::string_view sql, std::string_view& rest) {
  sqlite3_finalize(stmt_);
  stmt_ = nullptr;
  db_ = db.handle();
  what_ = "statement";
  const char* tail = nullptr;
  const int rc =
      sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), 0, &stmt_, &tail);
  rest = tail == nullptr ? std::string_view()
                         : sql.substr(static_cast<std::size_t>(tail - sql.data()));
  return rc;
}

void Statement::note_bind(int rc, int index) {
  if (rc != SQLITE_OK && bind_failure_ == SQLITE_OK) {
    bind_failure_ = rc;
    bind_index_ = index;
  }
}

Statement& Statement::bind(int index, std::string_view text) {
  // An empty view may have no data, which SQLite would bind as NULL: text is never NULL.
  const char* data = text.data() != nullptr ? text.data() : "";
  note_bind(sqlite3_bind_text64(stmt_, index, data, text.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
            index);
  return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
  note_bind(sqlite3_bind_int64(stmt_, index, value), index);
  return *this;
}

Statement& Statement::bind_real(int index, double value) {
  note_bind(sqlite3_bind_double(stmt_, index, value), index);
  return *this;
}

Statement& Statement::bind_null(int index) {
  note_bind(sqlite3_bind_null(stmt_, index), index);
  return *this;
}

Statement& Statement::bind_blob(int index, const void* data, std::size_t bytes) {
  note_bind(
      sqlite3_bind_blob64(stmt_, index, data, static_cast<sqlite3_uint64>(bytes), SQLITE_TRANSIENT),
      index);
  return *this;
}

Result<bool> Statement::step() {
  if (bind_failure_ != SQLITE_OK) {
    return Error(error_code(bind_failure_), "binding parameter " + std::to_string(bind_index_) +
                                                " of " + what_ + ": " +
                                                sqlite3_errstr(bind_failure_));
  }
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return error_of(db_, rc, "running " + what_);
}

Status Statement::run() {
  auto r = step();
  reset();
  if (!r) return std::move(r).error();
  return {};
}

void Statement::reset() noexcept {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_failure_ = SQLITE_OK;
  bind_index_ = 0;
}

std::string Statement::text(int column) const {
  const auto* p = sqlite3_column_text(stmt_, column);
  return p == nullptr ? std::string()
                      : std::string(reinterpret_cast<const char*>(p),
                                    static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

// Transaction

Transaction::~Transaction() {
  if (open_ && db_.in_transaction()) (void)db_.run_kept("ROLLBACK");
}

Status Transaction::begin() {
  if (auto s = db_.run_kept("BEGIN IMMEDIATE"); !s) return s;
  open_ = true;
  return {};
}

Status Transaction::commit() {
  if (auto s = db_.run_kept("COMMIT"); !s) return s;
  open_ = false;
  return {};
}

// Savepoint

Savepoint::Savepoint(Savepoint&& other) noexcept
    : db_(other.db_),
      name_(std::move(other.name_)),
      active_(std::exchange(other.active_, false)),
      outermost_(other.outermost_) {}

Status Savepoint::begin() {
  const bool outermost = !db_->in_transaction();
  if (auto s = db_->run_kept("SAVEPOINT " + name_); !s) return s;
  active_ = true;
  outermost_ = outermost;
  return {};
}

Status Savepoint::release() {
  if (auto s = db_->run_kept("RELEASE " + name_); !s) return s;
  active_ = false;
  return {};
}

Status Savepoint::rollback() {
  if (!active_) return {};
  active_ = false;
  if (!db_->in_transaction()) return {};  // SQLite already rolled it back
  if (outermost_) return db_->run_kept("ROLLBACK");
  if (auto s = db_->run_kept("ROLLBACK TO " + name_); !s) return s;
  return db_->run_kept("RELEASE " + name_);
}

}  // namespace rein::sqlite
