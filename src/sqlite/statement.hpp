// Internal: a prepared SQLite statement that resets itself after use.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <sqlite3.h>

#include "rein/error.hpp"

namespace rein::sqlite {

inline Error error_of(sqlite3* db, const std::string& what) {
  const int code = sqlite3_errcode(db);
  const ErrorCode category = (code == SQLITE_BUSY || code == SQLITE_LOCKED) ? ErrorCode::unavailable
                             : (code == SQLITE_CORRUPT || code == SQLITE_NOTADB)
                                 ? ErrorCode::data_loss
                                 : ErrorCode::internal;
  return Error(category, what + ": " + sqlite3_errmsg(db));
}

class Statement {
 public:
  Statement() = default;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  Status prepare(sqlite3* db, std::string_view sql) {
    db_ = db;
    if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                           &stmt_, nullptr) != SQLITE_OK) {
      return error_of(db, "preparing SQL");
    }
    return {};
  }

  // Binds 1-based parameters.
  Statement& bind(int index, std::string_view text) {
    sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int index, std::int64_t value) {
    sqlite3_bind_int64(stmt_, index, value);
    return *this;
  }
  Statement& bind_real(int index, double value) {
    sqlite3_bind_double(stmt_, index, value);
    return *this;
  }
  Statement& bind_null(int index) {
    sqlite3_bind_null(stmt_, index);
    return *this;
  }
  Statement& bind_blob(int index, const void* data, std::size_t bytes) {
    sqlite3_bind_blob64(stmt_, index, data, static_cast<sqlite3_uint64>(bytes), SQLITE_TRANSIENT);
    return *this;
  }

  // Steps once: true when a row is available, false when done; an Error on failure.
  Result<bool> step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return error_of(db_, "running SQL");
  }
  // Runs to completion, then resets.
  Status run() {
    auto r = step();
    reset();
    if (!r) return std::move(r).error();
    return {};
  }
  std::string text(int column) const {
    const auto* p = sqlite3_column_text(stmt_, column);
    return p == nullptr
               ? std::string()
               : std::string(reinterpret_cast<const char*>(p),
                             static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
  }
  std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  double real(int column) const { return sqlite3_column_double(stmt_, column); }
  bool is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  const void* blob(int column) const { return sqlite3_column_blob(stmt_, column); }
  std::size_t bytes(int column) const {
    return static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column));
  }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

// Resets a statement when leaving a scope.
class ResetOnExit {
 public:
  explicit ResetOnExit(Statement& s) : s_(s) {}
  ~ResetOnExit() { s_.reset(); }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  Statement& s_;
};

}  // namespace rein::sqlite
